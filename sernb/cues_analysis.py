"""Accuracy per cue kind, and the paper's claims read kind by kind (chapter "Table 2: the ablation").

On the cue corpus (``sernb synth --cues``, the ``synth_cues`` setting) every utterance says how
it carries its emotion (``cue_kinds``: global, local, contour, lexical, alignment or a combination;
:mod:`sernb.data.cuetable`). An overall accuracy mixes them all; split by kind, the ablation's
runs can answer the paper's claims about its parts directly, at no extra training cost:

* the BiLSTM reads *how* a sentence unfolds, which mean pooling loses: the ``+LSTM`` step should
  gain on ``local`` and ``contour`` (utterance-level statistics of those match across classes);
* fine-tuning adapts the text encoder to emotional words: the ``+fine-tuning`` step should gain
  on ``lexical`` and ``alignment``;
* cross-modal attention aligns the speech with the words: the ``+attention`` step, against the
  same model with concatenation, should gain on ``alignment`` (only which word is stressed
  decides there).

:func:`kind_runs` scores every (system, run) on each kind's test utterances; :func:`kind_table`
gives mean ± std over runs (folds x seeds); :func:`claim_table` compares two systems run by run
(paired: same fold, same seed, same test utterances) and marks each claim from the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sernb.data.cuetable import CUE_COLUMNS
from sernb.metrics import balanced_accuracy

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: The metrics computed per kind (fractions, 0..1).
KIND_METRICS = ("accuracy", "balanced_accuracy")
#: A kind needs at least this many test utterances per run (on average) for a verdict: with fewer,
#: one utterance moves the accuracy by more than 10 points.
MIN_UTTERANCES = 10


@dataclass(frozen=True)
class Claim:
    """A claim of the paper about one step: ``better`` should beat ``worse`` on ``kinds``."""

    name: str
    better: str
    worse: str
    kinds: tuple[str, ...]
    paper: str  # what the paper says, in its words' sense


#: The claims read kind by kind; each compares a step with the configuration it changes (one
#: field apart, as in Table 2). Kinds are the pure ones: a combination such as ``local+lexical``
#: also carries a word any text model reads, which would blur the step's own contribution.
CLAIMS = (
    Claim("BiLSTM vs mean pooling", "ablation_lstm", "baseline", ("local", "contour"),
          "temporal modelling captures dynamics that mean pooling loses"),
    Claim("fine-tuned vs frozen text encoder", "ablation_finetune", "ablation_lstm", ("lexical", "alignment"),
          "fine-tuning adapts the text encoder to emotional words"),
    Claim("cross-modal attention vs concatenation", "ours", "ablation_finetune", ("alignment",),
          "attention aligns speech with the words that carry emotion"),
)


def has_cues(table: pd.DataFrame) -> bool:
    """Whether ``table`` comes from a cue corpus (it has every cue column)."""
    return all(c in table.columns for c in CUE_COLUMNS)


def _predictions(source: Any) -> pd.DataFrame:
    """A result's test predictions (:attr:`sernb.experiments.Result.predictions`) or a frame as is."""
    return source if isinstance(source, pd.DataFrame) else source.predictions


def with_kinds(predictions: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` with the ``cue_kinds`` of each utterance; every prediction must find its row."""
    if not has_cues(table):
        raise ValueError("the table has no cue columns: load a cue corpus (sernb synth --cues, synth_cues=True)")
    kinds = table.assign(utt_id=table["utt_id"].astype(str)).set_index("utt_id")["cue_kinds"]
    out = predictions.assign(utt_id=predictions["utt_id"].astype(str))
    out["cue_kinds"] = out["utt_id"].map(kinds)
    missing = out["cue_kinds"].isna()
    if missing.any():
        raise ValueError(f"{int(missing.sum())} prediction(s) are of utterances not in the table, e.g. "
                         f"{out.loc[missing, 'utt_id'].iloc[0]!r}: predictions and table of different corpora?")
    return out


def kind_runs(results: Mapping[str, Any], table: pd.DataFrame) -> pd.DataFrame:
    """One row per (system, run, cue kinds): ``n`` test utterances of that kind and their
    accuracy and balanced accuracy. ``results`` maps a system name to its
    :class:`~sernb.experiments.Result` (or a predictions frame: run, fold, seed, utt_id, label, pred)."""
    rows = []
    for system, source in results.items():
        preds = with_kinds(_predictions(source), table)
        for (run, fold, seed, kinds), g in preds.groupby(["run", "fold", "seed", "cue_kinds"], sort=True):
            truth, guess = g["label"].to_numpy(), g["pred"].to_numpy()
            rows.append({"system": system, "run": run, "fold": fold, "seed": seed, "cue_kinds": kinds,
                         "n": len(g), "accuracy": float(np.mean(truth == guess)),
                         "balanced_accuracy": float(balanced_accuracy(truth, guess))})
    return pd.DataFrame(rows, columns=["system", "run", "fold", "seed", "cue_kinds", "n", *KIND_METRICS])


def kind_table(runs: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean and std (ddof=0, as every table of the book; NaN for a single run) over runs, in
    percent, per (system, kind).

    Columns: ``runs``, ``utterances per run`` and ``<metric>``, ``<metric> std``; systems keep the
    order they were given in, kinds are sorted.
    """
    order = list(dict.fromkeys(runs["system"]))
    grouped = runs.groupby(["system", "cue_kinds"])
    out = pd.DataFrame({
        "runs": grouped.size(), "utterances per run": grouped["n"].mean(),
        metric: 100 * grouped[metric].mean(), f"{metric} std": 100 * grouped[metric].std(ddof=0),
    }).reset_index()
    out.loc[out["runs"] < 2, f"{metric} std"] = np.nan  # one run says nothing about spread
    out["system"] = pd.Categorical(out["system"], categories=order, ordered=True)
    return out.sort_values(["system", "cue_kinds"]).reset_index(drop=True).round(1)


def kind_pivot(table: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """:func:`kind_table` as one row per cue kind and one column per system: ``"mean ± std"``
    (percent), with the test utterances per run of each kind."""
    from sernb.metrics import mean_std

    cells = table.assign(value=[mean_std(m, s) for m, s in zip(table[metric], table[f"{metric} std"], strict=True)])
    wide = cells.pivot(index="cue_kinds", columns="system", values="value")
    wide = wide[[c for c in table["system"].cat.categories if c in wide.columns]]
    wide.insert(0, "test utterances per run", table.groupby("cue_kinds")["utterances per run"].mean().round(1))
    wide.columns.name = None
    return wide


def paired_gain(runs: pd.DataFrame, better: str, worse: str, kind: str,
                metric: str = "accuracy") -> pd.Series:
    """``better`` minus ``worse`` in points on ``kind``, per (fold, seed) both ran."""
    part = runs[runs["cue_kinds"] == kind]
    a = part[part["system"] == better].set_index(["fold", "seed"])
    b = part[part["system"] == worse].set_index(["fold", "seed"])
    both = a.index.intersection(b.index)
    return 100 * (a.loc[both, metric] - b.loc[both, metric])


def verdict(gains: pd.Series, n_per_run: float, min_utterances: int = MIN_UTTERANCES,
            margin: float = 0.0) -> str:
    """``holds``, ``does not hold`` or ``inconclusive`` for a claim "the step gains", from its
    paired gains (points) over runs.

    Holds: the mean gain is larger than its spread (the std over runs, ddof=0), the screen
    chapter 4 uses for every step. Does not hold: even one spread above its mean the gain is at
    most ``margin`` points (0: the step does not help). Inconclusive: anything between, fewer
    than 2 paired runs (no spread), or fewer than ``min_utterances`` test utterances of the
    kind per run.
    """
    if len(gains) < 2 or n_per_run < min_utterances:
        return "inconclusive"
    mean, spread = float(gains.mean()), float(gains.std(ddof=0))
    if mean > spread:
        return "holds"
    if mean + spread <= margin:
        return "does not hold"
    return "inconclusive"


def claim_table(runs: pd.DataFrame, claims: Sequence[Claim] = CLAIMS, metric: str = "accuracy",
                min_utterances: int = MIN_UTTERANCES, margin: float = 0.0) -> pd.DataFrame:
    """One row per (claim, kind): the paired gain (mean, std, runs) and the :func:`verdict`.

    A claim whose systems or kind are not among ``runs`` gets the verdict ``not run``."""
    rows = []
    for claim in claims:
        for kind in claim.kinds:
            gains = paired_gain(runs, claim.better, claim.worse, kind, metric)
            part = runs[(runs["cue_kinds"] == kind) & runs["system"].isin([claim.better, claim.worse])]
            n_per_run = float(part["n"].mean()) if len(part) else 0.0
            row = {"claim": claim.name, "cue kind": kind, "step": f"{claim.worse} -> {claim.better}",
                   "paper says": claim.paper, "paired runs": len(gains),
                   "test utterances per run": round(n_per_run, 1),
                   "gain (points)": round(float(gains.mean()), 1) if len(gains) else np.nan,
                   "gain std": round(float(gains.std(ddof=0)), 1) if len(gains) > 1 else np.nan}
            row["verdict"] = verdict(gains, n_per_run, min_utterances, margin) if len(gains) else "not run"
            rows.append(row)
    return pd.DataFrame(rows)


def kind_figure(table: pd.DataFrame, metric: str = "accuracy", title: str = "") -> go.Figure:
    """Bars per cue kind, one per system (mean ± std over runs), from :func:`kind_table`."""
    import plotly.express as px

    frame = table.assign(system=table["system"].astype(str))
    fig = px.bar(frame, x="cue_kinds", y=metric, color="system", error_y=f"{metric} std", barmode="group",
                 category_orders={"system": list(dict.fromkeys(frame["system"]))},
                 hover_data=["runs", "utterances per run"], labels={"cue_kinds": "cue kinds", metric: f"{metric} (%)"},
                 title=title)
    fig.update_layout(height=430, yaxis_range=[0, 105])
    return fig
