"""Unit tests of the table logic in sernb.curves, on hand-made histories and results (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sernb import curves
from sernb.experiments import Result


def _epoch(epoch: int, loss: float, acc: float, val_loss: float, val_acc: float) -> dict[str, float]:
    return {"epoch": epoch, "loss": loss, "accuracy": acc, "balanced_accuracy": acc, "macro_f1": acc,
            "val_loss": val_loss, "val_accuracy": val_acc, "val_balanced_accuracy": val_acc,
            "val_macro_f1": val_acc, "seconds": 1.0, "cpu_seconds": 2.0, "lr": 1e-3}


HISTORY = {
    "random__seed0": [_epoch(e, 1.0 / e, 0.5 + 0.1 * e, 1.0, 0.5) for e in range(1, 5)],
    "random__seed1": [_epoch(e, 2.0 / e, 0.4 + 0.1 * e, 1.2, 0.4) for e in range(1, 5)],
}


def test_history_frame_is_long_and_splits_train_from_validation():
    frame = curves.history_frame(HISTORY)
    assert list(frame.columns) == ["run", "epoch", "split", "metric", "value"]
    # 2 runs x 4 epochs x 2 splits x 4 metrics; seconds, lr and cpu_seconds are not curves
    assert len(frame) == 2 * 4 * 2 * 4
    assert set(frame["metric"]) == set(curves.CURVE_METRICS)
    row = frame.query("run == 'random__seed1' and epoch == 2 and split == 'validation' and metric == 'loss'")
    assert row["value"].tolist() == [1.2]
    row = frame.query("run == 'random__seed1' and epoch == 2 and split == 'train' and metric == 'loss'")
    assert row["value"].tolist() == [1.0]


def test_overfit_ratio_is_train_over_validation_accuracy():
    frame = curves.overfit_frame(HISTORY)
    assert len(frame) == 8
    row = frame[(frame["run"] == "random__seed0") & (frame["epoch"] == 3)].iloc[0]
    assert row["train_accuracy"] == pytest.approx(0.8)
    assert row["val_accuracy"] == pytest.approx(0.5)
    assert row["overfit_ratio"] == pytest.approx(1.6)


def test_overfit_ratio_of_zero_validation_accuracy_is_nan_not_infinite():
    frame = curves.overfit_frame({"r": [_epoch(1, 1.0, 0.5, 1.0, 0.0)]})
    assert np.isnan(frame["overfit_ratio"].iloc[0])


def test_overfit_ratio_needs_validation():
    history = {"r": [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}]}
    with pytest.raises(ValueError, match="validation"):
        curves.overfit_frame(history)


def test_every_k_epochs_keeps_multiples_and_averages_runs():
    table = curves.every_k_epochs(curves.overfit_frame(HISTORY), k=2)
    assert table["epoch"].tolist() == [2, 4]
    assert table["runs"].tolist() == [2, 2]
    first = table.iloc[0]  # epoch 2: train acc 0.7 and 0.6, val 0.5 and 0.4, in percent
    assert first["train_accuracy"] == pytest.approx(65.0)
    assert first["val_accuracy"] == pytest.approx(45.0)
    assert first["train_loss"] == pytest.approx(0.75)
    assert first["overfit_ratio"] == pytest.approx(round((0.7 / 0.5 + 0.6 / 0.4) / 2, 2))
    with pytest.raises(ValueError):
        curves.every_k_epochs(curves.overfit_frame(HISTORY), k=0)


def test_early_stop_replays_the_trainers_rule():
    scores = [0.3, 0.5, 0.5, 0.4, 0.6, 0.7]
    records = [{"epoch": e, "val_balanced_accuracy": v} for e, v in enumerate(scores, 1)]
    assert curves.early_stop(records, patience=2) == (4, 2)  # epochs 3 and 4 do not beat 0.5
    assert curves.early_stop(records, patience=3) == (6, 6)  # never three bad epochs in a row
    # one-se on 20 rows (one standard error at 0.5: 0.11): epochs 3 and 4 tie with epoch 2's 0.5
    assert curves.early_stop(records, patience=2, selection="one-se", n_val=20) == (4, 4)
    assert curves.early_stop(records, patience=None, selection="one-se", n_val=20) == (6, 6)


@pytest.mark.parametrize("selection", ["best", "one-se", "last"])
def test_early_stop_keeps_the_epoch_the_trainer_keeps(selection):
    import torch

    from sernb.train import _TrainerState

    scores = [0.46, 0.73, 0.71, 0.70, 0.72, 0.72, 0.60]
    records = [{"epoch": e, "val_balanced_accuracy": v} for e, v in enumerate(scores, 1)]
    state = _TrainerState()
    for record in records:
        state.update(record, torch.nn.Linear(1, 1), True, None, len(records), selection, n_val=111)
    assert curves.early_stop(records, None, selection=selection, n_val=111) == (7, state.best_epoch)
    assert state.best_epoch == {"best": 2, "one-se": 6, "last": 7}[selection]


def test_paper_table4_recomputes_its_ratio():
    table = curves.paper_table4()
    assert table["epoch"].tolist() == [5, 10, 15, 20]
    # the printed 1.23 at epoch 5 does not follow from 79.7 / 74.2; the later rows do
    assert table["ratio from its columns"].tolist() == [1.07, 1.13, 1.12, 1.11]


def test_paper_table2_steps_add_up_to_the_papers_gains():
    accuracy = [curves.PAPER_TABLE2[k]["accuracy"] for k in ("baseline", "ablation_lstm",
                                                               "ablation_finetune", "ours")]
    assert np.diff(accuracy).round(1).tolist() == [6.8, 5.6, 6.7]  # Section 4.4 quotes 6.8 and 5.6


def _result(system: str, accuracies: list[float], tmp_path: Path) -> Result:
    labels = ["ang", "fru", "neu", "sad", "exc", "hap"]
    runs = [{"name": f"random__seed{s}", "fold": "random", "seed": s, "accuracy": a, "balanced_accuracy": a,
             "macro_f1": a, "weighted_f1": a, "per_class_f1": {k: a for k in labels}, "best_epoch": 1,
             "epochs_run": 1} for s, a in enumerate(accuracies)]
    confusion = np.diag([5] * 6)
    confusion[4, 5] = 3  # three excitement utterances taken for happiness
    record = {"system": system, "labels": labels, "runs": runs, "n_runs": len(runs),
              "accuracy": float(np.mean(accuracies)), "macro_f1": float(np.mean(accuracies)),
              "std": {"accuracy": float(np.std(accuracies)), "macro_f1": float(np.std(accuracies))},
              "confusion": confusion.tolist(), "history": {},
              "meta": {"synthetic": True, "corpus": "synthetic", "n_utterances": 60, "protocol": "random"}}
    return Result(system, record, tmp_path)


def test_step_gains_are_paired_per_seed(tmp_path: Path):
    results = {"baseline": _result("baseline", [0.5, 0.6], tmp_path),
               "ablation_lstm": _result("ablation_lstm", [0.6, 0.6], tmp_path)}
    gains = curves.step_gains(results, "accuracy")
    row = gains.iloc[0]
    assert row["paired runs"] == 2
    assert row["our gain"] == pytest.approx(5.0)  # (10 + 0) / 2 points
    assert row["our gain std"] == pytest.approx(5.0)
    assert row["paper reported gain"] == pytest.approx(6.8)


def test_ablation_table_puts_paper_numbers_in_their_own_columns(tmp_path: Path):
    table = curves.ablation_table({"ours": _result("ours", [0.8, 0.9], tmp_path)})
    row = table.loc["+Cross-Modal Attention"]
    assert row["accuracy"] == pytest.approx(85.0) and row["accuracy std"] == pytest.approx(5.0)
    assert row["paper reported accuracy"] == 83.5 and row["paper reported F1"] == 82.1


def test_pair_table_reads_confusions_from_the_summed_matrix(tmp_path: Path):
    table = curves.pair_table({"ours": _result("ours", [0.8, 0.9], tmp_path)})
    assert table.loc["ours", "exc predicted as hap"] == f"{3 / 8:.0%}"
    assert table.loc["ours", "hap predicted as exc"] == "0%"
    assert table.loc["ours", "F1 exc"] == "85.0 ± 5.0"


def test_runs_table_adds_mean_and_std_rows(tmp_path: Path):
    table = curves.runs_table(_result("ours", [0.8, 0.9], tmp_path))
    assert table.loc["mean", "accuracy"] == pytest.approx(85.0)
    assert table.loc["std", "accuracy"] == pytest.approx(5.0)
    assert isinstance(table, pd.DataFrame) and len(table) == 4
