"""Cue kinds: declared factors of the opt-in cue corpus (``generate(..., cues=True)``,
``sernb synth --cues``), so that claims about a model's parts can be tested on it.

The default corpus carries every emotional cue at utterance level (per-emotion pitch, rate and
loudness over the whole utterance, plus emotional wording), so nothing in it needs a temporal
model or an audio-text alignment. In the cue corpus each utterance carries its emotion through
one or more declared **cue kinds**, drawn in the proportions of :data:`CUE_MIX`:

``global``
    today's per-emotion delivery over the whole utterance (pitch, range, rate, loudness, tilt...).
``local``
    one word (the cue word) carries a per-class gesture: pitch, loudness and duration each
    raised or lowered (:data:`LOCAL_GESTURES`, same sizes for every class, only the signs
    differ); the other words get the opposite change scaled by the cue word's share of the
    utterance, so the utterance's mean and spread of pitch, loudness and rate are the same for
    every class. Mean pooling cannot see which class it is; a temporal model can.
``contour``
    every word's pitch is one value of the same fixed set (:data:`CONTOUR_SPAN`), ordered in
    time by a per-class shape (rise, fall, hat, ...: :data:`CONTOUR_SHAPES`): identical values,
    different order, so matched means and spreads.
``lexical``
    one emotional word of the class (:data:`EMOTION_WORDS`) in one of the sentence's two slots.
``alignment``
    both slots hold emotional words, the class's and a distractor class's; the class's word is
    stressed with one fixed gesture (:data:`STRESS`, the same for every class and slot). The text
    alone says "one of these two", the audio alone says "some word is stressed": only which word
    is stressed decides.

Every utterance says one frame sentence (:data:`FRAMES`) with two adjective slots; slots that
carry no cue hold :data:`FILLERS`, which no emotion uses. Utterances with no ``global`` kind
have an emotion-free delivery (intensity 0: the speaker's neutral voice plus jitter). Emotions
outside the six classes (``sur``, ``oth``) carry ``global`` only. Each kind's planning draws from
its own random stream (``seeded_rng(seed, "cues", utt_id)``), so the default corpus is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sernb.data.synth.lexicon import EMOTIONS

#: The cue kinds, in the order they are written in ``cue_kinds`` ("local+lexical").
CUE_KINDS = ("global", "local", "contour", "lexical", "alignment")
#: The declared proportions of cue-kind combinations in the cue corpus: each kind alone in equal
#: shares, and each utterance-level or word-level audio kind once with the words. Chosen once, for
#: coverage, not tuned for any system (issue 15).
CUE_MIX: dict[tuple[str, ...], float] = {
    ("global",): 0.14, ("local",): 0.14, ("contour",): 0.14, ("lexical",): 0.14, ("alignment",): 0.14,
    ("global", "lexical"): 0.10, ("local", "lexical"): 0.10, ("contour", "lexical"): 0.10,
}
#: Sentences said in the cue corpus; ``{a}`` and ``{b}`` are the two adjective slots.
FRAMES = (
    "I left the {a} box next to the {b} chair.",
    "She said the {a} train comes after the {b} bus.",
    "We put the {a} papers on the {b} table this morning.",
    "The {a} letter came with the {b} package today.",
    "He took the {a} road past the {b} house.",
    "They talked about the {a} plan and the {b} schedule.",
    "My {a} neighbour asked about the {b} meeting.",
    "The {a} window looks out on the {b} garden.",
    "You can find the {a} keys in the {b} drawer.",
    "Our {a} car is parked behind the {b} van.",
    "I saw the {a} photo next to the {b} map.",
    "The {a} song was playing in the {b} room.",
)
#: Slot words that carry no emotion (none of them is an emotion word of any class).
FILLERS = ("small", "blue", "wooden", "second", "other", "morning", "round", "green", "upstairs", "narrow")
#: One-word lexical cues of each class (the ``lexical`` and ``alignment`` kinds).
EMOTION_WORDS = {
    "ang": ("infuriating", "outrageous", "hateful", "maddening", "insulting"),
    "fru": ("useless", "annoying", "pointless", "tedious", "hopeless"),
    "neu": ("ordinary", "standard", "regular", "routine", "typical"),
    "sad": ("lonely", "gloomy", "heartbreaking", "miserable", "mournful"),
    "exc": ("amazing", "thrilling", "incredible", "fantastic", "awesome"),
    "hap": ("lovely", "cheerful", "pleasant", "delightful", "sweet"),
}
#: Size of a word-level change, in SSML percent: pitch, volume, rate (rate + = faster, shorter).
GESTURE_SIZE = (30.0, 50.0, 35.0)
#: The ``local`` gesture of each class: the signs of (pitch, volume, rate) on the cue word.
LOCAL_GESTURES = {
    "ang": (1, 1, 1), "fru": (-1, 1, 1), "neu": (-1, -1, 1),
    "sad": (-1, -1, -1), "exc": (1, -1, 1), "hap": (1, -1, -1),
}
#: The ``alignment`` stress: higher, louder, slower; no class uses it as its local gesture.
STRESS = (1, 1, -1)
#: Pitch offsets of the ``contour`` kind run from -span to +span percent over the words.
CONTOUR_SPAN = 30.0
#: The ``contour`` shape of each class, a function of relative time t in [0, 1]: the words' pitch
#: values are ranked by it (higher f(t), higher pitch).
CONTOUR_SHAPES = {
    "exc": "rise", "sad": "fall", "hap": "hat", "fru": "valley", "neu": "wave", "ang": "inverse wave",
}
_SHAPES = {
    "rise": lambda t: t, "fall": lambda t: -t, "hat": lambda t: -np.abs(t - 0.5),
    "valley": lambda t: np.abs(t - 0.5), "wave": lambda t: np.sin(2 * np.pi * t),
    "inverse wave": lambda t: -np.sin(2 * np.pi * t),
}

assert abs(sum(CUE_MIX.values()) - 1.0) < 1e-9
assert STRESS not in LOCAL_GESTURES.values() and len(set(LOCAL_GESTURES.values())) == len(EMOTIONS)


@dataclass(frozen=True)
class CuePlan:
    """How one utterance of the cue corpus carries its emotion.

    ``words`` are the transcript's whitespace tokens; ``prosody`` holds one (pitch, volume, rate)
    SSML percent change per word; ``cue_token`` is the index of the word that carries a word-level
    cue (local, lexical, alignment), -1 when none does.
    """

    kinds: tuple[str, ...]
    words: tuple[str, ...]
    prosody: tuple[tuple[float, float, float], ...]
    cue_token: int

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def kinds_name(self) -> str:
        return "+".join(self.kinds)

    @property
    def cue_word(self) -> str:
        return self.words[self.cue_token].strip(".,!?") if self.cue_token >= 0 else ""

    def ssml(self) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The SSML eSpeak speaks, every word in its own ``<prosody>`` (the same structure for
        every kind and class), and each word's (start, end) character span in it."""
        parts, spans, pos = ["<speak>"], [], len("<speak>")
        for i, (word, (p, v, r)) in enumerate(zip(self.words, self.prosody, strict=True)):
            head = f'{" " if i else ""}<prosody pitch="{p:+.0f}%" volume="{v:+.0f}%" rate="{r:+.0f}%">'
            spans.append((pos + len(head), pos + len(head) + len(word)))
            parts.append(f"{head}{word}</prosody>")
            pos += len(head) + len(word) + len("</prosody>")
        parts.append("</speak>")
        return "".join(parts), tuple(spans)


def draw_kinds(rng: np.random.Generator, emotion: str) -> tuple[str, ...]:
    """The cue kinds of one utterance, from :data:`CUE_MIX` (``global`` for sur/oth)."""
    if emotion not in EMOTIONS:
        return ("global",)
    combos = list(CUE_MIX)
    p = np.array([CUE_MIX[c] for c in combos])
    return combos[int(rng.choice(len(combos), p=p / p.sum()))]


def plan_cues(rng: np.random.Generator, emotion: str, kinds: tuple[str, ...]) -> CuePlan:
    """Words and per-word prosody of one utterance carrying ``emotion`` through ``kinds``."""
    frame = FRAMES[int(rng.integers(len(FRAMES)))]
    fill = rng.choice(len(FILLERS), 2, replace=False)
    slot_words = [FILLERS[fill[0]], FILLERS[fill[1]]]
    cue_slot = int(rng.integers(2))
    if "lexical" in kinds or "alignment" in kinds:
        slot_words[cue_slot] = _pick(rng, EMOTION_WORDS[emotion])
    if "alignment" in kinds:
        distractor = _pick(rng, [e for e in EMOTIONS if e != emotion])
        slot_words[1 - cue_slot] = _pick(rng, EMOTION_WORDS[distractor])
    words = tuple(frame.format(a="\0a", b="\0b").split())
    slots = [words.index("\0a"), words.index("\0b")]
    words = tuple(slot_words[0] if w == "\0a" else slot_words[1] if w == "\0b" else w for w in words)
    word_level = bool({"local", "lexical", "alignment"} & set(kinds))
    cue_token = slots[cue_slot] if word_level else -1
    prosody = np.zeros((len(words), 3))
    if "local" in kinds:
        prosody += _gesture(words, cue_token, LOCAL_GESTURES[emotion])
    if "alignment" in kinds:
        prosody += _gesture(words, cue_token, STRESS)
    if "contour" in kinds:
        prosody[:, 0] += contour_offsets(len(words), CONTOUR_SHAPES[emotion])
    return CuePlan(tuple(kinds), words, tuple(tuple(float(x) for x in row) for row in prosody), cue_token)


def _pick(rng: np.random.Generator, options: tuple | list) -> str:
    return options[int(rng.integers(len(options)))]


def _gesture(words: tuple[str, ...], cue: int, signs: tuple[int, int, int]) -> np.ndarray:
    """The cue word changes by ``signs`` x :data:`GESTURE_SIZE`; the others by the opposite, scaled
    by the cue word's share of the characters, so the utterance's mean change is about zero."""
    share = len(words[cue]) / sum(len(w) for w in words)
    delta = np.array(signs, dtype=float) * np.array(GESTURE_SIZE)
    out = np.tile(-delta * share / (1.0 - share), (len(words), 1))
    out[cue] = delta
    return out


def contour_offsets(n: int, shape: str) -> np.ndarray:
    """Pitch offsets (percent) of ``n`` words: the values ``linspace(-span, span, n)``, assigned in
    the order of ``shape`` (ties broken by position), so every shape uses the same values."""
    t = np.linspace(0.0, 1.0, n)
    ranks = np.argsort(np.argsort(_SHAPES[shape](t), kind="stable"), kind="stable")
    return np.linspace(-CONTOUR_SPAN, CONTOUR_SPAN, n)[ranks]


@dataclass(frozen=True)
class WordTime:
    """One transcript word's place in the rendered clip (seconds from the clip's start)."""

    token: int
    word: str
    start: float
    end: float


def word_times(spans: tuple[tuple[int, int], ...], words: tuple[str, ...], events: list,
               speech_end: float, offset: float) -> list[WordTime]:
    """Each word's start (its first eSpeak word event inside its character span) and end (the
    next timed word's start, the speech end for the last), shifted by ``offset`` seconds.
    A word eSpeak reported no event for takes its predecessor's end as start and end."""
    starts: list[float | None] = []
    for lo, hi in spans:
        inside = [e.time_s for e in events if lo <= e.text_position < hi]
        starts.append(min(inside) if inside else None)
    out, previous = [], 0.0
    for i, start in enumerate(starts):
        begin = previous if start is None else max(start, previous)
        later = [s for s in starts[i + 1:] if s is not None]
        end = max(begin, later[0] if later else speech_end)
        out.append(WordTime(i, words[i], round(offset + begin, 4), round(offset + end, 4)))
        previous = end
    return out
