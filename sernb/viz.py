"""Figures for the book: plotly for interactive charts, seaborn for static ones.

Every chapter starts with :func:`setup_notebook`, which selects a plotly renderer that works in
JupyterLab *and* in the static book built offline. The figure functions below are grouped by
the chapter that introduced them; each returns a figure (plotly ``go.Figure`` or matplotlib
``Figure``) so that a chapter can show it, tweak it or save it.

Conventions shared by all figures:

* emotions always appear in the order and colours of :data:`EMOTION_ORDER` / :data:`EMOTION_COLORS`,
  so the same colour means the same class in every chapter;
* every figure built from a corpus names that corpus in its title, and says "SYNTHETIC" when the
  corpus is the generated one (see :func:`corpus_title`): its numbers are not IEMOCAP numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # imported lazily at run time: plotly/matplotlib are slow to import
    import matplotlib.figure
    import plotly.graph_objects as go

#: Class order used in every figure (the paper's six IEMOCAP classes, then anything else).
EMOTION_ORDER: tuple[str, ...] = ("ang", "fru", "neu", "sad", "exc", "hap")
#: Readable names for the short IEMOCAP labels.
EMOTION_NAMES: dict[str, str] = {
    "ang": "anger", "fru": "frustration", "neu": "neutral", "sad": "sadness",
    "exc": "excitement", "hap": "happiness", "sur": "surprise", "fea": "fear",
    "dis": "disgust", "oth": "other", "xxx": "no agreement",
}
#: One colour per emotion (tab10 hues), the same in every chapter.
EMOTION_COLORS: dict[str, str] = {
    "ang": "#d62728", "fru": "#ff7f0e", "neu": "#7f7f7f", "sad": "#1f77b4",
    "exc": "#2ca02c", "hap": "#e6c229", "sur": "#9467bd", "fea": "#8c564b",
    "dis": "#17becf", "oth": "#bcbd22", "xxx": "#c7c7c7",
}

#: Name of the plotly renderer registered by :func:`setup_notebook`.
OFFLINE_RENDERER = "notebook_offline"
_CDN_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>')


# --------------------------------------------------------------------------- every chapter


def setup_notebook(static_theme: str = "whitegrid") -> None:
    """Prepare figures for a chapter; every chapter calls this once, near the top.

    * plotly: the ``plotly_mimetype`` part renders in JupyterLab (jupyterlab-plotly); the
      ``notebook_offline`` part writes HTML with plotly.js inlined once per notebook, which is
      what the static book shows. Plotly's stock ``notebook`` renderer also adds a MathJax
      ``<script src>`` from a CDN to every figure; ours drops it, so the built pages load nothing
      from the network (figures with LaTeX labels are not used in this book).
    * seaborn/matplotlib: a clean theme and crisp inline PNGs for the static figures.
    """
    import matplotlib_inline.backend_inline
    import plotly.io as pio
    import seaborn as sns

    if OFFLINE_RENDERER not in pio.renderers:
        pio.renderers[OFFLINE_RENDERER] = _offline_notebook_renderer()
    pio.renderers.default = f"plotly_mimetype+{OFFLINE_RENDERER}"
    pio.templates.default = "plotly_white"
    sns.set_theme(style=static_theme, context="notebook")
    try:
        matplotlib_inline.backend_inline.set_matplotlib_formats("png")
    except Exception:  # outside IPython (tests calling this from plain Python)
        pass
    pd.set_option("display.max_colwidth", 80)


def _offline_notebook_renderer():
    """Plotly's ``notebook`` renderer minus its CDN MathJax ``<script>`` (see :func:`setup_notebook`)."""
    from plotly.io.base_renderers import MimetypeRenderer, NotebookRenderer

    class OfflineNotebookRenderer(MimetypeRenderer):
        """Wraps (does not subclass) plotly's public ``NotebookRenderer``: the same HTML, CDN scripts removed."""

        def __init__(self) -> None:
            self.notebook = NotebookRenderer()

        def activate(self) -> None:
            self.notebook.activate()  # puts plotly.js into the notebook once, inline

        def to_mimebundle(self, fig_dict):
            bundle = self.notebook.to_mimebundle(fig_dict)
            bundle["text/html"] = _CDN_SCRIPT.sub("", bundle["text/html"])
            return bundle

    return OfflineNotebookRenderer()


def corpus_name(table: pd.DataFrame) -> str:
    """``"SYNTHETIC corpus"`` or the corpus's name, for titles and prose (every chapter)."""
    corpora = sorted(set(table["corpus"])) if len(table) else [table.attrs.get("corpus", "?")]
    if corpora == ["synthetic"]:
        return "SYNTHETIC corpus (IEMOCAP layout)"
    return " + ".join(c.upper() if c == "iemocap" else c for c in corpora)


def corpus_title(title: str, table: pd.DataFrame) -> str:
    """A figure title that always says which corpus the numbers come from."""
    return f"{title}<br><sup>{corpus_name(table)}, {len(table):,} utterances</sup>"


def emotion_order(labels: Sequence[str] | pd.Series) -> list[str]:
    """The labels present, in the book's class order (unknown labels last, alphabetically)."""
    present = set(labels)
    ordered = [e for e in EMOTION_ORDER if e in present]
    return ordered + sorted(present - set(ordered))


def _colors(labels: Sequence[str]) -> dict[str, str]:
    return {lab: EMOTION_COLORS.get(lab, "#444444") for lab in labels}


# --------------------------------------------------------------------------- chapter 1: data


def utterance_durations(table: pd.DataFrame) -> pd.Series:
    """Seconds per utterance from the table's ``start``/``end``, reading the wav header where unknown.

    Chapter 1 plots them. Reading headers (``soundfile.info``) is cheap; no audio is decoded.
    """
    durations = (table["end"] - table["start"]).astype(float)
    missing = durations.isna() | (durations <= 0)
    if missing.any():
        import soundfile as sf

        durations[missing] = [sf.info(p).duration for p in table.loc[missing, "wav_path"]]
    return durations.rename("duration_s")


def word_counts(table: pd.DataFrame) -> pd.Series:
    """Words per transcript, ignoring IEMOCAP event tokens such as ``[LAUGHTER]`` (chapter 1)."""
    cleaned = table["text"].fillna("").str.replace(r"\[[A-Z_]+\]", " ", regex=True)
    return cleaned.str.split().str.len().rename("words")


def class_counts_figure(table: pd.DataFrame, by: str = "scripted") -> go.Figure:
    """Stacked bars: utterances per emotion, split by ``by`` (chapter 1, "the corpus at a glance").

    ``by="scripted"`` shows how much of each class was read from a script rather than
    improvised, which matters later: scripted sentences repeat across sessions.
    """
    import plotly.express as px

    frame = table.assign(
        emotion=table["label"],
        part=table[by].map({True: "scripted", False: "improvised"}) if by == "scripted" else table[by],
    )
    counts = frame.groupby(["emotion", "part"], observed=True).size().reset_index(name="utterances")
    fig = px.bar(
        counts, x="emotion", y="utterances", color="part", text="utterances",
        category_orders={"emotion": emotion_order(table["label"])},
        labels={"part": by, "emotion": "emotion"},
        title=corpus_title(f"Utterances per emotion, by {by}", table),
    )
    fig.update_layout(barmode="stack", height=420, legend_title_text=by)
    return fig


def speaker_heatmap(table: pd.DataFrame) -> matplotlib.figure.Figure:
    """Static seaborn heatmap: utterances per speaker (rows) and emotion (columns) (chapter 1).

    Ten speakers in five sessions: the table shows at once whether every speaker has every
    class, which leave-one-session-out evaluation depends on.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    counts = pd.crosstab(table["speaker"], table["label"])[emotion_order(table["label"])]
    fig, ax = plt.subplots(figsize=(1.1 * counts.shape[1] + 2.5, 0.42 * counts.shape[0] + 1.6))
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, linewidths=0.5, ax=ax)
    ax.set_title(f"Utterances per speaker and emotion ({corpus_name(table)})", fontsize=11)
    ax.set_xlabel("emotion")
    ax.set_ylabel("speaker")
    fig.tight_layout()
    plt.close(fig)  # returned, shown once by the notebook
    return fig


def distribution_figure(values: pd.Series, table: pd.DataFrame, quantity: str) -> go.Figure:
    """Box plots of a per-utterance quantity (duration, word count) per emotion (chapter 1).

    ``values`` is aligned with ``table`` row by row; ``quantity`` names it on the axis.
    """
    import plotly.express as px

    frame = pd.DataFrame({"emotion": table["label"].to_numpy(), quantity: values.to_numpy(),
                          "utt_id": table["utt_id"].to_numpy()})
    order = emotion_order(table["label"])
    fig = px.box(
        frame, x="emotion", y=quantity, color="emotion", points="outliers", hover_data=["utt_id"],
        category_orders={"emotion": order}, color_discrete_map=_colors(order),
        title=corpus_title(f"{quantity.split(' (')[0].capitalize()} per utterance, by emotion", table),
    )
    fig.update_layout(showlegend=False, height=400)
    return fig


def audio_player(path: str | Path, sr: int = 16000, max_seconds: float = 4.0):
    """An ``IPython.display.Audio`` of the first ``max_seconds`` at ``sr`` (chapter 1).

    The clip is embedded in the notebook (and so in the built page) as a 16-bit WAV; resampling
    to 16 kHz and cutting to a few seconds keeps each player to about 100 kB.
    """
    from IPython.display import Audio

    from sernb.data.audio import load_audio

    audio = np.asarray(load_audio(path, sr=sr), dtype=np.float32)[: int(max_seconds * sr)]
    return Audio(data=audio, rate=sr, normalize=True)


def one_per_emotion(table: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One random utterance per emotion, in the book's class order (chapter 1, "Listening")."""
    rows = table.groupby("label", sort=False).sample(1, random_state=seed)
    return rows.set_index("label", drop=False).loc[emotion_order(table["label"])]


def show_examples(rows: pd.DataFrame, max_seconds: float = 4.0) -> None:
    """Display a caption (emotion, id, speaker, transcript) and a player for each row (chapter 1)."""
    from IPython.display import Markdown, display

    for _, row in rows.iterrows():
        name = EMOTION_NAMES.get(row["label"], row["label"])
        display(Markdown(f"**{name}** · {row['utt_id']} · speaker {row['speaker']} · *{row['text']}*"))
        display(audio_player(row["wav_path"], max_seconds=max_seconds))


def _envelope(audio: np.ndarray, sr: int, points: int = 1500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max per bin: draws a waveform faithfully with ``points`` x-values instead of every sample."""
    bins = max(1, int(np.ceil(len(audio) / points)))
    pad = (-len(audio)) % bins
    frames = np.pad(audio, (0, pad)).reshape(-1, bins)
    t = (np.arange(len(frames)) * bins + bins / 2) / sr
    return t, frames.min(axis=1), frames.max(axis=1)


def signal_figure(audio: np.ndarray, sr: int, mfcc: np.ndarray, hop_length: int,
                  title: str, n_mels: int = 64) -> go.Figure:
    """Waveform, log-mel spectrogram and MFCC of one utterance on a shared time axis (chapter 1).

    ``mfcc`` is the (frames, coefficients) matrix the audio branch receives; the spectrogram is
    computed here only to show what the MFCC summarise. The MFCC panel shows each coefficient
    standardised over time: coefficient 0 (overall log energy) is an order of magnitude larger
    than the others and would otherwise wash out the colour scale.
    """
    import librosa
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    audio = np.asarray(audio, dtype=np.float32)
    t, lo, hi = _envelope(audio, sr)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_mels=n_mels, hop_length=hop_length)
    mel_db = librosa.power_to_db(mel, ref=np.max).astype(np.float32)
    frame_t = np.arange(mel_db.shape[1]) * hop_length / sr
    mfcc_t = np.arange(mfcc.shape[0]) * hop_length / sr
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.25, 0.4, 0.35],
                        subplot_titles=("waveform", f"log-mel spectrogram ({n_mels} bands)",
                                        f"MFCC ({mfcc.shape[1]} coefficients, each standardised "
                                        "over time): the audio branch's input"))
    fig.add_trace(go.Scatter(x=np.r_[t, t[::-1]], y=np.r_[hi, lo[::-1]], fill="toself",
                             line={"width": 0.5, "color": "#1f77b4"}, hoverinfo="skip",
                             name="waveform"), row=1, col=1)
    fig.add_trace(go.Heatmap(x=frame_t, z=mel_db, colorscale="Magma", showscale=False,
                             hovertemplate="t=%{x:.2f}s band=%{y} %{z:.0f} dB<extra></extra>"), row=2, col=1)
    coeffs = np.asarray(mfcc, dtype=np.float32)
    z = (coeffs - coeffs.mean(axis=0)) / np.where(coeffs.std(axis=0) > 0, coeffs.std(axis=0), 1)
    fig.add_trace(go.Heatmap(x=mfcc_t, z=z.T, customdata=coeffs.T, colorscale="RdBu_r", zmid=0,
                             showscale=False,
                             hovertemplate="t=%{x:.2f}s c%{y}=%{customdata:.1f}<extra></extra>"), row=3, col=1)
    fig.update_xaxes(title_text="time (s)", row=3, col=1)
    fig.update_yaxes(title_text="amplitude", row=1, col=1)
    fig.update_yaxes(title_text="mel band", row=2, col=1)
    fig.update_yaxes(title_text="coefficient", row=3, col=1)
    fig.update_layout(title=title, height=640, showlegend=False, margin={"t": 90})
    return fig


def mean_mfcc_heatmap(features: Sequence[np.ndarray], table: pd.DataFrame) -> matplotlib.figure.Figure:
    """Static heatmap of the average MFCC vector per emotion, z-scored per coefficient (chapter 1).

    This is exactly the "static statistic" the paper's baseline uses (mean pooling over time):
    if the rows differ, even mean pooling carries class information. ``features`` is aligned
    with ``table`` row by row.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    labels = table["label"].to_numpy()
    title = f"Mean MFCC per emotion, z-scored per coefficient ({corpus_name(table)})"
    means = np.stack([np.asarray(f).mean(axis=0) for f in features])
    frame = pd.DataFrame(means).assign(emotion=labels).groupby("emotion").mean()
    frame = frame.loc[emotion_order(frame.index)]
    z = (frame - frame.mean()) / frame.std(ddof=0).replace(0, 1)
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(z) + 1.6))
    sns.heatmap(z, cmap="RdBu_r", center=0, cbar_kws={"label": "z-score across emotions"}, ax=ax)
    ax.set_xlabel("MFCC coefficient")
    ax.set_ylabel("emotion")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def split_counts(table: pd.DataFrame, folds: Sequence[Any]) -> pd.DataFrame:
    """Long table of utterances per fold, part (train/val/test) and emotion (chapter 1).

    ``folds`` are :class:`sernb.data.splits.Fold` objects (``.name`` and ``.train/.val/.test``
    row positions).
    """
    rows = []
    for fold in folds:
        for part in ("train", "val", "test"):
            idx = np.asarray(getattr(fold, part))
            labels = table["label"].to_numpy()[idx] if len(idx) else np.array([], dtype=object)
            for emotion, n in pd.Series(labels).value_counts().items():
                rows.append({"fold": fold.name, "part": part, "emotion": emotion, "utterances": int(n)})
    return pd.DataFrame(rows, columns=["fold", "part", "emotion", "utterances"])


def split_figure(table: pd.DataFrame, folds: Sequence[Any], protocol: str) -> go.Figure:
    """Class counts of train/val/test for each fold, one fold at a time via a dropdown (chapter 1).

    The dropdown is plotly's own, so it also works in the static book, where there is no kernel.
    """
    import plotly.graph_objects as go

    counts = split_counts(table, folds)
    order = emotion_order(table["label"])
    colors = _colors(order)
    fig = go.Figure()
    names = [f.name for f in folds]
    for i, name in enumerate(names):
        sub = counts[counts["fold"] == name]
        for emotion in order:
            rows = sub[sub["emotion"] == emotion].set_index("part")["utterances"]
            fig.add_trace(go.Bar(
                x=["train", "val", "test"], y=[int(rows.get(p, 0)) for p in ("train", "val", "test")],
                name=EMOTION_NAMES.get(emotion, emotion), marker_color=colors[emotion],
                legendgroup=emotion, showlegend=(i == 0), visible=(i == 0),
            ))
    per_fold = len(order)
    buttons = [
        {"label": name, "method": "update",
         "args": [{"visible": [j // per_fold == i for j in range(per_fold * len(names))]},
                  {"title.text": corpus_title(f"{protocol}: class counts, fold {name}", table)}]}
        for i, name in enumerate(names)
    ]
    fig.update_layout(
        barmode="stack", height=430, yaxis_title="utterances",
        title=corpus_title(f"{protocol}: class counts, fold {names[0]}", table),
        updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.18, "yanchor": "top"}]
        if len(names) > 1 else [],
    )
    return fig


def leakage_table(table: pd.DataFrame, folds: Sequence[Any]) -> pd.DataFrame:
    """Per fold: how much of the test set shares a speaker or an exact sentence with training.

    Chapter 1 uses it to show why a random split flatters a model: on IEMOCAP the same actors and
    the same scripted sentences end up on both sides. "Training" here means train + val (both
    are seen while fitting); sentences are compared ignoring case and punctuation, and the
    sentence overlap is given separately for scripted and improvised test utterances.
    """
    text = table["text"].fillna("").str.lower().str.replace(r"[^\w\s]", "", regex=True).str.strip()
    text = text.to_numpy()
    speakers = table["speaker"].to_numpy()
    scripted = table["scripted"].to_numpy(dtype=bool)
    rows = []
    for fold in folds:
        seen = np.concatenate([np.asarray(fold.train), np.asarray(fold.val)]).astype(int)
        test = np.asarray(fold.test).astype(int)
        seen_speaker = np.isin(speakers[test], list(set(speakers[seen])))
        seen_text = np.isin(text[test], list(set(text[seen])))
        rows.append({
            "fold": fold.name,
            "train+val": len(seen),
            "test": len(test),
            "speakers seen": f"{len(set(speakers[test]) & set(speakers[seen]))}/{len(set(speakers[test]))}",
            "by a seen speaker": _share(seen_speaker),
            "sentence seen": _share(seen_text),
            "sentence seen (scripted)": _share(seen_text[scripted[test]]),
            "sentence seen (improvised)": _share(seen_text[~scripted[test]]),
        })
    return pd.DataFrame(rows).set_index("fold")


def _share(mask: np.ndarray) -> str:
    return f"{mask.mean():.0%}" if len(mask) else "–"


# --------------------------------------------------------------------------- chapter 2: the code


class SourceCode:
    """The source of one or more functions, classes or methods, as a highlighted code block.

    A notebook shows it as Markdown (a fenced ``python`` block, syntax-highlighted in JupyterLab
    and in the built book) headed by the file and lines it came from; ``print`` gives plain text.
    The code is read with :func:`inspect.getsource` at run time, so the page always shows the
    code the chapter actually ran, never a copy that could drift from it.
    """

    def __init__(self, *objects: Any) -> None:
        import inspect
        import textwrap

        if not objects:
            raise ValueError("show_source needs at least one function, class or method")
        self.parts: list[tuple[str, str]] = []
        for obj in objects:
            target = inspect.unwrap(obj)
            lines, start = inspect.getsourcelines(target)
            path = Path(inspect.getsourcefile(target) or "?")
            parts = path.parts
            where = "/".join(parts[parts.index("sernb"):]) if "sernb" in parts else path.name
            name = getattr(target, "__qualname__", getattr(target, "__name__", "?"))
            label = f"{name} ({where}, lines {start}-{start + len(lines) - 1})"
            self.parts.append((label, textwrap.dedent("".join(lines)).rstrip()))

    @property
    def code(self) -> str:
        """The source text, parts separated by a blank line."""
        return "\n\n".join(code for _, code in self.parts)

    def _repr_markdown_(self) -> str:
        fence = "`" * max(3, 1 + max(len(run) for run in re.findall(r"`+", self.code) or [""]))
        where = "; ".join(f"`{label}`" for label, _ in self.parts)
        return f"{where}\n\n{fence}python\n{self.code}\n{fence}\n"

    def __repr__(self) -> str:
        return "\n\n".join(f"# {label}\n{code}" for label, code in self.parts)


def show_source(*objects: Any) -> SourceCode:
    """Show the source code of ``objects`` where a chapter explains them, as d2l does.

    ``show_source(BiLSTMAudio)`` shows a whole class; ``show_source(TextEncoder.__init__,
    TextEncoder.forward)`` only the methods that matter, in that order. Used in chapter 2
    ("Training the paper's model") to put each part of the model next to the paper's equation.
    """
    return SourceCode(*objects)
