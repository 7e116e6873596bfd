"""ipywidgets explorers for JupyterLab: pick, listen, look (a running kernel is needed).

In the static book these outputs are replaced by a pointer to JupyterLab
(:func:`sernb.reproduce.static_notebook`); the figures that must also work there use plotly's own
dropdowns and sliders instead (:mod:`sernb.viz`).
"""

from __future__ import annotations

import pandas as pd

from sernb import viz

#: Option values for "no filter" and "mean of heads": ipywidgets 8 shows a value of None as an
#: empty selection, so None cannot stand for an option.
ALL, MEAN = "all", -1


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
    emotion = w.Dropdown(options=[("all", ALL)] + [(f"{viz.EMOTION_NAMES.get(e, e)} ({e})", e)
                                                    for e in viz.emotion_order(table["label"])],
                         description="emotion")
    speaker = w.Dropdown(options=[("all", ALL)] + [(s, s) for s in sorted(table["speaker"].unique())],
                         description="speaker")
    utterances = w.Select(rows=8, layout=w.Layout(width="100%"), description="utterance")
    out = w.Output()

    def refresh_list(_=None) -> None:
        rows = table
        if emotion.value != ALL:
            rows = rows[rows["label"] == emotion.value]
        if speaker.value != ALL:
            rows = rows[rows["speaker"] == speaker.value]
        rows = rows.head(max_listed)
        utterances.options = [(f"{r.utt_id}  [{r.label}]  {str(r.text)[:60]}", i)
                              for i, r in zip(rows.index, rows.itertuples(), strict=True)]
        _select_first(utterances)

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


def _select_first(choice) -> None:
    """Select the first option: ipywidgets 8 leaves a selection empty when its options change,
    and an explorer that opens on an empty figure looks broken."""
    if choice.options and choice.value is None:
        choice.value = choice.options[0][1]


def attention_explorer(maps: list, max_frames: int | None, k: int, corpus: str = "", marks: dict | None = None):
    """Pick a class, an utterance and a head; see its attention beside MFCC and prosody (chapter 7).

    ``maps`` are :class:`sernb.attention.AttentionMap` of the test set; ``k`` is the model's
    frame pooling; ``marks`` (cue corpus) map an utterance id to its cue word and span, which the
    figure marks. Figures are computed on demand, so all test utterances can be browsed.
    """
    import ipywidgets as w
    from IPython.display import Markdown, display

    from sernb.attention import utterance_figure

    labels = viz.emotion_order([m.label for m in maps])
    emotion = w.Dropdown(options=[("all", ALL)] + [(viz.EMOTION_NAMES.get(e, e), e) for e in labels],
                         description="class")
    utterance = w.Dropdown(description="utterance", layout=w.Layout(width="60%"))
    head = w.Dropdown(options=[("mean of heads", MEAN)]
                      + [(f"head {h + 1}", h) for h in range(maps[0].weights.shape[0])], description="head")
    out = w.Output()

    def refresh(_=None) -> None:
        utterance.options = [(f"{m.utt_id} [{m.label} -> {m.pred}] {m.text[:50]}", i)
                             for i, m in enumerate(maps) if emotion.value in (ALL, m.label)]
        _select_first(utterance)

    def show(_=None) -> None:
        if utterance.value is None:
            return
        m = maps[utterance.value]
        out.clear_output(wait=True)
        with out:
            display(Markdown(f"**{m.utt_id}**: true {m.label}, predicted {m.pred}: *{m.text}*"))
            display(viz.audio_player(m.wav_path, max_seconds=10))
            head_index = None if head.value == MEAN else head.value
            display(utterance_figure(m, max_frames, k, head_index, title=f"Attention, {corpus}",
                                     mark=(marks or {}).get(m.utt_id)))

    emotion.observe(refresh, names="value")
    utterance.observe(show, names="value")
    head.observe(show, names="value")
    refresh()
    return w.VBox([w.HBox([emotion, head]), utterance, out])


def try_it(model, info: dict, k: int, corpus: str = "", asr: bool = True):
    """Upload a recording, check (or type) its transcript, press the button: probabilities and
    attention (chapter 9).

    With ``asr`` (the default), an upload is transcribed at once by the offline speech recogniser
    (:mod:`sernb.asr`) and its words land in the editable transcript box with their confidence:
    correct them if the recogniser misheard, then press *Predict*, which reads whatever the box holds.
    """
    import tempfile
    from pathlib import Path

    import ipywidgets as w
    from IPython.display import display

    from sernb.attention import AttentionMap, probability_figure, utterance_figure
    from sernb.errors import SernbError
    from sernb.predict import TranscriptNeeded, predict_clip

    upload = w.FileUpload(accept=".wav,.flac,.ogg,.mp3,.m4a,audio/*", multiple=False, description="recording")
    text = w.Textarea(placeholder="what is said in the recording" + (" (filled in by the speech recogniser "
                      "when you upload; edit it if it misheard)" if asr else ""),
                      description="transcript", layout=w.Layout(width="70%", height="4em"))
    status = w.HTML()
    button = w.Button(description="Predict", button_style="primary")
    out = w.Output()
    saved: dict[str, Path] = {}

    def recording() -> Path | None:
        """The uploaded file, written once to a temporary folder."""
        if not upload.value:
            return None
        item = upload.value[0]
        key = f"{item['name']}:{item.get('size')}:{item.get('last_modified')}"
        if key not in saved:
            folder = Path(tempfile.mkdtemp(prefix="sernb-upload-"))
            path = folder / Path(item["name"]).name
            path.write_bytes(bytes(item["content"]))
            saved[key] = path
        return saved[key]

    def transcribe(_=None) -> None:
        wav = recording()
        if wav is None or not asr:
            return
        from sernb.predict import recognise

        status.value = "<i>transcribing...</i>"
        try:
            tr = recognise(wav)
        except SernbError as err:  # no recogniser, or an unusable recording: say so, let them type
            status.value = f"speech recogniser: {_escape(str(err))}; type the transcript instead"
            return
        except Exception as err:  # shown to the user, not raised into the widget
            status.value = f"speech recogniser failed ({type(err).__name__}: {_escape(str(err))}); type the transcript"
            return
        text.value = tr.text
        flags = "".join(f"<br>warning: {_escape(x)}" for x in tr.warnings)
        status.value = (f"recognised by Whisper tiny.en, confidence {tr.confidence:.2f} (no-speech probability "
                        f"{tr.no_speech_prob:.2f}); correct the words if needed, then press Predict{flags}")

    def run(_=None) -> None:
        out.clear_output(wait=True)
        with out:
            wav = recording()
            if wav is None:
                print("choose a recording first")
                return
            try:
                pred = predict_clip(model, info, wav, text.value if text.value.strip() else None)
            except TranscriptNeeded:
                print("this model reads the words too: type the transcript and press Predict again")
                return
            except SernbError as err:  # an unusable recording: what is wrong with it, in one line
                print(f"error: {err}")
                return
            except Exception as err:  # shown to the user, not raised into the widget
                print(f"{type(err).__name__}: {err}")
                return
            for note in pred.notes:
                print("note:", note)
            for warning in pred.warnings:
                print("warning:", warning)
            display(probability_figure(pred.probs, f"{wav.name}: predicted {pred.label} ({corpus} model)"))
            if pred.attention is not None:
                m = AttentionMap(wav.name, "", pred.label, text.value, pred.tokens, pred.attention, str(wav))
                display(utterance_figure(m, info.get("max_frames"), k, title=f"Attention for {wav.name}"))

    upload.observe(transcribe, names="value")
    button.on_click(run)
    return w.VBox([upload, text, status, button, out])


def _escape(text: str) -> str:
    import html

    return html.escape(text)
