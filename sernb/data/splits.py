"""Train/validation/test folds over the utterance table (chapter "The evaluation protocol").

The paper splits utterances at random 8:2, which puts the same speakers and the same scripted
sentences on both sides. We offer that protocol and the speaker-independent ones next to it:
leave-one-session-out (IEMOCAP's 5 sessions; RAVDESS actors), k-fold over speakers, and MELD's
official split. Every fold holds ROW POSITIONS (for ``table.iloc``); validation rows always
come from the training side, never from the test part. ``keep_dialogs=True`` keeps whole
dialogs inside one part, which dialogue-context systems (COGMEN) need.

Under a speaker-independent protocol the validation rows that drive early stopping come from
speakers held out of training as well (``speaker_val=True``, the default): train, validation
and test speakers are three disjoint sets, so validation scores are as pessimistic as test
scores instead of being inflated by voices the model has heard. ``speaker_val=False`` draws
validation rows from the training speakers (the earlier behaviour), for comparison.
All splitting is scikit-learn's, seeded, so the same seed gives the same folds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, train_test_split

from sernb.data.table import EMOTIONS_4, EMOTIONS_6

PARTS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/val/test partition as sorted, disjoint row-position arrays."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for part in PARTS:
            object.__setattr__(self, part, np.sort(np.asarray(getattr(self, part), dtype=np.int64)))
        union = np.concatenate([self.train, self.val, self.test])
        if len(np.unique(union)) != len(union):
            raise ValueError(f"fold {self.name!r}: train, val and test overlap")

    def parts(self) -> dict[str, np.ndarray]:
        """``{"train": ..., "val": ..., "test": ...}``."""
        return {part: getattr(self, part) for part in PARTS}

    def speakers(self, table: pd.DataFrame) -> dict[str, list[str]]:
        """The speakers of each part, sorted (chapter "The evaluation protocol" lists them)."""
        return {part: sorted(map(str, pd.unique(table["speaker"].to_numpy()[rows])))
                for part, rows in self.parts().items()}

    def speaker_overlap(self, table: pd.DataFrame) -> dict[str, list[str]]:
        """Speakers shared by two parts, per pair (``"train&val"``, ...); empty lists when disjoint."""
        sets = {part: set(names) for part, names in self.speakers(table).items()}
        return {f"{a}&{b}": sorted(sets[a] & sets[b]) for a, b in (("train", "val"), ("train", "test"),
                                                                  ("val", "test"))}

    def summary(self, table: pd.DataFrame) -> pd.DataFrame:
        """Rows, speakers, sessions and per-class counts of each part (one row per part)."""
        classes = _class_order(table["label"])
        records = {}
        for part, rows in self.parts().items():
            sub = table.iloc[rows]
            counts = sub["label"].value_counts().reindex(classes, fill_value=0)
            records[part] = {"n": len(sub), "speakers": sub["speaker"].nunique(),
                             "sessions": sub["session"].nunique(), **counts.to_dict()}
        return pd.DataFrame.from_dict(records, orient="index")


def random_split(
    table: pd.DataFrame, test_size: float = 0.2, val_size: float = 0.1, seed: int = 0,
    stratify: bool = True, keep_dialogs: bool = False,
) -> list[Fold]:
    """The paper's protocol: one random split, ``test_size`` of the rows held out.

    ``val_size`` is a fraction of the remaining (training-side) rows, so the defaults give
    72/8/20. ``stratify`` keeps the class mix equal across parts.
    """
    everything = np.arange(len(table))
    train_side, test = _holdout(table, everything, test_size, seed, stratify, keep_dialogs)
    train, val = _holdout(table, train_side, val_size, seed, stratify, keep_dialogs)
    return [Fold(f"random-seed{seed}", train, val, test)]


def leave_one_session_out(
    table: pd.DataFrame, val_size: float = 0.1, seed: int = 0, keep_dialogs: bool = False,
    stratify: bool = True, speaker_val: bool = True,
) -> list[Fold]:
    """One fold per session: that session is the test part (speaker independent on IEMOCAP).

    With ``speaker_val`` the validation part is one speaker of the next session (cyclically),
    the gender alternating from fold to fold, so no validation voice is trained on; with
    ``keep_dialogs`` it is that whole session (a dialog's two speakers stay together). Without
    it, ``val_size`` of the other sessions' rows are drawn at random.
    """
    sessions = table["session"].to_numpy()
    order = sorted(pd.unique(sessions))
    if len(order) < 2 + int(speaker_val and keep_dialogs):
        raise ValueError(f"leave-one-session-out needs at least {2 + int(speaker_val and keep_dialogs)} "
                         f"sessions here, found {order}")
    folds = []
    for i, session in enumerate(order):
        is_test = sessions == session
        held_in = np.flatnonzero(~is_test)
        if speaker_val:
            val_session = order[(i + 1) % len(order)]
            in_val = sessions[held_in] == val_session
            if not keep_dialogs:
                speakers = sorted(pd.unique(table["speaker"].to_numpy()[held_in][in_val]))
                chosen = speakers[i % len(speakers)]
                in_val &= table["speaker"].to_numpy()[held_in] == chosen
            train, val = held_in[~in_val], held_in[in_val]
        else:
            train, val = _holdout(table, held_in, val_size, seed, stratify, keep_dialogs)
        folds.append(Fold(f"session-{session}", train, val, np.flatnonzero(is_test)))
    return folds


def group_kfold(
    table: pd.DataFrame, by: str = "speaker", k: int = 5, seed: int = 0, val_size: float = 0.1,
    stratify: bool = True, keep_dialogs: bool = False, speaker_val: bool = True,
) -> list[Fold]:
    """k folds in which no value of column ``by`` (speaker by default) crosses train and test.

    Uses StratifiedGroupKFold, so class proportions stay close to the whole table's. With
    ``keep_dialogs``, values of ``by`` that share a dialog move together (on IEMOCAP the two
    speakers of a session), so dialogs stay whole too. With ``speaker_val`` the validation part
    is whole groups of the training side (about ``val_size`` of its groups, at least one), so it
    shares no ``by`` value with training either; otherwise rows are drawn at random.
    """
    groups = table[by].to_numpy()
    if keep_dialogs:
        groups = _linked_groups(groups, table["dialog"].to_numpy())
    n_groups = len(pd.unique(groups))
    if n_groups < k:
        linked = " (linked by shared dialogs)" if keep_dialogs else ""
        raise ValueError(f"group_kfold: {k} folds need at least {k} {by!r} groups{linked}, found {n_groups}")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for i, (train_side, test) in enumerate(splitter.split(np.zeros(len(table)), table["label"], groups)):
        if speaker_val:
            train, val = _group_holdout(train_side, table["label"].to_numpy()[train_side],
                                        groups[train_side], val_size, seed, stratify)
        else:
            train, val = _holdout(table, train_side, val_size, seed, stratify, keep_dialogs)
        folds.append(Fold(f"{by}-fold{i + 1}of{k}", train, val, test))
    return folds


def official_split(table: pd.DataFrame) -> list[Fold]:
    """The corpus' own train/dev/test split: MELD's (the ``session`` column) or a labelled folder's
    ``split`` column (``table.attrs["split"]``: utt_id -> part)."""
    if "split" in table.attrs:
        sessions = table["utt_id"].map(table.attrs["split"]).astype(str).to_numpy()
    else:
        sessions = table["session"].astype(str).to_numpy()
    if not set(sessions) <= {"train", "dev", "test"}:
        raise ValueError("the official split needs MELD or a labelled folder with a split column "
                         "(train/dev/test)")
    return [Fold("official", *(np.flatnonzero(sessions == s) for s in ("train", "dev", "test")))]


PROTOCOLS = {
    "random": random_split,
    "loso": leave_one_session_out,
    "speaker_kfold": group_kfold,
    "official": official_split,
}


def make_folds(table: pd.DataFrame, protocol: str, seed: int = 0, **kwargs) -> list[Fold]:
    """Dispatch by name: ``"random"``, ``"loso"``, ``"speaker_kfold"`` or ``"official"`` (MELD)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {sorted(PROTOCOLS)}")
    if protocol == "official":
        return official_split(table, **kwargs)
    return PROTOCOLS[protocol](table, seed=seed, **kwargs)


def _holdout(
    table: pd.DataFrame, rows: np.ndarray, size: float, seed: int, stratify: bool, keep_dialogs: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (kept, held out) with about ``size`` of them held out."""
    if not 0 <= size < 1:
        raise ValueError(f"split size must be in [0, 1), got {size}")
    if size == 0:
        return rows, rows[:0]
    labels = table["label"].to_numpy()[rows]
    if keep_dialogs:
        return _group_holdout(rows, labels, table["dialog"].to_numpy()[rows], size, seed, stratify)
    try:
        kept, held = train_test_split(rows, test_size=size, random_state=seed,
                                      stratify=labels if stratify else None)
    except ValueError as exc:
        raise ValueError(f"cannot make a stratified {size:.0%} split of {len(rows)} rows ({exc}); "
                         "pass stratify=False or use more data") from exc
    return kept, held


def _group_holdout(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, size: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole groups (dialogs); stratified via one fold of StratifiedGroupKFold."""
    n_groups = len(pd.unique(groups))
    if n_groups < 2:
        raise ValueError(f"cannot hold out whole dialogs from {n_groups} dialog(s)")
    if stratify:
        n_splits = min(n_groups, max(2, round(1 / size)))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():  # only one fold is used, so "fewer members than n_splits" is moot
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            kept, held = next(splitter.split(rows, labels, groups))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        kept, held = next(splitter.split(rows, labels, groups))
    return rows[kept], rows[held]


def _linked_groups(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row, the connected component of the graph linking values of ``first`` and ``second``
    that occur on the same row (speakers joined through the dialogs they share)."""
    a_codes, a_values = pd.factorize(first)
    b_codes, b_values = pd.factorize(second)
    n = len(a_values) + len(b_values)
    edges = coo_matrix((np.ones(len(a_codes)), (a_codes, b_codes + len(a_values))), shape=(n, n))
    _, component = connected_components(edges, directed=False)
    return component[a_codes]


def _class_order(labels: pd.Series) -> list[str]:
    """EMOTIONS_6 / EMOTIONS_4 order when the labels fit one of them, else sorted."""
    present = set(labels.unique())
    for order in (EMOTIONS_6, EMOTIONS_4):
        if present <= set(order):
            return list(order)
    return sorted(present)


def speaker_summary(folds: list[Fold], table: pd.DataFrame) -> pd.DataFrame:
    """Per fold: the train, validation and test speakers and whether the three sets are disjoint.

    Chapter "The evaluation protocol" shows it: under LOSO with speaker-held-out validation
    every row says "yes"; under the random split every speaker is in every part.
    """
    rows = []
    for fold in folds:
        speakers = fold.speakers(table)
        overlap = [pair for pair, shared in fold.speaker_overlap(table).items() if shared]
        rows.append({"fold": fold.name, **{part: " ".join(names) for part, names in speakers.items()},
                     "disjoint": "yes" if not overlap else "no (" + ", ".join(overlap) + ")"})
    return pd.DataFrame(rows).set_index("fold")
