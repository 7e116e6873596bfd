"""Experiments on the smoke corpus: records, caching, folds x seeds, resume; metrics; profiles; CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sernb.experiments as experiments
from sernb.cli import main
from sernb.experiments import ExperimentConfig, Result, run
from sernb.metrics import classification_metrics, summarize
from sernb.profiles import PROFILES, get_profile

RESULT_KEYS = {"accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "per_class_f1", "confusion",
               "history", "std", "n_runs", "runs", "config", "meta", "labels", "key", "system"}


def tiny(smoke_corpus, **kw) -> ExperimentConfig:
    settings = {"data_root": smoke_corpus, "text_model": "tiny-deberta", "epochs": 1, "max_frames": 100,
                "batch_size": 32, "progress": False, "device": "cpu", **kw}
    return ExperimentConfig.from_profile("smoke", **settings)


def test_run_writes_a_complete_record_and_reuses_it(smoke_corpus, tmp_path, monkeypatch):
    result = run(tiny(smoke_corpus, system="ours", epochs=2), results_dir=tmp_path)
    assert RESULT_KEYS <= set(result.record)
    assert result.path == tmp_path / result.key
    assert result.record["n_runs"] == 1 and result.record["std"]["accuracy"] == 0.0
    assert set(result.record["per_class_f1"]) == {"ang", "fru", "neu", "sad", "exc", "hap"}
    assert np.asarray(result.record["confusion"]).sum() == result.record["runs"][0]["n_test"]
    (name, history), = result.history.items()
    assert len(history) == 2 and {"loss", "val_loss", "val_balanced_accuracy"} <= set(history[0])
    meta = result.record["meta"]
    assert meta["synthetic"] and meta["corpus"] == "synthetic" and meta["seeds"] == [0]
    assert meta["text_encoder"]["untrained"] is True
    assert {"torch", "transformers", "scikit-learn"} <= set(meta["libraries"]) and meta["device"].startswith("cpu")
    preds = result.predictions
    assert len(preds) == result.record["runs"][0]["n_test"]
    assert np.allclose(preds.filter(like="p_").sum(1), 1, atol=1e-4)
    maps = result.attention
    assert maps and maps[0]["weights"].shape[0] == 8 and len(maps[0]["tokens"]) == maps[0]["weights"].shape[2]
    assert (result.run_path(name) / "run.json").exists()
    assert not (result.run_path(name) / "checkpoint").exists()  # cleaned after the run

    monkeypatch.setattr(experiments, "fit", lambda *a, **k: pytest.fail("a cached result was retrained"))
    again = run(tiny(smoke_corpus, system="ours", epochs=2, progress=True, device="auto"), results_dir=tmp_path)
    assert again.key == result.key and again.record == Result.load(result.path).record


def test_protocol_times_seeds_and_resume_per_fold(smoke_corpus, tmp_path, monkeypatch):
    config = tiny(smoke_corpus, system="audio_only", protocol="loso", seeds=(0, 1))
    result = run(config, results_dir=tmp_path)
    assert result.record["n_runs"] == 10  # 5 sessions x 2 seeds
    assert {r["fold"] for r in result.record["runs"]} == {f"session-{s}" for s in range(1, 6)}
    accuracies = [r["accuracy"] for r in result.record["runs"]]
    assert result.record["accuracy"] == pytest.approx(np.mean(accuracies))
    assert result.record["std"]["accuracy"] == pytest.approx(np.std(accuracies))

    # A killed experiment: the summary and one run are missing; only that run trains again.
    (result.path / "result.json").unlink()
    import shutil

    shutil.rmtree(result.run_path("session-3__seed1"))
    calls = []
    real_fit = experiments.fit
    monkeypatch.setattr(experiments, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    resumed = run(config, results_dir=tmp_path)
    assert len(calls) == 1
    assert resumed.record["accuracy"] == pytest.approx(result.record["accuracy"])

    # Another seed list is another experiment, but its runs are shared: seed 1 alone trains nothing.
    monkeypatch.setattr(experiments, "fit", lambda *a, **k: pytest.fail("a shared run was retrained"))
    seed1 = run(tiny(smoke_corpus, system="audio_only", protocol="loso", seeds=(1,)), results_dir=tmp_path)
    assert seed1.key != result.key and seed1.record["n_runs"] == 5
    assert [r["accuracy"] for r in seed1.record["runs"]] == accuracies[5:]


def test_run_seeds_share_the_folds_unless_split_seed_is_none(smoke_corpus, tmp_path):
    """split_seed fixes the 8:2 split for every run seed (the spread over seeds is the training's);
    none gives each run seed its own split, as before."""
    from sernb.profiles import NONE

    def test_sets(result: Result) -> list[set[str]]:
        preds = result.predictions
        return [set(preds.loc[preds["seed"] == seed, "utt_id"]) for seed in (0, 1)]

    shared = run(tiny(smoke_corpus, system="audio_only", seeds=(0, 1)), results_dir=tmp_path)
    assert [r["fold"] for r in shared.record["runs"]] == ["random-seed0", "random-seed0"]
    first, second = test_sets(shared)
    assert first == second
    own = run(tiny(smoke_corpus, system="audio_only", seeds=(0, 1), split_seed=NONE), results_dir=tmp_path)
    assert [r["fold"] for r in own.record["runs"]] == ["random-seed0", "random-seed1"]
    first, second = test_sets(own)
    assert first != second
    assert own.key != shared.key


def test_key_ignores_device_but_not_settings(smoke_corpus):
    from sernb.data import load

    table = load("synthetic", smoke_corpus)
    key = experiments.experiment_key
    base = tiny(smoke_corpus)
    assert key(base, table) == key(tiny(smoke_corpus, device="cuda", progress=True), table)
    assert key(base, table) != key(tiny(smoke_corpus, epochs=3), table)
    assert key(base, table) != key(base, table.iloc[:-1])


def test_metrics_are_scikit_learns():
    from sklearn.metrics import balanced_accuracy_score, f1_score

    y, p = [0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0]
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    s = summarize([m, {**m, "accuracy": 0.5}], ["a", "b", "c"])
    assert s["accuracy"] == pytest.approx((4 / 6 + 0.5) / 2) and s["n_runs"] == 2
    assert s["confusion"][1][1] == 4


def test_profiles():
    assert set(PROFILES) == {"smoke", "offline", "full", "full-smoke"}
    full = get_profile("full")
    assert full.text_model == "deberta-v3-base" and full.protocol == "loso" and len(full.seeds) >= 3
    assert get_profile("offline", epochs=3, seeds=[0]).seeds == (0,)
    with pytest.raises(TypeError, match="unknown profile field"):
        get_profile("offline", epoch=3)
    with pytest.raises(KeyError, match="unknown profile"):
        get_profile("huge")


def test_a_profile_sets_one_systems_learning_rate_and_the_user_still_wins():
    offline = get_profile("offline")
    assert ExperimentConfig.from_profile("offline", system="ours").lr == offline.lr == 3e-3
    assert ExperimentConfig.from_profile("offline", system="ours_whisper").lr == 1e-3  # measured: see profiles
    assert ExperimentConfig.from_profile("offline", system="ours_whisper", lr=5e-4).lr == 5e-4
    assert ExperimentConfig.from_profile("full", system="ours_whisper").lr == get_profile("full").lr  # paper's


def test_cli_train_writes_result_json(smoke_corpus, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["train", "--system", "ours", "--profile", "smoke", "--data-root", smoke_corpus,
                 "--text-model", "tiny-deberta", "--epochs", "1", "--max-frames", "100", "--device", "cpu",
                 "--out", str(out), "--results", str(tmp_path / "results"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "result.json").read_text())
    assert RESULT_KEYS <= set(record)
    assert (out / "model" / "model.json").exists() and (out / "predictions.csv").exists()


def test_cli_train_offline_hub_model_is_a_clear_error(smoke_corpus, tmp_path, capsys):
    code = main(["train", "--profile", "smoke", "--data-root", smoke_corpus, "--text-model", "deberta-v3-base",
                 "--out", str(tmp_path), "--results", str(tmp_path)])
    assert code == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "predict", "transcribe"])
def test_help_explains_every_option(command, capsys):
    import argparse

    from sernb.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[command]
    assert parser.description
    assert all(action.help for action in parser._actions)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "usage: sernb " + command in capsys.readouterr().out


def test_first_model_is_trained_once_for_every_experiment_sharing_the_run(smoke_corpus, tmp_path, monkeypatch):
    one = run(tiny(smoke_corpus, system="audio_only", seeds=(0, 1)), results_dir=tmp_path)  # no model kept
    model, info, folder = experiments.first_model(one, tiny(smoke_corpus, system="audio_only", seeds=(0, 1)))
    assert folder.is_dir() and info["labels"] == one.labels
    monkeypatch.setattr(experiments, "fit", lambda *a, **k: pytest.fail("the kept model was trained again"))
    other = run(tiny(smoke_corpus, system="audio_only", seeds=(0,)), results_dir=tmp_path)
    assert experiments.first_model(other, tiny(smoke_corpus, system="audio_only", seeds=(0,)))[2] == folder
