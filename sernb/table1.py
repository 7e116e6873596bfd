"""Table 1 of the paper in full: every comparison system on one corpus and protocol.

:func:`table1` runs (or loads, results are cached by config hash) each system with
:func:`sernb.experiments.run` and writes ``<out>/table1.csv``: one row per system with the encoders
that actually ran, our metrics in percent (mean and std over folds x seeds), parameter counts,
a status (``"ran"`` or ``"not run: <why>"``) and the numbers the paper reports, in separate
``paper_reported_*`` columns so they are never mistaken for ours. Beside it go ``table1_runs.csv``
(every fold x seed run, so a reader can recompute any summary or test a difference) and
``provenance.txt`` (code fingerprint, commit, device, date); :func:`load` reads the three back.
A row that cannot run here (no pretrained speech weights offline) says why and which option
provides them; it never gets a number from untrained weights. The shell's ``sernb table1`` calls this.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from sernb import compare, paper
from sernb.errors import CheckpointError, DataError
from sernb.experiments import ExperimentConfig, Result, class_names, provenance_line, run
from sernb.metrics import SCALARS
from sernb.models.registry import build_with_shared
from sernb.models.text import OfflineModelError
from sernb.models.wav2vec import DEFAULT_AUDIO_MODEL, resolve_audio_model
from sernb.utils import atomic_write_text


@dataclass(frozen=True)
class PaperRow:
    """A row of the paper's Table 1 as printed (accuracy and F1 in percent, parameters in millions)."""

    name: str
    accuracy: float
    f1: float
    params_m: float


#: Our system name -> the paper's row, in the paper's order (the numbers live in sernb.paper).
PAPER_TABLE1: dict[str, PaperRow] = {
    system: PaperRow(row["paper name"], row["accuracy"], row["f1"], row["params_m"])
    for system, row in paper.rows(paper.TABLE1).items()
}
#: Rows beyond the paper, placed after the paper row they stand beside: the pretrained speech encoder
#: that runs offline (Whisper tiny.en's encoder, frozen, sernb.models.whisper) next to Wav2Vec2.0, and
#: the paper's model with that encoder as its audio branch next to ours. No paper-reported numbers.
EXTRA_ROWS: dict[str, tuple[str, str]] = {
    "whisper_audio": ("wav2vec2", "Whisper tiny.en encoder (frozen, offline; not in the paper)"),
    "ours_whisper": ("ours", "Ours, Whisper audio branch (not in the paper)"),
}
SYSTEMS: tuple[str, ...] = tuple(
    name for row in PAPER_TABLE1
    for name in (row, *[extra for extra, (after, _) in EXTRA_ROWS.items() if after == row]))
#: Errors that mean "this row cannot run on this machine", reported in the table, not raised
#: (a CheckpointError: the Whisper model folder is missing or damaged).
CANNOT_RUN = (OfflineModelError, FileNotFoundError, OSError, CheckpointError)


def describe_encoders(model: nn.Module) -> dict[str, str]:
    """Which text and audio encoders ``model`` really uses (the table's provenance columns)."""
    if hasattr(model, "encoders"):
        return model.encoders()
    config = getattr(model, "config", None)
    text, audio = "-", "-"
    if getattr(model, "text", None) is not None:
        how = "fine-tuned" if config.finetune_text else "frozen"
        text = f"{model.text.spec.label} ({how})"
    if getattr(model, "audio", None) is not None and getattr(config, "audio_encoder", "mfcc") == "whisper":
        audio = f"{model.audio.whisper.label} -> LayerNorm + linear to {config.hidden}"
    elif getattr(model, "audio", None) is not None:
        audio = "40-d MFCC -> BiLSTM" if config.audio == "bilstm" else "40-d MFCC, mean pooled (linear)"
    return {"text": text, "audio": audio}


def table1(profile: str = "offline", protocol: str | None = None, seeds: int | Sequence[int] | None = None,
           out: str | Path = "runs/table1", *, systems: Sequence[str] = SYSTEMS,
           audio_model: str | None = DEFAULT_AUDIO_MODEL, results_dir: str | Path | None = None,
           force: bool = False, **overrides: Any) -> pd.DataFrame:
    """Run every Table 1 system; write and return ``<out>/table1.csv``.

    ``seeds``: N runs seeds 0..N-1, a sequence is taken as is, None keeps the profile's.
    ``audio_model`` is the speech encoder of the Wav2Vec2.0 row (short name, hub id or folder).
    ``overrides`` are :class:`~sernb.experiments.ExperimentConfig` fields (``text_model``,
    ``epochs``, ``data_root``, ``device``, ...); None values keep the profile's.
    """
    if "model_options" in overrides:
        raise TypeError("table1 runs each system with its own defaults; model_options would apply to all "
                        "six, so run sernb.experiments.run for a variant instead")
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise KeyError(f"not Table 1 systems: {unknown}; choose from {list(SYSTEMS)}")
    if isinstance(seeds, int):
        seeds = tuple(range(seeds))
    audio_model = audio_model or DEFAULT_AUDIO_MODEL  # None (a chapter's default): wav2vec2-base
    results: list = []
    rows = [_row(name, profile, protocol, seeds, audio_model, results_dir, force, overrides, results)
            for name in systems]
    frame = pd.DataFrame(rows)
    frame.attrs["provenance"] = provenance_line(results)  # chapter 3 prints it under the table
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "table1.csv", frame.to_csv(index=False))
    atomic_write_text(folder / RUNS_FILE, runs_table(results).to_csv(index=False))
    atomic_write_text(folder / PROVENANCE_FILE, frame.attrs["provenance"] + "\n")
    return frame


RUNS_FILE = "table1_runs.csv"
PROVENANCE_FILE = "provenance.txt"
#: The columns of ``table1_runs.csv``: one row per trained run (metrics as fractions, like the results).
RUN_COLUMNS = ("system", "protocol", "classes", "fold", "seed", *SCALARS, "best_epoch", "epochs_run",
               "code_fingerprint", "git_commit")


def runs_table(results: Sequence[Result]) -> pd.DataFrame:
    """Every fold x seed run behind the table: the numbers a mean +- std hides."""
    if not results:
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    frames = []
    for result in results:
        frame = compare.runs_frame([result])
        runs = result.runs
        frame["best_epoch"], frame["epochs_run"] = runs["best_epoch"].to_numpy(), runs["epochs_run"].to_numpy()
        meta = result.record.get("meta", {})
        frame["code_fingerprint"], frame["git_commit"] = meta.get("code_fingerprint"), meta.get("git_commit")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[list(RUN_COLUMNS)]


@dataclass(frozen=True)
class StoredTable:
    """A table written by :func:`table1` (or ``sernb table1 --out``), read back."""

    table: pd.DataFrame  # table1.csv: one row per system
    runs: pd.DataFrame  # table1_runs.csv: one row per fold x seed run
    provenance: str  # provenance.txt: which code, commit, device and date made the numbers


def load(folder: str | Path) -> StoredTable:
    """Read back a table's three files from ``folder`` (a clear error names a missing one)."""
    folder = Path(folder)
    missing = [name for name in ("table1.csv", RUNS_FILE, PROVENANCE_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: no {', '.join(missing)}; write it with `sernb table1 --out {folder}`")
    return StoredTable(pd.read_csv(folder / "table1.csv"), pd.read_csv(folder / RUNS_FILE),
                       (folder / PROVENANCE_FILE).read_text().strip())


def _row(name: str, profile: str, protocol: str | None, seeds: Sequence[int] | None, audio_model: str,
         results_dir: str | Path | None, force: bool, overrides: dict[str, Any],
         results: list | None = None) -> dict[str, Any]:
    nan = float("nan")
    paper = PAPER_TABLE1.get(name) or PaperRow(EXTRA_ROWS[name][1], nan, nan, nan)
    options = {"audio_model": audio_model} if name == "wav2vec2" else {}
    config = ExperimentConfig.from_profile(profile, system=name, protocol=protocol, seeds=seeds,
                                           model_options=options, **overrides)
    row: dict[str, Any] = {"system": name, "paper_name": paper.name, "text_encoder": "-",
                           "audio_encoder": "-", "status": "ran"}
    row.update({k: float("nan") for k in _metric_columns()})
    row.update({"n_runs": 0, "best_epochs": "", "params_m": float("nan"), "trainable_params_m": float("nan"),
                "wall_seconds": float("nan"), "train_seconds": float("nan"), "seconds_per_epoch": float("nan"),
                "corpus": config.corpus, "protocol": config.protocol})
    started = time.perf_counter()
    try:
        if name == "wav2vec2":
            spec = resolve_audio_model(audio_model)  # fails fast offline, before any data work
            row["audio_encoder"] = spec.label
            if spec.untrained and spec.source == "folder":
                # a stand-in folder in the hub's layout (sernb.models.standins): it runs, so the
                # researcher's path is exercised end to end, and the row says what it is
                row["status"] = "ran (UNTRAINED stand-in weights: the numbers mean nothing)"
            elif spec.untrained:
                raise _NotRun(f"{spec.label}: Table 1 never reports numbers from untrained weights; pass "
                              "--audio-model with a pretrained folder or hub id")
        # built exactly as the run builds it, so only the fine-tuned text layers count as trainable
        model = build_with_shared(name, len(class_names(config.classes, config.corpus)), config.shared_model_options(), **config.model_options)
        encoders = describe_encoders(model)
        row["text_encoder"], row["audio_encoder"] = encoders["text"], encoders["audio"]
        row["params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 2)
        row["trainable_params_m"] = round(sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6, 2)
        del model
        result = run(config, results_dir=results_dir, force=force)
    except DataError:  # the corpus is wrong for every row: the user must hear it, not read six "not run"
        raise
    except (*CANNOT_RUN, _NotRun) as err:
        row["status"] = f"not run: {err}"
    else:
        if results is not None:
            results.append(result)
        record = result.record
        for k in SCALARS:
            row[k] = round(100 * record[k], 2)
            row[f"{k}_std"] = round(100 * record["std"][k], 2)
        row["n_runs"] = record["n_runs"]
        # where each run's validation peaked, of the epochs it ran: a peak at the last epoch of
        # every run says "train longer", an early one with early stopping says "converged"
        row["best_epochs"] = " ".join(f"{r['best_epoch']}/{r['epochs_run']}" for r in record["runs"])
        # Time the runs took when they were trained (a cached row costs ~0 s of wall time now).
        row["train_seconds"] = round(sum(r["seconds"] for r in record["runs"]), 1)
        row["seconds_per_epoch"] = round(record["meta"]["seconds_per_epoch"] or float("nan"), 2)
    row["wall_seconds"] = round(time.perf_counter() - started, 1)  # this call, cache hits included
    row.update({"paper_reported_accuracy": paper.accuracy, "paper_reported_f1": paper.f1,
                "paper_reported_params_m": paper.params_m})
    return row


def _metric_columns() -> list[str]:
    return [c for k in SCALARS for c in (k, f"{k}_std")]


class _NotRun(RuntimeError):
    """A row this machine could run but must not report (e.g. untrained weights)."""
