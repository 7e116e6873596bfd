"""Every chapter ends with a section "## Exercises" of 3 to 5 numbered exercises.

A study book ends each chapter with exercises a student can do in JupyterLab on a laptop:
change a named parameter or one line, predict, rerun, compare. At least one per chapter is
checked against a number the chapter prints, so the section must point at something printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from sernb.reproduce import list_chapters

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = list_chapters(BOOK)


def exercises(chapter: Path) -> tuple[str, list[int]]:
    """The text of the chapter's last markdown cell if it is the Exercises section, and its item numbers."""
    cells = [c for c in jupytext.read(chapter).cells if c.source.strip()]
    last = cells[-1]
    assert last.cell_type == "markdown" and last.source.lstrip().startswith("## Exercises"), (
        f"{chapter.name}: the last cell must be a markdown cell starting with '## Exercises'")
    text = last.source
    assert text.count("\n## ") == 0, f"{chapter.name}: no other section may follow the exercises"
    numbers = [int(m) for m in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]
    return text, numbers


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_ends_with_three_to_five_exercises(chapter: Path):
    text, numbers = exercises(chapter)
    assert 3 <= len(numbers) <= 5, f"{chapter.name}: {len(numbers)} exercises, need 3 to 5"
    assert numbers == list(range(1, len(numbers) + 1)), f"{chapter.name}: exercises numbered {numbers}"
    assert "printed" in text, f"{chapter.name}: no exercise says which printed number to check"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_exercises_use_the_chapters_own_parameters(chapter: Path):
    """Each ``NAME = value`` an exercise asks for names a variable the chapter defines."""
    text, _ = exercises(chapter)
    source = chapter.read_text(encoding="utf-8")
    for name in set(re.findall(r"`([A-Z][A-Z_]+) = ", text)):
        assert re.search(rf"^{name} = ", source, flags=re.MULTILINE), (
            f"{chapter.name}: an exercise sets {name}, which the chapter does not define")
