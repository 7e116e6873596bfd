"""``sernb.compare``: paper-vs-ours frames, rank agreement, protocol gaps, on hand-made inputs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sernb import compare


def _table1() -> pd.DataFrame:
    """Three Table 1 rows as sernb.table1.table1 writes them: two ran, one did not."""
    return pd.DataFrame({
        "system": ["baseline", "wav2vec2", "ours"],
        "paper_name": ["Baseline", "Wav2Vec2.0", "Ours"],
        "text_encoder": ["MiniLM (frozen)", "-", "MiniLM (fine-tuned)"],
        "audio_encoder": ["mean", "wav2vec2-base", "BiLSTM"],
        "status": ["ran", "not run: no pretrained speech weights offline", "ran"],
        "accuracy": [60.0, np.nan, 75.5], "accuracy_std": [1.0, np.nan, 0.5],
        "macro_f1": [55.0, np.nan, 70.25], "macro_f1_std": [2.0, np.nan, 0.25],
        "n_runs": [3, 0, 3], "params_m": [22.9, np.nan, 24.1],
        "paper_reported_accuracy": [64.4, 45.46, 83.5], "paper_reported_f1": [61.2, 42.3, 82.1],
        "paper_reported_params_m": [18.3, 94.4, 27.6],
    })


def test_mean_std_formats_and_marks_missing():
    assert compare.mean_std(83.456, 1.234) == "83.5 ± 1.2"
    assert compare.mean_std(float("nan"), float("nan")) == "–"
    assert compare.mean_std(50.0, float("nan"), digits=0) == "50"


def test_paper_vs_ours_keeps_paper_numbers_apart_and_marks_not_run():
    frame = compare.paper_vs_ours(_table1())
    assert list(frame.index) == ["Baseline", "Wav2Vec2.0", "Ours"]
    assert frame.loc["Ours", "accuracy (ours)"] == "75.5 ± 0.5"
    assert frame.loc["Wav2Vec2.0", "accuracy (ours)"] == "–"
    assert frame.loc["Wav2Vec2.0", "status"] == "not run"
    assert frame.loc["Wav2Vec2.0", "accuracy (paper reported)"] == 45.46
    assert compare.not_run_reasons(_table1()) == {"Wav2Vec2.0": "no pretrained speech weights offline"}


def test_single_run_shows_no_std():
    one = _table1().assign(n_runs=[1, 0, 3])
    frame = compare.paper_vs_ours(one)
    assert frame.loc["Baseline", "accuracy (ours)"] == "60.0"
    long = compare.paper_vs_ours_long(one)
    assert long[long["source"] == "ours"]["error"].isna().tolist() == [True, False]


def test_paper_vs_ours_names_missing_columns():
    with pytest.raises(KeyError, match="accuracy_std"):
        compare.paper_vs_ours(_table1().drop(columns="accuracy_std"))


def test_long_frame_has_no_bar_for_rows_that_did_not_run():
    long = compare.paper_vs_ours_long(_table1())
    assert len(long) == 3 + 2
    ours = long[long["source"] == "ours"]
    assert list(ours["model"]) == ["Baseline", "Ours"]
    assert ours["error"].tolist() == [1.0, 0.5]


def test_rank_agreement_identical_order():
    out = compare.rank_agreement({"a": 1, "b": 2, "c": 3}, {"a": 10, "b": 20, "c": 30})
    assert out["n"] == 3 and out["spearman"] == pytest.approx(1.0) and out["kendall"] == pytest.approx(1.0)
    assert out["discordant"] == [] and out["order_ours"] == ["c", "b", "a"]


def test_rank_agreement_reversed_and_nan_rows_dropped():
    ours = {"a": 3, "b": 2, "c": 1, "d": float("nan")}
    paper = {"a": 1, "b": 2, "c": 3, "d": 99}
    out = compare.rank_agreement(ours, paper)
    assert out["n"] == 3 and out["systems"] == ["a", "b", "c"]
    assert out["spearman"] == pytest.approx(-1.0)
    assert sorted(out["discordant"]) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_rank_agreement_one_swap_and_too_few_systems():
    out = compare.rank_agreement({"a": 1, "b": 3, "c": 2, "d": 4}, {"a": 1, "b": 2, "c": 3, "d": 4})
    assert out["discordant"] == [("b", "c")]
    assert out["spearman"] == pytest.approx(0.8)
    two = compare.rank_agreement({"a": 1, "b": 2}, {"a": 2, "b": 1})
    assert math.isnan(two["spearman"]) and two["discordant"] == [("a", "b")]


def test_grouped_bars_omit_missing_values():
    long = compare.paper_vs_ours_long(_table1())
    fig = compare.grouped_bars(long, "model", "value", "source", "error", title="t")
    counts = {trace.name: len(trace.x) for trace in fig.data}
    assert counts == {"paper reported (IEMOCAP)": 3, "ours": 2}


def _runs() -> pd.DataFrame:
    rows = []
    for system, random_acc, loso_acc in (("audio_only", [0.8, 0.7], [0.5, 0.6, 0.7]), ("ours", [0.9], [0.8, 0.8])):
        rows += [{"system": system, "protocol": "random", "fold": "random", "seed": i, "accuracy": a}
                 for i, a in enumerate(random_acc)]
        rows += [{"system": system, "protocol": "loso", "fold": f"session-{i + 1}", "seed": 0, "accuracy": a}
                 for i, a in enumerate(loso_acc)]
    return pd.DataFrame(rows)


def test_protocol_gap_in_points():
    gap = compare.protocol_gap(_runs())
    assert list(gap.index) == ["audio_only", "ours"]
    assert gap.loc["audio_only", "random mean"] == pytest.approx(75.0)
    assert gap.loc["audio_only", "random std"] == pytest.approx(5.0)  # ddof=0
    assert gap.loc["audio_only", "loso mean"] == pytest.approx(60.0)
    assert gap.loc["audio_only", "gap (points)"] == pytest.approx(15.0)
    assert gap.loc["ours", "gap (points)"] == pytest.approx(10.0)
    assert gap.loc["ours", "loso runs"] == 2


def test_protocol_gap_names_a_missing_protocol():
    with pytest.raises(ValueError, match="loso"):
        compare.protocol_gap(_runs().query("protocol == 'random'"))


def test_per_fold_means_over_seeds():
    runs = pd.DataFrame({"system": "s", "fold": ["f1", "f1", "f2"], "seed": [0, 1, 0],
                         "accuracy": [0.5, 0.7, 0.9]})
    out = compare.per_fold(runs).set_index("fold")
    assert out.loc["f1", "mean"] == pytest.approx(60.0) and out.loc["f1", "runs"] == 2
    assert out.loc["f2", "std"] == pytest.approx(0.0)


def test_runs_frame_tags_each_run():
    record = {"system": "ours", "config": {"protocol": "loso", "classes": 4}}
    runs = pd.DataFrame({"fold": ["session-1", "session-2"], "seed": [0, 0], "accuracy": [0.5, 0.6],
                         "macro_f1": [0.4, 0.5], "seconds": [1.0, 2.0]})
    fake = SimpleNamespace(record=record, config=record["config"], runs=runs)
    out = compare.runs_frame([fake], variant="x")
    assert list(out.columns[:3]) == ["system", "protocol", "classes"]
    assert out["classes"].tolist() == [4, 4] and out["variant"].tolist() == ["x", "x"]
    assert "seconds" not in out


def test_dialog_overlap():
    table = pd.DataFrame({"dialog": ["d1", "d1", "d2", "d2", "d3"]})
    fold = SimpleNamespace(name="f", train=np.array([0, 2]), val=np.array([], dtype=int), test=np.array([1, 3, 4]))
    out = compare.dialog_overlap(table, [fold]).loc["f"]
    assert out["test dialogs"] == 3 and out["test dialogs also in training"] == 2
    assert out["test utterances from such dialogs"] == pytest.approx(2 / 3)


def test_paper_table3_frame_and_ratio():
    report = {"environment": {"device_name": "Some CPU"},
              "paper_table3": {"ours": {"ms_per_sample": 22.6, "memory_gb": 3.1, "device": "NVIDIA P5000"},
                               "cogmen": {"ms_per_sample": 38.2, "memory_gb": 4.7, "device": "NVIDIA P5000"}}}
    systems = pd.DataFrame({"system": ["ours", "cogmen"], "status": ["ok", "skipped"],
                            "latency_ms_b1": [10.0, np.nan], "ms_per_sample_batched": [2.0, np.nan],
                            "memory_mb": [900.0, np.nan]})
    out = compare.paper_table3_frame(report, systems)
    assert out.loc["ours", "ms/sample, batch 1 (ours)"] == 10.0
    assert math.isnan(out.loc["cogmen", "ms/sample, batch 1 (ours)"])
    assert out.loc["cogmen", "ms/sample (paper reported)"] == 38.2
    assert compare.ratio_of(systems, "latency_ms_b1", "ours", "ours") == 1.0
    assert math.isnan(compare.ratio_of(systems, "latency_ms_b1", "ours", "missing"))


def test_scores_table_mean_std_per_label_set():
    runs = pd.DataFrame({"system": ["ours"] * 4 + ["baseline"] * 2, "classes": [6, 6, 4, 4, 6, 6],
                         "accuracy": [0.6, 0.8, 0.9, 0.9, 0.5, 0.5], "balanced_accuracy": [0.5, 0.7, 0.8, 0.8, 0.4, 0.4],
                         "macro_f1": [0.5] * 6, "weighted_f1": [0.6] * 6})
    table = compare.scores_table(runs)
    assert list(table.index) == ["ours", "baseline"]  # the runs' order, not alphabetical
    assert table.loc["ours", (6, "WA")] == "70.0 ± 10.0" and table.loc["ours", (6, "UA")] == "60.0 ± 10.0"
    assert table.loc["ours", (4, "WA")] == "90.0 ± 0.0" and table.loc["ours", (6, "runs")] == 2
    assert pd.isna(table.loc["baseline", (4, "UA")])  # never run with 4 classes: empty, not zero
