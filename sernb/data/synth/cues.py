"""Cue kinds: declared factors of the opt-in cue corpus (``generate(..., cues=True)``,
``sernb synth --cues``), so that claims about a model's parts can be tested on it.

The default corpus carries every emotional cue at utterance level (per-emotion pitch, rate and
loudness over the whole utterance, plus emotional wording), so nothing in it needs a temporal
model or an audio-text alignment. In the cue corpus each utterance carries its emotion through
one or more declared **cue kinds**, drawn in the proportions of :data:`CUE_MIX`:

``global``
    today's per-emotion delivery over the whole utterance (pitch, range, rate, loudness, tilt...).
``local``
    three words carry the emotion, each changed in one way only: one is said higher, one
    louder, one longer (:data:`LOCAL_CHANGES`); the class is which word got which change
    (:data:`LOCAL_ORDERS`, the six orders of the three changes). The three words are the
    sentence's slot words, fillers drawn alike, so every class adds the same changes to words of
    the same kind: utterance-level pitch, loudness and duration statistics match across classes,
    mean pooling cannot tell them apart, a temporal model can. (Two earlier designs failed the
    matching test: one word changed with the opposite change spread over the other words left
    class means of pitch a semitone apart, since eSpeak realises small and large changes
    unequally; one word changed in pitch, loudness and duration at once with the mirror change
    on another word left energy 2 dB apart, since a loud word adds more loud frames when it is
    also the slow one.)
``contour``
    every word's pitch is one value of the same fixed set (:data:`CONTOUR_SPAN`), ordered in
    time by a per-class shape (rise, fall, hat, ...: :data:`CONTOUR_SHAPES`): identical values,
    different order, so matched means. (The spread of the realised pitch is not matched: eSpeak
    adds its own intonation, which combines differently with each shape.)
``lexical``
    one emotional word of the class (:data:`EMOTION_WORDS`) in one of the sentence's three slots.
``alignment``
    two slots hold emotional words, the class's and a distractor class's; the class's word is
    stressed, higher, louder and longer at once (:data:`STRESS`, the same for every class and
    slot, and unlike any ``local`` change, which changes one dimension per word). The text
    alone says "one of these two", the audio alone says "some word is stressed": only which word
    is stressed decides.

Every utterance says one frame sentence (:data:`FRAMES`) with three adjective slots; slots that
carry no cue hold :data:`FILLERS`, which no emotion uses. Utterances with no ``global`` kind
have an emotion-free delivery (intensity 0: the speaker's neutral voice plus jitter). Emotions
outside the six classes (``sur``, ``oth``) carry ``global`` only. Each kind's planning draws from
its own random stream (``seeded_rng(seed, "cues", utt_id)``), so the default corpus is untouched.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sernb.data.synth.lexicon import EMOTIONS
from sernb.data.synth.voices import pick

#: The cue kinds, in the order they are written in ``cue_kinds`` ("local+lexical").
CUE_KINDS = ("global", "local", "contour", "lexical", "alignment")
#: The declared proportions of cue-kind combinations in the cue corpus: each kind alone in equal
#: shares, and each utterance-level or word-level audio kind once with the words. Chosen once, for
#: coverage, not tuned for any system (issue 15).
CUE_MIX: dict[tuple[str, ...], float] = {
    ("global",): 0.14, ("local",): 0.14, ("contour",): 0.14, ("lexical",): 0.14, ("alignment",): 0.14,
    ("global", "lexical"): 0.10, ("local", "lexical"): 0.10, ("contour", "lexical"): 0.10,
}
#: Sentences said in the cue corpus; ``{a}``, ``{b}`` and ``{c}`` are the three adjective slots.
FRAMES = (
    "I left the {a} box next to the {b} chair by the {c} door.",
    "She said the {a} train comes after the {b} bus and the {c} tram.",
    "We put the {a} papers on the {b} table in the {c} room.",
    "The {a} letter came with the {b} package and the {c} card.",
    "He took the {a} road past the {b} house to the {c} station.",
    "They talked about the {a} plan, the {b} schedule and the {c} list.",
    "My {a} neighbour asked about the {b} meeting in the {c} hall.",
    "The {a} window looks out on the {b} garden and the {c} shed.",
    "You can find the {a} keys in the {b} drawer under the {c} shelf.",
    "Our {a} car is parked behind the {b} van near the {c} gate.",
    "I saw the {a} photo next to the {b} map on the {c} wall.",
    "The {a} song was playing in the {b} room of the {c} house.",
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
#: The three changes of the ``local`` kind, as SSML percent (pitch, volume, rate; rate - = slower).
LOCAL_CHANGES = {"higher": (30.0, 0.0, 0.0), "louder": (0.0, 50.0, 0.0), "longer": (0.0, 0.0, -35.0)}
#: The ``local`` kind's order of the changes over the three slot words, per class.
LOCAL_ORDERS = {
    "ang": ("higher", "louder", "longer"), "fru": ("higher", "longer", "louder"),
    "neu": ("louder", "higher", "longer"), "sad": ("louder", "longer", "higher"),
    "exc": ("longer", "higher", "louder"), "hap": ("longer", "louder", "higher"),
}
#: The ``alignment`` stress: higher, louder and longer on one word.
STRESS = (30.0, 50.0, -35.0)
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
assert sorted(LOCAL_ORDERS) == sorted(EMOTIONS) and len(set(LOCAL_ORDERS.values())) == len(EMOTIONS)


@dataclass(frozen=True)
class CuePlan:
    """How one utterance of the cue corpus carries its emotion.

    ``words`` are the transcript's whitespace tokens; ``prosody`` holds one (pitch, volume, rate)
    SSML percent change per word; ``cue_token`` is the index of the word that carries a word-level
    cue (local, lexical, alignment), -1 when none does: the emotional word of lexical and
    alignment, else the first of the local kind's three words. ``cue_tokens`` are all the words
    that carry a word-level cue (the cue's span runs from the first to the last); ``slots`` are
    the three slots' token indices.
    """

    kinds: tuple[str, ...]
    words: tuple[str, ...]
    prosody: tuple[tuple[float, float, float], ...]
    cue_token: int
    cue_tokens: tuple[int, ...] = ()
    slots: tuple[int, ...] = ()

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
    slot_words = [FILLERS[i] for i in rng.choice(len(FILLERS), 3, replace=False)]
    cue_slot, other_slot = (int(i) for i in rng.choice(3, 2, replace=False))
    if "lexical" in kinds or "alignment" in kinds:
        slot_words[cue_slot] = pick(rng, EMOTION_WORDS[emotion])
    if "alignment" in kinds:
        distractor = pick(rng, [e for e in EMOTIONS if e != emotion])
        slot_words[other_slot] = pick(rng, EMOTION_WORDS[distractor])
    marks = ("\0a", "\0b", "\0c")
    words = frame.format(**dict(zip("abc", marks, strict=True))).split()
    slots = tuple(words.index(m) for m in marks)
    words = tuple(slot_words[marks.index(w)] if w in marks else w for w in words)
    prosody = np.zeros((len(words), 3))
    cue_tokens: set[int] = set()
    if "local" in kinds:
        for slot, change in zip(slots, LOCAL_ORDERS[emotion], strict=True):
            prosody[slot] += LOCAL_CHANGES[change]
        cue_tokens.update(slots)
    if "alignment" in kinds:
        prosody[slots[cue_slot]] += STRESS
    if "lexical" in kinds or "alignment" in kinds:
        cue_tokens.add(slots[cue_slot])
        cue_token = slots[cue_slot]
    else:
        cue_token = slots[0] if "local" in kinds else -1
    if "contour" in kinds:
        prosody[:, 0] += contour_offsets(len(words), CONTOUR_SHAPES[emotion])
    return CuePlan(tuple(kinds), words, tuple(tuple(float(x) for x in row) for row in prosody), cue_token,
                   tuple(sorted(cue_tokens)), slots)


def slot_tokens(text: str) -> tuple[int, int, int]:
    """The token indices of the three slots in a cue-corpus transcript, found from the frame
    sentences alone (no label, no prosody): for probes that look at the slot words."""
    words = text.split()
    for frame in FRAMES:
        template = frame.format(a="\0", b="\0", c="\0").split()
        if len(template) == len(words) and all(t in ("\0", w) for t, w in zip(template, words, strict=True)):
            return tuple(i for i, t in enumerate(template) if t == "\0")  # type: ignore[return-value]
    raise ValueError(f"not a cue-corpus sentence: {text!r}")


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
    """Each word's span in the clip, from eSpeak's word events, shifted by ``offset`` seconds.

    A word starts at its first word event inside its character span and ends where the next
    timed word starts (the speech end for the last). eSpeak speaks some function words together
    with their neighbour and reports one event for both ("in the"): words without an event
    share the span of the timed word before them (the first word: the speech start), split in
    proportion to their letters. Spans are contiguous and in order.
    """
    starts: list[float | None] = []
    for lo, hi in spans:
        inside = [e.time_s for e in events if lo <= e.text_position < hi]
        starts.append(min(inside) if inside else None)
    if starts[0] is None:
        starts[0] = 0.0
    timed = [i for i, t in enumerate(starts) if t is not None] + [len(words)]
    out: list[WordTime] = []
    for first, stop in itertools.pairwise(timed):
        begin = max(starts[first], out[-1].end - offset if out else 0.0)
        end = max(begin, starts[stop] if stop < len(words) else speech_end)
        letters = np.cumsum([0] + [len(words[i]) for i in range(first, stop)]) / sum(
            len(words[i]) for i in range(first, stop))
        for k, i in enumerate(range(first, stop)):
            out.append(WordTime(i, words[i], round(float(offset + begin + letters[k] * (end - begin)), 4),
                                round(float(offset + begin + letters[k + 1] * (end - begin)), 4)))
    return out
