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
# # Table 2: the ablation
#
# The paper's Table 2 builds its model in three steps from a simple baseline and credits
# each step with a gain: temporal modelling of the audio (+6.8 points of accuracy),
# fine-tuning the text encoder (+5.6) and cross-modal attention (+6.7), from 64.4% to 83.5%
# on IEMOCAP. An ablation like this is the paper's argument that every part of the model
# earns its place. This chapter trains the four configurations under identical settings,
# puts our numbers beside the paper's, and measures each step's gain with its spread over
# seeds.

# %% [markdown]
# ## Settings
#
# The chapter's only *parameters* cell (see chapter 1).

# %% tags=["parameters"]
PROFILE = "offline"  # "smoke" (CI), "offline" (synthetic) or "full" (IEMOCAP)
DATA_ROOT = None  # folder holding IEMOCAP_full_release; None: the synthetic corpus
DEVICE = "auto"  # "auto", "cpu" or "cuda"
TEXT_MODEL = None  # text encoder: None means the profile's, else "deberta-v3-base", a hub id or a folder
AUDIO_MODEL = None  # speech encoder of the Wav2Vec2.0 row: None means wav2vec2-base, else a hub id or a folder
SYNTH_CUES = None  # None: the profile's corpus (offline, smoke: the cue corpus); False: the plain corpus

# %%
import pandas as pd
from tqdm.auto import tqdm

from sernb import cues_analysis, curves, experiments, viz
from sernb.metrics import mean_std
from sernb.models.registry import build_model, get_system

viz.setup_notebook()
STEPS = ("baseline", "ablation_lstm", "ablation_finetune", "ours")  # the rows of Table 2, in order
configs = {name: experiments.ExperimentConfig.from_profile(PROFILE, text_model=TEXT_MODEL, system=name, data_root=DATA_ROOT,
                                                           device=DEVICE, synth_cues=SYNTH_CUES) for name in STEPS}
settings = configs["ours"]
print(f"profile {PROFILE!r}: corpus {settings.corpus}{' (the cue corpus)' if settings.synth_cues else ''}, "
      f"{settings.protocol} protocol, seeds {settings.seeds}, at most {settings.epochs} epochs")
if PROFILE == "smoke":
    print("smoke profile: a tiny corpus and 2 epochs; the numbers below only show that the code runs")

# %% [markdown]
# ## Four configurations of one model
#
# In `sernb` the four rows are not four programs but four `ModelConfig`s of the same
# `SERModel` (chapter 2), registered under the names below. Each differs from the row above
# it in exactly one field:
#
# 1. **Baseline** ("Mean Pooling + Static BERT"). The MFCC frames are averaged over time and
#    projected to 256 dimensions; the text encoder is *frozen* ("static"): its token vectors are
#    computed once and only a projection on top is trained. The two global vectors are
#    concatenated and classified by the MLP.
# 2. **+LSTM temporal modelling** (`audio="bilstm"`). The average is replaced by the BiLSTM,
#    which reads the frames in order. Whatever carries emotion in *how* a sentence unfolds
#    (rising pitch, pauses, an accelerating tempo) is invisible to an average.
# 3. **+Fine-tuning** (`finetune_text=True`). The text encoder's weights are trained with the
#    rest, at the small learning rate, so its representation can adapt to emotions rather
#    than to what it was pretrained for. The paper fine-tunes DeBERTa-v3; we fine-tune the
#    profile's encoder.
# 4. **+Cross-modal attention** (`fusion="attention"`): the paper's model. Instead of
#    concatenating two global vectors, every audio frame attends to the text tokens.

# %%
fields = ["audio", "finetune_text", "fusion"]
rows = []
for name in STEPS:
    system = get_system(name)
    model = build_model(name, n_classes=settings.classes, **settings.shared_model_options())
    info = model.describe()
    rows.append({"system": name, "paper row": curves.PAPER_TABLE2[name]["paper name"],
                 **{f: getattr(system.config, f) for f in fields},
                 "parameters": info["params"], "trained parameters": info["trainable_params"]})
    del model
pd.DataFrame(rows).set_index("system")

# %% [markdown]
# The last column shows what fine-tuning costs: with a frozen encoder only a few hundred
# thousand parameters are trained and the encoder runs once per utterance; fine-tuning trains
# all of them and runs the encoder forwards *and* backwards in every epoch.
#
# ## Training the four
#
# Each configuration is trained with the same profile settings, seeds and split (drawn once
# with the `split_seed` setting), so the four models see exactly the same training, validation
# and test utterances, and for each seed the same initialisation seed. Results are cached: the `ours` row is the run of chapter 2,
# and rerunning the chapter loads all four at once. On the `offline` profile the two
# frozen-encoder rows take seconds per seed, the fine-tuned ones a minute or two.

# %%
results = {name: experiments.run(configs[name]) for name in tqdm(STEPS, desc="configurations")}
for r in results.values():
    print(r.summary())
print(experiments.provenance_line(list(results.values())))

# %% [markdown]
# ## Table 2, ours beside the paper's
#
# Our columns are the mean and standard deviation over the runs, in percent; the paper's are
# copied from its Table 2 (IEMOCAP, one random 8:2 split) and labelled "paper reported". The
# paper does not say which F1 it reports; we put our macro-F1 (the mean of the per-class F1s,
# which does not let the frequent classes hide the rare ones) beside it.

# %%
table = curves.ablation_table(results, metric="macro_f1")
table

# %%
curves.ablation_figure(table, results["ours"])

# %% [markdown]
# Compare the *shape* of the two staircases, not their heights. The heights depend on the
# corpus: the synthetic corpus is easier in some ways (clean audio, few speakers) and harder
# in others (its "emotions" are synthesizer settings) than IEMOCAP, and our text encoder is
# smaller. The question the ablation asks is whether every step helps, and by how much.
#
# ## The gain of each step
#
# The gain of a step is the difference between a configuration and the one before it. Because
# runs with the same seed share their split, we take that difference seed by seed (a *paired*
# difference) and report its mean and standard deviation: the spread of the gain itself, not
# the spread of either configuration. The paper's gains are computed from its Table 2.

# %%
gains = {metric: curves.step_gains(results, metric) for metric in ("accuracy", "macro_f1")}
shown = ["our gain", "our gain std", "paper reported gain"]
pd.concat({metric: frame[shown] for metric, frame in gains.items()}, axis=1, names=["metric", ""])

# %%
for step, row in gains["accuracy"].iterrows():
    if row["paired runs"] < 2:
        verdict = "a single run: no spread to compare with"
    elif abs(row["our gain"]) > row["our gain std"]:
        verdict = "larger than its spread over seeds"
    else:
        verdict = "within its spread over seeds"
    print(f"{step}: {row['our gain']:+.1f} ± {row['our gain std']:.1f} points of accuracy "
          f"({verdict}; paper reported {row['paper reported gain']:+.1f})")
total = gains["accuracy"]["our gain"].sum()
print(f"baseline to full model: {total:+.1f} points (paper reported "
      f"{gains['accuracy']['paper reported gain'].sum():+.1f})")

# %% [markdown]
# With few seeds, "larger than its spread" is a rough screen, not a significance test: a gain
# within one standard deviation of zero may still be real, but these runs cannot show it.
#
# ## What each step costs
#
# A step that gains a point but triples the training time is a different proposition from one
# that gains a point for free. Seconds per epoch come from the runs above (wall-clock on the
# device named, so a busy machine inflates them; chapter 6 measures inference time properly).

# %%
cost = pd.DataFrame({name: {"seconds per epoch": round(r.record["meta"]["seconds_per_epoch"], 1),
                            "epochs run (mean)": r.runs["epochs_run"].mean(),
                            "device": r.record["meta"]["device"]}
                     for name, r in results.items()}).T
cost

# %% [markdown]
# ## Which cues does each step read? (the cue corpus)
#
# An overall accuracy mixes every way an utterance can carry its emotion, so a step's gain does
# not say *what* the step learnt to read. The paper's explanations are specific: the BiLSTM
# captures how a sentence unfolds in time, fine-tuning adapts the text encoder to emotional
# words, and cross-modal attention aligns the speech with the words. The **cue corpus**, the
# synthetic profiles' corpus (`sernb synth --cues`, described in `data/README.md`), makes these
# testable: every utterance carries its emotion through declared *cue kinds*, and the table
# says which:
#
# * `global`: the whole utterance's delivery (pitch, loudness, rate), readable by any audio model;
# * `local`: three words each changed in one way (higher, louder, longer), and the class is
#   *which* word got which change: the utterance's average statistics match across classes,
#   so mean pooling should fail where a temporal model can succeed;
# * `contour`: the words' pitch follows a class-specific shape in time (rise, fall, ...), again
#   with matched averages;
# * `lexical`: an emotional word of the class, readable from the text alone;
# * `alignment`: two emotional words, the class's and another's; the class's is stressed. Text
#   alone can only guess between the two, audio alone hears only that *some* word is stressed:
#   only a model that links the stress to the word can decide.
#
# The four configurations above already predicted every test utterance, so splitting their
# predictions by cue kind costs no training: each run (fold, seed) is scored on each kind's
# test utterances, then averaged over runs. On a corpus without cue columns (IEMOCAP, real
# speech, or the plain synthetic corpus with `SYNTH_CUES = False`) this section says so and
# shows nothing.

# %%
corpus_table = experiments.load_corpus(settings)
CUES = cues_analysis.has_cues(corpus_table)
if CUES:
    kind_runs = cues_analysis.kind_runs(results, corpus_table)
    print(f"{corpus_table['cue_kinds'].nunique()} cue-kind groups; every test prediction of "
          f"{len(results)} configurations x {len(kind_runs[['run']].drop_duplicates())} runs split by kind")
else:
    print("Skipped: this corpus has no cue columns (cue_kinds, ...), so there is nothing to split by. "
          "On the synthetic corpus, rerun with SYNTH_CUES = None or True (the cue corpus) to see "
          "which cues each step reads.")

# %% [markdown]
# Accuracy per cue kind, in percent, mean ± std over runs (a kind in combination, such as
# `local+lexical`, is its own row: such an utterance can be read in two ways). With few test
# utterances of a kind per run, one utterance moves its accuracy by several points; the column
# `test utterances per run` says how many there are.

# %%
by_kind = cues_analysis.kind_table(kind_runs) if CUES else None
cues_analysis.kind_pivot(by_kind) if CUES else None

# %%
cues_analysis.kind_figure(by_kind, title=viz.corpus_title("Accuracy per cue kind, four steps (mean ± std over "
                                                          "runs)", corpus_table)) if CUES else None

# %% [markdown]
# ## The paper's claims, kind by kind
#
# Each claim compares a step with the configuration it changes, on the *pure* kinds that
# isolate what the step is said to add (a combination also carries a word any text model
# reads). The gain is paired, run by run, as in the step table above, and the verdict applies
# the same screen: **holds** when the mean gain is larger than its spread over runs; **does not
# hold** when even one spread above its mean the gain is zero or less; **inconclusive** in
# between, with a single run (no spread) or with fewer than
# `cues_analysis.MIN_UTTERANCES` test utterances of the kind per run. The verdicts are computed
# from the runs of this chapter, never written by hand; they are about the synthetic cue corpus,
# not IEMOCAP.

# %%
claims = cues_analysis.claim_table(kind_runs) if CUES else None
claims

# %%
if CUES:
    for _, row in claims.iterrows():
        gain = mean_std(row["gain (points)"], row["gain std"])
        print(f"{row['claim']} on {row['cue kind']!r}: {gain} points over {row['paired runs']} paired run(s) "
              f"-> {row['verdict']}")

# %% [markdown]
# Read a verdict together with the corpus' probes (`data/README.md`): pooled MFCC statistics
# tell the `local` and `contour` classes apart no better than chance, while features that keep
# word timing do, so an audio branch that gains there has read time. An `inconclusive` verdict on
# the smoke profile only means too few utterances and runs; the offline profile's three seeds
# give a spread to compare with.

# %% [markdown]
# ## Summary
#
# * The four rows of Table 2 are four settings of one model; each step changes one field.
# * The table and the chart set our mean ± std beside the paper's reported numbers; the step
#   table gives each gain as a paired difference over seeds, next to the paper's gain.
# * Our corpus and text encoder differ from the paper's (see the figure titles), so read the
#   direction and size of each step, not the absolute level.
# * On the cue corpus (the offline profile's) the same runs are split by cue kind, and each of the
#   paper's explanations (time for the BiLSTM, words for fine-tuning, alignment for attention)
#   is marked holds / does not hold / inconclusive from the paired gains on the kinds it names.

# %% [markdown]
# ## Exercises
#
# 1. **What each step adds in parameters.** Before looking at the configuration table, compute
#    how many trained parameters the step from `baseline` to `ablation_lstm` adds: it swaps
#    `MeanAudio` (a `Linear(40, 256)`) for `BiLSTMAudio` (chapter 2 shows both the code and
#    the count). Check your number against the difference of the two rows' printed
#    `trained parameters`. No training needed.
# 2. **Paired or not.** The step table gives each gain's spread over *paired* runs. In a new
#    cell compute the unpaired spread of the last step,
#    `100 * (results["ours"].runs["accuracy"].std() ** 2 + results["ablation_finetune"].runs["accuracy"].std() ** 2) ** 0.5`
#    (in points, like the table; the runs are read back from the store). Predict whether it is larger or smaller than the
#    printed `our gain std` of the attention step, then compare. When does pairing help?
# 3. **Another metric, the same staircase?** Change `metric="macro_f1"` to
#    `metric="balanced_accuracy"` in the cell that makes `table`, and rerun it and the figure.
#    Predict whether any step changes sign. Costs nothing: all runs are stored.
# 4. **Attention without fine-tuning.** The order of the steps is the paper's choice. Register
#    a configuration that adds attention to a *frozen* encoder:
#    `from sernb.models.config import ModelConfig`, then
#    `from sernb.models.registry import register_config` and
#    `register_config("attn_frozen", ModelConfig(finetune_text=False), replace_existing=True)`,
#    and run it like the rows above:
#    `attn = experiments.run(experiments.ExperimentConfig.from_profile(PROFILE,
#    system="attn_frozen", data_root=DATA_ROOT, device=DEVICE))`. Compare `attn.summary()`
#    with the printed `ablation_lstm` and `ours` summaries. Is the gain credited to attention
#    the same when it comes before fine-tuning? (Cheap: a frozen encoder runs once per
#    utterance.)
# 5. **Cost against gain.** Using the cost table and the printed gains, compute the points of
#    accuracy per extra second of training per epoch for each step. Which step would you drop
#    first on a laptop?
