"""Corpus loaders -> the utterance table: exact rows, exact skip counts, clear errors."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sernb.data import COLUMNS, EMOTIONS_4, EMOTIONS_6, describe_skips, load
from sernb.data.meld import parse_time
from tests.fixtures import (
    IEMOCAP_KEPT_6,
    IEMOCAP_SKIPS_6,
    MELD_KEPT_4,
    MELD_KEPT_ALL,
    MELD_SKIPS_4,
    MELD_SKIPS_ALL,
    RAVDESS_KEPT_ALL,
    RAVDESS_SKIPS_ALL,
    make_iemocap,
    make_meld,
    make_ravdess,
)


@pytest.fixture(scope="module")
def iemocap_root(tmp_path_factory) -> Path:
    return make_iemocap(tmp_path_factory.mktemp("iemocap"))


@pytest.fixture(scope="module")
def iemocap(iemocap_root) -> pd.DataFrame:
    return load("iemocap", iemocap_root)


@pytest.fixture(scope="module")
def meld_root(tmp_path_factory) -> Path:
    return make_meld(tmp_path_factory.mktemp("meld"))


@pytest.fixture(scope="module")
def ravdess_root(tmp_path_factory) -> Path:
    return make_ravdess(tmp_path_factory.mktemp("ravdess"))


def row(table: pd.DataFrame, utt_id: str) -> pd.Series:
    match = table[table["utt_id"] == utt_id]
    assert len(match) == 1, f"{utt_id} appears {len(match)} times"
    return match.iloc[0]


# ---------------------------------------------------------------------------- IEMOCAP


def test_iemocap_rows_and_exact_skips(iemocap):
    assert list(iemocap.columns) == COLUMNS
    assert len(iemocap) == IEMOCAP_KEPT_6
    assert iemocap.attrs["skipped"] == IEMOCAP_SKIPS_6
    assert set(iemocap["label"]) == set(EMOTIONS_6)
    assert (iemocap["corpus"] == "iemocap").all()
    assert iemocap["utt_id"].is_unique


def test_iemocap_ignores_subfolders_and_macos_files(iemocap):
    # The decoys describe Ses01F_impro01_F777; had any been read, it would be a row or a skip.
    assert not iemocap["utt_id"].str.contains("F777").any()


def test_iemocap_speaker_is_last_id_field(iemocap):
    male_in_female_dialog = row(iemocap, "Ses01F_impro01_M000")
    assert (male_in_female_dialog["speaker"], male_in_female_dialog["gender"]) == ("Ses01M", "M")
    female_in_male_dialog = row(iemocap, "Ses03M_impro05a_F000")
    assert (female_in_male_dialog["speaker"], female_in_male_dialog["gender"]) == ("Ses03F", "F")
    assert sorted(iemocap["speaker"].unique()) == [f"Ses{s:02d}{g}" for s in range(1, 6) for g in "FM"]


def test_iemocap_irregular_dialog_names(iemocap):
    for dialog, session, scripted in [("Ses03M_impro05a", 3, False), ("Ses03M_impro08b", 3, False),
                                      ("Ses05M_script01_1b", 5, True)]:
        rows = iemocap[iemocap["dialog"] == dialog]
        assert len(rows) == 2, dialog
        assert (rows["session"] == session).all() and (rows["scripted"] == scripted).all()
    assert iemocap["session"].dtype.kind == "i" and set(iemocap["session"]) == {1, 2, 3, 4, 5}


def test_iemocap_turns_follow_time_not_file_order(iemocap):
    # The evaluation files list all F lines before M lines; turn must follow start times.
    assert row(iemocap, "Ses01F_impro01_M000")["turn"] == 1
    assert row(iemocap, "Ses01F_impro01_F001")["turn"] == 2
    for _, dialog in iemocap.groupby("dialog"):
        assert dialog["start"].is_monotonic_increasing and dialog["turn"].is_monotonic_increasing


def test_iemocap_text_paths_and_times(iemocap):
    first = row(iemocap, "Ses01F_impro01_F000")
    assert first["text"] == "Excuse me. [LAUGHTER]"
    assert (first["start"], first["end"]) == (1.0, 2.5)
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in iemocap["wav_path"])


def test_iemocap_four_classes_merge_exc_into_hap(iemocap, iemocap_root):
    four = load("iemocap", iemocap_root, classes=4)
    assert set(four["label"]) == set(EMOTIONS_4)
    counts6 = iemocap["label"].value_counts()
    assert (four["label"] == "hap").sum() == counts6["hap"] + counts6["exc"]
    assert four.attrs["skipped"] == {**IEMOCAP_SKIPS_6, "label:fru": counts6["fru"]}
    assert row(four, "Ses05M_script01_1b_M000")["label"] == "hap"  # raw exc


def test_iemocap_all_labels_keep_xxx_and_same_turns(iemocap, iemocap_root):
    everything = load("iemocap", iemocap_root / "IEMOCAP_full_release", classes="all")  # release itself
    assert row(everything, "Ses01F_impro01_F008")["label"] == "xxx"
    assert len(everything) == IEMOCAP_KEPT_6 + 2
    assert "label:xxx" not in everything.attrs["skipped"]
    turns = everything.set_index("utt_id")["turn"]
    assert (iemocap.set_index("utt_id")["turn"] == turns[iemocap["utt_id"]]).all()


def test_iemocap_row_order_is_stable(iemocap, iemocap_root):
    again = load("iemocap", iemocap_root)
    pd.testing.assert_frame_equal(iemocap, again)
    ordered = iemocap.sort_values(["session", "dialog", "turn"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(iemocap, ordered)


def test_iemocap_skip_summary_is_logged_once(iemocap_root, caplog):
    with caplog.at_level(logging.INFO, logger="sernb"):
        table = load("iemocap", iemocap_root)
    records = [r for r in caplog.records if r.name == "sernb"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING  # a missing wav is a problem
    assert records[0].getMessage() == describe_skips(table)
    assert describe_skips(table).startswith(f"iemocap: kept {IEMOCAP_KEPT_6} utterances, skipped 7 (")
    assert "missing wav 1" in describe_skips(table)


def test_iemocap_unparseable_lines_are_counted(tmp_path):
    root = make_iemocap(tmp_path)
    evaluation = root / "IEMOCAP_full_release/Session2/dialog/EmoEvaluation/Ses02F_impro01.txt"
    evaluation.write_text(evaluation.read_text() + "[garbled line without times\n")
    transcript = root / "IEMOCAP_full_release/Session2/dialog/transcriptions/Ses02F_impro01.txt"
    transcript.write_text(transcript.read_text() + "no id and no times here\n")
    table = load("iemocap", root)
    assert table.attrs["skipped"]["unparseable evaluation line"] == 1
    assert table.attrs["skipped"]["unparseable transcription line"] == 1
    assert len(table) == IEMOCAP_KEPT_6


def test_iemocap_synthetic_marker_names_the_corpus(tmp_path):
    root = make_iemocap(tmp_path)
    assert set(load("synthetic", root)["corpus"]) == {"synthetic"}
    (root / "IEMOCAP_full_release" / "SYNTHETIC").write_text("generated by sernb\n")
    assert set(load("iemocap", root)["corpus"]) == {"synthetic"}


def test_iemocap_missing_layout_names_the_path(tmp_path):
    (tmp_path / "IEMOCAP_full_release" / "Session1").mkdir(parents=True)  # no dialog/EmoEvaluation
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load("iemocap", tmp_path)


def test_nothing_kept_is_an_error_that_says_why(tmp_path):
    root = make_iemocap(tmp_path)
    for session in (root / "IEMOCAP_full_release").glob("Session*"):
        shutil.rmtree(session / "sentences")
    with pytest.raises(ValueError, match=r"no utterances kept from .*missing wav 88"):
        load("iemocap", root)


def test_bad_options_are_rejected(iemocap_root, meld_root):
    with pytest.raises(ValueError, match="classes"):
        load("iemocap", iemocap_root, classes=7)
    with pytest.raises(ValueError, match="classes"):
        load("meld", meld_root, classes=6)
    with pytest.raises(ValueError, match="unknown corpus"):
        load("emodb", iemocap_root)


# ---------------------------------------------------------------------------- MELD


def test_meld_rows_and_exact_skips(meld_root):
    table = load("meld", meld_root)
    assert list(table.columns) == COLUMNS
    assert len(table) == MELD_KEPT_ALL
    assert table.attrs["skipped"] == MELD_SKIPS_ALL
    assert set(table["label"]) <= {"neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"}
    assert row(table, "test_dia0_utt1")["label"] == "joy"  # "Joy" in the CSV


def test_meld_dialogue_ids_restart_per_split(meld_root):
    table = load("meld", meld_root)
    same_key = [row(table, f"{split}_dia0_utt0") for split in ("train", "dev", "test")]
    assert [r["session"] for r in same_key] == ["train", "dev", "test"]
    assert len({r["text"] for r in same_key}) == 3
    assert len({r["wav_path"] for r in same_key}) == 3
    assert len({r["dialog"] for r in same_key}) == 3


def test_meld_known_bad_clips_are_reported(meld_root):
    table = load("meld", meld_root)
    assert "dev_dia110_utt7" not in set(table["utt_id"])  # missing clip
    assert "train_dia125_utt3" not in set(table["utt_id"])  # known corrupt clip
    assert row(table, "dev_dia110_utt6")["turn"] == 6


def test_meld_fields(meld_root):
    table = load("meld", meld_root)
    ross = row(table, "train_dia0_utt0")
    assert (ross["speaker"], ross["gender"], ross["scripted"]) == ("Ross", "M", True)
    assert pd.isna(row(table, "train_dia0_utt2")["gender"])  # not a main character
    assert ross["wav_path"].endswith("train_splits/dia0_utt0.mp4")
    assert row(table, "test_dia0_utt0")["wav_path"].endswith("output_repeated_splits_test/dia0_utt0.wav")
    assert parse_time("00:14:38,127") == pytest.approx(878.127)


def test_meld_four_classes_and_split_subset(meld_root):
    four = load("meld", meld_root, classes=4)
    assert len(four) == MELD_KEPT_4 and four.attrs["skipped"] == MELD_SKIPS_4
    assert set(four["label"]) <= set(EMOTIONS_4)
    dev = load("meld", meld_root, splits=("dev",))
    assert set(dev["session"]) == {"dev"} and dev.attrs["skipped"] == {"missing clip": 1}


def test_meld_windows_1252_csv(tmp_path):
    root = make_meld(tmp_path)
    csv = root / "MELD.Raw" / "dev_sent_emo.csv"
    frame = pd.read_csv(csv)
    frame.loc[0, "Utterance"] = "I don\u2019t know."
    frame.to_csv(csv, index=False, encoding="cp1252")  # not valid UTF-8
    assert row(load("meld", root), "dev_dia0_utt0")["text"] == "I don\u2019t know."


def test_meld_missing_csv_names_the_file(tmp_path):
    root = make_meld(tmp_path)
    (root / "MELD.Raw" / "dev_sent_emo.csv").unlink()
    with pytest.raises(FileNotFoundError, match="dev_sent_emo.csv"):
        load("meld", root)


# ---------------------------------------------------------------------------- RAVDESS


def test_ravdess_parses_file_names(ravdess_root):
    table = load("ravdess", ravdess_root)
    assert list(table.columns) == COLUMNS
    assert len(table) == RAVDESS_KEPT_ALL
    assert table.attrs["skipped"] == RAVDESS_SKIPS_ALL
    angry = row(table, "03-01-05-02-01-02-01")
    assert (angry["label"], angry["text"], angry["session"], angry["speaker"], angry["gender"]) == (
        "angry", "Kids are talking by the door", 1, "Actor_01", "M")
    sad = row(table, "03-01-04-01-02-01-02")
    assert (sad["label"], sad["text"], sad["gender"]) == ("sad", "Dogs are sitting by the door", "F")
    assert table["dialog"].is_unique and (table["turn"] == 0).all()


def test_ravdess_four_classes(ravdess_root):
    four = load("ravdess", ravdess_root, classes=4)
    assert sorted(four["label"]) == sorted(["neu", "ang", "hap", "sad"])
    assert four.attrs["skipped"] == {**RAVDESS_SKIPS_ALL, "label:calm": 1}


def test_ravdess_missing_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="Actor_01"):
        load("ravdess", tmp_path)


def test_loaders_are_independent_of_cwd(iemocap_root, tmp_path, monkeypatch):
    copy = shutil.copytree(iemocap_root, tmp_path / "copy")
    monkeypatch.chdir(copy)
    table = load("iemocap", ".")
    assert all(Path(p).is_absolute() for p in table["wav_path"])
