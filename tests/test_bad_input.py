"""Bad input, tried as a user would (issue 19, part 3): one table-driven battery.

Every case is built once, run once and must end in one of three outcomes:

``clear_error``   the CLI exits 2 with ``sernb <command>: error: <file>: <problem>`` and no traceback,
                  or the library raises a :class:`sernb.errors.SernbError` naming the file;
``counted_skip``  the bad part is left out, and its count is printed (the loader's summary line,
                  ``sernb train``'s output) and recorded (``table.attrs``, result.json);
``works``         a correct answer, with a warning or note where the input was odd.

A raw traceback (any other exception, or "Traceback" on stderr) fails the case; so does a silent
wrong answer (each ``works`` case checks its answer and its flags). Run with ``-s`` to see the
count per outcome at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from sernb.cli import main
from sernb.errors import SernbError
from tests.fixtures import CORRUPT, make_iemocap, make_meld, make_ravdess, write_wav

LABELS = ["ang", "fru", "neu", "sad", "exc", "hap"]
ROOT = Path(__file__).resolve().parent.parent
CLEAR_ERROR, COUNTED_SKIP, WORKS = "clear_error", "counted_skip", "works"
SESSION1 = Path("IEMOCAP_full_release/Session1")
WAV_F000 = SESSION1 / "sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
EVAL_S2 = Path("IEMOCAP_full_release/Session2/dialog/EmoEvaluation/Ses02F_impro01.txt")
TRANS_S2 = Path("IEMOCAP_full_release/Session2/dialog/transcriptions/Ses02F_impro01.txt")
WAVS_S2 = Path("IEMOCAP_full_release/Session2/sentences/wav/Ses02F_impro01")


# ------------------------------------------------------------------------------------------ harness

@dataclass
class Outcome:
    """What a case produced: an exit status and output (CLI), or a value, or an exception."""

    rc: int | None = None
    out: str = ""
    err: str = ""
    exc: BaseException | None = None
    tb: str = ""
    value: Any = None

    @property
    def text(self) -> str:
        return self.out + self.err + (str(self.exc) if self.exc is not None else "")


@dataclass
class Env:
    """Shared, read-only material (built once) and this case's own temporary folder."""

    tmp: Path
    iemocap: Path  # pristine IEMOCAP fixture: copy before changing it
    trained: Path  # a results folder holding one finished `sernb train` of the pristine fixture
    ckpt: dict[str, Path]  # system -> a saved model folder (copy before changing it)
    good_wav: Path

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    @property
    def results(self) -> Path:
        return self.tmp / "results"


@dataclass(frozen=True)
class Case:
    id: str
    expect: str
    act: Callable[[Env], Outcome]
    #: Substrings the output (or the error) must hold: the file's name and the problem.
    names: tuple[str, ...] = ()
    check: Callable[[Outcome, Env], None] | None = None
    tags: tuple[str, ...] = field(default=())


def cli(*args: Any) -> Outcome:
    """``sernb ARGS`` in this process, output captured."""
    out, err = io.StringIO(), io.StringIO()
    outcome = Outcome()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            outcome.rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            outcome.rc = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:
            outcome.exc, outcome.tb = exc, traceback.format_exc()
    outcome.out, outcome.err = out.getvalue(), err.getvalue()
    return outcome


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """A library call: its value, or the exception it raised; log output captured."""
    err = io.StringIO()
    outcome = Outcome()
    with contextlib.redirect_stderr(err):
        try:
            outcome.value = fn(*args, **kwargs)
        except Exception as exc:
            outcome.exc, outcome.tb = exc, traceback.format_exc()
    outcome.err = err.getvalue()
    if isinstance(outcome.value, pd.DataFrame) and "skipped" in outcome.value.attrs:
        from sernb.data import describe_skips

        outcome.out = describe_skips(outcome.value)  # the line a loader logs and a notebook prints
    return outcome


def train_args(env: Env, root: Path, *extra: Any) -> list[Any]:
    return ["train", "--profile", "smoke", "--system", "audio_only", "--data-root", root, "--epochs", 1,
            "--max-frames", 50, "--device", "cpu", "--out", env.out, "--results", env.results, "--no-progress",
            *extra]


def train(env: Env, root: Path, *extra: Any) -> Outcome:
    outcome = cli(*train_args(env, root, *extra))
    if outcome.rc == 0:
        outcome.value = json.loads((env.out / "result.json").read_text())
    return outcome


def corpus(env: Env, change: Callable[[Path], None]) -> Path:
    """A copy of the IEMOCAP fixture, changed by ``change(base)``; returns the data root."""
    base = env.tmp / "corpus"
    shutil.copytree(env.iemocap, base)
    change(base)
    return base


def checkpoint(env: Env, system: str = "audio_only", change: Callable[[Path], None] | None = None) -> Path:
    folder = env.tmp / "model"
    shutil.copytree(env.ckpt[system], folder)
    if change is not None:
        change(folder)
    return folder


def predict(env: Env, wav: Path, *extra: Any, system: str = "audio_only", ckpt: Path | None = None) -> Outcome:
    outcome = cli("predict", wav, "--checkpoint", ckpt or env.ckpt[system], "--json", *extra)
    if outcome.rc == 0:
        outcome.value = json.loads(outcome.out)
    return outcome


# ------------------------------------------------------------------------------------------ inputs

def audio(env: Env, name: str, data: np.ndarray, sr: int = 16000, subtype: str = "FLOAT") -> Path:
    path = env.tmp / name
    sf.write(path, data, sr, subtype=subtype)
    return path


def tone(seconds: float, sr: int = 16000, amp: float = 0.3, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    x = amp * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x + amp * 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def raw(env: Env, name: str, data: bytes) -> Path:
    path = env.tmp / name
    path.write_bytes(data)
    return path


def long_wav(path: Path, seconds: int = 7200, sr: int = 48000, head_seconds: int = 20) -> Path:
    """A 16-bit mono wav of ``seconds``: a real tone at the start, then (sparse) zeros."""
    n = seconds * sr
    data_bytes = 2 * n
    header = (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16) + b"data" + struct.pack("<I", data_bytes))
    head = (tone(head_seconds, sr) * 32767).astype("<i2").tobytes()
    with open(path, "wb") as fh:
        fh.write(header + head)
        fh.truncate(44 + data_bytes)
    return path


def transcript(env: Env, name: str, data: bytes) -> Path:
    return raw(env, name, data)


def add_utterance(base: Path, utt: str, eval_line: str, text: str = "Added line.", text_bytes: bytes | None = None
                  ) -> None:
    """Append one evaluated utterance (its summary line, transcript and wav) to Ses02F_impro01."""
    with open(base / EVAL_S2, "a", encoding="utf-8") as fh:
        fh.write(eval_line + "\n")
    line = text_bytes if text_bytes is not None else text.encode()
    with open(base / TRANS_S2, "ab") as fh:
        fh.write(f"{utt} [060.0000-061.5000]: ".encode() + line + b"\n")
    write_wav(base / WAVS_S2 / f"{utt}.wav", seconds=0.05)


def replace_wav(base: Path, data: bytes | np.ndarray) -> None:
    path = base / WAV_F000
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        sf.write(path, data, 16000, subtype="FLOAT")


def edit_json(name: str, edit: Callable[[dict], Any]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        info = json.loads((folder / name).read_text())
        edit(info)  # in place
        (folder / name).write_text(json.dumps(info))
    return change


# ------------------------------------------------------------------------------------------ checks

def skip_recorded(key: str, count: int) -> Callable[[Outcome, Env], None]:
    """The skip is printed (checked through ``names``) and stored in result.json."""
    def check(o: Outcome, env: Env) -> None:
        assert o.value["meta"]["skipped"].get(key) == count, o.value["meta"]["skipped"]
        assert f"{key} {count}" in o.out  # sernb train prints it on stdout, not only in the log
    return check


def table_skip(key: str, count: int) -> Callable[[Outcome, Env], None]:
    def check(o: Outcome, env: Env) -> None:
        from sernb.data import describe_skips

        assert o.value.attrs["skipped"].get(key) == count, o.value.attrs["skipped"]
        assert f"{key} {count}" in describe_skips(o.value)
    return check


def prediction_ok(warning: str | None = None, note: str | None = None) -> Callable[[Outcome, Env], None]:
    """A real answer (probabilities over the model's classes summing to 1), flagged as expected."""
    def check(o: Outcome, env: Env) -> None:
        pred = o.value
        assert set(pred["probs"]) == set(LABELS) and abs(sum(pred["probs"].values()) - 1) < 1e-4
        assert pred["label"] == max(pred["probs"], key=pred["probs"].get)
        if warning is None:
            assert pred["warnings"] == [], pred["warnings"]
        else:
            assert any(warning in w for w in pred["warnings"]), pred["warnings"]
        if note is not None:
            assert any(note in n for n in pred["notes"]), pred["notes"]
    return check


def all_of(*checks: Callable[[Outcome, Env], None]) -> Callable[[Outcome, Env], None]:
    def check(o: Outcome, env: Env) -> None:
        for c in checks:
            c(o, env)
    return check


def run_dirs(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("_runs/*/*") if p.is_dir() and p.parent.name != "models")


def rerun_after(damage: Callable[[Env], None]) -> Callable[[Env], Outcome]:
    """Copy the finished train, damage it as a crash would, and run the same command again."""
    def act(env: Env) -> Outcome:
        shutil.copytree(env.trained, env.results)
        damage(env)
        return train(env, env.iemocap)
    return act


def complete_after_rerun(o: Outcome, env: Env) -> None:
    from sernb.models.checkpoint import is_complete

    for run in run_dirs(env.results):
        assert json.loads((run / "run.json").read_text())["name"] == run.name
        assert is_complete(run / "model"), sorted(p.name for p in (run / "model").rglob("*"))
        assert not (run / "checkpoint").exists()
    assert is_complete(env.out / "model")
    assert not list(env.results.rglob("*.tmp"))


def leave_temp_files(env: Env) -> None:
    """What a kill during an atomic write leaves: ``.<name>.<random>.tmp`` files, old by now."""
    for run in run_dirs(env.results):
        for folder in (run, run / "model", *env.results.glob("[0-9a-f]*")):
            tmp = folder / f".{folder.name}.abcd.tmp"
            tmp.write_text("{half")
            os.utime(tmp, (1e9, 1e9))


def append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def drop_result(env: Env) -> None:
    for path in env.results.glob("*/result.json"):
        path.unlink()


# ------------------------------------------------------------------------------------------ actions

def kill_right_after_run_json(env: Env) -> Outcome:
    """A real ``kill -9`` of ``sernb train`` just after a run's run.json is written; then a rerun."""
    script = textwrap.dedent(f"""
        import os, sys
        import sernb.experiments as e
        save = e._save_run
        def save_then_die(*args, **kwargs):
            save(*args, **kwargs)
            os.kill(os.getpid(), 9)
        e._save_run = save_then_die
        from sernb.cli import main
        sys.exit(main({[str(a) for a in train_args(env, env.iemocap)]!r}))
    """)
    env_vars = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env_vars, capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    (run,) = run_dirs(env.results)
    assert (run / "run.json").exists() and not list(env.results.glob("*/result.json"))
    return train(env, env.iemocap)


def subprocess_predict_nan(env: Env) -> Outcome:
    """The real command line: exit status 2 and one line, no traceback."""
    wav = audio(env, "nan.wav", np.full(16000, np.nan, dtype=np.float32))
    proc = subprocess.run([sys.executable, "-m", "sernb.cli", "predict", str(wav), "--checkpoint",
                           str(env.ckpt["audio_only"])], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    return Outcome(rc=proc.returncode, out=proc.stdout, err=proc.stderr)


def subprocess_predict_latin1_argv(env: Env) -> Outcome:
    """A transcript typed in a Latin-1 terminal: the argv bytes are not UTF-8."""
    proc = subprocess.run([sys.executable.encode(), b"-m", b"sernb.cli", b"predict", str(env.good_wav).encode(),
                           b"--checkpoint", str(env.ckpt["ours"]).encode(), b"--text", b"na\xefve caf\xe9 ol\xe9"],
                          capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"})
    return Outcome(rc=proc.returncode, out=proc.stdout.decode(), err=proc.stderr.decode())


def predict_two_hours(env: Env) -> Outcome:
    wav = long_wav(env.tmp / "two_hours.wav")
    tracemalloc.start()
    start = time.perf_counter()
    try:
        outcome = predict(env, wav)
        outcome.value = {**(outcome.value or {}), "seconds": time.perf_counter() - start,
                         "peak_mb": tracemalloc.get_traced_memory()[1] / 2**20}
    finally:
        tracemalloc.stop()
    return outcome


def check_two_hours(o: Outcome, env: Env) -> None:
    prediction_ok(note="read only the first")(o, env)
    assert any("7,200.0 s" in n for n in o.value["notes"]), o.value["notes"]
    assert o.value["peak_mb"] < 150, o.value["peak_mb"]  # the whole file would be 1.3 GB as float32
    assert o.value["seconds"] < 30


def mfcc_of_long_file(env: Env) -> Outcome:
    from sernb.data.features import MFCCConfig, clip_mfcc

    wav = long_wav(env.tmp / "long.wav", seconds=3600, sr=16000)
    tracemalloc.start()
    try:
        outcome = call(clip_mfcc, wav, MFCCConfig())
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    outcome.value = (outcome.value, peak)
    return outcome


def check_long_mfcc(o: Outcome, env: Env) -> None:
    frames, peak = o.value
    assert frames.shape == (1001, 40) and np.isfinite(frames).all()  # 10 s at 100 frames/s
    assert peak < 60, peak  # one hour at 16 kHz would be 230 MB as float32


def truncated_data_mfcc(env: Env) -> Outcome:
    from sernb.data.features import MFCCConfig, clip_mfcc

    wav = audio(env, "cut.wav", tone(2.0), subtype="PCM_16")
    data = wav.read_bytes()
    wav.write_bytes(data[: len(data) // 2])  # the header still promises 2 s
    return call(clip_mfcc, wav, MFCCConfig())


def stale_temp_files(env: Env) -> Outcome:
    from sernb.data.features import MFCCConfig, cache_folder, extract_mfcc

    wav = audio(env, "a.wav", tone(0.5))
    folder = cache_folder(MFCCConfig(), env.tmp / "cache")
    folder.mkdir(parents=True)
    stale, fresh = folder / ".abc.npy.x1y2.tmp", folder / ".def.npy.z3w4.tmp"
    stale.write_bytes(b"half an array")
    fresh.write_bytes(b"being written now")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    outcome = call(extract_mfcc, [wav], cache_dir=env.tmp / "cache", progress=False)
    outcome.value = (outcome.value, stale.exists(), fresh.exists(), sorted(p.name for p in folder.iterdir()))
    return outcome


def damaged_cache_file(env: Env) -> Outcome:
    """A cache file cut short (a full disk, a copy interrupted): recomputed, rewritten, announced."""
    import logging

    from sernb.data.features import MFCCConfig, cache_file, cache_folder, extract_mfcc

    wav = audio(env, "b.wav", tone(0.5))
    first = extract_mfcc([wav], cache_dir=env.tmp / "cache", progress=False)[0]
    target = cache_file(wav, cache_folder(MFCCConfig(), env.tmp / "cache"))
    target.write_bytes(target.read_bytes()[:100])
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger("sernb").addHandler(handler)
    try:
        outcome = call(extract_mfcc, [wav], cache_dir=env.tmp / "cache", progress=False)
    finally:
        logging.getLogger("sernb").removeHandler(handler)
    outcome.err += log.getvalue()
    outcome.value = np.array_equal(outcome.value[0], first) and np.array_equal(np.load(target), first)
    return outcome


def check_stale(o: Outcome, env: Env) -> None:
    feats, stale_left, fresh_left, names = o.value
    assert feats[0] is not None and not stale_left and fresh_left, names


def synthetic_root_config(env: Env) -> Outcome:
    from sernb.data.synth import MANIFEST_NAME
    from sernb.experiments import ExperimentConfig

    root = env.tmp / "synth"
    root.mkdir()
    (root / MANIFEST_NAME).write_text("{}")
    real = ExperimentConfig.from_profile("smoke", data_root=str(env.iemocap), corpus=None)
    synthetic = ExperimentConfig.from_profile("smoke", data_root=str(root), corpus=None)
    return Outcome(value=(real.corpus, synthetic.corpus))


def load_iemocap_changed(change: Callable[[Path], None], **options: Any) -> Callable[[Env], Outcome]:
    def act(env: Env) -> Outcome:
        from sernb.data import load

        return call(load, "iemocap", corpus(env, change), **options)
    return act


def meld_changed(change: Callable[[pd.DataFrame], pd.DataFrame | None], encoding: str = "utf-8",
                 **options: Any) -> Callable[[Env], Outcome]:
    def act(env: Env) -> Outcome:
        from sernb.data import load

        base = make_meld(env.tmp / "meld")
        csv = base / "MELD.Raw" / "train_sent_emo.csv"
        frame = pd.read_csv(csv, dtype=str)
        frame.attrs["base"] = str(base)
        changed = change(frame)
        frame = changed if changed is not None else frame
        frame.to_csv(csv, index=False, encoding=encoding)
        return call(load, "meld", base, **options)
    return act


def ravdess_changed(change: Callable[[Path], None]) -> Callable[[Env], Outcome]:
    def act(env: Env) -> Outcome:
        from sernb.data import load

        base = make_ravdess(env.tmp / "ravdess")
        change(base)
        return call(load, "ravdess", base)
    return act


def torch_pickle(folder: Path) -> None:
    from safetensors.torch import load_file

    buffer = io.BytesIO()
    torch.save(load_file(folder / "model.safetensors"), buffer)
    (folder / "model.safetensors").write_bytes(buffer.getvalue())


def truncate(path_in_folder: str, keep: float = 0.5) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / path_in_folder
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
    return change


def nan_weights(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(folder / "model.safetensors")
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name][0] = float("nan")
    save_file(state, folder / "model.safetensors")


def foreign_weights(env: Env) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        shutil.copyfile(env.ckpt["text_only"] / "model.safetensors", folder / "model.safetensors")
    return change


def remove_tokenizer(folder: Path) -> None:
    for path in (folder / "text").iterdir():
        if path.name != "config.json":
            path.unlink()


CP1252_LINE = "Ses01F_impro01 said: caf\u00e9 \u2019na\u00efve\u2019".encode("cp1252")
UTF8 = "Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.".encode()

# ------------------------------------------------------------------------------------------ the table

CASES: list[Case] = [
    # --- sernb train on a corpus with one bad clip: the run goes on, the clip is a counted skip
    Case("train-clip-nan", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: replace_wav(b, np.full(800, np.nan, np.float32)))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-inf", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: replace_wav(b, np.r_[np.zeros(400), np.inf, np.zeros(399)]
                                                                     .astype(np.float32)))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-empty-file", COUNTED_SKIP, lambda env: train(env, corpus(env, lambda b: replace_wav(b, b""))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-no-samples", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: replace_wav(b, np.zeros(0, np.float32)))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-corrupt", COUNTED_SKIP, lambda env: train(env, corpus(env, lambda b: replace_wav(b, CORRUPT))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-truncated-header", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: replace_wav(b, (b / WAV_F000).read_bytes()[:30]))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-is-a-directory", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: ((b / WAV_F000).unlink(), (b / WAV_F000).mkdir()))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-clip-digital-silence", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: replace_wav(b, np.zeros(8000, np.float32)))),
         ("silent audio 1",), skip_recorded("silent audio", 1)),
    Case("train-clip-3-samples", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: replace_wav(b, np.array([0.1, -0.1, 0.2], np.float32)))),
         ("audio too short 1",), skip_recorded("audio too short", 1)),
    Case("train-clip-dangling-symlink", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: ((b / WAV_F000).unlink(),
                                                        (b / WAV_F000).symlink_to(b / "gone.wav")))),
         ("unreadable audio 1",), skip_recorded("unreadable audio", 1)),
    Case("train-every-clip-unreadable", CLEAR_ERROR,
         lambda env: train(env, corpus(env, lambda b: [p.write_bytes(CORRUPT) for p in b.rglob("Ses*.wav")])),
         ("no utterances kept", "unreadable audio")),
    # --- labels and times in EmoEvaluation
    Case("train-unknown-label", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: add_utterance(
             b, "Ses02F_impro01_F050", "[60.0000 - 61.5000]\tSes02F_impro01_F050\tNeutral\t[2.5, 2.5, 2.5]"))),
         ("unknown label:Neutral 1",), skip_recorded("unknown label:Neutral", 1)),
    Case("train-reversed-time-range", COUNTED_SKIP,
         lambda env: train(env, corpus(env, lambda b: add_utterance(
             b, "Ses02F_impro01_F051", "[70.0000 - 65.5000]\tSes02F_impro01_F051\tneu\t[2.5, 2.5, 2.5]"))),
         ("reversed or empty time range 1",), skip_recorded("reversed or empty time range", 1)),
    Case("train-malformed-time", CLEAR_ERROR,
         lambda env: train(env, corpus(env, lambda b: add_utterance(
             b, "Ses02F_impro01_F052", "[23.9520.5 - 25.0000]\tSes02F_impro01_F052\tneu\t[2.5, 2.5, 2.5]"))),
         ("Ses02F_impro01.txt", "line ", "23.9520.5")),
    Case("train-latin1-transcript", WORKS,
         lambda env: train(env, corpus(env, lambda b: add_utterance(
             b, "Ses02F_impro01_F053", "[60.0000 - 61.5000]\tSes02F_impro01_F053\tneu\t[2.5, 2.5, 2.5]",
             text_bytes="D\u00e9j\u00e0 vu, na\u00efve caf\u00e9.".encode("latin-1")))),
         ("non-UTF-8 lines read as cp1252 1",),
         lambda o, env: o.value["meta"]["repaired"] == {"non-UTF-8 lines read as cp1252": 1} or pytest.fail(
             str(o.value["meta"]["repaired"]))),
    Case("train-real-iemocap-is-recorded-as-iemocap", WORKS, lambda env: train(env, env.iemocap),
         ("iemocap: kept 86 utterances",),
         lambda o, env: (o.value["meta"]["corpus"], o.value["meta"]["synthetic"]) == ("iemocap", False)
         or pytest.fail(str(o.value["meta"]))),
    # --- sernb train options and roots
    Case("train-data-root-missing", CLEAR_ERROR, lambda env: train(env, env.tmp / "no-such-corpus"),
         ("no-such-corpus", "no IEMOCAP layout")),
    Case("train-data-root-is-a-file", CLEAR_ERROR, lambda env: train(env, raw(env, "corpus.zip", b"PK\x03\x04")),
         ("corpus.zip", "no IEMOCAP layout")),
    Case("train-data-root-empty-layout", CLEAR_ERROR,
         lambda env: train(env, corpus(env, lambda b: [p.unlink() for p in b.rglob("EmoEvaluation/*.txt")])),
         ("no utterances kept",)),
    Case("train-out-is-a-file", CLEAR_ERROR,
         lambda env: cli(*train_args(env, env.iemocap), "--out", raw(env, "out.txt", b"notes")),
         ("out.txt", "--out must be a folder")),
    Case("train-results-is-a-file", CLEAR_ERROR,
         lambda env: cli(*train_args(env, env.iemocap), "--results", raw(env, "results.json", b"{}")),
         ("results.json", "--results must be a folder")),
    Case("train-unknown-profile", CLEAR_ERROR, lambda env: cli("train", "--profile", "gpu-cluster"),
         ("invalid choice: 'gpu-cluster'",)),
    Case("table1-data-root-missing", CLEAR_ERROR,
         lambda env: cli("table1", "--profile", "smoke", "--data-root", env.tmp / "nowhere", "--out", env.out,
                         "--results", env.results, "--device", "cpu", "--text-model", "tiny-deberta", "--no-progress"),
         ("sernb table1: error:", "nowhere", "no IEMOCAP layout")),
    Case("bench-data-root-missing", CLEAR_ERROR,
         lambda env: cli("bench", "--profile", "smoke", "--data-root", env.tmp / "nowhere", "--device", "cpu"),
         ("sernb bench: error:", "nowhere", "no IEMOCAP layout")),
    Case("train-iemocap-without-root", CLEAR_ERROR,
         lambda env: cli("train", "--profile", "smoke", "--corpus", "iemocap", "--out", env.out, "--results",
                         env.results, "--device", "cpu"),
         ("needs a data root",)),
    Case("train-zero-seeds", CLEAR_ERROR, lambda env: train(env, env.iemocap, "--seeds", 0),
         ("--seeds", "at least 1")),
    Case("train-zero-epochs", CLEAR_ERROR, lambda env: cli(*train_args(env, env.iemocap), "--epochs", 0),
         ("epochs must be a positive",)),
    Case("train-negative-max-frames", CLEAR_ERROR,
         lambda env: cli(*train_args(env, env.iemocap), "--max-frames", -5), ("max_frames must be a positive",)),
    Case("train-unknown-system", CLEAR_ERROR, lambda env: cli(*train_args(env, env.iemocap), "--system", "gpt5"),
         ("unknown system 'gpt5'",)),
    Case("train-text-model-folder-missing", CLEAR_ERROR,
         lambda env: cli(*train_args(env, env.iemocap), "--system", "ours", "--text-model", env.tmp / "no-model"),
         ("no-model", "does not exist")),
    Case("train-unknown-device", CLEAR_ERROR, lambda env: cli(*train_args(env, env.iemocap), "--device", "tpu9"),
         ("unknown device 'tpu9'",)),
    # --- interrupted and damaged runs: a resume never trusts an incomplete run
    Case("train-kill-9-after-run-json", WORKS, kill_right_after_run_json, ("model of run",), complete_after_rerun),
    Case("train-rerun-model-lacks-files", WORKS,
         rerun_after(lambda env: (drop_result(env), [(r / "model" / n).unlink() for r in run_dirs(env.results)
                                                     for n in ("model.json", "model.safetensors")])),
         ("model of run",), complete_after_rerun),
    Case("train-rerun-leftover-checkpoint", WORKS,
         rerun_after(lambda env: (drop_result(env), [((r / "checkpoint").mkdir(), (r / "checkpoint" / "x.pt")
                                                      .write_bytes(b"\0" * 1000)) for r in run_dirs(env.results)])),
         ("model of run",), complete_after_rerun),
    Case("train-rerun-run-json-damaged", WORKS,
         rerun_after(lambda env: (drop_result(env), [truncate("run.json")(r) for r in run_dirs(env.results)])),
         ("model of run",), complete_after_rerun),
    Case("train-rerun-result-json-damaged", WORKS,
         rerun_after(lambda env: [truncate("result.json", 0.3)(p.parent) for p in env.results.glob("*/result.json")]),
         ("model of run",), complete_after_rerun),
    Case("train-rerun-stale-temp-files", WORKS, rerun_after(lambda env: (drop_result(env), leave_temp_files(env))),
         ("model of run",), complete_after_rerun),
    # --- sernb predict: recordings that cannot be used are refused, naming the file
    Case("predict-nan-samples", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "nan.wav", np.full(16000, np.nan, np.float32))),
         ("nan.wav", "NaN or infinite")),
    Case("predict-inf-samples", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "inf.wav", np.r_[tone(1.0), np.inf].astype(np.float32))),
         ("inf.wav", "1 of 16001 samples are NaN or infinite")),
    Case("predict-nan-in-one-channel", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "stereo_nan.wav", np.stack([tone(1.0), np.full(16000, np.nan)], 1))),
         ("stereo_nan.wav", "NaN or infinite")),
    Case("predict-empty-file", CLEAR_ERROR, lambda env: predict(env, raw(env, "empty.wav", b"")),
         ("empty.wav", "empty file")),
    Case("predict-wav-without-samples", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "zero.wav", np.zeros(0, np.float32))), ("zero.wav", "zero-length")),
    Case("predict-truncated-header", CLEAR_ERROR,
         lambda env: predict(env, raw(env, "cut.wav", env.good_wav.read_bytes()[:20])), ("cut.wav", "corrupt")),
    Case("predict-junk-bytes", CLEAR_ERROR, lambda env: predict(env, raw(env, "junk.wav", CORRUPT)),
         ("junk.wav", "corrupt or unreadable")),
    Case("predict-text-file-named-wav", CLEAR_ERROR,
         lambda env: predict(env, raw(env, "notes.wav", b"Dear diary, today I was angry.\n" * 20)),
         ("notes.wav", "corrupt or unreadable")),
    Case("predict-missing-file", CLEAR_ERROR, lambda env: predict(env, env.tmp / "nowhere.wav"),
         ("nowhere.wav", "file not found")),
    Case("predict-directory", CLEAR_ERROR,
         lambda env: predict(env, (env.tmp / "folder.wav").mkdir() or env.tmp / "folder.wav"),
         ("folder.wav", "not a regular file")),
    Case("predict-digital-silence", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "silence.wav", np.zeros(32000, np.float32))),
         ("silence.wav", "digital silence")),
    Case("predict-near-silence", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "hiss.wav", tone(2.0, amp=3e-5))), ("hiss.wav", "silent")),
    Case("predict-10ms", CLEAR_ERROR, lambda env: predict(env, audio(env, "blip.wav", tone(0.01))),
         ("blip.wav", "too short: 10.0 ms")),
    Case("predict-3-samples", CLEAR_ERROR,
         lambda env: predict(env, audio(env, "three.wav", np.array([0.1, -0.2, 0.3], np.float32))),
         ("three.wav", "too short", "3 samples")),
    Case("predict-mp4-clip", CLEAR_ERROR,
         lambda env: predict(env, raw(env, "clip.mp4", b"\x00\x00\x00\x18ftypmp42" + CORRUPT)),
         ("clip.mp4",)),
    Case("predict-subprocess-exit-2", CLEAR_ERROR, subprocess_predict_nan,
         ("sernb predict: error:", "nan.wav", "NaN or infinite")),
    # --- sernb predict: odd but usable recordings are answered with a warning or a note
    Case("predict-short-clip", WORKS, lambda env: predict(env, audio(env, "short.wav", tone(0.3))),
         (), prediction_ok(warning="short clip (0.30 s)")),
    Case("predict-very-quiet", WORKS, lambda env: predict(env, audio(env, "quiet.wav", tone(2.0, amp=1e-3))),
         (), prediction_ok(warning="very quiet")),
    Case("predict-clipped", WORKS,
         lambda env: predict(env, audio(env, "loud.wav", np.clip(tone(2.0, amp=3.0), -1, 1))),
         (), prediction_ok(warning="clipped")),
    Case("predict-two-hours", WORKS, predict_two_hours, (), check_two_hours),
    Case("predict-stereo-48k", WORKS,
         lambda env: predict(env, audio(env, "s48.wav", tone(2.0, sr=48000, channels=2), sr=48000)),
         (), prediction_ok()),
    Case("predict-4k-sample-rate", WORKS,
         lambda env: predict(env, audio(env, "4k.wav", tone(2.0, sr=4000), sr=4000, subtype="PCM_16")),
         (), prediction_ok(warning="low sample rate (4000 Hz)")),
    Case("predict-24bit-pcm", WORKS,
         lambda env: predict(env, audio(env, "hi.wav", tone(2.0, sr=96000), sr=96000, subtype="PCM_24")),
         (), prediction_ok()),
    Case("predict-transcript-for-audio-only-model", WORKS,
         lambda env: predict(env, env.good_wav, "--text", "hello there"),
         (), prediction_ok(note="the transcript was ignored")),
    Case("predict-flac", WORKS, lambda env: predict(env, audio(env, "take.flac", tone(2.0), subtype="PCM_16")),
         (), prediction_ok()),
    Case("predict-dangling-symlink", CLEAR_ERROR,
         lambda env: predict(env, (env.tmp / "link.wav").symlink_to(env.tmp / "moved.wav") or env.tmp / "link.wav"),
         ("link.wav", "file not found")),
    Case("predict-8k-pcm", WORKS,
         lambda env: predict(env, audio(env, "tel.wav", tone(2.0, sr=8000), sr=8000, subtype="PCM_16")),
         (), prediction_ok()),
    Case("predict-text-only-without-wav", WORKS,
         lambda env: predict(env, env.tmp / "absent.wav", "--text", "I am so happy", system="text_only"),
         (), prediction_ok(note="was not read: this model is text-only")),
    # --- transcripts
    Case("predict-transcript-cp1252-file", WORKS,
         lambda env: predict(env, env.good_wav, "--text-file", transcript(env, "latin.txt", CP1252_LINE),
                             system="ours"),
         (), prediction_ok(note="latin.txt: 1 line(s) not valid UTF-8 were read as cp1252")),
    Case("predict-transcript-invalid-utf8-line", WORKS,
         lambda env: predict(env, env.good_wav, "--text-file",
                             transcript(env, "mixed.txt", UTF8 + b"\nbad byte \xff\x81 here\n" + UTF8),
                             system="ours"),
         (), prediction_ok(note="mixed.txt: 1 line(s) not valid UTF-8")),
    Case("predict-transcript-bom", WORKS,
         lambda env: predict(env, env.good_wav, "--text-file", transcript(env, "bom.txt", b"\xef\xbb\xbf" + UTF8),
                             system="ours"),
         (), lambda o, env: prediction_ok()(o, env) or o.value["notes"] == [
             n for n in o.value["notes"] if "UNTRAINED" in n] or pytest.fail(str(o.value["notes"]))),
    Case("predict-argv-latin1-bytes", WORKS, subprocess_predict_latin1_argv, ("note: the transcript was not valid UTF-8",
                                                                           "top class:"),
         lambda o, env: o.rc == 0 or pytest.fail(o.err)),
    Case("predict-warnings-printed", WORKS,
         lambda env: cli("predict", audio(env, "short.wav", tone(0.3)), "--checkpoint", env.ckpt["audio_only"]),
         ("warning: short clip (0.30 s)", "top class: ", "(see the warnings above)")),
    Case("predict-very-long-transcript", WORKS,
         lambda env: predict(env, env.good_wav, "--text", "so angry " * 3000, system="ours"),
         (), prediction_ok(note="cut to its first")),
    Case("predict-transcript-file-missing", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text-file", env.tmp / "said.txt", system="ours"),
         ("said.txt", "transcript file not found")),
    Case("predict-transcript-file-empty", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text-file", transcript(env, "blank.txt", b"\n  \n"),
                             system="ours"),
         ("blank.txt", "empty")),
    Case("predict-transcript-is-directory", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text-file", env.tmp, system="ours"),
         (str(Path("/tmp")), "not a regular file")),
    Case("predict-transcript-utf16", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text-file",
                             transcript(env, "wide.txt", "Hello there".encode("utf-16")), system="ours"),
         ("wide.txt", "NUL bytes")),
    Case("predict-text-and-text-file", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text", "hi", "--text-file", env.tmp / "x.txt", system="ours"),
         ("not both",)),
    Case("predict-blank-transcript-for-text-model", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text", "  \t ", system="ours"), ("--text",)),
    # no transcript for a text model: the offline speech recogniser writes one (issue 14)
    Case("predict-no-transcript-for-text-model", WORKS,
         lambda env: predict(env, env.good_wav, system="ours"), ('"transcript"', '"confidence"')),
    Case("predict-asr-model-missing", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--asr-model", env.tmp / "no-asr", system="ours"),
         ("no-asr", "speech recogniser folder not found")),
    # --- damaged checkpoints
    Case("ckpt-folder-missing", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=env.tmp / "no-model"), ("no-model", "not a sernb model")),
    Case("ckpt-train-output-folder", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=(checkpoint(env), env.tmp)[1]),
         ("output folder of `sernb train`", "--checkpoint")),
    Case("ckpt-is-a-file", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env) / "model.safetensors"),
         ("model.safetensors", "not a model folder")),
    Case("ckpt-model-json-missing", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=lambda f: (f / "model.json").unlink())),
         ("model", "no model.json")),
    Case("ckpt-model-json-truncated", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=truncate("model.json"))),
         ("model.json", "damaged JSON")),
    Case("ckpt-model-json-binary", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(
             env, change=lambda f: (f / "model.json").write_bytes(b"\xff\xfe\x00junk"))),
         ("model.json", "not UTF-8")),
    Case("ckpt-model-json-a-list", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(
             env, change=lambda f: (f / "model.json").write_text("[1, 2]"))),
         ("model.json", "expected a JSON object")),
    Case("ckpt-model-json-no-labels", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: i.pop("labels")))),
         ("model.json", "lacks the field(s) ['labels']")),
    Case("ckpt-unknown-system", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: i.update(system="transformer_xl")))),
         ("model.json", "unknown system 'transformer_xl'")),
    Case("ckpt-labels-fewer-than-weights", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: i.update(labels=["neu", "ang", "sad", "hap"])))),
         ("model.json", "lists 4 labels")),
    Case("ckpt-labels-and-classes-not-the-weights", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: (i.update(labels=["neu", "ang", "sad", "hap"]),
                                      i["options"].update(n_classes=4))))),
         ("model.safetensors", "model.json lists 4 labels; the weights have 6 outputs")),
    Case("ckpt-labels-repeated", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: i.update(labels=["neu"] * 6)))),
         ("model.json", "repeats a class name")),
    Case("ckpt-format-from-the-future", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: i.update(format=99)))),
         ("model.json", "format 99")),
    Case("ckpt-unknown-option", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=edit_json(
             "model.json", lambda i: i["options"].update(wings=2)))),
         ("model.json", "wings")),
    Case("ckpt-safetensors-truncated", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=truncate("model.safetensors"))),
         ("model.safetensors", "truncated or damaged safetensors")),
    Case("ckpt-pickle-renamed-safetensors", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=torch_pickle)),
         ("model.safetensors", "PyTorch pickle")),
    Case("ckpt-safetensors-empty", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=truncate("model.safetensors", 0))),
         ("model.safetensors", "empty file")),
    Case("ckpt-safetensors-missing", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(
             env, change=lambda f: (f / "model.safetensors").unlink())),
         ("model.safetensors", "missing")),
    Case("ckpt-nan-weights", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=nan_weights)),
         ("model.safetensors", "NaN or infinite values")),
    Case("ckpt-weights-of-another-system", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, ckpt=checkpoint(env, change=foreign_weights(env))),
         ("model.safetensors", "weights do not fit system 'audio_only'")),
    Case("ckpt-tokenizer-files-missing", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text", "hello", ckpt=checkpoint(env, "ours", remove_tokenizer)),
         ("text", "no tokenizer files")),
    Case("ckpt-tokenizer-of-another-model", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text", "hello", ckpt=checkpoint(env, "ours", edit_json(
             "model.json", lambda i: i["text_encoder"].update(tokenizer_size=128001)))),
         ("text", "the model was trained with 128001")),
    Case("ckpt-text-config-damaged", CLEAR_ERROR,
         lambda env: predict(env, env.good_wav, "--text", "hello", ckpt=checkpoint(
             env, "ours", lambda f: (f / "text" / "config.json").write_text("{not json"))),
         ("model.json", "cannot rebuild system 'ours'")),
    Case("predict-unknown-device", CLEAR_ERROR, lambda env: predict(env, env.good_wav, "--device", "banana"),
         ("unknown device 'banana'",)),
    Case("predict-gpu-that-is-not-there", CLEAR_ERROR, lambda env: predict(env, env.good_wav, "--device", "cuda:99"),
         ("cuda:99",)),
    # --- corpus loaders (library calls)
    Case("iemocap-empty-time-range", COUNTED_SKIP,
         load_iemocap_changed(lambda b: add_utterance(
             b, "Ses02F_impro01_F060", "[9.0000 - 9.0000]\tSes02F_impro01_F060\tang\t[2.5, 2.5, 2.5]")),
         ("reversed or empty time range 1",), table_skip("reversed or empty time range", 1)),
    Case("iemocap-malformed-end-time", CLEAR_ERROR,
         load_iemocap_changed(lambda b: add_utterance(
             b, "Ses02F_impro01_F061", "[9.0000 - 10.0.5]\tSes02F_impro01_F061\tang\t[2.5, 2.5, 2.5]")),
         ("Ses02F_impro01.txt", "line ", "'10.0.5'")),
    Case("iemocap-duplicate-evaluation", COUNTED_SKIP,
         load_iemocap_changed(lambda b: add_utterance(
             b, "Ses02F_impro01_F000", "[80.0000 - 81.0000]\tSes02F_impro01_F000\tsad\t[2.5, 2.5, 2.5]")),
         ("duplicate evaluation 1",), table_skip("duplicate evaluation", 1)),
    Case("iemocap-garbage-evaluation-line", COUNTED_SKIP,
         load_iemocap_changed(lambda b: add_utterance(b, "Ses02F_impro01_F062", "[ oops ]")),
         ("unparseable evaluation line 1",), table_skip("unparseable evaluation line", 1)),
    Case("iemocap-transcript-line-without-times", COUNTED_SKIP,
         load_iemocap_changed(lambda b: append(b / TRANS_S2, "Ses02F_impro01_F000: no times here")),
         ("unparseable transcription line 1",), table_skip("unparseable transcription line", 1)),
    Case("iemocap-invalid-utf8-in-one-line", WORKS,
         load_iemocap_changed(lambda b: add_utterance(
             b, "Ses02F_impro01_F063", "[60.0000 - 61.5000]\tSes02F_impro01_F063\tneu\t[2.5, 2.5, 2.5]",
             text_bytes=b"caf\xe9 " + "na\u00efve".encode())),
         (), lambda o, env: (o.value.attrs["repaired"] == {"non-UTF-8 lines read as cp1252": 1}
                             and "\ufffd" not in "".join(o.value["text"])
                             and "caf\u00e9 na\u00c3\u00afve" in set(o.value["text"])) or pytest.fail(
             f"{o.value.attrs['repaired']} {o.value['text'].tolist()[-5:]}")),
    Case("iemocap-utf8-text-untouched", WORKS,
         load_iemocap_changed(lambda b: add_utterance(
             b, "Ses02F_impro01_F064", "[60.0000 - 61.5000]\tSes02F_impro01_F064\tneu\t[2.5, 2.5, 2.5]",
             text="Caf\u00e9 cr\u00e8me.")),
         (), lambda o, env: (o.value.attrs["repaired"] == {} and "Caf\u00e9 cr\u00e8me." in set(o.value["text"]))
         or pytest.fail(str(o.value.attrs))),
    Case("iemocap-root-is-the-release-folder", WORKS,
         lambda env: call(__import__("sernb.data", fromlist=["load"]).load, "iemocap",
                          env.iemocap / "IEMOCAP_full_release"),
         ("iemocap: kept 86 utterances",)),
    Case("meld-clip-folder-missing", CLEAR_ERROR,
         meld_changed(lambda f: shutil.rmtree(next(Path(f.attrs["base"]).rglob("dev_splits_complete")))),
         ("meld", "no MELD folder 'dev_splits_complete'")),
    Case("meld-cp1252-csv", WORKS,
         meld_changed(lambda f: f.assign(Utterance=f["Utterance"].str.replace("line", "line \u2019quoted\u2019")),
                      encoding="cp1252"),
         (), lambda o, env: (o.value.attrs["repaired"].get("non-UTF-8 lines read as cp1252") == 8
                             and o.value["text"].str.contains("\u2019quoted\u2019").sum() == 7)
         or pytest.fail(f"{o.value.attrs['repaired']}")),
    Case("meld-malformed-start-time", WORKS,
         meld_changed(lambda f: f.assign(StartTime=["00:0x:00,125"] + list(f["StartTime"][1:]))),
         (), lambda o, env: (o.value.attrs["repaired"] == {"malformed StartTime/EndTime (kept as NaN)": 1}
                             and int(o.value["start"].isna().sum()) == 1) or pytest.fail(str(o.value.attrs))),
    Case("meld-non-numeric-dialogue-id", COUNTED_SKIP,
         meld_changed(lambda f: f.assign(Dialogue_ID=["abc"] + list(f["Dialogue_ID"][1:]))),
         ("unparseable csv row 1",), table_skip("unparseable csv row", 1)),
    Case("meld-missing-column", CLEAR_ERROR, meld_changed(lambda f: f.drop(columns=["Emotion"])),
         ("train_sent_emo.csv", "lacks columns ['Emotion']")),
    Case("ravdess-empty-wav", COUNTED_SKIP,
         ravdess_changed(lambda b: (b / "Audio_Speech_Actors_01-24/Actor_02/03-01-01-01-01-02-02.wav").write_bytes(b"")),
         ("empty wav 1",), table_skip("empty wav", 1)),
    Case("ravdess-no-actor-folders", CLEAR_ERROR,
         lambda env: call(__import__("sernb.data", fromlist=["load"]).load, "ravdess", env.tmp),
         (str(Path("/tmp")), "no RAVDESS layout")),
    # --- features, caches, configuration
    Case("mfcc-long-file-reads-10s", WORKS, mfcc_of_long_file, (), check_long_mfcc),
    Case("mfcc-wav-cut-short", WORKS, truncated_data_mfcc, (),
         lambda o, env: 90 <= o.value.shape[0] <= 102 or pytest.fail(str(o.value.shape))),
    Case("mfcc-stale-temp-files-cleaned", WORKS, stale_temp_files, (), check_stale),
    Case("mfcc-damaged-cache-file", WORKS, damaged_cache_file, ("recomputing",),
         lambda o, env: o.value or pytest.fail("the damaged cache file was not rewritten")),
    Case("config-corpus-from-data-root", WORKS, synthetic_root_config, (),
         lambda o, env: o.value == ("iemocap", "synthetic") or pytest.fail(str(o.value))),
]


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Any]:
    """The pristine IEMOCAP fixture, one finished train of it, saved models and a good recording."""
    from sernb.models import build_model
    from sernb.models.checkpoint import save_model

    base = tmp_path_factory.mktemp("bad-input")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("SERNB_DATA", str(base / "data-home"))
    iemocap = make_iemocap(base / "iemocap")
    ckpt = {}
    for system in ("audio_only", "ours", "text_only"):
        torch.manual_seed(0)
        model = build_model(system, text_model="tiny-deberta")
        if hasattr(model, "fit_audio_stats") and "mfcc" in model.inputs:
            model.fit_audio_stats(torch.randn(500, 40) * 50)
        ckpt[system] = save_model(model, base / "ckpt" / system, labels=LABELS, extra={"max_frames": 300})
    good = base / "good.wav"
    sf.write(good, tone(1.5), 16000)
    trained_env = Env(base / "first", iemocap, base / "none", ckpt, good)
    trained_env.tmp.mkdir()
    first = train(trained_env, iemocap)
    assert first.rc == 0, first.err + first.tb
    yield {"iemocap": iemocap, "trained": trained_env.results, "ckpt": ckpt, "good": good}
    mp.undo()


@pytest.fixture
def env(shared, tmp_path, monkeypatch) -> Env:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SERNB_DATA", str(shared["iemocap"].parent / "data-home"))
    return Env(tmp_path, shared["iemocap"], shared["trained"], shared["ckpt"], shared["good"])


# ------------------------------------------------------------------------------------------ the test

RESULTS: Counter = Counter()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, env: Env) -> None:
    outcome = case.act(env)
    if outcome.exc is not None and not isinstance(outcome.exc, SernbError):
        pytest.fail(f"raw traceback ({case.expect} expected):\n{outcome.tb}")
    assert "Traceback" not in outcome.err, outcome.err
    if case.expect == CLEAR_ERROR:
        if outcome.exc is None:
            assert outcome.rc == 2, f"expected exit 2, got {outcome.rc}\n{outcome.out}\n{outcome.err}"
            lines = outcome.err.strip().splitlines()  # argparse prints its usage first
            assert lines and lines[-1].startswith("sernb ") and " error: " in lines[-1], outcome.err
    else:
        assert outcome.exc is None and outcome.rc in (None, 0), f"{outcome.rc}\n{outcome.err}"
    for name in case.names:
        assert name in outcome.text, f"{name!r} not in:\n{outcome.text}"
    if case.check is not None:
        case.check(outcome, env)
    RESULTS[case.expect] += 1


def test_battery_size_and_outcomes() -> None:
    """At least 60 distinct cases, each once; prints the count per outcome (-s to see it)."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60
    counts = Counter(c.expect for c in CASES)
    passed = dict(RESULTS) if RESULTS else "(run with the battery to count passes)"
    print(f"\nbad-input battery: {len(CASES)} cases: " + ", ".join(f"{k} {counts[k]}" for k in
                                                                   (CLEAR_ERROR, COUNTED_SKIP, WORKS))
          + f"; passed: {passed}")


def test_internal_bugs_keep_their_traceback(monkeypatch) -> None:
    """Only bad input is turned into exit 2: a bug in sernb still raises (and shows its traceback)."""
    import sernb.predict

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sernb.predict, "predict_file", broken)
    with pytest.raises(ZeroDivisionError):
        main(["predict", "x.wav", "--text", "hi"])
