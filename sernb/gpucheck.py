"""``make gpu-check`` / ``sernb gpu-check``: everything that needs a GPU, in one run with one summary.

On a machine with CUDA (meant to finish in under 8 minutes on one H100-class GPU):

1. the tests marked ``@pytest.mark.cuda`` (``pytest -m cuda``; skipped where there is no CUDA);
2. ``sernb bench --device cuda`` on the paper's model: fp32 vs bf16 autocast vs torch.compile,
   batch-1 latency and batched throughput, and the model at DeBERTa-v3-base size (random weights);
3. one leave-one-session-out fold of the ``full`` profile (batch 64, 10 ms frames, up to 1,000
   frames, 128 tokens, the paper's learning rates) with a DeBERTa-v3-base-sized stand-in folder
   (hub layout, RANDOM weights: timing and memory only) on a synthetic IEMOCAP-format corpus
   (``--size default`` by default, ``--size iemocap`` for IEMOCAP's size), with peak GPU memory.

Without CUDA it says so plainly and exits 3, unless ``--device cpu --dry-run``: then the same
code runs at toy sizes on the CPU (tiny stand-ins, the smoke corpus, a few steps), which is what
the tests do, so the script cannot rot while no GPU is at hand. The summary is also written as
JSON (``runs/gpu_check.json``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sernb.utils import PROJECT_ROOT

NO_CUDA = ("no CUDA device is present on this machine (torch.cuda.is_available() is False): nothing was "
           "measured. Run `make gpu-check` on a machine with an NVIDIA GPU and a CUDA build of torch, or "
           "`sernb gpu-check --device cpu --dry-run` to test this script's code paths on the CPU.")


def run_gpu_check(device: str = "cuda", dry_run: bool = False, size: str = "default",
                  data_root: str | None = None, json_path: str | Path | None = None,
                  run_tests: bool = True, work: str | Path | None = None) -> dict[str, Any]:
    """Run the three parts (see the module) and return the summary (also printed, and written as JSON)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        summary = {"status": "no cuda", "message": NO_CUDA}
        print(NO_CUDA)
        return summary
    dev = torch.device(device)
    started = time.perf_counter()
    work = Path(work or tempfile.mkdtemp(prefix="sernb-gpu-check-"))
    summary: dict[str, Any] = {"device": str(dev), "dry_run": dry_run,
                               "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
                               "torch": torch.__version__, "parts": {}}
    corpus = data_root or _corpus(work, "smoke" if dry_run else size)
    summary["corpus"] = corpus
    if run_tests:
        summary["parts"]["cuda_tests"] = _guard(_cuda_tests, dry_run)
    summary["parts"]["bench"] = _guard(_bench, dev, corpus, dry_run)
    summary["parts"]["loso_fold"] = _guard(_loso_fold, dev, corpus, work, dry_run)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["status"] = "ok" if all(p.get("status") == "ok" for p in summary["parts"].values()) else "failed"
    print(format_summary(summary))
    if json_path:
        from sernb.utils import atomic_write_json

        atomic_write_json(Path(json_path), summary)
    return summary


def _guard(fn, *args: Any) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        out = fn(*args)
        out.setdefault("status", "ok")
    except Exception as exc:  # one failing part must not hide the others
        out = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def _corpus(work: Path, size: str) -> str:
    from sernb.data.synth import generate

    return str(generate(size, out=work / f"synth-{size}"))


def _cuda_tests(dry_run: bool) -> dict[str, Any]:
    """``pytest -m cuda`` on tests/ (they skip themselves without CUDA)."""
    tests = PROJECT_ROOT / "tests"
    if not tests.is_dir():
        return {"status": "skipped", "reason": "no tests/ folder (an installed sernb without its checkout)"}
    command = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", str(tests)]
    if dry_run:
        command += ["--collect-only"]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, check=False)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    ok = proc.returncode in (0, 5) if dry_run else proc.returncode == 0
    return {"status": "ok" if ok else "failed", "result": last, "returncode": proc.returncode}


def _bench(dev: torch.device, corpus: str, dry_run: bool) -> dict[str, Any]:
    """fp32 / bf16 / torch.compile, batch-1 latency and throughput; the paper-sized model."""
    from sernb.bench import run_benchmarks

    if dry_run:
        report = run_benchmarks("smoke", device=str(dev), systems=["ours"], n_utts=8, repeats=1, warmup=0,
                                data_root=corpus, fast_paths=False, text_model="tiny-deberta")
    else:
        report = run_benchmarks("full", device=str(dev), systems=["ours"], n_utts=256, repeats=10, warmup=3,
                                data_root=corpus, text_model="tiny-deberta", paper_size=True, paper_batch=64)
    systems = {s["system"]: {k: s.get(k) for k in ("latency_ms_b1", "throughput_utts_per_s", "ms_per_sample_batched",
                                                   "memory_mb", "params_m", "status")}
               for s in report["systems"]}
    paper = report.get("paper_size") or {}
    fast = {f["name"]: {k: f.get(k) for k in ("ratio", "slow_s", "fast_s", "status", "reason")}
            for f in report.get("fast_paths", []) if f.get("name") in ("bf16_autocast", "torch_compile",
                                                                       "pinned_memory")}
    return {"systems": systems, "fast_paths": fast,
            "paper_sized": {k: paper.get(k) for k in ("latency_ms_b1", "throughput_utts_per_s",
                                                      "ms_per_sample_batched", "batch", "peak_gpu_mb",
                                                      "memory_mb", "params_m")} if paper else None,
            "targets": "H100 target: <= 5 ms/sample at batch 1, >= 2,000 utts/s batched (paper-sized)"}


def _loso_fold(dev: torch.device, corpus: str, work: Path, dry_run: bool) -> dict[str, Any]:
    """One LOSO fold (test: session 5) of the full profile with a deberta-v3-base-sized stand-in."""
    from sernb.data import load
    from sernb.data.dataset import SERDataset
    from sernb.data.splits import leave_one_session_out
    from sernb.data.table import label_targets
    from sernb.experiments import class_names
    from sernb.models.inputs import prepare_inputs
    from sernb.models.registry import build_model
    from sernb.models.standins import write_deberta_v3_folder
    from sernb.train import TrainConfig, fit, predict

    table = load("iemocap", corpus, classes=6)
    names = class_names(6)
    folder = write_deberta_v3_folder(work / ("deberta-tiny" if dry_run else "deberta-v3-base-sized"),
                                     table["text"].tolist(), size="tiny" if dry_run else "base")
    max_frames, max_tokens, batch = (100, 16, 8) if dry_run else (1000, 128, 64)
    fold = leave_one_session_out(table)[-1]
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    torch.manual_seed(0)
    model = build_model("ours", n_classes=6, text_model=str(folder), max_tokens=max_tokens, frame_pool=1)
    context = {"device": dev, "progress": False}
    labels = label_targets(table["label"], names)
    started = time.perf_counter()
    inputs = prepare_inputs(model, table, context)
    prep_s = time.perf_counter() - started

    def part(rows: np.ndarray) -> SERDataset:
        return SERDataset({k: [v[i] for i in rows] for k, v in inputs.items()}, labels[rows], max_frames=max_frames)

    train, val, test = part(fold.train), part(fold.val), part(fold.test)
    if dry_run:  # a few batches are enough to run the code
        train = part(fold.train[:16])
    model.fit_audio_stats(torch.from_numpy(np.concatenate(train.inputs["mfcc"])))
    config = TrainConfig(epochs=1, patience=None, batch_size=batch, device=str(dev), progress=False)
    start = time.perf_counter()
    result = fit(model, train, val, config, n_classes=6)
    train_s = time.perf_counter() - start
    preds = predict(model, test, batch_size=batch, device=dev)
    accuracy = float((preds.preds == preds.labels).mean())
    steps = int(np.ceil(len(train) / batch))
    out = {"fold": fold.name, "train_utts": len(train), "test_utts": len(test), "epochs": 1,
           "steps": steps, "epoch_s": round(result.history[0]["seconds"], 2), "fit_s": round(train_s, 2),
           "seconds_per_step": round(result.history[0]["seconds"] / steps, 4), "prepare_inputs_s": round(prep_s, 1),
           "accuracy_random_weights": round(accuracy, 3), "text_model": str(folder),
           "note": "RANDOM-weight DeBERTa-v3-base-sized stand-in: timing and memory only"}
    if dev.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
    return out


def format_summary(summary: dict[str, Any]) -> str:
    """The one summary the script prints."""
    lines = [f"sernb gpu-check on {summary.get('gpu') or summary['device']} (torch {summary['torch']})"
             + (" [DRY RUN: toy sizes on the CPU; no figure here is a GPU figure]" if summary["dry_run"] else "")]
    for name, part in summary["parts"].items():
        status = part.get("status")
        detail = {k: v for k, v in part.items() if k not in ("status",)}
        lines.append(f"- {name}: {status} ({part.get('seconds', '?')} s)")
        lines.append("    " + json.dumps(detail, default=str)[:1500])
    lines.append(f"total {summary['seconds']} s; status {summary['status']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="sernb gpu-check", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return command(p.parse_args(argv))


def add_arguments(p) -> None:
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu with --dry-run (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="toy sizes: test the script's code paths (CPU is fine)")
    p.add_argument("--size", choices=["smoke", "default", "iemocap"], default="default",
                   help="synthetic corpus for the LOSO fold and the bench (default: %(default)s)")
    p.add_argument("--data-root", default=None, help="an IEMOCAP-format corpus instead of generating one")
    p.add_argument("--json", default=str(PROJECT_ROOT / "runs" / "gpu_check.json"), help="summary JSON")
    p.add_argument("--no-tests", action="store_true", help="skip pytest -m cuda")


def command(args) -> int:
    summary = run_gpu_check(args.device, dry_run=args.dry_run, size=args.size, data_root=args.data_root,
                            json_path=args.json, run_tests=not args.no_tests)
    if summary["status"] == "no cuda":
        return 3
    return 0 if summary["status"] == "ok" else 1
