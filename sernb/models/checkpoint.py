"""A trained model as a self-describing folder, so ``sernb predict`` can rebuild it anywhere.

::

    model.json          system name, build options, class names, MFCC settings, provenance
    model.safetensors   all weights (including the MFCC normalisation statistics)
    text/               tokenizer files and the text backbone's config.json (no hub needed)

Used by ``sernb train`` (writes) and ``sernb predict`` / chapter "Try it yourself" (reads).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from sernb.models.registry import build_model
from sernb.models.text import weights_from_checkpoint
from sernb.utils import atomic_write_bytes, atomic_write_json

MODEL_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
TEXT_DIR = "text"
FORMAT = 1


def save_model(model: nn.Module, folder: str | Path, *, labels: list[str], extra: dict[str, Any] | None = None
               ) -> Path:
    """Write ``model`` into ``folder``; ``extra`` (MFCC config, max_frames, run info) goes into model.json."""
    import sernb

    folder = Path(folder)
    config = getattr(model, "config", None)
    options = config.to_dict() if hasattr(config, "to_dict") else dict(getattr(model, "sernb_options", {}))
    info: dict[str, Any] = {
        "format": FORMAT,
        "system": getattr(model, "sernb_system", None),
        "options": options,
        "labels": list(labels),
        "inputs": list(getattr(model, "inputs", ())),
        "sernb_version": sernb.__version__,
        **(extra or {}),
    }
    if info["system"] is None:
        raise ValueError("save_model needs a model built by sernb.models.build_model (it names its system)")
    text = getattr(model, "text", None)
    if text is not None:
        info["text_encoder"] = {"name": text.spec.name, "label": text.spec.label, "untrained": text.spec.untrained}
        text.tokenizer.save_pretrained(folder / TEXT_DIR)
        text.backbone.config.save_pretrained(folder / TEXT_DIR)
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS_FILE, save_safetensors(state))
    atomic_write_json(folder / MODEL_FILE, info)  # last: its presence marks a complete folder
    return folder


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved by :func:`save_model`; returns ``(model in eval mode, model.json)``."""
    folder = Path(folder)
    meta_path = folder / MODEL_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"{folder} is not a sernb model checkpoint (no {MODEL_FILE}); "
                                "train one with `sernb train ... --out DIR` and pass DIR/model")
    info = json.loads(meta_path.read_text())
    options = dict(info["options"])
    if (folder / TEXT_DIR).is_dir():
        options["text_model"] = str(folder / TEXT_DIR)
    with weights_from_checkpoint():
        model = build_model(info["system"], **options)
    model.load_state_dict(load_safetensors((folder / WEIGHTS_FILE).read_bytes()))
    return model.to(device).eval(), info
