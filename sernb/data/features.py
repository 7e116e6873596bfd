"""40-d MFCC frames per utterance, computed once and cached on disk (chapter "Data and preprocessing").

The paper feeds 40-dimensional MFCCs at 16 kHz to a BiLSTM. :func:`extract_mfcc` computes them
for a whole table in parallel and stores one ``.npy`` per clip under
``data_home()/cache/mfcc/<config hash>/``, keyed by the clip's absolute path, size and
modification time, so a rerun, a second notebook or a regenerated corpus never reuses stale
frames and never recomputes fresh ones. Cache files are written atomically.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sernb.data.audio import AudioError, clip_digest, load_audio
from sernb.utils import clean_stale_temp, compile_librosa_kernels, config_hash, data_home, load_array, save_array

logger = logging.getLogger("sernb")

#: With ``n_jobs=None``, each worker must get at least this many uncached clips. Measured on
#: 2 cores: a 3 s clip takes ~4 ms in-process, while starting a worker (and importing librosa
#: in it) takes 3-7 s; below ~1,000 clips the serial path wins.
MIN_CLIPS_PER_JOB = 500


@dataclass(frozen=True)
class MFCCConfig:
    """How MFCC frames are computed; every field is part of the cache key.

    25 ms windows (``n_fft=400``) with a 10 ms hop (``hop_length=160``) at 16 kHz give 100
    frames per second. 64 mel bands: a 400-point FFT has only 201 bins, and with librosa's
    default 128 bands the lowest ones cover a single bin each (64 gives every band two or more).
    ``max_seconds`` keeps only the first 10 s: the paper "truncates for computational balance"
    without saying to what (its "10% length" reads like a typo for 10 s). Most IEMOCAP
    utterances are shorter, so the cap mainly bounds memory and BiLSTM time for the long tail.
    None keeps everything.
    """

    sr: int = 16000
    n_mfcc: int = 40
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    max_seconds: float | None = 10.0

    def key(self) -> str:
        """Short hash naming this configuration's cache folder; a change to the code that computes
        the frames (this module, :mod:`sernb.data.audio`) gives a new folder (:mod:`sernb.fingerprint`)."""
        from sernb.fingerprint import fingerprint

        return config_hash({"feature": "mfcc", "code": fingerprint(__name__), **asdict(self)})


class FeatureList(list):
    """A list of per-row arrays; ``errors`` maps row position -> message for rows left as None,
    ``reasons`` the same rows -> the skip reason counted for them (see :func:`skip_reason`)."""

    def __init__(self, items=(), errors: dict[int, str] | None = None):
        super().__init__(items)
        self.errors: dict[int, str] = dict(errors or {})
        self.reasons: dict[int, str] = {}


def skip_reason(problem: str) -> str:
    """The counted skip reason of a clip's problem: silent, too short, or unreadable audio."""
    if problem.startswith("digital silence"):
        return "silent audio"
    if problem.startswith("too short"):
        return "audio too short"
    return "unreadable audio"


def mfcc(audio: np.ndarray, config: MFCCConfig = MFCCConfig()) -> np.ndarray:
    """MFCC frames of one mono clip already at ``config.sr``: shape (frames, n_mfcc), float32."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"mfcc needs a non-empty 1-D mono signal, got shape {audio.shape}")
    if config.max_seconds is not None:
        audio = audio[: int(round(config.max_seconds * config.sr))]
    coeffs = librosa.feature.mfcc(
        y=audio, sr=config.sr, n_mfcc=config.n_mfcc, n_fft=config.n_fft,
        hop_length=config.hop_length, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax,
    )
    return np.ascontiguousarray(coeffs.T, dtype=np.float32)


def clip_mfcc(path: str | os.PathLike, config: MFCCConfig = MFCCConfig()) -> np.ndarray:
    """Load one clip and return its MFCC frames; errors name the file.

    Only the first ``config.max_seconds`` (plus a margin for the resampler) are decoded.
    """
    limit = None if config.max_seconds is None else config.max_seconds + 0.05
    audio = load_audio(path, sr=config.sr, max_seconds=limit)
    if audio.size < config.n_fft:  # not one whole analysis window: frames of padding, not speech
        raise AudioError(path, f"too short: {audio.size} samples at {config.sr} Hz, less than one "
                         f"{config.n_fft}-sample analysis window")
    if not np.any(audio):
        raise AudioError(path, "digital silence: every sample is 0")
    try:
        return mfcc(audio, config)
    except Exception as exc:  # wrap so the message names the clip
        raise AudioError(path, f"MFCC failed: {type(exc).__name__}: {exc}") from exc


def cache_folder(config: MFCCConfig = MFCCConfig(), cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the frames for ``config`` are cached (``data_home()/cache/mfcc/<hash>`` by default)."""
    base = Path(cache_dir) if cache_dir is not None else data_home() / "cache" / "mfcc"
    return base / config.key()


def cache_file(path: str | os.PathLike, folder: Path) -> Path:
    """Cache file of one clip: a hash of its absolute path, size and mtime (stale-proof)."""
    return folder / f"{clip_digest(path)}.npy"


def extract_mfcc(
    source: pd.DataFrame | Sequence[str | os.PathLike],
    config: MFCCConfig = MFCCConfig(),
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    progress: bool = True,
    use_cache: bool = True,
) -> FeatureList:
    """MFCC frames for every row of a table (its ``wav_path``) or every path, in that order.

    Cached clips are read back; the rest are computed across ``n_jobs`` processes and cached
    (None: all cores when at least :data:`MIN_CLIPS_PER_JOB` clips per core are uncached, else
    in this process; 1: in this process; -1: all cores). ``on_error="raise"`` stops at the
    first unreadable clip with an :class:`AudioError` naming it; ``"skip"`` leaves None in its
    place, records the message in ``result.errors`` and logs one summary line.
    ``use_cache=False`` neither reads nor writes the cache (for timing the computation itself).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    if n_jobs is not None and n_jobs != -1 and n_jobs < 1:
        raise ValueError(f"n_jobs must be None, -1 or a positive number, not {n_jobs}")
    paths = _paths(source)
    result = FeatureList([None] * len(paths))
    folder = cache_folder(config, cache_dir) if use_cache else None
    if folder is not None and (removed := clean_stale_temp(folder)):
        logger.info("MFCC cache: removed %d temporary file(s) left by an interrupted extraction", removed)
    todo: list[tuple[int, str, str | None]] = []
    for i, path in enumerate(paths):
        try:
            target = cache_file(path, folder) if folder is not None else None
        except AudioError as exc:
            _fail(result, i, exc, on_error)
            continue
        cached = load_array(target, "MFCC") if target is not None else None
        if cached is not None:
            result[i] = cached
        else:
            todo.append((i, path, None if target is None else str(target)))
    for i, frames, problem in _compute(todo, config, n_jobs, progress):
        if problem is not None:
            _fail(result, i, AudioError(paths[i], problem), on_error)
        else:
            result[i] = frames
    _report(result, len(paths))
    return result


def load_features(
    table: pd.DataFrame, config: MFCCConfig = MFCCConfig(), on_error: Literal["raise", "skip"] = "skip",
    **kwargs,
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Table and MFCC frames aligned row by row, without the rows whose audio failed.

    The dropped rows are counted in ``table.attrs["skipped"]`` (``unreadable audio``, ``silent
    audio``, ``audio too short``), so the count stays visible next to the loader's own skips.
    ``kwargs`` go to :func:`extract_mfcc`.
    """
    feats = extract_mfcc(table, config, on_error=on_error, **kwargs)
    keep = [i for i, f in enumerate(feats) if f is not None]
    kept = table.iloc[keep].reset_index(drop=True)
    kept.attrs = {**table.attrs, "skipped": dict(table.attrs.get("skipped", {}))}
    skipped = kept.attrs["skipped"]
    for i in feats.errors:
        reason = feats.reasons.get(i, "unreadable audio")
        skipped[reason] = skipped.get(reason, 0) + 1
    return kept, [feats[i] for i in keep]


def _paths(source: pd.DataFrame | Sequence[str | os.PathLike]) -> list[str]:
    if isinstance(source, pd.DataFrame):
        if "wav_path" not in source.columns:
            raise ValueError("the table has no 'wav_path' column; pass a table from sernb.data.load")
        source = source["wav_path"].tolist()
    elif isinstance(source, (str, os.PathLike)):
        raise TypeError("pass a table or a list of paths, not a single path (use clip_mfcc for one clip)")
    return [os.path.abspath(p) for p in source]


def _extract_one(path: str, config: MFCCConfig, target: str | None) -> tuple[np.ndarray | None, str | None]:
    """Worker: frames or the problem, never an exception (one bad clip must not kill the pool)."""
    try:
        frames = clip_mfcc(path, config)
    except AudioError as exc:
        return None, exc.problem
    if target is not None:
        save_array(target, frames)
    return frames, None


def _compute(
    todo: list[tuple[int, str, str | None]], config: MFCCConfig, n_jobs: int | None, progress: bool
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """Yield (row, frames, problem) for the uncached clips, in order, in parallel when it pays."""
    if not todo:
        return
    from tqdm.auto import tqdm

    n_jobs = _n_jobs(n_jobs, len(todo))
    bar = tqdm(total=len(todo), desc=f"MFCC ({n_jobs} job{'s' if n_jobs > 1 else ''})",
               unit="clip", disable=not progress)
    if n_jobs == 1:
        outputs = _serial(todo, config)
    else:
        from joblib import Parallel, delayed

        compile_librosa_kernels()  # before the workers import librosa side by side
        parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size="auto")
        outputs = parallel(delayed(_extract_one)(path, config, target) for _, path, target in todo)
    with bar:
        for (i, _, _), (frames, problem) in zip(todo, outputs, strict=True):
            bar.update(1)
            yield i, frames, problem


def _serial(todo: list[tuple[int, str, str | None]], config: MFCCConfig) -> Iterator[tuple]:
    """In-process extraction with BLAS held to one thread.

    librosa's mel projection is a small matrix product; letting OpenBLAS spread each one over
    all cores made serial extraction 3.5x slower on a 2-core machine. (joblib's workers get the
    same one-thread limit from joblib itself.)
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for _, path, target in todo:
            yield _extract_one(path, config, target)


def _n_jobs(n_jobs: int | None, n_clips: int) -> int:
    """None: all cores when there are enough clips to pay for the workers; -1: all cores."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return max(1, min(cores, n_clips // MIN_CLIPS_PER_JOB))
    return min(cores if n_jobs == -1 else n_jobs, n_clips)


def _fail(result: FeatureList, i: int, exc: AudioError, on_error: str) -> None:
    if on_error == "raise":
        raise exc
    result.errors[i] = str(exc)
    result.reasons[i] = skip_reason(exc.problem)


def _report(result: FeatureList, total: int) -> None:
    if result.errors:
        first = next(iter(result.errors.values()))
        logger.warning("MFCC: skipped %d of %d clips that could not be used (first: %s)",
                       len(result.errors), total, first)
