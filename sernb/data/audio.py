"""Read any corpus clip as float32 mono at a fixed sample rate (chapter "Data and preprocessing").

Every failure becomes :class:`AudioError` whose message names the file and the problem, so a
bad clip among 10,000 is found at once instead of behind a libsndfile traceback.
Order: soundfile (wav/flac/ogg, fast) -> librosa (other formats); .mp4 and friends (MELD)
are decoded by the ``ffmpeg`` program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np

#: Containers soundfile cannot open; they go through ffmpeg.
FFMPEG_SUFFIXES = frozenset({".mp4", ".m4a", ".mkv", ".avi", ".mov", ".webm", ".aac"})


class AudioError(RuntimeError):
    """A clip that cannot be used; the message says which file and why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def load_audio(path: str | os.PathLike, sr: int = 16000) -> np.ndarray:
    """Load ``path`` as a 1-D float32 array at ``sr`` Hz (channels averaged, resampled)."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        audio = _decode_ffmpeg(path, sr)
    else:
        audio, native_sr = _decode_file(path)
        audio = _to_mono(audio)
        if native_sr != sr:
            audio = _resample(audio, native_sr, sr, path)
    if audio.size == 0:
        raise AudioError(path, "zero-length audio (the file holds no samples)")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found")
    if not path.is_file():
        raise AudioError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")


def _decode_file(path: Path) -> tuple[np.ndarray, int]:
    """soundfile first; librosa (audioread backends) only for what libsndfile cannot read."""
    import soundfile as sf

    try:
        audio, native_sr = sf.read(path, dtype="float32", always_2d=True)
        return audio, int(native_sr)
    except (RuntimeError, sf.LibsndfileError, ValueError) as sf_exc:
        sf_problem = str(sf_exc)
    try:
        import librosa

        with warnings.catch_warnings():  # its "PySoundFile failed" warnings repeat what we report
            warnings.simplefilter("ignore")
            audio, native_sr = librosa.load(path, sr=None, mono=False)
    except Exception as exc:  # any backend failure means "unreadable"
        raise AudioError(path, f"corrupt or unreadable audio (soundfile: {sf_problem}; librosa: {exc})") from exc
    return np.atleast_2d(audio).T, int(native_sr)


def _to_mono(audio: np.ndarray) -> np.ndarray:
    """(samples, channels) -> (samples,), averaging channels."""
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def _resample(audio: np.ndarray, orig_sr: int, sr: int, path: Path) -> np.ndarray:
    import librosa

    if audio.size == 0:
        return audio
    try:
        return librosa.resample(audio, orig_sr=orig_sr, target_sr=sr)
    except Exception as exc:
        raise AudioError(path, f"cannot resample {orig_sr} Hz -> {sr} Hz: {exc}") from exc


def _decode_ffmpeg(path: Path, sr: int) -> np.ndarray:
    """Decode the audio track of a video/container file to float32 mono with ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            path,
            f"reading {path.suffix} audio needs the ffmpeg program, which is not on PATH; "
            "install ffmpeg (apt install ffmpeg, brew install ffmpeg or conda install -c conda-forge ffmpeg)",
        )
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr),
           "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioError(path, f"ffmpeg failed to run: {exc}") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise AudioError(path, f"corrupt or unreadable audio (ffmpeg: {' | '.join(message) or 'no message'})")
    return np.frombuffer(proc.stdout, dtype="<f4").copy()
