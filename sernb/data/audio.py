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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sernb.errors import DataError

#: Containers soundfile cannot open; they go through ffmpeg.
FFMPEG_SUFFIXES = frozenset({".mp4", ".m4a", ".mkv", ".avi", ".mov", ".webm", ".aac"})


#: A prediction refuses clips shorter than this (seconds): a few MFCC frames say nothing.
MIN_SECONDS = 0.1
#: ... and warns below this.
SHORT_SECONDS = 0.5
#: Peak amplitude below which a clip counts as silent (about -80 dBFS; 16-bit's step is 3e-5).
SILENT_PEAK = 1e-4
#: RMS level (dBFS) below which a clip is flagged as very quiet.
QUIET_DBFS = -50.0
#: Share of samples at full scale above which a clip is flagged as clipped.
CLIPPED_SHARE = 0.01
#: Sample rates below telephone quality lose most of what MFCCs describe.
LOW_SAMPLE_RATE = 8000


class AudioError(DataError, RuntimeError):
    """A clip that cannot be used; the message says which file and why."""


@dataclass
class Clip:
    """A decoded recording: mono float32 ``audio`` at ``sr`` Hz and how much of the file it is."""

    audio: np.ndarray
    sr: int
    path: str
    #: Length of the whole file in seconds when known without decoding it (None: unknown).
    total_seconds: float | None = None
    #: True when only the first ``max_seconds`` were decoded.
    truncated: bool = False
    #: The file's own sample rate (None: decoded by ffmpeg straight to ``sr``).
    native_sr: int | None = None

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sr


def clip_digest(path: str | os.PathLike) -> str:
    """A hash of a clip's absolute path, size and modification time: the name of its cache files
    (MFCC frames, transcripts, speech-encoder states), so an edited or replaced file is recomputed."""
    import hashlib

    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except OSError as exc:
        raise AudioError(path, f"cannot stat file: {exc}") from exc
    return hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]


def load_audio(path: str | os.PathLike, sr: int = 16000, max_seconds: float | None = None) -> np.ndarray:
    """Load ``path`` as a 1-D float32 array at ``sr`` Hz (channels averaged, resampled).

    ``max_seconds`` decodes only the start of the file (see :func:`read_clip`).
    """
    return read_clip(path, sr, max_seconds).audio


def read_clip(path: str | os.PathLike, sr: int = 16000, max_seconds: float | None = None) -> Clip:
    """Decode ``path`` (at most its first ``max_seconds``) to a :class:`Clip` at ``sr`` Hz.

    A 2-hour recording with ``max_seconds=10`` costs 10 s of decoding and memory, not 2 hours.
    Empty, corrupt and non-finite (NaN/Inf samples) audio raise :class:`AudioError`.
    """
    path = Path(path)
    _check_file(path)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, not {max_seconds!r}")
    total: float | None = None
    native_sr: int | None = None
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        audio = _decode_ffmpeg(path, sr, max_seconds)
    else:
        audio, native_sr, total = _decode_file(path, max_seconds)
        audio = _to_mono(audio)
        if native_sr != sr:
            audio = _resample(audio, native_sr, sr, path)
    if audio.size == 0:
        raise AudioError(path, "zero-length audio (the file holds no samples)")
    bad = int(np.size(audio) - np.isfinite(audio).sum())
    if bad:
        raise AudioError(path, f"{bad} of {audio.size} samples are NaN or infinite (a damaged or "
                         "badly exported float recording)")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    truncated = max_seconds is not None and (total is None or total > max_seconds + 1e-9) \
        and audio.size >= int(max_seconds * sr) - 1
    return Clip(audio, sr, str(path), total, bool(truncated), native_sr)


def audio_problems(audio: np.ndarray, sr: int, native_sr: int | None = None) -> tuple[list[str], list[str]]:
    """``(refusals, warnings)`` about a clip's content: too short, silent, very quiet, clipped, a
    sample rate below 8 kHz (``native_sr``, the file's own).

    A prediction refuses a clip with refusals (no emotion can be read from it) and reports the
    warnings next to its answer.
    """
    refuse, warn = [], []
    if native_sr is not None and native_sr < LOW_SAMPLE_RATE:
        warn.append(f"low sample rate ({native_sr} Hz): nothing above {native_sr // 2} Hz was recorded, "
                    f"the model was trained on {sr} Hz speech")
    seconds = audio.size / sr
    if seconds < MIN_SECONDS:
        refuse.append(f"too short: {seconds * 1000:.1f} ms ({audio.size} samples at {sr} Hz); "
                      f"at least {MIN_SECONDS:g} s of speech is needed")
    elif seconds < SHORT_SECONDS:
        warn.append(f"short clip ({seconds:.2f} s): emotion predictions on under {SHORT_SECONDS:g} s are unreliable")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        refuse.append("digital silence: every sample is 0")
    elif peak < SILENT_PEAK:
        refuse.append(f"silent: peak amplitude {20 * np.log10(peak):.0f} dBFS")
    else:
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        if 20 * np.log10(rms) < QUIET_DBFS:
            warn.append(f"very quiet recording (RMS {20 * np.log10(rms):.0f} dBFS); the answer may reflect noise")
        share = float(np.mean(np.abs(audio) >= 0.999))
        if peak >= 0.999 and share > CLIPPED_SHARE:
            warn.append(f"clipped: {100 * share:.1f}% of samples at full scale; distortion changes MFCCs")
    return refuse, warn


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found")
    if not path.is_file():
        raise AudioError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")


def _decode_file(path: Path, max_seconds: float | None = None) -> tuple[np.ndarray, int, float | None]:
    """soundfile first (reading only the frames needed); librosa for what libsndfile cannot read.

    Returns ``(audio (samples, channels), native rate, whole file in seconds or None)``.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(path) as fh:
            native_sr = int(fh.samplerate)
            total = fh.frames / native_sr if fh.frames > 0 and native_sr > 0 else None
            frames = -1 if max_seconds is None else int(np.ceil(max_seconds * native_sr))
            audio = fh.read(frames=frames, dtype="float32", always_2d=True)
        return audio, native_sr, total
    except (RuntimeError, sf.LibsndfileError, ValueError, ZeroDivisionError) as sf_exc:
        sf_problem = str(sf_exc)
    try:
        import librosa

        with warnings.catch_warnings():  # its "PySoundFile failed" warnings repeat what we report
            warnings.simplefilter("ignore")
            audio, native_sr = librosa.load(path, sr=None, mono=False, duration=max_seconds)
    except Exception as exc:  # any backend failure means "unreadable"
        raise AudioError(path, f"corrupt or unreadable audio (soundfile: {sf_problem}; librosa: {exc})") from exc
    return np.atleast_2d(audio).T, int(native_sr), None


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


def _decode_ffmpeg(path: Path, sr: int, max_seconds: float | None = None) -> np.ndarray:
    """Decode the audio track of a video/container file to float32 mono with ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            path,
            f"reading {path.suffix} audio needs the ffmpeg program, which is not on PATH; "
            "install ffmpeg (apt install ffmpeg, brew install ffmpeg or conda install -c conda-forge ffmpeg)",
        )
    limit = [] if max_seconds is None else ["-t", f"{max_seconds:.6f}"]
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), *limit, "-vn", "-ac", "1", "-ar", str(sr),
           "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioError(path, f"ffmpeg failed to run: {exc}") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise AudioError(path, f"corrupt or unreadable audio (ffmpeg: {' | '.join(message) or 'no message'})")
    return np.frombuffer(proc.stdout, dtype="<f4").copy()
