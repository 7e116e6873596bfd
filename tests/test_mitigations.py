"""The remedies for overfitting (modality dropout, augmentation, SupCon) and the robustness tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sernb import experiments, robustness
from sernb.augment import (
    AudioAugment,
    EpochAugmenter,
    Mitigations,
    TextAugment,
    add_noise,
    augment_wave,
    replace_words,
    snr_db,
    word_neighbours,
)
from sernb.data.dataset import SERDataset, collate
from sernb.data.features import mfcc
from sernb.models import build_model
from sernb.train import TrainConfig, drop_modalities, fit, predict, supcon_loss
from sernb.utils import config_hash
from tests.fixtures import write_wav

TIMING = ("seconds", "cpu_seconds")
WORDS = ["angry", "annoyed", "fine", "gloomy", "thrilled", "glad"]


def batch_for(model, seed=0, n=4):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([30, 17, 5, 12][:n])
    tokens = torch.tensor([9, 4, 3, 6][:n])
    return {"mfcc": torch.randn(n, 30, 40, generator=g),
            "mfcc_mask": torch.arange(30)[None] < lengths[:, None],
            "tokens": torch.randint(1000, 5000, (n, 9), generator=g),
            "tokens_mask": torch.arange(9)[None] < tokens[:, None], "label": torch.arange(n)}


@pytest.mark.parametrize("name", ["ours", "ablation_finetune"])
def test_a_missing_modality_is_masked_whole_and_stays_finite(name):
    torch.manual_seed(0)
    model = build_model(name, text_model="tiny-deberta").eval()
    a, b = batch_for(model, seed=0), batch_for(model, seed=1)
    for gone, field in (("audio", "mfcc"), ("text", "tokens")):
        flag = {f"{gone}_missing": torch.tensor([True, False, True, False])}
        other = {**a, field: b[field]}  # the withheld modality changes, the other stays
        with torch.no_grad():
            one, two = model({**a, **flag})["logits"], model({**other, **flag})["logits"]
        assert torch.isfinite(one).all() and torch.isfinite(two).all()
        assert torch.allclose(one[[0, 2]], two[[0, 2]], atol=1e-6)  # masked rows ignore it entirely
        assert not torch.allclose(one[[1, 3]], two[[1, 3]])  # the others still read it


def test_modality_dropout_drops_one_modality_at_the_requested_rate():
    torch.manual_seed(0)
    drop = drop_modalities(20000, 0.3)
    audio, text = drop["audio_missing"], drop["text_missing"]
    assert not (audio & text).any()
    assert (audio | text).float().mean().item() == pytest.approx(0.3, abs=0.02)
    assert audio.float().mean().item() == pytest.approx(0.15, abs=0.02)


def test_predict_with_a_modality_missing():
    model, data = toy_model_and_data()
    for gone in ("audio", "text"):
        out = predict(model, data, batch_size=8, missing=gone)
        assert np.isfinite(out.probs).all() and np.allclose(out.probs.sum(1), 1, atol=1e-5)
    audio_only = build_model("audio_only", text_model="tiny-deberta")
    with pytest.raises(ValueError, match="both branches"):
        predict(audio_only, SERDataset({"mfcc": data.inputs["mfcc"]}, data.labels), missing="text")
    with pytest.raises(ValueError, match="audio and a text branch"):
        fit(audio_only, SERDataset({"mfcc": data.inputs["mfcc"]}, data.labels), None,
            TrainConfig(epochs=1, modality_dropout=0.3, progress=False))


def test_robustness_runs_the_text_backbone_once_per_batch_with_the_same_predictions(monkeypatch):
    model, data = toy_model_and_data()
    model.eval()
    plain = [predict(model, data, batch_size=4, missing=gone).probs for gone in (None, "audio")]
    calls = []
    computed = type(model.text).backbone_states
    monkeypatch.setattr(type(model.text), "backbone_states",
                        lambda self, ids, mask: calls.append(1) or computed(self, ids, mask))
    with robustness.text_states_once(model):
        once = [predict(model, data, batch_size=4, missing=gone).probs for gone in (None, "audio", None)]
    batches = -(-len(data) // 4)
    assert len(calls) == batches  # the first condition computed them; the others read them back
    assert np.array_equal(once[0], plain[0]) and np.array_equal(once[1], plain[1]) and np.array_equal(once[2], plain[0])
    assert "backbone_states" not in vars(model.text)  # the class's method again after the block


@pytest.mark.parametrize("snr", [30.0, 10.0, 0.0, -5.0])
def test_noise_has_the_requested_snr(snr):
    t = np.arange(16000) / 16000
    clean = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    noisy = add_noise(clean, snr, np.random.default_rng(0))
    assert snr_db(clean, noisy) == pytest.approx(snr, abs=0.01)
    assert np.array_equal(noisy, add_noise(clean, snr, np.random.default_rng(0)))


def test_wave_augmentation_is_seeded_and_changes_speed():
    wave = np.random.default_rng(1).standard_normal(8000).astype(np.float32)
    settings = AudioAugment(p_noise=1, p_gain=1, p_speed=1, speed=0.2)
    one, changed = augment_wave(wave, settings, np.random.default_rng(3), 16000)
    two, _ = augment_wave(wave, settings, np.random.default_rng(3), 16000)
    assert changed and np.array_equal(one, two) and len(one) != len(wave)
    same, changed = augment_wave(wave, AudioAugment(p_noise=0, p_gain=0, p_speed=0), np.random.default_rng(3), 16000)
    assert not changed and same is wave


def test_text_replacement_uses_vocabulary_neighbours_and_is_seeded():
    neighbours = word_neighbours(5)
    assert "anger" in neighbours.neighbours("angry") and neighbours.neighbours("xqzvk") == []
    text = "I am so Angry about the broken door, really furious!"
    settings = TextAugment(p=1.0, rate=1.0, k=5)
    out = replace_words(text, settings, np.random.default_rng(0), neighbours)
    assert out == replace_words(text, settings, np.random.default_rng(0), neighbours)
    old, new = text.replace(",", "").replace("!", "").split(), out.replace(",", "").replace("!", "").split()
    assert len(old) == len(new) and old != new
    for a, b in zip(old, new, strict=True):
        assert a == b or b.lower() in neighbours.neighbours(a), (a, b)
        assert a[0].isupper() == b[0].isupper()
    assert replace_words(text, TextAugment(p=0.0), np.random.default_rng(0), neighbours) == text


def test_supcon_is_lower_for_class_aligned_embeddings():
    rng = np.random.default_rng(0)
    labels = torch.as_tensor(np.repeat(np.arange(4), 8))
    centres = torch.as_tensor(rng.standard_normal((4, 16)), dtype=torch.float32)
    aligned = centres[labels] + 0.1 * torch.randn(32, 16, generator=torch.Generator().manual_seed(0))
    shuffled = aligned[torch.randperm(32, generator=torch.Generator().manual_seed(1))]
    assert supcon_loss(aligned, labels).item() < supcon_loss(shuffled, labels).item() - 1.0
    assert supcon_loss(aligned, torch.arange(32)).item() == 0.0  # no positives: nothing to pull


def test_mitigations_are_validated_with_clear_errors():
    with pytest.raises(ValueError, match="unknown mitigation.*mixup.*known: modality_dropout"):
        experiments.ExperimentConfig(mitigations={"mixup": 0.2})
    with pytest.raises(ValueError, match="augment_audio: unknown setting.*snr"):
        experiments.ExperimentConfig(mitigations={"augment_audio": {"snr": 5}})
    with pytest.raises(ValueError, match="modality_dropout"):
        Mitigations.parse({"modality_dropout": 1.5})
    m = Mitigations.parse({"augment_text": True, "supcon": {"weight": 0.2, "temperature": 0.5}})
    assert m.augment_text == TextAugment() and m.augment_audio is None and m.train["supcon"] == 0.2
    config = experiments.ExperimentConfig(mitigations={"modality_dropout": 0.3, "supcon": 0.1})
    train = config.train_config(0)
    assert train.modality_dropout == 0.3 and train.supcon == 0.1


def test_empty_optional_fields_leave_the_experiment_key_unchanged():
    from dataclasses import asdict

    from sernb.fingerprint import code_fingerprint

    table = pd.DataFrame({"utt_id": ["a", "b"], "label": ["ang", "sad"], "text": ["x", "y"]})
    config = experiments.ExperimentConfig()
    settings = {k: v for k, v in asdict(config).items()
                if k not in experiments.RUNTIME_FIELDS and k not in experiments.OPTIONAL_FIELDS
                and not (k in experiments.DEFAULT_FIELDS and v == experiments.DEFAULT_FIELDS[k])}
    corpus = config_hash([table["utt_id"].tolist(), table["label"].tolist(), table["text"].tolist()])
    before = config_hash({"settings": settings, "corpus": corpus, "code": code_fingerprint()})
    assert experiments.experiment_key(config, table) == before
    with_one = experiments.ExperimentConfig(mitigations={"supcon": 0.1})
    assert experiments.experiment_key(with_one, table) != before
    assert experiments.experiment_key(experiments.ExperimentConfig(text_layers=2), table) != before


# ------------------------------------------------------------------ training with every remedy

def toy_model_and_data(tmp_path=None, n: int = 32, text_layers: int | None = None):
    """Tiny 'ours' plus utterances whose label is in the words and the tone; wavs when a folder is given."""
    torch.manual_seed(0)
    model = build_model("ours", text_model="tiny-deberta", text_layers=text_layers)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, n)
    texts = [f"I am {WORDS[c]} about the door {i}" for i, c in enumerate(labels)]
    if tmp_path is None:
        frames = [rng.normal(c - 2.5, 1.0, (int(rng.integers(8, 30)), 40)).astype(np.float32) for c in labels]
        paths = [""] * n
    else:
        paths = [str(write_wav(tmp_path / f"{i}.wav", seconds=0.2, freq=150 + 60 * c, seed=i))
                 for i, c in enumerate(labels)]
        from sernb.data.audio import load_audio

        frames = [mfcc(load_audio(p)) for p in paths]
    model.fit_audio_stats(torch.from_numpy(np.concatenate(frames)))
    data = SERDataset({"mfcc": frames, "tokens": model.text.tokenize(texts)}, labels)
    data.table = pd.DataFrame({"wav_path": paths, "text": texts})
    return model, data


ALL = {"modality_dropout": 0.3, "supcon": 0.1, "augment_text": {"p": 0.8, "rate": 0.5},
       "augment_audio": {"p_noise": 0.5, "p_gain": 0.5, "p_speed": 0.5}}


def train_with_everything(tmp_path, checkpoint=None, on_epoch_end=None, epochs=2):
    model, data = toy_model_and_data(tmp_path)
    train, val = data.subset(range(24)), data.subset(range(24, 32))
    m = Mitigations.parse(ALL)
    augment = EpochAugmenter(m, data.table.iloc[:24], train, model, seed=0, max_frames=None)
    config = TrainConfig(epochs=epochs, batch_size=8, patience=None, progress=False, lr=1e-3, **m.train)
    result = fit(model, train, val, config, n_classes=6, augment=augment, checkpoint_dir=checkpoint,
                 on_epoch_end=on_epoch_end)
    return model, result, augment


def strip(history):
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


def test_augmenter_changes_inputs_per_epoch_and_is_seeded(tmp_path):
    model, data = toy_model_and_data(tmp_path)
    train = data.subset(range(24))
    augment = EpochAugmenter(Mitigations.parse(ALL), data.table.iloc[:24], train, model, seed=0, max_frames=None)
    first, again, second = augment(0), augment(0), augment(1)
    assert len(first) == len(train) and np.array_equal(first.labels, train.labels)
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # noqa: E731
    for name in ("mfcc", "tokens"):
        assert same(first.inputs[name], again.inputs[name])
        assert not same(first.inputs[name], second.inputs[name])
        assert not same(first.inputs[name], train.inputs[name])
    batch = collate([first[i] for i in range(4)])
    assert torch.isfinite(batch["mfcc"]).all()


def test_augmented_clips_reach_a_speaker_normalised_model_standardised_like_the_clean_ones(tmp_path):
    """Found on RAVDESS: with mfcc_norm="speaker" every augmented clip reached the model as raw MFCCs
    among per-speaker standardised ones (UA fell from 52.8% to 38.1%)."""
    from sernb.models.inputs import speaker_normalised, speaker_stats

    _, data = toy_model_and_data(tmp_path, n=8)
    model = build_model("audio_only", mfcc_norm="speaker")
    speakers = ["a", "b"] * 4
    stats = speaker_stats(list(data.inputs["mfcc"]), speakers)
    train = SERDataset({"mfcc": speaker_normalised(list(data.inputs["mfcc"]), speakers, stats)}, data.labels)
    table = data.table.assign(speaker=speakers)
    same_wave = Mitigations.parse({"augment_audio": {"p_noise": 0, "p_speed": 0, "p_gain": 1, "gain_db": 0}})
    augmented = EpochAugmenter(same_wave, table, train, model, seed=0, max_frames=None, speaker_stats=stats)(0)
    for clean, again in zip(train.inputs["mfcc"], augmented.inputs["mfcc"], strict=True):
        assert again is not clean  # recomputed from the (unchanged) waveform ...
        np.testing.assert_allclose(again, clean, atol=1e-4)  # ... and standardised with the speaker's statistics
    with pytest.raises(ValueError, match="speakers' statistics"):
        EpochAugmenter(same_wave, table, train, model, seed=0, max_frames=None)


def test_training_with_every_remedy_is_deterministic_and_resumes(tmp_path):
    """Epoch 1 comes from a separate, killed run and epoch 2 from its resumption: both must match."""
    class Killed(Exception):
        pass

    _, straight, _ = train_with_everything(tmp_path / "a")
    assert all(np.isfinite(h["loss"]) and h["supcon_loss"] > 0 for h in straight.history)

    def kill_after_epoch_1(record):
        raise Killed

    with pytest.raises(Killed):
        train_with_everything(tmp_path / "b", tmp_path / "ckpt", kill_after_epoch_1)
    _, resumed, _ = train_with_everything(tmp_path / "b", tmp_path / "ckpt")
    assert strip(resumed.history) == strip(straight.history)


def test_a_warm_memo_of_the_frozen_text_layers_trains_exactly_like_a_cold_one():
    """Fine-tuning the top text layer only: the second run finds the lower states memoised and
    must still draw the same random numbers and reach the same numbers."""
    from sernb.models import text

    text._LOWER_STATES.clear()
    histories = []
    for _ in range(2):
        model, data = toy_model_and_data(text_layers=1)
        config = TrainConfig(epochs=2, batch_size=8, patience=None, progress=False, lr=1e-3)
        result = fit(model, data.subset(range(24)), data.subset(range(24, 32)), config, n_classes=6)
        histories.append(strip(result.history))
        assert sum(map(len, text._LOWER_STATES.values())) == 32  # every transcript, once
    assert histories[0] == histories[1]


# ------------------------------------------------------------------ end to end on the smoke corpus

def test_experiment_with_mitigations_then_robustness(smoke_corpus, tmp_path):
    config = experiments.ExperimentConfig.from_profile(
        "smoke", data_root=smoke_corpus, text_model="tiny-deberta", epochs=1, max_frames=100, device="cpu",
        progress=False, mitigations=ALL)
    frame = robustness.evaluate(config, snrs=(10, 0), results_dir=tmp_path)
    assert frame["condition"].tolist() == ["clean", "10 dB SNR", "0 dB SNR", "text only (audio missing)",
                                           "audio only (text missing)"]
    assert np.isfinite(frame[["accuracy", "balanced_accuracy", "weighted_f1"]].to_numpy()).all()
    result = experiments.Result.load(next(p for p in tmp_path.iterdir() if (p / "result.json").exists()))
    assert result.record["config"]["mitigations"] == ALL
    # The clean condition re-reads the waveforms: it must reproduce the stored test score.
    assert frame.loc[0, "accuracy"] == pytest.approx(result.record["runs"][0]["accuracy"])
    assert set(robustness.overfitting(result)) == {"overfit_ratio", "val_test_gap"}
    again = robustness.evaluate(config, snrs=(10, 0), results_dir=tmp_path)
    pd.testing.assert_frame_equal(frame, again)


def test_noisy_test_clips_are_made_once_per_process_and_read_only(tmp_path):
    import soundfile as sf

    from sernb.data.features import MFCCConfig

    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
        paths.append(str(path))
    config = MFCCConfig()
    robustness.noisy_mfccs.cache_clear()
    noisy = robustness.noisy_mfccs(tuple(paths), 10, 0, config)
    assert robustness.noisy_mfccs(tuple(paths), 10, 0, config) is noisy  # a second model hears the same clips
    assert not noisy[0].flags.writeable
    clean = robustness.noisy_mfccs(tuple(paths), None, 0, config)
    assert not np.allclose(clean[0], noisy[0])
    robustness.noisy_mfccs.cache_clear()
    again = robustness.noisy_mfccs(tuple(paths), 10, 0, config)
    assert again is not noisy and all(np.array_equal(a, b) for a, b in zip(again, noisy, strict=True))
