"""ipywidgets explorers for JupyterLab: pick, listen, look (a running kernel is needed).

In the static book these outputs are replaced by a pointer to JupyterLab
(:func:`sernb.reproduce.static_notebook`); the figures that must also work there use plotly's own
dropdowns and sliders instead (:mod:`sernb.viz`).
"""

from __future__ import annotations

import pandas as pd

from sernb import viz


def utterance_explorer(table: pd.DataFrame, n_mfcc: int = 40, max_listed: int = 300):
    """Browse the corpus by emotion and speaker; hear an utterance and see its MFCC (chapter 1).

    Returns a ``VBox``: two dropdowns filter the list of utterances; choosing one shows its
    transcript, an audio player and :func:`sernb.viz.signal_figure` for it. ``max_listed`` keeps
    the list short on the full corpus (the first utterances of the filter, in table order).
    """
    import ipywidgets as w
    from IPython.display import Markdown, display

    from sernb.data.audio import load_audio
    from sernb.data.features import MFCCConfig, mfcc

    config = MFCCConfig(n_mfcc=n_mfcc)
    emotion = w.Dropdown(options=[("all", None)] + [(f"{viz.EMOTION_NAMES.get(e, e)} ({e})", e)
                                                    for e in viz.emotion_order(table["label"])],
                         description="emotion")
    speaker = w.Dropdown(options=[("all", None)] + [(s, s) for s in sorted(table["speaker"].unique())],
                         description="speaker")
    utterances = w.Select(rows=8, layout=w.Layout(width="100%"), description="utterance")
    out = w.Output()

    def refresh_list(_=None) -> None:
        rows = table
        if emotion.value is not None:
            rows = rows[rows["label"] == emotion.value]
        if speaker.value is not None:
            rows = rows[rows["speaker"] == speaker.value]
        rows = rows.head(max_listed)
        utterances.options = [(f"{r.utt_id}  [{r.label}]  {str(r.text)[:60]}", i)
                              for i, r in zip(rows.index, rows.itertuples(), strict=True)]

    def show(change) -> None:
        if change["new"] is None:
            return
        row = table.loc[change["new"]]
        out.clear_output(wait=True)
        with out:
            audio = load_audio(row["wav_path"], sr=config.sr)
            display(Markdown(f"**{row['utt_id']}** ({viz.EMOTION_NAMES.get(row['label'], row['label'])}, "
                             f"speaker {row['speaker']}, {'scripted' if row['scripted'] else 'improvised'}): "
                             f"*{row['text']}*"))
            display(viz.audio_player(row["wav_path"], sr=config.sr, max_seconds=10))
            title = f"{row['utt_id']} ({viz.corpus_name(table)})"
            display(viz.signal_figure(audio, config.sr, mfcc(audio, config), config.hop_length, title))

    emotion.observe(refresh_list, names="value")
    speaker.observe(refresh_list, names="value")
    utterances.observe(show, names="value")
    refresh_list()
    return w.VBox([w.HBox([emotion, speaker]), utterances, out])
