"""Stored results are keyed on the code that made them (sernb.fingerprint), not on a version string.

Each case edits a copy of the package in a temporary folder and computes the fingerprint in a
fresh interpreter: a docstring or comment edit, or an edit to a module no run imports (the
figures), keeps every stored result; an edit to the training loop does not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sernb
from sernb import fingerprint as fp

PACKAGE = Path(sernb.__file__).resolve().parent


def _fingerprint_of_copy(tmp_path: Path, edit=None) -> str:
    root = tmp_path / "copy"
    if not root.exists():
        shutil.copytree(PACKAGE, root / "sernb", ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        edit(root / "sernb")
    code = "from sernb.fingerprint import code_fingerprint; print(code_fingerprint())"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env={"PYTHONPATH": str(root)},
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def _append(relative: str, text: str):
    def edit(package: Path) -> None:
        path = package / relative
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return edit


def _replace_docstring(package: Path) -> None:
    path = package / "train.py"
    source = path.read_text(encoding="utf-8")
    first = source.index('"""')
    path.write_text(source[:first + 3] + "Reworded docstring. " + source[first + 3:], encoding="utf-8")


def test_the_copy_has_the_checkouts_fingerprint(tmp_path: Path):
    assert _fingerprint_of_copy(tmp_path) == fp.code_fingerprint()


@pytest.mark.parametrize("edit, changes", [
    (_replace_docstring, False),
    (_append("train.py", "\n# a comment only\n"), False),
    (_append("viz.py", "\nFIGURE_ONLY = 1\n"), False),  # figures: no stored run imports them
    (_append("train.py", "\nNEW_CONSTANT = 1\n"), True),  # the training loop
    (_append("data/features.py", "\ndef helper():\n    return 2\n"), True),  # the features
], ids=["docstring", "comment", "figures-module", "training-loop", "features"])
def test_only_code_that_runs_changes_the_fingerprint(tmp_path: Path, edit, changes: bool):
    before = fp.code_fingerprint()
    after = _fingerprint_of_copy(tmp_path, edit)
    assert (after != before) is changes


def test_dependencies_cover_the_model_training_and_features_but_not_the_figures():
    deps = fp.dependencies("sernb.experiments")
    for module in ("sernb.train", "sernb.models.ser", "sernb.data.features", "sernb.metrics"):
        assert module in deps
    assert "sernb.viz" not in deps and "sernb.reproduce" not in deps


def test_experiment_key_follows_the_code(monkeypatch):
    import pandas as pd

    from sernb import experiments

    config = experiments.ExperimentConfig.from_profile("smoke")
    table = pd.DataFrame({"utt_id": ["a"], "label": ["neu"], "text": ["hi"]})
    key = experiments.experiment_key(config, table)
    monkeypatch.setattr(experiments, "code_fingerprint", lambda: "0123456789ab")
    assert experiments.experiment_key(config, table) != key


def test_provenance_line_names_code_commit_device_and_corpus(tmp_path: Path):
    from sernb import experiments

    record = {"n_runs": 3, "meta": {"code_fingerprint": "abc123def456", "git_commit": "1234567",
                                    "device": "cpu (2 threads, x86_64)", "synthetic": True,
                                    "data_root": "/x/data/synth/default-cues",
                                    "created": "2026-11-30T12:00:00+0000"}}
    line = experiments.provenance_line([experiments.Result("k", record, tmp_path)] * 2)
    for part in ("2 stored result(s), 6 run(s)", "code abc123def456", "git 1234567", "cpu (2 threads",
                 "corpus SYNTHETIC (default-cues)", "2026-11-30", f"this code: {fp.code_fingerprint()}"):
        assert part in line, (part, line)
