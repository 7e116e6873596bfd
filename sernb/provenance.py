"""What a number needs beside it to be trusted: the code's version, the libraries, the device.

:func:`sernb.experiments.provenance` (every result.json) and :func:`sernb.bench.environment`
(every benchmark report) both describe the machine with these functions.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

import sernb
from sernb.fingerprint import fingerprint
from sernb.utils import PROJECT_ROOT

#: The libraries whose versions are recorded with every result and benchmark.
LIBRARIES = ("torch", "transformers", "scikit-learn", "numpy", "pandas", "librosa", "psutil")


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def library_versions() -> dict[str, str | None]:
    """Python, sernb and :data:`LIBRARIES` versions."""
    return {"python": platform.python_version(), "sernb": sernb.__version__, "torch": torch.__version__,
            **{name: package_version(name) for name in LIBRARIES if name != "torch"}}


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_device(device: torch.device) -> str:
    """``"cuda (NVIDIA H100)"`` or ``"cpu (2 threads, x86_64)"``: one line for a result's record."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads > 1 else ''}, {platform.processor() or platform.machine()})"


def environment(device: torch.device) -> dict[str, Any]:
    """Device names and library versions: a timing means nothing without them."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "device": str(device), "device_name": gpu or cpu_name(), "cpu": cpu_name(), "gpu": gpu,
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "python": platform.python_version(), "platform": platform.platform(),
        "versions": library_versions(),
        # stored timings of other code are measured again (sernb.bench.stored_measurement)
        "code_fingerprint": fingerprint("sernb.bench"),
    }


def git_commit() -> str | None:
    """The checkout's commit (with ``+dirty`` when files changed), or None outside git."""
    try:
        head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None
