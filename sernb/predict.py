"""Predict the emotion of a recording the user brings (``sernb predict``; chapter "Try it yourself").

Any sample rate, mono or stereo: the clip is averaged to mono and resampled to the model's rate,
then turned into MFCC frames exactly as in training (the settings are read from the checkpoint).
Models that read text need the transcript; an audio-only model does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sernb.utils import PROJECT_ROOT

if TYPE_CHECKING:
    from torch import nn

#: Where ``sernb train`` puts the model of its first run unless ``--out`` says otherwise.
DEFAULT_CHECKPOINT = PROJECT_ROOT / "runs" / "train" / "model"


class TranscriptNeeded(ValueError):
    """The model reads text but no transcript was given."""


@dataclass
class Prediction:
    """Class probabilities for one recording and the top class."""

    label: str
    probs: dict[str, float]
    system: str
    modalities: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    #: Cross-modal attention (heads, audio steps, tokens) and the token strings, when the model has them.
    attention: np.ndarray | None = None
    tokens: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "probs": self.probs, "system": self.system,
                "modalities": list(self.modalities), "notes": self.notes}


def predict_file(wav: str | os.PathLike, text: str | None = None,
                 checkpoint: str | os.PathLike = DEFAULT_CHECKPOINT, device: str = "cpu") -> Prediction:
    """Class probabilities for ``wav`` (and its transcript ``text``) from a saved model.

    Raises :class:`sernb.data.audio.AudioError` for unreadable audio and :class:`TranscriptNeeded`
    when the model reads text and ``text`` is missing.
    """
    from sernb.models.checkpoint import load_model

    model, info = load_model(checkpoint, device=device)
    return predict_clip(model, info, wav, text, device=device, source=str(checkpoint))


def predict_clip(model: nn.Module, info: dict[str, Any], wav: str | os.PathLike, text: str | None = None, device: str = "cpu",
                 source: str = "memory") -> Prediction:
    """:func:`predict_file` for a model already loaded (``load_model``); also keeps its attention map.

    A notebook that predicts many clips loads the model once and calls this; ``source`` names the
    model in error messages.
    """
    from sernb.data.audio import load_audio
    from sernb.data.dataset import SERDataset
    from sernb.data.features import MFCCConfig, mfcc
    from sernb.train import predict

    reads_text = any(name in model.inputs for name in ("tokens", "text_states"))
    reads_audio = "mfcc" in model.inputs
    notes = []
    if reads_text and not (text and text.strip()):
        raise TranscriptNeeded(
            f"the model in {source} ({info['system']}) reads the transcript as well as the audio: "
            "pass it with --text \"...\". To predict from audio alone, train an audio-only model "
            "(sernb train --system audio_only --out DIR) and pass --checkpoint DIR/model.")
    if text and not reads_text:
        notes.append("this model is audio-only; the transcript was ignored")
    if info.get("text_encoder", {}).get("untrained"):
        notes.append("the text encoder had UNTRAINED random weights (a test model); do not trust this")
    inputs: dict[str, list[np.ndarray]] = {}
    if reads_audio:
        config = MFCCConfig(**info.get("mfcc", {}))
        inputs["mfcc"] = [mfcc(load_audio(wav, sr=config.sr), config)]
    elif not Path(wav).exists():
        notes.append(f"{wav} was not read: this model is text-only")
    if reads_text:
        inputs["tokens"] = model.text.tokenize([text])  # a frozen encoder runs on the fly here
    out = predict(model, SERDataset(inputs, max_frames=info.get("max_frames")), device=device,
                  keep_attention=[0])
    labels = info["labels"]
    probs = {name: float(p) for name, p in zip(labels, out.probs[0], strict=True)}
    modalities = tuple(m for m, used in (("audio", reads_audio), ("text", reads_text)) if used)
    tokens = model.text.tokenizer.convert_ids_to_tokens(inputs["tokens"][0].tolist()) if reads_text else []
    return Prediction(labels[int(out.preds[0])], probs, info["system"], modalities, notes,
                      attention=out.attention.get(0), tokens=tokens)
