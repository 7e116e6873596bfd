"""RAVDESS (acted, audio only, public) -> the utterance table.

Chapter "Real speech" uses it; its folds are speaker independent, by actor. Everything comes from
the file name ``03-01-EE-II-SS-RR-AA.wav`` (modality, vocal channel, emotion, intensity,
statement, repetition, actor). ``session`` is the actor number, so leave-one-session-out is
leave-one-actor-out. There are no dialogs: each clip is its own dialog of one turn.
Only audio-only speech files (03-01) are kept; song and video files are counted skips.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sernb.data.table import acted_clip_row, make_table
from sernb.errors import DataNotFound

EMOTIONS_8 = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
TO_4 = {"neutral": "neu", "angry": "ang", "sad": "sad", "happy": "hap"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.(wav|mp4)$")


def load_ravdess(root: str | os.PathLike, classes: int | str | Mapping[str, str] = "all") -> pd.DataFrame:
    """Load every ``Actor_NN/*.wav`` under ``root`` (or one folder below it).

    ``classes`` is ``"all"`` (the 8 native labels), 4 (neutral->neu, angry->ang, sad->sad,
    happy->hap; calm, fearful, disgust and surprised are counted skips) or a map native label ->
    kept label (:func:`sernb.data.corpora.class_set`).
    """
    if not (classes in ("all", 4) or isinstance(classes, Mapping)):
        raise ValueError(f"classes must be 'all', 4 or a label map for RAVDESS, not {classes!r}")
    root = Path(root).expanduser().resolve()
    actor_dirs = sorted(p for p in [*root.glob("Actor_*"), *root.glob("*/Actor_*")] if p.is_dir())
    if not actor_dirs:
        raise DataNotFound(root, "no RAVDESS layout here: expected Actor_01/ ... Actor_24/ folders")
    skipped: Counter = Counter()
    rows = []
    for folder in actor_dirs:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith("."):
                row = _row(Path(entry.path), entry.stat().st_size, classes, skipped)
                if row is not None:
                    rows.append(row)
    return make_table(rows, skipped, "ravdess", str(root), sort_by=["session", "utt_id"], classes=classes)


def _row(path: Path, size: int, classes: int | str, skipped: Counter) -> dict | None:
    """One file -> a table row, or None after counting why it was skipped."""
    match = _NAME.match(path.name)
    if match is None:
        skipped["unparseable file name"] += 1
        return None
    modality, channel, emotion, _intensity, statement, _rep, actor = (int(g) for g in match.groups()[:7])
    if modality != 3 or match.group(8) != "wav":
        skipped["video file"] += 1
        return None
    if channel != 1:
        skipped["song (vocal channel 02)"] += 1
        return None
    if not 1 <= emotion <= len(EMOTIONS_8) or statement not in STATEMENTS:
        skipped["unknown emotion or statement code"] += 1
        return None
    return acted_clip_row(path, size, "ravdess", EMOTIONS_8[emotion - 1], classes, TO_4, skipped, session=actor,
                          speaker=f"Actor_{actor:02d}", gender="M" if actor % 2 else "F", text=STATEMENTS[statement])
