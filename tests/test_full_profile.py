"""The researcher's path, ``make book PROFILE=full DATA_ROOT=... TEXT_MODEL=... AUDIO_MODEL=...``,
at smoke size on every CI run (issue 12).

``sernb reproduce --profile full-smoke`` runs the full profile's code paths (an IEMOCAP-format
data root, leave-one-session-out, a DeBERTa-v3 folder in the hub's layout as the text encoder, a
wav2vec2 folder as the Wav2Vec2.0 row) with one seed and one epoch. The smoke corpus is written in
the IEMOCAP layout, and the model folders are the tiny stand-ins of tests/conftest.py. Every built
page must say that its numbers come from stand-in models.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from sernb import reproduce as rp
from sernb.cli import main
from sernb.profiles import get_profile

CHAPTERS = ["01", "02", "03", "05"]  # data (IEMOCAP loader), training (LOSO), Table 1 (every row), overfitting


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, smoke_corpus, deberta_folder, wav2vec2_folders):
    root = tmp_path_factory.mktemp("fullbook")
    report = rp.reproduce(profile="full-smoke", data_root=smoke_corpus, device="cpu", chapters=CHAPTERS,
                          text_model=deberta_folder, audio_model=wav2vec2_folders["bin"], runs_dir=root / "runs",
                          build_dir=root / "site", progress=False)
    return root, report


def test_full_smoke_keeps_the_full_profiles_code_paths():
    full, small = get_profile("full"), get_profile("full-smoke")
    assert (small.corpus, small.protocol, small.text_model) == (full.corpus, full.protocol, full.text_model)
    assert small.seeds == (0,) and small.epochs == 1


@pytest.mark.slow
def test_every_chapter_runs_with_the_model_folders(full_run, deberta_folder, wav2vec2_folders):
    root, report = full_run
    assert [c.chapter for c in report.chapters] == ["01_data", "02_training", "03_table1", "05_overfitting"]
    assert all(c.ok for c in report.chapters), rp.summary(report)
    for chapter in report.chapters:
        nb = nbformat.read(root / "runs" / "full-smoke" / f"{chapter.chapter}.ipynb", as_version=4)
        injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        assert f'TEXT_MODEL = "{deberta_folder}"' in injected.source
        assert f'AUDIO_MODEL = "{wav2vec2_folders["bin"]}"' in injected.source
    printed = _printed(root / "runs" / "full-smoke" / "02_training.ipynb")
    assert "'loso'" in printed or "loso" in printed
    assert "deberta-v3-base" in printed  # the folder, not MiniLM, was the text encoder


@pytest.mark.slow
def test_table1_ran_every_row_with_the_stand_ins(full_run):
    root, _ = full_run
    import pandas as pd

    frame = pd.read_csv(rp.PROJECT_ROOT / "runs" / "full-smoke" / "table1" / "table1.csv")
    assert frame["status"].str.startswith("ran").all(), frame[["paper_name", "status"]].to_string()
    assert (frame["protocol"] == "loso").all()
    assert frame.loc[frame["system"] == "wav2vec2", "audio_encoder"].str.contains("UNTRAINED").all()


@pytest.mark.slow
def test_every_built_page_says_the_models_are_stand_ins(full_run):
    root, report = full_run
    assert report.book_error is None, report.book_error
    html = root / "site" / "_build" / "html"
    pages = [html / f"{c.chapter}.html" for c in report.chapters] + [html / "intro.html"]
    for page in pages:
        assert "STAND-IN MODELS" in page.read_text(encoding="utf-8"), page.name


def test_reproduce_cli_refuses_a_missing_model_folder(tmp_path, capsys):
    code = main(["reproduce", "--profile", "full-smoke", "--data-root", str(tmp_path), "--text-model",
                 str(tmp_path / "no-such-folder"), "--no-build", "--chapters", "01"])
    assert code == 2
    assert "no-such-folder" in capsys.readouterr().err


def test_parameters_pass_model_folders_as_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "deberta").mkdir()
    monkeypatch.chdir(tmp_path)
    params = rp.parameters("full", None, "cpu", text_model="deberta", audio_model="wav2vec2-base")
    assert params["TEXT_MODEL"] == str(tmp_path / "deberta") and params["AUDIO_MODEL"] == "wav2vec2-base"
    assert rp.parameters("offline")["TEXT_MODEL"] is None


def _printed(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return json.dumps([o.get("text", "") for c in nb.cells for o in c.get("outputs", [])])
