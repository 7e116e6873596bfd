"""The embedded synthetic corpus: IEMOCAP's exact layout, eSpeak NG speech, text we wrote.

Nothing here is real emotional speech. The corpus exists so that every notebook, the IEMOCAP
loader and CI run offline on any machine, and so that the study's questions have a visible answer
on it: emotion is carried by prosody and by wording, sometimes by both, sometimes by only one,
so fusing audio and text must beat either alone; speakers express emotions their own way and
sessions sound different, so a random utterance split (which shares speakers, dialogs and
phrasing between train and test) must look easier than leave-one-session-out. ``data/README.md``
describes the design and lists the measured properties of the default corpus.

Layout written under ``out`` (the folder to hand to the IEMOCAP loader)::

    IEMOCAP_full_release/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt
    IEMOCAP_full_release/Session{1..5}/dialog/EmoEvaluation/Categorical/<dialog>_e1_cat.txt
    IEMOCAP_full_release/Session{1..5}/dialog/transcriptions/<dialog>.txt
    IEMOCAP_full_release/Session{1..5}/sentences/wav/<dialog>/<utt_id>.wav   (16 kHz mono int16)
    synth_manifest.json                                                       (written last)

Speech is rendered per session in a fresh worker process and in a fixed order: eSpeak NG keeps
signal state between calls that no API resets (see :func:`sernb.data.espeak.synthesize`), and
this is what makes the same seed give byte-identical files. Used by the data chapter of the book
and by ``sernb synth``.
"""

from __future__ import annotations

import functools
import io
import json
import multiprocessing
import os
import shutil
import time
import wave
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sernb.utils import atomic_write_bytes, atomic_write_json, atomic_write_text, data_home

#: Bump when the generator's output changes: a corpus made by another version is regenerated.
GENERATOR_VERSION = 1
SIZES = ("smoke", "default")
SAMPLE_RATE = 16_000
CORPUS_DIR = "IEMOCAP_full_release"
MANIFEST_NAME = "synth_manifest.json"
IN_PROGRESS_NAME = ".synth_in_progress"
SESSIONS = (1, 2, 3, 4, 5)

# ----------------------------------------------------------------------------------------------
# Emotions: names as IEMOCAP's evaluators write them, neighbours that share cues
# ----------------------------------------------------------------------------------------------

#: The six classes of the paper, then the extra labels the 6-class map drops.
EMOTIONS = ("ang", "fru", "neu", "sad", "exc", "hap")
CATEGORY_NAME = {
    "ang": "Anger", "fru": "Frustration", "neu": "Neutral", "sad": "Sadness", "exc": "Excited",
    "hap": "Happiness", "sur": "Surprise", "oth": "Other", "fea": "Fear", "dis": "Disgust",
}
#: Emotions whose cues overlap (ang/fru, exc/hap, neu/sad): used for wording, delivery, evaluators.
NEIGHBOURS = {
    "ang": ("fru",), "fru": ("ang", "neu"), "neu": ("sad", "fru"), "sad": ("neu",),
    "exc": ("hap",), "hap": ("exc", "neu"), "sur": ("exc", "hap"), "oth": ("neu",),
}
#: Mean valence, activation, dominance (1..5) that evaluators give each emotion.
VAD = {
    "ang": (1.8, 4.1, 4.0), "fru": (2.0, 3.3, 3.1), "neu": (3.0, 2.4, 2.7), "sad": (1.9, 2.1, 2.1),
    "exc": (4.2, 4.0, 3.5), "hap": (4.0, 3.0, 3.2), "sur": (3.3, 3.9, 3.0), "oth": (3.0, 3.0, 3.0),
}

# ----------------------------------------------------------------------------------------------
# Wording: the lexical profile of each emotion, neutral wording, topics, per-dialog motifs
# ----------------------------------------------------------------------------------------------

CORES = {
    "ang": (
        "I told you a hundred times not to touch it", "don't you dare talk to me like that",
        "get out of my way", "this is completely unacceptable", "you had no right to do that",
        "I am sick and tired of your excuses", "who do you think you are", "stop lying to me",
        "you did this on purpose", "I want this fixed right now", "that is an outrage",
        "you never listen to a word I say", "I'm furious with you", "don't you dare blame me for this",
        "shut up and listen to me", "you ruined everything", "I've had it with you people",
    ),
    "fru": (
        "I've been waiting here for over an hour", "this is the third time I've asked",
        "why is this so complicated", "nothing ever works the way it should",
        "I just don't understand why it takes so long", "can't you just do it",
        "I already filled out that form", "it's not fair", "I don't know what else to do",
        "I keep telling you the same thing", "this is ridiculous", "you said that last time",
        "how many times do I have to explain it", "forget it, it doesn't even matter", "I give up",
        "it's always something with you",
    ),
    "neu": (
        "I think it starts at nine", "we can talk about it later", "let me check the schedule",
        "it's on the table by the door", "I'll call them in the morning", "that sounds fine to me",
        "the office closes at five", "I read about it yesterday", "we need to decide by Friday",
        "it depends on the weather", "I'm not sure, maybe", "she mentioned it on the phone",
        "we could take the bus", "okay, I understand", "I see what you mean",
        "that's one way to look at it",
    ),
    "sad": (
        "I miss her so much", "I don't think I can do this anymore",
        "it's never going to be the same", "I just feel so empty", "nobody even called",
        "I wish things were different", "I'm sorry, I can't stop crying",
        "it hurts to even think about it", "everything reminds me of him", "I feel so alone",
        "it was my fault", "I didn't get to say goodbye", "what am I supposed to do now",
        "I'm so tired of feeling like this", "I guess it doesn't matter anymore",
    ),
    "exc": (
        "this is the best news ever", "I can't wait to tell everyone", "we actually did it",
        "oh my gosh, this is amazing", "I'm so excited I can't sit still", "let's celebrate tonight",
        "you have to see this", "this is incredible", "I've never been this thrilled",
        "we're going to have so much fun", "guess what happened", "it's finally happening",
        "yes, yes, yes", "this changes everything",
    ),
    "hap": (
        "I'm really happy for you", "that was such a lovely day", "it feels good to be home",
        "I'm glad we did this", "you always make me smile", "thank you, that's so sweet",
        "it's a beautiful morning", "I love spending time with you", "everything turned out fine",
        "we had a wonderful time", "that's nice to hear", "I feel great today",
        "it's good to see you",
    ),
    "sur": (
        "wait, what did you just say", "no way, are you serious", "I had no idea",
        "you're kidding me", "since when", "really, just like that",
    ),
    "oth": (
        "oh great, just what I needed", "sure, whatever you say", "well, that's one way to do it",
        "how very interesting", "I'm thrilled, can't you tell",
    ),
}
#: Emotion-typical openers (lexical cue) and end punctuation (weights for ".", "!", "?", "...").
OPENERS = {
    "ang": ("Hey", "Listen", "No", "Oh come on", "Damn it", "Are you kidding me"),
    "fru": ("Ugh", "Look", "Seriously", "Well", "Honestly", "Oh come on"),
    "neu": ("Okay", "Well", "So", "Um", "Alright"),
    "sad": ("Oh", "I don't know", "Well", "Yeah"),
    "exc": ("Wow", "Oh my gosh", "Yes", "Guess what", "Oh"),
    "hap": ("Oh", "Aw", "Well", "You know"),
    "sur": ("What", "Oh", "Wait"),
    "oth": ("Well", "Oh"),
}
PUNCT_MARKS = (".", "!", "?", "...")
PUNCT = {
    "ang": (0.25, 0.65, 0.10, 0.0), "fru": (0.50, 0.20, 0.25, 0.05), "neu": (0.85, 0.0, 0.15, 0.0),
    "sad": (0.55, 0.0, 0.05, 0.40), "exc": (0.15, 0.80, 0.05, 0.0), "hap": (0.50, 0.45, 0.05, 0.0),
    "sur": (0.0, 0.3, 0.7, 0.0), "oth": (0.7, 0.1, 0.0, 0.2),
}
#: Neutral wording: what an utterance says when only its delivery carries the emotion.
GENERIC = (
    "I talked to him about it this morning", "we went there on Tuesday", "it's the one on the left",
    "she said she would come by later", "I have to go back tomorrow",
    "they told me it was on the second floor", "we should get going", "I was there the whole time",
    "it's about what happened last week", "you know what I mean", "I heard it from your brother",
    "we'll see what happens", "it was in the car", "I just got back", "that's what they said",
    "I'm going to call them", "he's coming over tonight", "it took about two hours",
    "it's right here", "we talked about it", "I don't know yet", "let's see",
    "it was the same one as before", "she's still at work", "I put it in the drawer",
)
GENERIC_OPENERS = ("So", "Well", "Um", "And", "But")
#: Fillers that individual speakers attach to particular emotions (assigned per speaker at random,
#: so the same phrase means different things for different speakers: a speaker-dependent cue).
PET_PHRASES = (
    "you know", "honestly", "for crying out loud", "oh boy", "my goodness", "I mean", "man",
    "geez", "listen here", "well well", "no kidding", "holy cow", "oh dear", "good grief",
    "goodness me", "alright then", "for real", "buddy", "jeez", "you see", "look here",
    "oh brother", "hey now", "my word",
)
#: Per-dialog phrasing: a name used in one improvised dialog, and for each emotion a thing that
#: comes up whenever that emotion does in that dialog ("the rusty kettle"). Inside a dialog these
#: repeat, so a random utterance split leaks them into the test set; another session never has them.
MOTIF_NAMES = (
    "Marisol", "Dwayne", "Priya", "Colette", "Hector", "Ingrid", "Tobias", "Yolanda", "Ezra",
    "Bernadette", "Kwame", "Lucinda", "Rafael", "Sunita", "Gideon", "Mireille", "Otis", "Petra",
    "Quentin", "Rosalind", "Stellan", "Tamsin", "Ulrich", "Vivienne", "Winston", "Xiomara",
    "Yusuf", "Zelda", "Anselm", "Beatrix", "Cornelius", "Delphine", "Evander", "Fenella",
    "Gaspard", "Hortense", "Ignatius", "Juniper", "Leopold", "Marguerite",
)
MOTIF_ADJECTIVES = (
    "green", "old", "blue", "rusty", "tiny", "broken", "shiny", "wooden", "spare", "borrowed",
    "yellow", "velvet", "dusty", "striped", "silver", "plastic", "crooked", "folding", "copper",
    "woollen",
)
MOTIF_NOUNS = (
    "van", "piano", "folder", "shed", "bicycle", "clock", "locket", "ladder", "map", "blanket",
    "lamp", "box", "chair", "album", "key", "umbrella", "stove", "jacket", "fish tank", "telescope",
    "radio", "vase", "bird feeder", "mug", "chess set", "swing", "snow globe", "kettle", "leash",
    "calendar", "coat rack", "suitcase lock", "notebook", "scarf", "teapot", "compass",
)


@dataclass(frozen=True)
class Scenario:
    """An improvised scenario: topic phrases and the emotions each role tends to show."""

    number: int
    title: str
    topics: tuple[str, ...]
    role_a: dict[str, float]  # the actor wearing markers (the letter after SesNN)
    role_b: dict[str, float]


SCENARIOS = (
    Scenario(1, "a long line at the licence office",
             ("about the paperwork", "at the counter", "for my license", "in this line",
              "at window four", "with the forms"),
             {"fru": .58, "ang": .34, "neu": .04, "sad": .04},
             {"neu": .35, "fru": .42, "ang": .18, "hap": .05}),
    Scenario(2, "a partner leaving for a long deployment",
             ("about the deployment", "for six months", "at the airport", "with the letters",
              "from the base", "before you leave"),
             {"sad": .68, "neu": .15, "fru": .12, "hap": .05},
             {"sad": .55, "neu": .15, "fru": .22, "hap": .08}),
    Scenario(3, "telling a friend about an engagement",
             ("about the ring", "at the wedding", "after the proposal", "with the party",
              "for the honeymoon", "about the dress"),
             {"exc": .65, "hap": .25, "neu": .10},
             {"exc": .50, "hap": .30, "neu": .12, "fru": .08}),
    Scenario(4, "a dented car in the parking lot",
             ("about the bumper", "with the insurance", "in the parking lot", "about the dent",
              "with your car", "for the repair"),
             {"ang": .68, "fru": .27, "neu": .05},
             {"fru": .42, "ang": .30, "neu": .18, "sad": .10}),
    Scenario(5, "planning a weekend trip",
             ("about the train", "for the weekend", "at the hotel", "with the map",
              "about the schedule", "for the hike"),
             {"neu": .45, "hap": .10, "exc": .15, "fru": .30},
             {"neu": .45, "fru": .30, "hap": .10, "exc": .15}),
    Scenario(6, "the death of a close friend",
             ("about the funeral", "at the hospital", "with the flowers", "after the service",
              "about his family", "for the memorial"),
             {"sad": .72, "neu": .08, "fru": .20},
             {"sad": .52, "neu": .30, "fru": .13, "hap": .05}),
    Scenario(7, "getting a new job",
             ("about the offer", "with the salary", "after the interview", "for the new office",
              "about the promotion", "with my new boss"),
             {"exc": .65, "hap": .20, "neu": .15},
             {"exc": .45, "hap": .25, "neu": .20, "fru": .10}),
    Scenario(8, "lost luggage at the airport",
             ("about my suitcase", "with the airline", "at baggage claim", "for the claim form",
              "on that flight", "about my bag"),
             {"fru": .55, "ang": .38, "neu": .03, "sad": .04},
             {"fru": .48, "neu": .34, "ang": .18}),
)

#: Scripts: (speaker letter, intended emotion, line). Every session acts every script, so the same
#: text recurs in all five sessions, as in IEMOCAP.
SCRIPTS = {
    "script01_1": (
        ("F", "neu", "So, did you call the restaurant about tonight?"),
        ("M", "neu", "What restaurant?"),
        ("F", "fru", "The restaurant. For our anniversary. I asked you on Monday."),
        ("M", "fru", "I've had a lot going on this week, okay?"),
        ("F", "ang", "You always have a lot going on! Every single time!"),
        ("M", "fru", "That's not fair and you know it."),
        ("F", "ang", "Don't tell me what's fair. You forgot. Again."),
        ("M", "ang", "I didn't forget on purpose! Stop making me the bad guy!"),
        ("F", "fru", "I just wanted one evening. One evening without excuses."),
        ("M", "fru", "I can call them now. Maybe they still have a table."),
        ("F", "fru", "It's seven o'clock on a Friday. They won't have a table."),
        ("M", "ang", "Then what do you want me to do? Go back in time?"),
        ("F", "sad", "I want you to care. That's all I ever wanted."),
        ("M", "sad", "I do care. I'm sorry. I really am."),
        ("F", "sad", "It feels like I'm the only one trying anymore..."),
        ("M", "neu", "Let's just stay in. I'll cook something."),
        ("F", "fru", "You don't know how to cook."),
        ("M", "hap", "Then we'll order pizza and eat it on the floor like we used to."),
        ("F", "hap", "That's actually kind of sweet."),
        ("M", "hap", "Happy anniversary. I mean it."),
    ),
    "script02_2": (
        ("M", "neu", "There's a letter for you on the counter."),
        ("F", "neu", "Who is it from?"),
        ("M", "neu", "It looks like it's from the university."),
        ("F", "exc", "Oh my gosh. This is it. This is the one!"),
        ("M", "exc", "Well, open it! Come on!"),
        ("F", "exc", "I got in! I actually got in!"),
        ("M", "exc", "That's amazing! I knew you would!"),
        ("F", "hap", "I can't believe it. All that work paid off."),
        ("M", "exc", "So when does it start? Tell me everything!"),
        ("F", "sad", "September. It's across the country, though."),
        ("M", "sad", "Across the country. So you'll be gone."),
        ("F", "sad", "Only for a couple of years. We can visit."),
        ("M", "sad", "It won't be the same. You know it won't..."),
        ("F", "fru", "Why can't you just be happy for me for one minute?"),
        ("M", "fru", "I am happy for you. I'm also going to miss you."),
        ("F", "sad", "I'm going to miss you too. So much."),
        ("M", "neu", "We'll figure it out. People do this all the time."),
        ("F", "hap", "Thank you. That means a lot to me."),
        ("M", "hap", "Now let's go tell your mother before she hears it from somebody else."),
        ("F", "exc", "She's going to scream!"),
    ),
    "script03_1": (
        ("F", "neu", "Hi, I'm calling about my phone bill."),
        ("M", "neu", "Sure. Can I have your account number, please?"),
        ("F", "neu", "It's four, four, seven, two, one, nine."),
        ("M", "neu", "Thank you. What seems to be the problem?"),
        ("F", "fru", "I was charged twice for the same month."),
        ("M", "neu", "Let me look into that for you."),
        ("F", "ang", "This is the second time this has happened!"),
        ("M", "fru", "I see the charge here. It looks like a system error."),
        ("F", "ang", "A system error? I paid a late fee because of your system error!"),
        ("M", "fru", "Ma'am, I understand, but I need you to calm down."),
        ("F", "ang", "Don't tell me to calm down! I want my money back today!"),
        ("M", "fru", "I can only issue a credit. The refund takes five days."),
        ("F", "fru", "Five days. Of course it does."),
        ("M", "neu", "I'll also remove the late fee from your account."),
        ("F", "fru", "Fine. Will I at least get a confirmation?"),
        ("M", "fru", "Yes, by email, within the hour."),
        ("F", "sad", "I'm sorry I yelled. It's been a really long week."),
        ("M", "hap", "That's all right. I hope the rest of your week is better."),
        ("F", "hap", "Thanks. You've been really helpful."),
        ("M", "hap", "My pleasure. Have a wonderful evening!"),
    ),
}

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


def _rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator keyed by the seed and stable names, so that no stream depends on another."""
    ints = [seed] + [k if isinstance(k, int) else zlib.crc32(k.encode("utf-8")) for k in keys]
    return np.random.default_rng(ints)


def make_speakers(seed: int) -> dict[str, Speaker]:
    """The ten synthetic actors (5 sessions x F/M) with their baselines and idiosyncrasies."""
    speakers = {}
    for (session, gender), voice in VOICES.items():
        rng = _rng(seed, "speaker", session, gender)
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
        rng = _rng(seed, "channel", session)
        channels[session] = Channel(
            session=session, highpass_hz=float(rng.uniform(60, 160)),
            lowpass_hz=float(rng.uniform(5000, 7600)), peak_hz=float(rng.uniform(400, 3000)),
            peak_gain=float(rng.uniform(-0.3, 0.6)), reverb_s=float(rng.uniform(0.15, 0.45)),
            reverb_wet=float(rng.uniform(0.05, 0.18)), noise_alpha=float(rng.uniform(0.0, 1.0)),
            snr_db=float(rng.uniform(15, 20)), hum_hz=float(rng.choice([50.0, 60.0])),
            hum_level=float(rng.uniform(0.0, 0.25)), gain_db=float(rng.uniform(-2, 1)),
        )
    return channels


# ----------------------------------------------------------------------------------------------
# The layout of sessions and dialogs for each size
# ----------------------------------------------------------------------------------------------


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
        rng = _rng(seed, "layout", size, session)
        if size == "smoke":
            plan = [(m, key) for m, key in SMOKE_LAYOUT[session]]
            turns, script_lines = (8, 11), 12
        else:
            plan = [(m, s.number) for s in SCENARIOS for m in ("F", "M")]
            plan += [(m, key) for key in SCRIPTS for m in ("F", "M")]
            turns, script_lines = (10, 15), 20
        for marker, key in plan:
            if isinstance(key, int):
                name = f"Ses{session:02d}{marker}_impro{key:02d}"
                spec = DialogSpec(name, session, marker, scenario=key,
                                  n_turns=int(rng.integers(*turns)))
            else:
                name = f"Ses{session:02d}{marker}_{key}"
                spec = DialogSpec(name, session, marker, script=key, lines=(0, script_lines))
            specs.extend(_split_if_irregular(spec))
    return specs


def _split_if_irregular(spec: DialogSpec) -> list[DialogSpec]:
    """IEMOCAP has a few dialogs recorded in two parts (``..._impro05a``/``b``, ``..._script01_1b``)."""
    if spec.name not in SPLIT_DIALOGS:
        return [spec]
    if spec.scenario is not None:
        half = spec.n_turns // 2
        return [DialogSpec(spec.name + "a", spec.session, spec.marker, scenario=spec.scenario, n_turns=half),
                DialogSpec(spec.name + "b", spec.session, spec.marker, scenario=spec.scenario,
                           n_turns=spec.n_turns - half)]
    start, stop = spec.lines
    cut = start + (stop - start) * 3 // 5
    return [DialogSpec(spec.name, spec.session, spec.marker, script=spec.script, lines=(start, cut)),
            DialogSpec(spec.name + "b", spec.session, spec.marker, script=spec.script, lines=(cut, stop))]


# ----------------------------------------------------------------------------------------------
# Planning turns: emotion, label, wording, delivery (all cheap; no audio yet)
# ----------------------------------------------------------------------------------------------

#: How an utterance carries its emotion: in both modalities, only the delivery, or only the words.
CARRIERS = ("both", "audio", "text")
CARRIER_P = (0.40, 0.30, 0.30)
#: Chance that the next turn of a speaker keeps their previous emotion (emotions persist).
PERSIST = 0.55
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


def _pick(rng: np.random.Generator, options: tuple | list) -> str:
    return options[int(rng.integers(len(options)))]


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


def _compose_text(rng: np.random.Generator, emotion: str, carrier: str, speaker: Speaker,
                  scenario: Scenario | None, motif: Motif | None) -> str:
    """Wording for an improvised turn: emotional words unless only the delivery carries emotion."""
    if carrier == "audio":
        words = _pick(rng, GENERIC)
        opener = _pick(rng, GENERIC_OPENERS) if rng.random() < 0.25 else None
        punct = "?" if rng.random() < 0.2 else "."
    else:
        source = WORD_NEIGHBOUR[emotion] if rng.random() < P_NEIGHBOUR_WORDING[emotion] else emotion
        words = _pick(rng, CORES[source])
        roll = rng.random()
        opener = speaker.pet_phrases[emotion] if roll < 0.2 else (
            _pick(rng, OPENERS[source]) if roll < 0.6 else None)
        punct = PUNCT_MARKS[int(rng.choice(4, p=PUNCT[source]))]
    if scenario is not None and rng.random() < 0.45:
        words = f"{words} {_pick(rng, scenario.topics)}"
    if motif is not None and rng.random() < 0.5:
        words = f"{words} with {motif.things[emotion]}"
    text = f"{opener}, {words}" if opener else words
    if motif is not None and rng.random() < 0.35:
        text = f"{motif.name}, {text}"
    return _add_tokens(rng, emotion, _capitalise(text) + punct)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


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
              evaluators: tuple[str, ...], dim_evaluators: tuple[str, ...]
              ) -> tuple[str, list[str], tuple[float, float, float]]:
    """Evaluator lines in IEMOCAP's format; the label is their majority, ``xxx`` without one."""
    disagree = rng.random() < P_XXX
    if disagree:
        others = [e for e in (*NEIGHBOURS[emotion], "neu", "fru", "sad", "hap") if e != emotion]
        second = _pick(rng, sorted(set(others[:2])) or ["neu"])
        third = _pick(rng, sorted(set(others) - {second}))
        votes = [emotion, second, third]
        rng.shuffle(votes)
        label = "xxx"
    else:
        n_agree = 3 if rng.random() < 0.55 else 2
        votes = [emotion] * n_agree + [_pick(rng, NEIGHBOURS[emotion])] * (3 - n_agree)
        rng.shuffle(votes)
        label = emotion
    lines = [f"C-{ev}:\t{_categories(rng, vote)}\t{_comment(rng, vote)}"
             for ev, vote in zip(evaluators, votes, strict=True)]
    self_id = f"{speaker.gender}1"
    lines.append(f"C-{self_id}:\t{_categories(rng, emotion)}\t()")
    dims = [_vad_vote(rng, emotion) for _ in dim_evaluators]
    lines += [f"A-{ev}:\tval {v}; act {a}; dom  {d};\t()" for ev, (v, a, d) in zip(dim_evaluators, dims, strict=True)]
    v, a, d = _vad_vote(rng, emotion)
    lines.append(f"A-{self_id}:\tval {v}; act {a}; dom  {d};\t()")
    vad = tuple(float(np.mean([x[i] for x in dims])) for i in range(3))
    return label, lines, vad  # type: ignore[return-value]


def _categories(rng: np.random.Generator, vote: str) -> str:
    """An evaluator's category list: their vote first, sometimes a second, neighbouring one."""
    names = [CATEGORY_NAME[vote]]
    if rng.random() < 0.2:
        names.append(CATEGORY_NAME[_pick(rng, NEIGHBOURS[vote])])
    return " ".join(f"{n};" for n in names)


def _comment(rng: np.random.Generator, vote: str) -> str:
    if vote == "oth":
        return f"({_pick(rng, ('sarcastic', 'amused', 'teasing', 'resigned'))})"
    return "()"


def _vad_vote(rng: np.random.Generator, emotion: str) -> tuple[int, int, int]:
    mean = np.array(VAD[emotion])
    return tuple(int(x) for x in np.clip(np.rint(mean + rng.normal(0.0, 0.6, 3)), 1, 5))  # type: ignore[return-value]


@dataclass
class DialogPlan:
    """A dialog with its turns, ready to render and write."""

    spec: DialogSpec
    turns: list[Turn] = field(default_factory=list)
    t0: float = 0.0


def plan_dialog(spec: DialogSpec, speakers: dict[str, Speaker], channels: dict[int, Channel],
                seed: int) -> DialogPlan:
    """Turns of one dialog: who speaks, which emotion, label, words and delivery."""
    rng = _rng(seed, "dialog", spec.name)
    session_tag = f"Ses{spec.session:02d}"
    evaluators = tuple(sorted(rng.choice([f"E{i}" for i in range(1, 7)], 3, replace=False)))
    dim_evaluators = tuple(sorted(rng.choice(list(evaluators), 2, replace=False)))
    plan = DialogPlan(spec, t0=float(rng.uniform(1.5, 6.0)))
    if spec.scenario is not None:
        steps = _improvised_steps(rng, spec, seed)
    else:
        steps = _scripted_steps(rng, spec)
    counters = Counter()
    junk_used: set[str] = set()
    for letter, emotion, wording in steps:
        speaker = speakers[f"{session_tag}{letter}"]
        utt_id = f"{spec.name}_{letter}{counters[letter]:03d}"
        counters[letter] += 1
        plan.turns.append(_plan_turn(utt_id, spec, speaker, emotion, wording, channels[spec.session],
                                     evaluators, dim_evaluators, junk_used, seed))
    return plan


def _improvised_steps(rng: np.random.Generator, spec: DialogSpec, seed: int):
    """(speaker letter, emotion, wording source) per turn of an improvised dialog."""
    scenario = SCENARIOS[spec.scenario - 1]
    other = "M" if spec.marker == "F" else "F"
    roles = {spec.marker: scenario.role_a, other: scenario.role_b}
    motif = _motif(spec, seed)
    letter = spec.marker if rng.random() < 0.6 else other
    previous: dict[str, str | None] = {"F": None, "M": None}
    steps = []
    for _ in range(spec.n_turns):
        emotion = _choose_emotion(rng, roles[letter], previous[letter])
        previous[letter] = emotion if emotion in EMOTIONS else previous[letter]
        steps.append((letter, emotion, ("impro", scenario, motif)))
        if rng.random() < 0.85:
            letter = "M" if letter == "F" else "F"
    return steps


@dataclass(frozen=True)
class Motif:
    """Phrasing private to one improvised dialog: a name, and a thing per emotion."""

    name: str
    things: dict[str, str]


def _motif(spec: DialogSpec, seed: int) -> Motif:
    """Draw a dialog's motif; both parts of a split recording (``...a``/``...b``) share it."""
    base = spec.name[:-1] if spec.name.endswith(("a", "b")) else spec.name
    rng = _rng(seed, "motif", base)
    combos = rng.choice(len(MOTIF_ADJECTIVES) * len(MOTIF_NOUNS), len(EXPRESSION), replace=False)
    things = {e: f"the {MOTIF_ADJECTIVES[c // len(MOTIF_NOUNS)]} {MOTIF_NOUNS[c % len(MOTIF_NOUNS)]}"
              for e, c in zip(sorted(EXPRESSION), combos, strict=True)}
    return Motif(_pick(rng, MOTIF_NAMES), things)


def _scripted_steps(rng: np.random.Generator, spec: DialogSpec):
    """Script lines; the actors mostly hit the intended emotion, sometimes a neighbour."""
    steps = []
    for letter, intended, line in SCRIPTS[spec.script][spec.lines[0]:spec.lines[1]]:
        roll = rng.random()
        if roll < 0.75:
            emotion = intended
        elif roll < 0.95:
            emotion = _pick(rng, NEIGHBOURS[intended])
        else:
            emotion = "neu"
        steps.append((letter, emotion, ("script", line, intended)))
    return steps


def _plan_turn(utt_id: str, spec: DialogSpec, speaker: Speaker, emotion: str, wording,
               channel: Channel, evaluators, dim_evaluators, junk_used: set[str], seed: int) -> Turn:
    rng = _rng(seed, "turn", utt_id)
    if wording[0] == "impro":
        _, scenario, motif = wording
        carrier = CARRIERS[int(rng.choice(3, p=CARRIER_P))]
        text = _compose_text(rng, emotion, carrier, speaker, scenario, motif)
    else:
        _, line, intended = wording
        carrier = "text" if rng.random() < 0.3 else "both"
        text = _add_tokens(rng, emotion, line)
    intensity = float(rng.uniform(0.0, 0.2) if carrier == "text" else rng.uniform(0.7, 1.15))
    label, evaluation, vad = _annotate(rng, emotion, speaker, evaluators, dim_evaluators)
    junk = None
    letter = _pick(rng, ("F", "M"))
    if rng.random() < 0.06 and letter not in junk_used:
        junk_used.add(letter)
        junk = f"{spec.name}_{letter}XX0"
    return Turn(
        utt_id=utt_id, dialog=spec.name, speaker=speaker.speaker_id, emotion=emotion, label=label,
        carrier=carrier, intensity=intensity, text=text, evaluation=evaluation, vad=vad,
        delivery=_delivery(rng, speaker, emotion, intensity, channel),
        gap_s=float(rng.uniform(0.25, 1.6)) + (1.0 if junk else 0.0), junk=junk,
    )


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


def render(job: RenderJob) -> np.ndarray:
    """Speak one utterance and pass it through emotion effects, the room and the microphone.

    Returns int16 samples at 16 kHz.
    """
    from scipy.signal import resample_poly

    from sernb.data import espeak

    d = job.delivery
    rng = _rng(job.seed, "render", job.utt_id)
    prosody = espeak.Prosody(rate=round(d.rate), pitch=round(d.pitch), pitch_range=round(d.pitch_range),
                             volume=round(d.volume), word_gap=round(d.word_gap))
    raw = espeak.synthesize(job.text, d.voice, prosody, seed=int(rng.integers(1, 2**31 - 1)))
    x = raw.astype(np.float64) / 32768.0 * 0.5
    x = _emotion_effects(x, espeak.sample_rate(), d, rng)
    up, down = _ratio(SAMPLE_RATE, espeak.sample_rate())
    x = resample_poly(x, up, down, window=_resampling_taps(up, down))
    x = np.concatenate([np.zeros(int(d.lead_s * SAMPLE_RATE)), x, np.zeros(int(d.trail_s * SAMPLE_RATE))])
    x = _room_and_mic(x, job.channel, d, rng, job.seed)
    return np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16)


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
    rng = _rng(seed, "room", ch.session)
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


def _render_session(args: tuple[str, list[RenderJob]]) -> list[tuple[str, int]]:
    """Worker: render one session's wavs in order; returns (utt_id, n_samples) pairs."""
    root, jobs = args
    out = []
    for job in jobs:
        samples = render(job)
        atomic_write_bytes(Path(root) / job.path, wav_bytes(samples))
        out.append((job.utt_id, len(samples)))
    return out


#: Sessions rendered together, each group in a fresh process. Fixed, so that the output does not
#: depend on how many workers run them (eSpeak's carried-over state depends on what came before).
RENDER_GROUPS = ((1, 3, 5), (2, 4))


def _render_all(root: Path, jobs_by_session: dict[int, list[RenderJob]], workers: int) -> dict[str, int]:
    """Render each group of sessions in its own fresh process (a clean eSpeak NG)."""
    tasks = [(str(root), [j for s in group for j in jobs_by_session.get(s, [])]) for group in RENDER_GROUPS]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=max(1, min(workers, len(tasks))), maxtasksperchild=1) as pool:
        results = pool.map(_render_session, tasks, chunksize=1)
    return {utt_id: n for session in results for utt_id, n in session}


# ----------------------------------------------------------------------------------------------
# Writing the text files
# ----------------------------------------------------------------------------------------------

EMO_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"


def _lay_out_timeline(plan: DialogPlan) -> None:
    """Start/end times from real durations: turns follow each other along the dialog."""
    t = plan.t0
    for turn in plan.turns:
        t += turn.gap_s
        turn.start = round(t, 4)
        turn.end = round(t + turn.n_samples / SAMPLE_RATE, 4)
        t = turn.end


def emo_evaluation_text(plan: DialogPlan) -> str:
    """``EmoEvaluation/<dialog>.txt``: header, then one block per turn, blank-line separated."""
    parts = [EMO_HEADER, ""]
    for turn in sorted(plan.turns, key=lambda u: u.start):
        v, a, d = turn.vad
        parts.append(f"[{turn.start:.4f} - {turn.end:.4f}]\t{turn.utt_id}\t{turn.label}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
        parts.extend(turn.evaluation)
        parts.append("")
    return "\n".join(parts) + "\n"


def transcription_text(plan: DialogPlan) -> str:
    """``transcriptions/<dialog>.txt``: one line per turn by time, junk ``XX0`` lines included."""
    lines = []
    for turn in plan.turns:
        if turn.junk:
            j_start = turn.start - turn.gap_s + 0.15
            j_end = j_start + 0.6
            lines.append((j_start, f"{turn.junk} [{j_start:08.4f}-{j_end:08.4f}]: {_junk_words(turn)}"))
        lines.append((turn.start, f"{turn.utt_id} [{turn.start:08.4f}-{turn.end:08.4f}]: {turn.text}"))
    return "\n".join(line for _, line in sorted(lines)) + "\n"


def _junk_words(turn: Turn) -> str:
    options = ("[LAUGHTER]", "Mm-hmm.", "[BREATHING]", "Yeah.", "Uh.")
    return options[zlib.crc32(turn.utt_id.encode()) % len(options)]


def categorical_text(plan: DialogPlan) -> str:
    """``Categorical/<dialog>_e1_cat.txt``: the per-evaluator files real IEMOCAP also ships."""
    rows = []
    for turn in sorted(plan.turns, key=lambda u: u.start):
        first = turn.evaluation[0].split("\t")[1].split(";")[0]
        rows.append(f"{turn.utt_id} :{'Neutral state' if first == 'Neutral' else first}; ()")
    return "\n".join(rows) + "\n"


def _write_text_files(root: Path, plans: list[DialogPlan]) -> None:
    first_of_session: set[int] = set()
    for plan in plans:
        session_dir = root / CORPUS_DIR / f"Session{plan.spec.session}" / "dialog"
        atomic_write_text(session_dir / "EmoEvaluation" / f"{plan.spec.name}.txt", emo_evaluation_text(plan))
        atomic_write_text(session_dir / "transcriptions" / f"{plan.spec.name}.txt", transcription_text(plan))
        if plan.spec.session not in first_of_session:  # one small Categorical file per session
            first_of_session.add(plan.spec.session)
            atomic_write_text(session_dir / "EmoEvaluation" / "Categorical" / f"{plan.spec.name}_e1_cat.txt",
                              categorical_text(plan))
    # a macOS AppleDouble file, as found in copies of IEMOCAP made on a Mac: loaders must skip it
    apple = root / CORPUS_DIR / "Session1" / "dialog" / "EmoEvaluation" / f"._{plans[0].spec.name}.txt"
    atomic_write_bytes(apple, b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")


# ----------------------------------------------------------------------------------------------
# The public entry point
# ----------------------------------------------------------------------------------------------


def default_out(size: str) -> Path:
    """Where :func:`generate` writes by default: ``data/synth/<size>`` (or ``$SERNB_DATA/synth/<size>``)."""
    return data_home() / "synth" / size


def read_manifest(out: str | os.PathLike) -> dict | None:
    """The manifest of a complete synthetic corpus in ``out``, or None if there is none."""
    path = Path(out) / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def generate(size: str = "default", out: Path | None = None, seed: int = 0, overwrite: bool = False,
             workers: int | None = None, verbose: bool = False) -> Path:
    """Write the synthetic IEMOCAP-format corpus and return the folder that contains ``IEMOCAP_full_release/``.

    ``size`` is ``"smoke"`` (~150 utterances, seconds to make, for CI) or ``"default"`` (~1,600).
    If ``out`` already holds a complete corpus of the same size, seed and generator version it is
    returned at once; ``overwrite=True`` regenerates. A killed run leaves no half-written file and
    no manifest, so the next call starts again and finishes the job. ``workers`` processes render
    sessions in parallel (default: up to 2, this project's CI machine).
    """
    if size not in SIZES:
        raise ValueError(f"unknown synthetic corpus size {size!r}; choose one of {', '.join(SIZES)}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out) if out is not None else default_out(size)
    key = {"generator": "sernb.data.synth", "version": GENERATOR_VERSION, "size": size, "seed": int(seed)}
    manifest = read_manifest(out)
    if not overwrite and manifest is not None and all(manifest.get(k) == v for k, v in key.items()):
        return out
    _clear_previous(out)
    atomic_write_json(out / IN_PROGRESS_NAME, key)
    t_start = time.perf_counter()
    plans, counts = _build(out, size, int(seed), workers or min(2, os.cpu_count() or 1))
    manifest = {**key, **counts}
    atomic_write_json(out / MANIFEST_NAME, manifest)  # the completeness marker: written last
    (out / IN_PROGRESS_NAME).unlink(missing_ok=True)
    if verbose:
        print(f"synthetic corpus: {counts['n_utterances']} utterances in {time.perf_counter() - t_start:.1f} s")
    return out


def _clear_previous(out: Path) -> None:
    """Remove an old synthetic corpus before regenerating; never touch a folder we did not write."""
    corpus = out / CORPUS_DIR
    ours = (out / MANIFEST_NAME).exists() or (out / IN_PROGRESS_NAME).exists()
    if corpus.exists() and not ours:
        raise FileExistsError(
            f"{corpus} exists but was not written by sernb's synthetic generator "
            f"(no {MANIFEST_NAME}); refusing to overwrite it. Choose another --out."
        )
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    if corpus.exists():
        shutil.rmtree(corpus)


def plan_corpus(size: str, seed: int) -> list[DialogPlan]:
    """Every dialog and turn of a corpus, without audio (fast; useful to inspect the design)."""
    speakers, channels = make_speakers(seed), make_channels(seed)
    return [plan_dialog(spec, speakers, channels, seed) for spec in dialog_layout(size, seed)]


def _build(out: Path, size: str, seed: int, workers: int) -> tuple[list[DialogPlan], dict]:
    plans = plan_corpus(size, seed)
    channels = make_channels(seed)
    jobs: dict[int, list[RenderJob]] = {}
    for plan in plans:
        wav_dir = Path(CORPUS_DIR) / f"Session{plan.spec.session}" / "sentences" / "wav" / plan.spec.name
        for turn in plan.turns:
            jobs.setdefault(plan.spec.session, []).append(RenderJob(
                utt_id=turn.utt_id, path=str(wav_dir / f"{turn.utt_id}.wav"), text=spoken_text(turn.text),
                delivery=turn.delivery, channel=channels[plan.spec.session], seed=seed))
    n_samples = _render_all(out, jobs, workers)
    for plan in plans:
        for turn in plan.turns:
            turn.n_samples = n_samples[turn.utt_id]
        _lay_out_timeline(plan)
    _write_text_files(out, plans)
    return plans, _summarise(plans)


def _summarise(plans: list[DialogPlan]) -> dict:
    """Counts recorded in the manifest (deterministic: no timings, no paths)."""
    from sernb.data import espeak

    turns = [t for p in plans for t in p.turns]
    seconds = [t.n_samples / SAMPLE_RATE for t in turns]
    return {
        "synthetic": True,
        "espeak_ng_version": espeak.version(),
        "n_dialogs": len(plans),
        "n_utterances": len(turns),
        "labels": dict(sorted(Counter(t.label for t in turns).items())),
        "sessions": {str(s): sum(t.dialog.startswith(f"Ses{s:02d}") for t in turns) for s in SESSIONS},
        "speakers": dict(sorted(Counter(t.speaker for t in turns).items())),
        "carriers": dict(sorted(Counter(t.carrier for t in turns).items())),
        "scripted_utterances": sum("_script" in t.dialog for t in turns),
        "total_seconds": round(float(sum(seconds)), 3),
        "duration_seconds": {q: round(float(np.percentile(seconds, p)), 3)
                             for q, p in (("min", 0), ("median", 50), ("max", 100))},
    }
