"""Training curves and result tables for chapters "Training the paper's model", "Table 2: the ablation" and
"Table 4: overfitting".

The tables turn a :class:`sernb.experiments.Result` (its per-epoch ``history``, per-run metrics and
summed confusion matrix) into pandas frames; the figures draw them with plotly (interactive) or
seaborn (static). The paper's own numbers for Table 2, Table 4 and the excitement/happiness F1
are kept here as labelled constants, so a chapter can show them *beside* ours, never instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sernb import paper
from sernb.metrics import mean_std
from sernb.viz import EMOTION_NAMES, emotion_order

if TYPE_CHECKING:
    import matplotlib.figure
    import plotly.graph_objects as go
    from torch import nn

    from sernb.experiments import Result

#: Metrics recorded per epoch for both the training and the validation part (see sernb.train).
CURVE_METRICS = ("loss", "accuracy", "balanced_accuracy", "macro_f1")

#: The paper's Table 2 as ``{system: {"paper name", "accuracy", "f1"}}`` (numbers: sernb.paper).
PAPER_TABLE2: dict[str, dict[str, Any]] = paper.rows(paper.TABLE2)
#: The paper's Table 4 as printed, with its epochs as a column.
PAPER_TABLE4 = paper.TABLE4.reset_index()
#: The paper's excitement-vs-happiness claim (Section 4.3), ``{"f1", "gain_over_baseline"}``.
PAPER_EXC_HAP = paper.rows(paper.EXC_HAP)["exc vs hap"]


# --------------------------------------------------------------------------- labels


def corpus_label(result: Result) -> str:
    """``"SYNTHETIC corpus (IEMOCAP layout), 1,400 utterances"``: what a title must say."""
    meta = result.record["meta"]
    name = "SYNTHETIC corpus (IEMOCAP layout)" if meta.get("synthetic") else str(meta["corpus"]).upper()
    return f"{name}, {meta['n_utterances']:,} utterances, {meta['protocol']} protocol"


def _title(title: str, result: Result) -> str:
    return f"{title}<br><sup>{corpus_label(result)}</sup>"


def pm(mean: float, std: float, scale: float = 100.0, digits: int = 1) -> str:
    """``"83.5 ± 1.2"``: a mean and standard deviation, in percent by default (:func:`sernb.metrics.mean_std`)."""
    return mean_std(mean, std, digits=digits, scale=scale)


# --------------------------------------------------------------------------- model


def parameter_table(model: nn.Module) -> pd.DataFrame:
    """Parameters (total and trainable) of each top-level part of a model, plus the total."""
    rows = []
    for name, part in model.named_children():
        total = sum(p.numel() for p in part.parameters())
        trainable = sum(p.numel() for p in part.parameters() if p.requires_grad)
        rows.append({"part": name, "parameters": total, "trainable": trainable})
    frame = pd.DataFrame(rows)
    frame.loc[len(frame)] = {"part": "total", "parameters": frame["parameters"].sum(),
                             "trainable": frame["trainable"].sum()}
    return frame.set_index("part")


# --------------------------------------------------------------------------- histories


def history_frame(history: Mapping[str, Sequence[Mapping[str, float]]]) -> pd.DataFrame:
    """Long frame of per-epoch histories: one row per run, epoch, split and metric.

    ``history`` is :attr:`Result.history` (run name -> list of epoch records); keys ``val_*``
    belong to the validation split, the others (of :data:`CURVE_METRICS`) to training.
    """
    rows = []
    for run, records in history.items():
        for record in records:
            for key, value in record.items():
                split = "validation" if key.startswith("val_") else "train"
                metric = key.removeprefix("val_")
                if metric in CURVE_METRICS and value is not None:
                    rows.append({"run": run, "epoch": int(record["epoch"]), "split": split,
                                 "metric": metric, "value": float(value)})
    return pd.DataFrame(rows, columns=["run", "epoch", "split", "metric", "value"])


def overfit_frame(history: Mapping[str, Sequence[Mapping[str, float]]]) -> pd.DataFrame:
    """One row per run and epoch: train/val loss and accuracy and the overfit ratio (train/val acc).

    The ratio is the paper's (Table 4): above 1 the model is better on what it trained on.
    """
    frame = history_frame(history)
    frame = frame[frame["metric"].isin(["loss", "accuracy"])]
    wide = frame.assign(column=frame["split"].map({"train": "train_", "validation": "val_"}) + frame["metric"])
    wide = wide.pivot_table(index=["run", "epoch"], columns="column", values="value").reset_index()
    wide.columns.name = None
    if "val_accuracy" not in wide:
        raise ValueError("the history has no validation metrics: the overfit ratio needs a validation part")
    wide["overfit_ratio"] = wide["train_accuracy"] / wide["val_accuracy"].replace(0, np.nan)
    return wide[["run", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "overfit_ratio"]]


def every_k_epochs(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """The paper's table form: the mean over runs at epochs k, 2k, 3k, ... (and ``runs`` averaged).

    ``frame`` is :func:`overfit_frame`; accuracies become percent as in the paper's Table 4.
    """
    if k < 1:
        raise ValueError(f"k={k}: record every k >= 1 epochs")
    kept = frame[frame["epoch"] % k == 0]
    table = kept.drop(columns="run").groupby("epoch").mean()
    table.insert(0, "runs", kept.groupby("epoch").size())
    for column in ("train_accuracy", "val_accuracy"):
        table[column] = 100 * table[column]
    return table.round({"train_loss": 2, "train_accuracy": 1, "val_loss": 2, "val_accuracy": 1,
                        "overfit_ratio": 2}).reset_index()


def paper_table4() -> pd.DataFrame:
    """Table 4 as printed, plus the ratio recomputed from its own accuracy columns."""
    table = PAPER_TABLE4.copy()
    table["ratio from its columns"] = (table["train_accuracy"] / table["val_accuracy"]).round(2)
    return table


def early_stop(records: Sequence[Mapping[str, float]], patience: int | None,
               key: str = "val_balanced_accuracy", *, selection: str = "best",
               n_val: int = 0) -> tuple[int, int]:
    """``(stop epoch, kept epoch)`` had training used early stopping with ``patience`` (None:
    none) and the ``epoch_selection`` rule ``selection`` on ``n_val`` validation rows.

    The rules of :func:`sernb.train.fit`: training stops after ``patience`` epochs in a row that
    do not beat every earlier epoch's ``key``; :func:`sernb.train.keeps_epoch` picks the epoch.
    """
    from sernb.train import keeps_epoch

    top, kept, kept_epoch, bad = -np.inf, -np.inf, 0, 0
    for record in records:
        score, epoch = record[key], int(record["epoch"])
        if score > top:
            top, bad = score, 0
        else:
            bad += 1
        if keeps_epoch(selection, score, kept, top, n_val):
            kept, kept_epoch = score, epoch
        if patience is not None and bad >= patience:
            return epoch, kept_epoch
    return int(records[-1]["epoch"]), kept_epoch


def curves_figure(results: Mapping[str, Result], metrics: Sequence[str] = ("loss", "accuracy"),
                  title: str = "Training curves") -> go.Figure:
    """Per-epoch curves, train (solid) vs validation (dashed), one line per run and system.

    ``results`` maps a display name to a result; each metric gets its own panel.
    """
    import plotly.express as px

    frames = [history_frame(r.history).assign(system=name) for name, r in results.items()]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["metric"].isin(metrics)].assign(line=lambda f: f["system"] + " " + f["run"])
    first = next(iter(results.values()))
    fig = px.line(frame, x="epoch", y="value", color="system" if len(results) > 1 else "split",
                  line_dash="split", line_group="line", facet_col="metric", markers=True,
                  category_orders={"metric": list(metrics), "split": ["train", "validation"]},
                  hover_data=["run"], title=_title(title, first))
    fig.update_yaxes(matches=None, showticklabels=True)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(height=420, xaxis_dtick=1)
    return fig


def ratio_figure(frames: Mapping[str, pd.DataFrame], result: Result) -> go.Figure:
    """Overfit ratio per epoch for each named :func:`overfit_frame`, with the line ratio = 1."""
    import plotly.express as px

    frame = pd.concat([f.assign(system=name) for name, f in frames.items()], ignore_index=True)
    fig = px.line(frame, x="epoch", y="overfit_ratio", color="system", line_group="run", markers=True,
                  hover_data=["run", "train_accuracy", "val_accuracy"],
                  title=_title("Overfit ratio (train accuracy / validation accuracy)", result))
    fig.add_hline(y=1.0, line_dash="dot", line_color="grey")
    fig.update_layout(height=400, yaxis_title="train acc / val acc")
    return fig


# --------------------------------------------------------------------------- test metrics


def runs_table(result: Result) -> pd.DataFrame:
    """Test metrics of every run in percent, then their mean and standard deviation (ddof=0)."""
    from sernb.metrics import SCALARS

    runs = result.runs.set_index("name")[list(SCALARS) + ["best_epoch", "epochs_run"]]
    runs[list(SCALARS)] = 100 * runs[list(SCALARS)]
    summary = runs.agg(["mean", lambda x: x.std(ddof=0)])
    summary.index = ["mean", "std"]
    return pd.concat([runs, summary]).round(1)


def confusion_figure(result: Result, title: str = "Confusion matrix") -> matplotlib.figure.Figure:
    """Static heatmap of the confusion matrix summed over runs, normalised by row (recall per class)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    labels = result.labels
    counts = pd.DataFrame(result.record["confusion"], index=labels, columns=labels)
    order = emotion_order(labels)
    counts = counts.loc[order, order]
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(7, 5.6))
    sns.heatmap(shares, annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=1, linewidths=0.5,
                cbar_kws={"label": "share of the true class"}, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}, rows sum to 100%\n{corpus_label(result)}, {result.record['n_runs']} runs",
                 fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def per_class_f1_frame(results: Mapping[str, Result]) -> pd.DataFrame:
    """Long frame: system, emotion, mean and std over runs of the per-class F1 (in percent)."""
    rows = []
    for name, result in results.items():
        mean, std = result.record["per_class_f1"], result.record["std"]["per_class_f1"]
        for emotion in emotion_order(result.labels):
            rows.append({"system": name, "emotion": emotion, "name": EMOTION_NAMES.get(emotion, emotion),
                         "f1": 100 * mean[emotion], "std": 100 * std[emotion]})
    return pd.DataFrame(rows)


def per_class_f1_figure(results: Mapping[str, Result], highlight: Sequence[str] = ("exc", "hap")
                        ) -> go.Figure:
    """Grouped bars of per-class F1 (mean ± std over runs), ``highlight`` classes shaded."""
    import plotly.express as px

    frame = per_class_f1_frame(results)
    order = list(dict.fromkeys(frame["emotion"]))
    fig = px.bar(frame, x="emotion", y="f1", color="system", error_y="std", barmode="group",
                 hover_data=["name"], category_orders={"emotion": order},
                 title=_title("Per-class F1 on the test part (mean ± std over runs)",
                              next(iter(results.values()))))
    for emotion in highlight:
        if emotion in order:
            i = order.index(emotion)
            fig.add_vrect(x0=i - 0.5, x1=i + 0.5, fillcolor="gold", opacity=0.15, line_width=0)
    fig.update_layout(height=420, yaxis_title="F1 (%)", yaxis_range=[0, 105])
    return fig


def pair_table(results: Mapping[str, Result], a: str = "exc", b: str = "hap") -> pd.DataFrame:
    """For two easily confused classes: their F1s, mean F1, and how often each is taken for the other.

    F1 values are mean ± std over runs; the confusion shares come from the summed confusion matrix.
    """
    rows = {}
    for name, result in results.items():
        per_run = pd.DataFrame([r["per_class_f1"] for r in result.record["runs"]])[[a, b]]
        pair = per_run.mean(axis=1)
        labels = result.labels
        confusion = np.asarray(result.record["confusion"], dtype=float)
        ia, ib = labels.index(a), labels.index(b)
        rows[name] = {
            f"F1 {a}": pm(per_run[a].mean(), per_run[a].std(ddof=0)),
            f"F1 {b}": pm(per_run[b].mean(), per_run[b].std(ddof=0)),
            f"mean F1 {a}+{b}": pm(pair.mean(), pair.std(ddof=0)),
            f"{a} predicted as {b}": f"{confusion[ia, ib] / max(confusion[ia].sum(), 1):.0%}",
            f"{b} predicted as {a}": f"{confusion[ib, ia] / max(confusion[ib].sum(), 1):.0%}",
        }
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------- Table 2


def ablation_table(results: Mapping[str, Result], metric: str = "macro_f1") -> pd.DataFrame:
    """Ours (mean ± std over runs, percent) beside the paper's Table 2, one row per configuration.

    ``results`` maps system names of :data:`PAPER_TABLE2` to results; ``metric`` is the F1 we put
    beside the paper's unspecified "F1-score".
    """
    rows = []
    for system, result in results.items():
        paper = PAPER_TABLE2[system]
        std = result.record["std"]
        rows.append({
            "configuration": paper["paper name"], "system": system, "runs": result.record["n_runs"],
            "accuracy": 100 * result.record["accuracy"], "accuracy std": 100 * std["accuracy"],
            "F1": 100 * result.record[metric], "F1 std": 100 * std[metric],
            "paper reported accuracy": paper["accuracy"], "paper reported F1": paper["f1"],
        })
    return pd.DataFrame(rows).set_index("configuration").round(1)


def step_gains(results: Mapping[str, Result], metric: str = "accuracy") -> pd.DataFrame:
    """Gain of each step over the previous one, in points: ours paired per (fold, seed), and the paper's.

    Runs with the same fold and seed share their split, so the paired difference is the honest
    spread of a gain. ``results`` must be in the order of the steps.
    """
    names = list(results)
    paper_key = "f1" if metric.endswith("f1") else "accuracy"
    rows = []
    for before, after in zip(names, names[1:], strict=False):
        pair = results[before].runs.merge(results[after].runs, on=["fold", "seed"], suffixes=("_0", "_1"))
        diff = 100 * (pair[f"{metric}_1"] - pair[f"{metric}_0"])
        rows.append({"step": PAPER_TABLE2[after]["paper name"], "from": before, "to": after,
                     "paired runs": len(diff), "our gain": diff.mean(), "our gain std": diff.std(ddof=0),
                     "paper reported gain": PAPER_TABLE2[after][paper_key] - PAPER_TABLE2[before][paper_key]})
    return pd.DataFrame(rows).set_index("step").round(1)


def ablation_figure(table: pd.DataFrame, result: Result) -> go.Figure:
    """Bars per configuration: ours (with ± std error bars) beside the paper's reported numbers."""
    import plotly.express as px

    rows = []
    for config, row in table.iterrows():
        for metric in ("accuracy", "F1"):
            rows.append({"configuration": config, "metric": metric, "source": "ours",
                         "value": row[metric], "std": row[f"{metric} std"]})
            rows.append({"configuration": config, "metric": metric, "source": "paper reported (IEMOCAP)",
                         "value": row[f"paper reported {metric}"], "std": float("nan")})
    frame = pd.DataFrame(rows)
    fig = px.bar(frame, x="configuration", y="value", color="source", error_y="std", barmode="group",
                 facet_col="metric", text_auto=".1f",
                 title=_title("Table 2, step by step: ours (mean ± std) vs paper reported", result))
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(height=450, yaxis_title="%", yaxis_range=[0, 105])
    return fig
