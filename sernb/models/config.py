"""One configuration for every variant of the paper's model.

The paper's ablation (Table 2) and the single-modality rows of Table 1 are not separate
classes: each is a :class:`ModelConfig` of the same :class:`~sernb.models.ser.SERModel`.
Chapter "Training the paper's model" builds them one field at a time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

AUDIO_ENCODERS = ("bilstm", "mean")
#: What the audio branch reads: 40-d MFCC frames (the paper) or a frozen Whisper encoder's states.
AUDIO_INPUTS = ("mfcc", "whisper")
FUSIONS = ("attention", "concat")
MODALITIES = ("audio+text", "audio", "text")


@dataclass(frozen=True)
class ModelConfig:
    """Every switch of the multimodal model.

    modalities: ``"audio+text"`` (the paper), ``"audio"`` or ``"text"`` (single-modality rows).
    audio: ``"bilstm"`` (paper, Eq. 1: frames -> BiLSTM, 2 x hidden/2) or ``"mean"`` (the baseline's
        mean-pooled MFCC, a frame-wise linear map with no temporal context).
    text_model: short name (``"minilm"``, ``"deberta-v3-base"``, ``"tiny-deberta"``), a Hugging Face
        hub id or a local folder; see :func:`sernb.models.text.resolve_text_model`.
    finetune_text: train the text encoder (paper) or keep it frozen ("static", the baseline).
    text_layers: with ``finetune_text``, how many top transformer layers are trained (None: all of
        them and the embeddings, the paper; the CPU profiles train the top 2 of MiniLM's 6).
    fusion: ``"attention"`` (8-head cross-modal attention, queries = audio frames, keys/values =
        text tokens) or ``"concat"`` (concatenate the two global vectors).
    frame_pool: average every k MFCC frames before the audio encoder (1 = every 10 ms frame, the
        paper; 3 = 30 ms steps, the CPU profiles' "hierarchical pooling", 3x cheaper LSTM).
    audio_encoder: ``"mfcc"`` (the paper: MFCC frames into ``audio``) or ``"whisper"``: the frozen
        Whisper tiny.en encoder's states (20 ms steps), layer-normalised and projected to ``hidden``
        (:class:`sernb.models.whisper.WhisperFrames`), replace the MFCC branch; ``audio``,
        ``n_mfcc`` and ``frame_pool`` then do not apply. ``whisper_model`` (a CTranslate2 Whisper
        folder; None: the packaged tiny.en) and ``whisper_input`` (``"clip"`` or ``"window"``)
        choose the encoder and its input length.
    mfcc_norm: ``"train"`` (the paper's MFCC standardised with training-set statistics),
        ``"utterance"`` (then each clip's own mean and variance too, CMVN) or ``"speaker"`` (first
        each speaker's mean and variance over all their clips; a single recording at prediction
        time falls back to its own). BiLSTM branch only.
    spec_mask: probability that a training clip gets SpecAugment-style masks (one coefficient band,
        two time spans; :func:`sernb.models.audio.mask_spectrum`); 0: none (the paper).
    """

    modalities: str = "audio+text"
    audio: str = "bilstm"
    text_model: str = "minilm"
    finetune_text: bool = True
    fusion: str = "attention"
    n_mfcc: int = 40
    frame_pool: int = 1
    hidden: int = 256
    heads: int = 8
    dropout: float = 0.3
    n_classes: int = 6
    max_tokens: int = 128
    text_layers: int | None = None
    audio_encoder: str = "mfcc"
    whisper_model: str | None = None
    whisper_input: str = "clip"
    mfcc_norm: str = "train"
    spec_mask: float = 0.0

    def __post_init__(self) -> None:
        if self.modalities not in MODALITIES:
            raise ValueError(f"modalities={self.modalities!r}; choose one of {MODALITIES}")
        if self.uses_audio and self.audio not in AUDIO_ENCODERS:
            raise ValueError(f"audio={self.audio!r}; choose one of {AUDIO_ENCODERS}")
        if self.audio_encoder not in AUDIO_INPUTS:
            raise ValueError(f"audio_encoder={self.audio_encoder!r}; choose one of {AUDIO_INPUTS}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion={self.fusion!r}; choose one of {FUSIONS}")
        if self.hidden % 2 or self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be even and divisible by heads={self.heads}")
        if self.frame_pool < 1:
            raise ValueError(f"frame_pool={self.frame_pool} must be >= 1")
        if self.n_classes < 2:
            raise ValueError(f"n_classes={self.n_classes}: a classifier needs at least 2 classes")

    @property
    def uses_audio(self) -> bool:
        return "audio" in self.modalities

    @property
    def uses_text(self) -> bool:
        return "text" in self.modalities

    @property
    def cross_attention(self) -> bool:
        """Attention fusion only applies when both modalities are present."""
        return self.fusion == "attention" and self.uses_audio and self.uses_text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild from :meth:`to_dict`, ignoring keys a newer/older version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
