"""Gold vs recognised transcripts (chapter "The evaluation protocol", section "Gold or recognised text").

The paper, like every chapter before, reads a human transcript of each utterance. A deployed system
has a speech recogniser's instead. Three measurements on the same folds and seeds say what that costs:

(a) train and test on gold text (the paper's setting, ``text_source="gold"``);
(b) the same trained model tested on the recognised text of its test fold (:func:`score_on_recognised`);
(c) train and test on recognised text (``text_source="asr"``, :func:`sernb.experiments.with_text_source`).

The recogniser is :mod:`sernb.asr` (Whisper tiny.en, offline, greedy); its transcripts are cached per
clip, so (b) and (c) share one transcription of the corpus. :func:`wer_by_class` gives the word error
rate of each emotion class, :func:`gold_vs_recognised` the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sernb import asr


def recognised(table: pd.DataFrame, progress: bool = False, **options: Any) -> pd.DataFrame:
    """A copy of ``table`` whose ``text`` is the recogniser's transcript of each clip (cached; an
    empty transcript or a clip it could not read gives ""), with the corpus' own text in ``gold_text``
    and the per-utterance word error rate in ``wer``. ``options`` go to :func:`sernb.asr.transcribe`."""
    transcripts = asr.transcribe(table, on_error="skip", progress=progress, **options)
    out = table.copy()
    out["gold_text"] = table["text"].to_numpy()
    out["text"] = ["" if tr is None else tr.text for tr in transcripts]
    out["wer"] = [asr.wer(g, t) for g, t in zip(out["gold_text"], out["text"], strict=True)]
    out.attrs = dict(table.attrs)
    out.attrs["text_source"] = "asr"
    out.attrs["asr_errors"] = len(transcripts.errors)
    return out


def transcripts_cached(table: pd.DataFrame, **options: Any) -> bool:
    """Whether every clip of ``table`` already has a cached transcript (a check costs one stat per clip)."""
    from sernb.data.audio import AudioError

    try:
        rec = asr.load_recognizer(**options)
    except Exception:  # no recogniser here: nothing is cached either
        return False
    folder = asr.cache_folder(rec)
    try:
        return all(asr.cache_file(p, folder).is_file() for p in table["wav_path"])
    except AudioError:
        return False


def wer_by_class(table: pd.DataFrame, labels: Sequence[str] | None = None) -> pd.Series:
    """Corpus word error rate (all edits / all reference words) per emotion class and overall, in
    percent, of a table from :func:`recognised`."""
    labels = list(labels) if labels is not None else sorted(table["label"].unique())
    out = {c: 100 * asr.corpus_wer(g["gold_text"].tolist(), g["text"].tolist())
           for c, g in table.groupby("label") if c in labels}
    out = {c: out.get(c, float("nan")) for c in labels}
    out["all"] = 100 * asr.corpus_wer(table["gold_text"].tolist(), table["text"].tolist())
    return pd.Series(out, name="WER %")


def score_on_recognised(result: Any, config: Any, table: pd.DataFrame | None = None,
                        device: str = "cpu") -> dict[str, Any]:
    """(b): the first model of a stored ``result`` (trained on gold text) scored on the recognised
    transcripts of its own test fold. Returns the metrics of :func:`sernb.metrics.classification_metrics`
    plus ``n_test`` and the test fold's ``wer`` (percent). ``config`` is the result's
    :class:`~sernb.experiments.ExperimentConfig`; ``table`` its gold corpus table (loaded if None)."""
    from sernb.data.dataset import SERDataset
    from sernb.data.table import label_targets
    from sernb.experiments import class_names, first_fold, first_model, load_corpus, usable_rows
    from sernb.metrics import classification_metrics
    from sernb.models.inputs import prepare_inputs
    from sernb.train import predict
    from sernb.utils import pick_device

    if config.text_source != "gold":
        raise ValueError("score_on_recognised tests a model trained on gold text; this one read "
                         f"text_source={config.text_source!r}")
    table = usable_rows(config, load_corpus(config) if table is None else table)
    model, _, _ = first_model(result, config, table=table, device=device)
    fold, _ = first_fold(result, table)
    test = recognised(table.iloc[list(fold.test)].reset_index(drop=True), progress=config.progress)
    labels = class_names(config.classes, config.corpus, table)
    context = {"device": pick_device(device), "progress": config.progress, "max_frames": config.max_frames}
    data = SERDataset(prepare_inputs(model, test, context), label_targets(test["label"], labels),
                      max_frames=config.max_frames)
    out = predict(model, data, batch_size=config.batch_size, device=context["device"])
    metrics = classification_metrics(out.labels, out.preds, labels)
    metrics["n_test"] = len(test)
    metrics["wer"] = 100 * asr.corpus_wer(test["gold_text"].tolist(), test["text"].tolist())
    return metrics


def gold_vs_recognised(config: Any, seeds: Sequence[int] | None = None, device: str = "cpu",
                       force: bool = False) -> dict[str, Any]:
    """The three measurements (a), (b), (c) for ``config`` (gold text; its system and protocol),
    one seed at a time so that (b) uses each seed's own first model.

    Returns ``{"table": accuracy / UA / macro-F1 per setting (mean ± std over seeds, percent, and the
    accuracy lost against (a)), "wer": WER per class of the test folds, "runs": one row per seed and
    setting}``. Results are cached like every experiment; (b) costs one pass over each test fold.
    """
    from dataclasses import replace

    from sernb.experiments import class_names, first_fold, load_corpus, run, usable_rows
    from sernb.metrics import SCALARS

    seeds = tuple(config.seeds if seeds is None else seeds)
    gold_table = usable_rows(config, load_corpus(config))
    rows, test_wer = [], []
    for seed in seeds:
        gold = replace(config, seeds=(seed,), text_source="gold")
        asr_config = replace(config, seeds=(seed,), text_source="asr")
        a = run(gold, keep_model="first", force=force, table=gold_table)
        b = score_on_recognised(a, gold, table=gold_table, device=device)
        c = run(asr_config, force=force, table=gold_table)
        first = {k: a.record["runs"][0][k] for k in SCALARS}
        rows.append({"seed": seed, "setting": "(a) train gold, test gold", **first})
        rows.append({"seed": seed, "setting": "(b) train gold, test recognised", **{k: b[k] for k in SCALARS}})
        rows.append({"seed": seed, "setting": "(c) train recognised, test recognised",
                     **{k: c.record["runs"][0][k] for k in SCALARS}})
        fold, _ = first_fold(a, gold_table)
        test_wer.append(recognised(gold_table.iloc[list(fold.test)], progress=False))
    runs = pd.DataFrame(rows)
    summary = []
    base = runs[runs["setting"].str.startswith("(a)")]["accuracy"].to_numpy()
    for setting, group in runs.groupby("setting", sort=True):
        row = {"setting": setting, "runs": len(group)}
        for k in ("accuracy", "balanced_accuracy", "macro_f1"):
            row[k] = _mean_std(100 * group[k].to_numpy())
        row["accuracy lost (points)"] = _mean_std(100 * (base - group["accuracy"].to_numpy()))
        summary.append(row)
    wer = wer_by_class(pd.concat(test_wer), class_names(config.classes, config.corpus))
    return {"table": pd.DataFrame(summary).set_index("setting"), "wer": wer, "runs": runs}


def _mean_std(values: np.ndarray) -> str:
    from sernb.metrics import mean_std

    values = np.asarray(values, dtype=float)
    return mean_std(float(values.mean()), float(values.std()) if len(values) > 1 else None, digits=1)
