"""The cue corpus in the book (issue 15): the synth_cues setting, accuracy per cue kind and the
claims read from it (chapter 4), the attention against the cue word and span (chapter 7)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sernb import attention_cues, cues_analysis, experiments
from sernb.attention import AttentionMap

# ------------------------------------------------------------------ the setting and the key


def test_synth_cues_changes_the_key_only_when_set():
    table = pd.DataFrame({"utt_id": ["a", "b"], "label": ["ang", "sad"], "text": ["x", "y"]})
    cued = experiments.ExperimentConfig.from_profile("smoke")
    assert cued.synth_cues is True  # the synthetic profiles study the cue corpus
    assert experiments.ExperimentConfig.from_profile("offline").synth_cues is True
    assert experiments.ExperimentConfig.from_profile("full").synth_cues is False
    settings = {k for k in cued.to_dict() if k not in experiments.RUNTIME_FIELDS}
    assert "synth_cues" in settings and experiments.DEFAULT_FIELDS["synth_cues"] is False
    plain = experiments.ExperimentConfig.from_profile("smoke", synth_cues=False)
    assert plain.synth_cues is False
    assert experiments.experiment_key(cued, table) != experiments.experiment_key(plain, table)
    assert experiments.ExperimentConfig.from_profile("smoke", synth_cues=None).synth_cues is True  # None keeps


def test_grid_passes_synth_cues_only_to_chapters_that_declare_it():
    from sernb import grid

    plans = grid.chapter_experiments("smoke", ["04", "09"], extra={"SYNTH_CUES": False})
    by_chapter = {p.chapter: p.config.synth_cues for p in plans}
    assert by_chapter == {"04_ablation": False, "09_try_it": True}  # 09 keeps the profile's corpus
    plans = grid.chapter_experiments("smoke", ["04"])
    assert {p.config.synth_cues for p in plans} == {True}  # the chapter's None: the profile's


# ------------------------------------------------------------------ accuracy per cue kind


def _fabricated() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Two systems, two seeds, two local and two lexical utterances (hand-computed below)."""
    table = pd.DataFrame({"utt_id": ["u1", "u2", "u3", "u4"], "label": ["ang", "sad", "ang", "sad"],
                          "cue_kinds": ["local", "local", "lexical", "lexical"], "cue_word": ["", "", "x", "y"],
                          "cue_token": [3, 3, 3, 3], "cue_start": 0.0, "cue_end": 1.0})
    truth = dict(zip(table["utt_id"], table["label"], strict=True))
    other = {"ang": "sad", "sad": "ang"}

    def preds(correct: dict[int, list[bool]]) -> pd.DataFrame:
        rows = []
        for seed, flags in correct.items():
            for utt, ok in zip(["u1", "u2", "u3", "u4"], flags, strict=True):
                rows.append({"run": f"random__seed{seed}", "fold": "random", "seed": seed, "utt_id": utt,
                             "label": truth[utt], "pred": truth[utt] if ok else other[truth[utt]]})
        return pd.DataFrame(rows)

    return table, {
        "baseline": preds({0: [True, False, True, True], 1: [False, False, True, False]}),
        "ablation_lstm": preds({0: [True, True, True, False], 1: [True, False, True, True]}),
    }


def test_accuracy_per_kind_is_the_hand_computed_one():
    table, results = _fabricated()
    runs = cues_analysis.kind_runs(results, table)
    assert len(runs) == 8 and set(runs["n"]) == {2}
    acc = cues_analysis.kind_table(runs).set_index(["system", "cue_kinds"])
    # baseline local: 50% and 0% -> 25 ± 25; lexical: 100% and 50% -> 75 ± 25
    assert acc.loc[("baseline", "local"), "accuracy"] == 25.0
    assert acc.loc[("baseline", "local"), "accuracy std"] == 25.0
    assert acc.loc[("baseline", "lexical"), "accuracy"] == 75.0
    assert acc.loc[("ablation_lstm", "local"), "accuracy"] == 75.0
    assert list(acc.index.get_level_values("system").unique()) == ["baseline", "ablation_lstm"]
    # balanced accuracy, baseline seed 0 local: ang right, sad wrong -> recalls 1 and 0 -> 0.5
    one = runs[(runs["system"] == "baseline") & (runs["seed"] == 0) & (runs["cue_kinds"] == "local")]
    assert one["balanced_accuracy"].item() == 0.5


def test_claims_are_marked_from_the_numbers():
    table, results = _fabricated()
    runs = cues_analysis.kind_runs(results, table)
    claim = cues_analysis.Claim("lstm", "ablation_lstm", "baseline", ("local", "lexical"), "")
    out = cues_analysis.claim_table(runs, [claim], min_utterances=1).set_index("cue kind")
    # local: +50 and +50 -> 50 ± 0 holds; lexical: -50 and +50 -> 0 ± 50 inconclusive
    assert out.loc["local", "gain (points)"] == 50.0 and out.loc["local", "verdict"] == "holds"
    assert out.loc["lexical", "gain (points)"] == 0.0 and out.loc["lexical", "verdict"] == "inconclusive"
    reverse = cues_analysis.Claim("rev", "baseline", "ablation_lstm", ("local",), "")
    assert cues_analysis.claim_table(runs, [reverse], min_utterances=1)["verdict"].item() == "does not hold"
    # too few utterances per run, or one run only: no verdict
    assert cues_analysis.claim_table(runs, [claim])["verdict"].tolist() == ["inconclusive"] * 2
    one_seed = runs[runs["seed"] == 0]
    assert cues_analysis.claim_table(one_seed, [claim], min_utterances=1)["verdict"].tolist() == ["inconclusive"] * 2
    missing = cues_analysis.Claim("x", "ours", "baseline", ("alignment",), "")
    assert cues_analysis.claim_table(runs, [missing])["verdict"].item() == "not run"


def test_predictions_of_another_corpus_are_refused():
    table, results = _fabricated()
    with pytest.raises(ValueError, match="not in the table"):
        cues_analysis.with_kinds(results["baseline"].assign(utt_id="zz"), table)
    with pytest.raises(ValueError, match="no cue columns"):
        cues_analysis.with_kinds(results["baseline"], table.drop(columns="cue_kinds"))


# ------------------------------------------------------------------ attention against the cue


def _map(weights: np.ndarray) -> AttentionMap:
    tokens = ["[CLS]", "i", "left", "angry", "box", "[SEP]"]
    return AttentionMap("u1", "ang", "ang", "i left angry box", tokens, weights)


MARK = attention_cues.CueMark("u1", "lexical", "angry", (2,), (3,), (1, 2, 3, 4), start=0.015, end=0.035)


def test_pointing_game_and_shares_on_fabricated_maps():
    focused = np.array([[0, .3, .3, .1, .3, 0]] * 2 + [[0, .1, .1, .7, .1, 0]] * 2)  # peak on 'angry'
    elsewhere = np.array([[.6, .2, .1, .05, .05, 0]] * 4)  # [CLS] most, then 'i': not the cue
    m = _map(np.stack([focused, elsewhere]))
    frame = attention_cues.cue_attention([m], {"u1": MARK}, frame_pool=1, hop_s=0.01).set_index("head")
    assert frame.loc[1, "peak_on_cue"] and not frame.loc[2, "peak_on_cue"] and frame.loc["mean", "peak_on_cue"]
    assert (frame["chance"] == 0.25).all()  # one cue token among four word tokens
    assert frame.loc[1, "token_share"] == pytest.approx(1.6 / 4) and frame.loc[1, "token_expected"] == pytest.approx(1 / 6)
    # steps at 0, 10, 20, 30 ms; the span 15-35 ms holds the last two, which send 1.4 of the word's 1.6
    assert frame.loc[1, "span_steps"] == 2 and frame.loc[1, "span_expected"] == 0.5
    assert frame.loc[1, "span_share"] == pytest.approx(1.4 / 1.6)
    assert frame.loc[2, "span_share"] == pytest.approx(0.5)
    summary = attention_cues.cue_attention_summary(frame.reset_index()).set_index("head")
    assert summary.loc[1, "pointing"] == 1.0 and summary.loc[2, "pointing"] == 0.0
    assert summary.loc[1, "pointing chance"] == 0.25


def test_steps_past_max_frames_have_no_span():
    m = _map(np.full((1, 2, 6), 1 / 6))
    late = attention_cues.CueMark("u1", "lexical", "angry", (2,), (3,), (1, 2, 3, 4), start=1.0, end=1.2)
    row = attention_cues.cue_attention([m], {"u1": late}, frame_pool=3).iloc[0]
    assert row["span_steps"] == 0 and np.isnan(row["span_share"])


def test_cue_words_per_kind():
    text = "I left the small box next to the blue chair by the wooden door."
    assert attention_cues.cue_words("lexical", 3, text) == (3,)
    assert attention_cues.cue_words("local+lexical", 8, text) == (3, 8, 12)  # the span's words
    assert attention_cues.cue_words("alignment", 8, text) == (8,)
    assert attention_cues.cue_words("local", 3, text) == (3, 8, 12)
    assert attention_cues.cue_words("contour", -1, text) == ()


def test_word_to_token_mapping_on_minilm():
    from transformers import AutoTokenizer

    from sernb.models.text import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    text = "I left the infuriating box next to the small chair by the wooden door."
    owner = attention_cues.word_of_token(tokenizer, text, max_tokens=32)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(text, truncation=True, max_length=32)["input_ids"])
    assert owner[0] == -1 and owner[-1] == -1  # [CLS], [SEP]
    word = [t.removeprefix("##") for t, o in zip(tokens, owner, strict=True) if o == 3]
    assert "".join(word) == "infuriating" and len(word) > 1  # several word pieces, one word
    assert [t for t, o in zip(tokens, owner, strict=True) if o == 12] == ["wooden"]
    assert [t for t, o in zip(tokens, owner, strict=True) if o == 13] == ["door", "."]
    short = attention_cues.word_of_token(tokenizer, text, max_tokens=6)  # truncated like the model
    assert len(short) == 6 and short[-1] == -1


def test_word_to_token_mapping_on_a_sentencepiece_tokenizer(deberta_folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(deberta_folder)
    text = "I left the infuriating box next to the small chair by the wooden door."
    owner = attention_cues.word_of_token(tokenizer, text, max_tokens=64)
    enc = tokenizer(text, return_offsets_mapping=True)
    for o, (start, end) in zip(owner, enc["offset_mapping"], strict=True):
        if o >= 0:  # every word token's characters lie in its word (a leading space aside)
            assert text[start:end].strip() in text.split()[o]
    assert sorted(set(owner[owner >= 0])) == list(range(len(text.split())))


# ------------------------------------------------------------------ a smoke run on the cue corpus


def test_train_on_the_smoke_cue_corpus_gives_the_breakdown(tmp_path):
    from sernb.cli import main

    out = tmp_path / "out"
    code = main(["train", "--system", "baseline", "--profile", "smoke", "--out", str(out), "--no-progress"])
    assert code == 0
    record = json.loads((out / "result.json").read_text())
    assert record["config"]["synth_cues"] is True
    config = experiments.ExperimentConfig.from_profile("smoke", system="baseline")  # the profile's cue corpus
    table = experiments.load_corpus(config)
    assert cues_analysis.has_cues(table) and "smoke-cues" in table.attrs["cues"]
    result = experiments.run(config)  # stored: returns at once
    runs = cues_analysis.kind_runs({"baseline": result}, table)
    assert runs["n"].sum() == len(result.predictions)
    assert set(runs["cue_kinds"]) <= set(table["cue_kinds"])
    plain = experiments.ExperimentConfig.from_profile("smoke", synth_cues=False)
    assert not cues_analysis.has_cues(experiments.load_corpus(plain))
