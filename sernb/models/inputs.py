"""Input providers: how each batch field a model reads is computed from the utterance table.

A model names the batch fields it reads in ``model.inputs`` (``"mfcc"``, ``"tokens"``,
``"text_states"``, ...). Each field has one provider, ``provider(model, table, context) -> one array
per row``, registered with :func:`register_input` in the module that defines the system needing it
(the comparison systems register theirs in :mod:`sernb.models.blstm_dcnn`, :mod:`sernb.models.cogmen`
and :mod:`sernb.models.wav2vec`). :func:`prepare_inputs` computes every field a model asks for.
``context`` carries the device, the progress flag and what a run computes once and shares (MFCC).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

InputProvider = Callable[[nn.Module, pd.DataFrame, dict[str, Any]], list[np.ndarray]]
#: Batch field -> how to compute it for every row of a table. New systems register theirs here.
INPUT_PROVIDERS: dict[str, InputProvider] = {}


def register_input(name: str) -> Callable[[InputProvider], InputProvider]:
    """Decorator: ``provider(model, table, context) -> one array per row`` for batch field ``name``."""

    def decorator(provider: InputProvider) -> InputProvider:
        INPUT_PROVIDERS[name] = provider
        return provider

    return decorator


def prepare_inputs(model: nn.Module, table: pd.DataFrame, context: dict[str, Any]) -> dict[str, list]:
    """Every batch field ``model.inputs`` asks for, for every row of ``table``."""
    missing = [name for name in model.inputs if name not in INPUT_PROVIDERS]
    if missing:
        raise KeyError(f"no input provider for {missing}; register one with sernb.models.inputs.register_input")
    return {name: INPUT_PROVIDERS[name](model, table, context) for name in model.inputs}


@register_input("mfcc")
def mfcc_input(model: nn.Module, table: pd.DataFrame, context: dict[str, Any]) -> list[np.ndarray]:
    """40-d MFCC frames of every clip (cached on disk; computed once per run in ``context``)."""
    if "mfcc" not in context:
        from sernb.data.features import extract_mfcc

        context["mfcc"] = extract_mfcc(table, progress=context.get("progress", False))
    if reads_speaker_normalised(model):
        if "mfcc_by_speaker" not in context:
            speakers = table["speaker"].tolist()
            # kept for the clips that training augments each epoch (sernb.augment): the same statistics
            context["mfcc_speaker_stats"] = speaker_stats(context["mfcc"], speakers)
            context["mfcc_by_speaker"] = speaker_normalised(context["mfcc"], speakers, context["mfcc_speaker_stats"])
        return context["mfcc_by_speaker"]
    return context["mfcc"]


def reads_speaker_normalised(model: nn.Module) -> bool:
    """Whether ``model``'s audio branch takes MFCCs standardised per speaker (``mfcc_norm="speaker"``):
    every MFCC it reads, in training, augmentation and prediction, must be standardised so."""
    return getattr(getattr(getattr(model, "audio", None), "norm", None), "per_speaker", False)


SpeakerStats = dict[str, tuple[np.ndarray, np.ndarray]]


def speaker_stats(frames: list[np.ndarray], speakers: list[str]) -> SpeakerStats:
    """Each speaker's per-coefficient mean and std over all of that speaker's frames (test speakers'
    too: their audio, never their labels, which is how speaker normalisation is used under
    speaker-independent protocols)."""
    stats = {}
    for speaker in set(speakers):
        stacked = np.concatenate([f for f, s in zip(frames, speakers, strict=True) if s == speaker])
        stats[speaker] = (stacked.mean(0), np.maximum(stacked.std(0), 1e-5))
    return stats


def speaker_normalised(frames: list[np.ndarray], speakers: list[str], stats: SpeakerStats | None = None
                       ) -> list[np.ndarray]:
    """Each clip's MFCC frames standardised with its speaker's statistics (:func:`speaker_stats`,
    computed from ``frames`` when not given)."""
    stats = speaker_stats(frames, speakers) if stats is None else stats
    return [((f - stats[s][0]) / stats[s][1]).astype(np.float32) for f, s in zip(frames, speakers, strict=True)]


def dialog_contexts(table: pd.DataFrame) -> list[str] | None:
    """Each row's previous turns, when the run reads them (``text_context``;
    :func:`sernb.experiments.with_text_source` adds the column), else None."""
    return table["context"].fillna("").astype(str).tolist() if "context" in table.columns else None


@register_input("tokens")
def token_input(model: nn.Module, table: pd.DataFrame, context: dict[str, Any]) -> list[np.ndarray]:
    """Token ids of every transcript (with its dialog context when the table has one), from the
    model's text encoder."""
    return model.text.tokenize(table["text"].tolist(), dialog_contexts(table))


@register_input("text_states")
def frozen_text_state_input(model: nn.Module, table: pd.DataFrame, context: dict[str, Any]) -> list[np.ndarray]:
    """Token states of a frozen text encoder, computed once (and cached on disk)."""
    from sernb.models.text import frozen_token_states

    states = frozen_token_states(model.text, table["text"].tolist(), contexts=dialog_contexts(table),
                                 device=context["device"],
                                 progress=context.get("progress", False))
    if getattr(model, "cross", True) is None:
        # Concatenation reads only the mean token: masked_mean(proj(S)) == proj(mean(S)) for the
        # linear projection, so one vector per text gives the same logits and 1/L of the batch.
        return [s.mean(0, keepdims=True) for s in states]
    return states
