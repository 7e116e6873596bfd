"""Models: the paper's MFCC-BiLSTM + text encoder + cross-modal attention, as configurations.

Start with :class:`ModelConfig` and :class:`SERModel`; named systems live in
:mod:`sernb.models.registry` (the paper's configurations) and in the modules of the Table 1
comparison systems, which register themselves and their input providers
(:mod:`sernb.models.inputs`) on import. Importing this package imports them all, so the list of
systems is the same whatever was imported first; :mod:`sernb.models.checkpoint` saves a
self-describing model.
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

# The Table 1 comparison systems register themselves (and their input providers) on import.
from sernb.models import blstm_dcnn, cogmen, wav2vec, whisper  # noqa: E402,F401  isort: skip

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
