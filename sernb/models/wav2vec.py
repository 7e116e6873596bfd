"""Table 1 row "Wav2Vec2.0" (audio only): a speech SSL encoder over raw 16 kHz audio.

Any Hugging Face speech encoder that ``AutoModel`` loads works (wav2vec2, HuBERT, WavLM), by hub
id or local folder. Frozen (default, SUPERB style): the hidden states of every layer are mean
pooled over the real frames ONCE per utterance and cached (memory and disk, keyed by the weights),
and only a softmax layer weighting plus the MLP head are trained. ``finetune=True`` trains the
transformer (the CNN feature encoder stays frozen, as usual) at the pretrained learning rate.

Offline there are no pretrained speech weights: :func:`resolve_audio_model` fails fast with what
to pass instead. ``"tiny-wav2vec2"`` is a randomly initialised 2-layer Wav2Vec2 for tests only.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from sernb.models.audio import masked_mean
from sernb.models.fusion import mlp_head
from sernb.models.inputs import register_input
from sernb.models.registry import register
from sernb.models.text import ModelSpec, hub_offline, locate_model
from sernb.utils import data_home, load_array, save_array

SAMPLE_RATE = 16000
#: Short names accepted for ``audio_model``.
AUDIO_MODELS = {
    "wav2vec2-base": "facebook/wav2vec2-base",
    "hubert-base": "facebook/hubert-base-ls960",
    "wavlm-base-plus": "microsoft/wavlm-base-plus",
}
DEFAULT_AUDIO_MODEL = "wav2vec2-base"


#: The speech encoder's spec: the same dataclass as the text encoder's.
AudioModelSpec = ModelSpec


def resolve_audio_model(name: str = DEFAULT_AUDIO_MODEL) -> AudioModelSpec:
    """Short name, folder or hub id -> spec; offline without a cached copy -> OfflineModelError."""
    if name == "tiny-wav2vec2":
        return AudioModelSpec(name, "tiny", "", untrained=True)
    hub_id = AUDIO_MODELS.get(name, name)
    source, location = locate_model(
        hub_id, "speech encoder",
        "Pass a local folder that holds it (--audio-model /path/to/wav2vec2-base, saved with "
        "`hf download facebook/wav2vec2-base` on a networked machine) or set HF_HUB_OFFLINE=0 where the "
        "hub is reachable.")
    from sernb.models.standins import is_standin

    return AudioModelSpec(name, source, location, untrained=source == "folder" and is_standin(location))


def load_ssl_backbone(spec: AudioModelSpec) -> nn.Module:
    """The encoder of ``spec`` (``transformers.AutoModel``), or the tiny random Wav2Vec2."""
    from transformers import AutoModel, Wav2Vec2Config, Wav2Vec2Model
    from transformers.utils import logging as hf_logging

    if spec.source == "tiny":
        config = Wav2Vec2Config(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=(16, 16, 16, 16), conv_stride=(5, 4, 4, 4), conv_kernel=(10, 8, 4, 4),
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, feat_extract_norm="group")
        with torch.random.fork_rng(devices=[]):  # same tiny weights whatever the global RNG
            torch.manual_seed(0)
            return Wav2Vec2Model(config)
    hf_logging.set_verbosity_error()
    try:
        return AutoModel.from_pretrained(spec.location, local_files_only=hub_offline())
    except OSError as err:
        raise OSError(f"could not load speech encoder {spec.name!r} from {spec.location!r}: {err}") from err


class SSLAudioClassifier(nn.Module):
    """Speech SSL encoder -> per-layer masked mean pooling -> softmax layer weights -> MLP."""

    pretrained_prefixes: tuple[str, ...] = ("backbone.",)

    def __init__(self, n_classes: int = 6, audio_model: str = DEFAULT_AUDIO_MODEL, finetune: bool = False,
                 max_seconds: float = 8.0, hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.spec = resolve_audio_model(audio_model)
        self.backbone = load_ssl_backbone(self.spec)
        self.finetune = finetune
        self.max_samples = int(max_seconds * SAMPLE_RATE)
        n_layers = int(self.backbone.config.num_hidden_layers) + 1  # + the CNN/projection output
        self.layer_logits = nn.Parameter(torch.zeros(n_layers))
        self.head = mlp_head(int(self.backbone.config.hidden_size), hidden, n_classes, dropout)
        self._fingerprint: str | None = None
        self.backbone.requires_grad_(False)
        if finetune:  # the transformer learns; the CNN feature encoder stays frozen
            for name, p in self.backbone.named_parameters():
                p.requires_grad = not name.startswith(("feature_extractor.", "feature_projection."))
        else:
            self.backbone.eval()

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("wav",) if self.finetune else ("ssl_layers",)

    def train(self, mode: bool = True) -> SSLAudioClassifier:
        super().train(mode)
        if not self.finetune:
            self.backbone.eval()
        return self

    def encoders(self) -> dict[str, str]:
        how = "fine-tuned" if self.finetune else "frozen"
        return {"text": "-", "audio": f"{self.spec.label} ({how}, layer-weighted mean pooling)"}

    def layer_states(self, wav: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, samples) waveforms -> (B, layers, D) masked means of every hidden layer."""
        lengths = mask.sum(1)
        wav = wav.float() * mask
        mean = wav.sum(1, keepdim=True) / lengths.clamp_min(1).unsqueeze(1)
        var = ((wav - mean) ** 2 * mask).sum(1, keepdim=True) / lengths.clamp_min(1).unsqueeze(1)
        wav = (wav - mean) / (var + 1e-7).sqrt() * mask  # the feature extractor's do_normalize
        kwargs = {}
        if getattr(self.backbone.config, "feat_extract_norm", "group") == "layer":
            kwargs["attention_mask"] = mask.long()  # group-norm models must not get a mask (HF docs)
        out = self.backbone(wav, output_hidden_states=True, **kwargs)
        frames = self.backbone._get_feat_extract_output_lengths(lengths)
        steps = out.hidden_states[0].shape[1]
        frame_mask = torch.arange(steps, device=wav.device).unsqueeze(0) < frames.unsqueeze(1)
        return torch.stack([masked_mean(h, frame_mask) for h in out.hidden_states], dim=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        if "ssl_layers" in batch:
            layers = batch["ssl_layers"].float()
        else:
            layers = self.layer_states(batch["wav"], batch["wav_mask"])
        weights = torch.softmax(self.layer_logits, 0).to(layers.dtype)
        pooled = (layers * weights[None, :, None]).sum(1)
        return {"logits": self.head(pooled), "attention": None}

    def fingerprint(self) -> str:
        """Hash of this module's code, the encoder weights and the length cap: the cache key."""
        if self._fingerprint is None:
            from sernb.fingerprint import fingerprint

            h = hashlib.sha256(f"{fingerprint(__name__)}:{self.max_samples}".encode())
            for name, tensor in self.backbone.state_dict().items():
                h.update(name.encode())
                h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


@register("wav2vec2", needs=("wav",), paper="Table 1: Wav2Vec2.0 (audio only)",
          description="speech SSL encoder (wav2vec2/HuBERT/WavLM), pooled, MLP (no text)")
def build_wav2vec2(n_classes: int = 6, audio_model: str = DEFAULT_AUDIO_MODEL, finetune: bool = False,
                   max_seconds: float = 8.0, **common: Any) -> SSLAudioClassifier:
    """``common`` (text_model, max_tokens) does not apply to an audio-only model and is ignored."""
    return SSLAudioClassifier(n_classes, audio_model, finetune, max_seconds)


@register_input("wav")
def wav_input(model: nn.Module, table: Any, context: dict[str, Any]) -> list[np.ndarray]:
    """Input provider ``wav``: 16 kHz mono float32, cut to the model's ``max_samples``."""
    return [_clip(path, context)[: model.max_samples] for path in table["wav_path"].tolist()]


def _clip(path: str, context: dict[str, Any]) -> np.ndarray:
    """The clip at ``path``, decoded once per experiment (kept in ``context``)."""
    from sernb.data.audio import load_audio

    cache = context.setdefault("wav", {})
    if path not in cache:
        cache[path] = load_audio(path, sr=SAMPLE_RATE)
    return cache[path]


_MEMORY: dict[str, dict[str, np.ndarray]] = {}


@register_input("ssl_layers")
@torch.no_grad()
def ssl_layers_input(model: nn.Module, table: Any, context: dict[str, Any], batch_size: int = 16
                     ) -> list[np.ndarray]:
    """Input provider ``ssl_layers``: (layers, D) pooled frozen states, computed once per clip.

    Clips of equal length (after the cap, most long ones) run together; nothing is padded, so
    no number depends on which clips share a batch.
    """
    from tqdm.auto import tqdm

    from sernb.data.audio import load_audio

    fp = model.fingerprint()
    memory = _MEMORY.setdefault(fp, {})
    folder = data_home() / "cache" / "ssl_states" / fp
    paths = table["wav_path"].tolist()
    keys = [_clip_key(p) for p in paths]
    todo = [(k, p) for k, p in dict(zip(keys, paths, strict=True)).items() if k not in memory]
    device = context.get("device", torch.device("cpu"))
    was = next(model.backbone.parameters()).device
    model.backbone.to(device).eval()
    try:
        clips: dict[int, list[tuple[str, np.ndarray]]] = {}  # same length -> one batch, no padding
        for key, path in todo:
            state = load_array(folder / f"{key}.npy")
            if state is not None:
                memory[key] = state
            else:  # the clip is not kept: only its pooled states are
                clip = load_audio(path, sr=SAMPLE_RATE, max_seconds=model.max_samples / SAMPLE_RATE + 0.05
                                  )[: model.max_samples]
                clips.setdefault(len(clip), []).append((key, clip))
        bar = tqdm(total=sum(map(len, clips.values())), desc="ssl states (frozen encoder)",
                   disable=not context.get("progress"), leave=False)
        for group in clips.values():
            for start in range(0, len(group), batch_size):
                chunk = group[start:start + batch_size]
                wav = torch.from_numpy(np.stack([c for _, c in chunk])).to(device)
                states = model.layer_states(wav, torch.ones_like(wav, dtype=torch.bool)).float().cpu().numpy()
                for (key, _), state in zip(chunk, states, strict=True):
                    memory[key] = state
                    save_array(folder / f"{key}.npy", state)
                bar.update(len(chunk))
        bar.close()
    finally:
        model.backbone.to(was)
    return [memory[k] for k in keys]



def _clip_key(path: str) -> str:
    stat = os.stat(path)
    return hashlib.sha1(f"{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
