"""CREMA-D (acted, audio, public) -> the utterance table.

Everything comes from the file name ``AudioWAV/1001_DFA_ANG_XX.wav``: actor (1001-1091), one of
12 fixed sentences, emotion (ANG, DIS, FEA, HAP, NEU, SAD) and intensity (LO, MD, HI, XX:
unspecified). ``session`` is the actor number, so leave-one-session-out is leave-one-actor-out
(91 folds; the 5-fold actor-independent ``speaker_kfold`` is the usual protocol). Gender comes
from ``VideoDemographics.csv`` when it is beside ``AudioWAV/`` or one folder up, else it is
missing. There are no dialogs: each clip is its own dialog of one turn.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sernb.data.table import acted_clip_row, make_table
from sernb.errors import DataError, DataNotFound
from sernb.utils import decode_text

EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
TO_4 = {"neutral": "neu", "anger": "ang", "sad": "sad", "happy": "hap"}
SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold", "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
DEMOGRAPHICS = "VideoDemographics.csv"
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$")


def load_cremad(root: str | os.PathLike, classes: int | str | Mapping[str, str] = "all") -> pd.DataFrame:
    """Load every ``AudioWAV/*.wav`` under ``root`` (``root`` may be ``AudioWAV`` itself).

    ``classes``: ``"all"`` (the 6 native labels), 4 (neutral/anger/sad/happy -> neu/ang/sad/hap)
    or a map native label -> kept label; other labels are counted skips.
    """
    root = Path(root).expanduser().resolve()
    audio = next((p for p in (root / "AudioWAV", root) if p.is_dir() and any(p.glob("*_*_*_*.wav"))), None)
    if audio is None:
        raise DataNotFound(root, "no CREMA-D layout here: expected AudioWAV/1001_DFA_ANG_XX.wav ...")
    genders = _genders(audio)
    skipped: Counter = Counter()
    rows = []
    for entry in sorted(os.scandir(audio), key=lambda e: e.name):
        if entry.is_file() and not entry.name.startswith("."):
            row = _row(Path(entry.path), entry.stat().st_size, classes, genders, skipped)
            if row is not None:
                rows.append(row)
    return make_table(rows, skipped, "cremad", str(audio), sort_by=["session", "utt_id"], classes=classes)


def _row(path: Path, size: int, classes, genders: dict[int, str], skipped: Counter) -> dict | None:
    """One file -> a table row, or None after counting why it was skipped."""
    match = _NAME.match(path.name)
    if match is None:
        skipped["unparseable file name"] += 1
        return None
    actor, sentence, emotion, _level = match.groups()
    if emotion not in EMOTIONS or sentence not in SENTENCES:
        skipped["unknown emotion or sentence code"] += 1
        return None
    return acted_clip_row(path, size, "cremad", EMOTIONS[emotion], classes, TO_4, skipped, session=int(actor),
                          speaker=f"Actor_{actor}", gender=genders.get(int(actor)), text=SENTENCES[sentence])


def _genders(audio: Path) -> dict[int, str]:
    """Actor -> "F"/"M" from ``VideoDemographics.csv`` (beside AudioWAV/ or in it); {} without it."""
    path = next((p for p in (audio.parent / DEMOGRAPHICS, audio / DEMOGRAPHICS) if p.is_file()), None)
    if path is None:
        return {}
    try:
        frame = pd.read_csv(io.StringIO(decode_text(path.read_bytes())[0]))
        sex = {"female": "F", "male": "M"}
        return {int(a): sex[str(s).strip().lower()] for a, s in zip(frame["ActorID"], frame["Sex"], strict=True)
                if str(s).strip().lower() in sex}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(path, f"cannot read CREMA-D's demographics (ActorID, Sex columns): {exc}") from exc
