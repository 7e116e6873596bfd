"""The paper's model at its real size, measured on this machine, and what the full study would cost.

``sernb bench --paper-scale --data-root DIR`` (chapter "Table 3: efficiency" reads the JSON it
writes; it never runs this itself, which takes several minutes on a CPU):

* the model: ours (40-d MFCC -> BiLSTM 256, 8-head cross-modal attention, MLP) with a text encoder
  of DeBERTa-v3-base's exact shape (12 layers, 768 hidden, 12 heads, 3072 FFN, vocabulary 128,100;
  :func:`sernb.bench.paper_sized_model`) and RANDOM weights: its speed and memory are the real
  model's, its predictions mean nothing;
* the full profile's settings: batch 64, 10 ms MFCC frames (frame_pool 1), at most 1,000 frames,
  128 tokens, AdamW with the paper's two learning rates, gradient clipping 1.0;
* measured: seconds per training step (forward, loss, backward, clip, AdamW step) on random batches
  of 64 real clips, the per-epoch extrapolation, peak memory, data loading (wav -> MFCC ->
  tokens -> padded batches, in clips per second), FLOPs per step (``torch.utils.flop_counter``) and
  where one step's time goes (``torch.profiler``);
* estimated: the same step on one H100 from its bf16 peak and a stated utilisation, and the whole
  study (LOSO x 5 seeds of the paper's model, then Table 1 and the ablation), with the arithmetic.
"""

from __future__ import annotations

import math
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: The full profile's settings that fix the cost of a step.
BATCH, MAX_FRAMES, MAX_TOKENS = 64, 1000, 128
#: NVIDIA H100 SXM dense bf16 tensor-core peak (FLOP/s), from NVIDIA's datasheet (989.4 TFLOPS dense).
H100_BF16_PEAK = 989e12
#: Assumed share of that peak a mixed transformer + LSTM training step reaches (stated, not measured).
H100_UTILISATION = 0.30
#: A 1,000-step bidirectional cuDNN LSTM is sequential: assumed seconds per time step, forward and
#: backward together (both directions run concurrently); not measured here (no GPU).
H100_LSTM_STEP_S = 30e-6


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(data_root: str | os.PathLike, *, n_steps: int = 3, n_load: int = 256, threads: int = 2,
            seed: int = 0, profile_step: bool = True, json_path: str | os.PathLike | None = None,
            progress: bool = True, batch_size: int = BATCH, max_frames: int = MAX_FRAMES,
            max_tokens: int = MAX_TOKENS, tiny: bool = False) -> dict[str, Any]:
    """Measure the paper-sized model's training step on this CPU and write/return the report.

    ``tiny=True`` (and smaller ``batch_size`` / ``max_frames``) runs the same code with the tiny
    test encoder: for tests of this function only; its figures describe nothing.
    """
    from sernb.bench import BenchData, _batch, build_dataset, paper_sized_model
    from sernb.data import load
    from sernb.data.features import extract_mfcc
    from sernb.data.table import label_targets
    from sernb.experiments import class_names
    from sernb.models.registry import build_model
    from sernb.provenance import environment
    from sernb.train import param_groups

    BATCH, MAX_FRAMES, MAX_TOKENS = batch_size, max_frames, max_tokens  # noqa: N806

    torch.set_num_threads(threads)
    say = print if progress else (lambda *a, **k: None)
    started = time.perf_counter()
    table = load("iemocap", data_root, classes=6)
    names = class_names(6)
    durations = (table["end"] - table["start"]).to_numpy()
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {
        "schema": "sernb.paperscale/1", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(torch.device("cpu")), "torch_threads": threads,
        "corpus": {"data_root": str(data_root), "utterances_6class": len(table),
                   "sessions": int(table["session"].nunique()), "speakers": int(table["speaker"].nunique()),
                   "duration_median_s": float(np.median(durations)), "duration_max_s": float(durations.max()),
                   "hours": float(durations.sum() / 3600)},
        "tiny_test_model": tiny,
        "settings": {"batch": BATCH, "max_frames": MAX_FRAMES, "max_tokens": MAX_TOKENS, "frame_pool": 1,
                     "lr": 1e-4, "lr_text": 2e-5, "grad_clip": 1.0},
    }

    # 1. data loading: wav -> MFCC (no cache) -> tokens -> padded batches of 64
    subset = table.iloc[rng.choice(len(table), min(n_load, len(table)), replace=False)].reset_index(drop=True)
    model = (build_model("ours", n_classes=6, text_model="tiny-deberta", max_tokens=MAX_TOKENS) if tiny
             else paper_sized_model(6, MAX_TOKENS))
    extract_mfcc(subset.iloc[:1], use_cache=False, n_jobs=1, progress=False)  # numba warm-up
    t0 = time.perf_counter()
    mfcc = extract_mfcc(subset, use_cache=False, n_jobs=threads, progress=False)
    t_mfcc = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokens = model.text.tokenize(subset["text"].tolist())
    t_tok = time.perf_counter() - t0
    data = BenchData(subset, label_targets(subset["label"], names), 6, MAX_FRAMES,
                     {"text_model": "tiny-deberta", "max_tokens": MAX_TOKENS, "frame_pool": 1},
                     {"device": torch.device("cpu"), "progress": False})
    dataset = build_dataset(model, data, inputs={"mfcc": list(mfcc), "tokens": tokens})
    t0 = time.perf_counter()
    n_batches = sum(1 for i in range(0, len(dataset), BATCH)
                    if _batch(dataset, range(i, min(i + BATCH, len(dataset))), torch.device("cpu")))
    t_collate = time.perf_counter() - t0
    total = t_mfcc + t_tok + t_collate
    report["data_loading"] = {
        "clips": len(subset), "batches": n_batches, "workers": threads, "mfcc_s": t_mfcc, "tokenize_s": t_tok, "collate_s": t_collate,
        "clips_per_s": len(subset) / total, "mfcc_clips_per_s": len(subset) / t_mfcc,
        "audio_seconds_per_s": float((subset["end"] - subset["start"]).sum() / t_mfcc),
        "note": "uncached MFCC; a run caches MFCCs once, after which loading is the collate cost only",
    }
    say(f"data loading: {report['data_loading']['clips_per_s']:.1f} clips/s "
        f"(MFCC {report['data_loading']['mfcc_clips_per_s']:.1f} clips/s on {threads} processes)")

    # 2. training steps on random batches of 64 clips
    model.train()
    optimizer = torch.optim.AdamW(param_groups(model, 1e-4, 2e-5), weight_decay=0.01)
    params = sum(p.numel() for p in model.parameters())
    text_params = sum(p.numel() for p in model.text.backbone.parameters())
    embedding = model.text.backbone.embeddings.word_embeddings.weight.numel()

    def step(batch: dict[str, torch.Tensor]) -> None:
        out = model(batch)
        loss = torch.nn.functional.cross_entropy(out["logits"].float(), batch["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    def random_batch() -> dict[str, torch.Tensor]:
        return _batch(dataset, rng.choice(len(dataset), BATCH, replace=False).tolist(), torch.device("cpu"))

    rss_before = _rss_peak_mb()
    shapes, times = [], []
    for i in range(n_steps + 1):  # the first step (allocations, AdamW state) is warm-up
        batch = random_batch()
        t0 = time.perf_counter()
        step(batch)
        dt = time.perf_counter() - t0
        shapes.append({"frames": int(batch["mfcc"].shape[1]), "tokens": int(batch["tokens"].shape[1])})
        if i:
            times.append(dt)
        say(f"step {i}{' (warm-up)' if not i else ''}: {dt:.1f} s, frames {shapes[-1]['frames']}, "
            f"tokens {shapes[-1]['tokens']}")
    from torch.utils.flop_counter import FlopCounterMode

    batch = random_batch()
    with FlopCounterMode(display=False) as counter:
        step(batch)
    flops = counter.get_total_flops()
    flop_shape = {"frames": int(batch["mfcc"].shape[1]), "tokens": int(batch["tokens"].shape[1])}
    n_train = int(round(len(table) * 4 / 5))
    BATCH_USED = BATCH  # noqa: N806  # LOSO: four of five sessions train
    steps_per_epoch = math.ceil(n_train / BATCH)
    step_s = float(np.median(times))
    report["training"] = {
        "params_m": params / 1e6, "text_encoder_params_m": text_params / 1e6,
        "text_embedding_params_m": embedding / 1e6, "random_weights": True,
        "step_seconds": times, "step_seconds_median": step_s, "batch_shapes": shapes,
        "flops_per_step": flops, "flops_batch_shape": flop_shape,
        "cpu_tflops_achieved": flops / step_s / 1e12,
        "train_utterances_loso_fold": n_train, "steps_per_epoch": steps_per_epoch,
        "epoch_seconds_cpu": steps_per_epoch * step_s,
        "peak_rss_mb": _rss_peak_mb(), "peak_rss_mb_before_training": rss_before,
    }
    say(f"step {step_s:.1f} s (median of {len(times)}), {flops / 1e12:.2f} TFLOP/step, "
        f"epoch ~{steps_per_epoch * step_s / 60:.0f} min, peak RSS {_rss_peak_mb():.0f} MB")

    # 3. where one step's time goes
    if profile_step:
        from torch.profiler import ProfilerActivity, profile, record_function

        batch = random_batch()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            with record_function("forward"):
                out = model(batch)
                loss = torch.nn.functional.cross_entropy(out["logits"].float(), batch["label"])
            with record_function("backward"):
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            with record_function("clip+adamw"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
        averages = prof.key_averages()
        phases = {e.key: e.cpu_time_total / 1e6 for e in averages if e.key in ("forward", "backward", "clip+adamw")}
        top = sorted((e for e in averages if e.key not in phases), key=lambda e: e.self_cpu_time_total,
                     reverse=True)[:12]
        report["profile"] = {
            "phases_s": phases,
            "top_ops": [{"op": e.key, "self_cpu_s": e.self_cpu_time_total / 1e6, "calls": e.count} for e in top],
        }
    report["estimate"] = estimate(report, batch=BATCH_USED)
    report["seconds"] = time.perf_counter() - started
    if json_path is not None:
        from sernb.utils import atomic_write_json

        atomic_write_json(Path(json_path), report)
    return report


def estimate(report: dict[str, Any], utilisation: float = H100_UTILISATION,
             lstm_step_s: float = H100_LSTM_STEP_S, batch: int = BATCH) -> dict[str, Any]:
    """The H100 step and the whole study from the measured figures, with every assumption named."""
    tr = report["training"]
    flops = tr["flops_per_step"]
    frames = tr["flops_batch_shape"]["frames"]
    matmul_s = flops / (H100_BF16_PEAK * utilisation)
    lstm_s = frames * lstm_step_s
    overhead_s = 0.010  # kernel launches, optimizer, host work per step (assumed)
    gpu_step = matmul_s + lstm_s + overhead_s
    steps = tr["steps_per_epoch"]
    eval_share = 0.25  # validation + test forward passes per epoch, relative to a training epoch (assumed)
    epochs = 20  # the full profile's maximum (early stopping with patience 5 usually ends sooner)
    epoch_gpu = steps * gpu_step * (1 + eval_share)
    run_gpu = epochs * epoch_gpu
    runs_ours = 5 * 5  # LOSO folds x seeds
    # Table 1 and the ablation, in units of "one run of ours" (assumed relative costs):
    relative = {"ours": 1.0, "deberta text only (fine-tuned)": 0.8, "cogmen (deberta fine-tuned + graph)": 0.9,
                "baseline (frozen text, states cached)": 0.15, "blstm_dcnn (from scratch)": 0.5,
                "wav2vec2 (frozen, states cached)": 0.1, "ablation +bilstm (frozen text)": 0.45,
                "ablation +fine-tuning (no attention)": 1.0}
    study_runs = runs_ours * sum(relative.values())
    mfcc_once_s = report["corpus"]["hours"] * 3600 / max(report["data_loading"]["audio_seconds_per_s"], 1e-9)
    return {
        "assumptions": {
            "h100_bf16_peak_flops": H100_BF16_PEAK, "utilisation": utilisation,
            "lstm_seconds_per_time_step": lstm_step_s, "overhead_s_per_step": overhead_s,
            "eval_share": eval_share, "epochs": epochs, "relative_run_costs": relative,
        },
        "arithmetic": [
            f"FLOPs per training step (measured, torch.utils.flop_counter, batch {batch}, {frames} frames, "
            f"{tr['flops_batch_shape']['tokens']} tokens): {flops / 1e12:.2f} TFLOP",
            f"matmul time on H100 = {flops / 1e12:.2f} TFLOP / ({H100_BF16_PEAK / 1e12:.0f} TFLOP/s x "
            f"{utilisation:.0%}) = {1000 * matmul_s:.1f} ms",
            f"BiLSTM recurrence = {frames} sequential steps x {lstm_step_s * 1e6:.0f} us = {1000 * lstm_s:.1f} ms",
            f"+ {1000 * overhead_s:.0f} ms overhead -> H100 step ~ {1000 * gpu_step:.0f} ms "
            f"(CPU here: {tr['step_seconds_median']:.1f} s, {tr['step_seconds_median'] / gpu_step:.0f}x slower)",
            f"epoch = {steps} steps x {1000 * gpu_step:.0f} ms x (1 + {eval_share:.2f} evaluation) = "
            f"{epoch_gpu:.1f} s",
            f"one run = {epochs} epochs (upper bound) = {run_gpu / 60:.1f} min",
            f"ours, LOSO x 5 seeds = 25 runs = {runs_ours * run_gpu / 3600:.2f} h",
            f"Table 1 + ablation = {study_runs:.1f} run-equivalents of ours = {study_runs * run_gpu / 3600:.2f} h",
            f"+ MFCC once for {report['corpus']['hours']:.1f} h of audio at the measured "
            f"{report['data_loading']['audio_seconds_per_s']:.0f} audio-s/s = {mfcc_once_s / 60:.1f} min (CPU)",
        ],
        "h100_step_s": gpu_step, "h100_epoch_s": epoch_gpu, "h100_run_s": run_gpu,
        "h100_ours_loso_5_seeds_h": runs_ours * run_gpu / 3600,
        "h100_study_h": study_runs * run_gpu / 3600 + mfcc_once_s / 3600,
        "cpu_ours_loso_5_seeds_days": runs_ours * epochs * steps * tr["step_seconds_median"] * (1 + eval_share) / 86400,
    }


def figures_table(report: dict[str, Any]) -> list[dict[str, str]]:
    """Rows (figure, value, kind) for the efficiency chapter: "measured here" vs "estimated"."""
    tr, dl, est = report["training"], report["data_loading"], report["estimate"]
    rows = [
        ("corpus", f"{report['corpus']['utterances_6class']:,} six-class utterances, "
                   f"{report['corpus']['hours']:.1f} h, max {report['corpus']['duration_max_s']:.0f} s", "measured here"),
        ("parameters (text encoder / all)", f"{tr['text_encoder_params_m']:.0f} M / {tr['params_m']:.0f} M "
                                            "(RANDOM weights)", "measured here"),
        ("training step, batch 64 (CPU)", f"{tr['step_seconds_median']:.1f} s", "measured here"),
        ("FLOPs per training step", f"{tr['flops_per_step'] / 1e12:.2f} TFLOP", "measured here"),
        ("epoch of a LOSO fold (CPU)", f"{tr['steps_per_epoch']} steps = {tr['epoch_seconds_cpu'] / 60:.0f} min",
         "measured here (extrapolated from steps)"),
        ("peak memory (CPU, RSS, whole run incl. the profiled step)", f"{tr['peak_rss_mb'] / 1024:.1f} GB",
         "measured here"),
        ("data loading (wav -> batches, uncached)", f"{dl['clips_per_s']:.0f} clips/s on {dl['workers']} processes",
         "measured here"),
        ("training step on one H100 (bf16)", f"{1000 * est['h100_step_s']:.0f} ms", "estimated"),
        ("ours, LOSO x 5 seeds, on one H100", f"{est['h100_ours_loso_5_seeds_h']:.1f} h", "estimated"),
        ("the whole study (Table 1 + ablation) on one H100", f"{est['h100_study_h']:.1f} h", "estimated"),
        ("ours, LOSO x 5 seeds, on this CPU", f"{est['cpu_ours_loso_5_seeds_days']:.0f} days", "estimated"),
    ]
    return [{"figure": f, "value": v, "kind": k} for f, v, k in rows]
