"""The attention against ground truth: the cue corpus says which word and which stretch of speech
carry each utterance's emotion (chapter "Table 5: what the attention looks at").

The paper reads its attention off one example (Table 5). On the cue corpus (``synth_cues``) the
generator declares, per utterance, the word that carries a word-level cue (``cue_token``, a
whitespace-word index of the transcript) and the cue's time span in the clip (``cue_start``,
``cue_end``; :mod:`sernb.data.cuetable`), so the attention can be scored against them:

* **pointing game** (:func:`cue_attention`, ``peak_on_cue``): is the token that receives the
  most attention (column sum over audio steps; the tokenizer's special tokens excluded) one of
  the cue word's tokens? Chance: the cue's share of the word tokens (1 / number of word tokens
  for a one-token cue word).
* **share on the cue word** (``token_share``): the part of all attention that lands on the cue
  word's tokens, against ``token_expected``, what spreading evenly over the tokens would give.
* **share from the cue's time span** (``span_share``): of the attention the cue word receives,
  the part sent by audio steps inside [cue_start, cue_end], against ``span_expected``, the
  span's share of the steps. Each step spreads exactly one unit over the tokens, so "attention
  on a time span" only means something per token: this asks whether the word is attended
  *when it is spoken*, the alignment the paper claims.

Which words carry the cue (those ``cue_start``..``cue_end`` spans): the emotional word for
``lexical`` and ``alignment`` (``cue_token``), the three changed slot words whenever ``local`` is
among the kinds (:func:`sernb.data.synth.cues.slot_tokens`; with ``local+lexical`` the emotional
word is one of them). ``global`` and ``contour`` have no cue word and are left out.
Subword tokens are mapped to whitespace words through the tokenizer's character offsets
(``return_offsets_mapping``, fast tokenizers only), never by guessing from token strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sernb.attention import AttentionMap, step_times
from sernb.data.synth.cues import slot_tokens

#: The kinds with a cue word, the only ones the pointing game and the shares are defined for.
WORD_KINDS = ("local", "lexical", "alignment")
#: Fewer utterances than this give no z score: a standard error from a handful of values is noise.
MIN_FOR_Z = 10


@dataclass(frozen=True)
class CueMark:
    """Where one utterance's cue is: its words (whitespace indices), their token positions in the
    model's tokenization, every word token's position, and its time span (seconds)."""

    utt_id: str
    kinds: str
    word: str
    words: tuple[int, ...]
    positions: tuple[int, ...]
    word_tokens: tuple[int, ...]
    start: float
    end: float


def word_of_token(tokenizer: Any, text: str, max_tokens: int) -> np.ndarray:
    """Per token of ``text`` as the model tokenizes it (special tokens, truncation to
    ``max_tokens``): the index of the whitespace word it comes from, -1 for special tokens.

    Uses the character offsets of a fast tokenizer: a token belongs to the word whose
    characters it overlaps (a SentencePiece token's leading space overlaps no word)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{type(tokenizer).__name__} is not a fast tokenizer: it gives no character offsets, "
                         "so subword tokens cannot be mapped to words")
    enc = tokenizer(text, truncation=True, max_length=max_tokens, return_offsets_mapping=True,
                    return_special_tokens_mask=True)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    out = np.full(len(enc["input_ids"]), -1, dtype=np.int64)
    for i, ((start, end), special) in enumerate(zip(enc["offset_mapping"], enc["special_tokens_mask"],
                                                    strict=True)):
        if special or end <= start:
            continue
        out[i] = next((j for j, (ws, we) in enumerate(spans) if start < we and end > ws), -1)
    return out


def cue_words(kinds: str, cue_token: int, text: str) -> tuple[int, ...]:
    """The whitespace-word indices that carry an utterance's word-level cue, the same words
    ``cue_start``..``cue_end`` spans: the three slot words when ``local`` is among the kinds
    (with ``local+lexical`` the emotional word is one of them), else the emotional word."""
    parts = set(str(kinds).split("+"))
    if "local" in parts:
        return tuple(slot_tokens(text))
    if parts & {"lexical", "alignment"}:
        return (int(cue_token),) if int(cue_token) >= 0 else ()
    return ()


def cue_marks(maps: Sequence[AttentionMap], table: pd.DataFrame, tokenizer: Any,
              max_tokens: int) -> dict[str, CueMark]:
    """A :class:`CueMark` per map whose utterance has a cue word still inside the kept tokens."""
    rows = table.assign(utt_id=table["utt_id"].astype(str)).set_index("utt_id")
    marks = {}
    for m in maps:
        row = rows.loc[m.utt_id]
        words = cue_words(row["cue_kinds"], row["cue_token"], m.text)
        if not words:
            continue
        owner = word_of_token(tokenizer, m.text, max_tokens)
        if len(owner) != len(m.tokens):
            raise ValueError(f"{m.utt_id}: {len(owner)} tokens here, {len(m.tokens)} in the attention map: "
                             "not the tokenizer or max_tokens the model used")
        positions = tuple(int(i) for i in np.flatnonzero(np.isin(owner, words)))
        if positions:
            marks[m.utt_id] = CueMark(m.utt_id, str(row["cue_kinds"]), str(row["cue_word"]), words, positions,
                                      tuple(int(i) for i in np.flatnonzero(owner >= 0)),
                                      float(row["cue_start"]), float(row["cue_end"]))
    return marks


def cue_attention(maps: Sequence[AttentionMap], marks: Mapping[str, CueMark], frame_pool: int,
                  hop_s: float = 0.01) -> pd.DataFrame:
    """One row per (utterance with a mark, head): the pointing game and the two shares (module).

    ``head`` is ``"mean"`` for the head-averaged map, else 1..H. ``frame_pool`` and ``hop_s``
    place each audio step in time (its centre, as in :func:`sernb.attention.attention_figure`);
    steps past ``max_frames`` do not exist, so a span beyond them has no steps (``span_share``
    NaN, ``span_steps`` 0)."""
    rows = []
    for m in maps:
        mark = marks.get(m.utt_id)
        if mark is None:
            continue
        cue, words = list(mark.positions), np.asarray(mark.word_tokens)
        times = step_times(m.weights.shape[1], frame_pool, hop_s)
        in_span = (times >= mark.start) & (times <= mark.end)
        heads = [("mean", m.mean)] + [(h + 1, m.weights[h]) for h in range(m.weights.shape[0])]
        for head, w in heads:
            w = np.asarray(w, dtype=np.float64)
            received = w.sum(axis=0)
            on_cue = w[:, cue].sum(axis=1)  # per step: the weight it sends to the cue word
            rows.append({
                "utt_id": m.utt_id, "label": m.label, "pred": m.pred, "cue_kinds": mark.kinds, "head": head,
                "peak_on_cue": bool(int(words[np.argmax(received[words])]) in mark.positions),
                "chance": len(cue) / len(words),
                "token_share": float(on_cue.sum() / w.sum()), "token_expected": len(cue) / w.shape[1],
                "span_share": float(on_cue[in_span].sum() / on_cue.sum()) if in_span.any() and on_cue.sum() > 0
                else np.nan,
                "span_expected": float(in_span.mean()) if in_span.any() else np.nan,
                "span_steps": int(in_span.sum()),
            })
    columns = ["utt_id", "label", "pred", "cue_kinds", "head", "peak_on_cue", "chance", "token_share",
               "token_expected", "span_share", "span_expected", "span_steps"]
    return pd.DataFrame(rows, columns=columns)


def _z(observed: pd.Series, expected: pd.Series, variance: pd.Series) -> float:
    """(sum observed - sum expected) / sqrt(sum variance): how many standard errors above chance
    (NaN with fewer than :data:`MIN_FOR_Z` values)."""
    spread = float(np.sqrt(variance.sum()))
    if len(observed) < MIN_FOR_Z or spread == 0:
        return np.nan
    return float((observed.sum() - expected.sum()) / spread)


def reading(z: float, threshold: float = 2.0) -> str:
    """``above chance`` / ``below chance`` beyond ``threshold`` standard errors, else ``at chance``."""
    if not np.isfinite(z):
        return f"no reading (fewer than {MIN_FOR_Z} utterances)"
    return "above chance" if z > threshold else "below chance" if z < -threshold else "at chance"


def cue_attention_summary(frame: pd.DataFrame, by: str | Sequence[str] = "head") -> pd.DataFrame:
    """Per group (default: per head): utterances, the pointing game against chance, the two
    shares against their expectations (``token lift``: share / even share, 1 = even), and a z
    score for each (standard errors above chance; NaN under :data:`MIN_FOR_Z` utterances).

    Read the pointing game with the lift: when the attention is nearly even (lift ~1), the
    most-attended token is decided by tiny differences, which may still be systematic.

    The pointing game's z treats each utterance as a coin with its own chance (sum of
    Bernoulli variances); the shares' z is the mean per-utterance excess over its standard error.
    """
    groups = []
    for key, g in frame.groupby(by, sort=False):
        spans = g.dropna(subset=["span_share"])
        excess_t = g["token_share"] - g["token_expected"]
        excess_s = spans["span_share"] - spans["span_expected"]
        groups.append({
            **dict(zip([by] if isinstance(by, str) else by, key if isinstance(key, tuple) else (key,), strict=True)),
            "utterances": len(g), "pointing": g["peak_on_cue"].mean(), "pointing chance": g["chance"].mean(),
            "pointing z": _z(g["peak_on_cue"].astype(float), g["chance"], g["chance"] * (1 - g["chance"])),
            "token share": g["token_share"].mean(), "token expected": g["token_expected"].mean(),
            "token lift": (g["token_share"] / g["token_expected"]).mean(),
            "token z": _mean_z(excess_t),
            "with span": len(spans), "span share": spans["span_share"].mean(),
            "span expected": spans["span_expected"].mean(), "span z": _mean_z(excess_s),
        })
    return pd.DataFrame(groups)


def _mean_z(excess: pd.Series) -> float:
    """Mean of ``excess`` over its standard error (NaN under :data:`MIN_FOR_Z` values or no spread)."""
    if len(excess) < MIN_FOR_Z or excess.std(ddof=1) == 0:
        return np.nan
    return float(excess.mean() / (excess.std(ddof=1) / np.sqrt(len(excess))))


def table5_with_cues(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 5 rows beside what the cue corpus measures for them (mean of heads).

    Row 1 (a frequency band) is no attention weight in this architecture and the cue corpus has
    nothing to say about it; row 2 (emotional words) is read on ``lexical`` and ``alignment``
    utterances; row 3 (speech <-> text) on ``alignment``, where only the stressed word decides.
    """
    from sernb.attention import PAPER_TABLE5

    mean = frame[frame["head"] == "mean"]
    kinds = mean["cue_kinds"].str.split("+")
    lexical = mean[kinds.map(lambda k: bool({"lexical", "alignment"} & set(k)))]
    aligned = mean[kinds.map(lambda k: "alignment" in k)]
    rows = []
    for part in (lexical, aligned):
        s = cue_attention_summary(part.assign(all="all"), by="all") if len(part) else None
        rows.append(s.iloc[0] if s is not None else None)
    lex, ali = rows

    def text(s: pd.Series | None, what: str) -> tuple[str, str]:
        if s is None:
            return "no such utterances in this test set", "no data"
        if what == "pointing":
            return (f"pointing game on the emotional word, {int(s['utterances'])} utterances: "
                    f"{s['pointing']:.0%} (chance {s['pointing chance']:.0%}); share of attention on it "
                    f"{s['token share']:.3f} (even: {s['token expected']:.3f})", reading(s["pointing z"]))
        return (f"of the attention the stressed word receives, the share sent while it is spoken, "
                f"{int(s['with span'])} utterances: {s['span share']:.3f} (its time span's share of the "
                f"steps: {s['span expected']:.3f})", reading(s["span z"]))

    measured = [("the cue corpus has no frequency-band ground truth (and no weight belongs to a band)", "-"),
                text(lex, "pointing"), text(ali, "span")]
    out = PAPER_TABLE5[["modality", "key region", "avg. attention weight (paper reported)"]].copy()
    out["measured on the cue corpus (mean of heads)"] = [m for m, _ in measured]
    out["reading"] = [r for _, r in measured]
    return out
