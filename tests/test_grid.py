"""sernb.grid: expanding experiments into runs, executing them (submitit debug / local / Slurm),
and the results store under concurrent writers (real processes racing on one run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sernb import grid
from sernb.experiments import ExperimentConfig, Result, run

ROOT = Path(__file__).resolve().parent.parent
SCALARS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")


def _config(corpus: str, **changes) -> ExperimentConfig:
    """A tiny config: the smoke profile, the frozen-encoder baseline (runs take a second)."""
    changes.setdefault("system", "baseline")
    return ExperimentConfig.from_profile("smoke", data_root=corpus, progress=False, **changes)


def _runs(result: Result) -> dict[str, dict]:
    return {r["name"]: r for r in result.record["runs"]}


def _same_numbers(a: Result, b: Result) -> None:
    runs_a, runs_b = _runs(a), _runs(b)
    assert runs_a.keys() == runs_b.keys()
    for name in runs_a:
        for k in SCALARS:
            assert runs_a[name][k] == pytest.approx(runs_b[name][k], abs=1e-9), (name, k)
        assert runs_a[name]["confusion"] == runs_b[name]["confusion"], name
    for k in SCALARS:
        assert a.record[k] == pytest.approx(b.record[k], abs=1e-9)
    pa, pb = a.predictions, b.predictions
    assert (pa.sort_values(["run", "utt_id"])["pred"].to_numpy() == pb.sort_values(["run", "utt_id"])["pred"].to_numpy()).all()


def test_chapter_experiments_follow_the_chapters_parameters():
    params = grid.chapter_parameters(ROOT / "book" / "08_protocol.py")
    assert params["SYSTEMS"] == ["audio_only", "text_only", "ours"] and params["LOSO_SEEDS"] == 1
    plans = grid.chapter_experiments("smoke", ["8"])
    loso = [p.config for p in plans if p.config.protocol == "loso"]
    assert [c.system for c in loso if c.validation == "speakers"] == params["SYSTEMS"] + params["VALIDATION_SYSTEMS"]
    assert [c.system for c in loso if c.validation == "rows"] == params["VALIDATION_SYSTEMS"]
    assert all(c.seeds == (0,) for c in loso)
    assert {(p.config.system, p.config.classes) for p in plans if p.config.classes == 4} == \
        {(s, 4) for s in params["FOUR_CLASS_SYSTEMS"]}
    # a chapter parameter given as `-p NAME=VALUE` means the same to the grid as to the chapter
    three = grid.chapter_experiments("smoke", ["08_protocol"], extra={"LOSO_SEEDS": 3, "SYSTEMS": ["ours"],
                                                                      "VALIDATION_SYSTEMS": []})
    assert [p.config.seeds for p in three if p.config.protocol == "loso"] == [(0, 1, 2)]
    # chapters that keep the first run's model say so
    assert any(p.keep_first for p in grid.chapter_experiments("smoke", ["7"]))
    book = grid.chapter_experiments("smoke")
    assert {p.chapter for p in book} >= {"02_training", "04_ablation", "08_protocol", "10_mitigations"}


def test_cli_dry_run_lists_the_runs(smoke_corpus, tmp_path, capsys):
    from sernb.cli import main

    args = ["grid", "--profile", "smoke", "--system", "baseline", "text_only", "--data-root", smoke_corpus,
            "--protocol", "loso", "--results", str(tmp_path), "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 experiment(s), 10 run(s): 0 stored, 10 to run" in out and out.count("[to run]") == 10
    # chapter experiments take their settings from the chapters, not from setting options
    assert main(["grid", "--profile", "smoke", "--chapters", "8", "--epochs", "3", "--dry-run"]) == 2
    assert "apply to --system" in capsys.readouterr().err


def test_librosa_kernels_compile_in_the_parent_before_any_worker_process_starts(monkeypatch, tmp_path):
    """Workers compiling numba's cached kernels side by side can corrupt the cache for good (a later
    librosa.yin crashed a chapter's kernel): grids, chapter pools and MFCC pools compile them first."""
    import joblib

    from sernb import reproduce
    from sernb.data import features

    events = []
    for module in (grid, reproduce, features):
        monkeypatch.setattr(module, "compile_librosa_kernels", lambda: events.append("compile"))
    monkeypatch.setattr(grid, "_execute_pool", lambda pending, options: events.append("grid workers") or [])
    task = grid.RunTask(_config("unused"), 0, "random-seed0", str(tmp_path / "run"), "key")
    grid.run_grid(grid.Grid([], [task], [], tmp_path), grid.ExecutorOptions(progress=False), finalize=False)
    monkeypatch.setattr(reproduce, "_run_chapter_retrying", lambda path, **kw: events.append("kernel"))
    reproduce.run_chapters([Path("06_efficiency.ipynb")], tmp_path, {}, progress=False)

    class Recording:
        def __init__(self, **kw):
            events.append("mfcc workers")

        def __call__(self, jobs):
            return (job[0](*job[1], **job[2]) for job in jobs)

    monkeypatch.setattr(joblib, "Parallel", Recording)
    monkeypatch.setattr(features, "_extract_one", lambda path, config, target: (None, "skipped"))
    list(features._compute([(0, "a.wav", None), (1, "b.wav", None)], features.MFCCConfig(), 2, False))
    assert events == ["compile", "grid workers", "compile", "kernel", "compile", "mfcc workers"]


def test_longest_runs_go_first_ties_keep_their_order():
    def task(system: str, seed: int = 0, **changes) -> grid.RunTask:
        config = ExperimentConfig.from_profile("offline", system=system, **changes)
        return grid.RunTask(config, seed, "random-seed0", f"/runs/{system}-{seed}-{len(changes)}", "key")

    chapter_order = [task("baseline"), task("audio_only"), task("cogmen"), task("ours", 0), task("text_only"),
                     task("ours", 1), task("ours", epochs=12), task("ours", mitigations={"augment_audio": True})]
    order = [(t.config.system, t.seed, t.config.epochs, bool(t.config.mitigations))
             for t in grid.longest_first(chapter_order)]
    assert order == [("ours", 0, 12, False), ("ours", 0, 6, True), ("ours", 0, 6, False), ("ours", 1, 6, False),
                     ("text_only", 0, 6, False), ("audio_only", 0, 6, False), ("cogmen", 0, 6, False),
                     ("baseline", 0, 6, False)]
    # one run that reads Whisper states leads (it caches them); its siblings start after two other runs
    whisper = [task("ours_whisper", 0), task("ours_whisper", 1), task("whisper_audio"),
               task("ours", 0, audio_encoder="whisper")]
    order = [(t.config.system, t.seed, t.config.audio_encoder) for t in grid.longest_first(chapter_order + whisper)]
    assert order[:3] == [("ours_whisper", 0, None), ("ours", 0, None), ("ours", 0, None)]
    assert {grid._reads_whisper_states(t) for t in whisper} == {True}
    assert not any(grid._reads_whisper_states(t) for t in chapter_order)
    everything = chapter_order + whisper
    assert sorted(map(id, grid.longest_first(everything))) == sorted(map(id, everything))  # each run once


def test_oversubscribing_the_cores_is_refused():
    from sernb.errors import UserInputError

    cores = grid.available_cores()
    with pytest.raises(UserInputError, match="oversubscribes"):
        grid.ExecutorOptions("local", workers=cores, threads=2).resolve()
    options = grid.ExecutorOptions("local", workers=1).resolve()
    assert options.threads == cores
    assert grid.expected_wall_time([60, 60, 60, 60, 60], 2) == 180
    assert grid.expected_wall_time([100, 10, 10], 3) == 100


def test_debug_executor_reports_a_failure_and_a_rerun_picks_up(smoke_corpus, tmp_path, monkeypatch):
    config = _config(smoke_corpus, protocol="loso")
    expanded = grid.expand([config], tmp_path)
    assert len(expanded.tasks) == 5 and not expanded.stored
    real = grid.run_task

    def flaky(task, threads=None):
        if task.fold == "session-3":
            raise RuntimeError("simulated crash in session 3")
        return real(task, threads)

    monkeypatch.setattr(grid, "run_task", flaky)
    report = grid.run_grid(expanded, grid.ExecutorOptions("debug", progress=False))
    assert len(report.failed) == 1 and "simulated crash" in report.failed[0].error
    assert report.failed[0].log and "session-3" in report.summary()
    assert not report.finalized  # an experiment with a missing run has no result.json
    monkeypatch.setattr(grid, "run_task", real)

    again = grid.expand([config], tmp_path)
    assert len(again.stored) == 4 and [t.fold for t in again.pending] == ["session-3"]
    report = grid.run_grid(again, grid.ExecutorOptions("debug", progress=False))
    assert report.ok and len(report.finalized) == 1
    assert grid.expand([config], tmp_path).pending == []


def test_local_executor_two_workers_match_the_sequential_run(smoke_corpus, tmp_path):
    config = _config(smoke_corpus, protocol="loso")
    sequential = run(config, results_dir=tmp_path / "sequential")
    report = grid.run_grid([config], grid.ExecutorOptions("local", workers=2, threads=1, progress=False),
                           results_dir=tmp_path / "grid")
    assert report.ok, report.summary()
    assert len(report.outcomes) == 5 and len(report.finalized) == 1
    assert {o.record.get("threads") for o in report.outcomes} == {1}
    # the chapter's call now only reads what the grid stored
    parallel = run(config, results_dir=tmp_path / "grid")
    assert parallel.key == sequential.key
    _same_numbers(parallel, sequential)


RACER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from sernb.experiments import ExperimentConfig, run
    corpus, results, me, other = sys.argv[1:5]
    Path(me).touch()
    while not Path(other).exists():  # both processes start the run together
        time.sleep(0.01)
    config = ExperimentConfig.from_profile("smoke", system="baseline", data_root=corpus, progress=False)
    result = run(config, results_dir=results)
    print(json.dumps({"run": result.record["runs"][0], "path": str(result.path)}))
""")


def test_two_processes_racing_on_one_run_store_it_once(smoke_corpus, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    shared = tmp_path / "shared"
    flags = [tmp_path / "a.ready", tmp_path / "b.ready"]
    racers = [subprocess.Popen([sys.executable, "-c", RACER, smoke_corpus, str(shared), str(flags[i]),
                                str(flags[1 - i])], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for i in range(2)]
    outputs = [r.communicate(timeout=300) for r in racers]
    for r, (_out, err) in zip(racers, outputs, strict=True):
        assert r.returncode == 0, err[-3000:]
    a, b = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    # one trained, the other waited on the run's lock and read it: the very same record
    assert a["run"] == b["run"]
    run_dir = next((shared / "_runs").glob("*/*__seed0"))
    assert json.loads((run_dir / "run.json").read_text())["seconds"] == a["run"]["seconds"]
    assert not list(shared.rglob("*.tmp"))  # no half-written file left
    raced = Result.load(a["path"])
    sequential = run(_config(smoke_corpus), results_dir=tmp_path / "sequential")
    _same_numbers(raced, sequential)


# ---------------------------------------------------------------------------------------------
# A real single-node Slurm (Debian's slurm-wlm), started here when it is installed
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_slurm(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent))
    import slurm_local

    reason = slurm_local.why_not()
    if reason:
        pytest.skip(f"no local Slurm: {reason}")
    folder = tmp_path_factory.mktemp("slurm")
    try:
        env = slurm_local.start(folder)
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"could not start a local Slurm: {err}")
    yield env
    subprocess.run(["scancel", "--user", "root"], env={**os.environ, **env}, capture_output=True)
    slurm_local.stop(folder)


def test_slurm_job_array_on_a_local_cluster(local_slurm, smoke_corpus, tmp_path, monkeypatch):
    for k, v in local_slurm.items():
        monkeypatch.setenv(k, v)
    config = _config(smoke_corpus, protocol="loso")
    options = grid.ExecutorOptions("slurm", partition="debug", cpus_per_job=1, array_parallelism=2, time_min=10,
                                   log_dir=tmp_path / "logs", progress=False)
    report = grid.run_grid([config], options, results_dir=tmp_path / "grid")
    assert report.ok, report.summary()
    assert len(report.outcomes) == 5 and len(report.finalized) == 1
    assert list((tmp_path / "logs").rglob("*_log.out"))  # Slurm wrote the jobs' logs
    sequential = run(config, results_dir=tmp_path / "sequential")
    _same_numbers(run(config, results_dir=tmp_path / "grid"), sequential)
