"""Corpora -> one utterance table; splits; cached features (chapter "Data and preprocessing").

Typical use::

    table = load("iemocap", "/data/iemocap")    # or load("synthetic", generate("smoke"))
    folds = splits.make_folds(table, "loso")     # sernb.data.splits
    feats = features.extract_mfcc(table)         # sernb.data.features, cached on disk

Every loader returns a DataFrame with exactly :data:`COLUMNS` (meanings per corpus in
:mod:`sernb.data.table`) and records what it skipped in ``table.attrs["skipped"]``;
:func:`describe_skips` turns that into one line for a notebook.
"""

from __future__ import annotations

import os

import pandas as pd

from sernb.data.table import COLUMNS, EMOTIONS_4, EMOTIONS_6, describe_skips

__all__ = ["COLUMNS", "CORPORA", "EMOTIONS_4", "EMOTIONS_6", "describe_skips", "load"]

#: Names accepted by :func:`load`; "synthetic" is the IEMOCAP loader with corpus="synthetic".
CORPORA = ("iemocap", "synthetic", "meld", "ravdess")


def load(corpus: str, root: str | os.PathLike, **options) -> pd.DataFrame:
    """Load ``corpus`` found under ``root`` into the utterance table.

    Options: iemocap/synthetic ``classes=6|4|"all"``; meld ``classes="all"|4, splits=(...)``;
    ravdess ``classes="all"|4``. Loaders are imported lazily so that importing
    :mod:`sernb.data` stays cheap.
    """
    name = corpus.lower()
    if name == "iemocap":
        from sernb.data.iemocap import load_iemocap

        return load_iemocap(root, **options)
    if name == "synthetic":
        from sernb.data.iemocap import load_iemocap

        return load_iemocap(root, corpus="synthetic", **options)
    if name == "meld":
        from sernb.data.meld import load_meld

        return load_meld(root, **options)
    if name == "ravdess":
        from sernb.data.ravdess import load_ravdess

        return load_ravdess(root, **options)
    raise ValueError(f"unknown corpus {corpus!r}; choose from {CORPORA}")
