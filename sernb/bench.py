"""Latency, throughput, memory and the fast paths, measured on this machine (chapter "Table 3: efficiency").

The paper's Table 3 reports 22.6 ms per sample and 3.1 GB for its model on an NVIDIA P5000
(COGMEN: 38.2 ms, 4.7 GB). :func:`run_benchmarks` measures the same kind of figures for every
registered system that can run here, plus each fast path of the code next to the straightforward
version it replaces, timed in the same run so their ratio means something::

    from sernb.bench import run_benchmarks, format_report
    report = run_benchmarks("smoke")          # also: `sernb bench --profile smoke --json out.json`
    print(format_report(report))

Timings are medians of repeats after warm-up: CI machines and shared 2-core boxes are noisy, and a
median shrugs off the odd slow repeat. CPU memory is the process's resident set size (psutil), so
it includes Python, torch and everything loaded before; on CUDA it is
``torch.cuda.max_memory_allocated`` for that system alone. :func:`scaling` times preprocessing and
one training epoch at several corpus sizes for the efficiency chapter's plot.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sernb import paper
from sernb.data.dataset import BucketBatchSampler, SERDataset, collate
from sernb.data.table import label_targets
from sernb.provenance import cpu_name, environment  # noqa: F401 (re-exported)
from sernb.utils import atomic_write_json, pick_device

SCHEMA = "sernb.bench/1"
#: Figures the paper reports (Table 3), for side-by-side printing only.
PAPER_TABLE3 = {system: {k: v for k, v in row.items() if k != "paper name"}
                for system, row in paper.rows(paper.TABLE3).items()}
#: The static-encoder system used for the frozen-text fast path, and the system for bucketing.
STATIC_SYSTEM = "baseline"
MAIN_SYSTEM = "ours"


@dataclass(frozen=True)
class BenchSettings:
    """How much to measure. :meth:`for_profile` picks sizes that keep ``smoke`` under a minute."""

    profile: str = "smoke"
    device: str = "auto"
    systems: tuple[str, ...] | None = None  # None: every registered system
    n_utts: int = 64  # utterances used for inference timings and the fast paths
    train_utts: int | None = None  # utterances per system's training timing (None: n_utts)
    bucket_system: str = MAIN_SYSTEM  # system trained with random vs bucketed batches
    batch_size: int = 64
    repeats: int = 5  # timed repeats per figure (the median is reported)
    warmup: int = 2  # untimed calls before the repeats
    train_epochs: int = 2  # epochs per training timing; the first is warm-up when > 1
    fast_paths: bool = True
    paper_size: bool = False  # also time the paper-sized model (random DeBERTa-v3-base-sized encoder)
    paper_batch: int | None = None  # batch for the paper-sized model (None: batch_size on GPU, 8 on CPU)
    text_model: str | None = None  # None: the profile's
    data_root: str | None = None  # None: the profile's corpus (a folder with IEMOCAP_full_release or a synthetic one)
    max_frames: int | None = -1  # -1: the profile's

    @classmethod
    def for_profile(cls, profile: str = "smoke", **overrides: Any) -> BenchSettings:
        """Defaults sized for ``profile``; ``overrides`` that are not None win."""
        sizes = {"smoke": dict(n_utts=32, batch_size=32, train_utts=16, repeats=3, warmup=1, train_epochs=1,
                               bucket_system="ablation_lstm"),
                 "full-smoke": dict(n_utts=32, batch_size=32, train_utts=16, repeats=2, warmup=1, train_epochs=1,
                                    bucket_system="ablation_lstm"),
                 "offline": dict(n_utts=256, repeats=7, warmup=2, train_epochs=2),
                 "full": dict(n_utts=512, repeats=20, warmup=5, train_epochs=2)}
        base = {"profile": profile, **sizes.get(profile, {})}
        base.update({k: v for k, v in overrides.items() if v is not None})
        if base.get("systems") is not None:
            base["systems"] = tuple(base["systems"])
        return cls(**base)


# ---------------------------------------------------------------------------------------------
# Timing primitives
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Seconds of each timed repeat; the median is the figure we report."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(statistics.median(self.times))

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "min_s": min(self.times), "max_s": max(self.times),
                "repeats": len(self.times)}


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1,
              device: torch.device | None = None) -> Timing:
    """Median-friendly timing: ``warmup`` untimed calls, then ``repeats`` timed ones.

    The clock is the one :class:`torch.utils.benchmark.Timer` reads
    (``torch.utils.benchmark.utils.timer.timer``): it synchronises the accelerator (CUDA, MPS, ...)
    before each reading, so queued GPU work is counted. Timer itself reports one mean per
    measurement after two untimed calls each; our figures are medians of single calls that can
    take seconds (an epoch, a corpus's MFCC), so each repeat is timed on its own. ``device`` is
    kept for callers; the clock synchronises whatever accelerator is present.
    """
    from torch.utils.benchmark.utils.timer import timer as synced_clock

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = synced_clock()
        fn()
        times.append(synced_clock() - start)
    return Timing(tuple(times))


def speedup(slow_s: float, fast_s: float) -> float:
    """How many times faster the fast path is: ``slow_s / fast_s`` (inf when it takes no time)."""
    if slow_s < 0 or fast_s < 0:
        raise ValueError("times must be non-negative")
    return slow_s / fast_s if fast_s > 0 else math.inf


def fast_path(name: str, slow_label: str, slow: Timing, fast_label: str, fast: Timing,
              target: float | None = None, **extra: Any) -> dict[str, Any]:
    """One fast-path record: both measured times and their ratio (computed here, never typed in)."""
    ratio = speedup(slow.median, fast.median)
    return {"name": name, "slow": slow_label, "fast": fast_label, "slow_s": slow.median,
            "fast_s": fast.median, "ratio": ratio, "target": target,
            "meets_target": None if target is None else bool(ratio >= target),
            "slow_timing": slow.to_dict(), "fast_timing": fast.to_dict(), **extra}


# ---------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------

def rss_mb() -> float:
    """Resident set size of the whole process in MiB (Python, torch and every loaded model)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# ---------------------------------------------------------------------------------------------
# Data for the benchmarks
# ---------------------------------------------------------------------------------------------

@dataclass
class BenchData:
    """The corpus subset every benchmark uses, and the experiment settings it came from."""

    table: pd.DataFrame
    labels: np.ndarray
    n_classes: int
    max_frames: int | None
    shared: dict[str, Any]  # the profile's model options (ExperimentConfig.shared_model_options)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def max_tokens(self) -> int:
        return int(self.shared["max_tokens"])

    def build(self, system: str) -> nn.Module:
        """``system`` built with the profile's shared options (text model, tokens, frame pooling)."""
        from sernb.models.registry import build_with_shared

        return build_with_shared(system, self.n_classes, self.shared)


def load_bench_data(settings: BenchSettings, device: torch.device) -> BenchData:
    """The profile's corpus, subsampled (fixed seed) to ``settings.n_utts`` utterances."""
    from sernb.experiments import ExperimentConfig, class_names, load_corpus

    config = ExperimentConfig.from_profile(settings.profile, text_model=settings.text_model,
                                           data_root=settings.data_root, progress=False)
    table = load_corpus(config)
    if settings.n_utts < len(table):
        table = table.sample(n=settings.n_utts, random_state=0).reset_index(drop=True)
    names = class_names(config.classes, config.corpus, table)
    labels = label_targets(table["label"], names)
    max_frames = config.max_frames if settings.max_frames == -1 else settings.max_frames
    return BenchData(table, labels, len(names), max_frames, config.shared_model_options(),
                     {"device": device, "progress": False})


def build_dataset(model: nn.Module, data: BenchData, inputs: dict[str, list] | None = None) -> SERDataset:
    """The model's inputs for the subset (MFCC and text states come from their caches)."""
    from sernb.experiments import prepare_inputs

    inputs = prepare_inputs(model, data.table, data.context) if inputs is None else inputs
    dataset = SERDataset(inputs, data.labels, max_frames=data.max_frames)
    if hasattr(model, "fit_audio_stats") and "mfcc" in dataset.inputs:
        model.fit_audio_stats(torch.from_numpy(np.concatenate(dataset.inputs["mfcc"])))
    return dataset


def _batch(dataset: SERDataset, rows: Sequence[int], device: torch.device, pin: bool = False
           ) -> dict[str, torch.Tensor]:
    batch = collate([dataset[i] for i in rows])
    if pin:
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return {k: v.to(device, non_blocking=pin) for k, v in batch.items()}


# ---------------------------------------------------------------------------------------------
# Per-system figures
# ---------------------------------------------------------------------------------------------

def count_params_m(model: nn.Module) -> float:
    """All parameters (frozen ones too), in millions."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def inference_timings(model: nn.Module, dataset: SERDataset, settings: BenchSettings,
                      device: torch.device, batch_size: int | None = None) -> dict[str, Any]:
    """Batch-1 latency (cycling through utterances) and batched throughput, in inference mode."""
    model.to(device).eval()
    n = len(dataset)
    batch_size = min(batch_size or settings.batch_size, n)
    singles = [_batch(dataset, [i % n], device) for i in range(settings.warmup + settings.repeats)]
    full = _batch(dataset, range(batch_size), device)
    cursor = iter(singles)
    with torch.inference_mode():
        one = time_call(lambda: model(next(cursor)), settings.repeats, settings.warmup, device)
        many = time_call(lambda: model(full), settings.repeats, settings.warmup, device)
    return {"latency_ms_b1": 1000 * one.median, "batch": batch_size,
            "ms_per_sample_batched": 1000 * many.median / batch_size,
            "throughput_utts_per_s": batch_size / many.median,
            "b1_timing": one.to_dict(), "batched_timing": many.to_dict()}


def train_epoch_seconds(model: nn.Module, dataset: SERDataset, settings: BenchSettings, device: torch.device,
                        n_classes: int, *, bucket: bool = True, batch_size: int | None = None) -> float:
    """Median seconds of one training epoch with :func:`sernb.train.fit` (first epoch dropped if >1)."""
    from sernb.train import TrainConfig, fit

    config = TrainConfig(epochs=settings.train_epochs, batch_size=batch_size or settings.batch_size,
                         patience=None, device=str(device), bucket=bucket, progress=False)
    result = fit(model, dataset, None, config, n_classes=n_classes)
    seconds = [h["seconds"] for h in result.history]
    return float(statistics.median(seconds[1:] if len(seconds) > 1 else seconds))


def compare_epochs(model: nn.Module, slow: tuple[SERDataset, dict[str, Any]], fast: tuple[SERDataset, dict[str, Any]],
                   settings: BenchSettings, device: torch.device, n_classes: int) -> tuple[float, float]:
    """Epoch seconds of the slow and the fast variant, from the same initial weights.

    One untimed warm-up epoch (fast variant) runs first: otherwise whichever variant goes first
    pays the process's one-off costs (first backward pass, allocator growth) and the ratio lies.
    """
    state = {k: v.clone() for k, v in model.state_dict().items()}
    once = replace(settings, train_epochs=1)
    train_epoch_seconds(model, fast[0], once, device, n_classes, **fast[1])
    times = []
    for dataset, options in (slow, fast):
        model.load_state_dict(state)
        times.append(train_epoch_seconds(model, dataset, settings, device, n_classes, **options))
    model.load_state_dict(state)
    return times[0], times[1]


def bench_system(name: str, data: BenchData, settings: BenchSettings, device: torch.device) -> dict[str, Any]:
    """All figures for one registered system, or a record that says why it was skipped."""
    from sernb.models.registry import get_system

    system = get_system(name)
    try:
        model = data.build(name)
        dataset = build_dataset(model, data)
    except Exception as err:  # offline weights, a missing input provider, an unsupported corpus...
        return {"system": name, "status": "skipped", "reason": f"{type(err).__name__}: {err}",
                "paper": system.paper}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    record: dict[str, Any] = {"system": name, "status": "ok", "paper": system.paper,
                              "params_m": count_params_m(model), "inputs": list(dataset.inputs)}
    record.update(inference_timings(model, dataset, settings, device))
    record.update(_memory(device))
    train_set = dataset.subset(range(min(settings.train_utts or len(dataset), len(dataset))))
    seconds = train_epoch_seconds(model, train_set, settings, device, data.n_classes)
    record.update(train_epoch_s=seconds, train_utts=len(train_set), train_utts_per_s=len(train_set) / seconds)
    return record


def _memory(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return {"memory_mb": torch.cuda.max_memory_allocated(device) / 2**20,
                "memory_kind": "torch.cuda.max_memory_allocated (this system's inference)"}
    return {"memory_mb": rss_mb(), "memory_kind": "process RSS after inference (whole process)"}


# ---------------------------------------------------------------------------------------------
# Preprocessing and the fast paths
# ---------------------------------------------------------------------------------------------

def audio_seconds(paths: Sequence[str]) -> float:
    """Total duration of the clips (from their headers, without decoding)."""
    import soundfile as sf

    return float(sum(sf.info(p).duration for p in paths))


def mfcc_benchmarks(data: BenchData, settings: BenchSettings) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Preprocessing throughput, the MFCC cache vs recomputing, and all cores vs one."""
    from sernb.data.features import extract_mfcc

    table = data.table
    hours = audio_seconds(table["wav_path"].tolist()) / 3600
    extract_mfcc(table.iloc[:1], use_cache=False, n_jobs=1, progress=False)  # librosa/numba warm-up
    repeats = max(1, min(settings.repeats, 3))
    one_core = time_call(lambda: extract_mfcc(table, use_cache=False, n_jobs=1, progress=False), repeats, 0)
    cores = os.cpu_count() or 1
    all_cores = time_call(lambda: extract_mfcc(table, use_cache=False, n_jobs=-1, progress=False), repeats, 1)
    with tempfile.TemporaryDirectory(prefix="sernb-bench-mfcc-") as cache:
        extract_mfcc(table, cache_dir=cache, n_jobs=1, progress=False)  # fill the cache
        cached = time_call(lambda: extract_mfcc(table, cache_dir=cache, progress=False), repeats, 1)
    pre = {"clips": len(table), "audio_hours": hours, "seconds_one_core": one_core.median,
           "seconds_all_cores": all_cores.median, "cores": cores,
           "hours_per_minute_one_core": hours / (one_core.median / 60),
           "hours_per_minute_all_cores": hours / (all_cores.median / 60)}
    paths = [
        fast_path("mfcc_cache", "recompute MFCC (1 core)", one_core, "read MFCC cache", cached, target=5.0,
                  clips=len(table)),
        fast_path("mfcc_parallel", "MFCC on 1 core", one_core, f"MFCC on {cores} cores (joblib)", all_cores,
                  clips=len(table), cores=cores,
                  note="workers started in an untimed warm-up call; a cold start costs seconds more"),
    ]
    return pre, paths


def frozen_text_benchmark(data: BenchData, settings: BenchSettings, device: torch.device,
                          system: str = STATIC_SYSTEM) -> dict[str, Any]:
    """A static-encoder epoch on cached token states vs re-encoding the text every epoch.

    The cache is :func:`sernb.models.text.frozen_token_states` (memory + disk, keyed by the
    encoder's weights). The straightforward version feeds token ids, so the frozen backbone runs
    inside every training step. Both train the same model for the same epochs with ``fit``.
    """

    model = data.build(system)
    if getattr(model, "inputs", ()) and "text_states" not in model.inputs:
        raise ValueError(f"system {system!r} does not use cached frozen text states")
    cached_set = build_dataset(model, data)
    tokens = model.text.tokenize(data.table["text"].tolist())
    inputs = {k: v for k, v in cached_set.inputs.items() if k != "text_states"} | {"tokens": tokens}
    encode_set = SERDataset(inputs, data.labels, max_frames=data.max_frames)
    slow, fast = compare_epochs(model, (encode_set, {}), (cached_set, {}), settings, device, data.n_classes)
    once = _encode_once(model, tokens, device, settings.batch_size)
    return fast_path("frozen_text_states", "re-encode text every epoch", Timing((slow,)),
                     "cached frozen token states", Timing((fast,)), target=5.0, system=system,
                     one_off_encode_s=once, utts=len(tokens),
                     note="per-epoch ratio; the cache costs one_off_encode_s once (then disk/memory)")


@torch.inference_mode()
def _encode_once(model: nn.Module, tokens: list[np.ndarray], device: torch.device, batch_size: int) -> float:
    """Seconds for one frozen-backbone pass over all texts: what filling the cache costs."""
    from torch.utils.benchmark.utils.timer import timer as synced_clock

    from sernb.data.dataset import pad

    model.to(device).eval()
    start = synced_clock()
    for i in range(0, len(tokens), batch_size):
        ids, mask = pad(tokens[i:i + batch_size])
        model.text.backbone_states(ids.to(device), mask.to(device))
    return synced_clock() - start


def padded_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of the padded (B x longest) positions that are padding, over all batches."""
    lengths = np.asarray(lengths)
    real = total = 0
    for rows in batches:
        chunk = lengths[list(rows)]
        real += int(chunk.sum())
        total += int(chunk.max()) * len(chunk)
    return 1 - real / total if total else 0.0


def bucketing_benchmark(data: BenchData, settings: BenchSettings, device: torch.device,
                        system: str = MAIN_SYSTEM) -> dict[str, Any]:
    """Length-bucketed vs random batches: padding of frames and tokens, and a training epoch each."""

    model = data.build(system)
    dataset = build_dataset(model, data)
    batch_size = max(2, min(settings.batch_size, len(dataset) // 4))  # several batches, or nothing to sort
    frames = dataset.lengths()
    token_field = next((f for f in ("tokens", "text_states") if f in dataset.inputs), None)
    tokens = [len(x) for x in dataset.inputs[token_field]] if token_field else None
    padding: dict[str, float] = {}
    for bucket in (False, True):
        batches = list(BucketBatchSampler(frames, batch_size, seed=0, shuffle=True, bucket=bucket))
        kind = "bucketed" if bucket else "random"
        padding[f"{kind}_frame_padding"] = padded_fraction(frames, batches)
        if tokens is not None:
            padding[f"{kind}_token_padding"] = padded_fraction(tokens, batches)
    slow, fast = compare_epochs(model, (dataset, {"bucket": False, "batch_size": batch_size}),
                                (dataset, {"bucket": True, "batch_size": batch_size}), settings, device,
                                data.n_classes)
    return fast_path("length_bucketing", "random batches (train epoch)", Timing((slow,)),
                     "length-bucketed batches (train epoch)", Timing((fast,)), system=system,
                     batch_size=batch_size, **padding)


# ---------------------------------------------------------------------------------------------
# GPU-only fast paths and the paper-sized model
# ---------------------------------------------------------------------------------------------

def gpu_benchmarks(data: BenchData, settings: BenchSettings, device: torch.device,
                   system: str = MAIN_SYSTEM) -> list[dict[str, Any]]:
    """bf16 autocast vs fp32, pinned + non_blocking copies vs plain, torch.compile vs eager."""

    model = data.build(system)
    dataset = build_dataset(model, data)
    model.to(device).eval()
    rows = range(min(settings.batch_size, len(dataset)))
    batch = _batch(dataset, rows, device)
    r, w = settings.repeats, settings.warmup

    def run(m: nn.Module, amp: bool) -> Callable[[], Any]:
        def call() -> Any:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                return m(batch)
        return call

    fp32, bf16 = time_call(run(model, False), r, w, device), time_call(run(model, True), r, w, device)
    plain = time_call(lambda: _batch(dataset, rows, device), r, w, device)
    pinned = time_call(lambda: _batch(dataset, rows, device, pin=True), r, w, device)
    out = [fast_path("bf16_autocast", "fp32 inference", fp32, "bf16 autocast inference", bf16, system=system),
           fast_path("pinned_memory", "collate + copy", plain, "collate + pin + non_blocking copy", pinned)]
    try:
        compiled = torch.compile(model)
        comp = time_call(run(compiled, True), r, max(w, 3), device)  # first calls compile
        out.append(fast_path("torch_compile", "eager bf16 inference", bf16, "torch.compile bf16 inference",
                             comp, system=system, note="same padded batch every call (static shapes)"))
    except Exception as err:  # compile is optional; say why it is missing
        out.append({"name": "torch_compile", "status": "skipped", "reason": f"{type(err).__name__}: {err}"})
    return out


def paper_sized_model(n_classes: int = 6, max_tokens: int = 128) -> nn.Module:
    """The paper's model with a DeBERTa-v3-base-SIZED encoder of RANDOM weights (timing only).

    DeBERTa-v3-base's shape (768 hidden, 12 layers, 12 heads, 3072 feed-forward, 128k vocabulary;
    set explicitly, because ``DebertaV2Config()``'s own defaults are the 1.5B xxlarge shape) and its
    disentangled-attention settings, the 256-d BiLSTM and 8-head cross-modal attention. Its predictions mean
    nothing; only its speed and memory are meaningful. Tokens come from the tiny-deberta
    (MiniLM WordPiece) tokenizer, so token counts differ slightly from SentencePiece.
    """
    from transformers import DebertaV2Config, DebertaV2Model

    from sernb.models.registry import build_model

    model = build_model(MAIN_SYSTEM, n_classes=n_classes, text_model="tiny-deberta", max_tokens=max_tokens)
    config = DebertaV2Config(vocab_size=128100, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072, max_position_embeddings=512, relative_attention=True, position_buckets=256, norm_rel_ebd="layer_norm",
                             share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
                             max_relative_positions=-1, type_vocab_size=0)
    text = model.text
    text.backbone = DebertaV2Model(config)
    text.backbone_dim = config.hidden_size
    text.proj = nn.Linear(config.hidden_size, model.config.hidden)
    text.spec = replace(text.spec, name="deberta-v3-base-sized (RANDOM weights, timing only)")
    model.sernb_label = "ours, paper-sized: DeBERTa-v3-base-sized encoder with RANDOM weights (timing only)"
    return model


def paper_size_benchmark(data: BenchData, settings: BenchSettings, device: torch.device) -> dict[str, Any]:
    """ms/sample at batch 1 and utterances/s batched for the paper-sized model (random weights)."""
    model = paper_sized_model(data.n_classes, data.max_tokens)
    dataset = build_dataset(model, data)
    batch = settings.paper_batch or (settings.batch_size if device.type == "cuda" else 8)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    record = {"system": "ours (paper-sized)", "label": model.sernb_label, "random_weights": True,
              "params_m": count_params_m(model)}
    record.update(inference_timings(model, dataset, settings, device, batch_size=batch))
    record.update(_memory(device))
    return record


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------

def run_benchmarks(profile: str = "smoke", *, device: str = "auto", json_path: str | os.PathLike | None = None,
                   settings: BenchSettings | None = None, reuse: bool = False, **overrides: Any) -> dict[str, Any]:
    """Measure everything for ``profile`` and return the report (also written to ``json_path``).

    ``overrides`` adjust :class:`BenchSettings` (e.g. ``repeats=2, systems=["ours"]``). ``reuse``
    returns the report already at ``json_path`` when it was measured with the same settings on the
    same machine and code (see :func:`stored_measurement`), so a rerun of the book does not time
    everything again; its ``"reused"`` field says so.
    """
    from sernb.models.registry import system_names

    settings = settings or BenchSettings.for_profile(profile, device=device, **overrides)
    dev = pick_device(settings.device)
    key = {"settings": _settings_dict(settings), "environment": environment(dev)}
    stored = stored_measurement(json_path, key) if reuse else None
    if stored is not None:
        return stored
    started = time.perf_counter()
    data = load_bench_data(settings, dev)
    names = list(settings.systems) if settings.systems is not None else system_names()
    report: dict[str, Any] = {"schema": SCHEMA, "profile": settings.profile, **key,
                              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "utterances": len(data.table),
                              "paper_table3": PAPER_TABLE3, "systems": [], "fast_paths": []}
    stages: dict[str, float] = {}
    report["stage_seconds"] = stages
    with _stage(stages, "systems"):
        report["systems"] = [bench_system(name, data, settings, dev) for name in names]
    if settings.fast_paths:
        with _stage(stages, "mfcc"):
            report["preprocessing"], mfcc_paths = mfcc_benchmarks(data, settings)
        report["fast_paths"] += mfcc_paths
        with _stage(stages, "frozen_text"):
            report["fast_paths"].append(_guarded("frozen_text_states", frozen_text_benchmark, data, settings, dev))
        with _stage(stages, "bucketing"):
            report["fast_paths"].append(_guarded("length_bucketing", bucketing_benchmark, data, settings, dev,
                                                 settings.bucket_system))
        if dev.type == "cuda":
            with _stage(stages, "gpu"):
                report["fast_paths"] += gpu_benchmarks(data, settings, dev)
        else:
            report["gpu_note"] = "no CUDA device: bf16 autocast, pinned memory and torch.compile not measured"
    if settings.paper_size:
        with _stage(stages, "paper_size"):
            report["paper_size"] = paper_size_benchmark(data, settings, dev)
    report["peak_rss_mb"] = _peak_rss_mb()
    report["seconds"] = time.perf_counter() - started
    if json_path is not None:
        atomic_write_json(json_path, report)
    return report


def stored_measurement(path: str | os.PathLike | None, key: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON at ``path`` if its ``key`` fields equal ``key`` (same settings, machine, versions).

    A timing taken on another machine, with other settings or another sernb/torch version is
    never reused: any difference in ``key`` means measuring again.
    """
    if path is None or not Path(path).is_file():
        return None
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a damaged file is measured again (and overwritten), not an error
    wanted = json.loads(json.dumps(key))  # tuples -> lists, as stored
    if any(stored.get(k) != v for k, v in wanted.items()):
        return None
    return {**stored, "reused": str(path)}


@contextlib.contextmanager
def _stage(stages: dict[str, float], name: str) -> Iterator[None]:
    """Record how long a part of the benchmark took (so a slow CI run says where the time went)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = time.perf_counter() - start


def _guarded(name: str, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one fast-path benchmark; if it cannot run here, record why instead of failing the run."""
    try:
        return fn(*args)
    except Exception as err:
        return {"name": name, "status": "skipped", "reason": f"{type(err).__name__}: {err}"}


def _settings_dict(settings: BenchSettings) -> dict[str, Any]:
    out = asdict(settings)
    out["systems"] = list(settings.systems) if settings.systems is not None else None
    return out


def _peak_rss_mb() -> float | None:
    """Peak resident set size of the process so far (Linux/macOS), in MiB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 2**10


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------

def systems_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per system: the figures that go in the efficiency table."""
    cols = ["system", "status", "params_m", "latency_ms_b1", "ms_per_sample_batched", "throughput_utts_per_s",
            "memory_mb", "train_utts_per_s", "reason"]
    rows = list(report["systems"])
    if report.get("paper_size"):
        rows.append({**report["paper_size"], "status": "ok (random weights)"})
    return pd.DataFrame(rows).reindex(columns=cols)


def fast_paths_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per fast path: both times and the ratio."""
    cols = ["name", "slow", "slow_s", "fast", "fast_s", "ratio", "target", "meets_target", "reason"]
    return pd.DataFrame(report.get("fast_paths", [])).reindex(columns=cols)


def format_report(report: dict[str, Any]) -> str:
    """A plain-text report for the terminal and for logs."""
    env = report["environment"]
    lines = [f"sernb bench, profile {report['profile']}, {report['utterances']} utterances, "
             f"device {env['device']} ({env['device_name']}), torch {env['versions']['torch']}",
             "", _frame_text(systems_frame(report)) if report["systems"] or report.get("paper_size")
             else "(no systems measured)"]
    memory_kind = next((s.get("memory_kind") for s in report["systems"] if s.get("memory_kind")), None)
    if memory_kind:
        lines.append(f"memory_mb: {memory_kind}")
    pre = report.get("preprocessing")
    if pre:
        lines += ["", f"MFCC preprocessing: {pre['audio_hours'] * 60:.1f} min of audio ({pre['clips']} clips): "
                  f"{pre['hours_per_minute_one_core']:.2f} h/min on 1 core, "
                  f"{pre['hours_per_minute_all_cores']:.2f} h/min on {pre['cores']} cores"]
    if report.get("fast_paths"):
        lines += ["", "fast paths (times in seconds, median; ratio = slow / fast):",
                  _frame_text(fast_paths_frame(report))]
    for path in report.get("fast_paths", []):
        if "bucketed_frame_padding" in path:
            lines.append(f"padding, random vs bucketed: frames {path['random_frame_padding']:.1%} vs "
                         f"{path['bucketed_frame_padding']:.1%}" + (
                             f", tokens {path['random_token_padding']:.1%} vs {path['bucketed_token_padding']:.1%}"
                             if "bucketed_token_padding" in path else ""))
    if report.get("gpu_note"):
        lines.append(report["gpu_note"])
    lines += ["", "reported by the paper (Table 3, NVIDIA P5000): ours 22.6 ms/sample, 3.1 GB; "
              "COGMEN 38.2 ms/sample, 4.7 GB", f"benchmark took {report['seconds']:.1f} s"]
    return "\n".join(lines)


def _frame_text(frame: pd.DataFrame) -> str:
    frame = frame.dropna(axis=1, how="all")
    return frame.to_string(index=False, float_format=lambda x: f"{x:.3g}", max_colwidth=48)


# ---------------------------------------------------------------------------------------------
# Scaling with corpus size
# ---------------------------------------------------------------------------------------------

def scaling(profile: str = "offline", sizes: Sequence[int] | None = None, system: str = MAIN_SYSTEM,
            device: str = "auto", json_path: str | os.PathLike | None = None, reuse: bool = False,
            **overrides: Any) -> pd.DataFrame:
    """Preprocessing and one training epoch at four corpus sizes (chapter "Table 3: efficiency" plots it).

    ``sizes`` are utterance counts of nested random subsets of the profile's corpus (default: 1/8,
    1/4, 1/2 and all of it). Preprocessing is MFCC extraction without the cache plus tokenization.
    Rows are written to ``json_path``; ``reuse`` reads them back as :func:`run_benchmarks` does.
    """
    from sernb.data.features import extract_mfcc

    settings = BenchSettings.for_profile(profile, device=device, n_utts=10**9, **overrides)
    dev = pick_device(settings.device)
    key = {"settings": _settings_dict(settings), "environment": environment(dev),
           "sizes": list(sizes) if sizes else None, "system": system}
    stored = stored_measurement(json_path, key) if reuse else None
    if stored is not None:
        return pd.DataFrame(stored["rows"], columns=stored["columns"])
    full = load_bench_data(settings, dev)
    n = len(full.table)
    sizes = sorted(sizes or [max(8, n // 8), max(8, n // 4), max(8, n // 2), n])
    order = np.random.default_rng(0).permutation(n)
    extract_mfcc(full.table.iloc[:1], use_cache=False, n_jobs=1, progress=False)  # numba warm-up
    rows = []
    for size in sizes:
        if size > n:
            raise ValueError(f"size {size} is larger than the corpus ({n} utterances)")
        rows_ = np.sort(order[:size])
        data = replace(full, table=full.table.iloc[rows_].reset_index(drop=True), labels=full.labels[rows_],
                       context={"device": dev, "progress": False})
        model = data.build(system)
        start = time.perf_counter()
        mfcc = extract_mfcc(data.table, use_cache=False, progress=False)
        if getattr(model, "text", None) is not None:
            model.text.tokenize(data.table["text"].tolist())
        prep = time.perf_counter() - start
        data.context["mfcc"] = mfcc
        epoch = train_epoch_seconds(model, build_dataset(model, data), replace(settings, train_epochs=1), dev,
                                    data.n_classes)
        rows.append({"utterances": size, "audio_hours": audio_seconds(data.table["wav_path"].tolist()) / 3600,
                     "preprocess_s": prep, "train_epoch_s": epoch, "system": system, "device": str(dev)})
    frame = pd.DataFrame(rows)
    if json_path is not None:
        atomic_write_json(json_path, {**key, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                      "columns": list(frame.columns), "rows": frame.values.tolist()})
    return frame
