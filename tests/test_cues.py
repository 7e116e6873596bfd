"""The opt-in cue corpus (issue 15): sidecar tables, word timings, matched statistics of the
``local`` kind, the default corpus unchanged, clear errors for a damaged sidecar.

A smoke-size cue corpus is generated once for this module (~5 s).
"""

from __future__ import annotations

import hashlib
import wave
from collections import Counter
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sernb.data import synth
from sernb.data.cuetable import CUE_COLUMNS, load_cue_words
from sernb.data.iemocap import load_iemocap
from sernb.data.synth import cues
from sernb.errors import DataError

#: sha256 over the sorted (path, sha256) pairs of the smoke corpus' text files and manifest
#: (seed 0), taken from the generator before cue kinds existed (commit 2e75730). They depend
#: only on the plan and on eSpeak NG's sample counts, so they are checked for that eSpeak version.
SMOKE_TEXT_DIGEST = "d5c77ca819e0257400fb0cb191b90e0e11281f9c18285d438290c22745abe5d5"
SMOKE_ESPEAK = "1.52.0"


@pytest.fixture(scope="module")
def cue_smoke(tmp_path_factory) -> Path:
    return synth.generate("smoke", out=tmp_path_factory.mktemp("cues") / "smoke-cues", seed=0, cues=True)


@pytest.fixture(scope="module")
def table(cue_smoke) -> pd.DataFrame:
    return load_iemocap(cue_smoke, classes="all")


def _duration(path: str) -> float:
    with wave.open(path, "rb") as w:
        return w.getnframes() / w.getframerate()


# ---------------------------------------------------------------------------- the sidecar tables


def test_sidecar_exists_and_loads_into_the_table(cue_smoke, table):
    assert (cue_smoke / "cues.csv").is_file() and (cue_smoke / "cue_words.csv").is_file()
    assert not (cue_smoke / synth.CORPUS_DIR / "cues.csv").exists()  # IEMOCAP's folder stays IEMOCAP's
    assert list(table.columns[-len(CUE_COLUMNS):]) == list(CUE_COLUMNS)
    assert table["cue_token"].dtype == np.int64 and table["cue_start"].dtype == np.float64
    seen = Counter(k for name in table["cue_kinds"] for k in name.split("+"))
    assert set(seen) == set(cues.CUE_KINDS)
    manifest = synth.read_manifest(cue_smoke)
    assert manifest["cues_version"] == synth.CUES_VERSION and sum(manifest["cue_kinds"].values()) == len(
        pd.read_csv(cue_smoke / "cues.csv"))


def test_cue_word_is_the_transcript_token_it_names(table):
    word_level = table["cue_kinds"].str.contains("local|lexical|alignment")
    assert (table.loc[word_level, "cue_token"] >= 0).all()
    assert (table.loc[~word_level, "cue_token"] == -1).all() and (table.loc[~word_level, "cue_word"] == "").all()
    for row in table[word_level].itertuples():
        assert row.text.split()[row.cue_token].strip(".,!?") == row.cue_word
        if "lexical" in row.cue_kinds and row.label in cues.EMOTION_WORDS:
            assert row.cue_word in cues.EMOTION_WORDS[row.label]


def test_cue_spans_fall_inside_the_clip_and_word_times_are_monotone(cue_smoke, table):
    words = load_cue_words(cue_smoke)
    durations = {row.utt_id: _duration(row.wav_path) for row in table.itertuples()}
    for row in table.itertuples():
        assert 0.0 <= row.cue_start < row.cue_end <= durations[row.utt_id] + 1e-4, row.utt_id
    for utt, group in words.groupby("utt_id", sort=False):
        if utt not in durations:  # a label outside the table's classes
            continue
        group = group.sort_values("token")
        assert list(group["token"]) == list(range(len(group)))
        assert len(group) == len(table.set_index("utt_id").at[utt, "text"].split())
        assert (group["end"].to_numpy() >= group["start"].to_numpy()).all()
        assert all(a <= b + 1e-4 for a, b in pairwise(group["start"]))
        assert np.allclose(group["end"].to_numpy()[:-1], group["start"].to_numpy()[1:], atol=1e-4)
        assert group["start"].iloc[0] >= 0 and group["end"].iloc[-1] <= durations[utt] + 1e-4
        assert (group["end"] - group["start"]).sum() > 0.5  # real speech, not collapsed spans


def test_cue_span_is_where_the_cue_word_is_spoken(cue_smoke, table):
    """The cue word's span holds louder speech than the pause-free average when it is stressed."""
    words = load_cue_words(cue_smoke).set_index(["utt_id", "token"])
    stressed = table[table["cue_kinds"] == "alignment"]
    ratios = []
    for row in stressed.itertuples():
        with wave.open(row.wav_path, "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
        sr = 16000
        cue = x[int(row.cue_start * sr):int(row.cue_end * sr)]
        first = words.loc[(row.utt_id, 0), "start"]
        last = words.xs(row.utt_id, level="utt_id")["end"].max()
        speech = x[int(first * sr):int(last * sr)]
        ratios.append(np.sqrt(np.mean(cue**2)) / np.sqrt(np.mean(speech**2)))
    assert len(ratios) >= 5 and np.median(ratios) > 1.1


def test_espeak_reports_each_word_with_its_position_and_time():
    from sernb.data.espeak import synthesize_timed

    text = "We talked about the second plan yesterday."
    samples, events, end = synthesize_timed(text, "en+m3")
    words = [text[e.text_position:e.text_position + e.length] for e in events]
    assert words == ["We", "talked", "about", "the", "second", "plan", "yesterday"]
    times = [e.time_s for e in events]
    assert times == sorted(times) and times[-1] < end <= len(samples) / 22050 + 1e-9


def test_words_without_an_event_share_their_neighbours_span():
    from sernb.data.espeak import WordEvent

    words = ("We", "sat", "in", "the", "car.")
    spans = ((0, 2), (3, 6), (7, 9), (10, 13), (14, 18))
    events = [WordEvent(0, 2, 0.0), WordEvent(3, 3, 0.2), WordEvent(7, 2, 0.5), WordEvent(14, 3, 0.9)]
    times = cues.word_times(spans, words, events, speech_end=1.3, offset=0.25)
    assert [(w.start, w.end) for w in times] == [(0.25, 0.45), (0.45, 0.75), (0.75, 0.91), (0.91, 1.15), (1.15, 1.55)]


# ---------------------------------------------------------------------------- the design


def test_planned_kinds_follow_the_declared_mix():
    plans = synth.plan_corpus("default", 0, cues=True)
    kinds = Counter(t.cue.kinds_name for p in plans for t in p.turns if t.emotion in cues.EMOTION_WORDS)
    n = sum(kinds.values())
    for combo, share in cues.CUE_MIX.items():
        assert abs(kinds["+".join(combo)] / n - share) < 0.03, (combo, kinds)


def test_fillers_carry_no_emotion_and_contours_share_their_values():
    emotional = {w for words in cues.EMOTION_WORDS.values() for w in words}
    assert not emotional & set(cues.FILLERS)
    for n in (7, 10, 11):
        values = {shape: np.sort(cues.contour_offsets(n, shape)) for shape in cues.CONTOUR_SHAPES.values()}
        assert all(np.allclose(v, values["rise"]) for v in values.values())
        assert len({tuple(cues.contour_offsets(n, s)) for s in cues.CONTOUR_SHAPES.values()}) == 6


def _rotated(plan: cues.CuePlan, k: int) -> cues.CuePlan:
    """The same plan with its three slot words rotated by ``k`` (the prosody stays with the slots)."""
    words = list(plan.words)
    for i, slot in enumerate(plan.slots):
        words[slot] = plan.words[plan.slots[(i + k) % 3]]
    return replace(plan, words=tuple(words))


def _pooled(kind: str) -> np.ndarray:
    """Per class: mean-pooled log-f0 (semitones), energy (dB) and MFCC of the same sentences said by
    the same speakers with the same delivery, carrying the class only through ``kind``. Each
    sentence is said with its three filler words in three rotations, as the corpus draws them."""
    import librosa

    from sernb.data.features import mfcc
    from sernb.data.synth.planning import _delivery
    from sernb.data.synth.render import SAMPLE_RATE, RenderJob, render

    speakers, channels = synth.make_speakers(0), synth.make_channels(0)
    out = []
    for emotion in cues.EMOTION_WORDS:
        rows = []
        for sentence, speaker in ((3, "Ses01F"), (7, "Ses02M")):
            sp, ch = speakers[speaker], channels[int(speaker[4])]
            plan = cues.plan_cues(np.random.default_rng(sentence), emotion, (kind,))
            d = _delivery(np.random.default_rng(sentence), sp, emotion, 1.0 if kind == "global" else 0.0, ch)
            for said in (_rotated(plan, k) for k in range(3)):
                x = render(RenderJob(f"{speaker}_x_F000", "x.wav", said.text, d, ch, 0, cue=said)) / 32768.0
                f0 = librosa.yin(x, fmin=70, fmax=400, sr=SAMPLE_RATE, frame_length=1024, hop_length=160)
                rms = librosa.feature.rms(y=x, frame_length=1024, hop_length=160)[0][: len(f0)]
                active = rms > 0.1 * rms.max()
                rows.append([12 * np.log2(np.median(f0[active]) / 100), 20 * np.log10(np.mean(rms[active])),
                             *mfcc(x.astype(np.float32)).mean(axis=0)])
        out.append(np.mean(rows, axis=0))
    return np.array(out)


def test_local_kind_matches_utterance_level_statistics_across_classes():
    """Mean pooling must not tell the ``local`` classes apart: across the six classes the class
    means of pooled pitch stay within 0.75 semitone and of energy within 0.5 dB, and the pooled
    MFCC varies less than 15% as much as under the ``global`` kind, which must itself differ
    (3 semitones, 5 dB), so the measurement can see a difference where there is one. Measured
    when written: local 0.46 st, 0.12 dB, 6%; global 8.6 st, 13 dB. Two earlier designs of the
    kind failed it (1.0 st and 1.3 dB; 0.6 st and 1.6 dB: see :mod:`sernb.data.synth.cues`)."""
    local, global_ = _pooled("local"), _pooled("global")
    spread = lambda a: a.max(axis=0) - a.min(axis=0)  # noqa: E731
    assert spread(global_)[0] > 3.0 and spread(global_)[1] > 5.0  # the measurement can see differences
    assert spread(local)[0] < 0.75, f"local pitch spread {spread(local)[0]:.2f} semitones"
    assert spread(local)[1] < 0.5, f"local energy spread {spread(local)[1]:.2f} dB"
    assert local[:, 2:].std(axis=0).mean() < 0.15 * global_[:, 2:].std(axis=0).mean()


def test_contour_kind_matches_utterance_level_means_across_classes():
    """The ``contour`` classes use the same pitch values in another order: class means of pooled
    pitch within a semitone, of energy within 0.5 dB (measured when written: 0.63 st, 0.33 dB).
    The spread of pitch is not matched (1.6 to 3.1 semitones across classes in a one-sentence check;
    perhaps eSpeak's own declination adds to some shapes and cancels others), so it is not tested."""
    contour = _pooled("contour")
    spread = contour.max(axis=0) - contour.min(axis=0)
    assert spread[0] < 1.0 and spread[1] < 0.5, spread[:2]


# ---------------------------------------------------------------------------- default unchanged


def _text_digest(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix in (".txt", ".json")))
    pairs = "".join(f"{p.relative_to(root)}\t{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in files)
    return hashlib.sha256(pairs.encode()).hexdigest()


def test_default_smoke_corpus_is_unchanged_without_the_option(smoke_corpus, table):
    root = Path(smoke_corpus)
    assert not (root / "cues.csv").exists() and "cues_version" not in synth.read_manifest(root)
    assert not set(CUE_COLUMNS) & set(load_iemocap(root).columns)
    from sernb.data.espeak import version

    if version() != SMOKE_ESPEAK:
        pytest.skip(f"the recorded digest is for eSpeak NG {SMOKE_ESPEAK}, this is {version()}")
    assert _text_digest(root) == SMOKE_TEXT_DIGEST
    # the cue corpus keeps the plan's people, emotions and labels: only words and delivery change
    default = load_iemocap(root, classes="all").set_index("utt_id")["label"]
    assert table.set_index("utt_id")["label"].equals(default.loc[table["utt_id"]])


# ---------------------------------------------------------------------------- bad sidecars


def _with_sidecar(tmp_path: Path, cue_smoke: Path, text: str) -> Path:
    (tmp_path / synth.CORPUS_DIR).symlink_to(cue_smoke / synth.CORPUS_DIR)
    (tmp_path / "cues.csv").write_text(text)
    return tmp_path


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.replace("cue_start", "begin", 1), "lacks column"),
    (lambda t: t.replace(",-1,", ",minus one,", 1), "non-numeric"),
    (lambda t: "\n".join(t.splitlines()[:-5]) + "\n", "no row for"),
    (lambda t: t + t.splitlines()[1] + "\n", "twice"),
    (lambda t: "\x00\x01 not a csv", "cue table"),
])
def test_a_bad_sidecar_is_an_error_naming_the_file(tmp_path, cue_smoke, damage, message):
    root = _with_sidecar(tmp_path, cue_smoke, damage((cue_smoke / "cues.csv").read_text()))
    with pytest.raises(DataError, match=message) as info:
        load_iemocap(root)
    assert info.value.path == str(root / "cues.csv")


def test_cli_makes_the_cue_corpus(cue_smoke, capsys):
    from sernb.cli import main

    assert main(["synth", "--size", "smoke", "--cues", "--out", str(cue_smoke)]) == 0
    assert "cue corpus" in capsys.readouterr().out


# ---------------------------------------------------------------------------- probes


def test_probe_table_reports_every_cue_kind(table):
    from sernb.probes import PROBES, markdown, pooled_mfcc, probe_table

    six = table[table["label"].isin(cues.EMOTION_WORDS)].reset_index(drop=True)
    result = probe_table(six, pooled_mfcc(six, n_jobs=1), test_sessions=(5,))
    assert list(result.columns) == ["n", "majority", *PROBES]
    assert result.loc["all", "n"] == (six["session"] == 5).sum()
    assert set(result.index) - {"all"} <= set(six["cue_kinds"])
    assert ((result[list(PROBES)] >= 0) & (result[list(PROBES)] <= 1)).all().all()
    assert markdown(result).count("\n") == len(result) + 1
    with pytest.raises(ValueError, match="cue_kinds"):
        probe_table(six.drop(columns="cue_kinds"), np.zeros((len(six), 80)))


def test_slots_are_found_from_the_words_alone(table):
    for row in table.itertuples():
        slots = cues.slot_tokens(row.text)
        assert len(slots) == 3 and list(slots) == sorted(slots)
        if row.cue_kinds == "local":
            assert row.cue_token == slots[0]
        elif row.cue_token >= 0:
            assert row.cue_token in slots
    with pytest.raises(ValueError, match="not a cue-corpus sentence"):
        cues.slot_tokens("I think it starts at nine.")


def test_word_level_check_runs_on_local_and_contour(cue_smoke, table):
    from sernb.probes import word_level_check

    check = word_level_check(table[table["label"].isin(cues.EMOTION_WORDS)], load_cue_words(cue_smoke))
    assert list(check.index) == ["local", "contour"] and (check["n"] > 5).all()
    assert ((check["accuracy"] >= 0) & (check["accuracy"] <= 1)).all()
