"""Fusion of the two branches and the classifier head.

* :class:`CrossModalAttention`: the paper's 8-head attention (Section 3.4, Eq. 3) with queries from
  audio frames and keys/values from text tokens, masks on both sides, weights kept per head.
* :func:`concat_fusion`: the baseline's concatenation of the two global vectors.
* :func:`mlp_head`: the 2-layer MLP classifier with dropout 0.3.

Chapter "Table 5: what the attention looks at" plots the weights this module returns.
"""

from __future__ import annotations

import torch
from torch import nn

from sernb.models.audio import masked_mean


class CrossModalAttention(nn.Module):
    """Audio frames attend to text tokens; the result is pooled over the real frames.

    ``out = LayerNorm(A + MHA(q=A, k=T, v=T))``: the residual keeps each frame's own acoustics,
    the attention adds what it finds in the words. Padded tokens are masked out of the softmax
    (they get exactly zero weight) and padded frames are excluded from the mean pooling.
    """

    def __init__(self, dim: int = 256, heads: int = 8) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, frames: torch.Tensor, frame_mask: torch.Tensor, tokens: torch.Tensor,
                token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(pooled (B, dim), weights (B, heads, T, L))``; masks are True where real."""
        attended, weights = self.attn(
            frames, tokens, tokens, key_padding_mask=~token_mask,
            need_weights=True, average_attn_weights=False,
        )
        fused = self.norm(frames + attended)
        return masked_mean(fused, frame_mask), weights


def concat_fusion(*vectors: torch.Tensor) -> torch.Tensor:
    """Early fusion of global vectors: plain concatenation (the baseline of Table 2)."""
    return torch.cat(vectors, dim=-1)


def mlp_head(in_dim: int, hidden: int, n_classes: int, dropout: float = 0.3) -> nn.Sequential:
    """The paper's 2-layer MLP classifier (Section 3.1) with dropout before each layer."""
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(in_dim, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, n_classes),
    )
