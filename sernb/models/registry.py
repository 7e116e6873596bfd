"""Named systems: ``"ours"``, the ablation steps, single-modality rows, and room for more.

A system is a name, a factory that builds an ``nn.Module``, and the raw inputs it needs from the
utterance table (``"audio"``, ``"text"``; later systems may add e.g. ``"wav"`` or ``"dialog"``).

Adding a system (e.g. a Table 1 comparison row) is one call::

    from sernb.models.registry import register

    @register("wav2vec2", needs=("wav",), description="wav2vec2 audio-only", paper="Table 1")
    def build_wav2vec2(n_classes: int = 6, **common) -> nn.Module:
        ...

A factory always receives ``n_classes``; the profile-wide options ``text_model``, ``max_tokens``
and ``frame_pool`` only when its signature names them (:meth:`System.accepts`); user overrides
(``ExperimentConfig.model_options``) always. The module it returns has
``forward(batch) -> {"logits": ..., "attention": ... or None}`` and an ``inputs`` tuple naming the
batch fields it reads (see :mod:`sernb.data.dataset`). Chapter "Table 2: the ablation" lists the systems.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from torch import nn

from sernb.models.config import ModelConfig
from sernb.models.ser import SERModel

Factory = Callable[..., nn.Module]


@dataclass(frozen=True)
class System:
    """A registered system: how to build it and what it needs."""

    name: str
    factory: Factory
    needs: tuple[str, ...]
    description: str = ""
    paper: str = ""  # the paper row it reproduces, e.g. "Table 2, baseline"
    config: ModelConfig | None = None  # set for SERModel systems

    def accepts(self, option: str) -> bool:
        """Whether the factory takes ``option`` by name (a ModelConfig field, for configurations)."""
        if self.config is not None:
            return option in {f.name for f in fields(ModelConfig)}
        param = inspect.signature(self.factory).parameters.get(option)
        return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)

    def build(self, **options: Any) -> nn.Module:
        model = self.factory(**options)
        model.sernb_system = self.name  # lets a checkpoint say what it is
        model.sernb_options = dict(options)
        return model


_SYSTEMS: dict[str, System] = {}


def register(name: str, *, needs: tuple[str, ...], description: str = "", paper: str = "",
             replace_existing: bool = False, config: ModelConfig | None = None
             ) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory`` under ``name``. Re-registering a name is an error unless
    ``replace_existing`` (notebooks that re-run a cell pass it)."""

    def decorator(factory: Factory) -> Factory:
        if name in _SYSTEMS and not replace_existing:
            raise ValueError(f"system {name!r} is already registered; pass replace_existing=True")
        _SYSTEMS[name] = System(name, factory, tuple(needs), description, paper, config)
        return factory

    return decorator


def register_config(name: str, config: ModelConfig, *, description: str = "", paper: str = "",
                    replace_existing: bool = False) -> System:
    """Register a configuration of :class:`SERModel`; options given at build time override it."""
    allowed = {f.name for f in fields(ModelConfig)}

    def factory(**options: Any) -> SERModel:
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(f"system {name!r}: unknown option(s) {unknown}; ModelConfig has {sorted(allowed)}")
        return SERModel(replace(config, **options))

    needs = tuple(m for m in ("audio", "text") if m in config.modalities)
    register(name, needs=needs, description=description, paper=paper,
             replace_existing=replace_existing, config=config)(factory)
    return _SYSTEMS[name]


def get_system(name: str) -> System:
    """The registered system called ``name`` (a clear error lists the known names)."""
    try:
        return _SYSTEMS[name]
    except KeyError:
        raise KeyError(f"unknown system {name!r}; registered: {', '.join(system_names())}") from None


def system_names() -> list[str]:
    return list(_SYSTEMS)


def build_model(name: str, **options: Any) -> nn.Module:
    """Build the system ``name`` with ``options`` (e.g. ``n_classes=4, text_model="tiny-deberta"``)."""
    return get_system(name).build(**options)


def build_with_shared(name: str, n_classes: int, shared: dict[str, Any], **options: Any) -> nn.Module:
    """Build ``name`` with the profile-wide ``shared`` options it accepts, plus its own ``options``.

    ``shared`` holds ``text_model``, ``max_tokens``, ``frame_pool``: a system that has no text
    branch (or no frames to pool) simply does not receive them.
    """
    system = get_system(name)
    accepted = {k: v for k, v in shared.items() if system.accepts(k)}
    return system.build(n_classes=n_classes, **accepted, **options)


# The paper's ablation (Table 2), one step at a time, and the single-modality rows (Table 1).
_BASELINE = ModelConfig(audio="mean", finetune_text=False, fusion="concat")
register_config("baseline", _BASELINE, paper="Table 2: Baseline (mean pooling + static BERT)",
                description="mean-pooled MFCC + frozen text encoder, concatenation")
register_config("ablation_lstm", replace(_BASELINE, audio="bilstm"), paper="Table 2: +LSTM",
                description="BiLSTM over MFCC frames + frozen text encoder, concatenation")
register_config("ablation_finetune", replace(_BASELINE, audio="bilstm", finetune_text=True),
                paper="Table 2: +DeBERTa fine-tuning",
                description="BiLSTM + fine-tuned text encoder, concatenation")
register_config("ours", ModelConfig(), paper="Table 1/2: Ours (+cross-modal attention)",
                description="BiLSTM + fine-tuned text encoder + 8-head cross-modal attention")
register_config("ours_whisper", ModelConfig(audio_encoder="whisper"),
                paper="beyond the paper: Ours with a pretrained audio branch",
                description="Ours with the frozen Whisper tiny.en encoder's states as the audio branch "
                "(queries of the cross-modal attention) in place of the MFCC-BiLSTM")
register_config("audio_only", ModelConfig(modalities="audio"), paper="single-modality control",
                description="BiLSTM over MFCC frames, mean pooled, MLP (no text)")
register_config("text_only", ModelConfig(modalities="text"), paper="Table 1: DeBERTa V3 (text only)",
                description="fine-tuned text encoder, mean pooled, MLP (no audio)")
