"""Tiny corpora in the real layouts (IEMOCAP, MELD, RAVDESS) for the data-layer tests.

Each builder writes into a folder it is given and returns the root a loader takes. The
irregular cases are written on purpose and their expected skip counts are spelled out next to
them, so a test can assert exact numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from sernb.data.table import EMOTIONS_6

# ---------------------------------------------------------------------------- audio files


def write_wav(path: Path, seconds: float = 0.2, sr: int = 16000, channels: int = 1,
              freq: float = 220.0, seed: int = 0) -> Path:
    """A sine plus a little noise (so MFCCs are finite and differ between clips)."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    data = np.stack([mono * (1 + 0.5 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.astype(np.float32), sr, subtype="PCM_16")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Any bytes (a corrupt clip, an empty file, an AppleDouble ``._`` file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


CORRUPT = b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" + bytes(range(64))

# ---------------------------------------------------------------------------- IEMOCAP

#: Regular utterances per dialog: alternating F/M speakers, labels cycling through EMOTIONS_6.
IEMOCAP_PER_DIALOG = 8
#: Skips of the IEMOCAP fixture with classes=6 (and 4, plus label:fru there); see make_iemocap.
IEMOCAP_SKIPS_6 = {"label:xxx": 1, "label:sur": 1, "junk transcript id": 2, "missing wav": 1,
                   "unlabelled transcript": 1, "no transcript": 1}
#: 5 sessions x 2 dialogs x 8 + 2 irregular dialogs x 2 (Ses03M_impro05a/_impro08b) + 2 (Ses05M_script01_1b)
IEMOCAP_KEPT_6 = 5 * 2 * IEMOCAP_PER_DIALOG + 2 * 2 + 2
IEMOCAP_IRREGULAR = {"Ses03M_impro05a": ["neu", "ang"], "Ses03M_impro08b": ["sad", "fru"],
                     "Ses05M_script01_1b": ["hap", "exc"]}


def _regular_dialog(session: int, name: str) -> list[dict]:
    utts = []
    for k in range(IEMOCAP_PER_DIALOG):
        gender = "FM"[k % 2]
        utts.append({"id": f"{name}_{gender}{k // 2:03d}", "start": 1.0 + 2 * k,
                     "label": EMOTIONS_6[k % len(EMOTIONS_6)], "text": f"Sentence {k} of {name}."})
    return utts


def iemocap_spec() -> dict[int, dict[str, list[dict]]]:
    """session -> dialog -> utterances (id, start, label, text, and flags for the odd ones)."""
    spec: dict[int, dict[str, list[dict]]] = {}
    for s in range(1, 6):
        spec[s] = {name: _regular_dialog(s, name)
                   for name in (f"Ses{s:02d}F_impro01", f"Ses{s:02d}M_script01_1")}
    for name, labels in IEMOCAP_IRREGULAR.items():
        spec[int(name[3:5])][name] = [
            {"id": f"{name}_{g}000", "start": 1.0 + 2 * i, "label": lab, "text": f"{name} {g}."}
            for i, (g, lab) in enumerate(zip("FM", labels, strict=True))
        ]
    odd = spec[1]["Ses01F_impro01"]
    odd[0]["text"] = "Excuse me. [LAUGHTER]"
    odd += [
        {"id": "Ses01F_impro01_F008", "start": 30.0, "label": "xxx", "text": "Hmm."},      # label:xxx
        {"id": "Ses01F_impro01_M008", "start": 32.0, "label": "sur", "text": "What?"},     # label:sur
        {"id": "Ses01F_impro01_F009", "start": 34.0, "label": "sad", "text": "Gone.", "no_wav": True},
    ]
    spec[2]["Ses02F_impro01"] += [
        {"id": "Ses02F_impro01_M099", "start": 40.0, "label": "neu", "text": None},       # no transcript
        {"id": "Ses02F_impro01_F099", "start": 42.0, "label": None, "text": "Unrated."},  # unlabelled
    ]
    return spec


def make_iemocap(base: Path, release_name: str = "IEMOCAP_full_release") -> Path:
    """Write the IEMOCAP fixture under ``base``; return ``base`` (the folder holding the release).

    Irregular on purpose: dialog names Ses03M_impro05a / Ses03M_impro08b / Ses05M_script01_1b,
    male speakers in Ses01F_ dialogs, junk ids _FXX0/_MXX0, labels xxx and sur, a labelled
    utterance without wav, one without transcript, one transcript without label, evaluation
    lines out of time order, plus Categorical/ Attribute/ Self-evaluation/ folders and macOS
    ``._`` files whose contents WOULD parse if the loader read them.
    """
    release = base / release_name
    for session, dialogs in iemocap_spec().items():
        for dialog, utts in dialogs.items():
            _write_iemocap_dialog(release / f"Session{session}", dialog, utts)
    _write_iemocap_decoys(release / "Session1")
    return base


def _write_iemocap_dialog(session_dir: Path, dialog: str, utts: list[dict]) -> None:
    dialog_dir = session_dir / "dialog"
    rated = [u for u in utts if u["label"] is not None]
    # Real files list F lines then M lines in some dialogs: write out of time order on purpose.
    ordered = sorted(rated, key=lambda u: (u["id"].rsplit("_", 1)[1][0], u["start"]))
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for u in ordered:
        lines += [f"[{u['start']:.4f} - {u['start'] + 1.5:.4f}]\t{u['id']}\t{u['label']}\t[2.5000, 3.0000, 2.5000]",
                  "C-E1:\tNeutral;\t()", "A-E2:\tval 3; act 2; dom  2;\t()", ""]
    _write_text(dialog_dir / "EmoEvaluation" / f"{dialog}.txt", lines)
    trans = [f"{u['id']} [{u['start']:08.4f}-{u['start'] + 1.5:08.4f}]: {u['text']}"
             for u in utts if u["text"] is not None]
    if dialog == "Ses01F_impro01":
        trans += [f"{dialog}_FXX0 [050.0000-051.0000]: [BREATHING]",
                  f"{dialog}_MXX0 [052.0000-053.0000]: [GARBAGE]"]
    _write_text(dialog_dir / "transcriptions" / f"{dialog}.txt", trans)
    for u in rated:
        if not u.get("no_wav"):
            write_wav(session_dir / "sentences" / "wav" / dialog / f"{u['id']}.wav", seconds=0.05)


def _write_iemocap_decoys(session_dir: Path) -> None:
    """Files a correct loader must ignore; each would add rows or skips if read."""
    evaluation = session_dir / "dialog" / "EmoEvaluation"
    decoy = "[1.0000 - 2.0000]\tSes01F_impro01_F777\tang\t[2.5000, 2.5000, 2.5000]"
    for sub in ("Categorical", "Attribute", "Self-evaluation"):
        _write_text(evaluation / sub / "Ses01F_impro01_e1_cat.txt", [decoy])
    _write_text(evaluation / "._Ses01F_impro01.txt", [decoy])
    _write_text(session_dir / "dialog" / "transcriptions" / "._Ses01F_impro01.txt",
                ["Ses01F_impro01_F777 [001.0000-002.0000]: Decoy."])
    write_bytes(session_dir / "sentences" / "wav" / "Ses01F_impro01" / "._Ses01F_impro01_F777.wav", CORRUPT)


def _write_text(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- MELD

MELD_COLUMNS = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
                "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"]
#: split -> (dialogue, utterance, emotion, speaker, clip) ; clip: "mp4", "wav", "corrupt", "empty", None
MELD_ROWS = {
    "train": [(0, 0, "neutral", "Ross", "mp4"), (0, 1, "joy", "Rachel", "mp4"),
              (0, 2, "anger", "Mr. Heckles", "mp4"), (1, 0, "disgust", "Monica", "mp4"),
              (125, 0, "sadness", "Joey", "mp4"), (125, 1, "surprise", "Chandler", "mp4"),
              (125, 2, "fear", "Phoebe", "mp4"), (125, 3, "joy", "Joey", "corrupt")],
    "dev": [(0, 0, "neutral", "Monica", "mp4"), (0, 1, "sadness", "Ross", "mp4"),
            (110, 6, "neutral", "Rachel", "mp4"), (110, 7, "joy", "Rachel", None)],
    "test": [(0, 0, "anger", "Chandler", "wav"), (0, 1, "Joy", "Joey", "wav"),
             (1, 0, "neutral", "Phoebe", "empty")],
}
MELD_SKIPS_ALL = {"known corrupt clip": 1, "missing clip": 1, "empty clip": 1}
MELD_KEPT_ALL = 12
MELD_SKIPS_4 = {**MELD_SKIPS_ALL, "label:surprise": 1, "label:fear": 1, "label:disgust": 1}
MELD_KEPT_4 = 9


def make_meld(base: Path) -> Path:
    """Write a MELD.Raw-like folder under ``base``; return ``base`` (the loader searches below).

    Dialogue ids restart per split (dia0_utt0 exists in train, dev and test with different
    text); dev dia110_utt7 has no clip, train dia125_utt3 is the known corrupt one, and test
    dia1_utt0 is an empty file. Clips are dummy bytes: the loader never decodes them.
    """
    import pandas as pd

    from sernb.data.meld import CLIP_DIRS, CSV_NAMES

    raw = base / "MELD.Raw"
    for split, rows in MELD_ROWS.items():
        records = []
        for sr_no, (dia, utt, emotion, speaker, clip) in enumerate(rows, start=1):
            records.append([sr_no, f"{split} line {dia}-{utt}", speaker, emotion, "neutral", dia, utt,
                            3, 7, f"00:0{utt}:0{dia % 10},125", f"00:0{utt}:0{dia % 10},975"])
            _write_meld_clip(raw / CLIP_DIRS[split], f"dia{dia}_utt{utt}", clip)
        pd.DataFrame(records, columns=MELD_COLUMNS).to_csv(raw / CSV_NAMES[split], index=False)
    return base


def _write_meld_clip(folder: Path, stem: str, kind: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "wav":
        write_wav(folder / f"{stem}.wav", seconds=0.05)
    elif kind in ("mp4", "corrupt"):
        write_bytes(folder / f"{stem}.mp4", b"\x00\x00\x00\x18ftypmp42" + CORRUPT)
    elif kind == "empty":
        write_bytes(folder / f"{stem}.mp4", b"")


# ---------------------------------------------------------------------------- RAVDESS

RAVDESS_FILES = {
    "Actor_01": ["03-01-01-01-01-01-01.wav", "03-01-02-01-02-01-01.wav", "03-01-05-02-01-02-01.wav",
                 "03-02-03-01-01-01-01.wav", "01-01-03-01-01-01-01.mp4", "notes.txt",
                 "._03-01-01-01-01-01-01.wav"],
    "Actor_02": ["03-01-03-01-01-01-02.wav", "03-01-04-01-02-01-02.wav", "03-01-09-01-01-01-02.wav"],
}
RAVDESS_SKIPS_ALL = {"song (vocal channel 02)": 1, "video file": 1, "unparseable file name": 1,
                     "unknown emotion or statement code": 1}
RAVDESS_KEPT_ALL = 5


def make_ravdess(base: Path) -> Path:
    """Write ``Audio_Speech_Actors_01-24/Actor_NN/`` under ``base`` (48 kHz wavs); return ``base``."""
    for actor, names in RAVDESS_FILES.items():
        folder = base / "Audio_Speech_Actors_01-24" / actor
        for name in names:
            if name.endswith(".wav") and not name.startswith("._"):
                write_wav(folder / name, seconds=0.05, sr=48000)
            else:
                write_bytes(folder / name, CORRUPT)
    return base


# ---------------------------------------------------------------------------- CREMA-D

CREMAD_FILES = ["1001_DFA_ANG_XX.wav", "1001_IEO_HAP_HI.wav", "1001_TIE_NEU_XX.wav", "1002_DFA_SAD_LO.wav",
                "1002_IWW_DIS_MD.wav", "1002_TAI_FEA_XX.wav", "1002_XXX_ANG_XX.wav", "1003_DFA_CAL_XX.wav",
                "readme.txt"]
CREMAD_SKIPS_ALL = {"unknown emotion or sentence code": 2, "unparseable file name": 1}
CREMAD_KEPT_ALL = 6


def make_cremad(base: Path, demographics: bool = True) -> Path:
    """Write ``AudioWAV/`` (16 kHz wavs; an unknown sentence code, an unknown emotion and a stray
    file on purpose) and ``VideoDemographics.csv`` under ``base``; return ``base``."""
    for name in CREMAD_FILES:
        if name.endswith(".wav"):
            write_wav(base / "AudioWAV" / name, seconds=0.05)
        else:
            write_bytes(base / "AudioWAV" / name, b"notes")
    if demographics:
        (base / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,"
                                                    "Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n")
    return base


# ---------------------------------------------------------------------------- a labelled folder

FOLDER_ROWS = [  # path, label, speaker, text, split ; "missing" files are not written
    ("a/one.wav", "Neutral", "s1", "hello there", "train"), ("a/two.wav", "angry", "s1", "go away", "train"),
    ("b/three.wav", "sad", "s2", "i miss her", "val"), ("b/four.wav", "happy", "s2", "great news", "test"),
    ("b/five.wav", "bored", "s3", "whatever", "test"), ("missing.wav", "sad", "s3", "gone", "train"),
    ("c/six.wav", "", "s3", "no label", "train"),
]
FOLDER_SKIPS_ALL = {"missing audio file": 1, "blank label": 1}
FOLDER_KEPT_ALL = 5


def make_folder(base: Path) -> Path:
    """A labels.csv with relative paths, mixed-case labels, a missing file and a blank label."""
    import pandas as pd

    for path, *_ in FOLDER_ROWS:
        if path != "missing.wav":
            write_wav(base / path, seconds=0.05)
    pd.DataFrame(FOLDER_ROWS, columns=["path", "label", "speaker", "text", "split"]).to_csv(base / "labels.csv",
                                                                                            index=False)
    return base


# ---------------------------------------------------------------------------- trainable real layouts

#: The synthetic corpus' six labels as RAVDESS emotion codes and CREMA-D emotion codes (a stand-in
#: mapping: the point is a trainable corpus in each real layout, not the labels' meaning).
RAVDESS_CODES = {"neu": 1, "hap": 3, "sad": 4, "ang": 5, "fru": 7, "exc": 8}
CREMAD_CODES = {"neu": "NEU", "hap": "HAP", "sad": "SAD", "ang": "ANG", "fru": "DIS", "exc": "FEA"}


def relayout(table, base: Path, layout: str) -> Path:
    """The clips of an utterance table (the synthetic smoke corpus) linked into ``layout``'s folder
    structure under ``base``: ``ravdess``, ``cremad``, ``folder`` (labels.csv with text and split)
    or ``meld_csv`` (MELD's three CSVs, no clips). Returns the root a loader takes."""
    import os

    import pandas as pd

    from sernb.data.cremad import SENTENCES

    speakers = {s: i + 1 for i, s in enumerate(sorted(table["speaker"].unique()))}
    per_actor: dict[int, int] = {}
    rows = []
    for k, r in enumerate(table.itertuples()):
        actor = speakers[r.speaker]
        j = per_actor[actor] = per_actor.get(actor, -1) + 1  # the clip's number within its actor
        if layout == "ravdess":
            name = f"03-01-{RAVDESS_CODES[r.label]:02d}-01-{k % 2 + 1:02d}-{k // 2 % 99 + 1:02d}-{actor:02d}.wav"
            target = base / f"Actor_{actor:02d}" / name
        elif layout == "cremad":
            sentence, level = list(SENTENCES)[j % 12], ("XX", "LO", "MD", "HI")[j // 12]
            target = base / "AudioWAV" / f"{1000 + actor}_{sentence}_{CREMAD_CODES[r.label]}_{level}.wav"
        elif layout == "folder":
            target = base / "clips" / f"{r.utt_id}.wav"
            rows.append({"path": f"clips/{r.utt_id}.wav", "label": r.label, "speaker": r.speaker,
                         "text": r.text, "session": r.session, "split": ("train", "train", "train", "dev", "test")[k % 5]})
        elif layout == "meld_csv":
            rows.append({"Sr No.": k + 1, "Utterance": r.text, "Speaker": r.speaker,
                         "Emotion": {"neu": "neutral", "hap": "joy", "sad": "sadness", "ang": "anger",
                                     "fru": "disgust", "exc": "surprise"}[r.label], "Sentiment": "neutral",
                         "Dialogue_ID": k // 4, "Utterance_ID": k % 4, "Season": 1, "Episode": 1,
                         "StartTime": "00:00:01,000", "EndTime": "00:00:02,000",
                         "_split": ("train", "train", "train", "dev", "test")[k % 5]})
            continue
        else:
            raise ValueError(layout)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(r.wav_path, target)
    if layout == "folder":
        pd.DataFrame(rows).to_csv(base / "labels.csv", index=False)
    if layout == "meld_csv":
        from sernb.data.meld import CSV_NAMES

        frame = pd.DataFrame(rows)
        base.mkdir(parents=True, exist_ok=True)
        for split, part in frame.groupby("_split"):
            part = part.drop(columns="_split").copy()
            part["Dialogue_ID"] = [i // 3 for i in range(len(part))]  # ids restart per split, as in MELD
            part["Utterance_ID"] = [i % 3 for i in range(len(part))]  # dialogs of three turns
            part.to_csv(base / CSV_NAMES[split], index=False)
    return base
