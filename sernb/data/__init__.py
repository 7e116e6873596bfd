"""Corpora -> one utterance table; splits; cached features (chapter "Data and preprocessing").

Typical use::

    table = load("iemocap", "/data/iemocap")    # or load("synthetic", generate("smoke")), "ravdess", ...
    folds = splits.make_folds(table, "loso")     # sernb.data.splits
    feats = features.extract_mfcc(table)         # sernb.data.features, cached on disk

Every loader returns a DataFrame with exactly :data:`COLUMNS` (meanings per corpus in
:mod:`sernb.data.table`) and records what it skipped in ``table.attrs["skipped"]``;
:func:`describe_skips` turns that into one line for a notebook.
"""

from __future__ import annotations

import os

import pandas as pd

from sernb.data.corpora import CORPORA as _CORPORA
from sernb.data.corpora import canonical_classes, class_set, get_corpus, names_from_labels
from sernb.data.table import COLUMNS, EMOTIONS_4, EMOTIONS_6, describe_skips

__all__ = ["COLUMNS", "CORPORA", "EMOTIONS_4", "EMOTIONS_6", "describe_skips", "load"]

#: Names accepted by :func:`load` (:mod:`sernb.data.corpora` describes each).
CORPORA = tuple(_CORPORA)


def load(corpus: str, root: str | os.PathLike, classes: int | str = "native", **options) -> pd.DataFrame:
    """Load ``corpus`` found under ``root`` into the utterance table, keeping ``classes``.

    ``classes``: ``"native"`` (the corpus' own set; IEMOCAP's is the paper's six), ``"all"``
    (every label in the data), 6, 4 or a comma list (:mod:`sernb.data.corpora`). Other options go
    to the loader (meld ``splits=``, ``audio=``). ``table.attrs["class_names"]`` holds the
    classes in index order. Loaders are imported lazily so that importing :mod:`sernb.data`
    stays cheap.
    """
    spec = get_corpus(corpus)
    names, mapping = class_set(spec.name, classes)
    table = spec.load_function()(root, classes="all" if mapping is None else mapping, **options)
    table.attrs["class_names"] = list(names or names_from_labels(spec.name, table["label"]))
    table.attrs["classes"] = canonical_classes(spec.name, classes)
    return table
