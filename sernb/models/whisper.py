"""A pretrained speech encoder that runs offline: Whisper tiny.en's encoder, frozen (chapter "Table 1").

Two uses of the same frozen encoder (:mod:`sernb.whisper_states` computes and caches its states):

* the system ``"whisper_audio"``, a Table 1 row beside Wav2Vec2.0: the states over the clip's real
  frames, pooled, then the usual MLP head. Pooling ``"meanstd"`` (default) concatenates their mean
  and standard deviation (statistics pooling, x-vector style): the states are frozen, so the pooled
  vector is computed once per clip and an epoch trains only the head on 768 numbers per clip (about
  a second on the default corpus); the issue's probe found mean+std of these states separating
  RAVDESS's emotions at 71% UA. ``state_norm="speaker"`` standardises each clip's pooled vector
  with its speaker's mean and std over all of that speaker's clips (their audio, never their
  labels), as ``mfcc_norm="speaker"`` does for MFCC frames: on RAVDESS's actor-independent folds
  the probe went from 69% to 76% UA, because what is left is how a clip departs from its
  speaker's usual voice. ``"attentive"`` learns frame weights before the statistics (attentive
  statistics pooling), at the cost of carrying every frame through every epoch.
* :class:`WhisperFrames`, the audio branch of the paper's model when ``audio_encoder="whisper"``
  (``ModelConfig``; ``sernb train --system ours --audio-encoder whisper``): the frame states,
  layer-normalised and projected to the model width, are the cross-modal attention's queries in
  place of the BiLSTM's outputs.

CTranslate2's ``encode()`` returns only the last layer, so unlike the wav2vec2 row there is no
learned weighting of layers. The encoder never trains (its weights are not in the model either:
a checkpoint stores only the new layers and which Whisper folder to read).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sernb.models.audio import masked_mean
from sernb.models.fusion import mlp_head
from sernb.models.inputs import register_input
from sernb.models.registry import register
from sernb.whisper_states import DEFAULT_INPUT, WhisperSpec, clip_states, encoder_dim, pooled

POOLS = ("meanstd", "attentive")
STATE_NORMS = ("none", "speaker")


class WhisperFrames(nn.Module):
    """Whisper frame states (B, T, D) -> LayerNorm -> Linear to ``hidden``: ``(frames, mask, global)``,
    the interface of :class:`~sernb.models.audio.BiLSTMAudio` (global = masked temporal mean)."""

    def __init__(self, hidden: int = 256, whisper_model: str | None = None, whisper_input: str = DEFAULT_INPUT):
        super().__init__()
        self.whisper = WhisperSpec(whisper_model, whisper_input)
        dim = encoder_dim(self.whisper)  # checks the folder: a clear error when it is missing
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, hidden)
        self.out_dim = hidden

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        frames = self.proj(self.norm(states.float())) * mask.unsqueeze(-1)
        return frames, mask, masked_mean(frames, mask)


class WhisperAudioClassifier(nn.Module):
    """Frozen Whisper encoder states -> mean+std (or attentive statistics) pooling -> MLP head."""

    pretrained_prefixes: tuple[str, ...] = ()

    def __init__(self, n_classes: int = 6, whisper_model: str | None = None, whisper_input: str = DEFAULT_INPUT,
                 pool: str = "meanstd", hidden: int = 256, dropout: float = 0.3, state_norm: str = "none") -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool={pool!r}; choose one of {POOLS}")
        if state_norm not in STATE_NORMS:
            raise ValueError(f"state_norm={state_norm!r}; choose one of {STATE_NORMS}")
        if state_norm == "speaker" and pool != "meanstd":
            raise ValueError("state_norm='speaker' standardises the pooled statistics: it needs pool='meanstd'")
        self.state_norm = state_norm
        self.whisper = WhisperSpec(whisper_model, whisper_input)
        dim = encoder_dim(self.whisper)
        self.pool = pool
        self.norm = nn.LayerNorm(2 * dim)
        self.score = nn.Sequential(nn.Linear(dim, 128), nn.Tanh(), nn.Linear(128, 1)) if pool == "attentive" else None
        self.head = mlp_head(2 * dim, hidden, n_classes, dropout)

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("whisper_pooled",) if self.pool == "meanstd" else ("whisper_frames",)

    def encoders(self) -> dict[str, str]:
        how = "mean+std pooled" if self.pool == "meanstd" else "attentive statistics pooling"
        how += ", standardised per speaker" if self.state_norm == "speaker" else ""
        return {"text": "-", "audio": f"{self.whisper.label}, {how}"}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        if self.pool == "meanstd":
            stats = batch["whisper_pooled"].float()[:, 0]  # (B, 1, 2D): one "frame" per clip
        else:
            x, mask = batch["whisper_frames"].float(), batch["whisper_frames_mask"]
            scores = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
            w = torch.softmax(scores, 1).unsqueeze(-1)
            mean = (w * x).sum(1)
            std = ((w * (x - mean.unsqueeze(1)) ** 2).sum(1)).clamp_min(1e-6).sqrt()
            stats = torch.cat([mean, std], -1)
        return {"logits": self.head(self.norm(stats)), "attention": None}


@register("whisper_audio", needs=("wav",), paper="beyond the paper: beside Table 1's Wav2Vec2.0 (audio only)",
          description="pretrained speech encoder: Whisper tiny.en, frozen, offline; mean+std pooled, MLP (no text)")
def build_whisper_audio(n_classes: int = 6, whisper_model: str | None = None, whisper_input: str = DEFAULT_INPUT,
                        pool: str = "meanstd", state_norm: str = "none", **common: Any) -> WhisperAudioClassifier:
    """``common`` (text_model, max_tokens, ...) does not apply to an audio-only model and is ignored."""
    return WhisperAudioClassifier(n_classes, whisper_model, whisper_input, pool, state_norm=state_norm)


def _spec(model: nn.Module) -> WhisperSpec:
    spec = getattr(model, "whisper", None) or getattr(getattr(model, "audio", None), "whisper", None)
    if spec is None:
        raise TypeError(f"{type(model).__name__} reads no Whisper states")
    return spec


def max_seconds(context: dict[str, Any]) -> float | None:
    """Seconds of each clip a run reads: ``max_frames`` MFCC frames (100 per second), as the MFCC
    systems (None: the whole clip, up to 30 s)."""
    frames = context.get("max_frames")
    return None if frames is None else frames / 100.0


def _states(model: nn.Module, table: Any, context: dict[str, Any]) -> list[np.ndarray]:
    if "audio_arrays" in context:  # predict: one recording already decoded and checked
        from sernb.whisper_states import encode_audio, recognizer

        rec = recognizer(_spec(model), device=_ct2_device(context))
        limit = max_seconds(context)
        cut = None if limit is None else int(limit * 16000)
        return [encode_audio(rec, a[:cut], _spec(model).input) for a in context["audio_arrays"]]
    return clip_states(_spec(model), table["wav_path"].tolist(), max_seconds=max_seconds(context),
                       device=_ct2_device(context), progress=bool(context.get("progress")))


def _ct2_device(context: dict[str, Any]) -> str:
    device = context.get("device", "cpu")
    kind = getattr(device, "type", str(device).split(":")[0])
    index = getattr(device, "index", None)
    return "cpu" if kind != "cuda" else f"cuda:{index or 0}"


@register_input("whisper_frames")
def whisper_frames_input(model: nn.Module, table: Any, context: dict[str, Any]) -> list[np.ndarray]:
    """Input provider ``whisper_frames``: (states, D) float16 per clip, cached (:mod:`sernb.whisper_states`)."""
    return _states(model, table, context)


@register_input("whisper_pooled")
def whisper_pooled_input(model: nn.Module, table: Any, context: dict[str, Any]) -> list[np.ndarray]:
    """Input provider ``whisper_pooled``: mean and std of each clip's states, (1, 2 x D) float32,
    standardised per speaker for a model with ``state_norm="speaker"``."""
    if getattr(model, "state_norm", "none") == "speaker" and table is None:
        from sernb.errors import UserInputError

        raise UserInputError(None, "this model standardises each clip with its speaker's statistics over many clips; "
                                   "one recording has none, so its prediction would be noise. Evaluate such a model on a "
                                   "corpus (sernb train scores its test speakers), or train with state_norm=none to "
                                   "predict single recordings")
    vectors = [pooled(s)[None] for s in _states(model, table, context)]
    if getattr(model, "state_norm", "none") == "speaker":
        from sernb.models.inputs import speaker_normalised

        return speaker_normalised(vectors, table["speaker"].tolist())
    return vectors
