"""Small helpers every module shares: seeding, device choice, atomic writes, per-item array caches,
config hashing."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Where generated corpora, feature caches and results live unless the user says otherwise.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_home() -> Path:
    """The data folder: ``$SERNB_DATA`` if set, else ``data/`` in the checkout."""
    return Path(os.environ.get("SERNB_DATA", PROJECT_ROOT / "data"))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that the same seed gives the same numbers on CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # the data layer works without torch
        return
    torch.manual_seed(seed)


#: librosa modules whose numba kernels compile when imported and are cached on disk beside them.
LIBROSA_COMPILED = ("librosa.util.utils", "librosa.core.audio", "librosa.core.pitch", "librosa.beat")


def compile_librosa_kernels() -> None:
    """Import librosa's numba-compiled modules here, once, before this process starts workers.

    Their kernels compile at import and are cached in two files per kernel beside librosa. Two
    processes compiling one kernel at the same moment (the first workers of a fresh install) can
    leave those two files from different compilations, and from then on every process that calls
    the kernel crashes with a segmentation fault (numba issue #10128; here ``librosa.yin`` killed a
    chapter's kernel). Compiled once by the parent, the workers only read the cache.
    """
    import importlib

    for module in LIBROSA_COMPILED:
        importlib.import_module(module)


def pick_device(prefer: str | None = "auto"):
    """Return a ``torch.device``: CUDA when present (or asked for), else CPU.

    ``prefer`` is ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Asking for CUDA on a
    machine without it is an error rather than a silent fallback.
    """
    import torch

    from sernb.errors import DeviceError

    if prefer in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(prefer)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(None, f"unknown device {prefer!r}: use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(None, f"device {prefer!r} was requested but torch sees no CUDA GPU; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(None, f"device {prefer!r} does not exist: torch sees {torch.cuda.device_count()} GPU(s)")
    return device


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``.

    A killed process leaves either the old file or the new one, never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically, with sorted keys so identical content gives identical bytes."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def save_array(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write one cached array as ``.npy``, atomically (a killed process leaves no half file).

    The per-item caches (MFCC frames, frozen text states, speech-encoder states) all store one
    file per item under a folder keyed by what computed it; this and :func:`load_array` are the
    only code that reads or writes them.
    """
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue())


def load_array(path: str | os.PathLike, kind: str = "") -> np.ndarray | None:
    """A cached array, or None when it is absent or unreadable (the caller recomputes and rewrites it;
    ``kind``, e.g. ``"MFCC"``, names the cache in the warning)."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError):
        logging.getLogger(__name__).warning("ignoring unreadable %s cache file %s; recomputing",
                                              kind or "array", path)
        return None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def config_hash(config: Any, length: int = 12) -> str:
    """A short stable hash of a JSON-able config: the key of cached features and results."""
    blob = json.dumps(config, sort_keys=True, default=_json_default).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:length]


#: A temporary file of :func:`atomic_write_bytes` older than this (seconds) was left by a killed process.
STALE_TEMP_SECONDS = 600.0


def clean_stale_temp(folder: str | os.PathLike, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete the ``.<name>.*.tmp`` files a killed :func:`atomic_write_bytes` left in ``folder``.

    Only files older than ``older_than`` seconds go, so a writer working right now (another
    process, a joblib worker) keeps its file. Returns how many were removed.
    """
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    limit = time.time() - older_than
    removed = 0
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < limit:
                tmp.unlink()
                removed += 1
        except OSError:  # gone already, or not ours to delete
            continue
    return removed


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (the file ``<folder>.lock`` beside it) while inside.

    Two processes that compute the same run (two grid jobs, a chapter and a grid job, on one
    machine or on several sharing a filesystem) take turns: the second waits, then finds the
    run stored and reads it. The lock is ``filelock.FileLock`` (``flock``/``fcntl``), released by
    the kernel when its holder dies, so a killed job never leaves a stale lock; on NFS it needs a
    lock daemon (NFSv4 has one; Lustre needs the ``flock`` mount option). The lock file lives
    beside the folder, so removing the folder never removes a lock someone holds.
    """
    from filelock import FileLock, Timeout

    path = Path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logging.getLogger("sernb").info("waiting for %s: another process is computing %s", path,
                                        what or "it")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def decode_text(data: bytes) -> tuple[str, int]:
    """Bytes of a text file -> ``(text, lines not in UTF-8)``, never replacement characters.

    Each line is read as UTF-8 (a leading byte-order mark is dropped); a line that is not valid
    UTF-8 is read as Windows-1252 (Latin-1 where cp1252 leaves a byte undefined), which is what
    such files almost always are. The caller reports the count, so nothing is fixed silently.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        pass
    lines, fallback = [], 0
    for raw in data.split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            fallback += 1
            try:
                lines.append(raw.decode("cp1252"))
            except UnicodeDecodeError:
                lines.append(raw.decode("latin-1"))
    return "\n".join(lines), fallback
