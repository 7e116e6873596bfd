"""Errors that mean "the input is bad", not "sernb has a bug" (every chapter and the CLI).

A :class:`SernbError` carries the file (or option) it is about and the problem, and prints as
``<file>: <problem>``. The command line turns it into ``sernb <command>: error: <file>: <problem>``
and exit status 2, without a traceback; any other exception is a bug and keeps its traceback.

=================  ==================================================================================
UserInputError     a bad option or argument (no such device, an empty seed list)
DataError          a corpus file or recording that cannot be used (names the file, often the line)
CheckpointError    a model folder that is missing, incomplete or damaged
DeviceError        a device that does not exist here
MissingDependency  a Python package the input needs is not installed (names the package)
=================  ==================================================================================

:class:`sernb.data.audio.AudioError` (an unusable recording) is a :class:`DataError`.
"""

from __future__ import annotations

import os


class SernbError(Exception):
    """A problem with what the user gave sernb; ``path`` (may be None) names the file."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class UserInputError(SernbError, ValueError):
    """A bad option, argument or input file."""


class DataError(UserInputError):
    """A corpus file or recording that cannot be used."""


class CheckpointError(UserInputError):
    """A model folder that is missing, incomplete or damaged."""


class DeviceError(UserInputError, RuntimeError):
    """A device that does not exist here (``--device cuda`` without a GPU, a misspelt name)."""


class DataNotFound(DataError, FileNotFoundError):
    """A corpus or file that is not where the user said (no IEMOCAP layout under the data root...)."""


class MissingDependencyError(UserInputError, ImportError):
    """A model folder or option needs a Python package that is not installed (the message names it)."""
