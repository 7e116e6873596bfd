"""Classification metrics, all from scikit-learn (chapter "The evaluation protocol").

The paper reports "accuracy" and "F1"; on IEMOCAP's unbalanced classes we also report balanced
accuracy (UA, the mean per-class recall) and weighted F1, with per-class F1 and the confusion
matrix, and mean ± std over folds and seeds (:func:`summarize`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
)

#: Scalar metrics, in the order tables show them.
SCALARS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int],
                           labels: Sequence[str]) -> dict[str, object]:
    """WA (``accuracy``), UA (``balanced_accuracy``), macro/weighted F1, per-class F1, confusion.

    ``labels`` names the classes in index order; the confusion matrix has true classes as rows.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = list(range(len(labels)))
    per_class = f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=classes, average="weighted", zero_division=0)),
        "per_class_f1": {name: float(v) for name, v in zip(labels, per_class, strict=True)},
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "support": int(len(y_true)),
    }


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's balanced accuracy, quiet about a class absent from a small set."""
    import warnings

    with warnings.catch_warnings():  # a class missing from a small validation set is not news
        warnings.simplefilter("ignore", UserWarning)
        return balanced_accuracy_score(y_true, y_pred)


def summarize(runs: Sequence[Mapping[str, object]], labels: Sequence[str]) -> dict[str, object]:
    """Mean and standard deviation (ddof=0) over runs (folds x seeds) of every metric.

    The confusion matrices are summed: every test utterance of every run counted once.
    """
    if not runs:
        raise ValueError("summarize needs at least one run")
    mean: dict[str, object] = {}
    std: dict[str, object] = {}
    for key in SCALARS:
        values = np.array([float(r[key]) for r in runs])
        mean[key], std[key] = float(values.mean()), float(values.std())
    per_class = np.array([[r["per_class_f1"][c] for c in labels] for r in runs])
    mean["per_class_f1"] = dict(zip(labels, per_class.mean(0).tolist(), strict=True))
    std["per_class_f1"] = dict(zip(labels, per_class.std(0).tolist(), strict=True))
    confusion = np.sum([np.asarray(r["confusion"]) for r in runs], axis=0)
    return {**mean, "confusion": confusion.tolist(), "std": std, "n_runs": len(runs)}


def mean_std(mean: float | None, std: float | None, digits: int = 1, scale: float = 1.0) -> str:
    """``"83.5 ± 1.2"`` (both times ``scale``, e.g. 100 for percent); the mean alone when the std is
    missing (a single run says nothing about spread); ``"–"`` when the mean is missing (a row that
    did not run). Every "mean ± std" in tables and summaries is written by this function."""
    if mean is None or not np.isfinite(mean):
        return "–"
    if std is None or not np.isfinite(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"
