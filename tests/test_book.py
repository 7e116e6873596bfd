"""The book's structure, and the reproduce pipeline on a two-chapter mini book.

Structure (fast, no kernel): every chapter ``book/NN_*.py`` has exactly one ``parameters``
cell with the quick-profile defaults, its paired ``.ipynb`` holds the same cells (sources and
tags) and no outputs, and ``_toc.yml`` lists it. Pipeline (one papermill run of two tiny
chapters and one Jupyter Book build, ~15 s): failures are reported with their cell, executed
notebooks land in runs/, and the built pages load nothing from the network.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from sernb import reproduce as rp

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = rp.list_chapters(BOOK)
REQUIRED_PARAMETERS = {"PROFILE": "offline", "DATA_ROOT": None, "DEVICE": "auto", "TEXT_MODEL": None,
                       "AUDIO_MODEL": None}


def _ids(paths):
    return [p.stem for p in paths]


def _cells(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def _parameter_cells(path: Path) -> list:
    return [c for c in jupytext.read(path).cells if "parameters" in c.metadata.get("tags", [])]


def test_there_are_chapters():
    assert CHAPTERS, f"no chapters book/NN_*.py in {BOOK}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids(CHAPTERS))
def test_exactly_one_parameters_cell_with_quick_defaults(chapter: Path):
    cells = _parameter_cells(chapter)
    assert len(cells) == 1, f"{chapter.name}: {len(cells)} cells tagged 'parameters', need exactly one"
    cell = cells[0]
    assert cell.cell_type == "code"
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), f"{chapter.name}: parameters cell must hold only assignments"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    for name, default in REQUIRED_PARAMETERS.items():
        assert name in values, f"{chapter.name}: parameters cell lacks {name}"
        assert values[name] == default, f"{chapter.name}: {name} defaults to {values[name]!r}, not {default!r}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids(CHAPTERS))
def test_pair_in_sync(chapter: Path):
    notebook = chapter.with_suffix(".ipynb")
    assert notebook.is_file(), f"{notebook.name} missing: run `.venv/bin/jupytext --sync {chapter}`"
    assert _cells(chapter) == _cells(notebook), (
        f"{chapter.name} and {notebook.name} differ: run `.venv/bin/jupytext --sync {chapter}`")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids(CHAPTERS))
def test_committed_notebook_has_no_outputs(chapter: Path):
    nb = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
    dirty = [i for i, c in enumerate(nb.cells, 1)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"{chapter.stem}.ipynb has outputs in cells {dirty}; clear them (JupyterLab: "
                       "Edit > Clear All Outputs, then save) - executed copies belong in runs/")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_sets_up_figures(chapter: Path):
    assert "viz.setup_notebook()" in chapter.read_text(encoding="utf-8"), (
        f"{chapter.name} must call sernb.viz.setup_notebook() (offline plotly in the built book)")


def _toc_files(node) -> list[str]:
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        found += [node["root"]] if "root" in node else []
        return found + [f for k in ("parts", "chapters", "sections") for f in _toc_files(node.get(k, []))]
    return []


def test_toc_lists_every_chapter_and_only_existing_files():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    listed = [Path(f).with_suffix("").as_posix() for f in _toc_files(toc)]
    missing = [p.stem for p in CHAPTERS if p.stem not in listed]
    assert not missing, f"_toc.yml does not list {missing}"
    for name in listed:
        assert any((BOOK / f"{name}{s}").is_file() for s in (".md", ".py", ".ipynb")), f"_toc.yml: no {name}"


def test_jupytext_pairing_keeps_tags():
    text = (BOOK / "jupytext.toml").read_text(encoding="utf-8")
    assert 'formats = "ipynb,py:percent"' in text
    assert '"-all"' not in text  # would strip the "parameters" tag papermill needs


def test_book_config_builds_from_executed_notebooks_without_cdn_math():
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "off"
    extensions = config["parse"]["myst_enable_extensions"]
    assert "dollarmath" not in extensions and "amsmath" not in extensions


def test_select_chapters_by_number_or_name():
    if not CHAPTERS:
        pytest.skip("no chapters")
    first = CHAPTERS[0]
    number = first.stem.split("_")[0]
    assert rp.select_chapters([number], BOOK) == [first]
    assert rp.select_chapters([first.stem], BOOK) == [first]
    assert rp.select_chapters(None, BOOK) == CHAPTERS
    with pytest.raises(ValueError, match="no chapter"):
        rp.select_chapters(["99_nope"], BOOK)


def test_static_notebook_replaces_widgets_and_drops_their_state():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    cell = nbformat.v4.new_code_cell("w")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2},
        "text/plain": "VBox()"})]
    nb.cells = [cell]
    static = rp.static_notebook(nb)
    assert "widgets" not in static.metadata
    data = static.cells[0].outputs[0]["data"]
    assert "JupyterLab" in data["text/html"] and "application/vnd.jupyter.widget-view+json" not in data


def test_staged_markdown_math_becomes_mathml_and_code_is_untouched():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Let $x_t \\in \\mathbb{R}^{40}$ be a frame:\n\n"
                                              "$$a = \\frac{1}{T}\n\\sum_t h_t$$\n\nIn code: `$$` and `$5`; $y$."),
                nbformat.v4.new_code_cell("price = '$x$'")]
    staged = rp.markdown_math_to_mathml(nb)
    text = staged.cells[0].source
    assert "$y$" not in text and "$$a" not in text
    assert "`$$` and `$5`" in text  # code spans keep their dollars
    assert staged.cells[1].source == "price = '$x$'" and nb.cells[0].source.startswith("Let $x_t")
    try:
        import latex2mathml  # noqa: F401  (the book extra installs it)
    except ImportError:
        assert "<code>a = \\frac{1}{T} \\sum_t h_t</code>" in text  # shown as code, not parsed as Markdown
    else:
        assert "\\frac" not in text and "\\mathbb" not in text
        assert text.count("<math") == 3 and text.count('display="block"') == 1


def test_external_references_finds_scripts_not_links(tmp_path: Path):
    (tmp_path / "a.html").write_text(
        '<a href="https://example.org">ok</a><script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="_static/local.css"><img src="//cdn.example/i.png">')
    assert rp.external_references(tmp_path) == ["a.html: //cdn.example/i.png", "a.html: https://cdn.example/x.js"]


# --------------------------------------------------------------------------- the pipeline

MINI_OK = '''\
# %% [markdown]
# # Mini chapter

# %% tags=["parameters"]
PROFILE = "offline"
DATA_ROOT = None
DEVICE = "auto"

# %%
from sernb import viz
viz.setup_notebook()
import ipywidgets
import plotly.express as px
import sys
print("profile is", PROFILE)
print("kernel prefix", sys.prefix)

# %%
px.bar(x=["a", "b"], y=[1, 2], title="mini")

# %%
ipywidgets.IntSlider()
'''

MINI_FAIL = '''\
# %% tags=["parameters"]
PROFILE = "offline"

# %%
x = 1

# %%
raise ValueError(f"boom on {PROFILE}")
'''


@pytest.fixture(scope="module")
def mini_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("minibook")
    book = root / "book"
    book.mkdir()
    (book / "_config.yml").write_text((BOOK / "_config.yml").read_text(encoding="utf-8"))
    (book / "intro.md").write_text("# Mini book\n\nFor the tests.\n")
    (book / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: intro
        chapters:
          - file: 01_ok
          - file: 02_fail
          - file: 03_never_run
        """))
    (book / "01_ok.py").write_text(MINI_OK)
    (book / "02_fail.py").write_text(MINI_FAIL)
    (book / "03_never_run.py").write_text(MINI_FAIL)
    report = rp.reproduce(profile="smoke", chapters=["01", "02"], runs_dir=root / "runs",
                          book_dir=book, build_dir=root / "site", progress=False)
    return root, report


def test_reproduce_runs_chapters_with_injected_parameters(mini_report):
    root, report = mini_report
    ok, failed = report.chapters
    assert ok.ok and ok.chapter == "01_ok"
    nb = nbformat.read(root / "runs" / "smoke" / "01_ok.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "PROFILE = \"smoke\"" in injected[0].source
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "profile is smoke" in printed
    assert f"kernel prefix {sys.prefix}\n" in printed  # papermill ran this environment's python
    assert report.peak_kernel_rss_mb is None or report.peak_kernel_rss_mb > 20  # a python kernel's size


def test_reproduce_reports_the_failing_cell_and_fails(mini_report):
    _, report = mini_report
    failed = report.chapters[1]
    assert not failed.ok and failed.failed_cell == 3
    assert "ValueError: boom on smoke" in failed.error
    assert not report.ok
    assert "cell 3: ValueError: boom on smoke" in rp.summary(report)


def test_reproduce_builds_an_offline_book_from_executed_notebooks(mini_report):
    root, report = mini_report
    assert report.book_error is None, report.book_error
    html = root / "site" / "_build" / "html"
    page = (html / "01_ok.html").read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page and "sernb-widget-note" in page  # plotly inlined; widget replaced
    assert not (html / "03_never_run.html").exists()  # not run -> not in the staged toc
    assert report.external_refs == [], report.external_refs
    assert "SYNTHETIC" in page  # the profile banner


# --------------------------------------------------------------------------- no chapter waits forever

MINI_SLEEP = '''\
# %% tags=["parameters"]
PROFILE = "offline"

# %%
import time
x = 1

# %%
time.sleep(120)  # stands in for a stalled cell
'''


@pytest.fixture(scope="module")
def stalled_book(tmp_path_factory):
    root = tmp_path_factory.mktemp("stallbook")
    book = root / "book"
    book.mkdir()
    (book / "01_sleeps.py").write_text(MINI_SLEEP)
    (book / "02_ok.py").write_text(MINI_OK)
    return root, book


def test_a_cell_past_its_timeout_fails_its_chapter_by_name_and_the_next_chapter_runs(stalled_book, capfd):
    import time

    root, book = stalled_book
    start = time.monotonic()
    report = rp.reproduce(profile="smoke", runs_dir=root / "runs", book_dir=book, build=False,
                          progress=False, cell_timeout=30, stall_timeout=0)
    slept, ok = report.chapters
    assert time.monotonic() - start < 100  # not the 120 s the cell asked for
    assert not slept.ok and slept.timed_out and slept.failed_cell == 3
    assert "timed out" in slept.error and "30 s" in slept.error
    assert "cell 3: timed out" in rp.summary(report) and "time.sleep(120)" in rp.summary(report)
    assert ok.ok and not report.ok
    # the kernels' own messages (ipykernel's warnings, what it logs while being stopped) go to a
    # log beside each executed chapter, not to the terminal
    assert (root / "runs" / "smoke" / "01_sleeps.kernel.log").is_file()
    assert "IPKernelApp" not in capfd.readouterr().err


MINI_STALLS_ONCE = '''\
# %% tags=["parameters"]
PROFILE = "offline"
MARKER = ""

# %%
import os
import time

# %%
if not os.path.exists(MARKER):  # the first attempt hangs, as a wedged kernel would
    open(MARKER, "w").close()
    time.sleep(120)
print("second attempt got through")
'''


def test_a_kernel_with_no_cpu_is_stopped_as_stalled_and_its_chapter_run_again(stalled_book):
    root, book = stalled_book
    (book / "03_stalls_once.py").write_text(MINI_STALLS_ONCE)
    report = rp.reproduce(profile="smoke", chapters=["03"], runs_dir=root / "runs2", book_dir=book,
                          build=False, progress=False, cell_timeout=0, stall_timeout=8,
                          extra_parameters={"MARKER": str(root / "marker")})
    (run,) = report.chapters
    assert run.ok and run.attempts == 2, run
    assert run.first_failure.startswith("cell 3: stalled"), run.first_failure
    assert "ok (attempt 2)" in rp.summary(report) and "first attempt: cell 3: stalled" in rp.summary(report)
    nb = nbformat.read(root / "runs2" / "smoke" / "03_stalls_once.ipynb", as_version=4)
    assert "second attempt got through" in str(nb.cells[-1].outputs)


def test_a_chapter_that_keeps_stalling_fails_by_name(stalled_book):
    root, book = stalled_book
    report = rp.reproduce(profile="smoke", chapters=["01"], runs_dir=root / "runs3", book_dir=book,
                          build=False, progress=False, cell_timeout=0, stall_timeout=8)
    (slept,) = report.chapters
    assert not slept.ok and slept.stalled and slept.failed_cell == 3 and slept.attempts == 2, slept
    assert slept.error.startswith("stalled") and slept.seconds < 180


def test_profiles_bound_every_cell():
    from sernb.profiles import PROFILES

    for profile in PROFILES.values():
        assert profile.cell_timeout and profile.stall_timeout, profile.name


def test_chapter_kernels_get_clients_that_wait_in_short_slices():
    import asyncio
    from queue import Empty

    manager = rp.kernel_manager_class()(kernel_name="python3")
    client = manager.client()
    for channel in ("shell_channel_class", "iopub_channel_class", "stdin_channel_class",
                    "control_channel_class"):
        assert getattr(client, channel).__name__ == "SlicedWaitChannel"

    class Silent:  # a socket on which nothing ever arrives
        async def poll(self, timeout_ms):
            polls.append(timeout_ms)
            await asyncio.sleep(timeout_ms / 1000)
            return 0

    polls: list = []
    channel = client.shell_channel_class.__new__(client.shell_channel_class)
    channel.socket = Silent()
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=5))
    assert len(polls) >= 3 and max(polls) <= rp.WAKE_S * 1000  # never one long wait


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_papermill_parses_every_parameter(chapter: Path):
    """papermill reads each ``NAME = value  # help`` line; one it cannot parse ("Unable to parse line")
    is still overwritten by injection, but `papermill --help-notebook` loses it and a warning is printed."""
    from papermill.translators import PythonTranslator

    cell = _parameter_cells(chapter)[0]
    names = {p.name for p in PythonTranslator.inspect(cell)}
    assigned = {node.targets[0].id for node in ast.parse(cell.source).body}
    assert names == assigned, f"{chapter.name}: papermill cannot parse {sorted(assigned - names)}"



# --------------------------------------------------------------------------- chapters at once

MINI_CLOCK = '''\
# %% tags=["parameters"]
PROFILE = "offline"
LOG = ""

# %%
import json, os, time
start = time.time()
time.sleep(4)
with open(LOG, "a") as log:
    log.write(json.dumps({"threads": os.environ.get("OMP_NUM_THREADS"), "start": start, "end": time.time()}) + "\\n")
'''


def test_chapters_run_two_at_once_with_one_thread_each_and_the_timed_chapter_alone(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    stems = ["01_a", "02_b", "03_c", rp.TIMED_CHAPTERS[0]]
    logs = {stem: tmp_path / f"{stem}.jsonl" for stem in stems}
    for stem in stems:
        (book / f"{stem}.py").write_text(MINI_CLOCK.replace('LOG = ""', f'LOG = {str(logs[stem])!r}'))
    report = rp.reproduce(profile="smoke", runs_dir=tmp_path / "runs", book_dir=book, build=False,
                          progress=False, workers=2)
    assert [c.chapter for c in report.chapters] == sorted(stems) and report.ok, rp.summary(report)
    seen = {stem: json.loads(logs[stem].read_text()) for stem in stems}
    timed = seen.pop(rp.TIMED_CHAPTERS[0])
    assert all(timed["end"] <= s["start"] for s in seen.values())  # alone, before the others
    assert {s["threads"] for s in seen.values()} == {str(max(1, (os.cpu_count() or 1) // 2))}
    first, second, third = sorted(seen.values(), key=lambda s: s["start"])
    assert second["start"] < first["end"]  # two kernels at once
    assert "up to 2 chapters at once" in rp.summary(report)
