"""The paper's model and all its ablations as one ``nn.Module`` driven by a :class:`ModelConfig`.

``SERModel(config)(batch)`` takes a batch from :func:`sernb.data.dataset.collate` and returns
``{"logits": (B, C), "attention": (B, heads, T', L) or None, "frame_mask": (B, T') or None,
"audio_vec", "text_vec": (B, hidden) or None}`` (T' = T / frame_pool audio steps; the two vectors are
each branch's global vector before fusion, for the contrastive loss). Which tensors it needs is
listed in :attr:`SERModel.inputs`. Chapter "Training the paper's model" walks through
:meth:`SERModel.forward`.

Missing modality (modality dropout, chapter "Beyond the paper: remedies for overfitting"): a batch
may carry ``audio_missing`` / ``text_missing``, (B,) booleans. A missing branch contributes a zero
vector to the classifier; with text missing, the audio frames attend to a single all-zero "null"
token instead of the words, so the attention softmax always has one real key and stays NaN-free.
Zeros need no new parameters, so every trained model, with or without modality dropout, can be
tested with a modality missing.
"""

from __future__ import annotations

import torch
from torch import nn

from sernb.models.audio import build_audio_encoder, masked_mean
from sernb.models.config import ModelConfig
from sernb.models.fusion import CrossModalAttention, concat_fusion, mlp_head
from sernb.models.text import TextEncoder


class SERModel(nn.Module):
    """MFCC branch + text branch + fusion + 2-layer MLP, each part switched by ``config``."""

    #: Parameter names starting with these get the small learning rate (pretrained weights).
    pretrained_prefixes: tuple[str, ...] = ("text.backbone.",)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.audio = None
        if c.uses_audio and c.audio_encoder == "whisper":
            from sernb.models.whisper import WhisperFrames

            self.audio = WhisperFrames(c.hidden, c.whisper_model, c.whisper_input)
        elif c.uses_audio:
            self.audio = build_audio_encoder(c.audio, c.n_mfcc, c.hidden, c.frame_pool, c.mfcc_norm, c.spec_mask)
        self.text = TextEncoder(c.text_model, c.hidden, c.finetune_text, c.max_tokens,
                                 c.text_layers) if c.uses_text else None
        self.cross = CrossModalAttention(c.hidden, c.heads) if c.cross_attention else None
        n_parts = int(c.uses_audio) + int(c.uses_text)  # attention: pooled fused frames + text vector
        self.head = mlp_head(n_parts * c.hidden, c.hidden, c.n_classes, c.dropout)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Batch fields this model reads: ``mfcc`` (or ``whisper_frames``), ``tokens`` (fine-tuned) or
        ``text_states`` (frozen)."""
        needed = []
        if self.audio is not None:
            needed.append(self.audio_field)
        if self.text is not None:
            needed.append("tokens" if self.config.finetune_text else "text_states")
        return tuple(needed)

    @property
    def audio_field(self) -> str:
        """The batch field the audio branch reads: ``mfcc`` or ``whisper_frames``."""
        return "whisper_frames" if self.config.audio_encoder == "whisper" else "mfcc"

    def fit_audio_stats(self, frames: torch.Tensor) -> None:
        """Set MFCC normalisation from the training frames (N, n_mfcc); a no-op without MFCC."""
        if self.audio is not None and hasattr(self.audio, "norm") and self.audio_field == "mfcc":
            self.audio.norm.fit(frames)

    @property
    def accepts_missing_modality(self) -> bool:
        """Only a two-branch model can lose one branch (modality dropout, robustness tests)."""
        return self.audio is not None and self.text is not None

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        parts: list[torch.Tensor] = []
        attention = frame_mask = audio_vec = text_vec = None
        audio_missing, text_missing = batch.get("audio_missing"), batch.get("text_missing")
        if self.audio is not None:
            field = self.audio_field
            frames, frame_mask, audio_vec = self.audio(batch[field], batch[f"{field}_mask"])
        if self.text is not None:
            if "text_states" in batch:  # frozen encoder, states precomputed once
                token_mask = batch["text_states_mask"]
                tokens = self.text(states=batch["text_states"])
            else:
                tokens = self.text(batch["tokens"], batch["tokens_mask"])  # the encoder reads any dialog context
                token_mask = self.text.utterance_mask(batch["tokens"], batch["tokens_mask"])  # the rest, the utterance
            if text_missing is not None:
                tokens, token_mask = _null_tokens(tokens, token_mask, text_missing)
            text_vec = _zero_rows(masked_mean(tokens, token_mask), text_missing)
        if self.cross is not None:
            pooled, attention = self.cross(frames, frame_mask, tokens, token_mask)
            parts = [_zero_rows(pooled, audio_missing), text_vec]
        else:
            if self.audio is not None:
                parts.append(_zero_rows(audio_vec, audio_missing))
            if self.text is not None:
                parts.append(text_vec)
        logits = self.head(concat_fusion(*parts))
        return {"logits": logits, "attention": attention, "frame_mask": frame_mask,
                "token_mask": token_mask if self.text is not None else None,
                "audio_vec": audio_vec, "text_vec": text_vec}

    def describe(self) -> dict[str, object]:
        """Parameter counts and the text encoder's provenance, for tables and result records."""
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        info: dict[str, object] = {"params": total, "trainable_params": trainable,
                                   "config": self.config.to_dict()}
        if self.text is not None:
            info["text_encoder"] = {"name": self.text.spec.name, "source": self.text.spec.source,
                                    "location": self.text.spec.location,
                                    "untrained": self.text.spec.untrained,
                                    "label": self.text.spec.label}
        return info


def _zero_rows(x: torch.Tensor, missing: torch.Tensor | None) -> torch.Tensor:
    """``x`` (B, D) with the rows of absent inputs set to zero."""
    return x if missing is None else x.masked_fill(missing.unsqueeze(-1), 0.0)


def _null_tokens(tokens: torch.Tensor, mask: torch.Tensor, missing: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """For rows without text: one real all-zero token (a "null" key), every other token masked."""
    tokens = tokens.masked_fill(missing[:, None, None], 0.0)
    mask = mask & ~missing[:, None]
    mask[:, 0] |= missing
    return tokens, mask
