"""The library's shape: one registry whatever is imported first, settings declared once, module
docstrings, and chapter references that name real chapters."""

from __future__ import annotations

import ast
import json
import pkgutil
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path

import pytest

import sernb
from sernb.cli import build_parser, main
from sernb.experiments import ExperimentConfig
from sernb.profiles import (
    NONE,
    PROFILES,
    Profile,
    RunSettings,
    TrainingSettings,
    get_profile,
    setting_names,
)
from sernb.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
PUBLIC_MODULES = sorted(m.name for m in pkgutil.walk_packages(sernb.__path__, "sernb.")
                        if not m.name.rsplit(".", 1)[-1].startswith("_"))
SOURCES = sorted((ROOT / "sernb").rglob("*.py"))

# ------------------------------------------------------------------ the registry


def _systems_after_importing(module: str) -> list[str]:
    code = (f"import {module}\nimport json\nimport sernb.models.registry as registry\n"
            "print(json.dumps(registry.system_names()))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, f"import {module} failed:\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_every_module_imported_alone_sees_every_system():
    """Each public module imported first, in a fresh interpreter: the same list of systems."""
    expected = _systems_after_importing("sernb.models")
    assert {"ours", "baseline", "blstm_dcnn", "cogmen", "wav2vec2", "text_only"} <= set(expected)
    with ThreadPoolExecutor(max_workers=2) as pool:
        seen = dict(zip(PUBLIC_MODULES, pool.map(_systems_after_importing, PUBLIC_MODULES), strict=True))
    wrong = {m: names for m, names in seen.items() if names != expected}
    assert not wrong, f"expected {expected}, got {wrong}"


def test_no_module_imports_the_experiments_back_from_models():
    """Systems and their input providers live in sernb.models; nothing there imports sernb.experiments."""
    for path in (ROOT / "sernb" / "models").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert "sernb.experiments" not in imported, path.name


# ------------------------------------------------------------------ settings, declared once


def test_profiles_and_experiments_share_the_settings():
    assert set(setting_names()) <= {f.name for f in fields(ExperimentConfig)}
    assert {f.name for f in fields(Profile)} == {*setting_names(), "name", "cell_timeout", "stall_timeout", "ci_only",
                                                  "system_settings"}  # per-system values of these settings
    from sernb.profiles import PROFILES

    assert all(set(values) <= set(setting_names()) for p in PROFILES.values() for values in p.system_settings.values())
    shared = {f.name for f in fields(TrainConfig)} & set(setting_names())
    assert shared == {f.name for f in fields(TrainingSettings)}
    assert shared == {"epochs", "batch_size", "lr", "lr_text", "patience", "epoch_selection", "selection_metric",
                      "class_weights", "device", "progress"}
    config = ExperimentConfig.from_profile("offline", epochs=3)
    train = config.train_config(seed=1)
    assert all(getattr(train, name) == getattr(config, name) for name in shared) and train.seed == 1
    assert ExperimentConfig().seeds == RunSettings().seeds


def test_none_keeps_the_profile_value_and_NONE_sets_none():
    assert get_profile("offline", max_frames=None).max_frames == PROFILES["offline"].max_frames == 500
    assert get_profile("offline", max_frames=NONE).max_frames is None
    assert get_profile("full", patience=None).patience == 5 and get_profile("full", patience=NONE).patience is None
    config = ExperimentConfig.from_profile("offline", patience=NONE, max_frames=NONE, text_layers=NONE,
                                           epochs=None)
    assert (config.patience, config.max_frames, config.text_layers) == (None, None, None)
    assert config.epochs == PROFILES["offline"].epochs


def test_cli_options_come_from_the_settings_with_their_real_defaults(capsys):
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    options = {a.dest for a in train._actions}  # noqa: SLF001
    cli_settings = {f.name for f in fields(RunSettings) if f.metadata.get("cli", True)}
    assert cli_settings <= options
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "batch size (default: the profile's: smoke/offline 32, full 64)" in text
    assert "(default: the profile's: smoke/offline none, full 5)" in text  # patience
    args = parser.parse_args(["train", "--patience", "none", "--max-frames", "200", "--seeds", "2"])
    from sernb.profiles import settings_from_options

    overrides = settings_from_options(args)
    assert overrides["patience"] is NONE and overrides["max_frames"] == 200 and overrides["seeds"] == (0, 1)
    assert overrides["epochs"] is None
    config = ExperimentConfig.from_profile("offline", **overrides)
    assert config.patience is None and config.seeds == (0, 1) and config.epochs == 6
    for bad in (["--epochs", "none"], ["--seeds", "0"], ["--batch-size", "many"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["train", *bad])


def test_mitigations_are_parsed_once_when_the_config_is_made():
    config = ExperimentConfig(mitigations={"modality_dropout": 0.3, "supcon": 0.1})
    assert config.remedies.modality_dropout == 0.3
    assert config.train_config(0).supcon == 0.1


# ------------------------------------------------------------------ docstrings


def test_every_module_opens_with_a_docstring():
    missing = [str(p.relative_to(ROOT)) for p in SOURCES if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing, f"modules without a docstring: {missing}"


def chapter_titles() -> set[str]:
    """The H1 titles of the chapters in book/_toc.yml, and their short forms ("Table 2")."""
    import yaml

    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc.get("parts", [toc]) for c in part.get("chapters", [])]
    titles = set()
    for name in files:
        match = re.search(r"^# # (.+)$", (BOOK / f"{name}.py").read_text(encoding="utf-8"), re.M)
        assert match, f"{name}.py has no H1 title"
        titles |= {match.group(1).strip(), match.group(1).split(":")[0].strip()}
    return titles


REFERENCE = re.compile(r'[Cc]hapters?\s+("[^"]+"(?:\s*(?:,|and|,\s*and)\s*"[^"]+")*)')


def test_chapter_references_name_real_chapters():
    titles = chapter_titles()
    assert "Training the paper's model" in titles and "Table 2" in titles
    bad, count = [], 0
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in REFERENCE.finditer(text):
            for name in re.findall(r'"([^"]+)"', match.group(1)):
                count += 1
                if " ".join(name.split()) not in titles:
                    line = text[:match.start()].count("\n") + 1
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {name!r}")
    assert count > 10  # the pattern still finds the references
    assert not bad, f"references to chapters that do not exist (titles: {sorted(titles)}):\n" + "\n".join(bad)


def test_one_masked_bilstm_reads_models_saved_with_the_old_names():
    import torch

    from sernb.models.audio import BiLSTMAudio, MaskedBiLSTM
    from sernb.models.blstm_dcnn import MaskedBiLSTM as used_by_blstm_dcnn

    assert used_by_blstm_dcnn is MaskedBiLSTM and issubclass(BiLSTMAudio, MaskedBiLSTM)
    torch.manual_seed(0)
    saved = MaskedBiLSTM(5, 3)
    old = {k.replace("forward_lstm.", "ahead.").replace("backward_lstm.", "back."): v
           for k, v in saved.state_dict().items()}
    loaded = MaskedBiLSTM(5, 3)
    loaded.load_state_dict(old)
    x, mask = torch.randn(2, 4, 5), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(loaded(x, mask), saved(x, mask))
