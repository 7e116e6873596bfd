"""Stand-in model folders in the Hugging Face hub's own layout, with random (UNTRAINED) weights.

The paper's encoders, ``microsoft/deberta-v3-base`` and ``facebook/wav2vec2-base``, come from the
hub or from a folder the researcher downloaded. Neither is available offline, so the code paths
that read such a folder (tokenizer conversion from ``spm.model``, ``pytorch_model.bin`` with the
hub's key names, a checkpoint that must carry everything it needs) are exercised with these
stand-ins, which are laid out file for file like the real folders:

``write_deberta_v3_folder(out, texts)`` (microsoft/deberta-v3-base)::

    config.json            model_type deberta-v2, pos_att_type "p2c|c2p" (ONE string),
                           position_buckets 256, norm_rel_ebd "layer_norm", type_vocab_size 0
    pytorch_model.bin      the only weights file: keys "deberta.*" plus the unused pretraining
                           heads "lm_predictions.*" and "mask_predictions.*"
    spm.model              a SentencePiece unigram model trained on ``texts`` ([PAD]=0, [CLS]=1,
                           [SEP]=2, [UNK]=3, as DeBERTa-v3's)
    tokenizer_config.json  {"do_lower_case": false, "vocab_type": "spm"}   (no tokenizer.json)

``write_wav2vec2_folder(out, weights="bin"|"safetensors")`` (facebook/wav2vec2-base)::

    config.json  preprocessor_config.json  pytorch_model.bin or model.safetensors
    (Wav2Vec2ForPreTraining: keys "wav2vec2.*" plus "quantizer.*", "project_hid.*", "project_q.*";
    the .bin keeps the pre-parametrization weight-norm names weight_g / weight_v)

``size="tiny"`` (seconds to build, a few MB) is for tests and for ``make book PROFILE=full`` on a
CPU; ``size="base"`` has the real models' dimensions (DeBERTa-v3-base: 12 layers, 768 hidden,
12 heads, 3072 FFN, vocab 128100; wav2vec2-base: 12 x 768) for speed and memory measurements
(``sernb bench --paper-scale``, ``make gpu-check``). Their numbers mean nothing: every folder has a
``STANDIN.txt`` saying so, and sernb labels a model loaded from such a folder UNTRAINED.

``sernb standins DIR`` writes both into ``DIR`` (chapter "Table 3: efficiency" and the README use it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import torch

#: The file that marks a folder as a random-weight stand-in (sernb reports such a model as UNTRAINED).
MARKER = "STANDIN.txt"

#: deberta-v3-base's config.json as the hub ships it (only the sizes change for "tiny").
DEBERTA_V3_BASE_CONFIG = {
    "model_type": "deberta-v2",
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "relative_attention": True,
    "position_buckets": 256,
    "norm_rel_ebd": "layer_norm",
    "share_att_key": True,
    "pos_att_type": "p2c|c2p",
    "layer_norm_eps": 1e-7,
    "max_relative_positions": -1,
    "position_biased_input": False,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "type_vocab_size": 0,
    "vocab_size": 128100,
}
_DEBERTA_TINY = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 2,
                 "position_buckets": 256}

#: facebook/wav2vec2-base's preprocessor_config.json.
WAV2VEC2_PREPROCESSOR = {"do_normalize": True, "feature_extractor_type": "Wav2Vec2FeatureExtractor",
                         "feature_size": 1, "padding_side": "right", "padding_value": 0.0,
                         "return_attention_mask": False, "sampling_rate": 16000}
_WAV2VEC2_TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                  "conv_dim": [16, 16, 16, 16, 16, 16, 16], "num_conv_pos_embeddings": 16,
                  "num_conv_pos_embedding_groups": 2, "codevector_dim": 16, "proj_codevector_dim": 16,
                  "num_codevectors_per_group": 8}


def _note(out: Path, what: str) -> None:
    (out / MARKER).write_text(
        f"A sernb stand-in for {what}: the hub's file layout with RANDOM, UNTRAINED weights.\n"
        "It exercises code paths and measures speed/memory; its predictions mean nothing.\n",
        encoding="utf-8")


def is_standin(folder: str | Path) -> bool:
    """Whether ``folder`` is a stand-in written by this module (random weights)."""
    return (Path(folder) / MARKER).is_file()


def train_spm(texts: Iterable[str], vocab_size: int = 400) -> bytes:
    """A SentencePiece unigram model (bytes of ``spm.model``) with DeBERTa-v3's special pieces."""
    try:
        import sentencepiece as spm
    except ImportError as err:
        raise ImportError("writing a DeBERTa-v3 stand-in needs the package sentencepiece: "
                          "pip install sentencepiece") from err
    lines = [" ".join(str(t).split()) for t in texts if str(t).strip()]
    if not lines:
        raise ValueError("train_spm needs at least one non-empty text")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="unigram", vocab_size=vocab_size,
        hard_vocab_limit=False, character_coverage=1.0, num_threads=1, minloglevel=2,
        pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]",
        unk_piece="[UNK]", user_defined_symbols=["[MASK]"])
    return model.getvalue()


def write_deberta_v3_folder(out: str | Path, texts: Iterable[str], size: str = "tiny", seed: int = 0,
                            spm_vocab: int = 400) -> Path:
    """Write a DeBERTa-v3 folder in the hub's layout (see the module) with random weights; returns it."""
    from transformers import DebertaV2Config, DebertaV2Model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spm.model").write_bytes(train_spm(texts, spm_vocab))
    config = dict(DEBERTA_V3_BASE_CONFIG)
    if size == "tiny":
        config.update(_DEBERTA_TINY)
        config["vocab_size"] = spm_vocab + 100  # like the hub's: larger than the spm vocabulary
    elif size != "base":
        raise ValueError(f"size={size!r}; choose tiny or base")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "vocab_type": "spm"}) + "\n",
                                               encoding="utf-8")
    hf = DebertaV2Config(**{k: v for k, v in config.items() if k != "model_type"})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DebertaV2Model(hf)
        state = {f"deberta.{k}": v.contiguous() for k, v in model.state_dict().items()}
        h, v = hf.hidden_size, hf.vocab_size
        heads = {  # the pretraining heads the hub's file carries and AutoModel ignores
            "lm_predictions.lm_head.bias": torch.zeros(v),
            "lm_predictions.lm_head.dense.weight": torch.randn(h, h) * 0.02,
            "lm_predictions.lm_head.dense.bias": torch.zeros(h),
            "lm_predictions.lm_head.LayerNorm.weight": torch.ones(h),
            "lm_predictions.lm_head.LayerNorm.bias": torch.zeros(h),
            "mask_predictions.dense.weight": torch.randn(h, h) * 0.02,
            "mask_predictions.dense.bias": torch.zeros(h),
            "mask_predictions.LayerNorm.weight": torch.ones(h),
            "mask_predictions.LayerNorm.bias": torch.zeros(h),
            "mask_predictions.classifier.weight": torch.randn(1, h) * 0.02,
            "mask_predictions.classifier.bias": torch.zeros(1),
        }
    torch.save({**state, **heads}, out / "pytorch_model.bin")
    _note(out, "microsoft/deberta-v3-base" + (" (tiny dimensions)" if size == "tiny" else " (real dimensions)"))
    return out


def write_wav2vec2_folder(out: str | Path, weights: str = "bin", size: str = "tiny", seed: int = 0) -> Path:
    """Write a wav2vec2-base folder in the hub's layout with random weights; ``weights``: bin or safetensors."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForPreTraining

    if weights not in ("bin", "safetensors"):
        raise ValueError(f"weights={weights!r}; choose bin or safetensors")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hf = Wav2Vec2Config(architectures=["Wav2Vec2ForPreTraining"], feat_extract_norm="group",
                        do_stable_layer_norm=False, **(_WAV2VEC2_TINY if size == "tiny" else {}))
    if size not in ("tiny", "base"):
        raise ValueError(f"size={size!r}; choose tiny or base")
    hf.save_pretrained(out)  # config.json
    (out / "preprocessor_config.json").write_text(json.dumps(WAV2VEC2_PREPROCESSOR, indent=2) + "\n",
                                                  encoding="utf-8")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Wav2Vec2ForPreTraining(hf)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if weights == "bin":  # the 2020 upload predates torch's weight-norm parametrizations
        state = {k.replace("parametrizations.weight.original0", "weight_g")
                  .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
        torch.save(state, out / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    _note(out, "facebook/wav2vec2-base" + (" (tiny dimensions)" if size == "tiny" else " (real dimensions)"))
    return out
