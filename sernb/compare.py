"""Side-by-side comparisons: our runs next to the paper's numbers, one protocol next to another.

Used by chapters "Table 1: the comparison" (paper vs ours, rank agreement), "Table 3: efficiency"
(paper-reported figures beside our measurements) and "The evaluation protocol" (random split vs
leave-one-session-out, 6 vs 4 classes). Everything here only rearranges numbers that come from
runs (or are labelled paper-reported); nothing is computed twice in a chapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sernb import metrics
from sernb.metrics import SCALARS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from sernb.experiments import Result


mean_std = metrics.mean_std  # "83.5 ± 1.2", written in one place


# --------------------------------------------------------------------------- chapter 3: Table 1


def paper_vs_ours(table1: pd.DataFrame) -> pd.DataFrame:
    """The display version of ``table1.csv``: our mean ± std beside the paper-reported columns.

    One row per system, indexed by the paper's name. Our columns come from the runs (percent,
    mean ± std over folds x seeds; the mean alone for a single run, whose std says nothing);
    ``paper reported`` columns are the paper's Table 1 as printed.
    """
    need = {"paper_name", "status", "accuracy", "accuracy_std", "macro_f1", "macro_f1_std",
            "paper_reported_accuracy", "paper_reported_f1"}
    missing = sorted(need - set(table1.columns))
    if missing:
        raise KeyError(f"table1 frame lacks columns {missing}; pass the frame sernb.table1.table1 returns")
    runs = table1["n_runs"] if "n_runs" in table1 else pd.Series(2, index=table1.index)
    spread = {k: table1[f"{k}_std"].where(runs > 1) for k in ("accuracy", "macro_f1")}
    out = pd.DataFrame({
        "system": table1.get("system", table1["paper_name"]),
        "text encoder": table1.get("text_encoder", "-"),
        "audio encoder": table1.get("audio_encoder", "-"),
        "status": [s if str(s).startswith("ran") else "not run" for s in table1["status"]],
        "runs": table1.get("n_runs", np.nan),
        "accuracy (ours)": [mean_std(m, s) for m, s in zip(table1["accuracy"], spread["accuracy"], strict=True)],
        "macro-F1 (ours)": [mean_std(m, s) for m, s in zip(table1["macro_f1"], spread["macro_f1"], strict=True)],
        "accuracy (paper reported)": table1["paper_reported_accuracy"],
        "F1 (paper reported)": table1["paper_reported_f1"],
    })
    if "params_m" in table1:
        out["params M (ours)"] = table1["params_m"]
    if "paper_reported_params_m" in table1:
        out["params M (paper reported)"] = table1["paper_reported_params_m"]
    out.index = pd.Index(table1["paper_name"], name="model")
    return out


def not_run_reasons(table1: pd.DataFrame) -> dict[str, str]:
    """Paper name -> why that row did not run (the text after ``"not run: "``)."""
    rows = table1[table1["status"] != "ran"]
    return {name: status.removeprefix("not run: ") for name, status in zip(rows["paper_name"], rows["status"],
                                                                             strict=True)}


def rank_agreement(ours: Mapping[str, float] | pd.Series, paper: Mapping[str, float] | pd.Series
                   ) -> dict[str, Any]:
    """Do two scorings of the same systems order them alike? Spearman, Kendall, discordant pairs.

    Only systems with a finite score on both sides count. ``discordant`` lists the pairs
    ``(a, b)`` that the paper puts in one order and we in the other (ties count as neither).
    With fewer than 3 systems the correlations are NaN: two points always agree or disagree.
    """
    from scipy.stats import kendalltau, spearmanr

    both = pd.DataFrame({"ours": pd.Series(ours, dtype=float), "paper": pd.Series(paper, dtype=float)})
    both = both[np.isfinite(both["ours"]) & np.isfinite(both["paper"])]
    pairs = list(combinations(both.index, 2))
    discordant = [(a, b) for a, b in pairs
                  if np.sign(both.at[a, "ours"] - both.at[b, "ours"])
                  * np.sign(both.at[a, "paper"] - both.at[b, "paper"]) < 0]
    rho = tau = float("nan")
    varied = both["ours"].nunique() > 1 and both["paper"].nunique() > 1
    if len(both) >= 3 and varied:
        rho = float(spearmanr(both["ours"], both["paper"]).statistic)
        tau = float(kendalltau(both["ours"], both["paper"]).statistic)
    return {"n": len(both), "systems": list(both.index), "spearman": rho, "kendall": tau,
            "pairs": len(pairs), "discordant": discordant,
            "order_ours": list(both["ours"].sort_values(ascending=False).index),
            "order_paper": list(both["paper"].sort_values(ascending=False).index)}


def paper_vs_ours_long(table1: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Long frame (model, source, value, error) for :func:`grouped_bars`: paper bars for every row,
    our bars only for rows that ran (the others get no bar, never a zero)."""
    paper_col = {"accuracy": "paper_reported_accuracy", "macro_f1": "paper_reported_f1"}[metric]
    rows = []
    for _, r in table1.iterrows():
        rows.append({"model": r["paper_name"], "source": "paper reported (IEMOCAP)", "value": r[paper_col],
                     "error": np.nan})
        if str(r["status"]).startswith("ran"):
            one = r.get("n_runs", 2) == 1  # the std of one run is not a spread
            rows.append({"model": r["paper_name"], "source": "ours", "value": r[metric],
                         "error": np.nan if one else r[f"{metric}_std"]})
    return pd.DataFrame(rows, columns=["model", "source", "value", "error"])


# --------------------------------------------------------------------------- every chapter: bars


def grouped_bars(long: pd.DataFrame, x: str, y: str, group: str, error: str | None = None, *,
                 title: str = "", y_title: str | None = None, colors: Mapping[str, str] | None = None,
                 log_y: bool = False, text_format: str = ".1f") -> go.Figure:
    """Grouped bars of a long frame: one group of bars per ``x``, one colour per ``group``.

    ``error`` names a column of error-bar half-widths (e.g. the std over runs); missing values
    (NaN) draw no bar, so a system that did not run is visibly absent rather than zero.
    """
    import plotly.express as px

    frame = long.dropna(subset=[y])
    fig = px.bar(frame, x=x, y=y, color=group, barmode="group", error_y=error, text=y, log_y=log_y,
                 category_orders={x: list(dict.fromkeys(long[x])), group: list(dict.fromkeys(long[group]))},
                 color_discrete_map=dict(colors or {}), title=title)
    fig.update_traces(texttemplate=f"%{{text:{text_format}}}", textposition="outside", cliponaxis=False)
    fig.update_layout(height=440, yaxis_title=y_title or y, xaxis_title="", legend_title_text="")
    return fig


# --------------------------------------------------------------------------- chapter 6: Table 3


def paper_table3_frame(report: Mapping[str, Any], systems: pd.DataFrame) -> pd.DataFrame:
    """Our latency and memory beside the paper's Table 3 (paper-reported, on its own GPU).

    ``systems`` is :func:`sernb.bench.systems_frame` of ``report``; only systems the paper
    reports appear. Memory units differ on purpose: ours in MiB as measured, the paper's in GB.
    """
    device = report["environment"]["device_name"]
    rows = []
    for name, paper in report.get("paper_table3", {}).items():
        ours = systems[systems["system"] == name]
        ok = len(ours) and ours["status"].iloc[0] == "ok"
        rows.append({
            "system": name,
            "ms/sample, batch 1 (ours)": float(ours["latency_ms_b1"].iloc[0]) if ok else np.nan,
            "ms/sample, batched (ours)": float(ours["ms_per_sample_batched"].iloc[0]) if ok else np.nan,
            "memory MiB (ours)": float(ours["memory_mb"].iloc[0]) if ok else np.nan,
            "our device": device,
            "ms/sample (paper reported)": paper["ms_per_sample"],
            "memory GB (paper reported)": paper["memory_gb"],
            "paper's device": paper["device"],
        })
    return pd.DataFrame(rows).set_index("system")


def ratio_of(frame: pd.DataFrame, column: str, a: str, b: str, key: str = "system") -> float:
    """``frame[column]`` of row ``a`` divided by that of row ``b`` (NaN when either is missing)."""
    values = frame.set_index(key)[column]
    if a not in values.index or b not in values.index:
        return float("nan")
    return float(values[a] / values[b]) if values[b] else float("nan")


# --------------------------------------------------------------------------- chapter 8: protocols


def runs_frame(results: Iterable[Result], **labels: Any) -> pd.DataFrame:
    """One row per (fold, seed) run of each result, tagged with system, protocol and classes.

    ``labels`` add constant columns (e.g. ``variant="4 classes"``).
    """
    frames = []
    for result in results:
        runs = result.runs
        keep = ["fold", "seed", *[k for k in SCALARS if k in runs]]
        frame = runs[keep].copy()
        frame.insert(0, "classes", result.config["classes"])
        frame.insert(0, "protocol", result.config["protocol"])
        frame.insert(0, "system", result.record["system"])
        for k, v in labels.items():
            frame[k] = v
        frames.append(frame)
    if not frames:
        raise ValueError("runs_frame needs at least one result")
    return pd.concat(frames, ignore_index=True)


def summarize_runs(runs: pd.DataFrame, by: Sequence[str] = ("system", "protocol"),
                   metric: str = "accuracy") -> pd.DataFrame:
    """Mean, std (ddof=0, like :func:`sernb.metrics.summarize`) and count of ``metric`` per group,
    in percent."""
    grouped = runs.groupby(list(by), sort=False)[metric]
    out = grouped.agg(mean=lambda v: 100 * v.mean(), std=lambda v: 100 * v.std(ddof=0), runs="size")
    return out.reset_index()


def protocol_gap(runs: pd.DataFrame, metric: str = "accuracy", between: tuple[str, str] = ("random", "loso"),
                 column: str = "protocol") -> pd.DataFrame:
    """Per system: ``metric`` under each of ``between`` and the gap (first minus second), in points.

    A positive gap means the first setting (by default the random split) scores higher.
    """
    first, second = between
    summary = summarize_runs(runs[runs[column].isin(between)], ("system", column), metric)
    wide = summary.pivot(index="system", columns=column, values=["mean", "std", "runs"])
    missing = [s for s in between if ("mean", s) not in wide.columns]
    if missing:
        raise ValueError(f"no runs with {column} {missing}; have {sorted(runs[column].unique())}")
    order = list(dict.fromkeys(runs["system"]))
    out = pd.DataFrame({
        f"{first} mean": wide[("mean", first)], f"{first} std": wide[("std", first)],
        f"{first} runs": wide[("runs", first)],
        f"{second} mean": wide[("mean", second)], f"{second} std": wide[("std", second)],
        f"{second} runs": wide[("runs", second)],
    }).reindex([s for s in order if s in wide.index])
    out["gap (points)"] = out[f"{first} mean"] - out[f"{second} mean"]
    out["gap (% of " + first + ")"] = 100 * out["gap (points)"] / out[f"{first} mean"]
    out.index.name = "system"
    return out


def per_fold(runs: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean and std over seeds of ``metric`` per system and fold (percent), e.g. per held-out session."""
    return summarize_runs(runs, ("system", "fold"), metric)


#: The four scores of a speaker-independent table, under the names the IEMOCAP literature uses
#: (WA: weighted accuracy = plain accuracy; UA: unweighted accuracy = balanced accuracy).
SCORE_NAMES = {"balanced_accuracy": "UA", "accuracy": "WA", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}


def scores_table(runs: pd.DataFrame, by: str = "classes") -> pd.DataFrame:
    """One row per system, a column per (``by`` value, score): ``"mean ± std"`` over its runs, percent.

    ``runs`` has one row per fold x seed (``sernb table1``'s ``table1_runs.csv``, or
    :func:`runs_frame`), so the spread covers held-out sessions and seeds together.
    """
    cells = {}
    for (system, group), part in runs.groupby(["system", by], sort=False):
        for metric, name in SCORE_NAMES.items():
            v = part[metric]
            cells.setdefault((group, name), {})[system] = mean_std(v.mean(), v.std(ddof=0), scale=100)
        cells.setdefault((group, "runs"), {})[system] = len(part)
    out = pd.DataFrame(cells).reindex(list(dict.fromkeys(runs["system"])))
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=[by, "score"])
    out.index.name = "system"
    return out


def dialog_overlap(table: pd.DataFrame, folds: Sequence[Any]) -> pd.DataFrame:
    """Per fold: share of test utterances whose dialog (conversation) also has utterances in training.

    Complements :func:`sernb.viz.leakage_table` (speakers, sentences): under a random split the
    rest of a test utterance's conversation is usually in training.
    """
    dialogs = table["dialog"].to_numpy()
    rows = []
    for fold in folds:
        seen = set(dialogs[np.concatenate([np.asarray(fold.train), np.asarray(fold.val)]).astype(int)])
        test = dialogs[np.asarray(fold.test).astype(int)]
        shared = np.isin(test, list(seen))
        rows.append({"fold": fold.name, "test dialogs": len(set(test)),
                     "test dialogs also in training": len(set(test) & seen),
                     "test utterances from such dialogs": float(shared.mean()) if len(test) else np.nan})
    return pd.DataFrame(rows).set_index("fold")


def validation_vs_test(results: Iterable[Result]) -> pd.DataFrame:
    """Per run: the validation UA at the epoch early stopping kept, the test UA of that epoch, and
    the gap between them (points), tagged with system and validation source (chapter "The
    evaluation protocol": validation speakers held out of training vs heard in it)."""
    rows = []
    for result in results:
        source = result.config.get("validation", "speakers")
        if source == "none":
            raise ValueError(f"{result.record['system']} was trained without validation rows (validation none): "
                             "it has no validation score to compare with its test score")
        for run in result.record["runs"]:
            history = result.record["history"][run["name"]]
            kept = next(h for h in history if h["epoch"] == run["best_epoch"])
            val, test = 100 * kept["val_balanced_accuracy"], 100 * run["balanced_accuracy"]
            rows.append({"system": result.record["system"], "validation": source, "fold": run["fold"],
                         "seed": run["seed"], "best epoch": run["best_epoch"], "validation UA": val,
                         "test UA": test, "gap (points)": val - test})
    return pd.DataFrame(rows)
