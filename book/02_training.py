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
# # Training the paper's model
#
# Chapter 1 turned every utterance into two inputs: a sequence of MFCC frames and a
# transcript. This chapter builds the paper's model on top of them, trains it under the
# profile's settings, and looks at what came out: how training went epoch by epoch, how well
# the model does on the test part, which emotions it mixes up, and how much all of that varies
# from one training seed to the next.
#
# The paper (Sections 3 and 4.2) describes the model in a few sentences and its training in
# three lines. We follow them where they are specific and say what we chose where they are not.

# %% [markdown]
# ## Settings
#
# The chapter's only *parameters* cell (see chapter 1). `DEVICE = "auto"` trains on a GPU
# when there is one, else on the CPU.

# %% tags=["parameters"]
PROFILE = "offline"  # "smoke" (CI), "offline" (synthetic) or "full" (IEMOCAP)
DATA_ROOT = None  # folder holding IEMOCAP_full_release; None: the synthetic corpus
DEVICE = "auto"  # "auto", "cpu" or "cuda"
TEXT_MODEL = None  # text encoder: None means the profile's, else "deberta-v3-base", a hub id or a folder
AUDIO_MODEL = None  # speech encoder of the Wav2Vec2.0 row: None means wav2vec2-base, else a hub id or a folder

# %%
import numpy as np
import pandas as pd

from sernb import curves, experiments, viz
from sernb.models.registry import build_model, get_system

viz.setup_notebook()
settings = experiments.ExperimentConfig.from_profile(PROFILE, text_model=TEXT_MODEL, system="ours", data_root=DATA_ROOT,
                                                     device=DEVICE)
print(f"profile {PROFILE!r}: corpus {settings.corpus}, {settings.classes} classes, "
      f"{settings.protocol} protocol, seeds {settings.seeds}")
if PROFILE == "smoke":
    print("smoke profile: a tiny corpus and 2 epochs; every number below only shows that the code runs")

# %% [markdown]
# ## The model
#
# The paper's model has three parts (Section 3.1, Figure 1):
#
# * **Audio branch.** The 40 MFCCs of each frame go through a bidirectional LSTM (Eq. 1): one
#   LSTM reads the frames forwards, one backwards, and their states are concatenated into a
#   256-dimensional vector per frame. Unlike the baseline's average over time, the LSTM sees
#   the *order* of the frames: a rise in pitch, a pause, a burst.
# * **Text branch.** A pretrained transformer (DeBERTa-v3-base in the paper) reads the
#   transcript, up to 128 tokens, and is *fine-tuned* with the rest of the model; a linear layer
#   maps its token vectors (768-d for DeBERTa) to 256 dimensions.
# * **Fusion.** An 8-head cross-modal attention layer (Section 3.4, Eq. 3): the *queries* come
#   from the audio frames, the *keys and values* from the text tokens. Each frame asks "which
#   words matter for me?" and receives a weighted mix of the token vectors. We add that mix to
#   the frame (a residual connection with layer normalisation), average over the frames, append
#   the mean text vector and classify with a two-layer MLP (dropout 0.3).
#
# The paper names the pieces but not how they are joined (residual or not, which pooling,
# what goes into the MLP); `sernb.models.fusion` documents our choices. In `sernb` the model and
# every ablation of chapter 4 are the same class, `SERModel`, switched by a `ModelConfig`;
# the registry knows the paper's model as `"ours"`:

# %%
system = get_system("ours")
print(f"{system.name}: {system.description}\n  reproduces {system.paper}")
model = build_model("ours", n_classes=settings.classes, **settings.shared_model_options())
info = model.describe()
text = info["text_encoder"]
print(f"text encoder: {text['label']} ({text['source']}), {model.text.backbone_dim}-d token vectors")
print(f"parameters: {info['params']:,} in all, {info['trainable_params']:,} trained")
curves.parameter_table(model)

# %% [markdown]
# The table counts the parameters per part: `audio` is the BiLSTM, `text` the pretrained
# encoder plus its projection to 256 dimensions, `cross` the attention layer, `head` the MLP.
# The text encoder holds almost all of them. The paper reports 27.6 M parameters for its model
# (Table 1), which cannot include a DeBERTa-v3-base encoder: by its model card that alone has
# 86 M parameters in its layers plus 98 M in its embeddings. Where our encoder differs from
# the paper's, the table above says which one ran.

# %% [markdown]
# ## The code, part by part
#
# Below, each part of the model appears next to the paper's equation for it, with the code
# that implements it. The code is read from `sernb` when the chapter runs
# (`viz.show_source`), so it is exactly the code that trains in this chapter, not a copy.
#
# ### Audio branch: MFCC frames into a BiLSTM (Section 3.2)
#
# Let $x_t \in \mathbb{R}^{40}$ be the MFCC vector of frame $t$. The paper's Eq. (1) is
#
# $$h_t^{audio} = \mathrm{LSTM}(x_t, h_{t-1}).$$
#
# A *bidirectional* LSTM runs two of them, one forwards and one backwards in time, and
# concatenates their states, 128 + 128 = 256 numbers per frame:
#
# $$\overrightarrow{h}_t = \mathrm{LSTM}_{fw}(x_t, \overrightarrow{h}_{t-1}), \qquad
# \overleftarrow{h}_t = \mathrm{LSTM}_{bw}(x_t, \overleftarrow{h}_{t+1}), \qquad
# h_t^{audio} = [\overrightarrow{h}_t ; \overleftarrow{h}_t] \in \mathbb{R}^{256}.$$
#
# "Global representation is obtained via temporal average pooling": the utterance's audio
# vector is $a = \frac{1}{T} \sum_{t=1}^{T} h_t^{audio}$ over its $T$ real (unpadded) frames.
# In the code, `forward_lstm` and `backward_lstm` are the two directions, `frame_pool`
# first averages every `frame_pool` frames (fewer, longer steps), and `masked_mean` is the
# average that ignores padding:

# %%
from sernb.models.audio import BiLSTMAudio, masked_mean
from sernb.models.fusion import CrossModalAttention, mlp_head
from sernb.models.ser import SERModel
from sernb.models.text import TextEncoder

viz.show_source(BiLSTMAudio)

# %%
viz.show_source(masked_mean)

# %% [markdown]
# ### Text branch: a pretrained encoder and a linear layer to 256 (Sections 3.1 and 3.3)
#
# The encoder turns the $L$ tokens of the transcript into vectors
# $s_1, \dots, s_L \in \mathbb{R}^{768}$ (DeBERTa-v3-base; 384 for the MiniLM of the CPU
# profiles). The paper's Eq. (2), $E_{new} = E_{pretrain} + \Delta E$, describes how DeBERTa-v3
# itself shares its embedding table between pre-training and fine-tuning (GDES); it is inside
# the pretrained encoder, not a layer we add. What we add is the "fully connected layer" that
# compresses each token vector to the model's width:
#
# $$t_l = W_p\, s_l + b_p \in \mathbb{R}^{256}, \qquad l = 1, \dots, L.$$
#
# `proj` is $W_p, b_p$. `finetune=False` (the baseline's "static" encoder) freezes the
# backbone; `train_layers` fine-tunes only its top layers (the CPU profiles' `text_layers`):

# %%
viz.show_source(TextEncoder.__init__, TextEncoder.forward)

# %% [markdown]
# ### Cross-modal attention: audio asks, text answers (Section 3.4)
#
# Stack the audio frames into $A \in \mathbb{R}^{T \times d}$ and the token vectors into
# $T \in \mathbb{R}^{L \times d}$, with $d = 256$ (the paper uses $T$ both for the text matrix
# and for the number of frames; the context tells them apart). The paper's Eq. (3):
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^{\top}}{\sqrt{d}}\right) V,
# \qquad Q = A W_q, \quad K = T W_k, \quad V = T W_v.$$
#
# Row $t$ of the softmax is how much frame $t$ attends to each of the $L$ tokens; it sums to one.
# With 8 heads, each head $i$ has its own $W_q^{(i)}, W_k^{(i)}, W_v^{(i)}$ of width
# $d_h = 256 / 8 = 32$ (and scales by $\sqrt{d_h}$), and the heads' outputs are concatenated and
# mixed by $W_o$:
#
# $$\mathrm{MHA}(A, T) = [\mathrm{head}_1; \dots; \mathrm{head}_8]\, W_o, \qquad
# \mathrm{head}_i = \mathrm{softmax}\!\left(\frac{A W_q^{(i)} (T W_k^{(i)})^{\top}}{\sqrt{d_h}}\right) T W_v^{(i)}.$$
#
# `nn.MultiheadAttention` holds all of $W_q, W_k, W_v, W_o$. The paper does not say what
# happens to the attended frames; we add them to the frames they came from and normalise
# (a residual connection), then pool over the real frames:
#
# $$F = \mathrm{LayerNorm}\big(A + \mathrm{MHA}(A, T)\big), \qquad f = \frac{1}{T} \sum_{t=1}^{T} F_t .$$
#
# Padded tokens are masked out of the softmax (`key_padding_mask`), so they get exactly zero
# weight; `average_attn_weights=False` keeps one $T \times L$ map per head for chapter 7.

# %%
viz.show_source(CrossModalAttention)

# %% [markdown]
# ### Pooling and the two-layer MLP (Section 3.1)
#
# The classifier sees the pooled fused frames $f$ and the mean token vector
# $\bar t = \frac{1}{L} \sum_l t_l$, concatenated into $z = [f ; \bar t] \in \mathbb{R}^{512}$.
# The paper's "two-layer MLP", with its dropout rate $p = 0.3$ before each layer, gives the
# scores (logits) of the $C$ emotions:
#
# $$\hat y = W_2\, \mathrm{Dropout}_p\big(\mathrm{ReLU}(W_1\, \mathrm{Dropout}_p(z) + b_1)\big) + b_2
# \in \mathbb{R}^{C}.$$
#
# Training minimises the cross-entropy between $\mathrm{softmax}(\hat y)$ and the true emotion.

# %%
viz.show_source(mlp_head)

# %% [markdown]
# ### Putting it together
#
# `SERModel.forward` joins the parts. The same class is every ablation of chapter 4: a part
# that the `ModelConfig` switches off is `None` and skipped (no attention: the two global
# vectors $a$ and $\bar t$ are concatenated instead). The lines about `audio_missing` and
# `text_missing` are for chapter 10, where one modality is removed on purpose.

# %%
viz.show_source(SERModel.forward)

# %% [markdown]
# The parts of the model built above, as PyTorch prints them (everything except the
# pretrained encoder, which is long):

# %%
print("audio:", model.audio, "\ncross-modal attention:", model.cross, "\nhead:", model.head, sep="\n")

# %% [markdown]
# Inside `cross`, `nn.MultiheadAttention` splits the 256 dimensions into 8 heads of 32; for an
# utterance of T audio steps and L tokens it returns a T x L weight matrix per head (rows sum
# to one over the real tokens; padded tokens get exactly zero). Chapter 7 looks at those maps.

# %%
del model  # the experiment below builds its own, once per run

# %% [markdown]
# ## Training settings: the paper's and ours
#
# The paper trains with AdamW, a learning rate of 2e-5 for the pretrained text encoder and
# 1e-4 for everything else, batch size 64, dropout 0.3 and gradient clipping at 1.0 (Section
# 4.2). It does not state the number of epochs (Table 4 runs to 20), the learning-rate
# schedule or how it chose the model it tested. We use a linear warm-up over the first 10% of
# the steps and a linear decay to zero at the last epoch, and keep the weights of one epoch,
# chosen by balanced accuracy on the validation part (`epoch_selection`). The `full` profile
# keeps the best epoch and stops early when it has not improved for `patience` epochs. The CPU
# profiles train every epoch, since stopping before the decay ends left runs half-trained, and
# keep the *latest epoch within one standard error of the best* (`one-se`): on about 110
# validation utterances that error is about 4 points, so "best" often picked an early epoch
# that only tied a later, better-trained one by chance (the profile's notes in
# `sernb/profiles.py` give the measurements).

# %%
paper = {"text encoder": "DeBERTa-v3-base", "batch size": 64, "learning rate (new layers)": 1e-4,
         "learning rate (text encoder)": 2e-5, "epochs": "not stated (Table 4: 20)",
         "early stopping patience": "not stated", "epoch kept": "not stated",
         "MFCC frames averaged (frame_pool)": "not stated",
         "max MFCC frames (10 ms each)": "'10%'", "max tokens": 128,
         "text layers fine-tuned": "all", "seeds": "one, fixed",
         "protocol": "random 8:2"}
ours = {"text encoder": settings.text_model, "batch size": settings.batch_size,
        "learning rate (new layers)": settings.lr, "learning rate (text encoder)": settings.lr_text,
        "epochs": settings.epochs, "early stopping patience": settings.patience or "none (all epochs)",
        "epoch kept": settings.epoch_selection,
        "MFCC frames averaged (frame_pool)": settings.frame_pool,
        "max MFCC frames (10 ms each)": settings.max_frames, "max tokens": settings.max_tokens,
        "text layers fine-tuned": settings.text_layers or "all", "seeds": settings.seeds, "protocol": settings.protocol}
pd.DataFrame({"paper (Section 4.2)": paper, f"profile {PROFILE!r}": ours}).astype(str)

# %% [markdown]
# On the `full` profile (a GPU and IEMOCAP) we keep the paper's batch size and learning rates.
# The CPU profiles (`offline`, `smoke`) change six things, and it is worth knowing why:
#
# * **Smaller text encoder.** DeBERTa-v3-base cannot be downloaded here and would take hours per
#   run on two CPU cores; MiniLM-L6 (22.7 M parameters, 384-d) installs from PyPI and is a real
#   pretrained encoder of the same kind (a BERT-style transformer).
# * **Batch 32, learning rates 3e-3 and 3e-4.** With about a thousand training utterances a
#   batch of 64 gives only ~17 optimizer steps per epoch; at the paper's 1e-4 the freshly
#   initialised BiLSTM and attention barely move within the few epochs we can afford. Smaller
#   batches and larger steps converge in about five epochs.
# * **`frame_pool = 3`.** Averaging every three 10 ms MFCC frames before the BiLSTM (30 ms
#   steps) makes the LSTM three times cheaper. The paper mentions "hierarchical pooling" for
#   the same reason (Section 4.5) without saying where.
# * **Only the top 2 of MiniLM's 6 layers are fine-tuned** (`text_layers = 2`). The embeddings
#   and the four lower layers stay as pretrained, so a training step needs no backward pass
#   below layer 5 and no optimizer state for the 12 M-parameter embedding table: half the cost
#   of full fine-tuning on a CPU. It is still fine-tuning, of the layers that carry the most
#   task-specific information; chapter 4 keeps the comparison with a frozen encoder.
# * **Few epochs, several seeds.** Three seeds instead of one fixed seed show how much of a
#   difference between two systems is just the luck of the initialisation.
# * **The latest epoch within one standard error of the best** (`epoch_selection = "one-se"`)
#   instead of the best epoch: on a validation part of ~110 utterances, two epochs a few points
#   apart are a tie, and picking the higher one picked noise (one seed of a system kept epoch 2
#   of 6 on a flat curve and tested 5 points below the other seeds).
#
# ## Training
#
# `experiments.run` does everything: it loads the corpus, makes the split (once: every seed
# trains on the same 8:2 split, drawn with the `split_seed` setting), trains one model per seed (the progress bars show epochs and batches), tests it on the held-out
# part, and stores the result under `runs/results/` keyed by a hash of the settings. Rerunning
# the chapter, or another chapter asking for the same settings, loads the stored result at once.
# `keep_model="first"` also stores the first seed's trained model: the attention chapter and
# "Try it yourself" load it instead of training again.
# On the `offline` profile a first run takes a few minutes per seed on two CPU cores.

# %%
result = experiments.run(settings, keep_model="first")
print(result.summary())
meta = result.record["meta"]
print(f"the stored runs took {meta['seconds'] / 60:.1f} min on {meta['device']} "
      f"({meta['seconds_per_epoch']:.1f} s per epoch); stored in {result.path}")
print(experiments.provenance_line(result))

# %% [markdown]
# ## How training went
#
# Every epoch records the loss and the accuracy on the training batches (measured while the
# model learns, with dropout on) and on the validation part (after the epoch, dropout off).
# Each seed is one line; solid lines are training, dashed lines validation. Hover for values.
#
# What to look for: the training loss should fall steadily. The validation loss falls with it
# at first; once it flattens or rises while the training loss keeps falling, the model has
# started to fit its training utterances rather than the emotions (chapter 5 follows this
# longer). Where early stopping is on (the `full` profile), the lines of different seeds may
# end at different epochs; `best_epoch` below is the epoch each run kept.

# %%
curves.curves_figure({"ours": result}, metrics=("loss", "accuracy"),
                     title="Loss and accuracy per epoch, train vs validation, one line per seed")

# %%
result.runs[["name", "best_epoch", "epochs_run", "stopped_early", "n_train", "n_val", "n_test"]]

# %% [markdown]
# ## Test results, seed by seed
#
# The test part was never used for training or for choosing the epoch. The table gives the
# four metrics (chapter 1 explains them) for every seed in percent, then their mean and
# standard deviation. A difference between two systems smaller than these standard deviations
# is not worth a sentence.

# %%
curves.runs_table(result)

# %%
predictions = result.predictions
floor = predictions.groupby("run")["label"].agg(lambda s: s.value_counts(normalize=True).max())
print(f"test utterances per seed: {len(predictions) // result.record['n_runs']}")
print(f"always predicting the most frequent class of the test part: {100 * floor.mean():.1f}% accuracy")
print(f"our accuracy: {curves.pm(result.metrics['accuracy'], result.metrics['std']['accuracy'])}%"
      f" (mean ± std over {result.record['n_runs']} runs)")

# %% [markdown]
# ## Which emotions get mixed up
#
# The confusion matrix counts, for every true emotion (rows), what the model predicted
# (columns), summed over the seeds. Each row is divided by its total, so the diagonal is the
# recall of that emotion and the rest of the row shows where its misses went.

# %%
curves.confusion_figure(result)

# %%
confusion = pd.DataFrame(result.record["confusion"], index=result.labels, columns=result.labels)
shares = confusion.div(confusion.sum(axis=1).replace(0, 1), axis=0)
off_diagonal = shares.mask(np.eye(len(shares), dtype=bool)).stack()
worst = off_diagonal.sort_values(ascending=False).head(3)
for (true, pred), share in worst.items():
    print(f"{share:.0%} of {viz.EMOTION_NAMES[true]} was predicted as {viz.EMOTION_NAMES[pred]}")

# %% [markdown]
# ## Excitement and happiness
#
# The paper singles out one pair of emotions: "the F1-score for 'excitement' vs. 'happiness'
# reaches 79.8%, a 21.3% improvement over the baseline, proving temporal modeling captures
# subtle emotional differences" (Section 4.3). Both are positive, aroused states, and IEMOCAP's
# annotators often disagreed between them (the 4-class literature even merges them). The paper
# does not say which F1 it means, nor whether 21.3% is points or a relative gain; we show the
# F1 of each class, their mean, and how often each is predicted as the other, for our model
# and for the baseline (mean-pooled MFCC and a frozen text encoder, chapter 4), trained under
# the same settings. The baseline is cheap: its text encoder is run once, not trained.

# %%
baseline = experiments.run(experiments.ExperimentConfig.from_profile(
    PROFILE, text_model=TEXT_MODEL, system="baseline", data_root=DATA_ROOT, device=DEVICE))
pair = {"baseline": baseline, "ours": result}
curves.per_class_f1_figure(pair, highlight=("exc", "hap"))

# %%
table = curves.pair_table(pair, "exc", "hap")
table.loc["paper reported (IEMOCAP)"] = ["-", "-", f"{curves.PAPER_EXC_HAP['f1']}", "-", "-"]
table

# %%
def exc_hap(r):
    return 50 * (r.metrics["per_class_f1"]["exc"] + r.metrics["per_class_f1"]["hap"])


gain = exc_hap(result) - exc_hap(baseline)
print(f"mean F1 of excitement and happiness: baseline {exc_hap(baseline):.1f}, ours "
      f"{exc_hap(result):.1f}, a change of {gain:+.1f} points "
      f"(paper reported: {curves.PAPER_EXC_HAP['f1']}, +{curves.PAPER_EXC_HAP['gain_over_baseline']})")

# %% [markdown]
# Read the last column pair of the table with the confusion matrix above: if most of the
# excitement errors go to happiness and vice versa, the two classes are confused with each
# other rather than with everything else. On the synthetic corpus the two are voiced with
# different synthesizer settings and sentences, so their separation says little about IEMOCAP's
# actors; on `full` this is the paper's claim, tested.
#
# ## Summary
#
# * The paper's model is a BiLSTM over MFCC frames, a fine-tuned pretrained text encoder, and
#   8-head cross-modal attention with audio queries and text keys/values; the text encoder
#   holds nearly all of its parameters (counted above).
# * The CPU profiles train it with a smaller encoder, smaller batches and larger learning
#   rates than the paper, for reasons of time; the `full` profile keeps the paper's values.
# * Every number above is a mean ± std over the profile's seeds, against the majority-class
#   floor, on the corpus named in each figure.

# %% [markdown]
# ## Exercises
#
# The first three exercises build models without training them and cost seconds. The last two
# train: each new setting is a new run (about a minute per seed on the `offline` profile), stored
# like the chapter's own, so a second rerun of the same cell reads it back at once.
#
# 1. **Count the BiLSTM's parameters by hand.** An `nn.LSTM(40, 128)` has, for each of its 4
#    gates, a 128 x 40 input matrix, a 128 x 128 recurrent matrix and two bias vectors of 128.
#    Compute the parameters of the two directions of `BiLSTMAudio` (the code is shown above),
#    then check your number against the `audio` row of the printed parameter table.
#    Do the same for the `head` (`mlp_head(512, 256, 6)`: which of the `Linear` layers holds
#    more?).
# 2. **Fewer heads, fewer parameters?** Build the model with 4 attention heads:
#    `build_model("ours", n_classes=settings.classes, heads=4, **settings.shared_model_options())`
#    and show `curves.parameter_table(...)` of it. Predict the `cross` row before you look.
#    *What to expect:* read how `nn.MultiheadAttention` splits its 256 dimensions (above);
#    then try `heads=6` and read the error message.
# 3. **Where the masks act.** In the source of `CrossModalAttention` shown above, find the line
#    that keeps padded tokens out of the softmax, and in `masked_mean` the line that keeps
#    padded frames out of the average. For an utterance of two real frames and two padded ones,
#    `x = torch.tensor([[[1.], [3.], [0.], [0.]]])` and
#    `mask = torch.tensor([[True, True, False, False]])`, predict `masked_mean(x, mask)` and the
#    plain `x.mean(1)`, then print both in a new cell (`import torch`). Which one would let
#    the padding of a batch change an utterance's prediction?
# 4. **The paper's learning rates.** In a new cell, `import dataclasses` and train seed 0 with
#    the paper's values: `paper_lr = experiments.run(dataclasses.replace(settings, lr=1e-4,
#    lr_text=2e-5, seeds=(0,)))`, then `print(paper_lr.summary())`. Predict whether the test
#    accuracy is higher or lower than the seed-0 row of the "Test results, seed by seed"
#    table, and draw `curves.curves_figure({"ours": result, "paper lr": paper_lr})`.
#    *What to expect:* the section "Training settings" explains why the CPU profiles raise
#    the learning rates; the curves show it.
# 5. **Every 10 ms frame.** Train seed 0 with `frame_pool=1` instead of the profile's 3 (the
#    paper's 10 ms steps): `dataclasses.replace(settings, frame_pool=1, seeds=(0,))`. Predict
#    the seconds per epoch and compare with the printed `the stored runs took ...
#    (... s per epoch)` line of this chapter (about three times as many LSTM steps; it is the
#    slowest exercise here, a few minutes on two CPU cores).
