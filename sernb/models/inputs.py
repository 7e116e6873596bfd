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
    norm = getattr(getattr(model, "audio", None), "norm", None)
    if getattr(norm, "per_speaker", False):
        if "mfcc_by_speaker" not in context:
            context["mfcc_by_speaker"] = speaker_normalised(context["mfcc"], table["speaker"].tolist())
        return context["mfcc_by_speaker"]
    return context["mfcc"]


def speaker_normalised(frames: list[np.ndarray], speakers: list[str]) -> list[np.ndarray]:
    """Each clip's MFCC frames standardised with its speaker's mean and std over all of that
    speaker's frames (test speakers' too: their audio, never their labels, which is how speaker
    normalisation is used under speaker-independent protocols)."""
    stats = {}
    for speaker in set(speakers):
        stacked = np.concatenate([f for f, s in zip(frames, speakers, strict=True) if s == speaker])
        stats[speaker] = (stacked.mean(0), np.maximum(stacked.std(0), 1e-5))
    return [((f - stats[s][0]) / stats[s][1]).astype(np.float32) for f, s in zip(frames, speakers, strict=True)]


@register_input("tokens")
def token_input(model: nn.Module, table: pd.DataFrame, context: dict[str, Any]) -> list[np.ndarray]:
    """Token ids of every transcript, from the model's text encoder."""
    return model.text.tokenize(table["text"].tolist())


@register_input("text_states")
def frozen_text_state_input(model: nn.Module, table: pd.DataFrame, context: dict[str, Any]) -> list[np.ndarray]:
    """Token states of a frozen text encoder, computed once (and cached on disk)."""
    from sernb.models.text import frozen_token_states

    states = frozen_token_states(model.text, table["text"].tolist(), device=context["device"],
                                 progress=context.get("progress", False))
    if getattr(model, "cross", True) is None:
        # Concatenation reads only the mean token: masked_mean(proj(S)) == proj(mean(S)) for the
        # linear projection, so one vector per text gives the same logits and 1/L of the batch.
        return [s.mean(0, keepdims=True) for s in states]
    return states
