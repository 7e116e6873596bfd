"""Audio branch: 40-d MFCC frames -> a frame sequence (for attention) and a global vector.

Two encoders share one interface, ``forward(mfcc, mask) -> (frames, frame_mask, global)``:

* :class:`BiLSTMAudio`, the paper's temporal model (Section 3.2, Eq. 1), and
* :class:`MeanAudio`, the baseline's "static statistics": no temporal context at all.

Used in chapter "Training the paper's model" and by every system in the registry that hears audio.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of ``x`` (B, T, D) counting only positions where ``mask`` (B, T) is True.

    Padded frames and tokens must not dilute the average, so a plain ``x.mean(1)`` is wrong.
    """
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def pool_frames(x: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Average every ``k`` consecutive real frames: (B, T, D) -> (B, ceil(T/k), D), with the new mask.

    The paper's "hierarchical pooling" (Section 2.1) to cut the LSTM's cost: at k=3 the 10 ms MFCC hop
    becomes 30 ms, still fine for prosody, and the LSTM runs on a third of the steps.
    """
    if k == 1:
        return x, mask
    batch, steps, dim = x.shape
    extra = (-steps) % k
    x = F.pad(x * mask.unsqueeze(-1).to(x.dtype), (0, 0, 0, extra))
    mask = F.pad(mask, (0, extra))
    sums = x.view(batch, -1, k, dim).sum(2)
    counts = mask.view(batch, -1, k).sum(2)
    return sums / counts.clamp_min(1).unsqueeze(-1).to(x.dtype), counts > 0


class MFCCNorm(nn.Module):
    """Per-coefficient standardisation with statistics of the training set, optionally followed by
    each utterance's own (``per_utterance``: cepstral mean and variance normalisation, CMVN). With
    ``per_speaker`` the frames arrive standardised with their speaker's statistics over all of the
    speaker's clips (:func:`sernb.models.inputs.speaker_normalised`), which keeps the differences
    between one speaker's clips, loudness included, and removes the voice and the microphone.

    Raw MFCC mix scales (c0 is in the hundreds); the statistics are buffers, so they travel in the
    checkpoint and ``sernb predict`` normalises a new recording exactly as in training. On real
    speech the microphone, the room and the voice shift every coefficient of a clip; CMVN removes
    that offset (and, with it, the clip's overall loudness, which is itself a cue).
    """

    def __init__(self, n_mfcc: int, per_utterance: bool = False, per_speaker: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mfcc))
        self.register_buffer("std", torch.ones(n_mfcc))
        self.per_utterance = per_utterance
        #: the input frames were standardised per speaker before they got here (mfcc_input does it)
        self.per_speaker = per_speaker

    @torch.no_grad()
    def fit(self, frames: torch.Tensor) -> None:
        """Set the statistics from all training frames stacked as (N, n_mfcc)."""
        self.mean.copy_(frames.mean(0))
        self.std.copy_(frames.std(0).clamp_min(1e-5))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if self.per_utterance and mask is not None:
            weights = mask.unsqueeze(-1).to(x.dtype)
            count = weights.sum(1, keepdim=True).clamp_min(1)
            mean = (x * weights).sum(1, keepdim=True) / count
            std = (((x - mean) ** 2 * weights).sum(1, keepdim=True) / count).sqrt().clamp_min(1e-3)
            x = (x - mean) / std * weights
        return x


def mask_spectrum(x: torch.Tensor, mask: torch.Tensor, p: float) -> torch.Tensor:
    """SpecAugment-style masking for training (Park et al., 2019): with probability ``p`` per clip,
    one band of up to 20% of the coefficients and two spans of up to 10% of the clip's frames are
    set to 0 (the mean, after normalisation). Draws from torch's seeded generator."""
    batch, steps, dim = x.shape
    device = x.device
    chosen = torch.rand(batch, device=device) < p
    width = (torch.rand(batch, device=device) * 0.2 * dim).long()
    start = (torch.rand(batch, device=device) * (dim - width + 1)).long().clamp_max(dim - 1)
    coefficient = torch.arange(dim, device=device)
    drop = ((coefficient >= start[:, None]) & (coefficient < (start + width)[:, None]))[:, None, :]
    lengths = mask.sum(1)
    step = torch.arange(steps, device=device)
    for _ in range(2):
        span = (torch.rand(batch, device=device) * 0.1 * lengths).long()
        first = (torch.rand(batch, device=device) * (lengths - span + 1)).long()
        drop = drop | ((step >= first[:, None]) & (step < (first + span)[:, None]))[:, :, None]
    return x.masked_fill(drop & chosen[:, None, None], 0.0)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` steps of each row of ``x`` (B, T, D); padding stays at the end."""
    steps = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
    source = lengths.unsqueeze(1) - 1 - steps
    source = torch.where(source >= 0, source, steps)  # padded positions map to themselves
    return x.gather(1, source.unsqueeze(-1).expand_as(x))


class MaskedBiLSTM(nn.Module):
    """A bidirectional LSTM over padded sequences: (B, T, in_dim) -> (B, T, 2 * hidden).

    The two directions are two ``nn.LSTM``: the backward one reads each sequence reversed within
    its own length, so it starts at the sequence's last real step, never in the padding. (This is
    what ``pack_padded_sequence`` does, but packed LSTMs run 20x slower on CPU.) Outputs at padded
    steps are zero. The audio branch (:class:`BiLSTMAudio`) and BLSTM+DCNN's text branch use it.
    """

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(in_dim, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(in_dim, hidden, batch_first=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1)
        ahead, _ = self.forward_lstm(x)
        back, _ = self.backward_lstm(reverse_padded(x, lengths))
        out = torch.cat([ahead, reverse_padded(back, lengths)], dim=-1)
        return out * mask.unsqueeze(-1).to(out.dtype)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        # models saved before the two BiLSTMs became this one class named them ahead/back
        for old, new in (("ahead.", "forward_lstm."), ("back.", "backward_lstm.")):
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                state_dict[prefix + new + key[len(prefix + old):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args)


class BiLSTMAudio(MaskedBiLSTM):
    """MFCC frames -> normalised, pooled -> :class:`MaskedBiLSTM` (``hidden`` = 2 x hidden/2 outputs
    per frame). The global vector is the masked temporal mean (Section 3.2)."""

    def __init__(self, n_mfcc: int = 40, hidden: int = 256, frame_pool: int = 1, mfcc_norm: str = "train",
                 spec_mask: float = 0.0) -> None:
        super().__init__(n_mfcc, hidden // 2)
        self.norm = MFCCNorm(n_mfcc, per_utterance=mfcc_norm == "utterance", per_speaker=mfcc_norm == "speaker")
        self.frame_pool = frame_pool
        self.spec_mask = spec_mask
        self.out_dim = hidden

    def forward(self, mfcc: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(frames (B, T', hidden), frame mask (B, T'), global vector (B, hidden))``."""
        # The LSTM runs in float32 even under bf16 autocast: it is cheap and numerically touchy.
        with torch.autocast(device_type=mfcc.device.type, enabled=False):
            x = self.norm(mfcc.float(), mask)
            if self.training and self.spec_mask > 0:
                x = mask_spectrum(x, mask, self.spec_mask)
            x, mask = pool_frames(x, mask, self.frame_pool)
            frames = super().forward(x, mask)
        return frames, mask, masked_mean(frames, mask)


class MeanAudio(nn.Module):
    """The baseline: a frame-wise linear map of normalised MFCC, no temporal context.

    Its global vector equals a linear map of the mean-pooled MFCC (mean and linear commute), which
    is the paper's "MFCC means"; keeping the frames lets it feed attention too, as an extra ablation.
    """

    def __init__(self, n_mfcc: int = 40, hidden: int = 256, frame_pool: int = 1) -> None:
        super().__init__()
        self.norm = MFCCNorm(n_mfcc)
        self.frame_pool = frame_pool
        self.proj = nn.Linear(n_mfcc, hidden)
        self.out_dim = hidden

    def forward(self, mfcc: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, mask = pool_frames(self.norm(mfcc.float()), mask, self.frame_pool)
        frames = self.proj(x)
        return frames, mask, masked_mean(frames, mask)


def build_audio_encoder(kind: str, n_mfcc: int, hidden: int, frame_pool: int = 1, mfcc_norm: str = "train",
                        spec_mask: float = 0.0) -> nn.Module:
    """``"bilstm"`` or ``"mean"`` (see :class:`~sernb.models.config.ModelConfig`)."""
    if mfcc_norm not in ("train", "utterance", "speaker"):
        raise ValueError(f"mfcc_norm must be 'train', 'utterance' or 'speaker', not {mfcc_norm!r}")
    if kind == "bilstm":
        return BiLSTMAudio(n_mfcc, hidden, frame_pool, mfcc_norm, spec_mask)
    if kind == "mean":
        if mfcc_norm != "train" or spec_mask:
            raise ValueError("mfcc_norm and spec_mask apply to the BiLSTM audio branch, not the mean-pooled one")
        return MeanAudio(n_mfcc, hidden, frame_pool)
    raise ValueError(f"unknown audio encoder {kind!r}; choose 'bilstm' or 'mean'")
