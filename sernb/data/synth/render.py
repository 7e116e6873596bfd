"""Rendering one utterance's audio: eSpeak NG speech plus the delivery's emotion effects, the
session's room and microphone, noise; resampled to 16 kHz and encoded as a WAV file.
"""

from __future__ import annotations

import functools
import io
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sernb.data.synth.cues import CuePlan, WordTime, word_times
from sernb.data.synth.planning import Delivery
from sernb.data.synth.voices import Channel, seeded_rng
from sernb.utils import atomic_write_bytes

SAMPLE_RATE = 16_000

# ----------------------------------------------------------------------------------------------
# Rendering audio (runs in worker processes)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderJob:
    """One wav to write."""

    utt_id: str
    path: str
    text: str
    delivery: Delivery
    channel: Channel
    seed: int
    cue: CuePlan | None = None  # cue corpus only: per-word prosody spoken through SSML


def render(job: RenderJob) -> np.ndarray:
    """Speak one utterance and pass it through emotion effects, the room and the microphone.

    Returns int16 samples at 16 kHz.
    """
    return render_timed(job)[0]


def render_timed(job: RenderJob) -> tuple[np.ndarray, list[WordTime] | None]:
    """:func:`render`, plus each word's time in the clip when the job has a cue plan (else None).

    A cue job speaks its plan's SSML and reads eSpeak's word events; the effects keep the
    length and the resampling keeps time, so a word's clip time is the lead silence plus its
    event time. Without a cue plan this is exactly the default corpus' rendering.
    """
    from scipy.signal import resample_poly

    from sernb.data import espeak

    d = job.delivery
    rng = seeded_rng(job.seed, "render", job.utt_id)
    prosody = espeak.Prosody(rate=round(d.rate), pitch=round(d.pitch), pitch_range=round(d.pitch_range),
                             volume=round(d.volume), word_gap=round(d.word_gap))
    synth_seed = int(rng.integers(1, 2**31 - 1))
    times = None
    if job.cue is None:
        raw = espeak.synthesize(job.text, d.voice, prosody, seed=synth_seed)
    else:
        ssml, spans = job.cue.ssml()
        raw, events, speech_end = espeak.synthesize_timed(ssml, d.voice, prosody, seed=synth_seed, ssml=True)
        times = word_times(spans, job.cue.words, events, speech_end,
                           offset=int(d.lead_s * SAMPLE_RATE) / SAMPLE_RATE)
    x = raw.astype(np.float64) / 32768.0 * 0.5
    x = _emotion_effects(x, espeak.sample_rate(), d, rng)
    up, down = _ratio(SAMPLE_RATE, espeak.sample_rate())
    x = resample_poly(x, up, down, window=_resampling_taps(up, down))
    x = np.concatenate([np.zeros(int(d.lead_s * SAMPLE_RATE)), x, np.zeros(int(d.trail_s * SAMPLE_RATE))])
    x = _room_and_mic(x, job.channel, d, rng, job.seed)
    return np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16), times


def _ratio(target: int, source: int) -> tuple[int, int]:
    g = np.gcd(target, source)
    return target // g, source // g


@functools.lru_cache(maxsize=4)
def _resampling_taps(up: int, down: int) -> np.ndarray:
    """scipy's default anti-aliasing filter for resample_poly, designed once instead of per call."""
    from scipy.signal import firwin

    return firwin(2 * 10 * max(up, down) + 1, 1.0 / max(up, down), window=("kaiser", 5.0))


@functools.lru_cache(maxsize=16)
def _channel_filters(ch: Channel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A session's band-pass (second-order sections) and resonance filter, designed once."""
    from scipy.signal import butter, iirpeak

    sos = butter(2, [ch.highpass_hz, ch.lowpass_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    b, a = iirpeak(ch.peak_hz, 2.0, fs=SAMPLE_RATE)
    return sos, b, a


def _emotion_effects(x: np.ndarray, sr: int, d: Delivery, rng: np.random.Generator) -> np.ndarray:
    """Cues eSpeak cannot make: spectral tilt, strain (drive), tremor, breathiness."""
    from scipy.signal import lfilter

    level = _active_rms(x, sr)
    if d.tilt > 0:  # brighter: add a first difference (high-frequency emphasis)
        x = x + 1.6 * d.tilt * np.diff(x, prepend=0.0)
    elif d.tilt < 0:  # darker: one-pole low-pass
        a = 0.8 * -d.tilt
        x = lfilter([1.0 - a], [1.0, -a], x) * (1.0 + a)
    if d.drive > 0:
        g = 1.0 + 6.0 * d.drive
        peak = np.max(np.abs(x)) + 1e-9
        x = np.tanh(g * x / peak) * peak
    if d.tremor > 0:
        t = np.arange(len(x)) / sr
        x = x * (1.0 + min(d.tremor, 0.6) * np.sin(2 * np.pi * d.tremor_hz * t + rng.uniform(0, 2 * np.pi)))
    if d.breath > 0:
        envelope = lfilter([0.002], [1.0, -0.998], np.abs(x))
        noise = np.diff(rng.standard_normal(len(x) + 1))  # high-passed noise: aspiration
        x = x + min(d.breath, 0.6) * 4.0 * envelope * noise
    return x * (level / (_active_rms(x, sr) + 1e-12))  # effects change colour, not loudness


def _room_and_mic(x: np.ndarray, ch: Channel, d: Delivery, rng: np.random.Generator,
                  seed: int) -> np.ndarray:
    """The session's channel: reverb, band limits, a resonance, coloured noise and hum."""
    from scipy.signal import fftconvolve, lfilter, sosfilt

    ir = _impulse_response(ch, seed)
    x = x + ch.reverb_wet * fftconvolve(x, ir)[: len(x)]
    sos, b, a = _channel_filters(ch)
    x = sosfilt(sos, x)
    x = x + ch.peak_gain * lfilter(b, a, x)
    speech = _active_rms(x, SAMPLE_RATE)
    noise = _coloured_noise(rng, len(x), ch.noise_alpha)
    t = np.arange(len(x)) / SAMPLE_RATE
    hum = ch.hum_level * (np.sin(2 * np.pi * ch.hum_hz * t) + 0.5 * np.sin(4 * np.pi * ch.hum_hz * t))
    x = x + speech * 10 ** (-d.snr_db / 20) * (noise + hum) / np.sqrt(1 + ch.hum_level**2)
    x = x * 10 ** ((ch.gain_db + d.gain_db) / 20)
    peak = np.max(np.abs(x))
    return x * (0.98 / peak) if peak > 0.98 else x


@functools.lru_cache(maxsize=16)
def _impulse_response(ch: Channel, seed: int) -> np.ndarray:
    """A session's room: exponentially decaying noise, fixed per session."""
    rng = seeded_rng(seed, "room", ch.session)
    n = int(ch.reverb_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / ch.reverb_s)
    return ir / np.sqrt(np.sum(ir**2))


def _coloured_noise(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """Unit-RMS noise with power spectrum ~ 1/f**alpha (made at an FFT-friendly length, then cut)."""
    from scipy.fft import irfft, next_fast_len

    m = next_fast_len(n, real=True)
    spectrum = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
    f = np.fft.rfftfreq(m, 1.0 / SAMPLE_RATE)
    f[0] = f[1]
    noise = irfft(spectrum * f ** (-alpha / 2.0), m)[:n]
    return noise / (noise.std() + 1e-12)


def _active_rms(x: np.ndarray, sr: int) -> float:
    """RMS over the frames that hold speech (within 20 dB of the loudest frame)."""
    frame = sr // 50
    n = len(x) // frame
    if n == 0:
        return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    energy = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    active = energy[energy > 0.01 * energy.max()]
    return float(np.sqrt(active.mean())) if len(active) else 0.0


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM mono RIFF/WAVE file (stdlib ``wave``: no timestamps, identical bytes)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


def write_corpus_file(path: Path, data: bytes) -> None:
    """Atomic write, readable by everyone like a normal corpus file (mkstemp makes 0600)."""
    atomic_write_bytes(path, data)
    os.chmod(path, 0o644)
