"""Audio loading and cached MFCC extraction."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sernb.data import audio, features
from sernb.data.audio import AudioError, load_audio
from sernb.data.features import MFCCConfig, extract_mfcc, load_features, mfcc
from tests.fixtures import CORRUPT, write_bytes, write_wav

# ---------------------------------------------------------------------------- load_audio


def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    path = write_wav(tmp_path / "stereo.wav", seconds=0.5, sr=44100, channels=2)
    y = load_audio(path, sr=16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 8000) <= 2
    native, _ = sf.read(path, dtype="float32")
    assert np.abs(y).max() == pytest.approx(np.abs(native.mean(axis=1)).max(), rel=0.1)


@pytest.mark.parametrize(("make", "problem"), [
    (lambda p: p, "file not found"),
    (lambda p: write_bytes(p, b""), "empty file"),
    (lambda p: write_bytes(p, CORRUPT), "corrupt or unreadable"),
])
def test_bad_files_name_the_file_and_problem(tmp_path, make, problem):
    path = make(tmp_path / "clip_42.wav")
    with pytest.raises(AudioError, match=problem) as info:
        load_audio(path)
    assert str(tmp_path / "clip_42.wav") in str(info.value)


def test_zero_length_wav(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="zero-length") as info:
        load_audio(path)
    assert "silent.wav" in str(info.value)


def test_mp4_without_ffmpeg_says_install_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    path = write_bytes(tmp_path / "dia1_utt2.mp4", CORRUPT)
    with pytest.raises(AudioError, match="install ffmpeg") as info:
        load_audio(path)
    assert "dia1_utt2.mp4" in str(info.value)


@pytest.mark.skipif(audio.shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_corrupt_mp4_with_ffmpeg(tmp_path):
    path = write_bytes(tmp_path / "dia1_utt3.mp4", CORRUPT)
    with pytest.raises(AudioError, match="dia1_utt3.mp4"):
        load_audio(path)


# ---------------------------------------------------------------------------- mfcc


def test_mfcc_shape_and_truncation():
    rng = np.random.default_rng(0)
    three_seconds = rng.standard_normal(48000).astype(np.float32) * 0.1
    assert mfcc(three_seconds, MFCCConfig(max_seconds=None)).shape == (301, 40)
    capped = mfcc(three_seconds, MFCCConfig(max_seconds=1.0))
    assert capped.shape == (101, 40) and capped.dtype == np.float32 and np.isfinite(capped).all()
    with pytest.raises(ValueError, match="1-D"):
        mfcc(np.zeros((2, 100), dtype=np.float32))


def test_config_key_changes_with_every_field():
    keys = {MFCCConfig().key(), MFCCConfig(n_mfcc=20).key(), MFCCConfig(max_seconds=None).key(),
            MFCCConfig(hop_length=320).key()}
    assert len(keys) == 4
    assert MFCCConfig().key() == MFCCConfig().key()


# ---------------------------------------------------------------------------- extract_mfcc


@pytest.fixture
def clips(tmp_path) -> pd.DataFrame:
    paths = [write_wav(tmp_path / "wav" / f"u{i}.wav", seconds=0.3 + 0.1 * i, freq=200 + 50 * i, seed=i)
             for i in range(4)]
    return pd.DataFrame({"utt_id": [p.stem for p in paths], "wav_path": [str(p) for p in paths]})


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """Record every clip whose MFCCs are actually computed (in-process, so use n_jobs=1)."""
    calls: list[str] = []
    real = features.clip_mfcc

    def spy(path, config):
        calls.append(Path(path).name)
        return real(path, config)

    monkeypatch.setattr(features, "clip_mfcc", spy)
    return calls


def test_extract_aligned_with_rows(clips, tmp_path, counted):
    feats = extract_mfcc(clips, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert len(feats) == len(clips) and not feats.errors
    assert [f.shape[0] for f in feats] == [1 + int(s * 16000) // 160 for s in (0.3, 0.4, 0.5, 0.6)]
    assert all(f.shape[1] == 40 and f.dtype == np.float32 for f in feats)
    assert counted == ["u0.wav", "u1.wav", "u2.wav", "u3.wav"]


def test_second_call_reads_the_cache(clips, tmp_path, counted):
    first = extract_mfcc(clips, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    second = extract_mfcc(clips, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert len(counted) == len(clips)  # nothing recomputed
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    folder = features.cache_folder(MFCCConfig(), tmp_path / "cache")
    assert sorted(p.suffix for p in folder.iterdir()) == [".npy"] * len(clips)  # no temp leftovers


def test_changed_file_or_config_is_recomputed(clips, tmp_path, counted):
    cache = tmp_path / "cache"
    extract_mfcc(clips, cache_dir=cache, n_jobs=1, progress=False)
    touched = clips["wav_path"][1]
    st = os.stat(touched)
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    extract_mfcc(clips, cache_dir=cache, n_jobs=1, progress=False)
    assert counted[len(clips):] == ["u1.wav"]
    extract_mfcc(clips, MFCCConfig(n_mfcc=13), cache_dir=cache, n_jobs=1, progress=False)
    assert len(counted) == 2 * len(clips) + 1


def test_default_cache_lives_in_data_home(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("SERNB_DATA", str(tmp_path / "home"))
    extract_mfcc(clips.iloc[:1], n_jobs=1, progress=False)
    assert len(list((tmp_path / "home" / "cache" / "mfcc" / MFCCConfig().key()).glob("*.npy"))) == 1


def test_unreadable_cache_file_is_recomputed(clips, tmp_path, counted, caplog):
    cache = tmp_path / "cache"
    extract_mfcc(clips.iloc[:1], cache_dir=cache, n_jobs=1, progress=False)
    target = features.cache_file(clips["wav_path"][0], features.cache_folder(MFCCConfig(), cache))
    target.write_bytes(b"not a numpy file")
    with caplog.at_level(logging.WARNING, logger="sernb"):
        feats = extract_mfcc(clips.iloc[:1], cache_dir=cache, n_jobs=1, progress=False)
    assert feats[0].shape[1] == 40 and counted == ["u0.wav", "u0.wav"]
    assert "unreadable MFCC cache file" in caplog.text


def test_bad_clip_raises_naming_the_file(clips, tmp_path):
    bad = write_bytes(tmp_path / "wav" / "broken.wav", CORRUPT)
    table = pd.concat([clips, pd.DataFrame({"utt_id": ["broken"], "wav_path": [str(bad)]})])
    with pytest.raises(AudioError, match="broken.wav"):
        extract_mfcc(table, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)


def test_skip_counts_and_reports(clips, tmp_path, caplog):
    bad = write_bytes(tmp_path / "wav" / "broken.wav", CORRUPT)
    paths = [clips["wav_path"][0], str(bad), str(tmp_path / "gone.wav"), clips["wav_path"][1]]
    with caplog.at_level(logging.WARNING, logger="sernb"):
        feats = extract_mfcc(paths, cache_dir=tmp_path / "cache", n_jobs=1, on_error="skip", progress=False)
    assert [f is None for f in feats] == [False, True, True, False]
    assert sorted(feats.errors) == [1, 2]
    assert "broken.wav" in feats.errors[1] and "file not found" in feats.errors[2]
    assert "skipped 2 of 4 clips" in caplog.text


def test_load_features_drops_and_counts(clips, tmp_path):
    bad = write_bytes(tmp_path / "wav" / "broken.wav", CORRUPT)
    table = pd.concat([clips, pd.DataFrame({"utt_id": ["broken"], "wav_path": [str(bad)]})],
                      ignore_index=True)
    table.attrs["skipped"] = {"label:xxx": 3}
    kept, feats = load_features(table, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert list(kept["utt_id"]) == ["u0", "u1", "u2", "u3"] and len(feats) == 4
    assert kept.attrs["skipped"] == {"label:xxx": 3, "unreadable audio": 1}
    assert table.attrs["skipped"] == {"label:xxx": 3}  # the input table is untouched


def test_parallel_matches_serial(clips, tmp_path, counted):
    serial = extract_mfcc(clips, n_jobs=1, use_cache=False, progress=False)
    parallel = extract_mfcc(clips, cache_dir=tmp_path / "cache", n_jobs=2, progress=False)
    assert len(counted) == len(clips)  # the spy saw only the serial run: workers did the rest
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert len(list(features.cache_folder(MFCCConfig(), tmp_path / "cache").glob("*.npy"))) == 4


def test_rejects_a_single_path_and_bad_options(clips):
    with pytest.raises(TypeError, match="single path"):
        extract_mfcc(clips["wav_path"][0])
    with pytest.raises(ValueError, match="on_error"):
        extract_mfcc(clips, on_error="ignore")
    with pytest.raises(ValueError, match="n_jobs"):
        extract_mfcc(clips, n_jobs=0)


def test_worker_count():
    cores = os.cpu_count() or 1
    assert features._n_jobs(None, 10) == 1  # too few clips to pay for workers
    assert features._n_jobs(None, 10**6) == cores
    assert features._n_jobs(-1, 10**6) == cores
    assert features._n_jobs(4, 3) == 3
