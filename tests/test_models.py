"""Model shapes and masks, the registry, text-encoder loading (offline) and checkpoints."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from sernb.models import ModelConfig, build_model, get_system, register, system_names
from sernb.models.audio import BiLSTMAudio, masked_mean, pool_frames
from sernb.models.checkpoint import load_model, save_model
from sernb.models.text import (
    OfflineModelError,
    TextEncoder,
    frozen_token_states,
    hub_offline,
    resolve_text_model,
)

ABLATION = ("baseline", "ablation_lstm", "ablation_finetune", "ours")


def lengths_mask(lengths: list[int]) -> torch.Tensor:
    return torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]


def make_batch(model, frames=(30, 17, 5), tokens=(9, 4, 3), seed=0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    batch = {"mfcc": torch.randn(len(frames), max(frames), 40, generator=g), "mfcc_mask": lengths_mask(list(frames)),
             "tokens": torch.randint(1000, 5000, (len(tokens), max(tokens)), generator=g),
             "tokens_mask": lengths_mask(list(tokens))}
    if "text_states" in model.inputs:
        dim = model.text.backbone_dim
        batch["text_states"] = torch.randn(len(tokens), max(tokens), dim, generator=g)
        batch["text_states_mask"] = batch["tokens_mask"]
    return batch


@pytest.fixture(scope="module")
def ours():
    torch.manual_seed(0)
    return build_model("ours", text_model="tiny-deberta").eval()


def test_masked_mean_ignores_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(x, torch.tensor([[True, True, False]])).item() == pytest.approx(2.0)


# The configurations of the paper's model; Table 1 systems with other inputs have tests of their own.
SER_SYSTEMS = [n for n in system_names() if get_system(n).config is not None
               and get_system(n).config.audio_encoder == "mfcc"]  # Whisper's: tests/test_whisper_system.py


@pytest.mark.parametrize("name", SER_SYSTEMS)
def test_every_system_gives_logits_of_the_right_shape(name):
    torch.manual_seed(0)
    model = build_model(name, text_model="tiny-deberta", n_classes=4).eval()
    out = model(make_batch(model))
    assert out["logits"].shape == (3, 4)
    assert torch.isfinite(out["logits"]).all()
    if name == "ours":
        assert out["attention"].shape == (3, 8, 30, 9)  # (batch, heads, frames, tokens)
    else:
        assert out["attention"] is None


def test_padded_tokens_get_no_attention_weight(ours):
    batch = make_batch(ours)
    weights = ours(batch)["attention"]
    for b, n_tokens in enumerate((9, 4, 3)):
        assert torch.all(weights[b, :, :, n_tokens:] == 0)
        real = weights[b, :, :, :n_tokens].sum(-1)
        assert torch.allclose(real, torch.ones_like(real), atol=1e-5)


def test_padded_frames_and_tokens_do_not_change_the_prediction(ours):
    batch = make_batch(ours)
    noisy = {k: v.clone() for k, v in batch.items()}
    noisy["mfcc"][~batch["mfcc_mask"]] = 1e3  # garbage in the padding
    noisy["tokens"][~batch["tokens_mask"]] = 7
    with torch.no_grad():
        assert torch.allclose(ours(batch)["logits"], ours(noisy)["logits"], atol=1e-5)


def test_an_utterance_alone_equals_it_in_a_padded_batch(ours):
    batch = make_batch(ours)
    alone = {"mfcc": batch["mfcc"][2:, :5], "mfcc_mask": batch["mfcc_mask"][2:, :5],
             "tokens": batch["tokens"][2:, :3], "tokens_mask": batch["tokens_mask"][2:, :3]}
    with torch.no_grad():
        assert torch.allclose(ours(batch)["logits"][2:], ours(alone)["logits"], atol=1e-5)


def test_bilstm_backward_direction_starts_at_the_last_real_frame():
    torch.manual_seed(0)
    enc = BiLSTMAudio(40, 16)
    x = torch.randn(1, 6, 40)
    short, _, _ = enc(x[:, :4], torch.ones(1, 4, dtype=torch.bool))
    padded, _, _ = enc(x, torch.tensor([[True] * 4 + [False] * 2]))
    assert torch.allclose(short, padded[:, :4], atol=1e-6)
    assert torch.all(padded[:, 4:] == 0)


def test_frame_pooling_averages_real_frames_only():
    x = torch.arange(7, dtype=torch.float32).view(1, 7, 1)
    mask = torch.tensor([[True] * 5 + [False] * 2])
    pooled, new_mask = pool_frames(x, mask, 3)
    assert pooled[0, :, 0].tolist() == [1.0, 3.5, 0.0]  # (0+1+2)/3, (3+4)/2, nothing real
    assert new_mask.tolist() == [[True, True, False]]


def test_pooled_frames_keep_attention_masks():
    torch.manual_seed(0)
    model = build_model("ours", text_model="tiny-deberta", frame_pool=3).eval()
    batch = make_batch(model)
    out = model(batch)
    assert out["attention"].shape == (3, 8, 10, 9)  # 30 frames -> 10 steps of 30 ms
    assert out["frame_mask"].sum(1).tolist() == [10, 6, 2]  # ceil(30/3), ceil(17/3), ceil(5/3)
    noisy = {k: v.clone() for k, v in batch.items()}
    noisy["mfcc"][~batch["mfcc_mask"]] = 1e3
    with torch.no_grad():
        assert torch.allclose(model(batch)["logits"], model(noisy)["logits"], atol=1e-5)


def test_ablation_is_four_configurations_of_one_model():
    configs = [get_system(n).config for n in ABLATION]
    assert [c.audio for c in configs] == ["mean", "bilstm", "bilstm", "bilstm"]
    assert [c.finetune_text for c in configs] == [False, False, True, True]
    assert [c.fusion for c in configs] == ["concat", "concat", "concat", "attention"]
    assert get_system("audio_only").needs == ("audio",)
    assert get_system("text_only").needs == ("text",)
    assert get_system("ours").needs == ("audio", "text")
    assert ModelConfig().heads == 8 and ModelConfig().hidden == 256 and ModelConfig().dropout == 0.3


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="fusion"):
        ModelConfig(fusion="sum")
    with pytest.raises(ValueError, match="modalities"):
        ModelConfig(modalities="video")
    with pytest.raises(TypeError, match="unknown option"):
        build_model("ours", text_model="tiny-deberta", hiden=3)
    with pytest.raises(KeyError, match="registered"):
        get_system("nope")


def test_registering_a_new_system_is_one_decorator():
    @register("test_linear", needs=("audio",), description="for this test", replace_existing=True)
    def build(n_classes: int = 6, **common):
        class Linear(torch.nn.Module):
            inputs = ("mfcc",)

            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(40, n_classes)

            def forward(self, batch):
                return {"logits": self.fc(masked_mean(batch["mfcc"], batch["mfcc_mask"])), "attention": None}

        return Linear()

    model = build_model("test_linear", n_classes=3, text_model="ignored")
    assert model.sernb_system == "test_linear"
    assert model(make_batch(model))["logits"].shape == (3, 3)
    with pytest.raises(ValueError, match="already registered"):
        register("test_linear", needs=("audio",))(build)


def test_offline_hub_request_fails_at_once_with_what_to_do():
    start = time.perf_counter()
    for name in ("deberta-v3-base", "someone/some-uncached-model"):
        with pytest.raises(OfflineModelError, match="HF_HUB_OFFLINE") as err:
            resolve_text_model(name)
        assert "local folder" in str(err.value)
    with pytest.raises(OfflineModelError):
        build_model("ours", text_model="deberta-v3-base")
    assert time.perf_counter() - start < 2


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_text_model(str(tmp_path / "no-such-model"))


def test_tiny_deberta_is_labelled_untrained():
    spec = resolve_text_model("tiny-deberta")
    assert spec.untrained and "UNTRAINED" in spec.label
    assert resolve_text_model("minilm").untrained is False


def test_packaged_minilm_loads_offline():
    enc = TextEncoder("minilm", hidden=256, finetune=False)
    assert enc.backbone_dim == 384
    assert enc.spec.source == "package"
    ids = enc.tokenize(["I am so happy today!"])[0]
    assert ids[0] == enc.tokenizer.cls_token_id


def test_frozen_states_are_cached_and_match_the_live_encoder(tmp_path):
    from sernb.models import text as text_module

    torch.manual_seed(0)
    model = build_model("baseline", text_model="tiny-deberta").eval()
    texts = ["one two three", "a longer sentence here, with more tokens", "one two three"]
    states = frozen_token_states(model.text, texts, cache_dir=tmp_path)
    assert len(list((tmp_path / model.text.fingerprint()).glob("*.npy"))) == 2  # unique texts
    text_module._MEMORY_CACHE.clear()
    again = frozen_token_states(model.text, texts, cache_dir=tmp_path)  # read from disk
    assert all(np.array_equal(a, b) for a, b in zip(states, again, strict=True))
    ids = model.text.tokenize(texts[1:2])[0]
    with torch.no_grad():
        live = model.text.backbone_states(torch.as_tensor(ids)[None], torch.ones(1, len(ids), dtype=torch.bool))
    assert np.allclose(live[0].numpy(), states[1], atol=1e-5)


def test_checkpoint_rebuilds_the_same_model(ours, tmp_path):
    batch = make_batch(ours)
    save_model(ours, tmp_path / "m", labels=["a", "b", "c", "d", "e", "f"], extra={"max_frames": 10})
    assert {"model.json", "model.safetensors", "text"} <= {p.name for p in (tmp_path / "m").iterdir()}
    again, info = load_model(tmp_path / "m")
    assert info["system"] == "ours" and info["labels"][0] == "a"
    assert info["text_encoder"]["untrained"] is True
    with torch.no_grad():
        assert torch.equal(ours(batch)["logits"], again(batch)["logits"])


def test_concat_systems_read_one_mean_state_per_text_with_the_same_logits():
    """The frozen-text fast path: concatenation only needs the mean token state of each text."""
    import pandas as pd

    from sernb.experiments import prepare_inputs

    torch.manual_seed(0)
    model = build_model("baseline", text_model="tiny-deberta").eval()
    table = pd.DataFrame({"text": ["I am so angry with you", "fine", "what a lovely day it is today"]})
    pooled = prepare_inputs(model, table, {"device": torch.device("cpu"), "mfcc": [np.zeros((5, 40))] * 3})
    assert [s.shape[0] for s in pooled["text_states"]] == [1, 1, 1]
    batch = make_batch(model, frames=(5, 5, 5), tokens=(9, 4, 3))
    full = batch["text_states"] * batch["text_states_mask"].unsqueeze(-1)
    means = full.sum(1, keepdim=True) / batch["text_states_mask"].sum(1).view(-1, 1, 1)
    short = {**batch, "text_states": means, "text_states_mask": torch.ones(3, 1, dtype=torch.bool)}
    with torch.no_grad():
        assert torch.allclose(model(batch)["logits"], model(short)["logits"], atol=1e-5)
    attention = build_model("ours", text_model="tiny-deberta", finetune_text=False).eval()
    states = prepare_inputs(attention, table, {"device": torch.device("cpu"), "mfcc": [np.zeros((5, 40))] * 3})
    assert min(s.shape[0] for s in states["text_states"]) > 1  # attention needs every token


@pytest.mark.parametrize(("env", "offline"), [({}, True), ({"HF_HUB_OFFLINE": "0"}, False),
                                              ({"HF_HUB_OFFLINE": "1"}, True),
                                              ({"TRANSFORMERS_OFFLINE": "yes"}, True)])
def test_no_downloads_unless_asked(monkeypatch, env, offline):
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert hub_offline() is offline


def test_text_layers_trains_only_the_top_layers():
    model = build_model("ours", text_model="minilm", text_layers=2).train()
    backbone = model.text.backbone
    layers = backbone.encoder.layer
    assert not any(p.requires_grad for p in backbone.embeddings.parameters())
    assert not any(p.requires_grad for layer in layers[:-2] for p in layer.parameters())
    assert all(p.requires_grad for layer in layers[-2:] for p in layer.parameters())
    # frozen parts stay in eval mode (no dropout) even after model.train(); the top layers train
    assert not backbone.embeddings.training and not layers[0].training and layers[-1].training
    ids = torch.as_tensor(model.text.tokenize(["a short sentence"]))
    model.text(ids, torch.ones_like(ids, dtype=torch.bool)).sum().backward()
    assert layers[-1].attention.self.query.weight.grad is not None
    assert layers[0].attention.self.query.weight.grad is None


def test_text_layers_out_of_range_is_named():
    with pytest.raises(ValueError, match="text_layers=9.*6 layers"):
        build_model("ours", text_model="minilm", text_layers=9)


@pytest.mark.parametrize(("text_model", "top"), [("minilm", 2), ("tiny-deberta", 1)])
def test_the_frozen_layers_below_the_fine_tuned_top_run_once_per_transcript(text_model, top):
    from sernb.models import text as text_module

    text_module._LOWER_STATES.clear()
    encoder = TextEncoder(text_model, 16, finetune=True, train_layers=top).eval()
    ids = [encoder.tokenize([t])[0] for t in ("I am so happy today!", "no", "what a terrible day it was")]
    batch = torch.zeros(3, max(map(len, ids)), dtype=torch.long)
    mask = lengths_mask([len(x) for x in ids])
    for i, x in enumerate(ids):
        batch[i, :len(x)] = torch.as_tensor(x)
    lowest = encoder.backbone.encoder.layer[0]
    calls = []
    lowest.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        whole = encoder.backbone(input_ids=batch, attention_mask=mask.long()).last_hidden_state
        assert len(calls) == 1
        first, again = encoder.backbone_states(batch, mask), encoder.backbone_states(batch, mask)
    assert torch.allclose(first[mask], whole[mask], atol=1e-5)  # the same states, padding aside
    assert torch.equal(first, again)
    n_lengths = len({len(x) for x in ids})
    assert len(calls) == 1 + n_lengths  # the lower part ran once per length group, then never again
    # a second encoder with the same frozen weights (the next run of a grid worker) shares the memo
    TextEncoder(text_model, 16, finetune=True, train_layers=top).backbone_states(batch, mask)
    assert len(calls) == 1 + n_lengths
    # new weights below the top forget the memo; the top layers still get gradients, the rest none
    state = {k: v + 0.5 if k.startswith("backbone.embeddings.") and v.is_floating_point() else v
             for k, v in encoder.state_dict().items()}
    encoder.load_state_dict(state)
    encoder.train()
    moved = encoder.backbone_states(batch, mask)
    assert not torch.allclose(moved[mask], first[mask], atol=1e-3)
    moved.sum().backward()
    assert all(p.grad is not None for p in encoder.backbone.encoder.layer[-1].parameters())
    assert all(p.grad is None for p in lowest.parameters())


def test_per_utterance_mfcc_norm_standardises_each_clip_over_its_real_frames():
    from sernb.models.audio import MFCCNorm

    norm = MFCCNorm(3, per_utterance=True)
    x = torch.randn(2, 10, 3) * 5 + 7
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    out = norm(x, mask)
    real = out[1, :6]
    assert torch.allclose(real.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(real.pow(2).mean(0), torch.ones(3), atol=1e-4)
    assert (out[1, 6:] == 0).all()  # padding stays zero


def test_spectrum_masks_hit_bands_and_spans_only_with_probability_one():
    from sernb.models.audio import mask_spectrum

    torch.manual_seed(0)
    x = torch.ones(8, 200, 40)
    mask = torch.ones(8, 200, dtype=torch.bool)
    assert torch.equal(mask_spectrum(x, mask, 0.0), x)
    masked = mask_spectrum(x, mask, 1.0)
    share = (masked == 0).float().mean().item()
    assert 0.0 < share < 0.45  # a band of <= 20% plus two spans of <= 10% each


def test_mfcc_options_build_into_the_audio_branch_and_refuse_the_mean_branch():
    from sernb.models import build_model

    model = build_model("audio_only", n_classes=4, mfcc_norm="utterance", spec_mask=0.5)
    assert model.audio.norm.per_utterance and model.audio.spec_mask == 0.5
    with pytest.raises(ValueError, match="BiLSTM audio branch"):
        build_model("baseline", n_classes=4, text_model="tiny-deberta", mfcc_norm="utterance")


def test_speaker_normalisation_standardises_each_speaker_over_all_their_clips():
    from sernb.models import build_model
    from sernb.models.inputs import speaker_normalised

    rng = np.random.default_rng(0)
    frames = [rng.normal(5, 3, (20, 4)), rng.normal(5, 3, (30, 4)), rng.normal(-2, 1, (10, 4))]
    out = speaker_normalised(frames, ["a", "a", "b"])
    a = np.concatenate(out[:2])
    assert np.allclose(a.mean(0), 0, atol=1e-5) and np.allclose(a.std(0), 1, atol=1e-4)
    assert np.allclose(out[2].mean(0), 0, atol=1e-5)
    assert not np.allclose(out[0].mean(0), 0, atol=1e-2)  # a clip keeps its level within its speaker
    assert build_model("audio_only", n_classes=4, mfcc_norm="speaker").audio.norm.per_speaker


@pytest.mark.parametrize("text_model", ["minilm", "tiny-deberta"])
def test_a_dialog_context_shapes_the_utterance_states_but_only_the_utterance_is_pooled(text_model, tmp_path):
    """text_context: the encoder reads [utterance SEP previous turns]. The context is what gets cut to
    fit, a first turn reads alone, and pooling, attention and frozen states keep the utterance's tokens."""
    torch.manual_seed(0)
    model = build_model("text_only", text_model=text_model, max_tokens=16).eval()
    encoder = model.text
    texts = ["I am so happy today", "no", "what a terrible day it was and it goes on and on and on and on"]
    contexts = ["", "did you take my sandwich from the fridge this morning | hello there Joey", "we lost"]
    alone, paired = encoder.tokenize(texts), encoder.tokenize(texts, contexts)
    assert (paired[0] == alone[0]).all()  # a dialog's first turn: nothing before it
    assert len(paired[1]) == 16 and (paired[1][:len(alone[1])] == alone[1]).all()  # the context is cut, not "no"
    assert len(alone[2]) == 16 and (paired[2] == alone[2]).all()  # no room left: the utterance alone

    def batch_of(ids):
        tokens = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
        for i, x in enumerate(ids):
            tokens[i, :len(x)] = torch.as_tensor(x)
        return {"tokens": tokens, "tokens_mask": lengths_mask([len(x) for x in ids])}

    with torch.no_grad():
        with_context, without = model(batch_of(paired)), model(batch_of(alone))
    assert with_context["token_mask"].sum(1).tolist() == [len(x) for x in alone]  # pooled: the utterance only
    assert torch.allclose(with_context["text_vec"][[0, 2]], without["text_vec"][[0, 2]], atol=1e-5)
    assert not torch.allclose(with_context["text_vec"][1], without["text_vec"][1], atol=1e-3)  # the context counts

    encoder.finetune = False  # a frozen encoder keeps the utterance's states, computed with the context
    states = frozen_token_states(encoder, texts, contexts=contexts, cache_dir=tmp_path)
    assert [len(s) for s in states] == [len(x) for x in alone]
    with torch.no_grad():
        full = encoder.backbone_states(batch_of(paired)["tokens"][1:2], batch_of(paired)["tokens_mask"][1:2])
    np.testing.assert_allclose(states[1], full[0, :len(alone[1])].numpy(), atol=1e-5)
    assert len(frozen_token_states(encoder, texts, cache_dir=tmp_path)[1]) == len(alone[1])  # keyed apart
    with pytest.raises(ValueError, match="2 contexts for 3 texts"):
        encoder.tokenize(texts, contexts[:2])
