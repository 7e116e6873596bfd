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

from sernb.errors import CheckpointError
from sernb.models.registry import build_model
from sernb.models.text import weights_from_checkpoint
from sernb.utils import atomic_write_bytes, atomic_write_json

MODEL_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
TEXT_DIR = "text"
FORMAT = 1
#: A text/ folder needs one of these, else transformers quietly builds a tokenizer that maps every
#: word to [UNK] (and the model answers from the audio alone without a word of warning).
TOKENIZER_FILES = frozenset({"tokenizer.json", "spm.model", "vocab.txt", "vocab.json", "tokenizer.model",
                             "sentencepiece.bpe.model"})


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
        info["text_encoder"] = {"name": text.spec.name, "label": text.spec.label, "untrained": text.spec.untrained,
                                "tokenizer_size": len(text.tokenizer)}
        text.tokenizer.save_pretrained(folder / TEXT_DIR)
        text.backbone.config.save_pretrained(folder / TEXT_DIR)
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS_FILE, save_safetensors(state))
    atomic_write_json(folder / MODEL_FILE, info)  # last: its presence marks a complete folder
    return folder


def is_complete(folder: str | Path) -> bool:
    """Whether ``folder`` holds a whole saved model (model.json is written last, after the weights)."""
    folder = Path(folder)
    weights = folder / WEIGHTS_FILE
    return (folder / MODEL_FILE).is_file() and weights.is_file() and weights.stat().st_size > 0


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved by :func:`save_model`; returns ``(model in eval mode, model.json)``.

    A missing, incomplete or damaged folder raises :class:`sernb.errors.CheckpointError` naming
    the file and the problem.
    """
    folder = Path(folder)
    meta_path = folder / MODEL_FILE
    if not folder.exists():
        raise CheckpointError(folder, "not a sernb model checkpoint: no such folder; train one with `sernb train ... --out DIR` "
                              "and pass DIR/model")
    if not folder.is_dir():
        raise CheckpointError(folder, "is a file, not a model folder: pass the folder that holds "
                              f"{MODEL_FILE} and {WEIGHTS_FILE}")
    if not meta_path.exists() and (folder / "model" / MODEL_FILE).is_file():
        raise CheckpointError(folder, f"this is the output folder of `sernb train`; pass its model: "
                              f"--checkpoint {folder / 'model'}")
    if not meta_path.exists():
        raise CheckpointError(folder, f"not a sernb model checkpoint (no {MODEL_FILE}; an interrupted save "
                              "leaves none); train one with `sernb train ... --out DIR` and pass DIR/model")
    info = _read_info(meta_path)
    options = dict(info["options"])
    options.setdefault("n_classes", len(info["labels"]))  # so a label list that does not fit the head shows
    if (folder / TEXT_DIR).is_dir():
        options["text_model"] = str(folder / TEXT_DIR)
    from sernb.models.registry import system_names

    if info["system"] not in system_names():
        raise CheckpointError(meta_path, f"unknown system {info['system']!r} (registered: "
                              f"{', '.join(system_names())}); was it saved by a newer sernb or a plugin?")
    state = _read_weights(folder / WEIGHTS_FILE)
    text_dir = folder / TEXT_DIR
    if text_dir.is_dir() and not {p.name for p in text_dir.iterdir()} & TOKENIZER_FILES:
        raise CheckpointError(text_dir, f"no tokenizer files (one of {', '.join(sorted(TOKENIZER_FILES))}); "
                              "copy the whole model folder again")
    try:
        with weights_from_checkpoint():
            model = build_model(info["system"], **options)
    except (OSError, ValueError, TypeError, KeyError) as exc:  # options or text/ files damaged
        raise CheckpointError(meta_path, f"cannot rebuild system {info['system']!r} from its options and "
                              f"{TEXT_DIR}/ folder: {type(exc).__name__}: {exc}") from exc
    _check_weights(model, state, info, folder / WEIGHTS_FILE)
    size = (info.get("text_encoder") or {}).get("tokenizer_size")
    text = getattr(model, "text", None)
    if size is not None and text is not None and len(text.tokenizer) != size:
        raise CheckpointError(text_dir, f"its tokenizer has {len(text.tokenizer)} tokens, the model was trained "
                              f"with {size}; the tokenizer files are damaged or from another model")
    model.load_state_dict(state)
    return model.to(device).eval(), info


def _read_info(meta_path: Path) -> dict[str, Any]:
    try:
        info = json.loads(meta_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CheckpointError(meta_path, f"not UTF-8 text ({exc.reason} at byte {exc.start}); the file is damaged") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(meta_path, f"damaged JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(info, dict):
        raise CheckpointError(meta_path, f"expected a JSON object, found {type(info).__name__}")
    missing = [k for k in ("system", "options", "labels") if k not in info]
    if missing:
        raise CheckpointError(meta_path, f"lacks the field(s) {missing}; the file is damaged or not sernb's")
    if info.get("format", FORMAT) > FORMAT:
        raise CheckpointError(meta_path, f"format {info['format']} is newer than this sernb reads ({FORMAT}); "
                              "upgrade sernb")
    labels = info["labels"]
    if not isinstance(info["options"], dict):
        raise CheckpointError(meta_path, "'options' must be a JSON object")
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) and x for x in labels)):
        raise CheckpointError(meta_path, f"'labels' must be a non-empty list of class names, not {labels!r}")
    if len(set(labels)) != len(labels):
        raise CheckpointError(meta_path, f"'labels' repeats a class name: {labels}")
    n_classes = info["options"].get("n_classes")
    if n_classes is not None and n_classes != len(labels):
        raise CheckpointError(meta_path, f"lists {len(labels)} labels {labels} but its options say "
                              f"n_classes={n_classes}")
    return info


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(path, "the weights file is missing (an interrupted save?); retrain or copy it again")
    data = path.read_bytes()
    try:
        return load_safetensors(data)
    except Exception as exc:  # safetensors raises its own SafetensorError, or others on junk headers
        kind = "a truncated or damaged safetensors file"
        if data[:2] == b"PK" or data[:1] == b"\x80":
            kind = "a PyTorch pickle/zip file renamed, not safetensors (sernb never loads pickles)"
        elif not data:
            kind = "an empty file"
        raise CheckpointError(path, f"{kind} ({len(data):,} bytes): {exc}") from exc


def _check_weights(model: nn.Module, state: dict[str, torch.Tensor], info: dict[str, Any], path: Path) -> None:
    """Same names and shapes as the model; say which part differs instead of torch's wall of text."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(path, f"weights do not fit system {info['system']!r}: {len(missing)} missing "
                              f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})")
    for name, tensor in expected.items():
        if state[name].is_floating_point() and not torch.isfinite(state[name]).all():
            raise CheckpointError(path, f"tensor {name} holds NaN or infinite values; the model cannot give "
                                  "a meaningful answer (a diverged training run or a damaged file)")
        if tuple(state[name].shape) != tuple(tensor.shape):
            hint = ""
            if name.endswith(".weight") and state[name].ndim == 2 and tensor.shape[0] == len(info["labels"]):
                hint = f" (model.json lists {len(info['labels'])} labels; the weights have {state[name].shape[0]} outputs)"
            raise CheckpointError(path, f"tensor {name} has shape {tuple(state[name].shape)}, the model expects "
                                  f"{tuple(tensor.shape)}{hint}")
