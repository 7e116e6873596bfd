"""Linear probes of a cue corpus: which cue kinds a pooled-feature model can read (issue 15).

Three deliberately simple classifiers, trained on some sessions and scored on a held-out one,
accuracy reported per cue-kind combination (the ``cue_kinds`` column of a cue corpus):

* **audio**: logistic regression on the mean and standard deviation over time of the 40 MFCCs
  (:func:`sernb.data.features.extract_mfcc`): what mean pooling keeps;
* **text**: logistic regression on TF-IDF of the transcript's words and word pairs;
* **both**: one logistic regression on the two concatenated: early fusion without alignment;
* **both, balanced**: the same with the standardised audio block divided by the square root of
  its width, so that its rows have about unit norm like the TF-IDF rows. (Added after the first
  run showed the unscaled 80 audio columns outweighing the text block: "both" then fell well
  below "text" wherever the words decide. Both columns are reported.)

On a corpus built as intended, audio reads ``global`` and not ``local`` or ``contour`` (their
utterance-level statistics match across classes), text reads ``lexical`` and at most half of
``alignment`` (two emotional words, one of them the class's), and neither nor their concatenation
reads ``alignment`` beyond that: those are left to temporal and cross-modal models. The table in
``data/README.md`` is this module's output. ``python -m sernb.probes ROOT`` prints it;
``--anova`` adds :func:`pooled_differences`, the direct check that the matched kinds leave the
pooled features nothing to read; ``--words`` adds :func:`word_level_check`, the check that their
emotion is in the audio all the same, where features keep time.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

#: Regularisation of every probe (scikit-learn's default), not tuned.
C = 1.0
#: The probes, in the order of the table's columns.
PROBES = ("audio", "text", "both", "balanced")


def pooled_mfcc(table: pd.DataFrame, n_jobs: int | None = None) -> np.ndarray:
    """Mean and standard deviation over time of each MFCC, one row per utterance (cached MFCC)."""
    from sernb.data.features import extract_mfcc

    frames = extract_mfcc(table, n_jobs=n_jobs, progress=False)
    return np.stack([np.concatenate([f.mean(axis=0), f.std(axis=0)]) for f in frames])


def _fit_predict(kind: str, train: pd.DataFrame, test: pd.DataFrame, audio_train: np.ndarray,
                 audio_test: np.ndarray, seed: int) -> np.ndarray:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    parts_train, parts_test = [], []
    if kind in ("audio", "both", "balanced"):
        scaler = StandardScaler().fit(audio_train)
        weight = 1.0 / np.sqrt(audio_train.shape[1]) if kind == "balanced" else 1.0
        parts_train.append(csr_matrix(weight * scaler.transform(audio_train)))
        parts_test.append(csr_matrix(weight * scaler.transform(audio_test)))
    if kind in ("text", "both", "balanced"):
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train["text"])
        parts_train.append(tfidf.transform(train["text"]))
        parts_test.append(tfidf.transform(test["text"]))
    model = LogisticRegression(C=C, max_iter=5000, random_state=seed)
    model.fit(hstack(parts_train).tocsr(), train["label"])
    return model.predict(hstack(parts_test).tocsr())


def probe_table(table: pd.DataFrame, audio: np.ndarray, test_sessions: Sequence[int] = (5,),
                seed: int = 0) -> pd.DataFrame:
    """Accuracy of the three probes per cue-kind combination, each test session held out in turn
    (trained on all the others) and the predictions pooled. Rows: combinations, then ``all``;
    columns: ``n``, ``majority`` (share of the group's most frequent class), ``audio``, ``text``,
    ``both``, ``balanced``."""
    if "cue_kinds" not in table.columns:
        raise ValueError("the table has no cue_kinds column: load a cue corpus (sernb synth --cues)")
    predictions = {kind: pd.Series(index=table.index, dtype=object) for kind in PROBES}
    tested = np.zeros(len(table), dtype=bool)
    for session in test_sessions:
        is_test = (table["session"] == session).to_numpy()
        if not is_test.any():
            raise ValueError(f"no utterances in test session {session}")
        train, test = table[~is_test], table[is_test]
        for kind, pred in predictions.items():
            pred[test.index] = _fit_predict(kind, train, test, audio[~is_test], audio[is_test], seed)
        tested |= is_test
    scored = table[tested]
    rows = {}
    groups = [(name, scored[scored["cue_kinds"] == name]) for name in sorted(scored["cue_kinds"].unique())]
    for name, group in [*groups, ("all", scored)]:
        row = {"n": len(group), "majority": group["label"].value_counts(normalize=True).iloc[0]}
        for kind, pred in predictions.items():
            row[kind] = float((pred[group.index] == group["label"]).mean())
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def pooled_differences(table: pd.DataFrame, audio: np.ndarray, alpha: float = 0.01) -> pd.DataFrame:
    """Per cue-kind combination: how many of the pooled audio features differ across the classes
    (one-way ANOVA, scipy, p < ``alpha``, no correction: about ``alpha`` x 80 by chance) and the
    smallest p. The direct check that ``local`` and ``contour`` leave mean pooling nothing to read."""
    from scipy.stats import f_oneway

    rows = {}
    for name in sorted(table["cue_kinds"].unique()):
        keep = (table["cue_kinds"] == name).to_numpy()
        labels = table.loc[keep, "label"].to_numpy()
        groups = [audio[keep][labels == c] for c in sorted(set(labels))]
        p = np.array([f_oneway(*[g[:, d] for g in groups]).pvalue for d in range(audio.shape[1])])
        rows[name] = {"n": int(keep.sum()), "features": audio.shape[1], "differing": int((p < alpha).sum()),
                      "min_p": float(p.min())}
    return pd.DataFrame.from_dict(rows, orient="index")


def word_level_features(table: pd.DataFrame, words: pd.DataFrame, kind: str) -> np.ndarray:
    """Features that keep time, from the word spans of ``cue_words.csv`` (eSpeak's word events; no
    label or prosody column is read): ``local``: duration, mean energy (dB) and median pitch
    (semitones) of the three slot words, in order, each relative to the utterance's mean over its
    words; ``contour``: the words' relative median pitch, resampled to 10 points over the words."""
    import librosa

    from sernb.data.audio import load_audio
    from sernb.data.synth.cues import slot_tokens

    spans = {utt: g.sort_values("token") for utt, g in words.groupby("utt_id")}
    rows = []
    for row in table.itertuples():
        x = load_audio(row.wav_path, 16000)
        f0 = librosa.yin(x, fmin=70, fmax=400, sr=16000, frame_length=1024, hop_length=160)
        rms = librosa.feature.rms(y=x, frame_length=1024, hop_length=160)[0][: len(f0)]
        per_word = []
        for w in spans[row.utt_id].itertuples():
            a = int(w.start * 100)
            b = max(int(w.end * 100), a + 1)
            per_word.append((w.end - w.start, 20 * np.log10(rms[a:b].mean() + 1e-9),
                             12 * np.log2(np.median(f0[a:b]) / 100)))
        f = np.array(per_word) - np.mean(per_word, axis=0)
        if kind == "local":
            rows.append(f[list(slot_tokens(row.text))].ravel())
        else:
            rows.append(np.interp(np.linspace(0, 1, 10), np.linspace(0, 1, len(f)), f[:, 2]))
    return np.array(rows)


def word_level_check(table: pd.DataFrame, words: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Is the emotion of ``local`` and ``contour`` utterances in the audio at all? Logistic
    regression on :func:`word_level_features`, trained and scored on that kind's utterances
    only, each session held out in turn. Word spans come from the generator, so this bounds
    what a temporal model could read; it is no model of the study."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = {}
    for kind in ("local", "contour"):
        sub = table[table["cue_kinds"] == kind].reset_index(drop=True)
        x, y, sessions = word_level_features(sub, words, kind), sub["label"].to_numpy(), sub["session"].to_numpy()
        correct = 0
        for session in sorted(set(sessions)):
            train = sessions != session
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000, random_state=seed))
            correct += int((model.fit(x[train], y[train]).predict(x[~train]) == y[~train]).sum())
        rows[kind] = {"n": len(sub), "majority": sub["label"].value_counts(normalize=True).iloc[0],
                      "accuracy": correct / len(sub)}
    return pd.DataFrame.from_dict(rows, orient="index")


def markdown(result: pd.DataFrame) -> str:
    """The probe table as Markdown, accuracies in percent."""
    lines = ["| cue kinds | n | majority | audio (MFCC mean+std) | text (TF-IDF) | both (concatenated) "
             "| both, balanced |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row in result.iterrows():
        cells = " | ".join(f"{100 * row[kind]:.1f}" for kind in PROBES)
        lines.append(f"| {name} | {int(row['n'])} | {100 * row['majority']:.1f} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m sernb.probes ROOT [--test-session 5] [--loso]``: print the probe table."""
    from sernb.data.iemocap import load_iemocap

    parser = argparse.ArgumentParser(prog="python -m sernb.probes", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a cue corpus (the folder holding cues.csv)")
    parser.add_argument("--test-session", type=int, default=5, help="held-out session (default: %(default)s)")
    parser.add_argument("--loso", action="store_true", help="hold out each of the five sessions in turn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--words", action="store_true",
                        help="also check that local and contour are readable from per-word features")
    parser.add_argument("--anova", action="store_true",
                        help="also count the pooled audio features that differ across classes, per cue kind")
    args = parser.parse_args(argv)
    table = load_iemocap(args.root)
    audio = pooled_mfcc(table)
    sessions = (1, 2, 3, 4, 5) if args.loso else (args.test_session,)
    result = probe_table(table, audio, sessions, args.seed)
    held = "each session held out in turn" if args.loso else f"session {args.test_session} held out"
    print(f"{args.root}: {len(table)} utterances, 6 classes, {held}")
    print(markdown(result))
    if args.anova:
        diff = pooled_differences(table, audio)
        print("\npooled audio features (MFCC mean+std) differing across classes, one-way ANOVA p < 0.01:")
        print("| cue kinds | n | differing features | smallest p |\n|---|---:|---:|---:|")
        for row in diff.itertuples():
            print(f"| {row.Index} | {row.n} | {row.differing} of {row.features} | {row.min_p:.1g} |")
    if args.words:
        from sernb.data.cuetable import load_cue_words

        check = word_level_check(table, load_cue_words(args.root), args.seed)
        print("\nword-level check (per-word duration, energy, pitch from cue_words.csv spans; each session "
              "held out in turn; trained on that kind only):")
        print("| cue kind | n | majority | accuracy |\n|---|---:|---:|---:|")
        for row in check.itertuples():
            print(f"| {row.Index} | {row.n} | {100 * row.majority:.1f} | {100 * row.accuracy:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
