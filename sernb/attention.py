"""Where the cross-modal attention looks (chapter "Table 5: what the attention looks at"; chapter "Try it yourself").

The paper's attention (Section 3.4, Eq. 3) lets every audio step (a query) spread one unit of
weight over the text tokens (keys), per head. This module gets those maps for a whole test set
from a trained model and measures them instead of reading them off one example:

* which token strings receive the most attention per class (:func:`token_attention`, :func:`top_tokens`);
* how spread out each head is (:func:`head_entropy`);
* how a step's attention relates to its loudness, pitch and high-frequency energy
  (:func:`frame_prosody`, :func:`pool_to_steps`, :func:`step_table`, :func:`prosody_correlations`).

Since each step's weights sum to 1 over tokens, a step cannot "receive" attention; what varies
per step is *how* it spends its unit: its focus (1 minus the normalised entropy) and the share
it sends to an exclamation mark. Tokens receive attention (their column sums).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sernb import paper
from sernb.data.table import label_targets

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from torch import nn


#: The paper's Table 5 ("example: anger class"), verbatim (sernb.paper), for side-by-side display.
PAPER_TABLE5 = paper.TABLE5.reset_index(drop=True)

#: Tokens that carry no word: the tokenizer's markers (any tokenizer's spelling).
SPECIAL = {"[cls]", "[sep]", "[pad]", "<s>", "</s>", "<pad>", "[unk]", "<unk>"}


@dataclass
class AttentionMap:
    """One utterance's attention: ``weights`` (heads, steps, tokens), and what it was about."""

    utt_id: str
    label: str
    pred: str
    text: str
    tokens: list[str]
    weights: np.ndarray
    wav_path: str = ""

    @property
    def mean(self) -> np.ndarray:
        """Weights averaged over heads: (steps, tokens); each row still sums to 1."""
        return self.weights.mean(axis=0)


# ----------------------------------------------------------------------------- the trained model


def attention_maps(model: nn.Module, table: pd.DataFrame, rows: np.ndarray, labels: list[str],
              max_frames: int | None, device: str = "cpu", batch_size: int = 32) -> list[AttentionMap]:
    """Attention maps (and predictions) of ``model`` for the utterances at ``rows`` of ``table``."""
    from sernb.data.dataset import SERDataset
    from sernb.experiments import prepare_inputs
    from sernb.models.inputs import dialog_contexts
    from sernb.train import predict

    part = table.iloc[np.asarray(rows)].reset_index(drop=True)
    targets = label_targets(part["label"], labels)
    inputs = prepare_inputs(model, part, {"device": device, "progress": False})
    out = predict(model, SERDataset(inputs, targets, max_frames=max_frames), batch_size=batch_size,
                  device=device, keep_attention=range(len(part)))
    tokens = model.text.utterance_tokens(part["text"].tolist(), dialog_contexts(part))
    return [AttentionMap(str(r.utt_id), str(r.label), labels[int(out.preds[i])], str(r.text), tokens[i],
                         out.attention[i], str(r.wav_path))
            for i, r in enumerate(part.itertuples())]


def examples(maps: list[AttentionMap]) -> list[AttentionMap]:
    """One map per class in the book's class order, a correctly predicted one where there is one."""
    from sernb.viz import emotion_order

    chosen = []
    for label in emotion_order([m.label for m in maps]):
        same = [m for m in maps if m.label == label]
        chosen.append(next((m for m in same if m.pred == label), same[0]))
    return chosen


def prosody_for(maps: list[AttentionMap], progress: bool = True) -> dict[str, pd.DataFrame]:
    """:func:`frame_prosody` of every map's recording, keyed by utterance id."""
    from tqdm.auto import tqdm

    from sernb.data.audio import load_audio

    return {m.utt_id: frame_prosody(load_audio(m.wav_path)) for m in tqdm(maps, desc="energy and pitch",
                                                                          disable=not progress)}


# ----------------------------------------------------------------------------- tokens and heads


def clean_token(token: str) -> str:
    """Lower-case token string without sub-word markers (``##``, ``▁``, ``Ġ``), for grouping."""
    return token.replace("##", "").replace("\u2581", "").replace("\u0120", "").lower() or token


def token_attention(maps: list[AttentionMap]) -> pd.DataFrame:
    """One row per (utterance, token): the share of the utterance's attention the token receives.

    ``share`` = weight averaged over heads and steps (sums to 1 per utterance); ``lift`` =
    share x number of tokens, i.e. relative to spreading the attention evenly (1 = even).
    """
    rows = []
    for m in maps:
        share = m.mean.mean(axis=0)
        for pos, (tok, s) in enumerate(zip(m.tokens, share, strict=True)):
            rows.append({"utt_id": m.utt_id, "label": m.label, "position": pos, "token": clean_token(tok),
                         "share": float(s), "lift": float(s * len(share))})
    return pd.DataFrame(rows, columns=["utt_id", "label", "position", "token", "share", "lift"])


def top_tokens(tokens: pd.DataFrame, k: int = 5, words_only: bool = False) -> pd.DataFrame:
    """The ``k`` token strings with the most attention mass per class.

    ``mass`` is the class's summed share divided by its utterances: the part of an average
    utterance's attention that lands on this string. ``words_only`` drops special tokens and
    punctuation.
    """
    if words_only:
        tokens = tokens[~tokens["token"].isin(SPECIAL) & tokens["token"].str.contains(r"\w", regex=True)]
    n_utts = tokens.groupby("label")["utt_id"].nunique()
    grouped = tokens.groupby(["label", "token"]).agg(
        mass=("share", "sum"), occurrences=("share", "size"), utterances=("utt_id", "nunique"),
        mean_lift=("lift", "mean")).reset_index()
    grouped["mass"] = grouped["mass"] / grouped["label"].map(n_utts)
    grouped = grouped.sort_values(["label", "mass"], ascending=[True, False])
    return grouped.groupby("label").head(k).reset_index(drop=True)


def normalised_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy of each row of ``weights`` (..., tokens) over log(tokens): 0 one token, 1 uniform."""
    from scipy.stats import entropy

    p = np.asarray(weights, dtype=np.float64)
    n = p.shape[-1]
    return entropy(p, axis=-1) / np.log(n) if n > 1 else np.zeros(p.shape[:-1])


def head_entropy(maps: list[AttentionMap]) -> pd.DataFrame:
    """One row per (utterance, head): the step-averaged normalised entropy of that head."""
    rows = [{"utt_id": m.utt_id, "label": m.label, "head": h + 1, "entropy": float(e)}
            for m in maps for h, e in enumerate(normalised_entropy(m.weights).mean(axis=1))]
    return pd.DataFrame(rows, columns=["utt_id", "label", "head", "entropy"])


# ----------------------------------------------------------------------------- prosody per step


def frame_prosody(audio: np.ndarray, sr: int = 16000, hop_length: int = 160, n_fft: int = 400,
                  max_seconds: float | None = 10.0, gate_db: float = -30.0) -> pd.DataFrame:
    """Per MFCC frame (same hop and centring): RMS energy (dB), f0 (Hz, YIN) and the >4 kHz share.

    YIN gives a pitch for every frame, voiced or not; frames more than ``gate_db`` below the
    loudest get NaN pitch (silence and breath have no pitch worth correlating).
    """
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if max_seconds is not None:
        y = y[: int(round(max_seconds * sr))]
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop_length)[0]
    energy = librosa.amplitude_to_db(rms, ref=np.max(rms) if rms.max() > 0 else 1.0)
    f0 = librosa.yin(y, fmin=65, fmax=500, sr=sr, frame_length=1024, hop_length=hop_length)
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    high = librosa.fft_frequencies(sr=sr, n_fft=n_fft) > 4000
    hf = power[high].sum(axis=0) / np.maximum(power.sum(axis=0), 1e-12)
    n = min(len(energy), len(f0), len(hf))
    f0 = np.where(energy[:n] > gate_db, f0[:n], np.nan)
    return pd.DataFrame({"energy_db": energy[:n], "f0_hz": f0, "hf_share": hf[:n]})


def pool_to_steps(values: np.ndarray, k: int, max_frames: int | None = None) -> np.ndarray:
    """Frame values -> model steps: keep the first ``max_frames``, average each ``k`` (NaN ignored).

    Mirrors :func:`sernb.models.audio.pool_frames`: the last step averages what is left.
    """
    values = np.asarray(values, dtype=np.float64)
    if max_frames is not None:
        values = values[:max_frames]
    if k < 1:
        raise ValueError(f"pool size must be >= 1, got {k}")
    padded = np.pad(values, (0, (-len(values)) % k), constant_values=np.nan).reshape(-1, k)
    out = np.full(len(padded), np.nan)
    seen = ~np.isnan(padded).all(axis=1)
    out[seen] = np.nanmean(padded[seen], axis=1)
    return out


def step_times(n_steps: int, k: int, hop_s: float = 0.01) -> np.ndarray:
    """The time (s) of each model step: the centre of its ``k`` pooled frames, frame i at i x hop
    (librosa centres its frames), so steps and word times of the clip share one axis."""
    return (np.arange(n_steps) * k + (k - 1) / 2) * hop_s


def step_attention(m: AttentionMap) -> pd.DataFrame:
    """Per step: its focus (1 - normalised entropy of the head-mean row) and weight on ``!``."""
    mean = m.mean
    exclaim = np.array([clean_token(t) == "!" for t in m.tokens])
    to_exclaim = mean[:, exclaim].sum(axis=1) if exclaim.any() else np.full(len(mean), np.nan)
    return pd.DataFrame({"focus": 1 - normalised_entropy(mean), "to_exclamation": to_exclaim})


def step_table(maps: list[AttentionMap], prosody: dict[str, pd.DataFrame], k: int,
               max_frames: int | None) -> pd.DataFrame:
    """Steps of all utterances: attention statistics beside pooled energy, pitch and >4 kHz share."""
    parts = []
    for m in maps:
        steps = step_attention(m)
        frames = prosody[m.utt_id]
        for col in frames.columns:
            pooled = pool_to_steps(frames[col].to_numpy(), k, max_frames)
            if len(pooled) < len(steps) - 1:
                raise ValueError(f"{m.utt_id}: {len(pooled)} prosody steps for {len(steps)} attention steps")
            steps[col] = np.pad(pooled, (0, max(0, len(steps) - len(pooled))), constant_values=np.nan)[:len(steps)]
        parts.append(steps.assign(utt_id=m.utt_id, label=m.label, step=np.arange(len(steps))))
    return pd.concat(parts, ignore_index=True)


PAIRS = {"energy ~ focus": ("energy_db", "focus"), "pitch ~ focus": ("f0_hz", "focus"),
         ">4 kHz share ~ focus": ("hf_share", "focus"), "energy ~ weight on '!'": ("energy_db", "to_exclamation")}


def prosody_correlations(steps: pd.DataFrame, pairs: dict[str, tuple[str, str]] = PAIRS,
                         min_steps: int = 5) -> pd.DataFrame:
    """Mean within-utterance Spearman rho per class (and over all), with the utterances counted.

    Correlating inside each utterance and then averaging keeps differences *between* utterances
    (a loud speaker, a long sentence) out of the number. Utterances with fewer than ``min_steps``
    valid steps or a constant series are skipped.
    """
    from scipy.stats import spearmanr

    per_utt = []
    for (utt, label), g in steps.groupby(["utt_id", "label"], sort=False):
        row = {"utt_id": utt, "label": label}
        for name, (a, b) in pairs.items():
            ok = g[[a, b]].dropna()
            constant = len(ok) == 0 or ok[a].nunique() < 2 or ok[b].nunique() < 2
            row[name] = np.nan if len(ok) < min_steps or constant else float(spearmanr(ok[a], ok[b])[0])
        per_utt.append(row)
    per_utt = pd.DataFrame(per_utt)
    table = []
    for label, g in [*per_utt.groupby("label"), ("all", per_utt)]:
        row = {"class": label}
        for name in pairs:
            row[f"rho {name}"] = g[name].mean()
            row[f"n {name}"] = int(g[name].notna().sum())
        table.append(row)
    return pd.DataFrame(table).set_index("class")


# ----------------------------------------------------------------------------- paper vs measured


def compare_with_paper(tokens: pd.DataFrame, correlations: pd.DataFrame, label: str = "ang") -> pd.DataFrame:
    """Table 5's three rows beside the closest quantity measured here, for class ``label``."""
    words = top_tokens(tokens[tokens["label"] == label], k=1, words_only=True)
    exclaim = tokens[(tokens["label"] == label) & (tokens["token"] == "!")]
    hf, ex = correlations.get(f"rho {'>4 kHz share ~ focus'}"), correlations.get("rho energy ~ weight on '!'")
    pick = (lambda s: float(s.get(label, np.nan))) if label in correlations.index else (lambda s: np.nan)
    word = words["token"].iloc[0] if len(words) else "-"
    ours = [
        ("Spearman rho, a step's >4 kHz energy share vs its attention focus (the attention is over "
         "tokens, not frequency bands: no weight belongs to a band)", pick(hf)),
        (f"mean share of attention on the top word of the class ('{word}'), per utterance",
         float(words["mass"].iloc[0]) if len(words) else np.nan),
        ("Spearman rho, a step's energy vs the weight it sends to '!' (utterances with '!'); "
         f"mean share on '!': {exclaim['share'].mean():.3f}" if len(exclaim) else
         "Spearman rho, energy vs weight on '!': no '!' in these utterances", pick(ex)),
    ]
    out = PAPER_TABLE5[["modality", "key region", "avg. attention weight (paper reported)"]].copy()
    out[f"measured here ({label}, test set)"] = [round(v, 3) if np.isfinite(v) else np.nan for _, v in ours]
    out["what was measured"] = [what for what, _ in ours]
    return out


# ----------------------------------------------------------------------------- figures


def _short(a: np.ndarray, decimals: int = 4) -> list:
    """Rounded nested list (for slider arguments): float32 values would be written with 17 digits."""
    return np.round(np.asarray(a, dtype=np.float64), decimals).tolist()


def _packed(a: np.ndarray) -> np.ndarray:
    """float32 array for trace data, which plotly writes as base64 (4 bytes a value)."""
    return np.asarray(a, dtype=np.float32)


def _zscore(mfcc: np.ndarray) -> np.ndarray:
    std = mfcc.std(axis=0)
    return (mfcc - mfcc.mean(axis=0)) / np.where(std > 0, std, 1)


def attention_figure(maps: list[AttentionMap], mfccs: list[np.ndarray], prosody: list[pd.DataFrame],
                     k: int, hop_s: float = 0.01, title: str = "", marks: Sequence[Any] | None = None) -> go.Figure:
    """MFCC, energy/pitch and attention (steps x tokens) on one time axis, for several utterances.

    A dropdown picks the utterance, a slider the head (or their mean). Everything is precomputed
    into the figure, so both controls work in the static book without a kernel. ``mfccs`` are
    the frames the model saw (after ``max_frames``), ``prosody`` their :func:`frame_prosody`.
    ``marks`` (cue corpus, :class:`sernb.attention_cues.CueMark` or None per map) mark the cue
    word's tokens with ``>>`` and shade the cue's time span, the ground truth to compare with.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.3, 0.2, 0.5],
                        specs=[[{}], [{"secondary_y": True}], [{}]],
                        subplot_titles=("MFCC (standardised per coefficient)", "energy and pitch",
                                        "attention: audio step (query) -> text token (key)"))
    att_traces, per_utt, heads = [], 4, maps[0].weights.shape[0]
    for i, (m, mf, pr) in enumerate(zip(maps, mfccs, prosody, strict=True)):
        show, pr = i == 0, pr.iloc[:len(mf)]
        steps = m.weights.shape[1]
        t_step = step_times(steps, k, hop_s)
        fig.add_trace(go.Heatmap(z=_packed(_zscore(mf).T), x=np.arange(len(mf)) * hop_s, colorscale="RdBu_r",
                                 zmid=0, showscale=False, visible=show, hoverinfo="skip"), row=1, col=1)
        frame_t = np.arange(len(pr)) * hop_s
        fig.add_trace(go.Scatter(x=frame_t, y=_packed(pr["energy_db"]), name="energy (dB)", visible=show,
                                 line={"color": "#444"}, showlegend=show), row=2, col=1)
        fig.add_trace(go.Scatter(x=frame_t, y=_packed(pr["f0_hz"]), name="pitch (Hz)", visible=show,
                                 mode="markers", marker={"size": 3, "color": "#d62728"}, showlegend=show),
                      row=2, col=1, secondary_y=True)
        text = np.tile(np.asarray(m.tokens, dtype=object)[:, None], (1, steps))
        fig.add_trace(go.Heatmap(z=_packed(m.mean.T), x=t_step, y=np.arange(len(m.tokens)), text=text,
                                 colorscale="Viridis", visible=show, colorbar={"title": "weight", "len": 0.45,
                                                                               "y": 0.22},
                                 hovertemplate="t=%{x:.2f}s token=%{text}<br>weight %{z:.3f}<extra></extra>"),
                      row=3, col=1)
        att_traces.append(len(fig.data) - 1)
    yaxis = "yaxis" + fig.data[att_traces[0]].yaxis[1:]
    marks = list(marks) if marks is not None else [None] * len(maps)

    def ticks(m: AttentionMap, mark: Any) -> dict[str, Any]:
        cue = set(mark.positions) if mark is not None else set()
        text = [f">> {t}" if i in cue else t for i, t in enumerate(m.tokens)]
        words = ", ".join(f"'{m.text.split()[i]}'" for i in mark.words) if mark is not None else ""
        note = f"; cue ({mark.kinds}) {words} marked >>, its span shaded" if mark is not None else ""
        return {f"{yaxis}.tickvals": list(range(len(m.tokens))), f"{yaxis}.ticktext": text,
                "title.text": f"{title}<br><sup>{m.utt_id}: {f'true {m.label}, ' if m.label else ''}"
                              f"predicted {m.pred}{note}</sup>", "shapes": _span_shapes(mark)}

    buttons = [{"label": f"{m.utt_id} ({m.label})", "method": "update",
                "args": [{"visible": [j // per_utt == i for j in range(per_utt * len(maps))]}, ticks(m, mark)]}
               for i, (m, mark) in enumerate(zip(maps, marks, strict=True))]
    choices = [("mean of heads", None)] + [(f"head {h + 1}", h) for h in range(heads)]
    slider = [{"label": name, "method": "restyle",
               "args": [{"z": [_short((m.mean if h is None else m.weights[h]).T) for m in maps]},
                        att_traces]} for name, h in choices]
    # Title at the very top, then one row with the utterance dropdown (left) and the legend
    # (right), then the plots: nothing overlaps the subplot titles.
    fig.update_layout(height=870, margin={"t": 150, "b": 160}, title={"y": 0.985, "yanchor": "top"},
                      legend={"orientation": "h", "y": 1.09, "yanchor": "bottom", "x": 1, "xanchor": "right"},
                      updatemenus=[{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.09, "yanchor": "bottom"}],
                      sliders=[{"steps": slider, "currentvalue": {"prefix": "showing: "}, "pad": {"t": 40}}],
                      **{yaxis: {"tickvals": list(range(len(maps[0].tokens))),
                                 "ticktext": ticks(maps[0], marks[0])[f"{yaxis}.ticktext"], "autorange": "reversed"}})
    fig.update_layout(title_text=ticks(maps[0], marks[0])["title.text"], shapes=_span_shapes(marks[0]))
    fig.update_xaxes(title_text="time (s)", row=3, col=1)
    fig.update_yaxes(title_text="coefficient", row=1, col=1)
    fig.update_yaxes(title_text="dB", row=2, col=1)
    fig.update_yaxes(title_text="Hz", row=2, col=1, secondary_y=True)
    return fig


def _span_shapes(mark: Any) -> list[dict[str, Any]]:
    """A shaded band over the cue's time span on every row of :func:`attention_figure` (none without a mark)."""
    if mark is None:
        return []
    return [{"type": "rect", "xref": "x", "yref": "paper", "x0": mark.start, "x1": mark.end, "y0": 0, "y1": 1,
             "fillcolor": "orange", "opacity": 0.15, "line": {"width": 0}, "layer": "above"}]


def entropy_figure(entropy: pd.DataFrame, title: str) -> go.Figure:
    """Heatmap of mean normalised entropy per head (rows) and class (columns)."""
    import plotly.express as px

    from sernb.viz import emotion_order

    grid = entropy.pivot_table(index="head", columns="label", values="entropy", aggfunc="mean")
    grid = grid[emotion_order(grid.columns)]
    fig = px.imshow(grid.round(3), text_auto=True, color_continuous_scale="Viridis", zmin=0, zmax=1,
                    labels={"x": "true class", "y": "head", "color": "entropy / log L"}, aspect="auto",
                    title=title)
    fig.update_layout(height=120 + 32 * len(grid))
    return fig


def utterance_figure(m: AttentionMap, max_frames: int | None, k: int, head: int | None = None,
                     title: str = "", mark: Any = None) -> go.Figure:
    """:func:`attention_figure` for one utterance, reading its audio; ``head`` None shows the mean;
    ``mark`` its cue (:class:`sernb.attention_cues.CueMark`), if any."""
    from sernb.data.audio import load_audio
    from sernb.data.features import MFCCConfig, mfcc

    config = MFCCConfig()
    audio = load_audio(m.wav_path, sr=config.sr)
    frames = mfcc(audio, config)[:max_frames]
    fig = attention_figure([m], [frames], [frame_prosody(audio, config.sr, config.hop_length, config.n_fft,
                                                         config.max_seconds)], k, config.hop_length / config.sr,
                           title, marks=[mark])
    if head is not None:
        fig.data[3].z = _packed(m.weights[head].T)
        fig.layout.sliders[0].active = head + 1
    return fig


def probability_figure(probs: dict[str, float], title: str) -> go.Figure:
    """Bar chart of class probabilities in the book's class order and colours."""
    import plotly.graph_objects as go

    from sernb.viz import EMOTION_COLORS, EMOTION_NAMES, emotion_order

    order = emotion_order(list(probs))
    fig = go.Figure(go.Bar(x=[EMOTION_NAMES.get(c, c) for c in order], y=[probs[c] for c in order],
                           marker_color=[EMOTION_COLORS.get(c, "#444") for c in order],
                           text=[f"{probs[c]:.0%}" for c in order], textposition="outside"))
    fig.update_layout(title=title, yaxis={"title": "probability", "range": [0, 1.1]}, height=360)
    return fig
