"""The paper's model and all its ablations as one ``nn.Module`` driven by a :class:`ModelConfig`.

``SERModel(config)(batch)`` takes a batch from :func:`sernb.data.dataset.collate` and returns
``{"logits": (B, C), "attention": (B, heads, T', L) or None, "frame_mask": (B, T') or None}``
(T' = T / frame_pool audio steps). Which tensors it needs is listed in
:attr:`SERModel.inputs`. Chapter "The model, piece by piece" walks through :meth:`SERModel.forward`.
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
        self.audio = build_audio_encoder(c.audio, c.n_mfcc, c.hidden, c.frame_pool) if c.uses_audio else None
        self.text = TextEncoder(c.text_model, c.hidden, c.finetune_text, c.max_tokens) if c.uses_text else None
        self.cross = CrossModalAttention(c.hidden, c.heads) if c.cross_attention else None
        n_parts = int(c.uses_audio) + int(c.uses_text)  # attention: pooled fused frames + text vector
        self.head = mlp_head(n_parts * c.hidden, c.hidden, c.n_classes, c.dropout)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Batch fields this model reads: ``mfcc``, ``tokens`` (fine-tuned) or ``text_states`` (frozen)."""
        needed = []
        if self.audio is not None:
            needed.append("mfcc")
        if self.text is not None:
            needed.append("tokens" if self.config.finetune_text else "text_states")
        return tuple(needed)

    def fit_audio_stats(self, frames: torch.Tensor) -> None:
        """Set MFCC normalisation from the training frames (N, n_mfcc); a no-op without audio."""
        if self.audio is not None:
            self.audio.norm.fit(frames)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        parts: list[torch.Tensor] = []
        attention = frame_mask = None
        if self.audio is not None:
            frames, frame_mask, audio_vec = self.audio(batch["mfcc"], batch["mfcc_mask"])
        if self.text is not None:
            if "text_states" in batch:  # frozen encoder, states precomputed once
                token_mask = batch["text_states_mask"]
                tokens = self.text(states=batch["text_states"])
            else:
                token_mask = batch["tokens_mask"]
                tokens = self.text(batch["tokens"], token_mask)
            text_vec = masked_mean(tokens, token_mask)
        if self.cross is not None:
            pooled, attention = self.cross(frames, frame_mask, tokens, token_mask)
            parts = [pooled, text_vec]
        else:
            if self.audio is not None:
                parts.append(audio_vec)
            if self.text is not None:
                parts.append(text_vec)
        logits = self.head(concat_fusion(*parts))
        return {"logits": logits, "attention": attention, "frame_mask": frame_mask}

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
