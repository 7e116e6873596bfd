"""How a trained model copes with noisy speech or a missing modality, and how much it overfits.

Chapter "Beyond the paper: remedies for overfitting" uses these to compare the paper's model with
the remedies of Section 5.1 (:mod:`sernb.augment`). :func:`evaluate` takes the model of an
experiment's first run (fold, seed), re-reads the waveforms of that run's test fold, adds white
noise at decreasing signal-to-noise ratios and, separately, withholds the audio or the text, and
returns one tidy row per condition. Results are cached next to the experiment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from torch import nn

from sernb import experiments
from sernb.augment import add_noise
from sernb.data.dataset import SERDataset
from sernb.data.table import label_targets
from sernb.fingerprint import fingerprint
from sernb.metrics import SCALARS, classification_metrics
from sernb.utils import atomic_write_text, config_hash, pick_device

if TYPE_CHECKING:
    from sernb.data.features import MFCCConfig

#: Signal-to-noise ratios (dB) of the noise conditions, from mild to as loud as the speech.
SNRS = (20, 10, 5, 0)
#: Conditions with one modality withheld: the name says what the model still has.
MISSING = {"audio": "text only (audio missing)", "text": "audio only (text missing)"}


def trained_model(config: experiments.ExperimentConfig, results_dir: str | Path | None = None,
                  device: str = "cpu") -> tuple[nn.Module, dict[str, Any], experiments.Result, pd.DataFrame]:
    """``(model, model.json, result, test table)`` of the first run (fold, seed) of ``config``.

    Runs the experiment if needed, keeping the first model (see :func:`sernb.experiments.first_model`).
    """
    result = experiments.run(config, results_dir, keep_model="first")
    table = experiments.load_corpus(config)
    model, info, _ = experiments.first_model(result, config, table, device=device)
    first_run = result.record["runs"][0]["name"]
    test_ids = result.predictions.loc[result.predictions["run"] == first_run, "utt_id"]
    test = table.set_index("utt_id").loc[test_ids].reset_index()
    return model, info, result, test


def evaluate(config: experiments.ExperimentConfig, snrs: tuple[float, ...] = SNRS,
             missing: tuple[str, ...] = tuple(MISSING), results_dir: str | Path | None = None,
             noise_seed: int = 0, device: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Scores of the first run's model on its test fold: clean, noisy at each SNR, one modality missing.

    Columns: ``condition``, ``snr_db`` (NaN when no noise), ``missing`` (``"none"``, ``"audio"`` or
    ``"text"``), the scalar metrics and ``n``. The noise of utterance ``i`` is seeded by
    ``(noise_seed, i)``, so every model hears the very same noisy test set.
    """
    from tqdm.auto import tqdm

    from sernb.data.features import MFCCConfig
    from sernb.train import predict

    device = device or str(pick_device(config.device))
    model, info, result, test = trained_model(config, results_dir, device=device)
    reads_audio = "mfcc" in model.inputs
    snrs = tuple(snrs) if reads_audio else ()
    if missing and not getattr(model, "accepts_missing_modality", False):
        missing = ()
    cache = result.path / "robustness" / (config_hash({"snrs": snrs, "missing": missing, "seed": noise_seed,
                                                       "run": result.record["runs"][0]["name"],
                                                       "code": fingerprint(__name__)}) + ".csv")
    if cache.exists():
        return pd.read_csv(cache)
    mfcc_config = MFCCConfig(**info.get("mfcc", {}))
    paths = tuple(str(p) for p in test["wav_path"])
    labels = label_targets(test["label"], result.labels)
    base_inputs = experiments.prepare_inputs(model, test, {"device": pick_device(device), "mfcc": []})
    rows = []
    conditions = [(None, None), *[(s, None) for s in snrs], *[(None, m) for m in missing]]
    with text_states_once(model):
        for snr, gone in tqdm(conditions, desc="robustness", disable=not progress, leave=False):
            inputs = dict(base_inputs)
            if reads_audio:
                inputs["mfcc"] = list(noisy_mfccs(paths, snr, noise_seed, mfcc_config))
            data = SERDataset(inputs, labels, max_frames=info.get("max_frames"))
            out = predict(model, data, device=device, missing=gone)
            scores = classification_metrics(out.labels, out.preds, result.labels)
            name = MISSING[gone] if gone else ("clean" if snr is None else f"{snr:g} dB SNR")
            rows.append({"condition": name, "snr_db": np.nan if snr is None else float(snr),
                         "missing": gone or "none", **{k: scores[k] for k in SCALARS}, "n": len(data)})
    frame = pd.DataFrame(rows)
    atomic_write_text(cache, frame.to_csv(index=False))
    return frame


@contextmanager
def text_states_once(model: nn.Module) -> Iterator[None]:
    """Within the block, the text backbone runs once per distinct batch of token ids.

    Every condition reads the same test transcripts in the same batches; only the speech
    changes. The model is in eval mode, so the backbone's states of a batch are the same each
    time, and recomputing them for each condition was most of what :func:`evaluate` cost.
    """
    text = getattr(model, "text", None)
    if text is None or not hasattr(text, "backbone_states"):
        yield
        return
    computed = text.backbone_states
    seen: dict[tuple, Any] = {}

    def once(ids: Any, mask: Any) -> Any:
        key = (tuple(ids.shape), ids.cpu().numpy().tobytes(), mask.cpu().numpy().tobytes())
        if key not in seen:
            seen[key] = computed(ids, mask)
        return seen[key]

    text.backbone_states = once
    try:
        yield
    finally:
        del text.backbone_states  # the class's method again


@lru_cache(maxsize=8)
def noisy_mfccs(paths: tuple[str, ...], snr: float | None, noise_seed: int,
                mfcc_config: MFCCConfig) -> tuple[np.ndarray, ...]:
    """MFCCs of the clips at ``paths`` with white noise at ``snr`` dB (None: clean), clip ``i``'s
    noise seeded by ``(noise_seed, i)``.

    Kept for the process: a chapter comparing several models on one test fold hears the same
    noisy clips for each, and computing them once is most of what :func:`evaluate` costs.
    """
    from sernb.data.audio import load_audio
    from sernb.data.features import mfcc

    waves = (load_audio(p, sr=mfcc_config.sr) for p in paths)
    features = tuple(mfcc(w if snr is None else add_noise(w, snr, np.random.default_rng([noise_seed, i])),
                          mfcc_config) for i, w in enumerate(waves))
    for x in features:
        x.setflags(write=False)  # shared by every caller: nobody may change them in place
    return features


def overfitting(result: experiments.Result) -> dict[str, float]:
    """Mean over runs of the overfit ratio and the validation-to-test gap, both at the best epoch.

    Overfit ratio: training accuracy / validation accuracy (the paper's Table 4). Gap: validation
    balanced accuracy (what early stopping maximised) minus test balanced accuracy.
    """
    ratios, gaps = [], []
    for run in result.record["runs"]:
        best = result.history[run["name"]][run["best_epoch"] - 1]
        ratios.append(best["accuracy"] / max(best["val_accuracy"], 1e-9))
        gaps.append(best["val_balanced_accuracy"] - run["balanced_accuracy"])
    return {"overfit_ratio": float(np.mean(ratios)), "val_test_gap": float(np.mean(gaps))}


def comparison(results: Mapping[str, experiments.Result]) -> pd.DataFrame:
    """One row per named result: test scores (mean and std over runs), overfitting, cost."""
    rows = []
    for name, r in results.items():
        rows.append({"remedy": name, "runs": r.record["n_runs"],
                     "balanced_accuracy": r.record["balanced_accuracy"],
                     "balanced_accuracy_std": r.record["std"]["balanced_accuracy"],
                     "weighted_f1": r.record["weighted_f1"], **overfitting(r),
                     "s_per_epoch": r.record["meta"]["seconds_per_epoch"]})
    return pd.DataFrame(rows).set_index("remedy")
