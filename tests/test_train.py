"""The training loop: every ablation step trains, resume equals an uninterrupted run, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sernb.data.dataset import BucketBatchSampler, SERDataset, collate
from sernb.models import build_model
from sernb.models.text import frozen_token_states
from sernb.train import TrainConfig, class_weights, fit, param_groups, predict

ABLATION = ("baseline", "ablation_lstm", "ablation_finetune", "ours")
N = 48


#: Wall and CPU time differ between identical runs; everything else must not.
TIMING = ("seconds", "cpu_seconds")


def toy_data(model, n: int = N, seed: int = 0) -> tuple[SERDataset, SERDataset]:
    """Labels visible in both the frames (a mean shift) and the words, so a few steps learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, n)
    words = ["angry", "annoyed", "fine", "gloomy", "thrilled", "glad"]
    mfcc = [rng.normal(labels[i] - 2.5, 1.0, (int(rng.integers(8, 30)), 40)).astype(np.float32) for i in range(n)]
    texts = [f"I am {words[labels[i]]} about thing {i}" for i in range(n)]
    inputs = {}
    if "mfcc" in model.inputs:
        inputs["mfcc"] = mfcc
        model.fit_audio_stats(torch.from_numpy(np.concatenate(mfcc)))
    if "tokens" in model.inputs:
        inputs["tokens"] = model.text.tokenize(texts)
    if "text_states" in model.inputs:
        inputs["text_states"] = frozen_token_states(model.text, texts)
    data = SERDataset(inputs, labels)
    cut = int(0.75 * n)
    return data.subset(range(cut)), data.subset(range(cut, n))


def make(name: str, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(name, text_model="tiny-deberta")
    return model, *toy_data(model)


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 3, "batch_size": 8, "patience": None, "progress": False, "lr": 1e-3, **kw})


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ABLATION + ("audio_only", "text_only"))
def test_each_configuration_builds_and_trains(name):
    model, train, val = make(name)
    before = weights(model)
    result = fit(model, train, val, config(epochs=1), n_classes=6)
    assert len(result.history) == 1
    record = result.history[0]
    for key in ("loss", "accuracy", "balanced_accuracy", "macro_f1", "val_loss", "val_accuracy",
                "val_balanced_accuracy", "val_macro_f1", "seconds"):
        assert np.isfinite(record[key]), key
    after = weights(model)
    head = [k for k in before if k.startswith("head.")]
    assert any(not torch.equal(before[k], after[k]) for k in head)
    backbone = [k for k in before if k.startswith("text.backbone.") and before[k].is_floating_point()]
    if name in ("baseline", "ablation_lstm"):  # static encoder: untouched
        assert all(torch.equal(before[k], after[k]) for k in backbone)
    elif backbone:
        assert any(not torch.equal(before[k], after[k]) for k in backbone)


def test_text_encoder_gets_the_small_learning_rate():
    model, _, _ = make("ours")
    groups = {g["name"]: g for g in param_groups(model, lr=1e-4, lr_text=2e-5)}
    assert groups["pretrained"]["lr"] == 2e-5 and groups["new"]["lr"] == 1e-4
    n_backbone = sum(p.numel() for p in model.text.backbone.parameters())
    assert sum(p.numel() for p in groups["pretrained"]["params"]) == n_backbone
    frozen, _, _ = make("baseline")
    assert [g["name"] for g in param_groups(frozen, 1e-4, 2e-5)] == ["new"]


def test_it_learns_the_toy_task():
    model, train, val = make("ours")
    result = fit(model, train, val, config(epochs=8), n_classes=6)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.best_score > 0.4  # chance is 1/6


class Killed(Exception):
    """A crash right after an epoch was checkpointed (raised by :func:`kill_after`)."""


def kill_after(epoch: int):
    def on_epoch_end(record):
        if record["epoch"] == epoch:
            raise Killed

    return on_epoch_end


def test_resume_after_interrupt_equals_an_uninterrupted_run(tmp_path):
    model, train, val = make("ours")
    with pytest.raises(Killed):
        fit(model, train, val, config(epochs=4), n_classes=6, checkpoint_dir=tmp_path, on_epoch_end=kill_after(2))
    resumed_model, train, val = make("ours", seed=123)  # a fresh process would build a fresh model
    with pytest.raises(ValueError, match="other settings"):
        fit(resumed_model, train, val, config(epochs=4, lr=0.5), n_classes=6, checkpoint_dir=tmp_path)
    resumed = fit(resumed_model, train, val, config(epochs=4), n_classes=6, checkpoint_dir=tmp_path)
    straight_model, train, val = make("ours")
    straight = fit(straight_model, train, val, config(epochs=4), n_classes=6)
    drop = TIMING
    assert [{k: v for k, v in h.items() if k not in drop} for h in resumed.history] == \
           [{k: v for k, v in h.items() if k not in drop} for h in straight.history]
    assert resumed.best_epoch == straight.best_epoch
    a, b = weights(resumed_model), weights(straight_model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_hold_what_training_changes_and_resume_a_frozen_encoder(tmp_path):
    """Baseline's frozen encoder is rebuilt, not saved: one small file per epoch, still exact on resume."""
    from safetensors.torch import load_file

    from sernb.train import load_trained_state, trained_state

    model, train, val = make("baseline")
    with pytest.raises(Killed):
        fit(model, train, val, config(epochs=3, epoch_selection="last"), n_classes=6, checkpoint_dir=tmp_path,
            on_epoch_end=kill_after(1))
    files = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert files == ["weights-e001.safetensors"]  # the kept epoch is this epoch: one file, not two
    saved = load_file(tmp_path / files[0])
    assert set(saved) == set(trained_state(model)) and not any(k.startswith("text.backbone.") for k in saved)
    assert len(saved) < len(model.state_dict())
    resumed_model, train, val = make("baseline")
    resumed = fit(resumed_model, train, val, config(epochs=3, epoch_selection="last"), n_classes=6,
                  checkpoint_dir=tmp_path)
    straight_model, train, val = make("baseline")
    straight = fit(straight_model, train, val, config(epochs=3, epoch_selection="last"), n_classes=6)
    assert [h["val_balanced_accuracy"] for h in resumed.history] == [h["val_balanced_accuracy"] for h in straight.history]
    a, b = weights(resumed_model), weights(straight_model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="does not fit this model"):
        load_trained_state(build_model("audio_only"), saved, tmp_path / files[0])


def test_a_checkpoint_from_before_one_file_per_epoch_resumes_and_keeps_its_kept_weights(tmp_path):
    """Older checkpoints kept the kept epoch in ``best-eNNN``: resumed, that epoch's file is written
    from the weights in memory instead of pointing at a file that was never made."""
    from safetensors.torch import load_file

    from sernb.train import STATE_FILE

    flat = config(epochs=3, lr=0.0, epoch_selection="best")  # no learning: epoch 1 stays the kept one
    model, train, val = make("audio_only")
    with pytest.raises(Killed):
        fit(model, train, val, flat, n_classes=6, checkpoint_dir=tmp_path, on_epoch_end=kill_after(2))
    payload = torch.load(tmp_path / STATE_FILE, weights_only=True)
    assert payload["best_file"] == "weights-e001.safetensors"
    (tmp_path / "weights-e001.safetensors").rename(tmp_path / "best-e001.safetensors")  # the old layout
    payload["best_file"] = "best-e001.safetensors"
    torch.save(payload, tmp_path / STATE_FILE)
    kept = load_file(tmp_path / "best-e001.safetensors")
    resumed_model, train, val = make("audio_only")
    result = fit(resumed_model, train, val, flat, n_classes=6, checkpoint_dir=tmp_path)
    assert result.best_epoch == 1
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["weights-e001.safetensors",
                                                                        "weights-e003.safetensors"]
    again = load_file(tmp_path / torch.load(tmp_path / STATE_FILE, weights_only=True)["best_file"])
    assert all(torch.equal(again[k], kept[k]) for k in kept)


def test_same_seed_same_numbers_other_seed_other_numbers():
    runs = []
    for seed in (0, 0, 1):
        model, train, val = make("ablation_finetune", seed=seed)
        runs.append(fit(model, train, val, config(seed=seed, epochs=2), n_classes=6).history)
    strip = [[{k: v for k, v in h.items() if k not in TIMING} for h in run] for run in runs]
    assert strip[0] == strip[1]
    assert strip[0] != strip[2]


def test_early_stopping_restores_the_best_weights():
    model, train, val = make("audio_only")
    seen = []
    result = fit(model, train, val, config(epochs=6, patience=1, lr=0.0), n_classes=6,
                 on_epoch_end=lambda r: seen.append(weights(model)))
    assert result.stopped_early and len(result.history) == 2 and result.best_epoch == 1


@pytest.mark.parametrize(("selection", "scores", "kept"), [
    ("best", (0.456, 0.727, 0.708, 0.703, 0.717, 0.724), 2),  # a seed's flat curve: the noise picks epoch 2
    ("one-se", (0.456, 0.727, 0.708, 0.703, 0.717, 0.724), 6),  # 0.724 ties 0.727 within sqrt(p(1-p)/111)
    ("one-se", (0.5, 0.8, 0.6, 0.55), 2),  # 0.6 is 5 standard errors below 0.8: no tie
    ("last", (0.5, 0.8, 0.6, 0.55), 4),
])
def test_epoch_selection_rules(selection, scores, kept):
    from sernb.train import _TrainerState

    model, state = torch.nn.Linear(2, 2), _TrainerState()
    for epoch, score in enumerate(scores, 1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        state.update({"epoch": epoch, "val_balanced_accuracy": score}, model, True, 2, len(scores),
                     selection, n_val=111)
    assert state.best_epoch == kept and float(state.best_weights["weight"][0, 0]) == kept
    assert state.best_score == scores[kept - 1] and state.top_score == max(scores)
    assert state.bad_epochs == len(scores) - 1 - scores.index(max(scores))  # patience counts from the top


def test_the_selection_metric_chooses_what_early_stopping_and_the_kept_epoch_follow():
    from sernb.experiments import ExperimentConfig
    from sernb.train import _TrainerState

    # UA peaks at epoch 2, weighted F1 (the majority class recovered) at epoch 3
    records = [{"epoch": 1, "val_balanced_accuracy": 0.30, "val_weighted_f1": 0.40},
               {"epoch": 2, "val_balanced_accuracy": 0.50, "val_weighted_f1": 0.45},
               {"epoch": 3, "val_balanced_accuracy": 0.40, "val_weighted_f1": 0.60}]
    kept = {}
    for metric in ("balanced_accuracy", "weighted_f1"):
        state = _TrainerState()
        for record in records:
            state.update(record, torch.nn.Linear(2, 2), True, 1, 3, "best", 1000, metric)
        kept[metric] = (state.best_epoch, state.stopped_early)
    assert kept == {"balanced_accuracy": (2, True), "weighted_f1": (3, False)}
    config = ExperimentConfig.from_profile("smoke", selection_metric="weighted_f1")
    assert config.train_config(seed=0).selection_metric == "weighted_f1"
    with pytest.raises(ValueError, match="selection_metric"):
        ExperimentConfig.from_profile("smoke", selection_metric="f1")


def test_class_weights_follow_sklearn_balanced():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    assert np.allclose(w.numpy(), [4 / 9, 4 / 3, 4 / 3])


def test_predict_keeps_attention_for_chosen_rows():
    model, train, val = make("ours")
    out = predict(model, val, batch_size=4, keep_attention=[0, 3])
    assert out.probs.shape == (len(val), 6)
    assert np.allclose(out.probs.sum(1), 1, atol=1e-5)
    assert set(out.attention) == {0, 3}
    heads, frames, tokens = out.attention[0].shape
    assert heads == 8 and frames == len(val.inputs["mfcc"][0]) and tokens == len(val.inputs["tokens"][0])


def test_bucket_sampler_is_a_reproducible_permutation():
    lengths = np.random.default_rng(0).integers(1, 100, 103)
    sampler = BucketBatchSampler(lengths, batch_size=8, seed=3)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(103))
    assert len(first) == len(sampler) == 13
    assert first == list(sampler)  # same epoch, same order
    sampler.set_epoch(1)
    assert first != list(sampler)


def test_collate_pads_and_masks():
    data = SERDataset({"mfcc": [np.ones((3, 40), np.float32), np.ones((1, 40), np.float32)],
                       "tokens": [np.array([5, 6]), np.array([7, 8, 9])]}, [1, 2])
    batch = collate([data[0], data[1]])
    assert batch["mfcc"].shape == (2, 3, 40) and batch["tokens"].dtype == torch.long
    assert batch["mfcc_mask"].tolist() == [[True, True, True], [True, False, False]]
    assert batch["tokens_mask"].tolist() == [[True, True, False], [True, True, True]]
    assert batch["label"].tolist() == [1, 2]
