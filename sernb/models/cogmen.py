"""Table 1 row "COGMEN": a dialogue-context graph model in the spirit of Joshi et al. (2022).

COGMEN (NAACL 2022) turns a conversation into a graph: one node per utterance with its
multimodal features, directed edges from each utterance to a window of past and future
utterances of the same dialog, relation types by (speaker of source, speaker of target,
direction), then RGCN layers (local, relation-aware) and graph-transformer layers (global),
and a classifier per node. We build that with PyTorch Geometric (``RGCNConv`` -> ``TransformerConv``)
on our features, which are simpler than the original's:

* audio node feature: mean and standard deviation of the utterance's 40-d MFCC (80-d),
  batch-normalised, linear map; COGMEN used OpenSMILE features;
* text node feature: a FROZEN sentence embedding (mean of the run's text encoder's token
  states, e.g. MiniLM offline), linear map; COGMEN used SBERT. No audio or text encoder is trained.

How it fits the one training loop (:func:`sernb.train.fit`), without hooks in the loop: a
training example is still one utterance, and its input is the graph of its dialog context, the
utterances within ``2 * window`` turns on each side (two message-passing layers of radius
``window`` see exactly that far, so the prediction equals the whole-dialog graph's). A batch of
utterances is a batch of small graphs flattened into one PyG graph; the loss is read at each
example's own node. Only the folds needed a hook: systems that need ``"dialog"`` get splits
that keep dialogs whole (``keep_dialogs=True``), so no test utterance sees a training
utterance as context. Needs the table's ``dialog`` and ``turn`` columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sernb.models.fusion import mlp_head
from sernb.models.inputs import INPUT_PROVIDERS, register_input
from sernb.models.registry import register
from sernb.models.text import TextEncoder


def relation_count(max_speakers: int) -> int:
    """(source speaker, target speaker, past/future) combinations."""
    return max_speakers * max_speakers * 2


def dialog_edges(speakers: torch.Tensor, window: int, max_speakers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges of one dialog of ``n`` utterances (in turn order) and their relation types.

    ``j -> i`` for ``0 < |i - j| <= window``; the type encodes the two speakers and whether the
    source is in the past (0) or the future (1) of the target. Self loops are left to the layers'
    root weights.
    """
    n = len(speakers)
    pos = torch.arange(n, device=speakers.device)
    gap = pos[None, :] - pos[:, None]  # [target, source] -> source - target
    target, source = torch.nonzero((gap != 0) & (gap.abs() <= window), as_tuple=True)
    future = (source > target).long()
    spk = speakers.clamp(0, max_speakers - 1)
    relation = (spk[source] * max_speakers + spk[target]) * 2 + future
    return torch.stack([source, target]), relation


class COGMEN(nn.Module):
    """Utterance nodes (audio ++ text) -> RGCNConv -> TransformerConv -> MLP at the target node."""

    inputs: tuple[str, ...] = ("dialog_nodes", "dialog_speaker", "dialog_target")
    pretrained_prefixes: tuple[str, ...] = ("text.backbone.",)  # frozen anyway

    def __init__(self, n_classes: int = 6, text_model: str = "minilm", max_tokens: int = 128,
                 n_mfcc: int = 40, hidden: int = 128, window: int = 4, max_speakers: int = 2,
                 heads: int = 4, dropout: float = 0.3) -> None:
        from torch_geometric.nn import RGCNConv, TransformerConv

        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden={hidden} must be divisible by heads={heads}")
        self.window, self.max_speakers, self.n_audio = window, max_speakers, 2 * n_mfcc
        self.text = TextEncoder(text_model, hidden, finetune=False, max_tokens=max_tokens)  # proj is trained
        self.audio_norm = nn.BatchNorm1d(self.n_audio)
        self.audio_proj = nn.Linear(self.n_audio, hidden)
        self.node = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.ReLU())
        self.rgcn = RGCNConv(hidden, hidden, relation_count(max_speakers))
        self.transformer = TransformerConv(hidden, hidden // heads, heads=heads, dropout=0.1)
        self.head = mlp_head(2 * hidden, hidden, n_classes, dropout)

    @property
    def context_radius(self) -> int:
        """Turns on each side that can reach a node through the two graph layers."""
        return 2 * self.window

    def encoders(self) -> dict[str, str]:
        return {"text": f"frozen {self.text.spec.label} sentence embeddings (mean of token states)",
                "audio": "MFCC mean+std per utterance (80-d)"}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        mask = batch["dialog_nodes_mask"]  # (B, N): real context utterances
        feats = batch["dialog_nodes"][mask].float()  # (nodes, 80 + D_text), graphs one after another
        audio = self.audio_proj(self.audio_norm(feats[:, : self.n_audio]))
        text = self.text.proj(feats[:, self.n_audio:])
        x = self.node(torch.cat([audio, text], -1))
        edges, relations, offsets = [], [], []
        start = 0
        for b, count in enumerate(mask.sum(1).tolist()):
            e, r = dialog_edges(batch["dialog_speaker"][b, :count], self.window, self.max_speakers)
            edges.append(e + start)
            relations.append(r)
            offsets.append(start)
            start += count
        edge_index, edge_type = torch.cat(edges, 1), torch.cat(relations)
        h = torch.relu(self.rgcn(x, edge_index, edge_type))
        h = torch.relu(self.transformer(h, edge_index))
        target = torch.as_tensor(offsets, device=x.device) + batch["dialog_target"][:, 0]
        return {"logits": self.head(torch.cat([x[target], h[target]], -1)), "attention": None}


@register("cogmen", needs=("audio", "text", "dialog"), paper="Table 1: COGMEN (Joshi et al. 2022 style)",
          description="dialog graph: utterance nodes, speaker/direction relations, RGCN + graph transformer")
def build_cogmen(n_classes: int = 6, text_model: str = "minilm", max_tokens: int = 128,
                 **options: Any) -> COGMEN:
    return COGMEN(n_classes=n_classes, text_model=text_model, max_tokens=max_tokens, **options)


def dialog_context(model: COGMEN, table: pd.DataFrame, context: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Per row: its context window's node features, local speaker ids and its own position.

    Rows of one dialog share the dialog's arrays (views, no copies). Cached in ``context``.
    """
    from sernb.models.text import frozen_token_states

    for column in ("dialog", "turn", "speaker"):
        if column not in table.columns:
            raise KeyError(f"cogmen needs a {column!r} column in the utterance table")
    key = f"cogmen:{model.context_radius}:{model.max_speakers}:{model.text.fingerprint()}:{len(table)}"
    if key in context:
        return context[key]
    mfcc = INPUT_PROVIDERS["mfcc"](model, table, context)
    states = frozen_token_states(model.text, table["text"].tolist(), device=context["device"],
                                 progress=context.get("progress", False))
    feats = np.stack([np.concatenate([m.mean(0), m.std(0), s.mean(0)]).astype(np.float32)
                      for m, s in zip(mfcc, states, strict=True)])
    out: dict[str, list[Any]] = {"dialog_nodes": [None] * len(table), "dialog_speaker": [None] * len(table),
                                 "dialog_target": [None] * len(table)}
    radius = model.context_radius
    positions = pd.Series(np.arange(len(table)), index=table.index)
    for _, rows in table.groupby("dialog", sort=False):
        order = positions[rows.sort_values("turn", kind="stable").index].to_numpy()
        speakers = pd.factorize(table["speaker"].to_numpy()[order])[0].astype(np.int64)  # first seen = 0
        nodes = feats[order]
        for i, row in enumerate(order):
            lo, hi = max(0, i - radius), min(len(order), i + radius + 1)
            out["dialog_nodes"][row] = nodes[lo:hi]
            out["dialog_speaker"][row] = speakers[lo:hi]
            out["dialog_target"][row] = np.asarray([i - lo], dtype=np.int64)
    context[key] = out
    return out


# The three dialog fields come from one computation (cached in the context).
for _field in COGMEN.inputs:
    register_input(_field)(lambda model, table, context, _f=_field: dialog_context(model, table, context)[_f])
