"""Table 1 systems (BLSTM+DCNN, Wav2Vec2.0, COGMEN) and the table itself, on the smoke corpus."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import sernb.data.splits as splits
import sernb.experiments as experiments
from sernb.cli import main
from sernb.experiments import ExperimentConfig, load_corpus, run
from sernb.models.blstm_dcnn import DeepCNN, MaskedBiLSTM
from sernb.models.cogmen import COGMEN, dialog_edges
from sernb.models.text import OfflineModelError
from sernb.models.wav2vec import resolve_audio_model
from sernb.table1 import PAPER_TABLE1, RUN_COLUMNS, SYSTEMS, load, table1
from sernb.utils import data_home


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One results cache for the module: table1 reuses the runs of the per-system tests."""
    return tmp_path_factory.mktemp("table1-results")


#: What `sernb table1` can also say, so the CLI test finds every run in the cache.
SETTINGS = {"text_model": "tiny-deberta", "epochs": 1, "progress": False, "device": "cpu"}


def tiny(smoke_corpus, system, **kw) -> ExperimentConfig:
    return ExperimentConfig.from_profile("smoke", system=system, data_root=smoke_corpus, **{**SETTINGS, **kw})


def check_result(result) -> None:
    run_record = result.record["runs"][0]
    assert result.record["n_runs"] == 1
    assert all(0 <= result.record[k] <= 1 for k in ("accuracy", "weighted_f1", "balanced_accuracy", "macro_f1"))
    assert len(result.predictions) == run_record["n_test"] > 0
    assert np.allclose(result.predictions.filter(like="p_").sum(1), 1, atol=1e-4)


# ------------------------------------------------------------------------------- BLSTM+DCNN

def test_blstm_and_dcnn_ignore_padding():
    torch.manual_seed(0)
    rnn, cnn = MaskedBiLSTM(8, 4).eval(), DeepCNN(8, channels=(6, 6)).eval()
    x = torch.randn(1, 5, 8)
    padded = torch.cat([x, torch.randn(1, 3, 8)], 1)
    short, long = torch.ones(1, 5, dtype=torch.bool), torch.tensor([[True] * 5 + [False] * 3])
    assert torch.allclose(rnn(x, short), rnn(padded, long)[:, :5], atol=1e-6)
    assert torch.allclose(cnn(x, short), cnn(padded, long), atol=1e-5)


def test_blstm_dcnn_trains_and_evaluates(smoke_corpus, results):
    check_result(run(tiny(smoke_corpus, "blstm_dcnn"), results_dir=results))


# ------------------------------------------------------------------------------- COGMEN

def test_dialog_edges_window_and_relations():
    edges, relation = dialog_edges(torch.tensor([0, 1, 0, 1]), window=1, max_speakers=2)
    pairs = {(int(s), int(t)): int(r) for (s, t), r in zip(edges.T.tolist(), relation, strict=True)}
    assert set(pairs) == {(1, 0), (0, 1), (2, 1), (1, 2), (3, 2), (2, 3)}  # neighbours only, no self loops
    assert pairs[(0, 1)] == (0 * 2 + 1) * 2 + 0  # speaker 0 -> speaker 1, source in the past
    assert pairs[(1, 0)] == (1 * 2 + 0) * 2 + 1  # speaker 1 -> speaker 0, source in the future


def test_cogmen_context_window_equals_whole_dialog():
    """Two layers of radius w see 2w turns: the cut-out context gives the whole dialog's logits."""
    torch.manual_seed(0)
    model = COGMEN(n_classes=6, text_model="tiny-deberta", window=2).eval()
    n, target, radius = 12, 6, model.context_radius
    nodes = torch.randn(1, n, 80 + model.text.backbone_dim)
    speakers = torch.tensor([[i % 2 for i in range(n)]])

    def logits(lo: int, hi: int) -> torch.Tensor:
        batch = {"dialog_nodes": nodes[:, lo:hi], "dialog_nodes_mask": torch.ones(1, hi - lo, dtype=torch.bool),
                 "dialog_speaker": speakers[:, lo:hi], "dialog_target": torch.tensor([[target - lo]])}
        return model(batch)["logits"]

    assert torch.allclose(logits(0, n), logits(target - radius, target + radius + 1), atol=1e-5)
    assert not torch.allclose(logits(0, n), logits(target - 1, target + 2), atol=1e-5)  # context matters


def test_cogmen_trains_on_whole_dialog_folds(smoke_corpus, results, monkeypatch):
    calls = []
    real = splits.make_folds

    def spy(table, protocol, seed=0, **kwargs):
        calls.append(kwargs)
        folds = real(table, protocol, seed=seed, **kwargs)
        for fold in folds:
            dialogs = [set(table["dialog"].iloc[fold.parts()[p]]) for p in ("train", "val", "test")]
            assert not (dialogs[0] & dialogs[2]) and not (dialogs[0] & dialogs[1]) and not (dialogs[1] & dialogs[2])
        return folds

    monkeypatch.setattr(splits, "make_folds", spy)
    check_result(run(tiny(smoke_corpus, "cogmen"), results_dir=results))
    assert calls == [{"keep_dialogs": True}]


# ------------------------------------------------------------------------------- Wav2Vec2.0

def test_speech_encoder_offline_fails_fast_with_the_fix():
    with pytest.raises(OfflineModelError, match="--audio-model"):
        resolve_audio_model("wav2vec2-base")
    with pytest.raises(FileNotFoundError):
        resolve_audio_model("/no/such/wav2vec2")


@pytest.mark.parametrize("finetune", [False, True])
def test_wav2vec2_tiny_trains_frozen_and_finetuned(smoke_corpus, tmp_path, finetune):
    options = {"audio_model": "tiny-wav2vec2", "max_seconds": 0.5, "finetune": finetune}
    config = tiny(smoke_corpus, "wav2vec2", model_options=options)
    check_result(run(config, results_dir=tmp_path))
    if not finetune:  # pooled states of the frozen encoder are computed once per clip, kept on disk
        from sernb.models import build_model

        # this model's own folder: other tests (hub-layout stand-ins) cache their states alongside
        fingerprint = build_model("wav2vec2", audio_model="tiny-wav2vec2", max_seconds=0.5).fingerprint()
        cached = list((data_home() / "cache" / "ssl_states" / fingerprint).glob("*.npy"))
        assert len(cached) == len(load_corpus(config))
        assert np.load(cached[0]).shape == (3, 32)  # (CNN output + 2 layers, hidden)


# ------------------------------------------------------------------------------- the table

def test_table1_writes_every_row_and_marks_wav2vec2_not_run(smoke_corpus, results, tmp_path):
    frame = table1(profile="smoke", protocol="random", seeds=1, out=tmp_path, results_dir=results,
                   data_root=smoke_corpus, **SETTINGS)
    saved = pd.read_csv(tmp_path / "table1.csv")
    assert list(saved["system"]) == list(SYSTEMS) == list(frame["system"])
    assert set(PAPER_TABLE1) <= set(SYSTEMS)  # plus the Whisper rows beyond the paper
    rows = saved.set_index("system")
    assert rows.loc["wav2vec2", "status"].startswith("not run:") and "--audio-model" in rows.loc["wav2vec2", "status"]
    assert np.isnan(rows.loc["wav2vec2", "accuracy"])
    ran = rows.drop(index="wav2vec2")
    assert (ran["status"] == "ran").all() and ran["accuracy"].between(0, 100).all()
    assert (ran["n_runs"] == 1).all() and (ran["params_m"] > 0).all()
    best, epochs = rows.loc["ours", "best_epochs"].split("/")  # one run: "<best>/<epochs run>"
    assert 1 <= int(best) <= int(epochs)
    assert "UNTRAINED" in rows.loc["ours", "text_encoder"] and "fine-tuned" in rows.loc["ours", "text_encoder"]
    assert "frozen" in rows.loc["cogmen", "text_encoder"]
    assert rows.loc["ours", "paper_reported_accuracy"] == 83.5 and rows.loc["cogmen", "paper_reported_f1"] == 76.5
    assert rows.loc["wav2vec2", "paper_reported_params_m"] == 94.4
    # the smoke profile fine-tunes only the text encoder's top layers: only those count as trainable
    assert rows.loc["ours", "trainable_params_m"] < rows.loc["ours", "params_m"]
    assert {"weighted_f1", "weighted_f1_std", "balanced_accuracy", "macro_f1", "text_encoder",
            "audio_encoder"} <= set(saved.columns)
    # beside it, every run behind the means, and where the numbers come from
    stored = load(tmp_path)
    assert list(stored.runs.columns) == list(RUN_COLUMNS)
    assert sorted(stored.runs["system"]) == sorted(ran.index)  # one seed, one fold: one run per system
    ours = stored.runs.set_index("system").loc["ours"]
    assert 100 * ours["accuracy"] == pytest.approx(rows.loc["ours", "accuracy"], abs=0.01)
    assert f"{ours['best_epoch']}/{ours['epochs_run']}" == rows.loc["ours", "best_epochs"]
    assert stored.provenance.startswith("Provenance:") and ours["code_fingerprint"] in stored.provenance


def test_load_names_the_missing_file(tmp_path):
    pd.DataFrame({"system": ["ours"]}).to_csv(tmp_path / "table1.csv", index=False)
    with pytest.raises(FileNotFoundError, match="table1_runs.csv, provenance.txt"):
        load(tmp_path)


def test_table1_cli_reuses_cached_runs(smoke_corpus, results, tmp_path, monkeypatch, capsys):
    table1(profile="smoke", protocol="random", seeds=1, out=tmp_path, results_dir=results,
           data_root=smoke_corpus, **SETTINGS)  # the same runs as above: cached, or trained once here
    monkeypatch.setattr(experiments, "fit", lambda *a, **k: pytest.fail("a cached Table 1 row was retrained"))
    code = main(["table1", "--profile", "smoke", "--protocol", "random", "--seeds", "1", "--out", str(tmp_path / "cli"),
                 "--results", str(results), "--data-root", smoke_corpus, "--text-model", "tiny-deberta",
                 "--epochs", "1", "--device", "cpu", "--no-progress"])
    assert code == 0
    assert len(pd.read_csv(tmp_path / "cli" / "table1.csv")) == len(SYSTEMS)
    assert "not run" in capsys.readouterr().out
