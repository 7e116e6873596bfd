"""``sernb bench --paper-scale``: its CPU-side code on the smoke corpus with the tiny encoder.

The real measurement (deberta-v3-base-sized, batch 64, 1,000 frames) takes minutes and is run by
hand (data/README.md, chapter "Table 3: efficiency"); here the same function runs at toy sizes, so
its JSON, the estimate's arithmetic and the chapter's table cannot silently break.
"""

from __future__ import annotations

import json

import pytest

from sernb.paperscale import estimate, figures_table, measure


@pytest.fixture(scope="module")
def report(smoke_corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("paperscale") / "paperscale.json"
    out = measure(smoke_corpus, n_steps=1, n_load=16, threads=1, batch_size=4, max_frames=100, max_tokens=16,
                  tiny=True, progress=False, json_path=path)
    return out, path


def test_report_has_measured_and_estimated_figures(report):
    out, path = report
    assert json.loads(path.read_text())["schema"] == "sernb.paperscale/1"
    tr = out["training"]
    assert tr["step_seconds_median"] > 0 and tr["flops_per_step"] > 0 and tr["steps_per_epoch"] >= 1
    assert out["data_loading"]["clips_per_s"] > 0 and out["data_loading"]["batches"] == 4
    assert set(out["profile"]["phases_s"]) == {"forward", "backward", "clip+adamw"}
    est = out["estimate"]
    assert est["h100_step_s"] > 0 and est["h100_study_h"] > est["h100_ours_loso_5_seeds_h"] > 0
    assert any("TFLOP" in line for line in est["arithmetic"])


def test_figures_table_labels_each_figure(report):
    rows = figures_table(report[0])
    assert {r["kind"] for r in rows} >= {"measured here", "estimated"}


def test_estimate_scales_with_utilisation(report):
    out = report[0]
    assert estimate(out, utilisation=0.6)["h100_step_s"] < estimate(out, utilisation=0.3)["h100_step_s"]
