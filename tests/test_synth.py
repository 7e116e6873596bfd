"""The embedded synthetic corpus: IEMOCAP layout and formats, determinism, audio format, labels.

The smoke corpus is generated once per test session (tests/conftest.py); two more generations check
byte-identity with the same seed and a difference with another seed.
"""

from __future__ import annotations

import hashlib
import re
import wave
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from sernb.data import synth
from sernb.data.espeak import EspeakError, Prosody, sample_rate, synthesize

SUMMARY = re.compile(
    r"^\[(\d+\.\d{4}) - (\d+\.\d{4})\]\t(Ses0[1-5][FM]_\w+?_[FM]\d{3})\t([a-z]{3})\t"
    r"\[(\d\.\d{4}), (\d\.\d{4}), (\d\.\d{4})\]$"
)
CATEGORICAL = re.compile(r"^C-(E[1-6]|F1|M1):\t(?:[A-Z][a-z]+; ?)+\t\(.*\)$")
DIMENSIONAL = re.compile(r"^A-(E[1-6]|F1|M1):\tval [1-5]; act [1-5]; dom  [1-5];\t\(\)$")
TRANSCRIPT = re.compile(r"^(Ses0[1-5][FM]_\w+?_[FM](?:\d{3}|XX0)) \[(\d{3}\.\d{4})-(\d{3}\.\d{4})\]: (.+)$")
SIX = {"ang", "fru", "neu", "sad", "exc", "hap"}


@pytest.fixture(scope="module")
def smoke(smoke_corpus) -> Path:
    """The session's smoke corpus (tests/conftest.py), generated with seed 0."""
    return Path(smoke_corpus)


@pytest.fixture(scope="module")
def release(smoke) -> Path:
    return smoke / synth.CORPUS_DIR


@pytest.fixture(scope="module")
def evaluations(release) -> dict[str, dict]:
    """utt_id -> {label, start, end, dialog, session, evaluator lines} from every EmoEvaluation file."""
    out = {}
    for path in sorted(release.glob("Session*/dialog/EmoEvaluation/*.txt")):
        if path.name.startswith("._"):
            continue
        lines = path.read_text().split("\n")
        assert lines[0] == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]" and lines[1] == ""
        for block in "\n".join(lines[2:]).strip("\n").split("\n\n"):
            head, *evaluators = block.split("\n")
            m = SUMMARY.match(head)
            assert m, f"{path.name}: bad summary line {head!r}"
            utt = m.group(3)
            out[utt] = {"start": float(m.group(1)), "end": float(m.group(2)), "label": m.group(4),
                        "dialog": path.stem, "session": path.parts[-4], "evaluators": evaluators}
    return out


@pytest.fixture(scope="module")
def transcripts(release) -> dict[str, tuple[float, float, str]]:
    out = {}
    for path in sorted(release.glob("Session*/dialog/transcriptions/*.txt")):
        for line in path.read_text().splitlines():
            m = TRANSCRIPT.match(line)
            assert m, f"{path.name}: bad transcription line {line!r}"
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)), m.group(4))
    return out


def _wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        return w.getparams(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".synth.lock"}


# ---------------------------------------------------------------------------- layout and formats


def test_layout_matches_iemocap(smoke, release):
    assert (smoke / synth.MANIFEST_NAME).is_file()
    assert not (smoke / synth.IN_PROGRESS_NAME).exists()
    assert "not IEMOCAP" in (release / "SYNTHETIC").read_text()
    assert sorted(p.name for p in release.glob("Session*")) == [f"Session{i}" for i in range(1, 6)]
    for session in release.glob("Session*"):
        evals = {p.stem for p in (session / "dialog" / "EmoEvaluation").glob("*.txt") if not p.name.startswith("._")}
        trans = {p.stem for p in (session / "dialog" / "transcriptions").glob("*.txt")}
        wavs = {p.name for p in (session / "sentences" / "wav").iterdir()}
        assert evals == trans == wavs and evals
        assert {d.split("_")[0][-1] for d in evals} == {"F", "M"}  # both marker letters per session
        assert list((session / "dialog" / "EmoEvaluation" / "Categorical").glob("*_cat.txt"))
    names = {p.stem for p in release.glob("Session*/dialog/EmoEvaluation/*.txt")}
    assert {"Ses03M_impro05a", "Ses03M_impro05b", "Ses05M_script01_1", "Ses05M_script01_1b"} <= names


def test_evaluator_lines_follow_the_format(evaluations):
    for utt, ev in evaluations.items():
        kinds = Counter(line[0] for line in ev["evaluators"])
        assert kinds["C"] >= 3 and kinds["A"] >= 2, utt
        for line in ev["evaluators"]:
            assert CATEGORICAL.match(line) or DIMENSIONAL.match(line), f"{utt}: {line!r}"


def test_disagreement_means_xxx(evaluations):
    """xxx exactly when the three external evaluators name three different first categories."""
    for utt, ev in evaluations.items():
        first = [line.split("\t")[1].split(";")[0] for line in ev["evaluators"] if re.match(r"C-E\d", line)]
        top = Counter(first).most_common(1)[0][1]
        assert (ev["label"] == "xxx") == (top == 1), f"{utt}: {first} -> {ev['label']}"


def test_transcripts_match_evaluations_and_junk_has_no_wav(release, evaluations, transcripts):
    junk = {u for u in transcripts if u.endswith("XX0")}
    assert junk, "the corpus should contain junk ..._FXX0/_MXX0 transcript lines"
    assert set(transcripts) - junk == set(evaluations)
    for utt in junk:
        assert not list(release.glob(f"Session*/sentences/wav/*/{utt}.wav"))
    for utt, ev in evaluations.items():
        start, end, text = transcripts[utt]
        assert (start, end) == (ev["start"], ev["end"])
        assert text.strip()
    texts = " ".join(t for _, _, t in transcripts.values())
    assert "[LAUGHTER]" in texts or "[BREATHING]" in texts


def test_times_match_wav_durations_and_follow_the_dialog(release, evaluations):
    by_dialog: dict[str, list] = {}
    for utt, ev in evaluations.items():
        params, _ = _wav(release / ev["session"] / "sentences" / "wav" / ev["dialog"] / f"{utt}.wav")
        assert ev["end"] - ev["start"] == pytest.approx(params.nframes / 16000, abs=2e-4), utt
        by_dialog.setdefault(ev["dialog"], []).append((ev["start"], ev["end"]))
    for dialog, spans in by_dialog.items():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans)), dialog


def test_wav_format(release, evaluations):
    wavs = sorted(release.glob("Session*/sentences/wav/*/*.wav"))
    assert len(wavs) == len(evaluations)
    for path in wavs:
        params, samples = _wav(path)
        assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 16000), path.name
        assert params.nframes / 16000 > 0.5
        assert np.abs(samples).max() > 1000  # not silence


# ---------------------------------------------------------------------------- design properties


def test_labels_speakers_and_scripts(evaluations, transcripts):
    labels = Counter(ev["label"] for ev in evaluations.values())
    assert SIX | {"xxx"} <= set(labels)
    assert 0.05 <= labels["xxx"] / sum(labels.values()) <= 0.25
    assert 120 <= sum(labels[e] for e in SIX) <= 180  # ~150 labelled utterances
    speakers = {u[:5] + u.rsplit("_", 1)[1][0] for u in evaluations}
    assert len(speakers) == 10 and Counter(s[-1] for s in speakers) == {"F": 5, "M": 5}
    for dialog in {ev["dialog"] for ev in evaluations.values()}:  # two-party dialogs
        assert {u.rsplit("_", 1)[1][0] for u, ev in evaluations.items() if ev["dialog"] == dialog} == {"F", "M"}
    # the same script text in different sessions (tokens such as [LAUGHTER] aside)
    line = re.compile(r"\s*\[[A-Z]+\]\s*")
    assert line.sub("", transcripts["Ses01F_script01_1_F000"][2]) == line.sub("", transcripts["Ses05M_script01_1_F000"][2])


def test_anger_is_louder_than_sadness(release, evaluations):
    """A prosodic profile exists: angry utterances are louder than sad ones on average."""
    def rms(utt):
        ev = evaluations[utt]
        _, x = _wav(release / ev["session"] / "sentences" / "wav" / ev["dialog"] / f"{utt}.wav")
        return float(np.sqrt(np.mean(x.astype(float) ** 2)))
    loud = {e: np.mean([rms(u) for u, ev in evaluations.items() if ev["label"] == e]) for e in ("ang", "sad")}
    assert loud["ang"] > 1.5 * loud["sad"]


def test_plan_mixes_modalities():
    turns = [t for plan in synth.plan_corpus("default", 0) for t in plan.turns]
    carriers = Counter(t.carrier for t in turns)
    assert set(carriers) == set(synth.CARRIERS) and min(carriers.values()) > 0.15 * len(turns)
    assert 1400 <= len(turns) <= 1800


# ---------------------------------------------------------------------------- determinism and reruns


def test_rerun_with_manifest_is_a_no_op(smoke, monkeypatch):
    before = {p: p.stat().st_mtime_ns for p in smoke.rglob("*") if p.is_file()}
    monkeypatch.setattr(synth.corpus, "_build", lambda *a, **k: pytest.fail("regenerated a complete corpus"))
    assert synth.generate("smoke", out=smoke, seed=0) == smoke
    assert before == {p: p.stat().st_mtime_ns for p in smoke.rglob("*") if p.is_file()}


def test_same_seed_gives_identical_bytes(smoke, tmp_path):
    again = synth.generate("smoke", out=tmp_path / "again", seed=0)
    assert _digest(again) == _digest(smoke)


def test_other_seed_differs_and_replaces_an_interrupted_run(smoke, tmp_path):
    out = tmp_path / "other"
    stale = out / synth.CORPUS_DIR / "Session1" / "sentences" / "wav" / "old" / "old.wav"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    (out / synth.IN_PROGRESS_NAME).write_text("{}")  # what a killed run leaves behind
    synth.generate("smoke", out=out, seed=1)
    assert not stale.exists() and not (out / synth.IN_PROGRESS_NAME).exists()
    assert synth.read_manifest(out)["seed"] == 1
    a, b = _digest(smoke), _digest(out)
    common = [k for k in a if k in b and k.endswith(".wav")]
    assert common and sum(a[k] != b[k] for k in common) > 0.9 * len(common)


# ---------------------------------------------------------------------------- errors and helpers


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown synthetic corpus size 'huge'"):
        synth.generate("huge", out=tmp_path)
    with pytest.raises(ValueError, match="seed"):
        synth.generate("smoke", out=tmp_path, seed=-1)
    with pytest.raises(ValueError, match="workers"):
        synth.generate("smoke", out=tmp_path, workers=0)


def test_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path):
    real = tmp_path / synth.CORPUS_DIR / "Session1"
    real.mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not written by sernb"):
        synth.generate("smoke", out=tmp_path)
    assert real.exists()


def test_spoken_text_drops_transcript_tokens():
    assert synth.spoken_text("[BREATHING] I miss her so much...") == "I miss her so much..."
    assert synth.spoken_text("Yes! [LAUGHTER]") == "Yes! ha ha,"


def test_espeak_wrapper():
    x = synthesize("Excuse me.", "en+f2", Prosody(rate=170, pitch=60))
    assert sample_rate() == 22050 and x.dtype == np.int16 and 0.3 < len(x) / 22050 < 3.0
    slow = synthesize("Excuse me.", "en+f2", Prosody(rate=90, pitch=60))
    assert len(slow) > 1.3 * len(x)
    with pytest.raises(EspeakError, match="no voice variant"):
        synthesize("hello", "en+nosuchvoice")
    with pytest.raises(ValueError):
        synthesize("   ")


def test_cli_returns_the_existing_corpus(smoke, capsys):
    from sernb.cli import main

    assert main(["synth", "--size", "smoke", "--out", str(smoke), "--seed", "0"]) == 0
    assert str(smoke) in capsys.readouterr().out


@pytest.mark.slow
def test_killed_generation_leaves_no_workers_and_its_temp_folder_goes_next_time(tmp_path):
    """kill -9 of `sernb synth`: the render workers die with it; the next start removes its pickles."""
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    import psutil

    from sernb.data.synth import workers

    code = f"from sernb.data.synth import generate; generate('default', out={str(tmp_path / 'c')!r}, workers=2)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        children: list[psutil.Process] = []
        while len(children) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            children = psutil.Process(parent.pid).children()
        assert len(children) == 2, "the render workers did not start"
        folder = next(Path(tempfile.gettempdir()).glob(f"{workers.TEMP_PREFIX}{parent.pid}-*"))
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    gone, alive = psutil.wait_procs(children, timeout=10)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"render workers outlived their parent: {alive}"
    assert folder.is_dir()  # nobody could clean up after kill -9 ...
    workers.remove_stale_temp_folders()
    assert not folder.exists()  # ... so the next generation does


def test_iemocap_size_has_iemocap_shape_in_its_plan():
    """``--size iemocap``: ~10,000 turns, ~7,400 in the six classes, IEMOCAP's label shares, long turns
    (planned only: rendering it takes minutes, data/README.md gives the measured figures)."""
    from collections import Counter

    from sernb.data.synth.corpus import plan_corpus
    from sernb.data.synth.planning import IEMOCAP_COUNTS

    turns = [t for d in plan_corpus("iemocap", 0) for t in d.turns]
    labels = Counter(t.label for t in turns)
    six = sum(labels[e] for e in ("ang", "fru", "neu", "sad", "exc", "hap"))
    assert 9_500 <= len(turns) <= 10_500 and 7_000 <= six <= 7_800
    assert {t.speaker for t in turns} == {f"Ses{s:02d}{g}" for s in range(1, 6) for g in "FM"}
    for label in ("xxx", "fru", "neu", "ang", "sad", "exc", "hap"):
        assert abs(labels[label] / len(turns) - IEMOCAP_COUNTS[label] / 10_039) < 0.025, label
    words = sorted(len(t.text.split()) for t in turns)
    assert words[len(words) // 2] < 15 and words[-1] > 40  # mostly short, a long tail


def test_iemocap_size_long_tail_ends_near_30_seconds():
    """IEMOCAP's longest turns last about 30 s; the iemocap size's longest, rendered, do too."""
    from sernb.data.synth.corpus import plan_corpus
    from sernb.data.synth.planning import estimated_seconds, spoken_text
    from sernb.data.synth.render import SAMPLE_RATE, RenderJob, render
    from sernb.data.synth.voices import make_channels

    channels = make_channels(0)
    planned = [(estimated_seconds(t.text, t.delivery), t, d.spec.session)
               for d in plan_corpus("iemocap", 0) for t in d.turns]
    longest = sorted(planned, key=lambda item: item[0])[-4:]
    seconds = [len(render(RenderJob(t.utt_id, "", spoken_text(t.text), t.delivery, channels[session], 0)))
               / SAMPLE_RATE for _, t, session in longest]
    assert all(15.0 < s <= 30.0 for s in seconds), seconds
