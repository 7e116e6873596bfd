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
# # Table 3: efficiency
#
# The paper's Table 3 gives two numbers per model, measured on an NVIDIA P5000 GPU: inference
# time per sample and GPU memory. Its model takes 22.6 ms and 3.1 GB, COGMEN 38.2 ms and
# 4.7 GB, and the text credits "hierarchical pooling", shared key/value projections and a
# two-layer classifier. The paper does not say at what batch size, whether the time includes
# feature extraction, or how memory was read.
#
# This chapter measures the same kind of figures for every system we built, on the machine
# the chapter runs on, and says exactly what each figure is: latency at batch 1 and per
# sample in a batch, throughput, peak memory, parameters. It then times the code's own fast
# paths (caches, parallel feature extraction, length bucketing) against the straightforward
# versions they replace, and shows how preprocessing and training time grow with the corpus.

# %% [markdown]
# ## Settings
#
# The chapter's only *parameters* cell. `BENCH_MAX_UTTS` caps the utterances used for the
# timings: the benchmark's own default for the offline profile is 256, which on a shared
# 2-core machine takes a few minutes more; 128 keeps this chapter to a few minutes and changes
# none of the per-sample figures' meaning (medians of repeated calls). Set it to `None` for
# the profile's own size (512 on `full`). `PAPER_SIZE` also times our model with an encoder
# of DeBERTa-v3-base's size (random weights: timing only), slow on a CPU.
# `DATA_ROOT` points the benchmarks at your copy of IEMOCAP (None: the profile's corpus).

# %% tags=["parameters"]
PROFILE = "offline"  # "smoke" (CI), "offline" (synthetic) or "full" (IEMOCAP)
DATA_ROOT = None  # folder holding IEMOCAP_full_release (full profile); None: the profile's corpus
DEVICE = "auto"  # "auto", "cpu" or "cuda"
TEXT_MODEL = None  # text encoder: None means the profile's, else "deberta-v3-base", a hub id or a folder
AUDIO_MODEL = None  # speech encoder of the Wav2Vec2.0 row: None means wav2vec2-base, else a hub id or a folder
BENCH_MAX_UTTS = 128  # at most this many utterances timed (None: the profile's default)
PAPER_SIZE = False  # also time a DeBERTa-v3-base-sized model with random weights
SCALING_SIZES = None  # corpus sizes for the scaling plot; None: 1/8, 1/4, 1/2 and all
REMEASURE = False  # True: time again even if runs/<profile>/ holds a timing of this machine and settings

# %%
import pandas as pd
import plotly.express as px

from sernb import bench, compare, experiments, viz
from sernb.fingerprint import fingerprint
from sernb.utils import PROJECT_ROOT

viz.setup_notebook()
corpus = experiments.load_corpus(experiments.ExperimentConfig.from_profile(PROFILE, text_model=TEXT_MODEL, data_root=DATA_ROOT))
OUT = PROJECT_ROOT / "runs" / PROFILE
default_utts = bench.BenchSettings.for_profile(PROFILE).n_utts
n_utts = default_utts if BENCH_MAX_UTTS is None else min(BENCH_MAX_UTTS, default_utts)
print(f"profile {PROFILE!r}: {viz.corpus_name(corpus)}; timing on {n_utts} utterances "
      f"(profile default {default_utts})")

# %% [markdown]
# ## Measuring
#
# `sernb.bench.run_benchmarks` builds every registered system, prepares its inputs for the
# same random subset of utterances, and times it: each figure is the **median** of several
# repeats after untimed warm-up calls, because a shared machine is noisy and a median
# ignores the odd slow repeat. The whole report, with every repeat, is written to
# `runs/<profile>/bench.json`. (On the command line: `sernb bench --profile smoke`.)
# A rerun of the chapter reads that report back when it was taken on this machine, with the
# same settings and the same versions of sernb and torch; `REMEASURE = True` times again.

# %%
report = bench.run_benchmarks(profile=PROFILE, device=DEVICE, json_path=OUT / "bench.json", n_utts=n_utts,
                              paper_size=PAPER_SIZE, data_root=DATA_ROOT, text_model=TEXT_MODEL,
                              reuse=not REMEASURE)
if report.get("reused"):
    print(f"timings measured on {report.get('created', 'an earlier run')} on this machine, read back from {report['reused']}")
env = report["environment"]
print(f"device: {env['device']} ({env['device_name']}); {env['cpu_count']} CPU cores, "
      f"{env['torch_threads']} torch threads; torch {env['versions']['torch']}")
print(f"Provenance: timings of code {env['code_fingerprint']} (this code: {fingerprint('sernb.bench')}), "
      f"measured {str(report.get('created', '?'))[:10]}")
print(f"{report['utterances']} utterances, {report['settings']['repeats']} repeats after "
      f"{report['settings']['warmup']} warm-up calls; benchmark took {report['seconds']:.0f} s")
print(pd.Series(report["stage_seconds"]).round(1).to_string())

# %% [markdown]
# ## Per system: latency, throughput, memory, parameters
#
# * **latency, batch 1**: milliseconds for one utterance through the model alone (features
#   and token ids already computed), as a live system answering one request sees it;
# * **ms/sample, batched**: one batch divided by its size, what the paper's "ms/sample" most
#   likely means on a GPU with batch 64;
# * **throughput**: utterances per second in that batch; **train utts/s** the same while
#   training (forward, backward, update);
# * **memory**: on a GPU, the peak memory allocated by torch for that system; on a CPU, the
#   resident memory of the whole process after inference (Python, torch and every model
#   loaded so far), so on a CPU it only grows down the table and is not a per-model figure.

# %%
systems = bench.systems_frame(report)
memory_kind = next((s.get("memory_kind") for s in report["systems"] if s.get("memory_kind")), "-")
print(f"memory_mb is: {memory_kind}")
systems.set_index("system").round(2)

# %%
ok = systems[systems["status"].str.startswith("ok")]
long = pd.concat([
    ok.assign(kind="batch 1 (latency)", ms=ok["latency_ms_b1"]),
    ok.assign(kind=f"batched (per sample, batch {report['settings']['batch_size']})", ms=ok["ms_per_sample_batched"]),
])[["system", "kind", "ms"]]
title = viz.corpus_title(f"Inference time per utterance on {env['device_name']}", corpus)
compare.grouped_bars(long, "system", "ms", "kind", title=title, y_title="ms per utterance (log scale)",
                     log_y=True, text_format=".3g")

# %%
for row in systems[~systems["status"].str.startswith("ok")].itertuples():
    print(f"{row.system}: {row.status}. {row.reason}")
print("parameters (millions): " + ", ".join(f"{r.system} {r.params_m:.1f}" for r in ok.itertuples()))
batching = (ok["latency_ms_b1"] / ok["ms_per_sample_batched"]).set_axis(ok["system"])
print(f"batch-1 latency / batched ms per sample: from {batching.min():.1f}x ({batching.idxmin()}) "
      f"to {batching.max():.1f}x ({batching.idxmax()})")

# %% [markdown]
# ## Beside the paper's Table 3
#
# The paper-reported figures were measured on **their** GPU (an NVIDIA P5000), with
# DeBERTa-v3-base and on IEMOCAP; ours on the device named in the table, with the profile's
# text encoder and corpus. The absolute numbers cannot be compared across machines. What
# can be compared is the *ratio* between the two models measured on the same machine: the
# paper claims its model needs 0.59 times COGMEN's time per sample (22.6 / 38.2 ms).

# %%
table3 = compare.paper_table3_frame(report, systems)
table3

# %%
paper = report["paper_table3"]
paper_ratio = paper["ours"]["ms_per_sample"] / paper["cogmen"]["ms_per_sample"]
for column, what in (("latency_ms_b1", "batch 1"), ("ms_per_sample_batched", "batched")):
    ratio = compare.ratio_of(ok, column, "ours", "cogmen")
    print(f"ours / COGMEN time per sample, {what}: {ratio:.2f} here vs {paper_ratio:.2f} paper reported")

# %% [markdown]
# Keep in mind what the two models are here: our COGMEN-style model encodes text with a
# *frozen* encoder whose states are cached, and reads a small graph of the utterance's
# dialog; ours runs the fine-tuned text encoder on every call. Which one is faster depends
# on those choices and on the batch size far more than on the fusion layer the paper credits.
#
# ## The code's fast paths
#
# Each fast path of `sernb` is timed next to the straightforward version it replaces, in the
# same run, so the ratio (slow / fast) is measured, never assumed:
#
# * **MFCC cache**: reading features from the disk cache vs recomputing them (target 5x);
# * **parallel MFCC**: all CPU cores (joblib) vs one; small on 2 cores, more on a server;
# * **frozen text states**: a training epoch of the baseline on cached frozen-encoder
#   states vs re-encoding every text in every step (target 5x);
# * **length bucketing**: a training epoch with batches of similar length vs random batches;
#   on a corpus whose clips have similar lengths there is little padding to save.
#
# On a GPU the benchmark also times bf16 autocast, pinned memory and `torch.compile`.

# %%
paths = bench.fast_paths_frame(report)
paths.set_index("name").round(3)

# %%
measured = paths.dropna(subset=["ratio"])
fig = px.bar(measured, x="name", y="ratio", text="ratio", hover_data=["slow", "fast", "slow_s", "fast_s"],
             title=viz.corpus_title(f"Fast paths: speed-up (slow / fast) on {env['device_name']}", corpus))
fig.update_traces(texttemplate="%{text:.2f}x", textposition="outside", cliponaxis=False)
fig.add_hline(y=1, line_dash="dot", annotation_text="no gain")
fig.update_layout(yaxis_title="speed-up (x)", xaxis_title="", height=420)
fig

# %%
for path in report["fast_paths"]:
    if path.get("target") is not None and "ratio" in path:
        verdict = "meets" if path["meets_target"] else "misses"
        print(f"{path['name']}: {path['ratio']:.1f}x, {verdict} its {path['target']:g}x target")
    if "bucketed_frame_padding" in path:
        print(f"padding with random vs bucketed batches: frames {path['random_frame_padding']:.1%} vs "
              f"{path['bucketed_frame_padding']:.1%}")
pre = report.get("preprocessing")
if pre:
    print(f"MFCC extraction: {pre['hours_per_minute_one_core']:.1f} hours of audio per minute on one core")
if report.get("gpu_note"):
    print(report["gpu_note"])
if PROFILE == "smoke":
    print("smoke profile: a few dozen utterances and three repeats; these ratios are mostly noise.")

# %% [markdown]
# ## How cost grows with the corpus
#
# `sernb.bench.scaling` takes nested random subsets of the corpus and times, for each,
# preprocessing (MFCC extraction without the cache, plus tokenization) and one training
# epoch of our model. Both should grow linearly with the number of utterances; a curve that
# bends upward would point at something quadratic (padding to the longest clip, for one).

# %%
scale = bench.scaling(PROFILE, sizes=SCALING_SIZES, device=DEVICE, data_root=DATA_ROOT, text_model=TEXT_MODEL,
                      json_path=OUT / "scaling.json", reuse=not REMEASURE)
scale.round(3)

# %%
scale_long = scale.melt(id_vars=["utterances"], value_vars=["preprocess_s", "train_epoch_s"],
                        var_name="stage", value_name="seconds")
scale_long["stage"] = scale_long["stage"].map({"preprocess_s": "preprocessing (MFCC + tokens)",
                                               "train_epoch_s": "one training epoch (ours)"})
fig = px.line(scale_long, x="utterances", y="seconds", color="stage", markers=True,
              title=viz.corpus_title(f"Time vs corpus size on {env['device_name']}", corpus))
fig.update_layout(height=420, yaxis_title="seconds", legend_title_text="")
fig

# %%
per_1000 = (scale.set_index("utterances")[["preprocess_s", "train_epoch_s"]]
            .div(scale.set_index("utterances").index / 1000, axis=0))
print("seconds per 1,000 utterances at each size:")
print(per_1000.round(2).to_string())
largest = scale.iloc[-1]
print(f"largest size: {largest['utterances']} utterances, {largest['audio_hours'] * 60:.1f} min of audio")

# %% [markdown]
# If the seconds per 1,000 utterances stay roughly constant from row to row, cost is linear
# in corpus size, and the largest row extrapolates to IEMOCAP's 7,380 six-class utterances.
#
# ## The paper's scale: measured here, estimated for an H100
#
# The figures above use the profile's corpus and encoder. The paper's configuration is far
# larger: a DeBERTa-v3-base text encoder (184 M parameters with its 128k-token embedding
# table), batches of 64, 10 ms MFCC frames up to 1,000 per clip and 128 tokens, on an
# IEMOCAP-sized corpus. `sernb bench --paper-scale` measures that training step on the machine
# it runs on, with a model of DeBERTa-v3-base's exact shape and *random* weights (its speed and
# memory are the real model's; its predictions mean nothing), and estimates the whole study on
# one H100 from the measured FLOPs, with every assumption written next to the number. It takes
# several minutes on a CPU, so this chapter never runs it: it reads the stored JSON, yours in
# `runs/paperscale.json` if you made one, else the one stored with the book
# (`book/measured/paperscale_cpu.json`, measured on a shared 2-core CPU). To produce yours
# (data/README.md gives the corpus's own figures):
#
# ```
# sernb synth --size iemocap --out /tmp/iemocap-synth
# sernb bench --paper-scale --data-root /tmp/iemocap-synth --json runs/paperscale.json
# ```

# %%
from sernb import paperscale

# your own measurement if you made one, else the one stored with the book (its machine is named)
PAPER_SCALE_JSON = next((p for p in (PROJECT_ROOT / "runs" / "paperscale.json",
                                     PROJECT_ROOT / "book" / "measured" / "paperscale_cpu.json") if p.is_file()),
                        PROJECT_ROOT / "runs" / "paperscale.json")
if PAPER_SCALE_JSON.is_file():
    import json

    scale_report = json.loads(PAPER_SCALE_JSON.read_text())
    print(f"measured {scale_report['created']} on {scale_report['environment']['device_name']}, "
          f"{scale_report['torch_threads']} torch threads; corpus {scale_report['corpus']['data_root']}")
    from IPython.display import display

    display(pd.DataFrame(paperscale.figures_table(scale_report)).set_index("figure"))
    print("\n".join(scale_report["estimate"]["arithmetic"]))
else:
    scale_report = None
    print(f"no stored paper-scale measurement at {PAPER_SCALE_JSON}; run the two commands above to make one")

# %% [markdown]
# Read the two kinds of row differently. "Measured here" rows are timings of this code on the
# named machine. "Estimated" rows are arithmetic on those measurements: the FLOPs of a step
# divided by an H100's bf16 peak at a stated utilisation, plus the BiLSTM's 1,000 sequential
# time steps (which no amount of peak FLOP/s makes parallel), plus overhead. `make gpu-check`
# on a GPU machine replaces the estimate with a measured step.
#
# ## Summary
#
# * Every figure above is measured on the device named with it; the paper's Table 3 values
#   are shown only as paper-reported, on their P5000.
# * Latency at batch 1 and per-sample cost in a batch are different figures (their ratio per
#   system is printed above); a "ms/sample" without its batch size is not a specification.
# * The fast paths are each timed against the version they replace; the ratios are printed,
#   with the targets they meet or miss.

# %% [markdown]
# ## Exercises
#
# The benchmark and the scaling timings are stored in `runs/<profile>/`; a rerun with the same
# settings on the same machine reads them back. An exercise that changes a setting times again
# (a few minutes on two CPU cores), and says so.
#
# 1. **Units.** From the table "Per system", take one system's `ms_per_sample_batched` and
#    compute the throughput it implies (utterances per second). Compare with the
#    `throughput_utts_per_s` column of the same row. Why can the training throughput not be derived the
#    same way?
# 2. **Batch 1 against a batch.** Before reading the printed
#    `batch-1 latency / batched ms per sample: from ...x (...) to ...x (...)` line, predict
#    which system gains most from batching, and which least. *What to expect:* think about what
#    a batch shares (one call into the text encoder for many sentences) and what it cannot.
# 3. **Fewer utterances timed.** Set `BENCH_MAX_UTTS = 64` (times again). Predict whether the
#    per-sample figures change, and by how much, given that each is a median of repeated calls;
#    note the table of 128 utterances before you rerun, since the new timing replaces it. How large is the machine's own noise?
# 4. **Does it scale linearly?** Set `SCALING_SIZES = [100, 200, 400, 800]` (times again, a few
#    minutes). Predict the printed `seconds per 1,000 utterances at each size` table: constant
#    rows mean linear cost. Extrapolate the training epoch to IEMOCAP's 7,380 six-class
#    utterances.
# 5. **On a GPU.** With a GPU, set `DEVICE = "cuda"` and `PAPER_SIZE = True`: the table gains GPU
#    memory per system, the bf16 / pinned-memory / `torch.compile` fast paths, and a model of
#    the paper's size to set against its 22.6 ms. Predict the printed `ours / COGMEN time per
#    sample` ratios before you run.
