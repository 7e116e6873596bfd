"""The paper's encoders from folders laid out exactly as the hub ships them (issue 12).

``deberta_folder`` is microsoft/deberta-v3-base's layout (spm.model, no tokenizer.json,
pytorch_model.bin only with ``deberta.*`` keys and unused heads, pos_att_type as ONE string) and
``wav2vec2_folders`` facebook/wav2vec2-base's (config.json, preprocessor_config.json, weights as
.bin or .safetensors); both tiny and random (tests/conftest.py, sernb.models.standins). Every path
that takes ``--text-model`` / ``--audio-model`` is run against them here: train, predict from
the saved checkpoint after the folder is gone, table1, bench.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sernb.cli import main
from sernb.errors import MissingDependencyError
from sernb.models import build_model
from sernb.models.text import TextEncoder, resolve_text_model


def test_the_deberta_double_has_the_hub_layout(deberta_folder):
    folder = Path(deberta_folder)
    assert sorted(p.name for p in folder.iterdir()) == ["STANDIN.txt", "config.json", "pytorch_model.bin",
                                                         "spm.model", "tokenizer_config.json"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "deberta-v2" and config["pos_att_type"] == "p2c|c2p"
    assert (config["position_buckets"], config["norm_rel_ebd"], config["type_vocab_size"]) == (256, "layer_norm", 0)
    assert json.loads((folder / "tokenizer_config.json").read_text()) == {"do_lower_case": False, "vocab_type": "spm"}
    keys = torch.load(folder / "pytorch_model.bin", weights_only=True).keys()
    assert all(k.startswith(("deberta.", "lm_predictions.", "mask_predictions.")) for k in keys)
    assert any(k.startswith("lm_predictions.") for k in keys) and any(k.startswith("mask_predictions.") for k in keys)


def test_deberta_folder_loads_its_own_sentencepiece_tokenizer_and_weights(deberta_folder, smoke_transcripts):
    encoder = TextEncoder(deberta_folder, max_tokens=32)
    assert type(encoder.backbone).__name__ == "DebertaV2Model"
    assert encoder.backbone.config.pos_att_type == ["p2c", "c2p"]
    assert type(encoder.tokenizer).__name__.startswith("DebertaV2Tokenizer")
    ids = encoder.tokenize(smoke_transcripts[:20])
    unk = encoder.tokenizer.unk_token_id
    assert all(x[0] == encoder.tokenizer.cls_token_id and x[-1] == encoder.tokenizer.sep_token_id for x in ids)
    assert np.mean([np.mean(x == unk) for x in ids]) < 0.05  # its own vocabulary, not a borrowed one
    # the weights came from pytorch_model.bin (deberta.* keys), not a fresh random init
    saved = torch.load(Path(deberta_folder) / "pytorch_model.bin", weights_only=True)
    assert torch.equal(encoder.backbone.embeddings.word_embeddings.weight, saved["deberta.embeddings.word_embeddings.weight"])
    assert encoder.spec.untrained and "UNTRAINED" in encoder.spec.label


def test_missing_sentencepiece_is_named(deberta_folder, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sentencepiece" else real(name, *a))
    with pytest.raises(MissingDependencyError, match="pip install sentencepiece"):
        TextEncoder(deberta_folder)


@pytest.mark.parametrize("weights", ["bin", "safetensors"])
def test_wav2vec2_folder_loads_both_weight_formats(wav2vec2_folders, weights):
    folder = Path(wav2vec2_folders[weights])
    assert {"config.json", "preprocessor_config.json"} <= {p.name for p in folder.iterdir()}
    assert (folder / ("pytorch_model.bin" if weights == "bin" else "model.safetensors")).is_file()
    model = build_model("wav2vec2", audio_model=str(folder), max_seconds=0.5).eval()
    if weights == "bin":  # old weight-norm names (weight_g/weight_v) are mapped, not left random
        saved = torch.load(folder / "pytorch_model.bin", weights_only=True)
        pos = model.backbone.encoder.pos_conv_embed.conv
        assert torch.allclose(pos.parametrizations.weight.original0, saved["wav2vec2.encoder.pos_conv_embed.conv.weight_g"])
    wav = torch.randn(2, 8000)
    out = model({"wav": wav, "wav_mask": torch.ones_like(wav, dtype=torch.bool)})
    assert out["logits"].shape == (2, 6) and torch.isfinite(out["logits"]).all()
    assert "UNTRAINED" in model.encoders()["audio"]


def test_train_then_predict_after_the_folder_is_deleted(deberta_folder, smoke_corpus, tmp_path, capsys):
    """The issue's "done when": train on a hub-layout folder, delete it, predict from the checkpoint."""
    folder = shutil.copytree(deberta_folder, tmp_path / "deberta-v3-base")
    out = tmp_path / "out"
    code = main(["train", "--system", "ours", "--profile", "smoke", "--text-model", str(folder), "--data-root",
                 smoke_corpus, "--epochs", "1", "--out", str(out), "--no-progress", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    text_dir = out / "model" / "text"
    assert (text_dir / "tokenizer.json").is_file()  # converted once: predict needs no sentencepiece
    shutil.rmtree(folder)
    wav = sorted(Path(smoke_corpus).rglob("*.wav"))[0]
    capsys.readouterr()
    assert main(["predict", str(wav), "--text", "I can't believe it!", "--checkpoint", str(out / "model"),
                 "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert abs(sum(pred["probs"].values()) - 1) < 1e-4


def test_checkpoint_tokenizes_like_the_folder(deberta_folder, tmp_path, smoke_transcripts):
    from sernb.models.checkpoint import load_model, save_model

    model = build_model("ours", text_model=deberta_folder, max_tokens=32)
    model.fit_audio_stats(torch.randn(100, 40))
    save_model(model, tmp_path / "m", labels=["ang", "fru", "neu", "sad", "exc", "hap"])
    loaded, _ = load_model(tmp_path / "m")
    texts = smoke_transcripts[:10]
    assert [x.tolist() for x in loaded.text.tokenize(texts)] == [x.tolist() for x in model.text.tokenize(texts)]
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_table1_with_both_folders(deberta_folder, wav2vec2_folders, smoke_corpus, tmp_path, capsys):
    code = main(["table1", "--profile", "smoke", "--protocol", "random", "--seeds", "1", "--epochs", "1",
                 "--out", str(tmp_path / "t1"), "--results", str(tmp_path / "results"), "--data-root", smoke_corpus,
                 "--text-model", deberta_folder, "--audio-model", wav2vec2_folders["safetensors"],
                 "--device", "cpu", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    import pandas as pd

    frame = pd.read_csv(tmp_path / "t1" / "table1.csv")
    assert frame["status"].str.startswith("ran").all(), frame[["paper_name", "status"]].to_string()
    w2v = frame[frame["paper_name"].str.contains("Wav2Vec")].iloc[0]
    assert "UNTRAINED" in w2v["audio_encoder"] and "UNTRAINED" in w2v["status"]
    assert np.isfinite(w2v["accuracy"])
    deb = frame[frame["paper_name"].str.contains("DeBERTa")].iloc[0]
    assert "deberta-v3-base" in deb["text_encoder"] and "UNTRAINED" in deb["text_encoder"]


def test_bench_with_the_deberta_folder(deberta_folder, smoke_corpus, tmp_path, capsys):
    code = main(["bench", "--profile", "smoke", "--device", "cpu", "--systems", "ours", "--n-utts", "8",
                 "--repeats", "1", "--warmup", "0", "--no-fast-paths", "--text-model", deberta_folder,
                 "--data-root", smoke_corpus, "--json", str(tmp_path / "b.json")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["settings"]["text_model"] == deberta_folder
    assert [s["status"] for s in report["systems"]] == ["ok"]


def test_resolve_marks_standin_folders_untrained(deberta_folder, wav2vec2_folders):
    from sernb.models.wav2vec import resolve_audio_model

    assert resolve_text_model(deberta_folder).untrained
    assert resolve_audio_model(wav2vec2_folders["bin"]).untrained


def test_standins_command_writes_both_folders(smoke_corpus, tmp_path, capsys):
    assert main(["standins", str(tmp_path / "s"), "--data-root", smoke_corpus, "--weights", "safetensors"]) == 0
    out = capsys.readouterr().out
    assert "--text-model" in out and "UNTRAINED" in out
    assert (tmp_path / "s" / "deberta-v3-base" / "spm.model").is_file()
    assert (tmp_path / "s" / "wav2vec2-base" / "model.safetensors").is_file()
