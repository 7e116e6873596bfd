# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (sernb)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data and preprocessing
#
# Before any model, the data. This chapter loads the corpus the rest of the book trains on,
# looks at it from several sides, listens to it, turns one utterance into the features the
# paper's audio branch receives, and sets up the two evaluation protocols we compare
# throughout: the paper's random 8:2 split and leave-one-session-out (LOSO).
#
# The paper describes its preprocessing in four lines (Section 4.1): IEMOCAP, six emotions
# (anger, frustration, neutral, sadness, excitement, happiness); 16 kHz audio and
# 40-dimensional MFCCs, "truncated for computational balance"; transcripts tokenised to 128
# tokens; an 8:2 random split with a fixed seed. Each of these choices shapes the numbers
# reported later, so we make each one visible here.

# %% [markdown]
# ## Settings
#
# The cell below is the chapter's only *parameters* cell. `sernb reproduce` and papermill
# replace its values (`-p PROFILE smoke`); in JupyterLab, edit them and rerun the notebook.
# `PROFILE` chooses the corpus and the sizes of everything (see the introduction);
# `DATA_ROOT` is the folder holding your copy of IEMOCAP, which the `full` profile needs.

# %% tags=["parameters"]
PROFILE = "offline"  # "smoke" (CI), "offline" (synthetic) or "full" (IEMOCAP)
DATA_ROOT = None  # folder holding IEMOCAP_full_release; None: the synthetic corpus
DEVICE = "auto"  # unused here (no model yet); every chapter takes the same settings
TEXT_MODEL = None  # text encoder: None means the profile's, else "deberta-v3-base", a hub id or a folder
AUDIO_MODEL = None  # speech encoder of the Wav2Vec2.0 row: None means wav2vec2-base, else a hub id or a folder
SEED = 0  # seeds the random split and the choice of examples

# %%
import pandas as pd

import sernb.data as sd
from sernb import cues_analysis, experiments, viz, widgets
from sernb.data import features, splits
from sernb.data.audio import load_audio

viz.setup_notebook()
settings = experiments.ExperimentConfig.from_profile(PROFILE, text_model=TEXT_MODEL, data_root=DATA_ROOT)
print(f"profile {PROFILE!r}: corpus {settings.corpus}, {settings.classes} classes")

# %% [markdown]
# ## Where the data come from
#
# IEMOCAP (Busso et al., 2008) is about twelve hours of dyadic conversations between ten
# actors, recorded in five sessions of one woman and one man each. In every session the pair
# performs scripted scenes and improvises on given situations; the recordings are cut into
# utterances, and each utterance is labelled by several annotators. Its licence forbids
# redistribution, so unless `DATA_ROOT` points at your copy, this book generates a stand-in.
#
# The stand-in is a **synthetic corpus**: sentences spoken by the eSpeak NG synthesizer with a
# different voice per "actor", written to disk in exactly the IEMOCAP folder layout and file
# formats. The same loader reads both, so every line of code in this book runs on it. Each
# utterance carries its emotion in one or two declared ways, its **cue kinds**: the delivery of
# the whole utterance (`global`: pitch, speed, loudness), one word said differently (`local`),
# the shape of the pitch over time (`contour`), an emotional word (`lexical`), or which of two
# emotional words is stressed (`alignment`). A sidecar table beside the IEMOCAP files records
# every utterance's kinds and where its cue word is, so chapters 4 and 7 can check the paper's
# claims about its parts against ground truth (`data/README.md` describes the generator and what
# simple probes read from each kind; `SYNTH_CUES = False` in those chapters gives the plain
# corpus, where every utterance has the global delivery and most an emotional word). But a
# synthesizer's "anger" is not an actor's anger: **numbers measured on the synthetic corpus
# say whether the code works and how the methods compare on an easy, artificial task; they
# are not IEMOCAP numbers.** Every figure below names its corpus in the title.

# %%
table = experiments.load_corpus(settings)  # makes the synthetic corpus on first use
print(f"{viz.corpus_name(table)} from {table.attrs['root']}")
# the cue corpus: how many utterances of each emotion carry each kind of cue
cue_counts = (pd.crosstab(table["cue_kinds"], table["label"], margins=True, margins_name="all")
              if cues_analysis.has_cues(table) else None)
cue_counts

# %% [markdown]
# ### What the loader kept, and what it skipped
#
# A loader that silently drops rows makes every later count unverifiable. `sernb`'s loaders
# never do: each skipped utterance is counted under a reason. On IEMOCAP most skips are
# deliberate: utterances whose annotators did not agree (`xxx`), and the rare classes outside
# the paper's six. Reasons that point at broken data (a missing wav, an unreadable line) are
# the ones to worry about.

# %%
print(sd.describe_skips(table))
skipped = pd.Series(table.attrs.get("skipped", {}), dtype="int64")
skipped.rename_axis("reason").to_frame("utterances")

# %% [markdown]
# ## The corpus at a glance
#
# One row per utterance, the same columns for every corpus (`sernb.data.COLUMNS`).
# Everything downstream (splits, features, training, these figures) reads only this table;
# `experiments.load_corpus` is also how every later chapter gets it. A few columns of the
# first rows:

# %%
print(list(table.columns))
table[["utt_id", "speaker", "label", "scripted", "text"]].head()

# %%
overview = pd.Series({
    "utterances": len(table),
    "sessions": table["session"].nunique(),
    "speakers": table["speaker"].nunique(),
    "dialogs": table["dialog"].nunique(),
    "scripted share": f"{table['scripted'].mean():.0%}",
    "distinct sentences": table["text"].nunique(),
}, name=viz.corpus_name(table))
overview.to_frame()

# %% [markdown]
# ### Classes, and how they were produced
#
# The first question about any classification corpus: how balanced are the classes? The bars
# are split into scripted and improvised utterances. On IEMOCAP this split matters more than
# it seems: the scripts are performed in every session, so a scripted sentence in the test set
# has usually been heard, word for word, in training. Hover over a bar for its count.

# %%
viz.class_counts_figure(table, by="scripted")

# %%
shares = table["label"].value_counts(normalize=True)
shares = shares[viz.emotion_order(table["label"])]
print("class shares: " + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))
majority = shares.idxmax()
print(f"accuracy of always predicting '{majority}': {shares.max():.1%}")
print(f"balanced accuracy of that rule: {1 / len(shares):.1%}")

# %% [markdown]
# The last two lines are the floor for every result in this book. Accuracy (called *weighted
# accuracy*, WA, in the SER literature) rewards predicting the frequent classes; *balanced
# accuracy* (unweighted accuracy, UA) averages the recall of each class, so a classifier
# that ignores a rare class cannot hide it. The paper reports accuracy and an unspecified
# F1; we report both WA and UA, and macro-F1, throughout.
#
# ### Speakers
#
# Leave-one-session-out testing holds out one pair of speakers at a time. That is only fair
# if every speaker contributes every class; the (static) heatmap shows it at once.

# %%
viz.speaker_heatmap(table)

# %% [markdown]
# ### How long, how many words
#
# The audio branch sees frames (100 per second), the text branch sees tokens. The two box
# plots show how long the utterances are and how many words their transcripts have, per
# emotion. Long utterances will be truncated by the feature extractor below; very short
# ones carry little evidence in either modality.

# %%
durations = viz.utterance_durations(table)
viz.distribution_figure(durations, table, quantity="duration (s)")

# %%
words = viz.word_counts(table)
viz.distribution_figure(words, table, quantity="words")

# %%
cut = features.MFCCConfig().max_seconds
print(f"duration: median {durations.median():.2f} s, max {durations.max():.1f} s")
print(f"longer than the {cut:g} s kept for MFCC: {(durations > cut).mean():.1%}")
print(f"words: median {words.median():.0f}, longest transcript {words.max()}")

# %% [markdown]
# ## Listening to the data
#
# Figures summarise; listening tells you what the labels mean in this corpus. One utterance
# per emotion, chosen at random with the chapter's `SEED` (change it to hear others). Each
# player embeds the first four seconds at 16 kHz.

# %%
examples = viz.one_per_emotion(table, seed=SEED)
viz.show_examples(examples, max_seconds=4)

# %% [markdown]
# ## From waveform to MFCC
#
# The paper's audio branch does not see the waveform. It sees *mel-frequency cepstral
# coefficients* (MFCCs): the signal is cut into short overlapping windows (here 25 ms every
# 10 ms, so 100 frames per second); each window's spectrum is pooled into mel bands, which
# are spaced like the ear's frequency resolution; the log band energies are decorrelated by a
# discrete cosine transform, and the first 40 coefficients are kept. Low coefficients
# describe the overall spectral shape (vowel colour, loudness), higher ones finer detail.
# What they discard matters too: the exact pitch harmonics, much of which carries emotion,
# are mostly smoothed away.
#
# The figure shows one utterance at the three stages; zoom in on any panel and the others
# follow (they share the time axis). Hover over the MFCC panel for the raw values.

# %%
config = features.MFCCConfig()  # 16 kHz, 40 coefficients, 25 ms windows, 10 ms hop
example = examples.iloc[0]
audio = load_audio(example["wav_path"], sr=config.sr)
frames = features.mfcc(audio, config)
print(f"{example['utt_id']}: {len(audio) / config.sr:.2f} s of audio")
print(f"MFCC matrix: {frames.shape[0]} frames x {frames.shape[1]} coefficients")

# %%
title = f"{example['utt_id']} ({example['label']}), {viz.corpus_name(table)}"
viz.signal_figure(audio, config.sr, frames, config.hop_length, title=title)

# %% [markdown]
# ### Truncation
#
# The paper says the audio was "truncated to 10% length for computational balance". Cutting
# every utterance to a tenth of its length would throw away most of the signal, and the text
# does not say what "10%" refers to; we read it as a cap of 10 seconds, the usual choice for
# IEMOCAP, and keep it as a parameter (`MFCCConfig.max_seconds`). The share of utterances
# affected was printed with the durations above.
#
# ### Features for the whole corpus
#
# MFCCs for every utterance are computed once and cached on disk (keyed by the audio file
# and the feature settings), so later chapters and reruns read them back in a moment.

# %%
table, feats = features.load_features(table, config)  # cached after the first run
n_frames = pd.Series([len(f) for f in feats])
print(f"{len(feats)} MFCC matrices; frames per utterance: "
      f"median {n_frames.median():.0f}, max {n_frames.max()}")

# %% [markdown]
# The paper's **baseline** summarises each utterance by the average of its MFCC frames over
# time ("mean pooling"), and its first improvement replaces that average with a BiLSTM that
# reads the frames in order. How much does the plain average already separate the emotions?
# Each row below is the mean MFCC vector of one emotion, standardised per coefficient across
# emotions: the more the rows differ, the more information mean pooling keeps.

# %%
viz.mean_mfcc_heatmap(feats, table)

# %% [markdown]
# ## Two ways to split the data
#
# **The paper's protocol** is a single random split of the utterances, 80% for training and
# 20% for testing, with a fixed seed. We also hold out a validation part from the training
# side (for early stopping), never from the test part.
#
# **Leave-one-session-out (LOSO)** trains on four sessions and tests on the fifth, five times.
# The test speakers are never heard in training, which is how a deployed system meets its
# users. It is the standard speaker-independent protocol for IEMOCAP.

# %%
random_folds = splits.make_folds(table, "random", seed=SEED)
loso_folds = splits.make_folds(table, "loso", seed=SEED)
random_folds[0].summary(table)

# %%
viz.split_figure(table, random_folds, protocol="Random 8:2 split (the paper's)")

# %%
viz.split_figure(table, loso_folds, protocol="Leave one session out")

# %% [markdown]
# Use the dropdown to step through the five LOSO folds. Their class mix differs from fold to
# fold, because sessions differ; a random split is stratified and keeps the mix constant.
#
# ### What the test set has already seen
#
# The decisive difference between the protocols is not the class mix but what the test
# utterances share with training. For each fold the table counts the test speakers that also
# occur in training (train + val), the share of test utterances spoken by them, and the
# share whose exact sentence (case and punctuation ignored) also occurs in training, for all
# test utterances and separately for scripted and improvised ones.

# %%
viz.leakage_table(table, random_folds + loso_folds)

# %% [markdown]
# Read the table row by row. Under the random split the test speakers were all heard while
# fitting, so a model can score by recognising a voice instead of an emotion. LOSO removes
# that overlap, by construction. It does not remove the overlap of *sentences*: a script is
# performed in every session, so compare the scripted and improvised columns. A text model
# that has memorised the label of a scripted line can reuse it under both protocols.
# From here on we report both protocols side by side; the gap between them measures how much
# of a score is memory of the speakers rather than recognition of emotion.
#
# ## Explore it yourself
#
# In JupyterLab (`make lab`), the explorer below lets you filter the utterances by emotion
# and speaker, listen to any of them and see its waveform and MFCC. (In the static book it is
# replaced by a note: it needs a running kernel.)

# %%
widgets.utterance_explorer(table)

# %% [markdown]
# ## Summary
#
# * The table printed at the top says which corpus this chapter ran on; on the default
#   profile it is **synthetic**, and its counts describe the generator, not IEMOCAP.
# * The classes are not balanced, so we report balanced accuracy (UA) and macro-F1 next to
#   accuracy (WA), and always against the majority-class floor computed above.
# * The audio branch receives 40 MFCCs per 10 ms frame, capped at 10 s per utterance.
# * A random split shares speakers, and often sentences, between training and test; LOSO
#   does not. Both are used from here on.

# %% [markdown]
# ## Exercises
#
# Each exercise changes one value or one line, asks you to predict what happens, and then to
# rerun and compare. The corpus and its MFCC features are cached after the first run, so every
# rerun of this chapter takes seconds.
#
# 1. **A different seed.** Set `SEED = 1` in the parameters cell and run the whole notebook
#    again. Before you do, write down which printed numbers you expect to change: the class
#    shares, the majority-class accuracy, the examples you hear, the rows of the leakage table?
#    *What to expect:* the printed `accuracy of always predicting ...` line cannot change (it is
#    a property of the corpus, not of a split); look at which leakage rows do.
# 2. **Truncation.** In the cell that prints the durations, replace
#    `cut = features.MFCCConfig().max_seconds` by `cut = features.MFCCConfig(max_seconds=3).max_seconds`.
#    Using the box plot of durations, guess the share of utterances longer than 3 s, then rerun
#    that cell and read the printed `longer than the 3 s kept for MFCC` line.
# 3. **Frames per second.** In the "From waveform to MFCC" section, change the first line to
#    `config = features.MFCCConfig(max_seconds=1)` and predict the number of frames in the
#    printed `MFCC matrix: ... frames` line; then try `features.MFCCConfig(hop_length=320)`.
#    Rerun only that cell and the figure below it (not the "Features for the whole corpus"
#    cell, which would compute the features of every utterance again).
#    *What to expect:* a 10 ms hop gives 100 frames per second, plus one at the edge; a hop of
#    320 samples at 16 kHz is 20 ms.
# 4. **Why balanced accuracy.** In a new cell, score a "classifier" that always answers
#    neutral: `from sklearn.metrics import accuracy_score, balanced_accuracy_score`, then
#    `always = ["neu"] * len(table)` and print both scores against `table["label"]`. Predict
#    both numbers first from the printed class shares. Does the balanced accuracy depend on
#    *which* class you always predict?
# 5. **A bigger test part.** Change the random split to
#    `splits.make_folds(table, "random", seed=SEED, test_size=0.5)` and rerun the split cells.
#    Predict the `speakers seen` and `sentence seen` columns of the leakage table for the
#    random split before you look. *What to expect:* halving the training side hardly helps:
#    the split still shares every speaker.
