"""``sernb`` on the command line: the same functions the notebooks call, for shell and papermill users.

Each sub-command imports its module lazily so that ``sernb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_synth(args: argparse.Namespace) -> int:
    import signal

    from sernb.data.espeak import EspeakError
    from sernb.data.synth import generate

    # `kill` (SIGTERM) unwinds like Ctrl-C, so render workers are stopped and temporary files removed
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    try:
        root = generate(size=args.size, out=args.out, seed=args.seed, overwrite=args.overwrite, verbose=True)
    except (ValueError, FileExistsError, EspeakError) as exc:  # bad seed, a foreign folder, no eSpeak
        print(f"sernb synth: {exc}", file=sys.stderr)
        return 2
    print(f"synthetic IEMOCAP-format corpus ({args.size}, seed {args.seed}) at {root}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from sernb.reproduce import reproduce

    extra = dict(_parse_param(p) for p in args.param)
    if args.executor:  # the grid first: the chapters then find every result stored
        from sernb import grid

        plans = grid.chapter_experiments(args.profile, args.chapters, data_root=args.data_root,
                                         device=args.device, extra=extra)
        ran = grid.run_grid(plans, _executor_options(args))
        print(ran.summary(), flush=True)
        if not ran.ok:
            print("sernb reproduce: the grid had failed runs (above); rerun to retry them", file=sys.stderr)
            return 1
    try:
        report = reproduce(profile=args.profile, data_root=args.data_root, device=args.device,
                           chapters=args.chapters, build=args.build, extra_parameters=extra,
                           progress=not args.no_progress, cell_timeout=args.cell_timeout,
                           stall_timeout=args.stall_timeout)
    except (KeyError, ValueError, RuntimeError) as exc:  # unknown profile/chapter, no kernel
        print(f"sernb reproduce: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


def _cmd_grid(args: argparse.Namespace) -> int:
    """Expand experiments into runs, skip the stored ones, execute the rest (sernb.grid)."""
    import signal

    from sernb import grid

    # `kill` (SIGTERM) unwinds like Ctrl-C: the local workers are cancelled, not left running
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from sernb.experiments import ExperimentConfig
    from sernb.profiles import settings_from_options

    overrides = settings_from_options(args)
    if args.system:
        plans = [ExperimentConfig.from_profile(args.profile, system=name, **overrides) for name in args.system]
    else:
        extra = dict(_parse_param(p) for p in args.param)
        others = sorted(k for k, v in overrides.items() if v is not None and k not in ("data_root", "device", "progress"))
        if others:
            print(f"sernb grid: error: {', '.join('--' + k.replace('_', '-') for k in others)} apply to --system "
                  "experiments; a chapter's settings are its parameters (-p NAME=VALUE)", file=sys.stderr)
            return 2
        plans = grid.chapter_experiments(args.profile, args.chapters, data_root=overrides.get("data_root"),
                                         device=overrides.get("device") or "auto", extra=extra)
    expanded = grid.expand(plans, args.results)
    print(expanded.describe(), flush=True)
    if args.dry_run:
        for task in expanded.tasks:
            state = "stored" if task in expanded.stored else "to run"
            print(f"  [{state}] {task.label}{' (keeps its model)' if task.keep_model else ''}  {task.run_dir}")
        return 0
    report = grid.run_grid(expanded, _executor_options(args))
    print(report.summary())
    if report.finalized:
        print(f"result.json written for {len(report.finalized)} experiment(s)")
    return 0 if report.ok else 1


def _executor_options(args: argparse.Namespace):
    from sernb.grid import ExecutorOptions

    return ExecutorOptions(executor=args.executor or "local", workers=args.workers, threads=args.threads,
                           log_dir=args.log_dir, partition=args.partition, gpus_per_job=args.gpus_per_job,
                           cpus_per_job=args.cpus_per_job, array_parallelism=args.array_parallelism,
                           time_min=args.time, mem_gb=args.mem, progress=not args.no_progress)


def _add_executor_options(p: argparse.ArgumentParser, default: str | None = "local") -> None:
    """The options of `sernb grid` that say how runs are executed (also on `sernb reproduce`)."""
    from sernb.grid import EXECUTORS

    g = p.add_argument_group("executing the runs (sernb.grid)")
    g.add_argument("--executor", choices=EXECUTORS, default=default,
                   help="local: worker processes on this machine; slurm: a Slurm job array (submitit); "
                   "debug: in this process" + (" (default: %(default)s)" if default else
                                               " (default: no grid; the chapters train what they need)"))
    g.add_argument("--workers", type=int, default=None,
                   help="local: runs at once (default: the cores divided by --threads)")
    g.add_argument("--threads", type=int, default=None,
                   help="threads per run; local: workers x threads may not exceed the cores "
                   "(default: cores / workers); slurm: --cpus-per-job")
    g.add_argument("--partition", default=None, help="slurm: partition (default: the cluster's)")
    g.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per run (default: %(default)s)")
    g.add_argument("--cpus-per-job", type=int, default=None, help="slurm: CPUs per run (default: --threads or 1)")
    g.add_argument("--array-parallelism", type=int, default=64,
                   help="slurm: jobs of the array running at once (default: %(default)s)")
    g.add_argument("--time", type=int, default=240, metavar="MINUTES",
                   help="time limit of one run (default: %(default)s)")
    g.add_argument("--mem", type=float, default=None, metavar="GB", help="slurm: memory per run (default: the partition's)")
    g.add_argument("--log-dir", default=None,
                   help="submitit's folder for job files and logs (default: <results>/_grid_logs)")


def _add_grid_parser(sub: argparse._SubParsersAction) -> None:
    from sernb.profiles import PROFILES, add_setting_options

    p = sub.add_parser(
        "grid",
        help="run the study's (system, fold, seed) runs in parallel: local processes or Slurm job arrays",
        description="Expand experiments into their (system, fold, seed) runs: by default every experiment of "
        "the book's chapters on --profile, or those of --chapters, or one experiment per --system with the "
        "setting options. Runs already stored are skipped; the rest are executed through submitit (local "
        "worker processes, a Slurm job array, or in this process), and each experiment's result.json is "
        "written, so the chapters then only read stored results. A failed run is reported with its log and "
        "does not stop the others; rerunning the command picks up where it stopped.",
    )
    p.add_argument("--profile", default="offline", choices=list(PROFILES), help="run profile (default: %(default)s)")
    p.add_argument("--chapters", nargs="+", default=None, metavar="CHAPTER",
                   help="the experiments of these chapters, by number or name (8, 08_protocol); default: all")
    p.add_argument("--system", nargs="+", default=None, metavar="NAME",
                   help="instead of chapters: one experiment per system with the profile's settings and the "
                   "setting options below")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a chapter parameter, as `sernb reproduce -p` passes it (e.g. -p LOSO_SEEDS=3)")
    add_setting_options(p)
    _add_executor_options(p)
    p.add_argument("--results", default=None, help="results store (default: runs/results or $SERNB_RESULTS)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and whether each is stored; run nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for log files)")
    p.set_defaults(func=_cmd_grid)


def _parse_param(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as YAML (``3``, ``0.5``, ``true``, ``null``, ``[1, 2]``, text)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"--param expects NAME=VALUE, got {text!r}")
    return name, yaml.safe_load(value)


def _cmd_train(args: argparse.Namespace) -> int:
    """Run an experiment (cached under --results) and write result.json, predictions and a model to --out."""
    import json
    import shutil

    from sernb.errors import UserInputError
    from sernb.experiments import ExperimentConfig, run
    from sernb.models.text import OfflineModelError
    from sernb.profiles import settings_from_options

    for option, folder in (("--out", args.out), ("--results", args.results)):  # fail before training, not after
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise UserInputError(folder, f"{option} must be a folder, but this is a file")
    overrides = settings_from_options(args)
    try:
        config = ExperimentConfig.from_profile(args.profile, system=args.system, **overrides)
        result = run(config, results_dir=args.results, force=args.force, keep_model="first")
    except (OfflineModelError, FileNotFoundError, ValueError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err  # no quotes around it
        print(f"sernb train: error: {message}", file=sys.stderr)
        return 2
    from sernb.data.table import summarize_skips
    from sernb.models.checkpoint import is_complete
    from sernb.utils import atomic_write_bytes, clean_stale_temp

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_temp(out)
    for name in ("result.json", "predictions.csv"):  # complete or absent, like every write
        atomic_write_bytes(out / name, (result.path / name).read_bytes())
    first = result.run_path(result.record["runs"][0]["name"]) / "model"
    if is_complete(first):
        staging = out / ".model.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(first, staging)
        shutil.rmtree(out / "model", ignore_errors=True)
        staging.rename(out / "model")
        model_note = f"model of run {result.record['runs'][0]['name']} -> {out / 'model'}"
    else:
        model_note = "no model kept (the result was cached without one; rerun with --force to save it)"
    meta = result.record["meta"]
    if "skipped" in meta:
        print(summarize_skips(meta["corpus"], meta["n_utterances"], meta["skipped"], meta.get("repaired")))
    print(result.summary())
    print(json.dumps({"result": str(out / "result.json"), "cached_at": str(result.path)}))
    print(model_note)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    """Print class probabilities and the top class for one recording."""
    import json

    from sernb.predict import predict_file, read_transcript

    text, text_notes = args.text, []
    if args.text_file:
        if args.text is not None:
            print("sernb predict: error: give the transcript with --text or --text-file, not both", file=sys.stderr)
            return 2
        text, text_notes = read_transcript(args.text_file)
    pred = predict_file(args.wav, text=text, checkpoint=args.checkpoint, device=args.device)
    pred.notes[:0] = text_notes
    if args.json:
        print(json.dumps(pred.to_dict(), indent=2))
        return 0
    for note in pred.notes:
        print(f"note: {note}")
    for warning in pred.warnings:
        print(f"warning: {warning}")
    print(f"system: {pred.system} ({' + '.join(pred.modalities)})")
    for name, p in sorted(pred.probs.items(), key=lambda kv: -kv[1]):
        print(f"  {name:>4}  {p:6.3f}  {'#' * round(40 * p)}")
    print(f"top class: {pred.label}" + (" (see the warnings above)" if pred.warnings else ""))
    return 0


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    from sernb.predict import DEFAULT_CHECKPOINT
    from sernb.profiles import PROFILES, add_setting_options

    p = sub.add_parser(
        "train",
        help="train and evaluate a system over folds and seeds; write result.json",
        description="Train a named system on every fold of a protocol for every seed, evaluate each on its "
        "test part and write OUT/result.json (accuracy, balanced_accuracy, macro_f1, weighted_f1, "
        "per_class_f1, confusion, history, with std over folds x seeds), OUT/predictions.csv and "
        "OUT/model/ (the first run's model, for `sernb predict`). Results are cached by config hash "
        "under --results: the same command returns at once. Profile settings apply unless an option "
        "overrides them; 'none' (e.g. --patience none) asks for no limit where a setting allows it.",
    )
    p.add_argument("--system", default="ours",
                   help="registered system (sernb.models.registry): ours (the paper), baseline, ablation_lstm, ablation_finetune, "
                   "audio_only, text_only, ... (default: %(default)s)")
    p.add_argument("--profile", default="offline", choices=list(PROFILES),
                   help="smoke (CI, tiny corpus), offline (synthetic corpus, MiniLM, CPU) or full "
                   "(IEMOCAP, deberta-v3-base, LOSO, GPU) (default: %(default)s)")
    add_setting_options(p)
    p.add_argument("--out", default=str(DEFAULT_CHECKPOINT.parent),
                   help="where result.json, predictions.csv and model/ go (default: %(default)s)")
    p.add_argument("--results", default=None,
                   help="cache of all results, one folder per config hash (default: runs/results or $SERNB_RESULTS)")
    p.add_argument("--force", action="store_true", help="retrain even if this config has a stored result")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")
    p.set_defaults(func=_cmd_train)


def _add_predict_parser(sub: argparse._SubParsersAction) -> None:
    from sernb.predict import DEFAULT_CHECKPOINT

    p = sub.add_parser(
        "predict",
        help="class probabilities and the top class for a recording you bring",
        description="Predict the emotion of WAV (any sample rate, mono or stereo; converted to the model's "
        "16 kHz mono MFCC) with a model saved by `sernb train`. Models that read text need the "
        "transcript (--text); an audio-only model (--system audio_only) does not.",
    )
    p.add_argument("wav", help="the recording (wav, flac, ogg; other formats through librosa/ffmpeg)")
    p.add_argument("--text", default=None, help="what is said in the recording (needed by audio+text models)")
    p.add_argument("--text-file", default=None, metavar="FILE",
                   help="read the transcript from FILE (UTF-8; other lines are read as cp1252 and reported)")
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT),
                   help="model folder written by `sernb train` (OUT/model) (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.set_defaults(func=_cmd_predict)


def _cmd_table1(args: argparse.Namespace) -> int:
    """Run every Table 1 system (cached) and write OUT/table1.csv; print it."""
    import pandas as pd

    from sernb.profiles import settings_from_options
    from sernb.table1 import table1

    overrides = settings_from_options(args)
    try:
        frame = table1(profile=args.profile, out=args.out,
                       audio_model=args.audio_model, results_dir=args.results, force=args.force, **overrides)
    except (KeyError, ValueError, TypeError) as err:
        print(f"sernb table1: error: {err}", file=sys.stderr)
        return 2
    columns = ["paper_name", "text_encoder", "audio_encoder", "accuracy", "weighted_f1", "params_m",
               "paper_reported_accuracy", "paper_reported_f1", "status"]
    with pd.option_context("display.width", 250, "display.max_colwidth", 60):
        print(frame[columns].to_string(index=False))
    print(f"wrote {Path(args.out) / 'table1.csv'}")
    return 0


def _add_table1_parser(sub: argparse._SubParsersAction) -> None:
    from sernb.profiles import PROFILES, add_setting_options

    p = sub.add_parser(
        "table1",
        help="the paper's Table 1: every comparison system on one corpus and protocol -> table1.csv",
        description="Train and evaluate BLSTM+DCNN, Wav2Vec2.0, DeBERTa V3 (text only), COGMEN, the baseline "
        "and ours (results cached by config hash, so reruns are cheap) and write OUT/table1.csv: encoders "
        "actually used, accuracy / weighted F1 / balanced accuracy / macro-F1 in percent (mean and std over "
        "folds x seeds), parameters, a status, and the paper's reported numbers in paper_reported_* columns. "
        "A row that cannot run here (e.g. no pretrained speech weights offline) is NOT RUN with the reason.",
    )
    p.add_argument("--profile", default="offline", choices=list(PROFILES), help="run profile (default: %(default)s)")
    add_setting_options(p, names=("protocol", "seeds"))
    p.add_argument("--out", default="runs/table1", help="folder for table1.csv (default: %(default)s)")
    p.add_argument("--audio-model", default="wav2vec2-base",
                   help="speech encoder of the Wav2Vec2.0 row: wav2vec2-base, hubert-base, wavlm-base-plus, "
                   "a hub id or a local folder (offline: a folder) (default: %(default)s)")
    add_setting_options(p, names=("text_model", "data_root", "epochs", "device"))
    p.add_argument("--results", default=None,
                   help="cache of all results (default: runs/results or $SERNB_RESULTS)")
    p.add_argument("--force", action="store_true", help="retrain even where a stored result exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")
    p.set_defaults(func=_cmd_table1)


def _cmd_bench(args: argparse.Namespace) -> int:
    """Measure latency, throughput, memory and the fast paths; print a table, write JSON."""
    from sernb.bench import format_report, run_benchmarks
    from sernb.models.text import OfflineModelError

    try:
        report = run_benchmarks(args.profile, device=args.device, json_path=args.json, systems=args.systems,
                                repeats=args.repeats, warmup=args.warmup, n_utts=args.n_utts,
                                batch_size=args.batch_size, text_model=args.text_model,
                                fast_paths=not args.no_fast_paths, paper_size=args.paper_size or None,
                                paper_batch=args.paper_batch, data_root=args.data_root)
    except (OfflineModelError, FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        print(f"sernb bench: error: {err}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        print(f"wrote {args.json}")
    return 0


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:
    from sernb.profiles import PROFILES, add_setting_options

    p = sub.add_parser(
        "bench",
        help="latency, throughput, memory and fast-path speed-ups of every registered system",
        description="For every registered system that can run here: parameters, inference latency per "
        "sample at batch 1, throughput batched, peak memory (process RSS on CPU, "
        "torch.cuda.max_memory_allocated on GPU) and training utterances/s; MFCC preprocessing in hours "
        "of audio per minute; each fast path (MFCC cache, cached frozen text states, length bucketing, "
        "all cores; on CUDA bf16, pinned memory, torch.compile) timed next to the straightforward "
        "version, with their ratio. Timings are medians of repeats after warm-up.",
    )
    p.add_argument("--profile", default="smoke", choices=list(PROFILES),
                   help="corpus, text model and benchmark sizes (smoke: CI, about a minute) (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the full report as JSON to FILE")
    p.add_argument("--systems", nargs="+", default=None, metavar="NAME",
                   help="only these registered systems (default: all)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per figure (default: the profile's)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up calls (default: the profile's)")
    p.add_argument("--n-utts", type=int, default=None, help="utterances to benchmark on (default: the profile's)")
    p.add_argument("--batch-size", type=int, default=None, help="batched-inference and training batch size")
    add_setting_options(p, names=("text_model", "data_root"))
    p.add_argument("--no-fast-paths", action="store_true", help="skip the fast-path comparisons")
    p.add_argument("--paper-size", action="store_true",
                   help="also time the paper's model with a DeBERTa-v3-base-sized encoder of RANDOM weights "
                   "(timing only) and the 256-d BiLSTM")
    p.add_argument("--paper-batch", type=int, default=None,
                   help="batch size for --paper-size (default: --batch-size on GPU, 8 on CPU)")
    p.set_defaults(func=_cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sernb",
        description="Multimodal speech emotion recognition study package (see the book in book/).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "synth",
        help="generate the embedded synthetic corpus (IEMOCAP layout, eSpeak NG speech)",
        description="Write a synthetic corpus in the exact IEMOCAP_full_release layout. "
        "Speech comes from eSpeak NG (the espeakng-loader package); nothing is downloaded. "
        "The same seed gives byte-identical files.",
    )
    p.add_argument("--size", choices=["smoke", "default"], default="default",
                   help="smoke: ~150 utterances for CI; default: ~1,600 for the book (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: data/synth/<size>); IEMOCAP_full_release/ is created inside")
    p.add_argument("--seed", type=int, default=0, help="random seed for text, voices and noise (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="regenerate even if a complete corpus is already there")
    p.set_defaults(func=_cmd_synth)


    p = sub.add_parser(
        "reproduce",
        help="run every book chapter headless on a profile (papermill), then build the book",
        description="Execute each chapter book/NN_*.py with papermill into runs/<profile>/<chapter>.ipynb, "
        "injecting PROFILE, DATA_ROOT and DEVICE into its parameters cell; print a summary (time, output, "
        "failing cell) and build the Jupyter Book from the executed notebooks into book/_build/html. "
        "Exits non-zero if a chapter or the build fails.",
    )
    p.add_argument("--profile", default="offline",
                   help="smoke (CI: tiny corpus and models), offline (default: synthetic corpus, CPU), "
                   "full (GPU server, IEMOCAP under --data-root) (default: %(default)s)")
    p.add_argument("--data-root", default=None,
                   help="folder holding your corpus (e.g. IEMOCAP_full_release) for the full profile")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--chapters", nargs="+", default=None, metavar="CHAPTER",
                   help="only these chapters, by number or name (01, 01_data); default: all")
    p.add_argument("--build", action=argparse.BooleanOptionalAction, default=True,
                   help="build the book into book/_build/html after running (default: build)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="extra parameter for every chapter's parameters cell (repeatable), e.g. -p SEED=1")
    p.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                   help="fail a chapter whose cell runs longer than this; 0: no limit (default: the "
                   "profile's cell_timeout: smoke 900, offline 3600, full 43200)")
    p.add_argument("--stall-timeout", type=float, default=None, metavar="SECONDS",
                   help="fail a chapter whose kernel uses no CPU this long inside a cell (a hung kernel); "
                   "0: never (default: the profile's stall_timeout: smoke 300, offline 600, full 900)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")
    _add_executor_options(p, default=None)
    p.set_defaults(func=_cmd_reproduce)

    _add_train_parser(sub)
    _add_predict_parser(sub)
    _add_bench_parser(sub)
    _add_table1_parser(sub)
    _add_grid_parser(sub)

    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command. Bad input (a :class:`sernb.errors.SernbError`) prints
    ``sernb <command>: error: <file>: <problem>`` and returns 2; anything else is a bug and keeps
    its traceback."""
    from sernb.errors import SernbError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SernbError as err:
        print(f"sernb {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
