"""Table 1 row "BLSTM+DCNN": early fusion of a text BiLSTM and an MFCC deep CNN.

What the original was: Yoon, Byun and Jung (2018), "Multimodal Speech Emotion Recognition Using
Audio and Text" (MDRE), encodes the audio with an RNN over MFCC frames plus prosodic features and
the transcript with an RNN over word embeddings, concatenates the two final states and classifies.
The paper under study labels that comparison row "BLSTM+DCNN" and gives no further details.

What we build (the label taken literally, in the spirit of MDRE's early fusion):

* text: a *learned* embedding over the ids of the run's tokenizer (no pretrained weights) ->
  bidirectional LSTM -> masked mean over tokens;
* audio: normalised 40-d MFCC frames (averaged ``frame_pool`` at a time, as for the paper's model
  on the CPU profiles) -> a deep 1-D CNN (dilated conv blocks, so the receptive
  field grows without pooling and the frame mask stays exact) -> masked mean and max over frames;
* fusion: concatenation -> the shared 2-layer MLP head.

No prosodic features, no pretrained word vectors: numbers are not comparable to Yoon et al.'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sernb.models.audio import MaskedBiLSTM, MFCCNorm, masked_mean, pool_frames
from sernb.models.fusion import mlp_head
from sernb.models.inputs import register_input
from sernb.models.registry import register


def load_tokenizer(text_model: str) -> tuple[Any, str]:
    """``(tokenizer, label)`` of ``text_model``: only its vocabulary is used, never its weights."""
    from transformers import AutoTokenizer

    from sernb.models.text import minilm_path, resolve_text_model

    spec = resolve_text_model(text_model)
    location = minilm_path() if spec.source == "tiny" else spec.location
    tokenizer = AutoTokenizer.from_pretrained(location)
    name = "minilm" if spec.source == "tiny" else spec.name
    return tokenizer, f"{name} tokenizer ids -> learned embeddings"


class DeepCNN(nn.Module):
    """MFCC frames (B, T, n_mfcc) -> dilated Conv1d blocks -> masked mean ++ masked max (B, 2C)."""

    def __init__(self, n_mfcc: int = 40, channels: Sequence[int] = (64, 128, 128, 128),
                 kernel: int = 5, dropout: float = 0.1, frame_pool: int = 1) -> None:
        super().__init__()
        self.norm = MFCCNorm(n_mfcc)
        self.frame_pool = frame_pool
        blocks, width = [], n_mfcc
        for i, out in enumerate(channels):
            dilation = 2 ** i
            blocks.append(nn.Sequential(
                nn.Conv1d(width, out, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation),
                nn.ReLU(), nn.Dropout(dropout)))
            width = out
        self.blocks = nn.ModuleList(blocks)
        self.out_dim = 2 * width

    def forward(self, mfcc: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, mask = pool_frames(self.norm(mfcc.float()), mask, self.frame_pool)
        keep = mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        x = x.transpose(1, 2) * keep
        for block in self.blocks:
            x = block(x) * keep  # padded frames stay zero, so they never leak into real ones
        frames = x.transpose(1, 2)
        peak = frames.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        return torch.cat([masked_mean(frames, mask), peak.clamp_min(-1e4)], dim=-1)


class BLSTMDCNN(nn.Module):
    """Text BiLSTM over learned token embeddings ++ MFCC deep CNN -> MLP (early fusion)."""

    inputs: tuple[str, ...] = ("mfcc", "word_ids")
    pretrained_prefixes: tuple[str, ...] = ()  # nothing pretrained: one learning rate

    def __init__(self, n_classes: int = 6, text_model: str = "minilm", max_tokens: int = 128,
                 n_mfcc: int = 40, embedding_dim: int = 128, hidden: int = 256,
                 dropout: float = 0.3, frame_pool: int = 1) -> None:
        super().__init__()
        self.tokenizer, self.text_label = load_tokenizer(text_model)
        self.max_tokens = max_tokens
        pad = self.tokenizer.pad_token_id or 0
        self.embedding = nn.Embedding(len(self.tokenizer), embedding_dim, padding_idx=pad)
        self.text_rnn = MaskedBiLSTM(embedding_dim, hidden // 2)
        self.audio_cnn = DeepCNN(n_mfcc, frame_pool=frame_pool)
        self.head = mlp_head(hidden + self.audio_cnn.out_dim, hidden, n_classes, dropout)

    def tokenize(self, texts: Sequence[str]) -> list[np.ndarray]:
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens)["input_ids"]
        return [np.asarray(x, dtype=np.int64) for x in ids]

    def fit_audio_stats(self, frames: torch.Tensor) -> None:
        """MFCC normalisation from the training frames (called by :func:`sernb.experiments.run_fold`)."""
        self.audio_cnn.norm.fit(frames)

    def encoders(self) -> dict[str, str]:
        return {"text": self.text_label + " -> BiLSTM", "audio": "40-d MFCC -> deep CNN (4 dilated conv blocks)"}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        token_mask = batch["word_ids_mask"]
        with torch.autocast(device_type=token_mask.device.type, enabled=False):  # LSTM in float32
            words = self.text_rnn(self.embedding(batch["word_ids"]), token_mask)
        text_vec = masked_mean(words, token_mask)
        audio_vec = self.audio_cnn(batch["mfcc"], batch["mfcc_mask"])
        return {"logits": self.head(torch.cat([text_vec, audio_vec.to(text_vec.dtype)], -1)), "attention": None}


@register("blstm_dcnn", needs=("audio", "text"), paper="Table 1: BLSTM+DCNN (Yoon et al. 2018 style)",
          description="BiLSTM over learned token embeddings ++ deep CNN over MFCC, early fusion")
def build_blstm_dcnn(n_classes: int = 6, text_model: str = "minilm", max_tokens: int = 128,
                     frame_pool: int = 1, **options: Any) -> BLSTMDCNN:
    return BLSTMDCNN(n_classes=n_classes, text_model=text_model, max_tokens=max_tokens,
                     frame_pool=frame_pool, **options)


@register_input("word_ids")
def word_ids_input(model: nn.Module, table: Any, context: dict[str, Any]) -> list[np.ndarray]:
    """Input provider ``word_ids``: the model's own tokenizer ids, unpadded."""
    return model.tokenize(table["text"].tolist())
