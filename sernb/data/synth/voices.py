"""Who speaks and where: the prosodic profile of each emotion, the speakers (eSpeak NG voices with
their own way of expressing emotion) and the recording channel of each session.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from sernb.data.synth.lexicon import PET_PHRASES

#: IEMOCAP's five sessions; each has its own recording channel.
SESSIONS = (1, 2, 3, 4, 5)

# ----------------------------------------------------------------------------------------------
# Delivery: the prosodic profile of each emotion, speakers, session channels
# ----------------------------------------------------------------------------------------------

#: The dimensions of a delivery, as offsets from a speaker's neutral voice:
#: rate (relative), pitch / range / volume (eSpeak units), word gap (10 ms), spectral tilt
#: (+ bright, - dark), breath noise, tremor depth, drive (soft clipping of a strained voice).
DELIVERY_FIELDS = ("rate", "pitch", "range", "volume", "gap", "tilt", "breath", "tremor", "drive")
EXPRESSION = {
    "ang": (0.22, 4.0, 10.0, 55.0, 0.0, 0.85, 0.00, 0.00, 0.75),
    "fru": (0.06, 0.0, 0.0, 15.0, 0.0, 0.25, 0.03, 0.00, 0.15),
    "neu": (0.00, 0.0, 0.0, 0.0, 0.0, 0.00, 0.00, 0.00, 0.00),
    "sad": (-0.24, -8.0, -24.0, -35.0, 4.0, -0.70, 0.22, 0.25, 0.00),
    "exc": (0.22, 16.0, 40.0, 48.0, 0.0, 0.65, 0.00, 0.00, 0.35),
    "hap": (0.04, 9.0, 25.0, 10.0, 0.0, 0.15, 0.04, 0.03, 0.00),
    "sur": (0.05, 20.0, 45.0, 22.0, 0.0, 0.20, 0.00, 0.00, 0.05),
    "oth": (0.02, 3.0, 8.0, 5.0, 0.0, 0.05, 0.02, 0.02, 0.02),
}
#: Overall strength of the prosodic profiles, tuned (with the carrier mix and the wording overlap)
#: so that simple audio-only and text-only models land near 55-65% and fusion well above.
EMOTION_GAIN = 1.2
#: Spread of each speaker's personal offsets from the emotion profiles (same units as above).
SPEAKER_SPREAD = np.array([0.03, 2.0, 4.0, 6.0, 0.6, 0.11, 0.02, 0.03, 0.06])
#: Utterance-to-utterance jitter of a delivery.
JITTER = np.array([0.06, 3.0, 8.0, 10.0, 0.9, 0.15, 0.025, 0.04, 0.08])
#: Two voices per session, one female and one male; the variants give distinct timbres.
VOICES = {
    (1, "F"): "en+f1", (1, "M"): "en-us+m3",
    (2, "F"): "en-us+f2", (2, "M"): "en+m1",
    (3, "F"): "en+f3", (3, "M"): "en-us+m2",
    (4, "F"): "en-us+f4", (4, "M"): "en+m4",
    (5, "F"): "en+f5", (5, "M"): "en-us+m6",
}


@dataclass(frozen=True)
class Speaker:
    """One synthetic actor: a voice, a neutral baseline and personal ways of showing emotions."""

    speaker_id: str  # "Ses01F"
    session: int
    gender: str
    voice: str
    rate: float
    pitch: float
    pitch_range: float
    expressiveness: float
    offsets: dict[str, tuple[float, ...]]  # emotion -> personal offset (DELIVERY_FIELDS)
    pet_phrases: dict[str, str]  # emotion -> filler this speaker uses with it


@dataclass(frozen=True)
class Channel:
    """A session's recording room and microphone: band limits, a resonance, reverb, noise."""

    session: int
    highpass_hz: float
    lowpass_hz: float
    peak_hz: float
    peak_gain: float
    reverb_s: float
    reverb_wet: float
    noise_alpha: float  # noise colour: 0 white, 1 pink, 2 brown
    snr_db: float  # the session's typical signal-to-noise ratio
    hum_hz: float
    hum_level: float
    gain_db: float


def seeded_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator keyed by the seed and stable names, so that no stream depends on another."""
    ints = [seed] + [k if isinstance(k, int) else zlib.crc32(k.encode("utf-8")) for k in keys]
    return np.random.default_rng(ints)


def pick(rng: np.random.Generator, options: tuple | list) -> str:
    """One of ``options``, uniformly (the planners' and the cue corpus' one way to choose)."""
    return options[int(rng.integers(len(options)))]


def make_speakers(seed: int) -> dict[str, Speaker]:
    """The ten synthetic actors (5 sessions x F/M) with their baselines and idiosyncrasies."""
    speakers = {}
    for (session, gender), voice in VOICES.items():
        rng = seeded_rng(seed, "speaker", session, gender)
        offsets = {e: tuple(float(v) for v in rng.normal(0.0, SPEAKER_SPREAD)) for e in EXPRESSION}
        pets = rng.permutation(len(PET_PHRASES))
        speaker_id = f"Ses{session:02d}{gender}"
        speakers[speaker_id] = Speaker(
            speaker_id=speaker_id, session=session, gender=gender, voice=voice,
            rate=float(rng.uniform(150, 190)), pitch=float(rng.uniform(38, 62)),
            pitch_range=float(rng.uniform(40, 60)), expressiveness=float(rng.uniform(0.8, 1.2)),
            offsets=offsets,
            pet_phrases={e: PET_PHRASES[pets[i]] for i, e in enumerate(sorted(EXPRESSION))},
        )
    return speakers


def make_channels(seed: int) -> dict[int, Channel]:
    """One recording channel per session; they differ enough that an unseen session is harder."""
    channels = {}
    for session in SESSIONS:
        rng = seeded_rng(seed, "channel", session)
        channels[session] = Channel(
            session=session, highpass_hz=float(rng.uniform(60, 160)),
            lowpass_hz=float(rng.uniform(5000, 7600)), peak_hz=float(rng.uniform(400, 3000)),
            peak_gain=float(rng.uniform(-0.3, 0.6)), reverb_s=float(rng.uniform(0.15, 0.45)),
            reverb_wet=float(rng.uniform(0.05, 0.18)), noise_alpha=float(rng.uniform(0.0, 1.0)),
            snr_db=float(rng.uniform(15, 20)), hum_hz=float(rng.choice([50.0, 60.0])),
            hum_level=float(rng.uniform(0.0, 0.25)), gain_db=float(rng.uniform(-2, 1)),
        )
    return channels
