"""Any labelled folder -> the utterance table, without code (chapter "Real speech").

A CSV (``labels.csv`` or ``metadata.csv`` in the folder, or the CSV itself as the root) with
one row per recording:

=========  =====================================================================================
path       the audio file, relative to the CSV's folder or absolute (required)
label      the emotion, any spelling; ``--classes 4`` maps neutral/angry/sad/happy and their
           usual synonyms (anger, sadness, happiness, joy, neu, ang, hap) (required)
speaker    who speaks: speaker-independent protocols group by it (required)
text       the transcript (optional; without it, systems that read text are refused)
session    recording session (optional; leave-one-session-out uses it, else it is the speaker)
split      train/dev/test (optional; ``--protocol official`` uses it; val and valid mean dev)
gender     F/M (optional)
=========  =====================================================================================

Rows whose file is missing or empty, or whose label or speaker is blank, are counted skips.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sernb.data.table import keep_label, make_table
from sernb.errors import DataError, DataNotFound
from sernb.utils import decode_text

CSV_NAMES = ("labels.csv", "metadata.csv")
REQUIRED = ("path", "label", "speaker")
SPLITS = {"train": "train", "dev": "dev", "val": "dev", "valid": "dev", "validation": "dev", "test": "test"}
TO_4 = {"neutral": "neu", "neu": "neu", "angry": "ang", "anger": "ang", "ang": "ang", "sad": "sad",
        "sadness": "sad", "happy": "hap", "happiness": "hap", "joy": "hap", "hap": "hap"}


def find_csv(root: str | os.PathLike) -> Path:
    """The labels CSV: ``root`` itself when it is a file, else ``root/labels.csv`` or ``root/metadata.csv``."""
    root = Path(root).expanduser().resolve()
    if root.is_file():
        return root
    for name in CSV_NAMES:
        if (root / name).is_file():
            return root / name
    raise DataNotFound(root, f"no labelled-folder CSV here: expected {' or '.join(CSV_NAMES)} with columns "
                       f"{', '.join(REQUIRED)} (and optional text, session, split, gender)")


def load_folder(root: str | os.PathLike, classes: int | str | Mapping[str, str] = "all") -> pd.DataFrame:
    """Load the recordings a labels CSV lists (see the module). ``classes``: ``"all"`` (every label
    in the CSV, lower-cased), 4 or a map label -> kept label; other labels are counted skips."""
    path = find_csv(root)
    frame = _read(path)
    has_text = "text" in frame.columns
    splits = "split" in frame.columns
    skipped: Counter = Counter()
    rows, split_of = [], {}
    for record in frame.to_dict("records"):
        row = _row(record, path, classes, has_text, skipped)
        if row is None:
            continue
        if splits:
            split = SPLITS.get(_text(record.get("split")).lower())
            if split is None:
                skipped["unknown split (train, dev/val, test)"] += 1
                continue
            split_of[row["utt_id"]] = split
        rows.append(row)
    return make_table(rows, skipped, "folder", str(path), sort_by=["speaker", "utt_id"], classes=classes,
                      text=has_text, **({"split": split_of} if splits else {}))


def _read(path: Path) -> pd.DataFrame:
    try:
        text, _ = decode_text(path.read_bytes())
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read the labels CSV: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(path, f"the labels CSV lacks column(s) {missing} (has {list(frame.columns)}); "
                        f"required: {', '.join(REQUIRED)}")
    if frame["path"].duplicated().any():
        dup = frame["path"][frame["path"].duplicated()].iloc[0]
        raise DataError(path, f"the labels CSV lists {dup!r} more than once")
    return frame


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _row(record: dict, csv: Path, classes, has_text: bool, skipped: Counter) -> dict | None:
    """One CSV line -> a table row, or None after counting why it was skipped."""
    native, speaker = _text(record["label"]).lower(), _text(record["speaker"])
    if not native:
        skipped["blank label"] += 1
        return None
    if not speaker:
        skipped["blank speaker"] += 1
        return None
    label = keep_label(native, classes, TO_4)
    if label is None:
        skipped[f"label:{native}"] += 1
        return None
    audio = Path(_text(record["path"]))
    audio = audio if audio.is_absolute() else csv.parent / audio
    if not audio.is_file():
        skipped["missing audio file"] += 1
        return None
    if audio.stat().st_size == 0:
        skipped["empty audio file"] += 1
        return None
    session = _text(record.get("session")) or speaker
    gender = _text(record.get("gender")).upper()[:1]
    utt_id = str(audio.relative_to(csv.parent).with_suffix("")) if audio.is_relative_to(csv.parent) else audio.stem
    return {
        "utt_id": utt_id, "corpus": "folder", "session": session, "dialog": utt_id, "turn": 0, "speaker": speaker,
        "gender": gender if gender in ("F", "M") else None, "label": label,
        "text": _text(record.get("text")) if has_text else "", "wav_path": str(audio),
        "start": 0.0, "end": float("nan"), "scripted": False,
    }
