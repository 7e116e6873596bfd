"""Planning a corpus without audio: the layout of sessions and dialogs for each size, then every
turn's emotion, wording, delivery and evaluator annotations (all cheap and deterministic).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from sernb.data.espeak import RATE_MAX, RATE_MIN
from sernb.data.synth.cues import CuePlan, WordTime, draw_kinds, plan_cues
from sernb.data.synth.lexicon import (
    CATEGORY_NAME,
    CORES,
    EMOTIONS,
    GENERIC,
    GENERIC_OPENERS,
    MOTIF_ADJECTIVES,
    MOTIF_NAMES,
    MOTIF_NOUNS,
    NEIGHBOURS,
    OPENERS,
    PUNCT,
    PUNCT_MARKS,
    SCENARIOS,
    SCRIPTS,
    VAD,
    Scenario,
)
from sernb.data.synth.voices import (
    DELIVERY_FIELDS,
    EMOTION_GAIN,
    EXPRESSION,
    JITTER,
    SESSIONS,
    Channel,
    Speaker,
    pick,
    seeded_rng,
)

# ----------------------------------------------------------------------------------------------
# The layout of sessions and dialogs for each size
# ----------------------------------------------------------------------------------------------

#: The corpus sizes: "smoke" (~150 utterances, for CI), "default" (~1,600, for the book) and
#: "iemocap" (~10,000, IEMOCAP's size, label proportions and long durations: for measuring at scale).
SIZES = ("smoke", "default", "iemocap")

#: IEMOCAP's label counts (10,039 utterances; design notes). The iemocap size draws the emotions of
#: improvised turns from the six classes' share (7,380 utterances), labels ``xxx`` at IEMOCAP's rate
#: and ``sur`` / ``oth`` at theirs; fea (40) and dis (2) are not generated.
IEMOCAP_COUNTS = {"xxx": 2507, "fru": 1849, "neu": 1708, "ang": 1103, "sad": 1084, "exc": 1041, "hap": 595,
                  "sur": 107, "fea": 40, "oth": 3, "dis": 2}
IEMOCAP_PRIOR = {e: IEMOCAP_COUNTS[e] / 7380 for e in ("ang", "fru", "neu", "sad", "exc", "hap")}
P_XXX_IEMOCAP = IEMOCAP_COUNTS["xxx"] / 10039
#: Improvised turns per dialog at the iemocap size (8 scenarios x 2 markers x 5 sessions = 80 dialogs,
#: plus 30 scripted dialogs of 20 lines: about 10,000 utterances).
IEMOCAP_TURNS = (100, 135)
#: At the iemocap size an improvised turn says 1 + Geometric(p) more sentences (capped): IEMOCAP's long
#: tail of durations (median ~3.5 s, a few turns over 25 s).
P_STOP_SENTENCE = 0.62
MAX_SENTENCES = 9
#: A long turn keeps only the sentences whose estimated speaking time fits this budget (seconds).
#: On the 10,004 clips of the first iemocap-size corpus, rendered length / estimate was at most 1.37
#: for turns estimated over 10 s, so a 22 s budget keeps every clip within about 30 s, IEMOCAP's tail.
LONG_TURN_BUDGET_S = 22.0

@dataclass(frozen=True)
class DialogSpec:
    """One dialog to write: its IEMOCAP name and what is acted in it."""

    name: str  # "Ses01F_impro01", "Ses03M_impro05a", "Ses05M_script01_1b"
    session: int
    marker: str  # who wore the motion markers: the letter after SesNN
    scenario: int | None = None  # improvised scenario number
    script: str | None = None  # script key
    n_turns: int = 0  # improvised only
    lines: tuple[int, int] = (0, 0)  # scripted only: slice of the script
    iemocap: bool = False  # the iemocap size: IEMOCAP's label proportions and long turns


#: Dialogs that IEMOCAP splits in two recordings; we split them the same way.
SPLIT_DIALOGS = ("Ses03M_impro05", "Ses03M_impro08", "Ses05M_script01_1")
#: The smoke corpus per session: (marker, "impro" scenario number or script key).
SMOKE_LAYOUT = {
    1: (("M", 1), ("F", 2), ("F", "script01_1")),
    2: (("M", 3), ("F", 4), ("M", "script02_2")),
    3: (("M", 5), ("F", 6), ("F", "script03_1")),
    4: (("M", 7), ("F", 8), ("F", "script02_2")),
    5: (("M", 1), ("F", 3), ("M", "script01_1")),
}


def dialog_layout(size: str, seed: int) -> list[DialogSpec]:
    """All dialogs of a corpus size, in the (fixed) order they are generated."""
    if size not in SIZES:
        raise ValueError(f"unknown synthetic corpus size {size!r}; choose one of {', '.join(SIZES)}")
    specs: list[DialogSpec] = []
    for session in SESSIONS:
        rng = seeded_rng(seed, "layout", size, session)
        if size == "smoke":
            plan = [(m, key) for m, key in SMOKE_LAYOUT[session]]
            turns, script_lines = (8, 11), 12
        else:
            plan = [(m, s.number) for s in SCENARIOS for m in ("F", "M")]
            plan += [(m, key) for key in SCRIPTS for m in ("F", "M")]
            turns, script_lines = ((10, 15) if size == "default" else IEMOCAP_TURNS), 20
        iemocap = size == "iemocap"
        for marker, key in plan:
            if isinstance(key, int):
                name = f"Ses{session:02d}{marker}_impro{key:02d}"
                spec = DialogSpec(name, session, marker, scenario=key,
                                  n_turns=int(rng.integers(*turns)), iemocap=iemocap)
            else:
                name = f"Ses{session:02d}{marker}_{key}"
                spec = DialogSpec(name, session, marker, script=key, lines=(0, script_lines), iemocap=iemocap)
            specs.extend(_split_if_irregular(spec))
    return specs


def _split_if_irregular(spec: DialogSpec) -> list[DialogSpec]:
    """IEMOCAP has a few dialogs recorded in two parts (``..._impro05a``/``b``, ``..._script01_1b``)."""
    if spec.name not in SPLIT_DIALOGS:
        return [spec]
    if spec.scenario is not None:
        half = spec.n_turns // 2
        return [DialogSpec(spec.name + "a", spec.session, spec.marker, scenario=spec.scenario, n_turns=half,
                           iemocap=spec.iemocap),
                DialogSpec(spec.name + "b", spec.session, spec.marker, scenario=spec.scenario,
                           n_turns=spec.n_turns - half, iemocap=spec.iemocap)]
    start, stop = spec.lines
    cut = start + (stop - start) * 3 // 5
    return [DialogSpec(spec.name, spec.session, spec.marker, script=spec.script, lines=(start, cut),
                       iemocap=spec.iemocap),
            DialogSpec(spec.name + "b", spec.session, spec.marker, script=spec.script, lines=(cut, stop),
                       iemocap=spec.iemocap)]


# ----------------------------------------------------------------------------------------------
# Planning turns: emotion, label, wording, delivery (all cheap; no audio yet)
# ----------------------------------------------------------------------------------------------

#: How an utterance carries its emotion: in both modalities, only the delivery, or only the words.
CARRIERS = ("both", "audio", "text")
CARRIER_P = (0.40, 0.30, 0.30)
#: Chance that the next turn of a speaker keeps their previous emotion (emotions persist).
PERSIST = 0.55
#: Chance that a scripted line is delivered flat (its words alone carry the emotion).
P_FLAT_SCRIPTED = 0.3
#: Chance that evaluators disagree (label xxx), and of the rare surprise / other turns.
P_XXX = 0.11
P_SUR, P_OTH = 0.012, 0.004
#: Wording borrowed from an emotion of the same valence: words tell ang from exc easily but ang
#: from fru, or exc from hap, poorly; delivery (arousal) is the other way round. Fusion needs both.
WORD_NEIGHBOUR = {"ang": "fru", "fru": "ang", "exc": "hap", "hap": "exc", "neu": "sad", "sad": "neu",
                  "sur": "exc", "oth": "neu"}
P_NEIGHBOUR_WORDING = {"ang": 0.42, "fru": 0.42, "exc": 0.42, "hap": 0.42, "neu": 0.15, "sad": 0.15,
                       "sur": 0.2, "oth": 0.2}


@dataclass(frozen=True)
class Delivery:
    """Everything the renderer needs to speak one utterance."""

    voice: str
    rate: float
    pitch: float
    pitch_range: float
    volume: float
    word_gap: float
    tilt: float
    breath: float
    tremor: float
    tremor_hz: float
    drive: float
    gain_db: float
    snr_db: float
    lead_s: float
    trail_s: float


@dataclass
class Turn:
    """One utterance as planned: who, which emotion, what label the evaluators gave, what is said."""

    utt_id: str
    dialog: str
    speaker: str
    emotion: str  # the emotion the synthetic actor was asked to show
    label: str  # the evaluators' majority label (xxx when they disagree)
    carrier: str
    intensity: float
    text: str  # the transcript line, with IEMOCAP's [LAUGHTER]-style tokens
    evaluation: list[str]
    vad: tuple[float, float, float]
    delivery: Delivery
    gap_s: float  # silence before this turn in the dialog
    junk: str | None = None  # a junk transcript line (``..._MXX0``) placed in that gap
    start: float = 0.0
    end: float = 0.0
    n_samples: int = 0
    cue: CuePlan | None = None  # the cue corpus only: how the emotion is carried, word by word
    word_times: list[WordTime] | None = None  # the cue corpus only: filled in after rendering


def _pick_weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _choose_emotion(rng: np.random.Generator, role: dict[str, float], previous: str | None) -> str:
    """Emotion of the next turn: often the speaker's previous one, else drawn from their role."""
    if previous is not None and rng.random() < PERSIST:
        return previous
    if rng.random() < P_SUR:
        return "sur"
    if rng.random() < P_OTH:
        return "oth"
    return _pick_weighted(rng, role)


@dataclass(frozen=True)
class Motif:
    """Phrasing private to one improvised dialog: a name, and a thing per emotion."""

    name: str
    things: dict[str, str]


def _motif(spec: DialogSpec, seed: int) -> Motif:
    """Draw a dialog's motif; both parts of a split recording (``...a``/``...b``) share it."""
    base = spec.name[:-1] if spec.name.endswith(("a", "b")) else spec.name
    rng = seeded_rng(seed, "motif", base)
    combos = rng.choice(len(MOTIF_ADJECTIVES) * len(MOTIF_NOUNS), len(EXPRESSION), replace=False)
    things = {e: f"the {MOTIF_ADJECTIVES[c // len(MOTIF_NOUNS)]} {MOTIF_NOUNS[c % len(MOTIF_NOUNS)]}"
              for e, c in zip(sorted(EXPRESSION), combos, strict=True)}
    return Motif(pick(rng, MOTIF_NAMES), things)


def _compose_text(rng: np.random.Generator, emotion: str, carrier: str, speaker: Speaker,
                  scenario: Scenario, motif: Motif) -> str:
    """Wording for an improvised turn: emotional words unless only the delivery carries emotion.

    Topic phrases come from the scenario (shared by every session); the motif is private to
    the dialog. Both repeat inside a dialog, which is what a random split leaks.
    """
    if carrier == "audio":
        words = pick(rng, GENERIC)
        opener = pick(rng, GENERIC_OPENERS) if rng.random() < 0.25 else None
        punct = "?" if rng.random() < 0.2 else "."
    else:
        source = WORD_NEIGHBOUR[emotion] if rng.random() < P_NEIGHBOUR_WORDING[emotion] else emotion
        words = pick(rng, CORES[source])
        roll = rng.random()
        opener = speaker.pet_phrases[emotion] if roll < 0.2 else (
            pick(rng, OPENERS[source]) if roll < 0.6 else None)
        punct = PUNCT_MARKS[int(rng.choice(len(PUNCT_MARKS), p=PUNCT[source]))]
    with_topic = rng.random() < 0.45
    if with_topic:
        words = f"{words} {pick(rng, scenario.topics)}"
    if rng.random() < 0.5:
        words = f"{words} {'and' if with_topic else 'with'} {motif.things[emotion]}"
    parts = [motif.name] if rng.random() < 0.35 else []
    parts += [opener, words] if opener else [words]
    return _add_tokens(rng, emotion, _sentence(parts, punct))


def _sentence(parts: list[str], punct: str) -> str:
    """Join clauses with commas and capitalise like a sentence: "Anselm, hey, you had no right."."""
    clauses = [parts[0]] + [p if p.startswith(("I ", "I'")) else p[:1].lower() + p[1:] for p in parts[1:]]
    text = ", ".join(clauses)
    return text[:1].upper() + text[1:] + punct


def _add_tokens(rng: np.random.Generator, emotion: str, text: str) -> str:
    """IEMOCAP transcripts mark non-speech events; laughter goes with joy, breathing with distress."""
    if emotion in ("hap", "exc") and rng.random() < 0.15:
        return f"[LAUGHTER] {text}" if rng.random() < 0.5 else f"{text} [LAUGHTER]"
    if emotion in ("sad", "ang") and rng.random() < 0.10:
        return f"[BREATHING] {text}"
    if rng.random() < 0.02:
        return f"{text} [GARBAGE]"
    return text


def spoken_text(transcript: str) -> str:
    """What eSpeak says for a transcript: laughter becomes 'ha ha', other tokens are silent."""
    text = transcript.replace("[LAUGHTER]", "ha ha,")
    for token in ("[BREATHING]", "[GARBAGE]"):
        text = text.replace(token, "")
    return " ".join(text.split())


def _delivery(rng: np.random.Generator, speaker: Speaker, emotion: str, intensity: float,
              channel: Channel) -> Delivery:
    """Speaker baseline + intensity x (emotion profile + the speaker's own offsets) + jitter."""
    profile = EMOTION_GAIN * np.array(EXPRESSION[emotion]) + np.array(speaker.offsets[emotion])
    v = intensity * speaker.expressiveness * profile + rng.normal(0.0, JITTER)
    d = dict(zip(DELIVERY_FIELDS, v, strict=True))
    return Delivery(
        voice=speaker.voice, rate=speaker.rate * (1.0 + d["rate"]), pitch=speaker.pitch + d["pitch"],
        pitch_range=speaker.pitch_range + d["range"], volume=100.0 + d["volume"],
        word_gap=max(0.0, d["gap"]), tilt=float(np.clip(d["tilt"], -1.0, 1.0)),
        breath=max(0.0, d["breath"]), tremor=max(0.0, d["tremor"]),
        tremor_hz=float(rng.uniform(4.5, 7.5)), drive=max(0.0, d["drive"]),
        gain_db=float(rng.normal(0.0, 1.5)),
        snr_db=float(np.clip(channel.snr_db + rng.normal(0.0, 5.0), 5.0, 30.0)),
        lead_s=float(rng.uniform(0.08, 0.35)), trail_s=float(rng.uniform(0.08, 0.35)),
    )


def _annotate(rng: np.random.Generator, emotion: str, speaker: Speaker,
              evaluators: tuple[str, ...], dim_evaluators: tuple[str, ...], p_xxx: float = P_XXX
              ) -> tuple[str, list[str], tuple[float, float, float]]:
    """Evaluator lines in IEMOCAP's format; the label is their majority, ``xxx`` without one.

    Three evaluators vote a category (``C-E*``), two rate valence/activation/dominance
    (``A-E*``, averaged into the summary line), and the actor rates themself (``C-F1``/``C-M1``).
    """
    if rng.random() < p_xxx:
        label, votes = "xxx", _disagreeing_votes(rng, emotion)
    else:
        n_agree = 3 if rng.random() < 0.55 else 2
        label = emotion
        votes = [emotion] * n_agree + [pick(rng, NEIGHBOURS[emotion])] * (3 - n_agree)
        rng.shuffle(votes)
    self_id = f"{speaker.gender}1"
    lines = [f"C-{ev}:\t{_categories(rng, vote)}\t{_comment(rng, vote)}"
             for ev, vote in zip(evaluators, votes, strict=True)]
    lines.append(f"C-{self_id}:\t{_categories(rng, emotion)}\t()")
    dims = [_vad_vote(rng, emotion) for _ in dim_evaluators]
    dims_self = _vad_vote(rng, emotion)
    for ev, (v, a, d) in [*zip(dim_evaluators, dims, strict=True), (self_id, dims_self)]:
        lines.append(f"A-{ev}:\tval {v}; act {a}; dom  {d};\t()")
    vad = (float(np.mean([x[0] for x in dims])), float(np.mean([x[1] for x in dims])),
           float(np.mean([x[2] for x in dims])))
    return label, lines, vad


def _disagreeing_votes(rng: np.random.Generator, emotion: str) -> list[str]:
    """Three different categories: the intended one, a neighbour, and something else."""
    second = pick(rng, NEIGHBOURS[emotion])
    third = pick(rng, [e for e in ("neu", "fru", "sad", "hap", "ang", "exc") if e not in (emotion, second)])
    votes = [emotion, second, third]
    rng.shuffle(votes)
    return votes


def _categories(rng: np.random.Generator, vote: str) -> str:
    """An evaluator's category list: their vote first, sometimes a second, neighbouring one."""
    names = [CATEGORY_NAME[vote]]
    if rng.random() < 0.2:
        names.append(CATEGORY_NAME[pick(rng, NEIGHBOURS[vote])])
    return " ".join(f"{n};" for n in names)


def _comment(rng: np.random.Generator, vote: str) -> str:
    if vote == "oth":
        return f"({pick(rng, ('sarcastic', 'amused', 'teasing', 'resigned'))})"
    return "()"


def _vad_vote(rng: np.random.Generator, emotion: str) -> tuple[int, int, int]:
    v, a, d = np.clip(np.rint(np.array(VAD[emotion]) + rng.normal(0.0, 0.6, 3)), 1, 5)
    return int(v), int(a), int(d)


@dataclass(frozen=True)
class _Step:
    """Who speaks next and which emotion they were asked to show (with the line, if scripted)."""

    letter: str
    emotion: str
    line: str | None = None


@dataclass
class DialogPlan:
    """A dialog with its turns, ready to render and write."""

    spec: DialogSpec
    turns: list[Turn] = field(default_factory=list)
    t0: float = 0.0


@dataclass
class _DialogContext:
    """What every turn of one dialog shares."""

    spec: DialogSpec
    channel: Channel
    evaluators: tuple[str, ...]
    dim_evaluators: tuple[str, ...]
    seed: int
    scenario: Scenario | None = None
    motif: Motif | None = None
    junk_used: set[str] = field(default_factory=set)
    cues: bool = False


def plan_dialog(spec: DialogSpec, speakers: dict[str, Speaker], channels: dict[int, Channel],
                seed: int, cues: bool = False) -> DialogPlan:
    """Turns of one dialog: who speaks, which emotion, label, words and delivery (``cues``: the
    cue corpus, whose words and delivery come from :mod:`sernb.data.synth.cues`)."""
    rng = seeded_rng(seed, "dialog", spec.name)
    evaluators = sorted(str(e) for e in rng.choice([f"E{i}" for i in range(1, 7)], 3, replace=False))
    dim_evaluators = sorted(str(e) for e in rng.choice(evaluators, 2, replace=False))
    ctx = _DialogContext(spec, channels[spec.session], tuple(evaluators), tuple(dim_evaluators), seed,
                         cues=cues)
    plan = DialogPlan(spec, t0=float(rng.uniform(1.5, 6.0)))
    if spec.scenario is not None:
        ctx.scenario, ctx.motif = SCENARIOS[spec.scenario - 1], _motif(spec, seed)
        steps = _improvised_steps(rng, spec, ctx.scenario)
    else:
        steps = _scripted_steps(rng, spec)
    counters: Counter[str] = Counter()
    for step in steps:
        utt_id = f"{spec.name}_{step.letter}{counters[step.letter]:03d}"
        counters[step.letter] += 1
        speaker = speakers[f"Ses{spec.session:02d}{step.letter}"]
        plan.turns.append(_plan_turn(ctx, utt_id, step, speaker))
    return plan


def _improvised_steps(rng: np.random.Generator, spec: DialogSpec, scenario: Scenario) -> list[_Step]:
    """Turns of an improvised dialog: speakers mostly alternate, emotions persist per speaker."""
    other = "M" if spec.marker == "F" else "F"
    roles = {spec.marker: scenario.role_a, other: scenario.role_b}
    if spec.iemocap:  # IEMOCAP's class balance instead of the scenario's roles
        roles = {spec.marker: IEMOCAP_PRIOR, other: IEMOCAP_PRIOR}
    letter = spec.marker if rng.random() < 0.6 else other
    previous: dict[str, str | None] = {"F": None, "M": None}
    steps = []
    for _ in range(spec.n_turns):
        emotion = _choose_emotion(rng, roles[letter], previous[letter])
        if emotion in EMOTIONS:
            previous[letter] = emotion
        steps.append(_Step(letter, emotion))
        if rng.random() < 0.85:
            letter = other if letter == spec.marker else spec.marker
    return steps


def _scripted_steps(rng: np.random.Generator, spec: DialogSpec) -> list[_Step]:
    """Script lines; the actors mostly hit the intended emotion, sometimes a neighbour."""
    steps = []
    for letter, intended, line in SCRIPTS[spec.script][spec.lines[0]:spec.lines[1]]:
        roll = rng.random()
        emotion = intended if roll < 0.75 else pick(rng, NEIGHBOURS[intended]) if roll < 0.95 else "neu"
        steps.append(_Step(letter, emotion, line))
    return steps


def _plan_turn(ctx: _DialogContext, utt_id: str, step: _Step, speaker: Speaker) -> Turn:
    """Wording, delivery and annotation of one turn (its own random stream, keyed by ``utt_id``)."""
    rng = seeded_rng(ctx.seed, "turn", utt_id)
    sentences: list[str] = []  # an iemocap-size improvised turn's sentences, trimmed to length below
    if step.line is None:
        carrier = CARRIERS[int(rng.choice(len(CARRIERS), p=CARRIER_P))]
        text = _compose_text(rng, step.emotion, carrier, speaker, ctx.scenario, ctx.motif)
        if ctx.spec.iemocap:  # IEMOCAP's long turns: a few more sentences, now and then many
            more = min(int(rng.geometric(P_STOP_SENTENCE)) - 1, MAX_SENTENCES - 1)
            extra = [_compose_text(rng, step.emotion, carrier, speaker, ctx.scenario, ctx.motif)
                     for _ in range(more)]
            sentences = [text, *extra]
    else:  # the words are the script's; the actor may still deliver them flat
        carrier = "text" if rng.random() < P_FLAT_SCRIPTED else "both"
        text = _add_tokens(rng, step.emotion, step.line)
    intensity = float(rng.uniform(0.0, 0.2) if carrier == "text" else rng.uniform(0.7, 1.15))
    label, evaluation, vad = _annotate(rng, step.emotion, speaker, ctx.evaluators, ctx.dim_evaluators,
                                       P_XXX_IEMOCAP if ctx.spec.iemocap else P_XXX)
    junk_letter = pick(rng, ("F", "M"))
    junk = None
    if rng.random() < 0.06 and junk_letter not in ctx.junk_used:
        ctx.junk_used.add(junk_letter)
        junk = f"{ctx.spec.name}_{junk_letter}XX0"
    delivery = _delivery(rng, speaker, step.emotion, intensity, ctx.channel)
    if sentences:  # trimmed after every draw, so the random streams stay where they were
        text = _fit_budget(sentences, delivery)
    turn = Turn(
        utt_id=utt_id, dialog=ctx.spec.name, speaker=speaker.speaker_id, emotion=step.emotion,
        label=label, carrier=carrier, intensity=intensity, text=text, evaluation=evaluation, vad=vad,
        delivery=delivery,
        gap_s=float(rng.uniform(0.25, 1.6)) + (1.0 if junk else 0.0), junk=junk,
    )
    return _with_cues(ctx, turn, speaker) if ctx.cues else turn


def estimated_seconds(text: str, delivery: Delivery) -> float:
    """Speaking time of ``text`` at the delivery's rate (words per minute) and word gap, plus the
    silence before and after: within 0.75-1.37x of the rendered length for turns over 10 s."""
    words = len(spoken_text(text).split())
    rate = min(max(delivery.rate, RATE_MIN), RATE_MAX)  # what eSpeak will actually use
    return words * (60.0 / rate + 0.01 * delivery.word_gap) + delivery.lead_s + delivery.trail_s


def _fit_budget(sentences: list[str], delivery: Delivery) -> str:
    """The first sentence and as many of the next as fit :data:`LONG_TURN_BUDGET_S`."""
    kept = sentences[:1]
    for sentence in sentences[1:]:
        if estimated_seconds(" ".join([*kept, sentence]), delivery) > LONG_TURN_BUDGET_S:
            break
        kept.append(sentence)
    return " ".join(kept)


#: Cue kinds heard in the audio; the others are in the words (lexical) or in both (alignment).
AUDIO_CUE_KINDS = frozenset({"global", "local", "contour"})


def _with_cues(ctx: _DialogContext, turn: Turn, speaker: Speaker) -> Turn:
    """The cue corpus' version of a turn: same speaker, emotion, label, annotation and timing; the
    words and delivery carry the emotion only through the turn's cue kinds. Drawn from a stream of
    its own, after everything else, so the default corpus' streams are untouched."""
    rng = seeded_rng(ctx.seed, "cues", turn.utt_id)
    kinds = draw_kinds(rng, turn.emotion)
    cue = plan_cues(rng, turn.emotion, kinds)
    in_audio, in_text = bool(AUDIO_CUE_KINDS & set(kinds)), "lexical" in kinds
    carrier = "both" if "alignment" in kinds or (in_audio and in_text) else "audio" if in_audio else "text"
    intensity = float(rng.uniform(0.7, 1.15)) if "global" in kinds else 0.0
    return replace(turn, text=cue.text, carrier=carrier, intensity=intensity, cue=cue,
                   delivery=_delivery(rng, speaker, turn.emotion, intensity, ctx.channel))
