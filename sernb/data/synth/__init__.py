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
    IEMOCAP_full_release/SYNTHETIC                                            (a note: not IEMOCAP)
    synth_manifest.json                                                       (written last)

Speech is rendered in two fresh Python processes (sessions 1, 3, 5 and 2, 4), each in a fixed
order: eSpeak NG keeps signal state between calls that no API resets (see
:func:`sernb.data.espeak.synthesize`), and this is what makes the same seed give byte-identical
files. Used by chapter "Data and preprocessing" and by ``sernb synth``.

The package, by job: :mod:`~sernb.data.synth.lexicon` (what is said),
:mod:`~sernb.data.synth.voices` (speakers, emotion prosody, session channels),
:mod:`~sernb.data.synth.planning` (dialogs, turns, annotations; no audio),
:mod:`~sernb.data.synth.render` (one utterance's signal), :mod:`~sernb.data.synth.workers` (the
render processes), :mod:`~sernb.data.synth.writers` (IEMOCAP's text files) and
:mod:`~sernb.data.synth.corpus` (:func:`generate`, the entry point), and
:mod:`~sernb.data.synth.cues` (the opt-in cue corpus: cue kinds as declared factors, issue 15).
"""

from sernb.data.synth.corpus import (
    CUES_VERSION,
    GENERATOR_VERSION,
    IN_PROGRESS_NAME,
    MANIFEST_NAME,
    SYNTHETIC_NOTE,
    default_out,
    generate,
    plan_corpus,
    read_manifest,
)
from sernb.data.synth.cues import CUE_KINDS, CUE_MIX, CuePlan
from sernb.data.synth.lexicon import EMOTIONS
from sernb.data.synth.planning import (
    CARRIERS,
    SIZES,
    DialogPlan,
    DialogSpec,
    Turn,
    dialog_layout,
    spoken_text,
)
from sernb.data.synth.render import SAMPLE_RATE, RenderJob, render, wav_bytes
from sernb.data.synth.voices import SESSIONS, make_channels, make_speakers
from sernb.data.synth.workers import render_jobs
from sernb.data.synth.writers import (
    CORPUS_DIR,
    categorical_text,
    emo_evaluation_text,
    transcription_text,
)

__all__ = [
    "CARRIERS", "CORPUS_DIR", "CUES_VERSION", "CUE_KINDS", "CUE_MIX", "CuePlan", "EMOTIONS", "GENERATOR_VERSION",
    "IN_PROGRESS_NAME", "MANIFEST_NAME",
    "SAMPLE_RATE", "SESSIONS", "SIZES", "SYNTHETIC_NOTE", "DialogPlan", "DialogSpec", "RenderJob", "Turn",
    "categorical_text", "default_out", "dialog_layout", "emo_evaluation_text", "generate", "make_channels",
    "make_speakers", "plan_corpus", "read_manifest", "render", "render_jobs", "spoken_text",
    "transcription_text", "wav_bytes",
]
