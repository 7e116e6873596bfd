"""Predict the emotion of a recording the user brings (``sernb predict``; chapter "Try it yourself").

Any sample rate, mono or stereo: the clip is averaged to mono and resampled to the model's rate,
then turned into MFCC frames exactly as in training (the settings are read from the checkpoint).
Models that read text need the transcript; an audio-only model does not. Without one,
``asr=True`` (what ``sernb predict`` does when no ``--text`` is given) takes it from the offline
speech recogniser (:mod:`sernb.asr`, Whisper tiny.en) and keeps it on the prediction.

Bad input never gets a quiet answer: unreadable, non-finite, empty, too short (under
:data:`sernb.data.audio.MIN_SECONDS`) or silent recordings are refused with an
:class:`~sernb.data.audio.AudioError` naming the file; short, very quiet or clipped ones are
answered with a ``warnings`` entry. Only the seconds the model reads are decoded (a 2-hour
file costs a few seconds), and the notes say so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sernb.errors import DataError, UserInputError
from sernb.utils import PROJECT_ROOT, decode_text

if TYPE_CHECKING:
    from torch import nn

#: Where ``sernb train`` puts the model of its first run unless ``--out`` says otherwise.
DEFAULT_CHECKPOINT = PROJECT_ROOT / "runs" / "train" / "model"


class TranscriptNeeded(UserInputError):
    """The model reads text but no transcript was given."""

    def __init__(self, problem: str):
        super().__init__(None, problem)


@dataclass
class Prediction:
    """Class probabilities for one recording and the top class."""

    label: str
    probs: dict[str, float]
    system: str
    modalities: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    #: Problems with the input that make the answer less trustworthy (short, quiet, clipped...).
    warnings: list[str] = field(default_factory=list)
    #: Cross-modal attention (heads, audio steps, tokens) and the token strings, when the model has them.
    attention: np.ndarray | None = None
    tokens: list[str] = field(default_factory=list)
    #: The speech recogniser's transcript (:class:`sernb.asr.Transcript`) when the text came from it.
    transcript: Any = None

    def to_dict(self) -> dict[str, object]:
        out = {"label": self.label, "probs": self.probs, "system": self.system,
               "modalities": list(self.modalities), "notes": self.notes,
               "warnings": self.warnings}
        if self.transcript is not None:
            out["transcript"] = self.transcript.to_dict()
        return out


def predict_file(wav: str | os.PathLike, text: str | None = None,
                 checkpoint: str | os.PathLike = DEFAULT_CHECKPOINT, device: str = "cpu",
                 asr: bool = False, asr_model: str | os.PathLike | None = None) -> Prediction:
    """Class probabilities for ``wav`` (and its transcript ``text``) from a saved model.

    Raises :class:`sernb.data.audio.AudioError` for unreadable audio and :class:`TranscriptNeeded`
    when the model reads text and ``text`` is missing (and ``asr`` is off, or the recogniser heard
    no words). ``asr=True`` transcribes ``wav`` when ``text`` is None (``asr_model``: a CTranslate2
    Whisper folder; default the packaged tiny.en).
    """
    from sernb.models.checkpoint import load_model
    from sernb.utils import pick_device

    device = str(pick_device(device))  # a device that does not exist: a clear error, not torch's
    model, info = load_model(checkpoint, device=device)
    return predict_clip(model, info, wav, text, device=device, source=str(checkpoint), asr=asr,
                        asr_model=asr_model)


def predict_clip(model: nn.Module, info: dict[str, Any], wav: str | os.PathLike, text: str | None = None, device: str = "cpu",
                 source: str = "memory", asr: bool = False,
                 asr_model: str | os.PathLike | None = None) -> Prediction:
    """:func:`predict_file` for a model already loaded (``load_model``); also keeps its attention map.

    A notebook that predicts many clips loads the model once and calls this; ``source`` names the
    model in error messages.
    """
    from sernb.data.audio import AudioError, audio_problems, read_clip
    from sernb.data.dataset import SERDataset
    from sernb.data.features import MFCCConfig, mfcc
    from sernb.train import predict

    reads_text = any(name in model.inputs for name in ("tokens", "text_states"))
    whisper_fields = [name for name in model.inputs if name in ("whisper_frames", "whisper_pooled")]
    reads_audio = "mfcc" in model.inputs or bool(whisper_fields)
    notes: list[str] = []
    warnings: list[str] = []
    transcript = None
    if text is not None:
        text = _clean_text(text, notes)
    elif reads_text and asr:
        transcript = recognise(wav, device=device, model_dir=asr_model)
        if transcript.empty:
            raise TranscriptNeeded(
                f"the speech recogniser heard no words in {wav} ({'; '.join(transcript.warnings)}), and the "
                f"model in {source} ({info['system']}) reads the transcript as well as the audio: pass it "
                "with --text \"...\"")
        text = transcript.text
        warnings += [f"transcript: {w}" for w in transcript.warnings]
    if reads_text and not (text and text.strip()):
        raise TranscriptNeeded(
            f"the model in {source} ({info['system']}) reads the transcript as well as the audio: "
            "pass it with --text \"...\", or let the offline speech recogniser write it (asr=True; "
            "`sernb predict` does so without --text). To predict from audio alone, train an audio-only "
            "model (sernb train --system audio_only --out DIR) and pass --checkpoint DIR/model.")
    if text and not reads_text:
        notes.append("this model is audio-only; the transcript was ignored")
    if info.get("text_encoder", {}).get("untrained"):
        notes.append("the text encoder had UNTRAINED random weights (a test model); do not trust this")
    inputs: dict[str, list[np.ndarray]] = {}
    if reads_audio:
        config = MFCCConfig(**info.get("mfcc", {}))
        needed = seconds_needed(config, info.get("max_frames"))
        clip = read_clip(wav, sr=config.sr, max_seconds=needed)
        refuse, warn = audio_problems(clip.audio, clip.sr, clip.native_sr)
        if refuse:
            raise AudioError(wav, "; ".join(refuse) + "; no emotion can be read from it")
        warnings += warn
        if clip.truncated:
            whole = f"{clip.total_seconds:,.1f} s" if clip.total_seconds else "a longer recording"
            notes.append(f"read only the first {clip.seconds:.2f} s of {whole}: the model uses at most "
                         f"{needed:.2f} s of audio")
        if "mfcc" in model.inputs:
            inputs["mfcc"] = [mfcc(clip.audio, config)]
            from sernb.models.inputs import reads_speaker_normalised, speaker_normalised

            if reads_speaker_normalised(model):
                inputs["mfcc"] = speaker_normalised(inputs["mfcc"], ["this recording"])
                notes.append("the model was trained on speaker-normalised MFCCs; one recording stands in "
                             "for its speaker here, so its loudness and pitch level are lost")
        if whisper_fields:  # the frozen Whisper encoder's states (sernb.models.whisper), 16 kHz audio
            from sernb.models.inputs import INPUT_PROVIDERS

            audio16 = clip.audio if config.sr == 16000 else read_clip(wav, sr=16000, max_seconds=needed).audio
            context = {"device": device, "max_frames": info.get("max_frames"), "audio_arrays": [audio16]}
            for name in whisper_fields:
                inputs[name] = INPUT_PROVIDERS[name](model, None, context)
    elif not Path(wav).exists():
        notes.append(f"{wav} was not read: this model is text-only")
    if reads_text:
        inputs["tokens"] = model.text.tokenize([text])  # a frozen encoder runs on the fly here
        turns = (info.get("experiment") or {}).get("text_context") or 0
        if turns:
            notes.append(f"the model was trained reading each utterance after its previous {turns} turn(s) of dialog; "
                         "a lone recording has none, so it is read like a dialog's first turn")
        if len(inputs["tokens"][0]) >= model.text.max_tokens:
            notes.append(f"the transcript was cut to its first {model.text.max_tokens} tokens (the model's limit)")
    out = predict(model, SERDataset(inputs, max_frames=info.get("max_frames")), device=device,
                  keep_attention=[0])
    labels = info["labels"]
    if not np.isfinite(out.probs).all():
        raise DataError(source, "the model gave non-finite probabilities for this input; it cannot be trusted")
    probs = {name: float(p) for name, p in zip(labels, out.probs[0], strict=True)}
    modalities = tuple(m for m, used in (("audio", reads_audio), ("text", reads_text)) if used)
    tokens = model.text.tokenizer.convert_ids_to_tokens(inputs["tokens"][0].tolist()) if reads_text else []
    return Prediction(labels[int(out.preds[0])], probs, info["system"], modalities, notes, warnings,
                      attention=out.attention.get(0), tokens=tokens, transcript=transcript)


def recognise(wav: str | os.PathLike, device: str = "cpu", model_dir: str | os.PathLike | None = None):
    """The recogniser's :class:`sernb.asr.Transcript` of the first 30 s of ``wav`` (cached), for a
    prediction without a transcript (the text branch reads at most 128 tokens anyway)."""
    from sernb.asr import WINDOW_SECONDS, transcribe_file

    return transcribe_file(wav, model_dir=model_dir, device=device, max_seconds=WINDOW_SECONDS)


def seconds_needed(config: Any, max_frames: int | None) -> float | None:
    """Seconds of audio a model reads: ``max_frames`` MFCC frames (plus one window) or ``max_seconds``."""
    limits = [config.max_seconds] if config.max_seconds else []
    if max_frames:
        limits.append((max_frames * config.hop_length + config.n_fft) / config.sr + 0.1)
    return min(limits) if limits else None


def _clean_text(text: str, notes: list[str]) -> str:
    """A transcript from the shell: bytes that were not UTF-8 (``surrogateescape``) read as cp1252."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text, _ = decode_text(text.encode("utf-8", "surrogateescape"))
        notes.append("the transcript was not valid UTF-8; its bytes were read as cp1252 (Windows Latin-1)")
    return text


def read_transcript(path: str | os.PathLike) -> tuple[str, list[str]]:
    """The transcript in a text file (``sernb predict --text-file``) and notes about its encoding.

    UTF-8 (with or without BOM); lines that are not are read as cp1252 and the note says how many.
    A missing, empty or non-regular file is a :class:`~sernb.errors.DataError` naming it.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "transcript file not found")
    if not path.is_file():
        raise DataError(path, "transcript is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read the transcript: {exc.strerror or exc}") from exc
    if b"\x00" in data[:4096]:
        raise DataError(path, "not a text file (it holds NUL bytes; UTF-16 or binary?)")
    text, fallback = decode_text(data)
    text = " ".join(text.split())
    if not text:
        raise DataError(path, "the transcript file is empty")
    notes = []
    if fallback:
        notes.append(f"{path}: {fallback} line(s) not valid UTF-8 were read as cp1252 (Windows Latin-1)")
    return text, notes
