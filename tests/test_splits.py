"""Folds: disjoint parts, the right sessions/speakers/dialogs on each side, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sernb.data import EMOTIONS_6, load
from sernb.data.splits import (
    Fold,
    group_kfold,
    leave_one_session_out,
    make_folds,
    official_split,
    random_split,
)
from tests.fixtures import make_iemocap, make_meld


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> pd.DataFrame:
    return load("iemocap", make_iemocap(tmp_path_factory.mktemp("iemocap")))


def values(table: pd.DataFrame, rows: np.ndarray, column: str) -> set:
    return set(table[column].iloc[rows])


def assert_partition(fold: Fold, n_rows: int) -> None:
    """Parts are disjoint, non-empty and together cover every row exactly once."""
    parts = [fold.train, fold.val, fold.test]
    assert all(len(p) for p in parts), fold.name
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n_rows))


def test_fold_rejects_overlap():
    with pytest.raises(ValueError, match="overlap"):
        Fold("bad", np.array([0, 1]), np.array([2]), np.array([1, 3]))


def test_random_split_is_the_papers_8_2(table):
    (fold,) = random_split(table, seed=0)
    assert_partition(fold, len(table))
    assert len(fold.test) == pytest.approx(0.2 * len(table), abs=1)
    assert len(fold.val) == pytest.approx(0.1 * (len(table) - len(fold.test)), abs=1)
    test_labels = table["label"].iloc[fold.test].value_counts(normalize=True)
    all_labels = table["label"].value_counts(normalize=True)
    assert (test_labels - all_labels).abs().max() < 0.06  # stratified


def test_random_split_is_deterministic_per_seed(table):
    (a,), (b,), (c,) = random_split(table, seed=3), random_split(table, seed=3), random_split(table, seed=4)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.test, c.test)


def test_loso_tests_one_session_with_unseen_speakers(table):
    folds = leave_one_session_out(table, seed=0)
    assert [f.name for f in folds] == [f"session-{s}" for s in range(1, 6)]
    tested = []
    for fold in folds:
        assert_partition(fold, len(table))
        (session,) = values(table, fold.test, "session")
        tested.append(session)
        assert session not in values(table, fold.train, "session") | values(table, fold.val, "session")
        seen = values(table, fold.train, "speaker") | values(table, fold.val, "speaker")
        assert not values(table, fold.test, "speaker") & seen
    assert tested == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("protocol", ["random", "loso"])
def test_keep_dialogs_keeps_each_dialog_in_one_part(table, protocol):
    for fold in make_folds(table, protocol, seed=1, keep_dialogs=True):
        assert_partition(fold, len(table))
        parts = [values(table, rows, "dialog") for rows in (fold.train, fold.val, fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), fold.name


def test_random_split_without_keep_dialogs_does_cut_dialogs(table):
    # Guards the test above: an ordinary random split does put one dialog on both sides.
    (fold,) = random_split(table, seed=1)
    assert values(table, fold.train, "dialog") & values(table, fold.test, "dialog")


def test_speaker_kfold(table):
    folds = group_kfold(table, by="speaker", k=5, seed=0)
    assert len(folds) == 5
    np.testing.assert_array_equal(np.sort(np.concatenate([f.test for f in folds])), np.arange(len(table)))
    for fold in folds:
        assert_partition(fold, len(table))
        seen = values(table, fold.train, "speaker") | values(table, fold.val, "speaker")
        assert not values(table, fold.test, "speaker") & seen
    with pytest.raises(ValueError, match="at least 11"):
        group_kfold(table, k=11)


def test_speaker_kfold_keep_dialogs_moves_dialog_partners_together(table):
    folds = group_kfold(table, by="speaker", k=5, seed=0, keep_dialogs=True)
    for fold in folds:
        assert_partition(fold, len(table))
        (session,) = values(table, fold.test, "session")  # both speakers of a session move together
        parts = [values(table, rows, "dialog") for rows in (fold.train, fold.val, fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), fold.name
    with pytest.raises(ValueError, match="linked by shared dialogs"):
        group_kfold(table, k=6, keep_dialogs=True)


def test_make_folds_dispatches(table):
    direct = leave_one_session_out(table, seed=2)
    via = make_folds(table, "loso", seed=2)
    assert [f.name for f in via] == [f.name for f in direct]
    np.testing.assert_array_equal(via[0].val, direct[0].val)
    assert len(make_folds(table, "speaker_kfold", k=2, val_size=0.2)) == 2
    with pytest.raises(ValueError, match="unknown protocol"):
        make_folds(table, "kfold")


def test_summary_counts_per_part(table):
    (fold,) = random_split(table)
    summary = fold.summary(table)
    assert list(summary.index) == ["train", "val", "test"]
    assert list(summary.columns) == ["n", "speakers", "sessions", *EMOTIONS_6]
    assert summary["n"].sum() == len(table)
    assert summary[list(EMOTIONS_6)].sum().to_dict() == table["label"].value_counts().to_dict()


def test_stratify_failure_says_what_to_do(table):
    tiny = table.iloc[:5]  # five labels, each once: no stratified split exists
    with pytest.raises(ValueError, match="stratify=False"):
        random_split(tiny, test_size=0.4)
    (fold,) = random_split(tiny, test_size=0.4, val_size=0.0, stratify=False)
    assert len(fold.test) == 2 and len(fold.val) == 0


def test_meld_official_split(tmp_path):
    meld = load("meld", make_meld(tmp_path))
    (fold,) = make_folds(meld, "official")
    for part, split in (("train", "train"), ("val", "dev"), ("test", "test")):
        assert values(meld, getattr(fold, part), "session") == {split}
    assert_partition(fold, len(meld))
    with pytest.raises(ValueError, match="MELD"):
        official_split(meld.assign(session=1))


@pytest.mark.parametrize("keep_dialogs", [False, True])
def test_loso_validation_speakers_are_held_out_of_training(table, keep_dialogs):
    genders = []
    for fold in leave_one_session_out(table, seed=0, keep_dialogs=keep_dialogs):
        assert_partition(fold, len(table))
        assert not any(fold.speaker_overlap(table).values()), (fold.name, fold.speaker_overlap(table))
        val_speakers = fold.speakers(table)["val"]
        assert len(val_speakers) == (2 if keep_dialogs else 1) and len(fold.val) > 0
        (val_session,) = values(table, fold.val, "session")
        assert val_session == int(fold.name.split("-")[1]) % 5 + 1  # the next session, cyclically
        genders.append(val_speakers[0][-1])
    if not keep_dialogs:
        assert set(genders) == {"F", "M"}  # the validation gender alternates with the fold


def test_speaker_kfold_validation_speakers_are_held_out_of_training(table):
    for fold in group_kfold(table, by="speaker", k=5, seed=0):
        assert not any(fold.speaker_overlap(table).values())
        assert fold.speakers(table)["val"]


def test_validation_from_training_speakers_on_request(table):
    for fold in leave_one_session_out(table, seed=0, speaker_val=False):
        overlap = fold.speaker_overlap(table)
        assert overlap["train&val"] and not overlap["train&test"] and not overlap["val&test"]


def test_speaker_summary_lists_three_disjoint_sets_under_loso(table):
    from sernb.data.splits import speaker_summary

    loso = speaker_summary(leave_one_session_out(table, seed=0), table)
    assert list(loso.columns) == ["train", "val", "test", "disjoint"]
    assert (loso["disjoint"] == "yes").all() and len(loso) == 5
    random = speaker_summary(random_split(table, seed=0), table)
    assert random["disjoint"].iloc[0].startswith("no")
