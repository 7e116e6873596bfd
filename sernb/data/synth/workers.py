"""The render worker processes: each group of sessions rendered in a fresh Python process, in a
fixed order (eSpeak NG carries state between calls, so this makes the files byte-identical).

A worker dies with the process that started it (``PR_SET_PDEATHSIG`` on Linux, and a check of
its parent otherwise), the job and result pickles live in one temporary folder removed when
rendering ends or fails, and folders left by a killed run are removed at the next start.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sernb.data.synth.cues import WordTime
from sernb.data.synth.render import RenderJob, render_timed, wav_bytes, write_corpus_file


def render_jobs(root: str | os.PathLike, jobs: list[RenderJob]) -> list[tuple[str, int, list[WordTime] | None]]:
    """Render and write ``jobs`` in order; returns ``(utt_id, n_samples, word times)`` triples
    (word times only for the cue corpus' jobs, else None)."""
    out = []
    for job in jobs:
        samples, times = render_timed(job)
        write_corpus_file(Path(root) / job.path, wav_bytes(samples))
        out.append((job.utt_id, len(samples), times))
    return out


#: Prefix of the temporary folder of one generation's job and result pickles (+ the parent's pid).
TEMP_PREFIX = "sernb-synth-"
#: Linux prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when ``parent`` ends, even when the parent was killed -9.

    On Linux the kernel sends SIGKILL on the parent's death (``prctl(PR_SET_PDEATHSIG)``); a
    parent that died before that call is caught by comparing the parent pid.
    """
    import signal

    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def worker_main(job_file: str, result_file: str, parent: str = "0") -> None:
    """Entry point of a render worker process (see :func:`render_all`)."""
    if int(parent):
        die_with_parent(int(parent))
    with open(job_file, "rb") as fh:
        root, jobs = pickle.load(fh)
    with open(result_file, "wb") as fh:
        pickle.dump(render_jobs(root, jobs), fh)


#: Sessions rendered together, each group in a fresh process. Fixed, so that the output does not
#: depend on how many workers run them (eSpeak's carried-over state depends on what came before).
RENDER_GROUPS = ((1, 3, 5), (2, 4))


def render_all(root: Path, jobs_by_session: dict[int, list[RenderJob]], workers: int
               ) -> dict[str, tuple[int, list[WordTime] | None]]:
    """Render each group of sessions in a fresh Python process, ``workers`` at a time.

    Fresh interpreters (not multiprocessing's fork or spawn) give every group a clean eSpeak NG
    and work the same from a script, a notebook or pytest, with no ``__main__`` guard needed.
    Workers never outlive this call: an error or an interrupt here kills them, and they die with
    this process if it is killed. Their pickles are removed with their folder either way.
    """
    remove_stale_temp_folders()
    groups = [[j for s in group for j in jobs_by_session.get(s, [])] for group in RENDER_GROUPS]
    results: dict[str, tuple[int, list[WordTime] | None]] = {}
    running: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
        try:
            for first in range(0, len(groups), max(1, workers)):
                batch = list(enumerate(groups))[first:first + max(1, workers)]
                running = [start_worker(Path(tmp), i, str(root), jobs) for i, jobs in batch]
                for i, proc in zip((i for i, _ in batch), running, strict=True):
                    results.update(finish_worker(Path(tmp), i, proc))
        finally:
            for proc in running:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return results


def remove_stale_temp_folders() -> None:
    """Remove the temporary folders of generations whose process no longer runs (killed -9)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*-*"):
        pid = folder.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def start_worker(tmp: Path, index: int, root: str, jobs: list[RenderJob]) -> subprocess.Popen:
    """Start the render worker of one group of sessions (jobs and result pickled in ``tmp``)."""
    with open(tmp / f"jobs{index}.pkl", "wb") as fh:
        pickle.dump((root, jobs), fh)
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[3])  # so the worker imports this sernb
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    code = "import sys; from sernb.data.synth.workers import worker_main; worker_main(*sys.argv[1:])"
    with open(tmp / f"log{index}.txt", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(tmp / f"jobs{index}.pkl"), str(tmp / f"result{index}.pkl"),
             str(os.getpid())],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )


def finish_worker(tmp: Path, index: int, proc: subprocess.Popen) -> dict[str, tuple[int, list[WordTime] | None]]:
    """Wait for a worker; utt_id -> ``(n_samples, word times)``, or its log in the error."""
    if proc.wait() != 0:
        log = (tmp / f"log{index}.txt").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"synthetic corpus: render worker {index} failed (exit {proc.returncode}):\n{log}")
    with open(tmp / f"result{index}.pkl", "rb") as fh:
        return {utt: (n, times) for utt, n, times in pickle.load(fh)}
