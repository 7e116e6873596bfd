"""Execute every chapter of the book on the smoke profile with nbval, one test per chapter.

nbval runs .ipynb files and cannot inject parameters, so each chapter is converted from its
py:percent source with jupytext, parameterised with papermill (``PROFILE = "smoke"``, injected
after the chapter's ``parameters`` cell exactly as ``sernb reproduce`` does) and written to a
temporary folder; ``pytest --nbval-lax`` then runs it in a subprocess, so a failing chapter
names itself and shows nbval's report. ``--nbval-lax`` checks that every cell runs; output is
compared only for cells tagged ``nbval-check-output`` (none so far: the committed notebooks
carry no outputs to compare against).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sernb.reproduce import chapter_notebook, list_chapters

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = list_chapters(BOOK)
SMOKE = {"PROFILE": "smoke", "DATA_ROOT": None, "DEVICE": "cpu"}
#: Per chapter, generous for a 2-core CI machine; a smoke chapter should take well under a minute.
TIMEOUT_S = 600


def parameterised_copy(chapter: Path, folder: Path, parameters: dict) -> Path:
    """The chapter as an .ipynb with ``parameters`` injected after its parameters cell."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(chapter_notebook(chapter))  # adds the metadata papermill expects
    nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    target = folder / f"{chapter.stem}.ipynb"
    nbformat.write(nb, target)
    return target


def run_with_nbval(notebook: Path, folder: Path, label: str) -> None:
    """Run ``notebook`` under ``pytest --nbval-lax`` in a subprocess; fail with nbval's report."""
    # os.environ holds this session's temporary SERNB_DATA and SERNB_RESULTS (tests/conftest.py):
    # the chapter never reads or writes the checkout's data/ or runs/
    assert "SERNB_DATA" in os.environ and "SERNB_RESULTS" in os.environ
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TQDM_DISABLE": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "--color=no",
               f"--nbval-cell-timeout={TIMEOUT_S}", "-p", "no:cacheprovider", "-q",
               "-W", "ignore::DeprecationWarning", str(notebook)]
    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S + 60, check=False)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # kernel tracebacks are coloured
    tail = "\n".join(output.strip().splitlines()[-60:])
    assert proc.returncode == 0, f"{label} failed (nbval):\n{tail}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_on_smoke_profile(chapter: Path, tmp_path: Path):
    run_with_nbval(parameterised_copy(chapter, tmp_path, SMOKE), tmp_path, f"{chapter.name} on the smoke profile")


#: Chapter "Real speech" on a small corpus in each free layout, with the systems that show each
#: path: trained, refused for want of audio (MELD's CSVs) or for words that carry no emotion.
REAL_LAYOUTS = {"ravdess": ["audio_only", "text_only", "whisper_audio"], "cremad": ["text_only"],
                "meld_csv": ["text_only", "audio_only"], "folder": ["audio_only"]}


@pytest.mark.slow
@pytest.mark.parametrize("layout", list(REAL_LAYOUTS))
def test_real_speech_chapter_on_each_layout(layout: str, tmp_path: Path, smoke_corpus):
    from sernb.data import load
    from tests.fixtures import relayout

    root = relayout(load("synthetic", smoke_corpus), tmp_path / layout, layout)
    chapter = BOOK / "11_real_speech.py"
    params = {**SMOKE, "REAL_ROOT": str(root), "SYSTEMS": REAL_LAYOUTS[layout],
              "PROTOCOL": "official" if layout == "meld_csv" else "random",  # one fold each; test_corpora
              # runs the speaker-independent protocols through `sernb train`
              # one audio variant on one layout is enough to run that section's code
              "AUDIO_VARIANTS": {"per-speaker normalisation": {"mfcc_norm": "speaker"}} if layout == "ravdess" else {},
              "WHISPER_VARIANTS": {"standardised per speaker": {"state_norm": "speaker"}}}
    run_with_nbval(parameterised_copy(chapter, tmp_path, params), tmp_path, f"{chapter.name} on a {layout} fixture")


#: The chapters with a cue-corpus section (issue 15), run again on the smoke cue corpus.
CUE_CHAPTERS = [BOOK / "04_ablation.py", BOOK / "07_attention.py"]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CUE_CHAPTERS, ids=[p.stem for p in CUE_CHAPTERS])
def test_cue_chapter_runs_on_the_smoke_cue_corpus(chapter: Path, tmp_path: Path):
    params = {**SMOKE, "SYNTH_CUES": True}
    run_with_nbval(parameterised_copy(chapter, tmp_path, params), tmp_path, f"{chapter.name} on the smoke cue corpus")
