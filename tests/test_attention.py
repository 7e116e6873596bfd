"""sernb.attention on hand-made attention maps: token mass per class, entropy, pooling, correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sernb import attention as at
from sernb.models.audio import pool_frames


def amap(utt: str, label: str, tokens: list[str], weights) -> at.AttentionMap:
    return at.AttentionMap(utt, label, label, " ".join(tokens), tokens, np.asarray(weights, dtype=np.float32))


def test_token_share_and_lift():
    # two heads, two steps, three tokens: head-mean rows (0.5, 0.5, 0) and (0, 0.5, 0.5)
    w = [[[1, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 0, 1]]]
    frame = at.token_attention([amap("u1", "ang", ["[CLS]", "##Bad", "!"], w)])
    assert frame["token"].tolist() == ["[cls]", "bad", "!"]
    assert frame["share"].tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert frame["lift"].tolist() == pytest.approx([0.75, 1.5, 0.75])


def test_top_tokens_mass_is_per_utterance_of_the_class():
    even = np.full((1, 1, 2), 0.5)
    maps = [amap("a", "ang", ["no", "!"], [[[0.8, 0.2]]]), amap("b", "ang", ["no", "way"], even),
            amap("c", "sad", ["fine", "."], [[[0.1, 0.9]]])]
    top = at.top_tokens(at.token_attention(maps), k=1)
    assert top.set_index("label")["token"].to_dict() == {"ang": "no", "sad": "."}
    assert top.set_index("label").loc["ang", "mass"] == pytest.approx((0.8 + 0.5) / 2)
    words = at.top_tokens(at.token_attention(maps), k=5, words_only=True)
    assert "." not in set(words["token"]) and "!" not in set(words["token"])
    assert words.set_index("label").loc["sad", "token"] == "fine"


def test_normalised_entropy_and_heads():
    assert at.normalised_entropy(np.full(4, 0.25)) == pytest.approx(1.0)
    assert at.normalised_entropy(np.array([1.0, 0, 0, 0])) == pytest.approx(0.0, abs=1e-6)
    w = np.stack([np.full((3, 4), 0.25), np.tile([1.0, 0, 0, 0], (3, 1))])  # head 1 even, head 2 one token
    ent = at.head_entropy([amap("u", "neu", list("abcd"), w)])
    assert ent["entropy"].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    assert ent["head"].tolist() == [1, 2]


def test_pool_to_steps_matches_the_model_pooling():
    x = np.arange(1, 8, dtype=float)  # 7 frames
    assert at.pool_to_steps(x, 3).tolist() == pytest.approx([2.0, 5.0, 7.0])
    assert at.pool_to_steps(x, 3, max_frames=6).tolist() == pytest.approx([2.0, 5.0])
    pooled, _ = pool_frames(torch.tensor(x).view(1, -1, 1), torch.ones(1, 7, dtype=torch.bool), 3)
    assert at.pool_to_steps(x, 3) == pytest.approx(pooled.view(-1).numpy())
    out = at.pool_to_steps(np.array([np.nan, np.nan, 1.0, 3.0]), 2)
    assert np.isnan(out[0]) and out[1] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="pool size"):
        at.pool_to_steps(x, 0)


def test_step_attention_weight_on_exclamation():
    w = [[[0.7, 0.3], [0.2, 0.8]]]
    steps = at.step_attention(amap("u", "ang", ["stop", "!"], w))
    assert steps["to_exclamation"].tolist() == pytest.approx([0.3, 0.8])
    assert np.isnan(at.step_attention(amap("v", "neu", ["ok", "."], w))["to_exclamation"]).all()


def test_prosody_correlations_per_class():
    rng = np.random.default_rng(0)
    rows = []
    for utt, label, sign in (("a1", "ang", 1), ("a2", "ang", 1), ("s1", "sad", -1)):
        energy = rng.normal(size=20)
        rows.append(pd.DataFrame({"utt_id": utt, "label": label, "energy_db": energy, "f0_hz": 100.0,
                                  "hf_share": energy, "focus": sign * energy, "to_exclamation": np.nan}))
    table = at.prosody_correlations(pd.concat(rows))
    assert table.loc["ang", "rho energy ~ focus"] == pytest.approx(1.0)
    assert table.loc["sad", "rho energy ~ focus"] == pytest.approx(-1.0)
    assert table.loc["all", "rho energy ~ focus"] == pytest.approx(1 / 3)
    assert table.loc["ang", "n energy ~ focus"] == 2
    assert np.isnan(table.loc["ang", "rho pitch ~ focus"])  # constant pitch: no correlation
    assert table.loc["all", "n energy ~ weight on '!'"] == 0


def test_frame_prosody_pitch_and_high_band():
    sr = 16000
    t = np.arange(sr) / sr
    low = at.frame_prosody(0.5 * np.sin(2 * np.pi * 200 * t), sr)
    high = at.frame_prosody(0.5 * np.sin(2 * np.pi * 6000 * t), sr)
    assert len(low) == 1 + sr // 160  # one row per MFCC frame (centred, 10 ms hop)
    assert np.nanmedian(low["f0_hz"]) == pytest.approx(200, rel=0.03)
    assert low["hf_share"].median() < 0.01 < 0.9 < high["hf_share"].median()


def test_attention_figure_controls():
    maps = [amap("u1", "ang", ["a", "b"], np.random.default_rng(0).dirichlet([1, 1], size=(3, 4))),
            amap("u2", "sad", ["c", "d", "e"], np.full((3, 5, 3), 1 / 3))]
    frames = [np.zeros((12, 40)), np.zeros((15, 40))]
    prosody = [pd.DataFrame({"energy_db": np.zeros(n), "f0_hz": np.nan, "hf_share": 0.0}) for n in (12, 15)]
    fig = at.attention_figure(maps, frames, prosody, k=3)
    assert len(fig.layout.updatemenus[0].buttons) == 2
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["mean of heads", "head 1", "head 2", "head 3"]
    z_head2 = steps[2].args[0]["z"][0]
    assert np.asarray(z_head2) == pytest.approx(np.round(maps[0].weights[1].T, 4), abs=1e-4)
    assert list(steps[2].args[1]) == [3, 7]  # the attention heatmap of each utterance


def test_attention_explorer_opens_on_an_utterance_and_follows_the_class(monkeypatch):
    from sernb import viz, widgets

    shown = []
    monkeypatch.setattr(at, "utterance_figure", lambda m, *a, **k: shown.append(m.utt_id) or "figure")
    monkeypatch.setattr(viz, "audio_player", lambda *a, **k: "player")
    maps = [amap("u1", "ang", ["a", "b"], np.full((2, 4, 2), 0.5)), amap("u2", "sad", ["c"], np.ones((2, 4, 1)))]
    box = widgets.attention_explorer(maps, None, 3)
    (emotion, head), utterance = box.children[0].children, box.children[1]
    assert utterance.value == 0 and shown == ["u1"]  # never an empty explorer
    # JupyterLab draws a value of None as an empty dropdown, whatever the label says
    assert None not in (emotion.value, head.value) and emotion.label == "all"
    emotion.value = "sad"
    assert utterance.value == 1 and shown[-1] == "u2"
    head.value = 1
    assert shown[-1] == "u2" and len(shown) == 3
