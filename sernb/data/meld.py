"""MELD (Friends, multimodal, public) -> the utterance table.

Chapter "Real speech" uses it. Dialogue ids restart in
every split, so clips are keyed by (split, dialogue, utterance): ``utt_id = "train_dia12_utt3"``. ``session`` holds the official
split name (``"train"``, ``"dev"``, ``"test"``), which :func:`sernb.data.splits.official_split`
turns back into a fold. Labels stay MELD's own seven emotions, lower-cased (neutral, joy,
surprise, anger, sadness, disgust, fear); ``classes=4`` maps neutral->neu, anger->ang,
sadness->sad, joy->hap and skips the other three. Clips are .mp4 (decoded later with ffmpeg by
:mod:`sernb.data.audio`); a .wav of the same name is used when there is one. Without any clip
folder (the CSVs alone, a few MB) the table is text-only: ``wav_path`` is empty and
``table.attrs["audio"]`` is False, so systems that hear audio are refused with a clear message.
"""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sernb.data.table import keep_label, make_table
from sernb.errors import DataError, DataNotFound
from sernb.utils import decode_text

SPLITS = ("train", "dev", "test")
CSV_NAMES = {split: f"{split}_sent_emo.csv" for split in SPLITS}
CLIP_DIRS = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}
EMOTIONS_7 = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
TO_4 = {"neutral": "neu", "anger": "ang", "sadness": "sad", "joy": "hap"}
#: Clips that exist but do not decode (reported as skips; missing ones are found by listing).
KNOWN_BAD = {("train", 125, 3): "known corrupt clip"}
#: The six main characters; other speakers get gender None.
GENDERS = {"Chandler": "M", "Joey": "M", "Ross": "M", "Monica": "F", "Rachel": "F", "Phoebe": "F"}
_REQUIRED = ["Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID", "StartTime", "EndTime"]


def load_meld(
    root: str | os.PathLike, classes: int | str | Mapping[str, str] = "all", splits: tuple[str, ...] = SPLITS,
    audio: bool | None = None,
) -> pd.DataFrame:
    """Load the MELD CSVs of ``splits`` and match every row to its clip.

    ``root`` is the folder holding the three CSVs and clip folders (searched two levels deep,
    so ``MELD.Raw/`` or the parent of it both work). ``classes`` is ``"all"`` (7 native labels),
    4 or a map native label -> kept label. ``audio``: None uses the clips when any clip folder
    is there and reads the CSVs alone otherwise; True requires the clips; False ignores them.
    With clips, rows without one, with a known-bad clip or an unmapped label are counted skips.
    """
    if not (classes in ("all", 4) or isinstance(classes, Mapping)):
        raise ValueError(f"classes must be 'all', 4 or a label map for MELD, not {classes!r}")
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown MELD split(s) {sorted(unknown)}; choose from {SPLITS}")
    root = Path(root).expanduser().resolve()
    if audio is None:
        audio = any(_find(root, CLIP_DIRS[split], want_dir=True, required=False) for split in splits)
    skipped: Counter = Counter()
    repaired: Counter = Counter()
    rows = []
    for split in SPLITS:
        if split in splits:
            rows += _split_rows(root, split, classes, skipped, repaired, audio)
    return make_table(rows, skipped, "meld", str(root), classes=classes, audio=audio,
                      repaired={k: int(v) for k, v in sorted(repaired.items()) if v})


def parse_time(value: str) -> float:
    """``"00:14:38,127"`` -> 878.127 seconds; NaN when the field is malformed."""
    try:
        hms, _, ms = str(value).strip().partition(",")
        h, m, s = (int(x) for x in hms.split(":"))
        return h * 3600 + m * 60 + s + (int(ms) / 1000 if ms else 0.0)
    except ValueError:
        return float("nan")


def _split_rows(root: Path, split: str, classes, skipped: Counter, repaired: Counter, audio: bool) -> list[dict]:
    frame = _read_csv(_find(root, CSV_NAMES[split], want_dir=False), split, repaired)
    clip_dir = _find(root, CLIP_DIRS[split], want_dir=True) if audio else None
    clips = _list_clips(clip_dir) if clip_dir is not None else None
    seen: set[tuple[int, int]] = set()
    rows = []
    for record in frame.to_dict("records"):
        row = _row(record, split, classes, clip_dir, clips, seen, skipped)
        if row is not None:
            bad_times = sum(math.isnan(row[k]) for k in ("start", "end"))
            repaired["malformed StartTime/EndTime (kept as NaN)"] += bad_times
            rows.append(row)
    rows.sort(key=lambda r: (r["_dia"], r["turn"]))
    for r in rows:
        del r["_dia"]
    return rows


def _row(record: dict, split: str, classes, clip_dir: Path | None, clips: dict[str, int] | None,
         seen: set, skipped: Counter) -> dict | None:
    """One CSV record -> a table row, or None after counting why it was skipped (text-only
    when ``clips`` is None)."""
    try:
        dia, utt = int(record["Dialogue_ID"]), int(record["Utterance_ID"])
    except (TypeError, ValueError):
        skipped["unparseable csv row"] += 1
        return None
    if (dia, utt) in seen:
        skipped["duplicate csv row"] += 1
        return None
    seen.add((dia, utt))
    native = str(record["Emotion"]).strip().lower()
    label = keep_label(native, classes, TO_4) if native in EMOTIONS_7 else None
    if label is None:
        skipped[f"label:{native}"] += 1
        return None
    wav_path = ""
    if clips is not None:
        if (split, dia, utt) in KNOWN_BAD:
            skipped[KNOWN_BAD[(split, dia, utt)]] += 1
            return None
        clip = _clip_name(f"dia{dia}_utt{utt}", clips)
        if clip is None:
            skipped["missing clip"] += 1
            return None
        if clips[clip] == 0:
            skipped["empty clip"] += 1
            return None
        wav_path = str(clip_dir / clip)
    speaker = str(record["Speaker"]).strip()
    return {
        "utt_id": f"{split}_dia{dia}_utt{utt}", "corpus": "meld", "session": split,
        "dialog": f"{split}_dia{dia}", "turn": utt, "speaker": speaker, "gender": GENDERS.get(speaker),
        "label": label, "text": str(record["Utterance"]).strip(), "wav_path": wav_path,
        "start": parse_time(record["StartTime"]), "end": parse_time(record["EndTime"]),
        "scripted": True, "_dia": dia,
    }


def _read_csv(path: Path, split: str, repaired: Counter) -> pd.DataFrame:
    """The CSV of ``split``; lines that are not UTF-8 (some releases are Windows-1252, curly
    quotes as \x92) are read as cp1252 and counted."""
    try:
        text, fallback = decode_text(path.read_bytes())
        frame = pd.read_csv(io.StringIO(text))
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read the MELD {split} CSV: {exc}") from exc
    repaired["non-UTF-8 lines read as cp1252"] += fallback
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(path, f"MELD CSV lacks columns {missing} (has {list(frame.columns)})")
    return frame


def _find(root: Path, name: str, want_dir: bool, required: bool = True) -> Path | None:
    """``root/name``, ``root/*/name`` or ``root/*/*/name``: MELD archives nest differently."""
    for pattern in (name, f"*/{name}", f"*/*/{name}"):
        for path in sorted(root.glob(pattern)):
            if path.is_dir() if want_dir else path.is_file():
                return path
    if not required:
        return None
    kind = "folder" if want_dir else "file"
    raise DataNotFound(root, f"no MELD {kind} {name!r} here (searched two levels deep)")


def _list_clips(folder: Path) -> dict[str, int]:
    """Clip file name -> size in bytes (a stat per clip: cheap, and it catches empty files)."""
    return {e.name: e.stat().st_size for e in os.scandir(folder)
            if e.is_file() and not e.name.startswith("._")}


def _clip_name(stem: str, clips: dict[str, int]) -> str | None:
    for suffix in (".wav", ".mp4"):
        if stem + suffix in clips:
            return stem + suffix
    return None
