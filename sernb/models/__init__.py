"""Models: the paper's MFCC-BiLSTM + text encoder + cross-modal attention, as configurations.

Start with :class:`ModelConfig` and :class:`SERModel`; named systems live in
:mod:`sernb.models.registry`; :mod:`sernb.models.checkpoint` saves a self-describing model.
"""

from sernb.models.config import ModelConfig
from sernb.models.registry import (
    System,
    build_model,
    get_system,
    register,
    register_config,
    system_names,
)
from sernb.models.ser import SERModel
from sernb.models.text import OfflineModelError, TextEncoder, resolve_text_model

__all__ = [
    "ModelConfig",
    "OfflineModelError",
    "SERModel",
    "System",
    "TextEncoder",
    "build_model",
    "get_system",
    "register",
    "register_config",
    "resolve_text_model",
    "system_names",
]
