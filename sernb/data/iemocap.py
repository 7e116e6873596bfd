"""IEMOCAP (and the synthetic corpus written in its layout) -> the utterance table.

Chapter "Data and preprocessing" uses it. Only text files are read (EmoEvaluation summaries, transcriptions) and
wav folders listed, so 10k utterances load in well under a second; audio is read later by
:mod:`sernb.data.features`. Layout and quirks: ``shared/design.md``.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sernb.data.cuetable import attach_cues
from sernb.data.table import EMOTIONS_4, EMOTIONS_6, make_table
from sernb.errors import DataError, DataNotFound
from sernb.utils import decode_text

RELEASE = "IEMOCAP_full_release"
#: Files the synthetic generator may leave next to the corpus; any of them marks it synthetic.
SYNTHETIC_MARKERS = ("SYNTHETIC", "SYNTHETIC.md", "synthetic.json", "synth_manifest.json")

# [6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
_EVAL_LINE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)")
# Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
_TRANS_LINE = re.compile(r"^(\S+)\s+\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]:\s?(.*)$")
# Ses01F_impro01_M003 -> session 01, gender of the speaker M (the LAST field, not the first)
_UTT_ID = re.compile(r"^Ses(\d+)[FM]_.+_([FM])[^_]*$")
_JUNK_ID = re.compile(r"_[FM]XX\d*$")
#: Every label IEMOCAP's EmoEvaluation summaries use; any other is a typo or a foreign file, and
#: is counted as ``unknown label:<x>`` (a data problem) rather than ``label:<x>`` (a filter).
KNOWN_LABELS = frozenset({"ang", "fru", "neu", "sad", "exc", "hap", "sur", "fea", "oth", "dis", "xxx"})
#: Repair counted when a transcript or evaluation line is not UTF-8.
NON_UTF8 = "non-UTF-8 lines read as cp1252"


@dataclass(frozen=True)
class _Evaluation:
    utt_id: str
    start: float
    end: float
    label: str


def label_map(classes: int | str | Mapping[str, str] = 6) -> dict[str, str] | None:
    """Raw IEMOCAP label -> label kept; None keeps every raw label (``classes="all"``); a
    mapping (from :func:`sernb.data.corpora.class_set`) is used as it is."""
    if isinstance(classes, Mapping):
        return dict(classes)
    if classes == 6:
        return {c: c for c in EMOTIONS_6}
    if classes == 4:
        return {**{c: c for c in EMOTIONS_4}, "exc": "hap"}
    if classes == "all":
        return None
    raise ValueError(f"classes must be 6, 4 or 'all', not {classes!r}")


def find_release(root: str | os.PathLike) -> Path:
    """The ``IEMOCAP_full_release`` folder: ``root`` itself or its child of that name."""
    root = Path(root).expanduser().resolve()
    for candidate in (root, root / RELEASE):
        if any((candidate / f"Session{i}" / "dialog" / "EmoEvaluation").is_dir() for i in range(1, 6)):
            return candidate
    raise DataNotFound(
        root, f"no IEMOCAP layout here: expected {root / RELEASE}/Session1..5/dialog/EmoEvaluation/ "
        f"(root may be the folder holding {RELEASE} or {RELEASE} itself)"
    )


def is_synthetic(release: Path) -> bool:
    """True when the synthetic generator marked this corpus (a marker file or a manifest flag)."""
    for folder in (release, release.parent):
        for name in SYNTHETIC_MARKERS:
            if (folder / name).is_file():
                return True
        manifest = folder / "manifest.json"
        if manifest.is_file() and _manifest_says_synthetic(manifest):
            return True
    return False


def load_synthetic(root: str | os.PathLike, classes: int | str | Mapping[str, str] = 6) -> pd.DataFrame:
    """:func:`load_iemocap` with the corpus column ``"synthetic"`` (a corpus made by ``sernb synth``)."""
    return load_iemocap(root, classes, corpus="synthetic")


def load_iemocap(
    root: str | os.PathLike, classes: int | str | Mapping[str, str] = 6, corpus: str | None = None
) -> pd.DataFrame:
    """Load IEMOCAP-format data: one row per labelled utterance that has a wav and a transcript.

    ``classes``: 6 (the paper's set), 4 (neu/ang/sad/hap with exc merged into hap) or ``"all"``
    (every raw label, xxx included). ``corpus`` overrides the corpus column, which is
    ``"synthetic"`` when the generator's marker is found and ``"iemocap"`` otherwise.
    Skips (labels outside the set, junk transcript ids, missing wavs...) land in
    ``table.attrs["skipped"]``. A cue corpus (``sernb synth --cues``) adds the columns of its
    ``cues.csv`` (:mod:`sernb.data.cuetable`); without that file there are no such columns.
    """
    mapping = label_map(classes)
    release = find_release(root)
    corpus = corpus or ("synthetic" if is_synthetic(release) else "iemocap")
    skipped: Counter = Counter()
    repaired: Counter = Counter()
    rows = []
    for session_dir in sorted(release.glob("Session[1-5]")):
        rows += _session_rows(session_dir, mapping, corpus, skipped, repaired)
    table = make_table(rows, skipped, corpus, str(release), sort_by=["session", "dialog", "turn"],
                       classes=classes, repaired={k: int(v) for k, v in sorted(repaired.items()) if v})
    return attach_cues(table, release)


def _session_rows(session_dir: Path, mapping: dict | None, corpus: str, skipped: Counter,
                  repaired: Counter) -> list[dict]:
    dialog_dir = session_dir / "dialog"
    evaluations = _read_evaluations(dialog_dir / "EmoEvaluation", skipped, repaired)
    transcripts = _read_transcripts(dialog_dir / "transcriptions", skipped, repaired)
    skipped["unlabelled transcript"] += len(transcripts.keys() - {e.utt_id for e in evaluations})
    turns = _turns(evaluations)
    wav_root = session_dir / "sentences" / "wav"
    wavs: dict[str, set[str]] = {}
    rows = []
    for ev in evaluations:
        match = _UTT_ID.match(ev.utt_id)
        if match is None:
            skipped["unparseable utterance id"] += 1
            continue
        if ev.label not in KNOWN_LABELS:
            skipped[f"unknown label:{ev.label}"] += 1
            continue
        label = ev.label if mapping is None else mapping.get(ev.label)
        if label is None:
            skipped[f"label:{ev.label}"] += 1
            continue
        dialog = ev.utt_id.rsplit("_", 1)[0]
        if dialog not in wavs:
            wavs[dialog] = _list_wavs(wav_root / dialog)
        if f"{ev.utt_id}.wav" not in wavs[dialog]:
            skipped["missing wav"] += 1
            continue
        if ev.utt_id not in transcripts:
            skipped["no transcript"] += 1
            continue
        session, gender = int(match.group(1)), match.group(2)
        rows.append({
            "utt_id": ev.utt_id, "corpus": corpus, "session": session, "dialog": dialog,
            "turn": turns[ev.utt_id], "speaker": f"Ses{session:02d}{gender}", "gender": gender,
            "label": label, "text": transcripts[ev.utt_id],
            "wav_path": str(wav_root / dialog / f"{ev.utt_id}.wav"),
            "start": ev.start, "end": ev.end, "scripted": "_script" in dialog,
        })
    return rows


def _text_files(folder: Path) -> list[Path]:
    """Top-level ``.txt`` files only: no Categorical/ Attribute/ Self-evaluation/, no macOS ``._*``."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix == ".txt" and not p.name.startswith("._"))


def _read_lines(path: Path, repaired: Counter) -> list[str]:
    """Lines of a text file; lines that are not UTF-8 are read as cp1252 and counted."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read IEMOCAP file: {exc.strerror or exc}") from exc
    text, fallback = decode_text(data)
    repaired[NON_UTF8] += fallback
    return text.splitlines()


def _time(value: str, path: Path, number: int, line: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise DataError(path, f"line {number}: malformed time {value!r} in {line.strip()!r}") from None


def _read_evaluations(folder: Path, skipped: Counter, repaired: Counter) -> list[_Evaluation]:
    """Summary lines of every EmoEvaluation file (evaluator lines are ignored).

    A malformed time is an error naming the file and line (the file is damaged: fix it); a
    reversed time range or a second summary of the same utterance is a counted skip.
    """
    evaluations = []
    seen: set[str] = set()
    for path in _text_files(folder):
        for number, line in enumerate(_read_lines(path, repaired), start=1):
            if not line.startswith("["):
                continue
            match = _EVAL_LINE.match(line)
            if match is None:
                skipped["unparseable evaluation line"] += 1
                continue
            start, end, utt_id, label = match.groups()
            start_s, end_s = _time(start, path, number, line), _time(end, path, number, line)
            if end_s <= start_s:
                skipped["reversed or empty time range"] += 1
                continue
            if utt_id in seen:
                skipped["duplicate evaluation"] += 1
                continue
            seen.add(utt_id)
            evaluations.append(_Evaluation(utt_id, start_s, end_s, label))
    return evaluations


def _read_transcripts(folder: Path, skipped: Counter, repaired: Counter) -> dict[str, str]:
    """utt_id -> text; junk ids (``_FXX0``) and lines without an id and times are counted."""
    texts: dict[str, str] = {}
    for path in _text_files(folder):
        for line in _read_lines(path, repaired):
            if not line.strip():
                continue
            if _JUNK_ID.search(line.split(maxsplit=1)[0]):
                skipped["junk transcript id"] += 1
                continue
            match = _TRANS_LINE.match(line)
            if match is None:
                skipped["unparseable transcription line"] += 1
                continue
            texts[match.group(1)] = match.group(4).strip()
    return texts


def _turns(evaluations: list[_Evaluation]) -> dict[str, int]:
    """Position in the dialog by start time, over ALL evaluated utterances.

    Counting before label filtering keeps ``turn`` identical for the 6-class, 4-class and
    all-label tables; gaps mark utterances filtered out.
    """
    by_dialog: dict[str, list[_Evaluation]] = {}
    for ev in evaluations:
        by_dialog.setdefault(ev.utt_id.rsplit("_", 1)[0], []).append(ev)
    turns = {}
    for items in by_dialog.values():
        for i, ev in enumerate(sorted(items, key=lambda e: (e.start, e.end, e.utt_id))):
            turns[ev.utt_id] = i
    return turns


def _list_wavs(folder: Path) -> set[str]:
    try:
        return {entry.name for entry in os.scandir(folder) if entry.name.endswith(".wav")}
    except FileNotFoundError:
        return set()


def _manifest_says_synthetic(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("synthetic"))
