"""``sernb.bench`` and ``sernb bench``: the report's shape and sanity, never a timing threshold."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from sernb import bench
from sernb.bench import Timing, fast_path, padded_fraction, speedup, time_call


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One small smoke run with every section switched on (fast paths and the paper-sized model)."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    out = bench.run_benchmarks("smoke", device="cpu", json_path=path, systems=["audio_only", "baseline"],
                               n_utts=12, train_utts=8, batch_size=4, repeats=1, warmup=0,
                               paper_size=True, paper_batch=2)
    return out, path


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_json_schema_matches_returned_report(report):
    out, path = report
    stored = json.loads(path.read_text())
    assert stored["schema"] == bench.SCHEMA
    for key in ("profile", "settings", "environment", "systems", "fast_paths", "preprocessing", "paper_size",
                "seconds", "stage_seconds", "paper_table3"):
        assert key in stored, key
    env = stored["environment"]
    assert env["device"] == "cpu" and env["device_name"] and env["versions"]["torch"]
    assert env["versions"]["transformers"] and env["versions"]["librosa"]
    assert [s["system"] for s in stored["systems"]] == ["audio_only", "baseline"]


def test_system_figures_are_positive_and_finite(report):
    out, _ = report
    for record in out["systems"]:
        assert record["status"] == "ok", record
        for key in ("params_m", "latency_ms_b1", "ms_per_sample_batched", "throughput_utts_per_s",
                    "memory_mb", "train_utts_per_s", "train_epoch_s"):
            assert _positive(record[key]), (record["system"], key, record[key])
        assert "RSS" in record["memory_kind"]


def test_preprocessing_and_fast_paths(report):
    out, _ = report
    pre = out["preprocessing"]
    assert pre["clips"] == 12 and _positive(pre["audio_hours"]) and _positive(pre["hours_per_minute_one_core"])
    paths = {p["name"]: p for p in out["fast_paths"]}
    assert {"mfcc_cache", "mfcc_parallel", "frozen_text_states", "length_bucketing"} <= set(paths)
    for p in paths.values():
        assert p.get("status") != "skipped", p
        assert _positive(p["slow_s"]) and _positive(p["fast_s"])
        assert p["ratio"] == pytest.approx(p["slow_s"] / p["fast_s"])  # the ratio comes from both times
        assert p["slow_timing"]["median_s"] == p["slow_s"] and p["fast_timing"]["median_s"] == p["fast_s"]
    bucketing = paths["length_bucketing"]
    for key in ("random_frame_padding", "bucketed_frame_padding", "random_token_padding", "bucketed_token_padding"):
        assert 0 <= bucketing[key] < 1
    assert _positive(paths["frozen_text_states"]["one_off_encode_s"])
    assert "gpu_note" in out  # no CUDA here: the GPU paths say they were not measured


def test_paper_sized_model_runs_on_cpu_and_is_labelled(report):
    out, _ = report
    paper = out["paper_size"]
    assert paper["random_weights"] is True and "RANDOM" in paper["label"]
    assert 150 < paper["params_m"] < 220  # deberta-v3-base (~184M) + BiLSTM + heads
    assert _positive(paper["latency_ms_b1"]) and _positive(paper["throughput_utts_per_s"])
    assert paper["batch"] == 2


def test_format_report_prints_every_system_and_ratio(report):
    out, _ = report
    text = bench.format_report(out)
    for name in ("audio_only", "baseline", "paper-sized", "mfcc_cache", "frozen_text_states", "22.6 ms"):
        assert name in text


def test_speedup_and_fast_path_record():
    assert speedup(2.0, 0.5) == 4.0
    assert speedup(1.0, 0.0) == math.inf
    with pytest.raises(ValueError):
        speedup(-1.0, 1.0)
    record = fast_path("x", "slow", Timing((3.0, 1.0, 2.0)), "fast", Timing((0.5,)), target=5.0)
    assert record["slow_s"] == 2.0 and record["ratio"] == 4.0 and record["meets_target"] is False


def test_time_call_runs_warmup_then_repeats():
    calls = []
    timing = time_call(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and len(timing.times) == 3 and timing.median >= 0
    with pytest.raises(ValueError):
        time_call(lambda: None, repeats=0)


def test_padded_fraction():
    lengths = [10, 10, 5, 5]
    assert padded_fraction(lengths, [[0, 1], [2, 3]]) == 0.0
    assert padded_fraction(lengths, [[0, 2], [1, 3]]) == pytest.approx(10 / 40)


def test_bench_command_on_smoke(tmp_path, capsys):
    from sernb.cli import main

    path = tmp_path / "out.json"
    code = main(["bench", "--profile", "smoke", "--device", "cpu", "--systems", "audio_only", "--n-utts", "8",
                 "--repeats", "1", "--warmup", "0", "--no-fast-paths", "--json", str(path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "audio_only" in printed and "latency_ms_b1" in printed
    stored = json.loads(path.read_text())
    assert stored["fast_paths"] == [] and stored["systems"][0]["status"] == "ok"


def test_unknown_system_is_a_clear_error(capsys):
    from sernb.cli import main

    assert main(["bench", "--profile", "smoke", "--systems", "nope", "--no-fast-paths"]) == 2
    assert "unknown system 'nope'" in capsys.readouterr().err


def test_scaling_returns_one_row_per_size(tmp_path, monkeypatch):
    path = tmp_path / "scaling.json"
    frame = bench.scaling("smoke", sizes=[4, 8, 12, 16], system="audio_only", device="cpu", json_path=path)
    assert isinstance(frame, pd.DataFrame)
    assert frame["utterances"].tolist() == [4, 8, 12, 16]
    assert (frame[["audio_hours", "preprocess_s", "train_epoch_s"]] > 0).all().all()
    assert frame["audio_hours"].is_monotonic_increasing
    # reuse reads the stored rows back (nothing is timed); other sizes are measured again
    monkeypatch.setattr(bench, "train_epoch_seconds", lambda *a, **k: pytest.fail("timed again"))
    again = bench.scaling("smoke", sizes=[4, 8, 12, 16], system="audio_only", device="cpu", json_path=path,
                          reuse=True)
    pd.testing.assert_frame_equal(again, frame)
    with pytest.raises(pytest.fail.Exception, match="timed again"):
        bench.scaling("smoke", sizes=[4, 8], system="audio_only", device="cpu", json_path=path, reuse=True)


def test_a_stored_report_is_reused_only_for_the_same_settings_and_machine(report, monkeypatch):
    out, path = report
    key = {"settings": out["settings"], "environment": out["environment"]}
    assert bench.stored_measurement(path, key)["reused"] == str(path)
    assert bench.stored_measurement(path, {**key, "settings": {**out["settings"], "repeats": 9}}) is None
    other = {**out["environment"], "device_name": "another CPU"}
    assert bench.stored_measurement(path, {**key, "environment": other}) is None
    assert bench.stored_measurement(path.with_name("missing.json"), key) is None
