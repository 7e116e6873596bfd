"""The cue corpus' sidecar tables -> extra columns of the utterance table (issue 15).

A cue corpus (``sernb synth --cues``, :mod:`sernb.data.synth.cues`) keeps IEMOCAP's files exactly
in IEMOCAP's formats and says how each utterance carries its emotion in ``cues.csv`` beside
``IEMOCAP_full_release/``. :func:`attach_cues` adds its columns to the table the IEMOCAP loader
builds, when the file is there; other corpora get no such columns. ``cue_words.csv`` (every
word's span in its clip) is read on demand by :func:`load_cue_words`.

===========  ===================================================================================
cue_kinds    the cue kinds joined by "+", e.g. ``"local+lexical"``
cue_word     the word that carries a word-level cue: the emotional word (lexical, alignment),
             the first of the three changed words (local); "" for global and contour
cue_token    its index among the transcript's whitespace tokens, else -1
cue_start    the cue's span in seconds from the clip's start: first to last word carrying a
cue_end      word-level cue (one word, or local's three), the whole speech for global, contour
===========  ===================================================================================
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sernb.errors import DataError

CUES_NAME = "cues.csv"
CUE_WORDS_NAME = "cue_words.csv"
CUE_COLUMNS = ("cue_kinds", "cue_word", "cue_token", "cue_start", "cue_end")
#: The columns of ``cues.csv``: the utterance, then the columns it adds to the table.
CUES_FILE_COLUMNS = ("utt_id", *CUE_COLUMNS)
CUE_WORD_COLUMNS = ("utt_id", "token", "word", "start", "end", "pitch_pct", "volume_pct", "rate_pct")


def find_sidecar(release: Path, name: str = CUES_NAME) -> Path | None:
    """The sidecar beside ``IEMOCAP_full_release/`` (or inside it), or None."""
    for folder in (release.parent, release):
        if (folder / name).is_file():
            return folder / name
    return None


def read_cues(path: Path) -> pd.DataFrame:
    """``cues.csv`` indexed by utt_id, checked: a damaged file is an error naming it."""
    try:
        cues = pd.read_csv(path, dtype={"utt_id": str, "cue_kinds": str, "cue_word": str},
                           keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(path, f"cannot read the cue table: {exc}") from exc
    missing = [c for c in CUES_FILE_COLUMNS if c not in cues.columns]
    if missing:
        raise DataError(path, f"cue table lacks column(s) {', '.join(missing)} (has {', '.join(cues.columns)})")
    try:
        cues = cues.astype({"cue_token": "int64", "cue_start": "float64", "cue_end": "float64"})
    except (TypeError, ValueError) as exc:
        raise DataError(path, f"cue table has a non-numeric cue_token, cue_start or cue_end: {exc}") from exc
    bad = cues[(cues["cue_end"] < cues["cue_start"]) | (cues["cue_start"] < 0) | (cues["cue_kinds"] == "")]
    if len(bad):
        raise DataError(path, f"cue table row for {bad['utt_id'].iloc[0]!r} has no cue kinds or a reversed or "
                        f"negative span ({len(bad)} such rows)")
    dup = cues["utt_id"][cues["utt_id"].duplicated()]
    if len(dup):
        raise DataError(path, f"cue table lists {dup.iloc[0]!r} twice ({len(dup)} duplicates)")
    return cues.set_index("utt_id")


def attach_cues(table: pd.DataFrame, release: Path) -> pd.DataFrame:
    """``table`` with the :data:`CUE_COLUMNS` of the sidecar, when ``release`` has one.

    Every utterance of the table must have a row (a cue corpus is all or nothing); rows for
    utterances the table filtered out (``xxx``...) are ignored.
    """
    path = find_sidecar(release)
    if path is None:
        return table
    cues = read_cues(path)
    absent = table.loc[~table["utt_id"].isin(cues.index), "utt_id"]
    if len(absent):
        raise DataError(path, f"cue table has no row for {len(absent)} utterance(s) of the corpus, "
                        f"e.g. {absent.iloc[0]!r}")
    out = table.copy()
    for column in CUE_COLUMNS:
        out[column] = table["utt_id"].map(cues[column]).to_numpy()
    out.attrs = {**table.attrs, "cues": str(path)}
    return out


def load_cue_words(root: str | Path) -> pd.DataFrame:
    """``cue_words.csv`` of a cue corpus (``root`` holds it, or ``root/IEMOCAP_full_release`` does)."""
    from sernb.data.iemocap import find_release

    path = find_sidecar(find_release(root), CUE_WORDS_NAME)
    if path is None:
        raise DataError(root, f"no {CUE_WORDS_NAME} here: not a cue corpus (make one with `sernb synth --cues`)")
    try:
        words = pd.read_csv(path, dtype={"utt_id": str, "word": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(path, f"cannot read the cue word table: {exc}") from exc
    missing = [c for c in CUE_WORD_COLUMNS if c not in words.columns]
    if missing:
        raise DataError(path, f"cue word table lacks column(s) {', '.join(missing)}")
    return words
