"""Run every chapter of the book headless on one profile, then build the book from the results.

``sernb reproduce --profile offline`` and ``make book PROFILE=offline`` call :func:`reproduce`:

1. each chapter ``book/NN_*.py`` (py:percent) is converted in memory with jupytext and executed
   by papermill with the kernel ``python3``, which injects ``PROFILE``, ``DATA_ROOT``,
   ``DEVICE``, ``TEXT_MODEL`` and ``AUDIO_MODEL`` after the chapter's ``parameters`` cell
   (``None`` model: the profile's own choice); the executed notebook is written to
   ``runs/<profile>/<chapter>.ipynb`` (cell by cell, so a long run can be watched);
2. a summary table gives each chapter's time, output and, for a failure, the cell that failed;
   the same facts go to ``runs/<profile>/summary.json``;
3. with ``build=True`` the executed notebooks are staged with ``_config.yml``, ``_toc.yml`` and
   ``intro.md`` in ``runs/<profile>/book/`` and Jupyter Book 1.x builds them (no execution)
   into ``book/_build/html``. The built pages are then checked for scripts or styles loaded
   from the network: the book must be readable offline.

Reruns are cheap because the chapters' expensive steps (features, training) are cached by
:mod:`sernb.experiments` and :mod:`sernb.data.features`, not here.
The intro chapter of the book explains the profiles; this module only passes their names on.
"""

from __future__ import annotations

import contextlib
import copy
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sernb.utils import PROJECT_ROOT, atomic_write_json, atomic_write_text, compile_librosa_kernels

BOOK_DIR = PROJECT_ROOT / "book"
RUNS_DIR = PROJECT_ROOT / "runs"
#: The kernel every chapter runs on; ``make install`` registers the venv's python under this name.
KERNEL_NAME = "python3"
#: Files copied next to the executed notebooks before building (besides other *.md pages).
BOOK_FILES = ("_config.yml", "_toc.yml", "intro.md")
#: Shown in the static book where a chapter displayed an ipywidgets explorer (no kernel there).
WIDGET_NOTE = (
    '<p class="sernb-widget-note" style="border-left:4px solid #888;padding:0.4em 0.8em;'
    'background:#f6f6f6"><em>Interactive explorer (ipywidgets): it needs a running kernel. '
    "Open this chapter in JupyterLab (<code>make lab</code>) to use it.</em></p>"
)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_EXTERNAL_REF = re.compile(
    r"<(?:script|link|img|iframe|audio|video|source)\b[^>]*?\s(?:src|href)\s*=\s*[\"']((?:https?:)?//[^\"']+)",
    re.IGNORECASE,
)


@dataclass
class ChapterRun:
    """What happened to one chapter: where its executed notebook is, how long it took, what failed."""

    chapter: str
    output: str
    seconds: float = 0.0
    ok: bool = True
    error: str | None = None
    failed_cell: int | None = None
    failed_source: str | None = None
    timed_out: bool = False  # the cell ran past the cell timeout
    stalled: bool = False  # the kernel sat at 0% CPU inside a cell and was stopped
    attempts: int = 1  # a stalled chapter is run once more (stored results make that cheap)
    first_failure: str | None = None  # what the first attempt ended with, when there were two

    def failure_line(self) -> str:
        """One line naming the failed cell and the exception (empty when the chapter passed)."""
        if self.ok:
            return ""
        where = f"cell {self.failed_cell}: " if self.failed_cell is not None else ""
        code = f" in `{self.failed_source}`" if self.failed_source else ""
        return f"{where}{self.error}{code}"


@dataclass
class Report:
    """Everything :func:`reproduce` did, as printed in its summary and saved as JSON."""

    profile: str
    parameters: dict[str, Any]
    chapters: list[ChapterRun] = field(default_factory=list)
    book: str | None = None
    book_seconds: float = 0.0
    book_error: str | None = None
    external_refs: list[str] = field(default_factory=list)
    kernel_python: str = ""
    peak_kernel_rss_mb: float | None = None  # the largest chapter kernel's peak resident memory
    cell_timeout: float | None = None  # seconds a cell may run (None: no limit)
    stall_timeout: float | None = None  # seconds a kernel may sit at 0% CPU in a cell (None: no limit)
    chapter_workers: int = 1  # kernels at once (run_chapters)
    chapters_wall_seconds: float = 0.0  # the chapters' wall time (less than their sum when run at once)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chapters) and self.book_error is None and not self.external_refs


# --------------------------------------------------------------------------- chapters


def list_chapters(book_dir: Path = BOOK_DIR) -> list[Path]:
    """The chapter sources ``book/NN_*.py`` in reading order (tests/test_book.py uses the same rule)."""
    return sorted(p for p in Path(book_dir).glob("[0-9]*.py") if p.is_file())


def select_chapters(wanted: Sequence[str] | None, book_dir: Path = BOOK_DIR) -> list[Path]:
    """Chapters matching ``wanted`` by file name, stem or number (``"01"``, ``"01_data"``, ``"1"``)."""
    chapters = list_chapters(book_dir)
    if not wanted:
        return chapters
    chosen = []
    for name in wanted:
        stem = Path(name).stem
        matches = [p for p in chapters
                   if p.stem == stem or p.stem.split("_", 1)[0].lstrip("0") == stem.lstrip("0")]
        if not matches:
            raise ValueError(f"no chapter {name!r} in {book_dir}; have {[p.stem for p in chapters]}")
        chosen += [m for m in matches if m not in chosen]
    return sorted(chosen)


def chapter_notebook(path: Path, kernel_name: str = KERNEL_NAME):
    """Read a py:percent chapter into a notebook (in memory) with the kernelspec papermill needs."""
    import jupytext

    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)
    return nb


def kernel_python(kernel_name: str = KERNEL_NAME) -> str:
    """The python executable the kernel will run, resolved the way jupyter_client does it.

    A kernelspec whose argv starts with plain ``python`` runs *this* interpreter
    (``sys.executable``); one with an absolute path runs that one, which may lack ``sernb``.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    except NoSuchKernel:
        return ""
    major, minor = sys.version_info[:2]
    if argv and argv[0] in {"python", f"python{major}", f"python{major}.{minor}"}:
        return sys.executable
    return argv[0] if argv else ""


def parameters(profile: str, data_root: str | os.PathLike | None = None, device: str = "auto",
               extra: dict[str, Any] | None = None, text_model: str | None = None,
               audio_model: str | None = None) -> dict[str, Any]:
    """The values papermill injects into every chapter's ``parameters`` cell.

    ``text_model`` / ``audio_model``: a short name, hub id or folder (a folder is passed as an
    absolute path, since the kernels run elsewhere); None lets each chapter use the profile's.
    """
    params: dict[str, Any] = {
        "PROFILE": profile,
        "DATA_ROOT": None if data_root is None else str(Path(data_root).expanduser().resolve()),
        "DEVICE": device,
        "TEXT_MODEL": _model_parameter(text_model),
        "AUDIO_MODEL": _model_parameter(audio_model),
    }
    params.update(extra or {})
    return params


def _model_parameter(name: str | None) -> str | None:
    if name is None:
        return None
    folder = Path(name).expanduser()
    return str(folder.resolve()) if folder.is_dir() else name


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """Environment for the kernels papermill starts (they inherit ours), restored afterwards.

    ``TQDM_DISABLE=1``: progress bars inside a chapter are for people watching JupyterLab; in an
    executed notebook they would only be stale widgets. Our own bars pass ``disable=False``.
    ``HF_HUB_OFFLINE=1`` unless set: chapters must not reach for the network by accident.
    """
    saved = dict(os.environ)
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class KernelWatchdog:
    """Kill the chapter's kernel when its process tree has used no CPU for ``stall_s`` seconds.

    A known class of papermill/nbclient/jupyter_client hangs leaves the kernel idle in its event
    loop while the client waits for a reply that never comes. Nothing in a chapter legitimately
    sits at 0% CPU for minutes (training, features and the synthetic corpus' render workers all
    compute), so "no CPU for ``stall_s``" marks a stall long before a generous cell timeout would.
    Killing the kernel makes nbclient raise ``DeadKernelError`` at once; :func:`run_chapter` then
    reports the chapter as stalled and the run moves on. The kernels are this process' children
    (papermill starts them), so the watch covers every child process and their descendants.
    """

    def __init__(self, stall_s: float | None, poll_s: float = 5.0, busy_share: float = 0.05):
        # a poll counts as work when the tree used more than ``busy_share`` of one core in it;
        # an idle ipykernel (heartbeat and I/O threads) uses well under 1%
        self.stall_s, self.poll_s = stall_s, min(poll_s, stall_s / 4) if stall_s else poll_s
        self.min_cpu_s = busy_share * self.poll_s
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sernb-kernel-watchdog", daemon=True)

    def __enter__(self) -> KernelWatchdog:
        if self.stall_s:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.poll_s)

    @staticmethod
    def _tree_cpu() -> tuple[float, frozenset[int]]:
        import psutil

        total, pids = 0.0, set()
        for child in psutil.Process().children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.Error:  # it ended between the listing and the read
                continue
            total += times.user + times.system
            pids.add(child.pid)
        return total, frozenset(pids)

    def _watch(self) -> None:
        import psutil

        cpu, pids = self._tree_cpu()
        quiet_since = time.monotonic()
        while not self._stop.wait(self.poll_s):
            now_cpu, now_pids = self._tree_cpu()
            busy = now_pids != pids or abs(now_cpu - cpu) >= self.min_cpu_s
            cpu, pids = now_cpu, now_pids
            if busy:
                quiet_since = time.monotonic()
                continue
            if now_pids and time.monotonic() - quiet_since >= self.stall_s:
                self.fired = True
                for pid in now_pids:
                    with contextlib.suppress(psutil.Error):
                        psutil.Process(pid).kill()
                return


#: Longest single wait of the notebook client on a kernel channel; see :func:`kernel_manager_class`.
WAKE_S = 2.0


def kernel_manager_class(kernel_log: Path | None = None) -> type:
    """A kernel manager whose clients never wait on a channel for more than :data:`WAKE_S` at once.

    ``kernel_log``: the kernel's own stdout and stderr (ipykernel's warnings, a traceback it logs
    while being stopped after a timeout) are appended there instead of the terminal, so the
    main job prints only its progress and summary; a failed chapter's summary line names the log.

    Why: in headless runs (jupyter_client 8, pyzmq 27, zmq.asyncio) the client can miss the
    wake-up for a message that has already arrived: the execute reply sits in the client's
    shell socket (``ZMQ_EVENTS`` reports POLLIN) while nbclient's ``await socket.poll()``, with
    no timeout, never returns. We caught it live (chapter 1, the kernel idle with its execution
    count past the cell, reply and outputs unread in papermill's shell and iopub sockets), the
    class of jupyter_client#922 and nbclient#312; it struck the cells that build ipywidgets
    explorers (bursts of widget messages) in about half of the chapter runs on a busy machine. A poll with a timeout re-checks the socket when it
    expires, so waiting in slices of a few seconds turns a missed wake-up into a delay of at most
    :data:`WAKE_S`. The overall timeout nbclient asks for is kept.
    """
    from queue import Empty

    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.channels import AsyncZMQSocketChannel
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Type

    class SlicedWaitChannel(AsyncZMQSocketChannel):
        async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = WAKE_S if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    return await super().get_msg(timeout=min(WAKE_S, left))
                except Empty:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise

    class SlicedWaitKernelClient(AsyncKernelClient):
        shell_channel_class = SlicedWaitChannel
        iopub_channel_class = SlicedWaitChannel
        stdin_channel_class = SlicedWaitChannel
        control_channel_class = SlicedWaitChannel

    class SlicedWaitKernelManager(AsyncKernelManager):
        client_factory = Type(SlicedWaitKernelClient, klass=AsyncKernelClient)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            if sys.platform.startswith("linux"):  # a killed `sernb reproduce` takes its kernel along
                kw.setdefault("preexec_fn", _die_with_parent())
            if kernel_log is None:
                await super()._async_launch_kernel(kernel_cmd, **kw)
                return
            with open(kernel_log, "ab") as log:  # the kernel keeps its own copy of the descriptor
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return SlicedWaitKernelManager


def _die_with_parent() -> Any:
    """A ``preexec_fn`` for the kernel process: Linux sends it SIGKILL when the thread that
    started it dies (``prctl(PR_SET_PDEATHSIG)``). ipykernel's own parent poller ends a kernel
    whose parent has exited; it cannot see a parent that is half dead (its main thread gone, a
    worker thread still alive: ``Zl`` in ps), which is how we found a kernel of a killed ``timeout
    ... sernb reproduce`` still training alone, two cores busy, minutes later."""
    import ctypes
    import signal

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, called after it
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call: nothing would signal us
            os._exit(1)

    return set_death_signal


def _papermill_engine() -> str:
    """Register (once) and name a papermill engine that saves the executed notebook sparingly.

    papermill either saves around every cell (5-12 MB notebooks with plotly.js inlined: ~10 s a
    chapter) or, with ``request_save_on_cell_execute=False``, not at all until success: a chapter
    that times out or whose kernel dies then leaves nothing to show which cell it was in. This
    engine saves at most every 30 s while running and always at the end, failure included.
    """
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    if "sernb" in papermill_engines._engines:
        return "sernb"

    class SparseSaves(NotebookExecutionManager):
        final = False

        def save(self, **kwargs: Any) -> None:
            if self.final or (self.now() - self.last_save_time).total_seconds() >= self.autosave_cell_every:
                super().save(**kwargs)

        def notebook_complete(self, **kwargs: Any) -> None:
            self.final = True
            super().notebook_complete(**kwargs)

    class SparseSavingEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                             autosave_cell_every=30, **kwargs: Any):
            manager = SparseSaves(nb, output_path=output_path, progress_bar=progress_bar,
                                  log_output=log_output, autosave_cell_every=autosave_cell_every)
            manager.notebook_start()
            try:
                cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
            finally:
                manager.cleanup_pbar()
                manager.notebook_complete()
            return manager.nb

    papermill_engines.register("sernb", SparseSavingEngine)
    return "sernb"


def run_chapter(path: Path, output: Path, params: dict[str, Any], kernel_name: str = KERNEL_NAME,
                cwd: Path = BOOK_DIR, progress: bool = True, cell_timeout: float | None = None,
                stall_timeout: float | None = None) -> ChapterRun:
    """Execute one chapter with papermill into ``output``; never raises for a failing cell.

    ``cell_timeout`` (seconds, None: no limit) ends a cell that runs longer; ``stall_timeout``
    ends one whose kernel has used no CPU that long (:class:`KernelWatchdog`). Either way the
    chapter fails with the cell named and the executed part saved, and the next chapter runs.
    """
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    run = ChapterRun(chapter=path.stem, output=_display_path(output))
    kernel_log = output.with_suffix(".kernel.log")
    kernel_log.unlink(missing_ok=True)
    bar = {"desc": f"  {path.stem}", "leave": False, "disable": not progress}
    nb = chapter_notebook(path, kernel_name)
    start = time.perf_counter()
    watchdog = KernelWatchdog(stall_timeout)
    try:
        with watchdog:
            pm.execute_notebook(nb, str(output), parameters=params, engine_name=_papermill_engine(),
                                kernel_name=kernel_name, language="python", cwd=str(cwd),
                                progress_bar=bar, execution_timeout=cell_timeout, start_timeout=120,
                                kernel_manager_class=kernel_manager_class(kernel_log))
    except pm.PapermillExecutionError as exc:
        run.ok = False
        run.error = f"{exc.ename}: {_first_line(exc.evalue)}"
        run.failed_cell = _cell_number(nb, exc.source)
        run.failed_source = _first_code_line(exc.source)
    except Exception as exc:  # timeout, stall, kernel died, bad notebook: still report, never hide
        run.ok = False
        source = _last_started_source(output)
        run.failed_cell = _cell_number(nb, source) if source is not None else None
        run.failed_source = _first_code_line(source or "")
        if watchdog.fired:
            run.stalled = True
            run.error = (f"stalled: the kernel used no CPU for {stall_timeout:.0f} s and was stopped "
                         "(a hung kernel; rerun to reuse what was computed, or raise --stall-timeout)")
        elif type(exc).__name__ == "CellTimeoutError":
            run.timed_out = True
            run.error = (f"timed out: the cell ran longer than {cell_timeout:.0f} s "
                         "(raise --cell-timeout, or the profile's cell_timeout)")
        else:
            run.error = f"{type(exc).__name__}: {_first_line(str(exc))}"
    run.seconds = round(time.perf_counter() - start, 2)
    return run


#: Chapters that time code (Table 3's benchmarks): with ``workers`` > 1 they still run alone, with
#: every core and before the others, so no other kernel shares the machine while they measure.
TIMED_CHAPTERS = ("06_efficiency",)


def run_chapters(chapters: Sequence[Path], out_dir: Path, params: dict[str, Any],
                 kernel_name: str = KERNEL_NAME, progress: bool = True, cell_timeout: float | None = None,
                 stall_timeout: float | None = None, stall_retries: int = 1, workers: int = 1) -> list[ChapterRun]:
    """Run the chapters (a failure does not stop the others); the runs come back in book order.

    ``workers`` > 1 runs that many kernels at once, each with ``cores // workers`` threads: after
    the study grid has stored every result, most chapters only read them back and draw, and
    their kernels' start-up and plotting use one core each. :data:`TIMED_CHAPTERS` run first,
    alone. The longest chapters of the last run (``summary.json``) start first.
    """
    from tqdm.auto import tqdm

    one = partial(_run_chapter_retrying, out_dir=out_dir, params=params, kernel_name=kernel_name,
                  cell_timeout=cell_timeout, stall_timeout=stall_timeout, stall_retries=stall_retries)
    compile_librosa_kernels()  # the kernels then read numba's cache, never write it side by side
    alone = [p for p in chapters if workers <= 1 or p.stem in TIMED_CHAPTERS]
    shared = [p for p in chapters if p not in alone]
    runs: dict[Path, ChapterRun] = {}
    with _kernel_environment(), tqdm(total=len(chapters), desc="chapters", unit="chapter",
                                     disable=not progress, file=sys.stderr) as bar:
        for path in alone:
            bar.set_postfix_str(path.stem)
            runs[path] = one(path, progress=progress)
            bar.update()
        if shared:
            from sernb.grid import thread_env

            threads = max(1, (os.cpu_count() or 1) // workers)
            bar.set_postfix_str(f"{workers} at a time, {threads} thread{'s' * (threads > 1)} each")
            # the worker processes, and the kernels they start, inherit the thread budget
            with thread_env(threads), ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {pool.submit(one, path, progress=False): path
                           for path in _longest_first(shared, out_dir)}
                for future in as_completed(futures):
                    path = futures[future]
                    try:
                        runs[path] = future.result()
                    except Exception as exc:  # the worker process itself died: report, never hide
                        runs[path] = ChapterRun(path.stem, _display_path(out_dir / f"{path.stem}.ipynb"),
                                                ok=False, error=f"{type(exc).__name__}: {_first_line(str(exc))}")
                    bar.update()
    return [runs[p] for p in chapters]


def _run_chapter_retrying(path: Path, out_dir: Path, params: dict[str, Any], kernel_name: str, progress: bool,
                          cell_timeout: float | None, stall_timeout: float | None,
                          stall_retries: int) -> ChapterRun:
    """:func:`run_chapter`, run again in a new kernel (up to ``stall_retries`` times) when it stalled:
    a stall is a fault of the kernel transport, not of the chapter, and what the first attempt
    computed is stored, so the next attempt only redoes the cell that hung."""
    output = out_dir / f"{path.stem}.ipynb"
    run = run_chapter(path, output, params, kernel_name=kernel_name, progress=progress,
                      cell_timeout=cell_timeout, stall_timeout=stall_timeout)
    for _ in range(stall_retries):
        if not run.stalled:
            break
        first, seconds = run.first_failure or run.failure_line(), run.seconds
        attempts = run.attempts + 1
        print(f"{path.stem}: {run.failure_line()}; running it again", file=sys.stderr)
        run = run_chapter(path, output, params, kernel_name=kernel_name, progress=progress,
                          cell_timeout=cell_timeout, stall_timeout=stall_timeout)
        run.attempts, run.first_failure = attempts, first
        run.seconds = round(run.seconds + seconds, 2)
    return run


def _longest_first(chapters: Sequence[Path], out_dir: Path) -> list[Path]:
    """The chapters by their time in the last run's ``summary.json``, longest first (book order
    where there is none: a first run)."""
    try:
        last = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
        seconds = {c["chapter"]: float(c["seconds"]) for c in last.get("chapters", [])}
    except (OSError, ValueError, KeyError, TypeError):
        seconds = {}
    return sorted(chapters, key=lambda p: -seconds.get(p.stem, 0.0))


# --------------------------------------------------------------------------- the book


def stage_book(out_dir: Path, book_dir: Path = BOOK_DIR, announcement: str = "") -> Path:
    """Copy the book's configuration and the executed notebooks into ``out_dir/book``.

    Chapters without an executed notebook in ``out_dir`` are dropped from the staged
    ``_toc.yml`` (so building after ``--chapters 01`` shows what ran). ipywidgets outputs are
    replaced by :data:`WIDGET_NOTE` and the widget state is removed: in a static page they would
    be blank, and the page would try to fetch the widget manager from a CDN.
    """
    import nbformat
    import yaml

    stage = out_dir / "book"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for extra in sorted(book_dir.glob("*.md")):
        shutil.copy2(extra, stage / extra.name)
    for folder in ("images", "_static"):
        if (book_dir / folder).is_dir():
            shutil.copytree(book_dir / folder, stage / folder)
    config = yaml.safe_load((book_dir / "_config.yml").read_text(encoding="utf-8")) or {}
    if announcement:
        config.setdefault("html", {})["announcement"] = announcement
    atomic_write_text(stage / "_config.yml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))

    executed = {p.stem for p in list_chapters(book_dir) if (out_dir / f"{p.stem}.ipynb").is_file()}
    for stem in sorted(executed):
        nb = nbformat.read(out_dir / f"{stem}.ipynb", as_version=4)
        nbformat.write(markdown_math_to_mathml(static_notebook(nb)), stage / f"{stem}.ipynb")
    toc = yaml.safe_load((book_dir / "_toc.yml").read_text(encoding="utf-8"))
    chapter_stems = {p.stem for p in list_chapters(book_dir)}
    toc = _filter_toc(toc, keep=lambda f: Path(f).stem not in chapter_stems or Path(f).stem in executed)
    atomic_write_text(stage / "_toc.yml", yaml.safe_dump(toc, sort_keys=False))
    return stage


_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$")


def markdown_math_to_mathml(nb):
    """A copy of ``nb`` whose markdown ``$...$`` and ``$$...$$`` LaTeX is MathML, for the static book.

    Chapters write their equations in LaTeX (chapter 2 sets the model's code beside the paper's
    equations); JupyterLab renders those with its own bundled MathJax. The built book has no
    MathJax (it would load from a CDN), so the staged copy carries MathML instead, which every
    current browser renders natively (``latex2mathml``, a pure-Python package of the ``book``
    extra). Without that package the formulas are shown as code, never mangled as Markdown.
    """
    import html

    try:
        from latex2mathml.converter import convert
    except ImportError:  # pragma: no cover - the book extra installs it
        def convert(latex, display="inline"):
            return f"<code>{html.escape(latex)}</code>"

    def block(match):
        return convert(" ".join(match.group(1).split()), display="block")

    def inline(match):
        return convert(match.group(1).strip())

    def convert_text(text):
        parts = _CODE.split(text)  # code spans and fences (odd items) keep their dollars
        for i in range(0, len(parts), 2):
            parts[i] = _INLINE_MATH.sub(inline, _DISPLAY_MATH.sub(block, parts[i]))
        return "".join(parts)

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = convert_text(cell.source)
    return nb


def static_notebook(nb):
    """A copy of an executed notebook fit for a static page, where no kernel runs widgets.

    Progress bars (tqdm's HBox of text and a progress widget) become one line of text with
    their final state, taken from the widget state nbclient saved; any other widget (an
    explorer) becomes :data:`WIDGET_NOTE`. The widget state itself is dropped, so the page does
    not try to fetch a widget manager from a CDN.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    widgets = nb.metadata.pop("widgets", {}) or {}
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for i, out in enumerate(cell.get("outputs", [])):
            view = out.get("data", {}).get(_WIDGET_VIEW)
            if view is None:
                continue
            bar = _progress_text(view.get("model_id", ""), state)
            data = ({"text/plain": bar} if bar is not None else
                    {"text/html": WIDGET_NOTE, "text/plain": "[interactive explorer: open in JupyterLab]"})
            cell.outputs[i] = nbformat.v4.new_output("display_data", data=data)
    return nb


def _progress_text(model_id: str, state: dict[str, Any]) -> str | None:
    """``"MFCC: 100% |##########| 101/101 [00:09<00:00]"`` for a tqdm widget, else None."""
    import html

    model = state.get(model_id, {})
    if model.get("model_name") != "HBoxModel":
        return None
    children = [state.get(ref.removeprefix("IPY_MODEL_"), {}) for ref in model["state"].get("children", [])]
    kinds = [c.get("model_name") for c in children]
    if not any(k in ("FloatProgressModel", "IntProgressModel") for k in kinds) or not set(kinds) <= {
            "HTMLModel", "LabelModel", "FloatProgressModel", "IntProgressModel"}:
        return None
    parts = []
    for child, kind in zip(children, kinds, strict=True):
        st = child.get("state", {})
        if kind.endswith("ProgressModel"):
            done = st.get("value", 0) / (st.get("max") or 1)
            filled = max(0, min(10, round(10 * done)))
            parts.append("|" + "#" * filled + " " * (10 - filled) + "|")
        else:
            parts.append(html.unescape(re.sub(r"<[^>]+>", "", str(st.get("value", "")))).replace("\u2007", " "))
    return " ".join(p.strip() for p in parts if p.strip())


def build_book(stage: Path, build_dir: Path = BOOK_DIR) -> tuple[Path, str]:
    """Build the staged book with Jupyter Book 1.x into ``build_dir/_build/html``; returns (html, log).

    ``--all`` rebuilds every page: the staged folder differs per profile, and a build is a few
    seconds, so incremental builds are not worth stale pages.
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"),
               "build", str(stage), "--path-output", str(build_dir), "--all"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}):\n{_tail(log, 40)}")
    return Path(build_dir) / "_build" / "html", log


def external_references(html_dir: Path) -> list[str]:
    """``page: url`` for every script, stylesheet, image or frame a built page loads from the network."""
    found = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        for url in sorted(set(_EXTERNAL_REF.findall(text))):
            found.append(f"{page.relative_to(html_dir)}: {url}")
    return found


# --------------------------------------------------------------------------- entry point


def reproduce(profile: str = "offline", data_root: str | os.PathLike | None = None,
              device: str = "auto", chapters: Sequence[str] | None = None, build: bool = True,
              extra_parameters: dict[str, Any] | None = None, runs_dir: Path = RUNS_DIR,
              book_dir: Path = BOOK_DIR, build_dir: Path | None = None,
              progress: bool = True, cell_timeout: float | None = None,
              stall_timeout: float | None = None, text_model: str | None = None,
              audio_model: str | None = None, workers: int = 1) -> Report:
    """Run the chosen chapters on ``profile`` and (optionally) build the book; print a summary.

    Chapters come from ``book_dir``, executed notebooks go to ``runs_dir/<profile>/``, the built
    book to ``build_dir/_build/html`` (``build_dir`` defaults to ``book_dir``). Returns the
    :class:`Report`; ``report.ok`` is False when a chapter or the build failed, or a built page
    loads something from the network. ``cell_timeout`` and ``stall_timeout`` (seconds; 0 turns
    one off) default to the profile's values: no chapter can wait forever (:func:`run_chapter`).
    ``text_model`` / ``audio_model`` (a folder, hub id or short name; None: the profile's) go to
    every chapter as ``TEXT_MODEL`` / ``AUDIO_MODEL``; a missing folder or an unreachable hub id
    fails here, before any chapter runs. ``workers`` kernels run at once (:func:`run_chapters`).
    """
    from sernb.models.text import resolve_text_model
    from sernb.models.wav2vec import resolve_audio_model
    from sernb.profiles import get_profile

    settings = get_profile(profile, data_root=data_root, text_model=text_model)  # unknown names fail first
    specs = [resolve_text_model(text_model)] if text_model is not None else []
    if audio_model is not None:
        specs.append(resolve_audio_model(audio_model))
    out_dir = Path(runs_dir).resolve() / profile  # the kernels run in the book's folder
    params = parameters(profile, data_root, device, extra_parameters, text_model, audio_model)
    report = Report(profile=profile, parameters=params, kernel_python=kernel_python())
    _check_kernel(report.kernel_python)
    selected = select_chapters(chapters, book_dir)
    cell_timeout = settings.cell_timeout if cell_timeout is None else cell_timeout
    stall_timeout = settings.stall_timeout if stall_timeout is None else stall_timeout
    report.cell_timeout, report.stall_timeout = cell_timeout or None, stall_timeout or None
    report.chapter_workers = max(1, workers)
    start = time.perf_counter()
    report.chapters = run_chapters(selected, out_dir, params, progress=progress, workers=report.chapter_workers,
                                   cell_timeout=report.cell_timeout, stall_timeout=report.stall_timeout)
    report.chapters_wall_seconds = round(time.perf_counter() - start, 2)
    report.peak_kernel_rss_mb = largest_child_rss_mb()
    if build:
        start = time.perf_counter()
        try:
            stage = stage_book(out_dir, book_dir, announcement=_announcement(settings, specs))
            html, _ = build_book(stage, build_dir or book_dir)
            report.book = _display_path(html / "index.html")
            report.external_refs = external_references(html)
        except Exception as exc:
            report.book_error = str(exc)
        report.book_seconds = round(time.perf_counter() - start, 2)
    atomic_write_json(out_dir / "summary.json", asdict(report) | {"ok": report.ok})
    print(summary(report))
    return report


def largest_child_rss_mb() -> float | None:
    """Peak resident memory of the largest finished child process (the chapter kernels), in MB.

    Linux reports it for RUSAGE_CHILDREN in KiB (descendants included once waited for). With
    chapters run at once, the book needs up to ``workers`` times this.
    """
    try:
        import resource
    except ImportError:  # Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def summary(report: Report) -> str:
    """The table printed at the end of a run: chapter, status, time, output, failing cell."""
    rows = [("chapter", "status", "time", "output / failure")]
    for c in report.chapters:
        status = ("ok" if c.ok else "FAILED") + (f" (attempt {c.attempts})" if c.attempts > 1 else "")
        detail = c.output if c.ok else f"{c.output}  <- {c.failure_line()}"
        log = Path(c.output).with_suffix(".kernel.log")
        if not c.ok and log.is_file() and log.stat().st_size:
            detail += f"  (the kernel's own messages: {log})"
        if c.first_failure:
            detail += f"  [first attempt: {c.first_failure}]"
        rows.append((c.chapter, status, f"{c.seconds:.1f} s", detail))
    if report.book or report.book_error:
        rows.append(("(book)", "ok" if report.book_error is None else "FAILED",
                     f"{report.book_seconds:.1f} s", report.book or _first_line(report.book_error or "")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"profile {report.profile!r}, kernel python {report.kernel_python or '?'}"]
    lines += ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    total = sum(c.seconds for c in report.chapters) + report.book_seconds
    if report.chapter_workers > 1 and report.chapters_wall_seconds:
        lines.append(f"total {report.chapters_wall_seconds + report.book_seconds:.1f} s wall "
                     f"({total:.1f} s of chapter and build time; up to {report.chapter_workers} chapters at once, "
                     f"{', '.join(TIMED_CHAPTERS)} alone)")
    else:
        lines.append(f"total {total:.1f} s")
    if report.peak_kernel_rss_mb is not None:
        lines.append(f"peak memory of the largest chapter kernel: {report.peak_kernel_rss_mb:.0f} MB (RSS)")
    if report.book_error:
        lines.append(report.book_error)
    if report.external_refs:
        lines.append("built pages load from the network (the book must work offline):")
        lines += [f"  {ref}" for ref in report.external_refs[:20]]
    return "\n".join(lines)


def _announcement(settings, specs: Sequence[Any] = ()) -> str:
    """The banner on every built page: which profile and which corpus the numbers come from, and
    which encoders were stand-ins with random weights (``specs``: the resolved model specs)."""
    if settings.data_root is None and settings.corpus == "synthetic":
        corpus = ("corpus: SYNTHETIC (eSpeak NG speech in the IEMOCAP layout); "
                  "its numbers are not IEMOCAP numbers")
    else:
        corpus = f"data root: {settings.data_root} (each chapter names the corpus it found there)"
    text = f"Built from the runs of profile '{settings.name}' on {time.strftime('%Y-%m-%d')}; {corpus}."
    untrained = [spec for spec in specs if spec.untrained]
    if untrained or settings.text_model.startswith("tiny"):
        names = ", ".join(Path(s.location).name or s.name for s in untrained) or settings.text_model
        text += (f" STAND-IN MODELS ({names}): RANDOM, UNTRAINED weights that only exercise the code; "
                 "every number on this page means nothing.")
    return text


def _check_kernel(python: str) -> None:
    if not python:
        raise RuntimeError(f"no Jupyter kernel named {KERNEL_NAME!r}; run `make install`, which registers "
                           f"this environment's python with `python -m ipykernel install --sys-prefix "
                           f"--name {KERNEL_NAME}`")
    here, there = Path(sys.executable), Path(python)
    # python and python3 in one venv are links to the same interpreter: same folder, same target
    if there.parent.resolve() != here.parent.resolve() or there.resolve() != here.resolve():
        print(f"warning: kernel {KERNEL_NAME!r} runs {python}, not this environment's {sys.executable}; "
              "chapters may not find sernb", file=sys.stderr)


def _filter_toc(node: Any, keep) -> Any:
    """Drop toc entries whose ``file`` fails ``keep`` (recursing into parts/chapters/sections)."""
    if isinstance(node, list):
        return [n for n in (_filter_toc(x, keep) for x in node) if n is not None]
    if isinstance(node, dict):
        if "file" in node and not keep(node["file"]):
            return None
        kept = {k: _filter_toc(v, keep) if k in ("parts", "chapters", "sections") else v
                for k, v in node.items()}
        if "file" not in node and any(k in node for k in ("chapters", "sections")) and not any(
                kept.get(k) for k in ("chapters", "sections")):
            return None  # a part none of whose chapters ran (Jupyter Book refuses an empty part)
        return {k: v for k, v in kept.items() if v != [] or k not in ("chapters", "sections")}
    return node


def _last_started_source(output: Path) -> str | None:
    """Source of the last cell papermill started in the saved ``output`` (the one that hung)."""
    import nbformat

    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:  # nothing saved yet (the kernel never started)
        return None
    started = [c for c in nb.cells
               if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time")]
    return started[-1].source if started else None


def _cell_number(nb, source: str) -> int | None:
    """1-based position of the cell with this source in the chapter as written (papermill adds cells)."""
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and cell.source.strip() == (source or "").strip():
            return i
    return None


def _display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0][:200] if text else ""


def _first_code_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()[:100]
    return ""


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
