"""The study as a grid of independent runs, executed on this machine or on a Slurm cluster.

``sernb grid`` (and :func:`run_grid`) expands experiments into their (system, fold, seed) runs,
skips the runs already stored, executes the rest through `submitit <https://github.com/facebookincubator/submitit>`_
and then writes each experiment's result.json, so the chapters (``sernb reproduce``) find every
result stored and only draw their figures. The protocol chapter ("The evaluation protocol")
explains how to run the full study on a cluster and shows the measured speed-ups.

What gets expanded
    an experiment (:class:`sernb.experiments.ExperimentConfig`), a chapter's set of experiments
    or the whole book's (:func:`chapter_experiments`; :data:`CHAPTER_EXPERIMENTS` lists, per
    chapter, the experiments it runs, built from the profile and from the chapter's own
    parameters cell, so ``-p LOSO_SEEDS=3`` means the same to the grid as to the chapter).
One run
    one (fold, seed) of one experiment: the folder ``<results>/_runs/<run key>/<fold>__seed<k>/``
    that :func:`sernb.experiments.run_fold` writes. Experiments that differ only in their seed
    list share runs, and so do chapters that run the same experiment: each run is one task.
Skipped
    a run whose folder holds a complete run (run.json written last, :func:`_finished_run`), so a
    rerun of ``sernb grid`` picks up where an interrupted or partly failed grid stopped.
Locked
    :func:`sernb.experiments.run_fold` holds a lock on the run folder while it checks, trains and
    writes (:func:`sernb.utils.folder_lock`), and every file is written atomically; two jobs that
    compute the same run (two grids, a grid and a chapter) take turns, the second reads the run
    the first stored. A job also checks that the run key it computes is the one the grid expanded
    (code and corpus unchanged since submission) and fails otherwise.

Executors: ``local`` (the default: N worker processes here, each limited to T threads with
N x T <= the cores this process may use; submitit's LocalExecutor, one job per run, at most N
at a time), ``slurm`` (one Slurm job array; partition, GPUs, CPUs, memory, time limit, array
parallelism, a log folder) and ``debug`` (submitit's DebugExecutor: in this process, for tests).
Pending runs are handed out longest first (:func:`longest_first`), so the last wave is short.
A failed run is reported with its log file and does not stop the others.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sernb.errors import UserInputError
from sernb.utils import compile_librosa_kernels

EXECUTORS = ("local", "slurm", "debug")


# ---------------------------------------------------------------------------------------------
# What the chapters run
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Planned:
    """An experiment a chapter runs: its config, whether the chapter keeps the first run's model
    (``run(config, keep_model="first")``) and, for one that cannot run here, why not."""

    config: Any  # ExperimentConfig
    keep_first: bool = False
    chapter: str = ""
    skip_reason: str | None = None


def chapter_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """The defaults of a chapter's parameters cell (``# %% tags=["parameters"]``), read, not run.

    Only assignments of literals count (``SYSTEMS = ["ours"]``, ``LOSO_SEEDS = 1``), which is
    what a papermill parameters cell holds.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("# %%") and '"parameters"' in line)
    except StopIteration:
        return {}
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")), len(lines))
    values: dict[str, Any] = {}
    for node in ast.parse("\n".join(lines[start + 1:end])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


class _Chapter:
    """Helpers for one chapter's builder: its parameters and ``config(system, **changes)``."""

    def __init__(self, name: str, params: dict[str, Any]):
        self.name, self.p = name, params

    def config(self, system: str, **changes: Any) -> Any:
        from sernb.experiments import ExperimentConfig

        if self.p.get("TEXT_MODEL") is not None and "text_model" not in changes:
            changes["text_model"] = self.p["TEXT_MODEL"]
        if self.p.get("SYNTH_CUES") is not None and "synth_cues" not in changes:
            changes["synth_cues"] = bool(self.p["SYNTH_CUES"])
        return ExperimentConfig.from_profile(self.p["PROFILE"], system=system, data_root=self.p.get("DATA_ROOT"),
                                             device=self.p.get("DEVICE", "auto"), **changes)

    def plan(self, config: Any, keep_first: bool = False, skip_reason: str | None = None) -> Planned:
        return Planned(config, keep_first, self.name, skip_reason)


def _training(c: _Chapter) -> list[Planned]:  # 02_training
    return [c.plan(c.config("ours"), keep_first=True), c.plan(c.config("baseline"))]


def _table1(c: _Chapter) -> list[Planned]:  # 03_table1: sernb.table1.table1
    from sernb.table1 import CANNOT_RUN, SYSTEMS

    plans = []
    for name in SYSTEMS:
        options, reason = {}, None
        if name == "wav2vec2":
            from sernb.models.wav2vec import DEFAULT_AUDIO_MODEL, resolve_audio_model

            audio = c.p.get("AUDIO_MODEL") or DEFAULT_AUDIO_MODEL
            options = {"audio_model": audio}
            try:
                spec = resolve_audio_model(audio)
                if spec.untrained:
                    reason = f"{spec.label}: untrained weights (Table 1 never reports them)"
            except CANNOT_RUN as err:
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        plans.append(c.plan(c.config(name, model_options=options), skip_reason=reason))
    return plans


def _ablation(c: _Chapter) -> list[Planned]:  # 04_ablation
    return [c.plan(c.config(name)) for name in ("baseline", "ablation_lstm", "ablation_finetune", "ours")]


def _overfitting(c: _Chapter) -> list[Planned]:  # 05_overfitting
    base = c.config("ours")
    epochs = base.epochs if c.p["PROFILE"] == "smoke" else max(c.p.get("EPOCHS", 12), base.epochs)
    settings = dataclasses.replace(base, epochs=epochs, patience=None, seeds=(c.p.get("SEED", 0),))
    plans = [c.plan(settings)]
    if c.p.get("BASELINE", True):
        plans.append(c.plan(dataclasses.replace(settings, system="baseline")))
    return plans


def _first_model(c: _Chapter) -> list[Planned]:  # 07_attention, 09_try_it: the first run's model
    return [c.plan(c.config("ours"), keep_first=True)]


def _protocol(c: _Chapter) -> list[Planned]:  # 08_protocol
    loso_seeds = c.p.get("LOSO_SEEDS", 1)
    loso_seeds = None if loso_seeds is None else tuple(range(loso_seeds))
    plans = []
    for system in c.p.get("SYSTEMS", ["audio_only", "text_only", "ours"]):
        plans.append(c.plan(c.config(system, protocol="random")))
        plans.append(c.plan(c.config(system, protocol="loso", seeds=loso_seeds)))
    for system in c.p.get("VALIDATION_SYSTEMS", ["baseline", "audio_only"]):
        for source in ("speakers", "rows"):
            plans.append(c.plan(c.config(system, protocol="loso", seeds=loso_seeds, validation=source)))
    four_protocol = c.p.get("FOUR_CLASS_PROTOCOL", "random")
    four_seeds = tuple(range(c.p.get("FOUR_CLASS_SEEDS", 1)))
    for system in c.p.get("FOUR_CLASS_SYSTEMS", ["audio_only", "ours"]):
        plans.append(c.plan(c.config(system, classes=4, protocol=four_protocol, seeds=four_seeds)))
        if four_protocol not in ("random", "loso"):  # the chapter reuses the runs above otherwise
            plans.append(c.plan(c.config(system, protocol=four_protocol, seeds=four_seeds)))
    return plans


def _mitigations(c: _Chapter) -> list[Planned]:  # 10_mitigations: its VARIANTS cell
    variants = {
        "paper model": {},
        "+ contrastive loss": {"supcon": c.p.get("SUPCON_WEIGHT", 0.1)},
        "+ augmentation": {"augment_audio": True, "augment_text": True},
        "+ modality dropout": {"modality_dropout": c.p.get("MODALITY_DROPOUT", 0.3)},
    }
    variants["all together"] = {k: v for remedy in variants.values() for k, v in remedy.items()}
    return [c.plan(c.config("ours", protocol=c.p.get("PROTOCOL", "random"), seeds=tuple(range(c.p.get("SEEDS", 1))),
                            mitigations=remedy), keep_first=True) for remedy in variants.values()]


#: Chapter number -> the experiments it runs (a builder of :class:`Planned` from the chapter's
#: parameters). Chapters 1 (data) and 6 (efficiency: timings, no stored results) train nothing
#: the grid could run ahead. Keep in step with the chapters' code cells: a chapter executed after
#: ``sernb grid`` must find every result stored and train nothing.
CHAPTER_EXPERIMENTS: dict[str, Callable[[_Chapter], list[Planned]]] = {
    "02": _training,
    "03": _table1,
    "04": _ablation,
    "05": _overfitting,
    "07": _first_model,
    "08": _protocol,
    "09": _first_model,
    "10": _mitigations,
}


def chapter_experiments(profile: str = "offline", chapters: Sequence[str] | None = None,
                        data_root: str | os.PathLike | None = None, device: str = "auto",
                        extra: dict[str, Any] | None = None, book_dir: Path | None = None) -> list[Planned]:
    """The experiments the chosen chapters (default: the whole book) run on ``profile``.

    Each chapter's parameters are its parameters cell's defaults, then ``PROFILE``, ``DATA_ROOT``
    and ``DEVICE``, then ``extra`` (``sernb grid -p NAME=VALUE``, as ``sernb reproduce`` injects
    them), so the grid trains exactly what the chapters will ask for. ``SYNTH_CUES`` (the cue
    corpus) counts only for the chapters whose parameters cell declares it, as in the chapters.
    """
    from sernb.reproduce import BOOK_DIR, parameters, select_chapters

    book = Path(book_dir or BOOK_DIR)
    injected = parameters(profile, data_root, device, extra)
    plans: list[Planned] = []
    for path in select_chapters(chapters, book):
        number = path.stem.split("_", 1)[0]
        builder = CHAPTER_EXPERIMENTS.get(number)
        if builder is None:
            continue
        declared = chapter_parameters(path)
        params = {**declared, **injected}
        if "SYNTH_CUES" not in declared:  # a chapter without the parameter ignores an injected one
            params.pop("SYNTH_CUES", None)
        plans += builder(_Chapter(path.stem, params))
    return plans


# ---------------------------------------------------------------------------------------------
# Expansion into runs
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunTask:
    """One (fold, seed) of one experiment, as a job executes it (:func:`run_task`)."""

    config: Any  # ExperimentConfig
    seed: int
    fold: str
    run_dir: str
    run_key: str
    keep_model: bool = False

    @property
    def label(self) -> str:
        c = self.config
        extra = f" {c.classes}c" if c.classes != 6 else ""
        remedies = f" +{'+'.join(sorted(c.mitigations))}" if c.mitigations else ""
        return f"{c.system}{remedies} {c.protocol}{extra} {self.fold} seed{self.seed}"


@dataclass
class Grid:
    """The runs of some experiments: which are stored already and which remain (``pending``)."""

    plans: list[Planned]
    tasks: list[RunTask]  # every run, once, in expansion order
    stored: list[RunTask]  # of those, the runs already complete
    results_dir: Path
    skipped: list[Planned] = field(default_factory=list)  # experiments that cannot run here
    experiment_tasks: list[tuple[Planned, list[str]]] = field(default_factory=list)  # run dirs per experiment

    @property
    def pending(self) -> list[RunTask]:
        stored = {t.run_dir for t in self.stored}
        return [t for t in self.tasks if t.run_dir not in stored]

    def describe(self) -> str:
        n_exp = len(self.experiment_tasks)
        lines = [f"{n_exp} experiment(s), {len(self.tasks)} run(s): {len(self.stored)} stored, "
                 f"{len(self.pending)} to run (results in {self.results_dir})"]
        lines += [f"  not run: {p.config.system} ({p.chapter}): {p.skip_reason}" for p in self.skipped]
        return "\n".join(lines)


_TABLES: dict[tuple, Any] = {}


def _usable_table(config: Any) -> Any:
    """The corpus table ``run(config)`` trains on (memoised per corpus and kind of system)."""
    from sernb.experiments import load_corpus, usable_rows
    from sernb.models.registry import get_system

    needs_audio = bool({"audio", "wav"} & set(get_system(config.system).needs))
    key = (config.corpus, config.data_root, config.synth_size, config.synth_cues, config.classes, needs_audio,
           os.environ.get("SERNB_DATA"))
    if key not in _TABLES:
        _TABLES[key] = usable_rows(config, load_corpus(config))
    return _TABLES[key]


def _fold_names(config: Any, table: Any, seed: int) -> list[Any]:
    from sernb.data.splits import make_folds
    from sernb.experiments import fold_options, fold_seed

    return make_folds(table, config.protocol, seed=fold_seed(config.split_seed, seed),
                      **fold_options(config.system, config.protocol, config.validation))


def expand(experiments: Iterable[Any], results_dir: str | os.PathLike | None = None) -> Grid:
    """Every (fold, seed) run of ``experiments`` (configs or :class:`Planned`), each once.

    Loads each corpus once (and computes its features, so jobs only read caches). A run is
    stored when its folder holds a complete run; an experiment that keeps its first run's model
    (``keep_first``) whose first run was stored without one gets the task that trains that model
    beside the runs, where :func:`sernb.experiments.first_model` looks for it.
    """
    from sernb.experiments import _finished_run, experiment_key, results_home
    from sernb.models.checkpoint import is_complete

    results = Path(results_dir) if results_dir is not None else results_home()
    plans = [p if isinstance(p, Planned) else Planned(p) for p in experiments]
    grid = Grid(plans, [], [], results)
    by_dir: dict[str, RunTask] = {}
    for plan in plans:
        if plan.skip_reason:
            grid.skipped.append(plan)
            continue
        config = plan.config
        table = _usable_table(config)
        run_key = experiment_key(config, table, with_seeds=False)
        runs_root = results / "_runs" / run_key
        dirs = []
        for i, seed in enumerate(config.seeds):
            for j, fold in enumerate(_fold_names(config, table, seed)):
                run_dir = runs_root / f"{fold.name}__seed{seed}"
                dirs.append(str(run_dir))
                first = plan.keep_first and i == 0 and j == 0
                task = RunTask(config, seed, fold.name, str(run_dir), run_key, keep_model=first)
                known = by_dir.get(str(run_dir))
                if known is None or (first and not known.keep_model):  # shared runs: once, keeping the model
                    by_dir[str(run_dir)] = task if known is None else dataclasses.replace(known, keep_model=True)
        grid.experiment_tasks.append((plan, dirs))
    for task in list(by_dir.values()):
        run_dir = Path(task.run_dir)
        if task.keep_model and _finished_run(run_dir) is not None and not is_complete(run_dir / "model"):
            side = run_dir.parent / "models" / run_dir.name  # stored without its model: first_model's place
            if not is_complete(side / "model"):
                by_dir[str(side)] = dataclasses.replace(task, run_dir=str(side))
    grid.tasks = list(by_dir.values())
    grid.stored = [t for t in grid.tasks if _is_stored(t)]
    return grid


def _is_stored(task: RunTask) -> bool:
    """A run is stored when complete; a model trained beside a stored run, when the model is."""
    from sernb.experiments import _finished_run
    from sernb.models.checkpoint import is_complete

    folder = Path(task.run_dir)
    if folder.parent.name == "models":
        return _finished_run(folder) is not None and is_complete(folder / "model")
    return _finished_run(folder) is not None


# ---------------------------------------------------------------------------------------------
# One job
# ---------------------------------------------------------------------------------------------

class StaleGridError(RuntimeError):
    """The run key a job computes differs from the grid's: code or corpus changed since submission."""


def run_task(task: RunTask, threads: int | None = None) -> dict[str, Any]:
    """Execute one run (in a worker process or a Slurm job): the job function of every executor.

    ``threads`` limits torch's and the BLAS libraries' threads (the worker's share of the cores).
    Returns a short record: label, metrics, seconds, folder.
    """
    if threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)
    from sernb.experiments import class_names, experiment_key, run_fold
    from sernb.utils import pick_device

    started = time.perf_counter()
    config = dataclasses.replace(task.config, progress=False)  # a log file, not a terminal
    table = _usable_table(config)
    key = experiment_key(config, table, with_seeds=False)
    if key != task.run_key:
        raise StaleGridError(f"run key {key} here, {task.run_key} when the grid was expanded: the code or the "
                             "corpus changed since; run `sernb grid` again")
    fold = next((f for f in _fold_names(config, table, task.seed) if f.name == task.fold), None)
    if fold is None:
        raise StaleGridError(f"no fold {task.fold!r} for seed {task.seed} in this corpus")
    context = {"device": pick_device(config.device), "progress": False}
    record = run_fold(config, table, fold, task.seed, Path(task.run_dir), class_names(config.classes, config.corpus, table), context,
                      keep_model=task.keep_model)
    return {"label": task.label, "run_dir": task.run_dir, "accuracy": record.get("accuracy"),
            "seconds": record.get("seconds"), "wall_seconds": time.perf_counter() - started,
            "host": os.uname().nodename, "threads": threads}


# ---------------------------------------------------------------------------------------------
# Executing a grid
# ---------------------------------------------------------------------------------------------

@dataclass
class ExecutorOptions:
    """How to execute the pending runs (``sernb grid --executor ... --workers ...``)."""

    executor: str = "local"
    workers: int | None = None  # local: processes at once (default: from the cores, see resolve())
    threads: int | None = None  # threads per run (local default: cores // workers; slurm: cpus_per_job)
    log_dir: str | os.PathLike | None = None  # submitit's folder: job pickles and logs
    partition: str | None = None  # slurm
    gpus_per_job: int = 0
    cpus_per_job: int | None = None  # slurm (default: threads or 1)
    array_parallelism: int = 64  # slurm: jobs of the array running at once
    time_min: int = 240  # time limit of one run (job), minutes
    mem_gb: float | None = None  # slurm memory per job (default: the partition's)
    poll_s: float = 1.0
    progress: bool = True

    def resolve(self) -> ExecutorOptions:
        """Fill the defaults; refuse a local budget that oversubscribes the cores."""
        if self.executor not in EXECUTORS:
            raise UserInputError(None, f"unknown executor {self.executor!r}; choose from {', '.join(EXECUTORS)}")
        for name in ("workers", "threads", "cpus_per_job"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserInputError(None, f"--{name.replace('_', '-')} must be at least 1, not {value}")
        out = dataclasses.replace(self)
        if self.executor == "local":
            cores = available_cores()
            if out.workers is None:
                out.workers = max(1, cores // (out.threads or 1))
            if out.threads is None:
                out.threads = max(1, cores // out.workers)
            if out.workers * out.threads > cores:
                raise UserInputError(None, f"{out.workers} workers x {out.threads} threads = "
                                     f"{out.workers * out.threads} threads on {cores} cores: that oversubscribes "
                                     "this machine; lower --workers or --threads")
        elif self.executor == "slurm":
            out.threads = out.threads or out.cpus_per_job or 1
            out.cpus_per_job = out.cpus_per_job or out.threads
            if out.poll_s < 5:
                out.poll_s = 5.0  # sacct is polled; be kind to the controller
        return out


def available_cores() -> int:
    """Cores this process may use (its CPU affinity, e.g. a Slurm allocation), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass
class Outcome:
    task: RunTask
    ok: bool
    record: dict[str, Any] | None = None
    error: str | None = None
    log: str | None = None


@dataclass
class GridReport:
    """What :func:`run_grid` did: counts, per-run outcomes, failures with their logs, timings."""

    grid: Grid
    options: ExecutorOptions
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    finalized: list[str] = field(default_factory=list)  # result.json written for these experiments

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def run_seconds(self) -> list[float]:
        """Training time of each run executed now (from its run.json)."""
        return [float(o.record["seconds"]) for o in self.outcomes if o.ok and o.record and o.record.get("seconds")]

    def summary(self) -> str:
        o = self.options
        done = sum(1 for x in self.outcomes if x.ok)
        how = {"local": f"local, {o.workers} worker(s) x {o.threads} thread(s)",
               "slurm": f"slurm, partition {o.partition or '(default)'}, {o.gpus_per_job} GPU(s) and "
                        f"{o.cpus_per_job} CPU(s) per job",
               "debug": "debug (in this process)"}[o.executor]
        lines = [f"grid: {len(self.grid.tasks)} run(s): {len(self.grid.stored)} already stored, {done} done now, "
                 f"{len(self.failed)} failed; {self.wall_seconds:.1f} s wall ({how})"]
        seconds = self.run_seconds
        if seconds:
            lines.append(f"runs executed: {len(seconds)}, training time {sum(seconds):.0f} s in all, "
                         f"{sum(seconds) / len(seconds):.1f} s per run on average")
        for f in self.failed:
            lines.append(f"FAILED {f.task.label}: {f.error}" + (f"\n    log: {f.log}" if f.log else ""))
        if self.failed:
            lines.append("rerun the same command to retry the failed runs (stored runs are skipped)")
        lines += [f"not run: {p.config.system} ({p.chapter}): {p.skip_reason}" for p in self.grid.skipped]
        return "\n".join(lines)


def _make_executor(options: ExecutorOptions, n_runs: int = 1) -> Any:
    import submitit

    folder = Path(options.log_dir)
    threads = options.threads or 1
    exports = f"export OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads}"
    if options.executor == "debug":
        return submitit.DebugExecutor(folder=folder)
    if options.executor == "local":
        executor = submitit.LocalExecutor(folder=folder)
        # a local worker works through many runs: its limit is --time per run it may take. Its
        # thread budget goes in its environment (thread_env), not in a `setup` shell, so that
        # cancelling (Ctrl-C) reaches the worker itself
        executor.update_parameters(timeout_min=options.time_min * n_runs, gpus_per_node=options.gpus_per_job)
        return executor
    if shutil.which("sbatch") is None:
        raise UserInputError(None, "--executor slurm needs Slurm's sbatch on PATH (run on a cluster's login node); "
                             "use --executor local on this machine")
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")  # logs: <array>_<index>_0_log.out
    params: dict[str, Any] = {"timeout_min": options.time_min, "cpus_per_task": options.cpus_per_job,
                              "tasks_per_node": 1, "nodes": 1, "name": "sernb-grid",
                              "slurm_array_parallelism": options.array_parallelism, "slurm_setup": [exports]}
    if options.gpus_per_job:
        params["gpus_per_node"] = options.gpus_per_job
    if options.partition:
        params["slurm_partition"] = options.partition
    if options.mem_gb:
        params["mem_gb"] = options.mem_gb
    executor.update_parameters(**params)
    return executor


def _log_path(job: Any) -> str | None:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 (a job that never started may have no paths)
        return None


def _error_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    # submitit wraps a job's exception with its traceback: its last line is the error itself
    return (lines[-1] if lines else type(exc).__name__)[:500]


def run_grid(experiments: Iterable[Any] | Grid, options: ExecutorOptions | None = None,
             results_dir: str | os.PathLike | None = None, finalize: bool = True) -> GridReport:
    """Expand ``experiments`` (or take an expanded :class:`Grid`), execute the pending runs and,
    with ``finalize``, write the result.json of every experiment whose runs are all stored.

    Failures are collected, not raised: the report lists each with its error and log file.
    """
    options = (options or ExecutorOptions()).resolve()
    grid = experiments if isinstance(experiments, Grid) else expand(experiments, results_dir)
    if options.log_dir is None:
        options.log_dir = grid.results_dir / "_grid_logs"
    report = GridReport(grid, options)
    started = time.perf_counter()
    pending = longest_first(grid.pending, options.workers or 1)
    if pending:
        _prepare_workers()
        compile_librosa_kernels()  # the workers then read numba's cache, never write it side by side
        if options.executor == "slurm":
            report.outcomes = _execute_slurm(pending, options)
        else:
            report.outcomes = _execute_pool(pending, options)
    report.wall_seconds = time.perf_counter() - started
    if finalize:
        report.finalized = _finalize(grid)
    return report


def _prepare_workers() -> None:
    """Jobs must import this very ``sernb`` (a checkout on PYTHONPATH): pass its folder on."""
    import sernb

    root = str(Path(sernb.__file__).resolve().parent.parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


def _bar(total: int, options: ExecutorOptions) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="grid", unit="run", disable=not options.progress, dynamic_ncols=True)


def work_through(tasks: Sequence[RunTask], index: int = 0, threads: int | None = None,
                 failures_dir: str | None = None) -> list[dict[str, Any]]:
    """A local worker: the job function of ``--executor local`` (and ``debug``).

    Each of the N workers walks the whole list, starting at its own place, and takes every run
    nobody has stored or claimed: the claim is a lock file ``<run>.claim`` held while it trains
    (released by the kernel if the worker dies). So a worker imports torch and loads the corpus
    once for many runs, the workers share the runs out as they go, and a run that fails is
    logged (traceback in this worker's log; a record in ``failures_dir``) and skipped.
    """
    from filelock import FileLock, Timeout

    from sernb.utils import atomic_write_json, config_hash

    order = list(tasks[index % max(1, len(tasks)):]) + list(tasks[:index % max(1, len(tasks))])
    done = []
    for task in order:
        if _is_stored(task):
            continue
        claim = FileLock(task.run_dir + ".claim")
        try:
            claim.acquire(timeout=0)
        except Timeout:  # another worker has it
            continue
        try:
            if _is_stored(task):
                continue
            print(f"[worker {index}] {task.label}", file=sys.stderr, flush=True)
            try:
                done.append({"run_dir": task.run_dir, "ok": True, **run_task(task, threads)})
            except Exception as exc:  # noqa: BLE001 (reported; the other runs go on)
                traceback.print_exc()
                failure = {"run_dir": task.run_dir, "ok": False, "label": task.label, "worker": index,
                           "error": f"{type(exc).__name__}: {_error_line(exc)}"}
                done.append(failure)
                if failures_dir:
                    atomic_write_json(Path(failures_dir) / f"{config_hash(task.run_dir)}.json", failure)
        finally:
            claim.release()
    return done


@contextlib.contextmanager
def thread_env(threads: int | None) -> Iterator[None]:
    """OMP/MKL/OpenBLAS thread limits in the environment the local workers start with (the grid's
    run workers, and the chapter kernels :func:`sernb.reproduce.run_chapters` runs at once)."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in names}
    if threads:
        os.environ.update({k: str(threads) for k in names})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _execute_pool(pending: list[RunTask], options: ExecutorOptions) -> list[Outcome]:
    """local / debug: ``workers`` worker jobs (:func:`work_through`) share the pending runs."""
    executor = _make_executor(options, len(pending))
    failures = Path(options.log_dir) / "failures"
    shutil.rmtree(failures, ignore_errors=True)
    failures.mkdir(parents=True, exist_ok=True)
    n = 1 if options.executor == "debug" else min(options.workers or 1, len(pending))
    threads = options.threads if options.executor == "local" else None
    jobs = []
    with thread_env(threads):
        for i in range(n):
            if options.executor == "local" and options.gpus_per_job:
                g = options.gpus_per_job
                executor.update_parameters(visible_gpus=tuple(range(i * g, (i + 1) * g)))
            jobs.append(executor.submit(work_through, pending, i, threads, str(failures)))
    by_dir = {t.run_dir: t for t in pending}
    bar = _bar(len(pending), options)
    records: dict[str, Outcome] = {}
    try:
        while True:
            if options.executor == "debug":
                for job in jobs:
                    job.exception()  # runs it here (results() would open pdb on an error)
            finished = [j for j in jobs if j.done()]
            stored = sum(1 for t in pending if _is_stored(t))
            failed = len(list(failures.glob("*.json")))
            bar.n = stored + failed
            bar.set_postfix(running=len(jobs) - len(finished), failed=failed, refresh=False)
            bar.refresh()
            if len(finished) == len(jobs):
                break
            time.sleep(options.poll_s)
    except KeyboardInterrupt:
        for job in jobs:
            job.cancel(check=False)
        raise
    finally:
        bar.close()
    for i, job in enumerate(jobs):
        log = _log_path(job)
        try:
            error = job.exception()
            results = job.result() if error is None else []
        except Exception as exc:  # noqa: BLE001 (the worker itself died: killed, out of memory)
            error, results = exc, []
        for r in results:
            task = by_dir[r["run_dir"]]
            records[r["run_dir"]] = Outcome(task, r["ok"], record=r if r["ok"] else None,
                                            error=r.get("error"), log=log)
        if error is not None:
            print(f"worker {i} stopped: {_error_line(error)} (log: {log})", file=sys.stderr)
    for task in pending:  # a run no worker finished: a worker died on it
        if task.run_dir not in records:
            if _is_stored(task):
                records[task.run_dir] = Outcome(task, True, record={"seconds": None})
            else:
                logs = ", ".join(str(_log_path(j)) for j in jobs)
                records[task.run_dir] = Outcome(task, False, error="not run: its worker stopped", log=logs)
    return [records[t.run_dir] for t in pending]


def _execute_slurm(pending: list[RunTask], options: ExecutorOptions) -> list[Outcome]:
    """One Slurm job array; Slurm runs ``array_parallelism`` of its jobs at once."""
    executor = _make_executor(options)
    jobs = executor.map_array(run_task, pending, [options.threads] * len(pending))
    print(f"submitted Slurm job array {jobs[0].job_id.split('_')[0]} ({len(jobs)} runs); logs in {options.log_dir}",
          file=sys.stderr)
    outcomes: dict[int, Outcome] = {}
    bar = _bar(len(pending), options)
    try:
        while len(outcomes) < len(jobs):
            for i, job in enumerate(jobs):
                if i in outcomes:
                    continue
                outcome = _poll(pending[i], job)
                if outcome is not None:
                    outcomes[i] = outcome
                    _report_progress(bar, outcome)
            running = sum(1 for i, j in enumerate(jobs) if i not in outcomes and j.state == "RUNNING")
            bar.set_postfix(running=running, failed=sum(not o.ok for o in outcomes.values()), refresh=False)
            bar.refresh()
            if len(outcomes) < len(jobs):
                time.sleep(options.poll_s)
    except KeyboardInterrupt:
        print(f"interrupted: the Slurm jobs keep running (scancel {jobs[0].job_id.split('_')[0]} stops them); "
              "rerun the same command to collect them", file=sys.stderr)
        raise
    finally:
        bar.close()
    return [outcomes[i] for i in range(len(jobs))]


def _poll(task: RunTask, job: Any, debug: bool = False) -> Outcome | None:
    """The outcome of a finished job, None while it runs."""
    if debug:  # DebugJob.exception() runs the job here, catching its error (results() would open pdb)
        error = job.exception()
        if error is not None:
            return Outcome(task, False, error=f"{type(error).__name__}: {_error_line(error)}", log=_log_path(job))
        return Outcome(task, True, record=job.result())
    if not job.done():
        return None
    try:
        error = job.exception()
        if error is None:
            return Outcome(task, True, record=job.result(), log=_log_path(job))
        return Outcome(task, False, error=_error_line(error), log=_log_path(job))
    except Exception as exc:  # noqa: BLE001 (no result pickle: killed, timed out, out of memory)
        return Outcome(task, False, error=f"{type(exc).__name__}: {_error_line(exc)}", log=_log_path(job))


def _report_progress(bar: Any, outcome: Outcome) -> None:
    bar.update(1)
    if not outcome.ok:
        bar.write(f"FAILED {outcome.task.label}: {outcome.error}\n    log: {outcome.log}")


def _finalize(grid: Grid) -> list[str]:
    """Write result.json (and its tables) of every experiment whose runs are all stored: what
    ``experiments.run(config)`` would write, from the stored runs, without training."""
    from sernb.experiments import _finished_run, run

    written = []
    for plan, dirs in grid.experiment_tasks:
        if not all(_finished_run(Path(d)) is not None for d in dirs):
            continue
        try:
            result = run(plan.config, results_dir=grid.results_dir, table=_usable_table(plan.config))
        except Exception:  # noqa: BLE001 (the chapter will say what is wrong; the grid goes on)
            traceback.print_exc()
            continue
        written.append(result.key)
    return written


# ---------------------------------------------------------------------------------------------
# Planning: wall time on N workers or GPUs
# ---------------------------------------------------------------------------------------------

def expected_wall_time(run_seconds: Sequence[float], workers: int) -> float:
    """Wall time of runs of the given durations on ``workers`` parallel slots, longest first
    (what a job array does, up to scheduling delays); at least ``max(run)`` and ``sum / workers``."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    slots = [0.0] * workers
    for seconds in sorted(run_seconds, reverse=True):
        i = slots.index(min(slots))
        slots[i] += seconds
    return max(slots) if slots else 0.0


def relative_cost(task: RunTask) -> float:
    """A rough cost of one run, in units of a frozen-encoder epoch, known before anything runs.

    Only the order of the pending runs uses it (:func:`longest_first`). Measured on the offline
    profile, a run's time is set mostly by whether it trains a pretrained text encoder (ours 65 s,
    text only 38 s) or not (BiLSTM audio 12-23 s, baseline and COGMEN 2-4 s), times its epochs;
    augmented inputs add about 40%.
    """
    from sernb.models.registry import get_system

    c = task.config
    model = get_system(c.system).config
    if model is None:  # a system with its own factory (BLSTM+DCNN, COGMEN, Whisper, wav2vec2)
        units = 1.0
    else:
        trains_text = "text" in model.modalities and model.finetune_text
        units = 0.2 + 4.0 * trains_text + 1.0 * ("audio" in model.modalities and model.audio == "bilstm")
    augmented = any(k.startswith("augment") for k in (c.mitigations or {}))
    return units * (c.epochs or 1) * (1.4 if augmented else 1.0)


def longest_first(tasks: Sequence[RunTask], workers: int = 2) -> list[RunTask]:
    """``tasks`` by :func:`relative_cost`, most expensive first (ties keep their order), except
    that one run reading Whisper states leads and the others follow the next longest runs.

    Workers take the runs in this order, so the last ones to start are short and no worker
    sits idle while another finishes a long run at the end (on the book's grid, 58 s of one
    worker's time in chapter order). The first run that reads Whisper states computes and
    caches them (about a minute on one thread); its siblings wait behind ``workers`` other long
    runs, so the other workers do not compute the same states at the same time (on the book's
    grid two workers each spent about a minute on them).
    """
    ordered = sorted(tasks, key=relative_cost, reverse=True)
    first = next((t for t in ordered if _reads_whisper_states(t)), None)
    if first is None:
        return ordered
    others = [t for t in ordered if t is not first]
    lead = [t for t in others if not _reads_whisper_states(t)][:workers]  # what the others start with
    return [first, *lead, *(t for t in others if t not in lead)]


def _reads_whisper_states(task: RunTask) -> bool:
    """Whether the run's system reads the frozen Whisper encoder's cached states."""
    from sernb.models.registry import get_system

    system = get_system(task.config.system)
    if system.config is None:  # a system with its own factory: whisper_audio's lives in sernb.models.whisper
        return system.factory.__module__ == "sernb.models.whisper"
    return (task.config.audio_encoder or system.config.audio_encoder) == "whisper"


def waves(n_runs: int, workers: int) -> int:
    """How many rounds ``n_runs`` equal runs take on ``workers`` slots."""
    return math.ceil(n_runs / workers) if n_runs else 0
