"""``sernb predict`` on recordings users bring: stereo 44.1 kHz, no transcript, broken files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from sernb.cli import main
from sernb.data.audio import AudioError
from sernb.models import build_model
from sernb.models.checkpoint import save_model
from sernb.predict import TranscriptNeeded, predict_file

LABELS = ["ang", "fru", "neu", "sad", "exc", "hap"]


def saved(system: str, folder) -> str:
    torch.manual_seed(0)
    model = build_model(system, text_model="tiny-deberta")
    model.fit_audio_stats(torch.randn(500, 40) * 50)
    save_model(model, folder, labels=LABELS, extra={"max_frames": 300})
    return str(folder)


@pytest.fixture(scope="module")
def stereo_wav(tmp_path_factory) -> str:
    """1.5 s of a stereo 44.1 kHz recording: a voiced-ish tone on the left, noise on the right."""
    sr = 44_100
    t = np.arange(int(1.5 * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    right = 0.05 * np.random.default_rng(0).normal(size=t.size)
    path = tmp_path_factory.mktemp("audio") / "stereo_44k.wav"
    sf.write(path, np.stack([left, right], axis=1), sr)
    return str(path)


def test_stereo_44k_with_transcript(tmp_path, stereo_wav):
    pred = predict_file(stereo_wav, text="I can't believe you did that!", checkpoint=saved("ours", tmp_path / "m"))
    assert set(pred.probs) == set(LABELS)
    assert sum(pred.probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert pred.label == max(pred.probs, key=pred.probs.get)
    assert pred.modalities == ("audio", "text")
    assert any("UNTRAINED" in note for note in pred.notes)


def test_without_transcript_a_text_model_says_what_it_needs(tmp_path, stereo_wav):
    with pytest.raises(TranscriptNeeded, match="--text"):
        predict_file(stereo_wav, checkpoint=saved("ours", tmp_path / "m"))


def test_without_transcript_an_audio_only_model_predicts(tmp_path, stereo_wav):
    pred = predict_file(stereo_wav, checkpoint=saved("audio_only", tmp_path / "m"))
    assert pred.modalities == ("audio",) and pred.label in LABELS


def test_unreadable_audio_is_named(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wav file at all")
    with pytest.raises(AudioError, match="broken.wav"):
        predict_file(bad, text="hello", checkpoint=saved("ours", tmp_path / "m"))


def test_cli_predict(tmp_path, stereo_wav, capsys, monkeypatch):
    checkpoint = saved("ours", tmp_path / "m")
    assert main(["predict", stereo_wav, "--text", "Great news, we won!", "--checkpoint", checkpoint]) == 0
    out = capsys.readouterr().out
    assert "top class:" in out and "UNTRAINED" in out
    # without --text the speech recogniser writes the transcript (tests/test_asr.py); when it hears
    # no words, the command says to pass --text
    import sernb.asr
    import sernb.predict

    empty = sernb.asr.Transcript(text="", warnings=["empty transcript: no words were recognised"])
    monkeypatch.setattr(sernb.predict, "recognise", lambda *args, **kwargs: empty)
    assert main(["predict", stereo_wav, "--checkpoint", checkpoint]) == 2
    assert "--text" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.wav"), "--text", "hi", "--checkpoint", checkpoint]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["predict", stereo_wav, "--text", "hi", "--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "not a sernb model checkpoint" in capsys.readouterr().err
