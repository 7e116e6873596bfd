"""The one utterance table every corpus loader returns (chapter "Data and preprocessing").

Downstream code (splits, features, training, the book) reads only this table, so every loader
builds it through :func:`make_table`: fixed columns and dtypes, a stable row order, and the
rows it skipped counted in ``table.attrs["skipped"]`` and logged in one summary line.

Column meanings (per corpus where they differ):

=========  ===============================================================================
utt_id     unique id; IEMOCAP ``Ses01F_impro01_F000``, MELD ``train_dia12_utt3``,
           RAVDESS the file stem ``03-01-05-01-02-01-12``
corpus     ``"iemocap"``, ``"synthetic"`` (IEMOCAP layout, generated), ``"meld"``, ``"ravdess"``
session    IEMOCAP: session number 1-5 (int). MELD: the official split name
           ``"train"``/``"dev"``/``"test"`` (str). RAVDESS: the actor number 1-24 (int).
dialog     IEMOCAP ``utt_id.rsplit("_", 1)[0]``; MELD ``train_dia12``; RAVDESS: the
           utterance itself (no dialogs: each clip is a dialog of one turn)
turn       position of the utterance inside its dialog in time order (0-based)
speaker    IEMOCAP ``Ses01M`` (session + gender of the last id field); MELD the character;
           RAVDESS ``Actor_12``
gender     ``"F"``/``"M"``; missing (NaN) where the corpus does not say (MELD side characters)
label      short label (IEMOCAP ``ang``..., MELD/RAVDESS native names unless mapped)
text       transcript (RAVDESS: the fixed statement)
wav_path   absolute path of the audio file (MELD: the .mp4 clip)
start/end  seconds inside the dialog/episode recording; NaN where unknown
scripted   True when the words were written beforehand (IEMOCAP scripts, MELD, RAVDESS)
=========  ===============================================================================
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sernb.errors import DataError

logger = logging.getLogger("sernb")

COLUMNS: list[str] = [
    "utt_id", "corpus", "session", "dialog", "turn", "speaker", "gender",
    "label", "text", "wav_path", "start", "end", "scripted",
]

#: The paper's six IEMOCAP classes; this order is the class index order everywhere.
EMOTIONS_6: tuple[str, ...] = ("ang", "fru", "neu", "sad", "exc", "hap")
#: The literature's four-class IEMOCAP set (exc merged into hap).
EMOTIONS_4: tuple[str, ...] = ("neu", "ang", "sad", "hap")

#: Skip reasons that are a choice (a label outside the class set, a junk id), not a data problem.
_EXPECTED_PREFIXES = ("label:", "junk transcript id", "song", "video")


def make_table(
    rows: Iterable[Mapping[str, Any]],
    skipped: Mapping[str, int] | Counter,
    corpus: str,
    root: str,
    sort_by: list[str] | None = None,
    **attrs: Any,
) -> pd.DataFrame:
    """Build the utterance table from row dicts, record the skips and log one summary line.

    ``attrs`` (e.g. ``classes``) are stored in ``table.attrs`` next to ``corpus``, ``root``
    and ``skipped``. A table with no rows is an error: it always means a wrong root or option.
    """
    table = pd.DataFrame.from_records(list(rows), columns=COLUMNS)
    table = table.astype({"turn": "int64", "start": "float64", "end": "float64", "scripted": "bool"})
    if sort_by:
        table = table.sort_values(sort_by, kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update(corpus=corpus, root=root, skipped={k: int(v) for k, v in sorted(skipped.items()) if v},
                       **attrs)
    table.attrs.setdefault("repaired", {})
    if table.empty:
        raise DataError(root, f"no utterances kept from {root}: {describe_skips(table)}")
    _check_unique(table, corpus)
    _log_summary(table)
    return table


def keep_label(native: str, classes: int | str | Mapping[str, str], to_4: Mapping[str, str]) -> str | None:
    """The label a row keeps under ``classes``, or None (a counted ``label:<x>`` skip): ``"all"``
    keeps it, 4 maps it through the corpus' ``to_4``, a mapping (from
    :func:`sernb.data.corpora.class_set`) maps it."""
    if classes == "all":
        return native
    if isinstance(classes, Mapping):
        return classes.get(native)
    if classes == 4:
        return to_4.get(native)
    raise ValueError(f"classes must be 'all', 4 or a label map, not {classes!r}")


def acted_clip_row(path: Path, size: int, corpus: str, native: str, classes: int | str | Mapping[str, str],
                   to_4: Mapping[str, str], skipped: Counter, **fields: Any) -> dict[str, Any] | None:
    """The row of one clip of an acted corpus (RAVDESS, CREMA-D: each clip its own dialog of one
    turn), or None after counting why it was skipped (a label outside ``classes``, an empty file).
    ``fields`` give session, speaker, gender and text."""
    label = keep_label(native, classes, to_4)
    if label is None:
        skipped[f"label:{native}"] += 1
        return None
    if size == 0:
        skipped["empty wav"] += 1
        return None
    return {"utt_id": path.stem, "corpus": corpus, "dialog": path.stem, "turn": 0, "label": label,
            "wav_path": str(path), "start": 0.0, "end": float("nan"), "scripted": True, **fields}


def label_targets(labels: Iterable[str] | pd.Series, names: Iterable[str]) -> np.ndarray:
    """Class indices of ``labels`` in the order of ``names`` (int64); a label outside ``names`` is an
    error that lists them (a table loaded for other classes, not a silent NaN)."""
    index = {name: i for i, name in enumerate(names)}
    labels = pd.Series(labels)
    targets = labels.map(index)
    if targets.isna().any():
        raise ValueError(f"labels outside {list(index)}: {sorted(labels[targets.isna()].unique())}")
    return targets.to_numpy().astype(np.int64)


#: Between the turns of an utterance's dialog context (:func:`dialog_context`).
CONTEXT_SEPARATOR = " | "


def dialog_context(table: pd.DataFrame, turns: int) -> pd.Series:
    """Each row's previous ``turns`` utterances of its dialog (ordered by ``turn``), newest first and
    joined with :data:`CONTEXT_SEPARATOR`; ``""`` for a dialog's first turn. Newest first, so a
    context cut to the token budget loses its oldest words. Only the rows of ``table`` count: a turn
    its loader skipped (a label outside the class set) is in no one's context. Never a later turn:
    the context is what a listener had heard before the utterance."""
    context: dict[Any, str] = {}
    ordered = table.sort_values(["dialog", "turn"], kind="stable")
    for _, dialog in ordered.groupby("dialog", sort=False):
        texts = dialog["text"].fillna("").astype(str).tolist()
        for j, index in enumerate(dialog.index):
            context[index] = CONTEXT_SEPARATOR.join(reversed(texts[max(0, j - turns):j]))
    return pd.Series(context, dtype=object).reindex(table.index)


def describe_skips(table: pd.DataFrame) -> str:
    """One line: how many rows were kept, what was skipped and why, and what was repaired."""
    corpus = table.attrs.get("corpus") or (table["corpus"].iloc[0] if len(table) else "table")
    return summarize_skips(corpus, len(table), table.attrs.get("skipped", {}), table.attrs.get("repaired", {}))


def summarize_skips(corpus: str, kept: int, skipped: Mapping[str, int], repaired: Mapping[str, int] | None = None
                    ) -> str:
    """:func:`describe_skips` from the counts alone (e.g. as stored in a result.json)."""
    total = sum(skipped.values())
    line = f"{corpus}: kept {kept} utterances"
    if not total:
        line += ", skipped none"
    else:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])))
        line += f", skipped {total} ({reasons})"
    if repaired:
        line += "; repaired: " + ", ".join(f"{k} {v}" for k, v in sorted(repaired.items()))
    return line


def has_problems(skipped: Mapping[str, int]) -> bool:
    """True when a skip reason points at broken or missing data rather than a deliberate filter."""
    return any(not k.startswith(_EXPECTED_PREFIXES) for k in skipped)


def _log_summary(table: pd.DataFrame) -> None:
    problems = has_problems(table.attrs["skipped"]) or table.attrs.get("repaired")
    level = logging.WARNING if problems else logging.INFO
    logger.log(level, describe_skips(table))


def _check_unique(table: pd.DataFrame, corpus: str) -> None:
    dup = table["utt_id"][table["utt_id"].duplicated()]
    if len(dup):
        raise DataError(table.attrs.get("root"),
                        f"{corpus}: duplicate utterance ids, e.g. {dup.iloc[0]!r} ({len(dup)} in all)")
