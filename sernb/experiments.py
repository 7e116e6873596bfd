"""Config -> cached, recorded result (every chapter from "Training the paper's model" on).

:func:`run` loads the corpus, makes the folds of the protocol for every seed, trains one model per
(fold, seed) with :func:`sernb.train.fit`, evaluates it on the test part, and stores everything under
``<results>/<config hash>/`` (default ``runs/results/``, or ``$SERNB_RESULTS``)::

    result.json              mean and std over folds x seeds, per-run metrics, histories, provenance
    predictions.csv          every test prediction of every run, with class probabilities
    attention.npz            a few cross-modal attention maps (heads x frames x tokens) per run

and every (fold, seed) under ``<results>/_runs/<run key>/<fold>__seed<k>/`` (run.json, ...; a
killed run resumes from there). The key hashes everything that changes the numbers (system, corpus
content, protocol, seeds, model and training settings, sernb version), not the device or progress
bars; the run key is the same without the seeds, so an experiment on seeds (0,) reuses the seed-0
run of one on (0, 1, 2). The same config returns the stored result at once, so notebooks share
runs and papermill reruns are cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import sernb
from sernb.augment import Mitigations, epoch_augmenter
from sernb.data.dataset import SERDataset
from sernb.data.table import label_targets
from sernb.fingerprint import code_fingerprint
from sernb.metrics import SCALARS, classification_metrics, mean_std, summarize
from sernb.models.inputs import INPUT_PROVIDERS, dialog_contexts, prepare_inputs, register_input  # noqa: F401 (re-exported)
from sernb.models.registry import build_with_shared, get_system
from sernb.profiles import (
    Profile,
    RunSettings,
    TrainingSettings,
    get_profile,
    resolve_overrides,
    setting_names,
)
from sernb.provenance import describe_device, git_commit, library_versions  # noqa: F401 (re-exported)
from sernb.train import TrainConfig, fit, predict
from sernb.utils import (
    PROJECT_ROOT,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    config_hash,
    pick_device,
    seed_everything,
)

#: Settings that change how fast or how loudly a run goes, never its numbers; not in the key.
RUNTIME_FIELDS = ("device", "progress", "profile")
#: Fields added after results were first stored: left out of the key while empty, so adding one
#: does not invalidate every cached result.
OPTIONAL_FIELDS = ("mitigations", "text_layers", "audio_encoder")
#: Fields added later whose default is not empty: left out of the key at that default.
DEFAULT_FIELDS = {"text_source": "gold", "synth_cues": False, "epoch_selection": "best",
                  "selection_metric": "balanced_accuracy", "text_context": 0}


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig(RunSettings):
    """Everything one experiment needs: a system and its options plus the :class:`RunSettings`
    (declared once in :mod:`sernb.profiles`; :meth:`from_profile` fills them from a profile)."""

    system: str = "ours"
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"heads": 4}
    #: The paper's remedies for overfitting (Section 5.1), see sernb.augment.Mitigations; {}: none.
    mitigations: dict[str, Any] = field(default_factory=dict)
    attention_samples: int = 6  # attention maps kept per run (one per class when possible)
    profile: str = ""  # the profile it came from, for the record

    @classmethod
    def from_profile(cls, profile: str | Profile = "offline", system: str = "ours",
                     **overrides: Any) -> ExperimentConfig:
        """Settings of ``profile`` for ``system``: the profile's, then what the profile sets for this
        system (:attr:`~sernb.profiles.Profile.system_settings`); ``overrides`` win (None keeps the
        value, :data:`sernb.profiles.NONE` sets None)."""
        p = get_profile(profile) if isinstance(profile, str) else profile
        base = {name: getattr(p, name) for name in setting_names()}
        base.update(p.system_settings.get(system, {}))
        changes = resolve_overrides(overrides)
        base.update(changes)
        if base.get("data_root") and "corpus" not in changes and not _is_synthetic(base["data_root"]):
            from sernb.data.corpora import detect_corpus

            base["corpus"] = detect_corpus(base["data_root"])  # real recordings: never labelled synthetic
        return cls(system=system, profile=p.name, **base)

    def __post_init__(self) -> None:
        from sernb.errors import UserInputError

        for name in ("epochs", "batch_size", "max_frames", "max_tokens", "frame_pool"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UserInputError(None, f"{name} must be a positive whole number, not {value!r}")
        if not isinstance(self.text_context, int) or self.text_context < 0:
            raise UserInputError(None, f"text_context must be a whole number of turns, 0 or more, not {self.text_context!r}")
        if not self.seeds:
            raise UserInputError(None, "seeds is empty: give at least one seed (e.g. --seeds 1 runs seed 0)")
        from sernb.data.corpora import canonical_classes
        from sernb.profiles import EPOCH_SELECTIONS, SELECTION_METRICS, VALIDATIONS, parse_protocol

        for name, allowed in (("epoch_selection", EPOCH_SELECTIONS), ("selection_metric", SELECTION_METRICS),
                              ("validation", VALIDATIONS)):
            if getattr(self, name) not in allowed:
                raise UserInputError(None, f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.validation == "none" and self.patience is not None:
            raise UserInputError(None, f"validation none leaves early stopping (patience {self.patience}) no "
                                 "validation score to watch: set patience none (--patience none) and the epochs")

        try:
            object.__setattr__(self, "classes", canonical_classes(self.corpus, self.classes))
        except ValueError as exc:
            raise UserInputError(None, str(exc)) from None
        object.__setattr__(self, "protocol", parse_protocol(self.protocol))
        # unknown keys or bad values: a clear error now, not mid-run; parsed here, once
        object.__setattr__(self, "_remedies", Mitigations.parse(self.mitigations))

    @property
    def remedies(self) -> Mitigations:
        """``mitigations`` parsed and validated (:meth:`sernb.augment.Mitigations.parse`)."""
        return self._remedies

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shared_model_options(self) -> dict[str, Any]:
        """Model options every system gets when its factory takes them (see ``build_with_shared``)."""
        shared = {"text_model": self.text_model, "max_tokens": self.max_tokens, "frame_pool": self.frame_pool,
                  "text_layers": self.text_layers}
        if self.audio_encoder is not None:  # None: each system's own (ours_whisper keeps its Whisper)
            shared["audio_encoder"] = self.audio_encoder
        return shared

    def train_config(self, seed: int) -> TrainConfig:
        """The :class:`sernb.train.TrainConfig` of one run: the settings both declare, plus the remedies."""
        shared = {f.name: getattr(self, f.name) for f in fields(TrainingSettings)}
        return TrainConfig(**shared, seed=seed, **self.remedies.train)


@dataclass
class Result:
    """A finished experiment: summary metrics, per-run records, predictions and attention maps."""

    key: str
    record: dict[str, Any]  # the content of result.json
    path: Path

    @property
    def config(self) -> dict[str, Any]:
        return self.record["config"]

    @property
    def labels(self) -> list[str]:
        return self.record["labels"]

    @property
    def metrics(self) -> dict[str, Any]:
        """Mean over runs of every metric (``std`` holds the standard deviations)."""
        keys = (*SCALARS, "per_class_f1", "confusion", "std", "n_runs")
        return {k: self.record[k] for k in keys}

    @property
    def history(self) -> dict[str, list[dict[str, float]]]:
        """Per-epoch history of every run, keyed by run name (``"session-1__seed0"``)."""
        return self.record["history"]

    def run_path(self, name: str) -> Path:
        """Folder of the run ``name`` (``"session-1__seed0"``): shared by experiments, see the module."""
        if "runs_dir" in self.record:
            return self.path.parent / self.record["runs_dir"] / name
        return self.path / "runs" / name  # results stored before runs were shared

    @property
    def runs(self) -> pd.DataFrame:
        """One row per (fold, seed) with its scalar metrics and timings."""
        return pd.DataFrame([{k: v for k, v in r.items() if k not in ("per_class_f1", "confusion")}
                             for r in self.record["runs"]])

    @property
    def predictions(self) -> pd.DataFrame:
        """Every test prediction: run, fold, seed, utt_id, label, pred and ``p_<class>``."""
        return pd.read_csv(self.path / "predictions.csv")

    @property
    def attention(self) -> list[dict[str, Any]]:
        """Sampled attention maps: metadata plus ``weights`` (heads, frames, tokens)."""
        samples = self.record.get("attention_samples", [])
        if not samples:
            return []
        with np.load(self.path / "attention.npz") as arrays:
            return [{**s, "weights": arrays[s["key"]]} for s in samples]

    def summary(self) -> str:
        """One line: mean ± std of the scalar metrics."""
        std = self.record["std"]
        parts = [f"{k} {mean_std(self.record[k], std[k], digits=3)}" for k in SCALARS]
        text = self.record["meta"].get("text_encoder") or {}
        warning = " [UNTRAINED text encoder: numbers mean nothing]" if text.get("untrained") else ""
        return (f"{self.record['system']} [{self.record['config']['protocol']}, {self.record['n_runs']} runs]: "
                + ", ".join(parts) + warning)

    @classmethod
    def load(cls, folder: str | Path) -> Result:
        folder = Path(folder)
        record = json.loads((folder / "result.json").read_text())
        return cls(record["key"], record, folder)


def results_home() -> Path:
    """``$SERNB_RESULTS`` if set, else ``runs/results`` in the checkout (git-ignored)."""
    return Path(os.environ.get("SERNB_RESULTS", PROJECT_ROOT / "runs" / "results"))


# ---------------------------------------------------------------------------------------------
# Corpus and inputs
# ---------------------------------------------------------------------------------------------

def _is_synthetic(root: str | Path) -> bool:
    """Whether ``root`` holds a corpus made by ``sernb synth`` (it has the generator's manifest)."""
    from sernb.data.synth import MANIFEST_NAME

    return (Path(root) / MANIFEST_NAME).is_file()


def load_corpus(config: ExperimentConfig) -> pd.DataFrame:
    """The utterance table of ``config.corpus`` (the synthetic one is generated on first use)."""
    from sernb.data import load

    if config.corpus == "synthetic" and config.data_root is None:
        from sernb.data.synth import generate

        root = generate(size=config.synth_size, cues=config.synth_cues)
    elif config.data_root is None:
        raise ValueError(f"corpus {config.corpus!r} needs a data root (--data-root DIR or "
                         "$SERNB_DATA_ROOT): the folder that contains IEMOCAP_full_release")
    else:
        root = config.data_root
    return load(config.corpus, root, classes=config.classes)


def usable_rows(config: ExperimentConfig, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` without the clips whose audio cannot be used, for a system that reads MFCCs.

    One NaN-filled, empty, corrupt, silent or sub-window clip among thousands must not stop a
    run: it is dropped and counted in ``table.attrs["skipped"]`` (``unreadable audio``, ``silent
    audio``, ``audio too short``), which ``sernb train`` prints and result.json stores. The
    frames are cached, so :func:`run` reads them back at no cost.
    """
    if not {"audio", "wav"} & set(get_system(config.system).needs):
        return table
    from sernb.data.audio import AudioError
    from sernb.data.features import MFCCConfig, cache_file, cache_folder, load_features

    folder = cache_folder(MFCCConfig())
    try:  # only readable clips get cached: a stat per clip answers a rerun (no arrays read)
        if all(cache_file(path, folder).is_file() for path in table["wav_path"]):
            return table
    except AudioError:  # a missing clip: let load_features count it
        pass
    kept, _ = load_features(table, on_error="skip", progress=config.progress)
    if kept.empty:
        from sernb.data.table import describe_skips
        from sernb.errors import DataError

        raise DataError(table.attrs.get("root"), f"no utterances kept: {describe_skips(kept)}")
    return kept


def with_text_source(config: ExperimentConfig, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the text ``config.text_source`` asks for: the corpus' own (``gold``) or the
    offline speech recogniser's transcript of every clip (``asr``; :func:`sernb.asr_study.recognised`,
    cached), in training and test alike. The gold text stays in ``gold_text``. With
    ``config.text_context`` a ``context`` column holds each utterance's previous turns of that text
    (:func:`sernb.data.table.dialog_context`), which the text encoder reads as a second segment."""
    if config.text_source not in ("gold", "asr"):
        from sernb.errors import UserInputError

        raise UserInputError(None, f"text_source={config.text_source!r}; choose gold or asr")
    if config.text_source == "asr" and table.attrs.get("text_source") != "asr":
        from sernb.asr_study import recognised

        table = recognised(table, progress=config.progress)
    if config.text_context:
        from sernb.data.table import dialog_context

        table = table.assign(context=dialog_context(table, config.text_context))
    return table


def class_names(classes: int | str, corpus: str = "synthetic", table: pd.DataFrame | None = None) -> list[str]:
    """The class names in index order: the loaded ``table``'s (:func:`sernb.data.load` records
    them) when it was loaded for these ``classes``, else those of ``classes`` on ``corpus``, else
    (a corpus whose labels come from its data) those found in ``table``."""
    from sernb.data.corpora import canonical_classes, class_set, names_from_labels

    if table is not None and table.attrs.get("class_names") and \
            table.attrs.get("classes") == canonical_classes(corpus, classes):
        return list(table.attrs["class_names"])
    names, _ = class_set(corpus, classes)
    if names:
        return list(names)
    if table is None:
        raise ValueError(f"the classes of corpus {corpus!r} ({classes}) are known once its data is read")
    return list(names_from_labels(corpus, table["label"]))


def check_inputs(config: ExperimentConfig, table: pd.DataFrame) -> list[str]:
    """Refuse a system the corpus cannot feed, and name the inputs that carry no emotion.

    A system that hears audio needs clips (MELD's CSVs alone have none); a system that reads text
    needs transcripts (a labelled folder may have none). On RAVDESS and CREMA-D every actor reads
    the same fixed sentences, so the words say nothing about the emotion: a text-only system is
    refused (its score would be chance by construction) and a system that also hears audio runs
    with its text marked uninformative (returned, printed by ``sernb train``, stored in result.json).
    """
    from sernb.data.corpora import get_corpus
    from sernb.errors import UserInputError

    system = get_system(config.system)
    needs = set(system.needs)
    corpus = get_corpus(config.corpus)
    root = table.attrs.get("root")
    if config.text_context:
        if "text" not in needs or system.config is None:
            raise UserInputError(None, f"text_context (--text-context) gives the text encoder of the paper's model "
                                 f"and its variants (ours, text_only, baseline, ...) the previous turns; system "
                                 f"{config.system!r} " + ("reads no text" if "text" not in needs else
                                                          "reads its text its own way"))
        if table.groupby("dialog").size().max() < 2:
            raise UserInputError(root, f"text_context={config.text_context}: this {corpus.name} corpus has no dialogs "
                                 "(every utterance is a dialog of its own), so there are no previous turns to read")
    if needs & {"audio", "wav"} and table.attrs.get("audio") is False:
        raise UserInputError(root, f"system {config.system!r} hears audio, but this {corpus.name} corpus has no "
                             "clips (CSVs only); run a text system (text_only) or give the folder with the clips")
    if "text" not in needs:
        return []
    if table.attrs.get("text") is False:
        raise UserInputError(root, f"system {config.system!r} reads text, but the labels CSV has no text column; "
                             "add one or run an audio system (audio_only)")
    if corpus.text_informative:
        return []
    if not needs & {"audio", "wav"}:
        raise UserInputError(root, f"system {config.system!r} reads only text, and on {corpus.name} every actor "
                             "reads the same fixed sentences: the words carry no emotion, so its score would be "
                             "chance by construction. Run an audio system (audio_only, wav2vec2, ...)")
    return ["text"]


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

def experiment_key(config: ExperimentConfig, table: pd.DataFrame, *, with_seeds: bool = True) -> str:
    """Hash of the settings that change the numbers, the corpus content and the code's fingerprint.

    The fingerprint (:func:`sernb.fingerprint.code_fingerprint`) covers every sernb module a run
    executes, so an edit to the model, the training loop or the features is a new key: stored
    numbers of older code are never shown as the current code's.

    ``with_seeds=False`` gives the key of the runs, which experiments on other seed lists share.
    """
    settings = {k: v for k, v in config.to_dict().items()
                if k not in RUNTIME_FIELDS and not (k in OPTIONAL_FIELDS and not v)
                and not (k in DEFAULT_FIELDS and v == DEFAULT_FIELDS[k])
                and (with_seeds or k != "seeds")}
    corpus = config_hash([table["utt_id"].tolist(), table["label"].tolist(), table["text"].tolist()])
    return config_hash({"settings": settings, "corpus": corpus, "code": code_fingerprint()})


def run(config: ExperimentConfig, results_dir: str | Path | None = None, *, force: bool = False,
        keep_model: bool | str = False, table: pd.DataFrame | None = None) -> Result:
    """Run (or load) ``config``: every fold of the protocol for every seed; mean ± std over them.

    ``force`` retrains even when a stored result exists. ``keep_model`` saves each run's trained
    model beside it (``"first"``: only the first run's; ``sernb train`` uses that for predict).
    ``table`` replaces the corpus loading (for tests or a filtered table).
    """
    system = get_system(config.system)
    if config.audio_encoder is not None and not system.accepts("audio_encoder"):
        from sernb.errors import UserInputError

        raise UserInputError(None, f"system {config.system!r} has its own audio input; audio_encoder "
                             "(--audio-encoder) applies to the paper's model and its ablations (ours, baseline, ...)")
    from sernb.data.corpora import check_protocol

    check_protocol(config.corpus, config.protocol)
    table = load_corpus(config) if table is None else table
    uninformative = check_inputs(config, table)  # before any audio is read: refuse what cannot run
    table = with_text_source(config, usable_rows(config, table))
    labels = class_names(config.classes, config.corpus, table)
    key = experiment_key(config, table)
    folder = Path(results_dir) if results_dir is not None else results_home()
    folder = folder / key
    if (folder / "result.json").exists() and not force:
        try:
            return Result.load(folder)
        except (OSError, ValueError, KeyError) as exc:  # a damaged record: recompute it, never trust it
            import logging

            logging.getLogger("sernb").warning("ignoring damaged %s (%s); recomputing", folder / "result.json", exc)
    if force and folder.exists():
        shutil.rmtree(folder)
    from sernb.utils import clean_stale_temp

    clean_stale_temp(folder)  # what a kill during an earlier write of this result left
    from sernb.data.splits import make_folds

    runs_dir = f"_runs/{experiment_key(config, table, with_seeds=False)}"
    started = time.perf_counter()
    context: dict[str, Any] = {"device": pick_device(config.device), "progress": config.progress,
                               "max_frames": config.max_frames}
    runs = []
    for seed in config.seeds:
        for fold in make_folds(table, config.protocol, seed=fold_seed(config.split_seed, seed),
                               **fold_options(system.name, config.protocol, config.validation)):
            keep = keep_model is True or (keep_model == "first" and not runs)
            run_dir = folder.parent / runs_dir / f"{fold.name}__seed{seed}"
            if force:
                shutil.rmtree(run_dir, ignore_errors=True)
            runs.append(run_fold(config, table, fold, seed, run_dir, labels, context, keep_model=keep))
    record = _aggregate(config, system.name, key, table, labels, runs, context, time.perf_counter() - started)
    record["runs_dir"] = runs_dir
    record["uninformative"] = uninformative  # inputs that carry no emotion on this corpus (check_inputs)
    _write_tables(folder, runs, record)
    atomic_write_json(folder / "result.json", record)
    return Result.load(folder)  # exactly what a later cached call returns


def fold_seed(split_seed: int | None, run_seed: int) -> int:
    """The seed the folds are drawn with: ``split_seed`` for every run, or the run's own when None."""
    return run_seed if split_seed is None else split_seed


def fold_options(system: str, protocol: str, validation: str = "speakers") -> dict[str, Any]:
    """How :func:`sernb.data.splits.make_folds` splits for ``system``: dialogue-context systems
    (needs "dialog", e.g. COGMEN) keep dialogs whole; under a speaker-independent protocol the
    validation speakers are held out of training unless ``validation="rows"``."""
    options: dict[str, Any] = {}
    if "dialog" in get_system(system).needs and protocol != "official":
        options["keep_dialogs"] = True
    if protocol in ("loso", "speaker_kfold"):
        options["speaker_val"] = validation == "speakers"
    return options


def first_fold(result: Result, table: pd.DataFrame) -> tuple[Any, int]:
    """The (fold, seed) of ``result``'s first run, rebuilt exactly as :func:`run` made it."""
    from sernb.data.splits import make_folds

    first = result.record["runs"][0]
    protocol = result.config["protocol"]
    folds = make_folds(table, protocol, seed=fold_seed(result.config.get("split_seed"), first["seed"]),
                       **fold_options(result.config["system"], protocol, result.config.get("validation", "speakers")))
    return next(f for f in folds if f.name == first["fold"]), int(first["seed"])


def first_model(result: Result, config: ExperimentConfig, table: pd.DataFrame | None = None,
                device: str = "cpu") -> tuple[nn.Module, dict[str, Any], Path]:
    """The trained model of ``result``'s first run: ``(model, model.json, folder)``.

    ``run(config, keep_model="first")`` saves it beside the run, but a run stored without
    ``keep_model`` has none; then the first (fold, seed) is trained again with the same seed into
    ``models/<run>`` beside the shared runs (once, for every experiment sharing that run; later
    calls load it): same seed, same model.
    """
    from sernb.models.checkpoint import MODEL_FILE, load_model

    name = result.record["runs"][0]["name"]
    folder = result.run_path(name) / "model"
    if not (folder / MODEL_FILE).exists():
        side = result.run_path(name).parent / "models" / name
        folder = side / "model"
        if not (folder / MODEL_FILE).exists():
            table = with_text_source(config, usable_rows(config, load_corpus(config) if table is None else table))
            fold, seed = first_fold(result, table)
            context = {"device": pick_device(config.device), "progress": config.progress,
                       "max_frames": config.max_frames}
            run_fold(config, table, fold, seed, side, class_names(config.classes, config.corpus, table), context,
                     keep_model=True)
    model, info = load_model(folder, device=device)
    return model, info, folder


def run_fold(config: ExperimentConfig, table: pd.DataFrame, fold: Any, seed: int, folder: Path,
             labels: list[str], context: dict[str, Any], keep_model: bool = False) -> dict[str, Any]:
    """Train and test one (fold, seed); stored in ``folder`` so a killed experiment resumes.

    Safe for concurrent writers (grid jobs, chapters; :mod:`sernb.grid`): the run holds a lock on
    ``folder`` (:func:`sernb.utils.folder_lock`) while it checks, trains and writes, so a second
    process computing the same run waits and then reads the stored run instead of training it
    again; every file is written atomically, run.json last.
    """
    from sernb.utils import folder_lock

    with folder_lock(folder, f"run {folder.name}"):
        return _run_fold_locked(config, table, fold, seed, Path(folder), labels, context, keep_model)


def _run_fold_locked(config: ExperimentConfig, table: pd.DataFrame, fold: Any, seed: int, folder: Path,
                     labels: list[str], context: dict[str, Any], keep_model: bool = False) -> dict[str, Any]:
    """:func:`run_fold` under its lock.

    A run counts as done only when its run.json (written last) reads back with the files it
    lists, and no half-saved model lies beside it (a model folder without its model.json, left
    by an older sernb killed between run.json and the model); anything less is trained again.
    A run stored without a model stays so (see :func:`first_model`). The large ``checkpoint/``
    folder is removed once the run is done, also when a kill left it behind.
    """
    from sernb.models.checkpoint import is_complete
    from sernb.utils import clean_stale_temp

    for part in (folder, folder / "checkpoint", folder / "model"):  # temporary files of a killed write
        clean_stale_temp(part)
    done = _finished_run(folder)
    half_saved = (folder / "model").exists() and not is_complete(folder / "model")
    if done is not None and not half_saved:
        shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        return done
    seed_everything(seed)
    model = build_with_shared(config.system, len(labels), config.shared_model_options(), **config.model_options)
    targets = label_targets(table["label"], labels)
    dataset = SERDataset(prepare_inputs(model, table, context), targets, max_frames=config.max_frames)
    train_rows, val_rows = list(fold.train), list(fold.val)
    if config.validation == "none":  # no score reads them: the validation rows train too
        train_rows, val_rows = train_rows + val_rows, []
    train, test = dataset.subset(train_rows), dataset.subset(fold.test)
    val = dataset.subset(val_rows) if val_rows else None
    if hasattr(model, "fit_audio_stats") and "mfcc" in train.inputs:
        model.fit_audio_stats(torch.from_numpy(np.concatenate(train.inputs["mfcc"])))
    augment = epoch_augmenter(config.remedies, table.iloc[train_rows], train, model, seed, config.max_frames,
                              speaker_stats=context.get("mfcc_speaker_stats"))
    fitted = fit(model, train, val, config.train_config(seed), n_classes=len(labels),
                 checkpoint_dir=folder / "checkpoint", augment=augment)
    chosen = _attention_rows(test.labels, config.attention_samples)
    out = predict(model, test, batch_size=config.batch_size, device=context["device"], keep_attention=chosen)
    metrics = classification_metrics(out.labels, out.preds, labels)
    rows = np.asarray(fold.test)
    run_record = {
        "name": folder.name, "fold": fold.name, "seed": seed, **metrics,
        "best_epoch": fitted.best_epoch, "epochs_run": fitted.epochs_run,
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "stopped_early": fitted.stopped_early, "seconds": fitted.seconds,
        "seconds_per_epoch": fitted.seconds_per_epoch,
        "device": describe_device(torch.device(fitted.device)),  # in this process: a grid worker's threads
        "n_train": len(train), "n_val": len(val_rows), "n_test": len(test), "history": fitted.history,
    }
    preds = pd.DataFrame({"run": folder.name, "fold": fold.name, "seed": seed,
                          "utt_id": table["utt_id"].to_numpy()[rows],
                          "label": [labels[i] for i in out.labels], "pred": [labels[i] for i in out.preds]})
    for i, name in enumerate(labels):
        preds[f"p_{name}"] = out.probs[:, i]
    samples, arrays = _attention_records(model, table, rows, out, labels, folder.name)
    if keep_model:  # before run.json, which marks the run finished
        from sernb.models.checkpoint import save_model

        shutil.rmtree(folder / "model", ignore_errors=True)  # what an interrupted save left
        save_model(model, folder / "model", labels=labels, extra=_model_extra(config))
    _save_run(folder, run_record, preds, samples, arrays)
    shutil.rmtree(folder / "checkpoint", ignore_errors=True)
    return _load_run(folder)


def _finished_run(folder: Path) -> dict[str, Any] | None:
    """The record of a finished run in ``folder``, or None (absent, or damaged by a crash)."""
    if not (folder / "run.json").is_file():
        return None
    try:
        record = _load_run(folder)
    except (OSError, ValueError):
        return None
    parts = ("predictions.csv", "attention.npz", "attention.json")
    return record if all((folder / p).is_file() for p in parts) else None


def _attention_rows(test_labels: np.ndarray, k: int) -> list[int]:
    """Up to ``k`` test rows, one per class first (then the next ones), for attention figures."""
    chosen: list[int] = []
    for c in sorted(set(test_labels.tolist())):
        chosen.append(int(np.flatnonzero(test_labels == c)[0]))
    chosen = chosen[:k]
    for i in range(len(test_labels)):
        if len(chosen) >= k:
            break
        if i not in chosen:
            chosen.append(i)
    return chosen


def _attention_records(model: nn.Module, table: pd.DataFrame, rows: np.ndarray, out: Any, labels: list[str],
                       run_name: str) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Metadata (utterance, label, prediction, tokens) and weights of the kept attention maps."""
    samples, arrays = [], {}
    text = getattr(model, "text", None)
    for j, (i, weights) in enumerate(sorted(out.attention.items())):
        key = f"{run_name}#{j}"
        tokens = []
        if text is not None:
            row = table.iloc[[rows[i]]]
            tokens = text.utterance_tokens(row["text"].tolist(), dialog_contexts(row))[0]
        samples.append({"key": key, "run": run_name, "utt_id": str(table["utt_id"].iloc[rows[i]]),
                        "label": labels[int(out.labels[i])], "pred": labels[int(out.preds[i])],
                        "text": str(table["text"].iloc[rows[i]]), "tokens": tokens,
                        "frames": int(weights.shape[1]), "heads": int(weights.shape[0])})
        arrays[key] = weights.astype(np.float32)
    return samples, arrays


def _save_run(folder: Path, record: dict[str, Any], preds: pd.DataFrame, samples: list[dict],
              arrays: dict[str, np.ndarray]) -> None:
    atomic_write_text(folder / "predictions.csv", preds.to_csv(index=False))
    _write_npz(folder / "attention.npz", arrays)
    atomic_write_json(folder / "attention.json", samples)
    atomic_write_json(folder / "run.json", record)  # last: marks the run finished


def _load_run(folder: Path) -> dict[str, Any]:
    record = json.loads((folder / "run.json").read_text())
    record["_folder"] = str(folder)
    return record


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _write_tables(folder: Path, runs: list[dict[str, Any]], record: dict[str, Any]) -> None:
    """Concatenate per-run predictions and attention maps into the experiment folder."""
    frames, arrays, samples = [], {}, []
    for r in runs:
        run_dir = Path(r["_folder"])
        frames.append(pd.read_csv(run_dir / "predictions.csv"))
        samples += json.loads((run_dir / "attention.json").read_text())
        with np.load(run_dir / "attention.npz") as npz:
            arrays.update({k: npz[k] for k in npz.files})
    atomic_write_text(folder / "predictions.csv", pd.concat(frames).to_csv(index=False))
    _write_npz(folder / "attention.npz", arrays)
    record["attention_samples"] = samples


def _aggregate(config: ExperimentConfig, system: str, key: str, table: pd.DataFrame, labels: list[str],
               runs: list[dict[str, Any]], context: dict[str, Any], seconds: float) -> dict[str, Any]:
    summary = summarize(runs, labels)
    history = {r["name"]: r["history"] for r in runs}
    per_run = [{k: v for k, v in r.items() if k not in ("history", "_folder")} for r in runs]
    return {
        "key": key, "system": system, "labels": labels, **summary, "history": history, "runs": per_run,
        "config": config.to_dict(), "meta": provenance(config, table, context["device"], seconds, runs),
    }


def provenance(config: ExperimentConfig, table: pd.DataFrame, device: torch.device, seconds: float,
               runs: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Seed, corpus, protocol, code and library versions, device: what a reader needs to trust a number."""
    from sernb.models.text import SHORT_NAMES, resolve_text_model

    corpus = str(table["corpus"].iloc[0]) if len(table) else config.corpus
    text_info = None
    if "text" in get_system(config.system).needs:
        spec = resolve_text_model(config.text_model)
        text_info = {"text_model": config.text_model, "source": spec.source, "label": spec.label,
                     "description": SHORT_NAMES.get(config.text_model, spec.location),
                     "untrained": spec.untrained}
    return {
        "seeds": list(config.seeds), "protocol": config.protocol, "corpus": corpus,
        "synthetic": corpus == "synthetic", "data_root": table.attrs.get("root"),
        "n_utterances": len(table), "skipped": dict(table.attrs.get("skipped", {})),
        "repaired": dict(table.attrs.get("repaired", {})), "label_counts": table["label"].value_counts().to_dict(),
        "sernb_version": sernb.__version__, "code_fingerprint": code_fingerprint(), "git_commit": git_commit(),
        "libraries": library_versions(),
        "device": ", ".join(sorted({str(r["device"]) for r in runs})) if runs else describe_device(device),
        "text_encoder": text_info, "seconds": seconds,
        "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in runs])) if runs else None,
        "cpu_seconds_per_epoch": float(np.nanmean([h.get("cpu_seconds", np.nan) for r in runs for h in r["history"]]))
        if runs else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def provenance_line(results: Result | Sequence[Result]) -> str:
    """One line saying where a chapter's numbers come from: code fingerprint, commit, device, date.

    Every chapter that shows stored results prints it. A result's key includes the fingerprint of
    the code that made it (:mod:`sernb.fingerprint`), so the fingerprints listed here are always
    the current code's; the commit says which version of the repository that was.
    """
    results = [results] if isinstance(results, Result) else list(results)
    if not results:
        return "no stored results"
    metas = [r.record.get("meta", {}) for r in results]

    def values(name: str) -> str:
        found = sorted({str(m.get(name)) for m in metas if m.get(name)})
        return ", ".join(found) if found else "?"

    n_runs = sum(int(r.record.get("n_runs") or len(r.record.get("runs", []))) for r in results)
    created = sorted(str(m.get("created", ""))[:10] for m in metas if m.get("created"))
    when = created[0] if created and created[0] == created[-1] else " to ".join([created[0], created[-1]]) \
        if created else "?"
    corpus = ", ".join(sorted({_corpus_name(m) for m in metas}))
    return (f"Provenance: {len(results)} stored result(s), {n_runs} run(s); code {values('code_fingerprint')} "
            f"(git {values('git_commit')}); device {values('device')}; corpus {corpus}; made {when} "
            f"(this code: {code_fingerprint()})")


def _corpus_name(meta: dict[str, Any]) -> str:
    """``SYNTHETIC (default-cues)``: a generated corpus with its folder (size, cue or plain), the
    folder above ``IEMOCAP_full_release`` when the data root is that sub-folder."""
    if not meta.get("synthetic"):
        return str(meta.get("corpus"))
    if not meta.get("data_root"):
        return "SYNTHETIC"
    root = Path(meta["data_root"])
    return f"SYNTHETIC ({root.parent.name if root.name == 'IEMOCAP_full_release' else root.name})"


def _model_extra(config: ExperimentConfig) -> dict[str, Any]:
    from sernb.data.features import MFCCConfig

    return {"mfcc": asdict(MFCCConfig()), "max_frames": config.max_frames, "corpus": config.corpus,
            "protocol": config.protocol, "experiment": config.to_dict()}


def results_table(results: Sequence[Result]) -> pd.DataFrame:
    """One row per result: system, protocol, runs and ``mean ± std`` of each scalar metric."""
    rows = []
    for r in results:
        text = r.record["meta"].get("text_encoder") or {}
        row = {"system": r.record["system"], "protocol": r.config["protocol"], "runs": r.record["n_runs"],
               "text encoder": text.get("label", "-"), "corpus": r.record["meta"]["corpus"]}
        for k in SCALARS:
            row[k] = mean_std(r.record[k], r.record["std"][k], digits=3)
        row["s/epoch"] = round(r.record["meta"]["seconds_per_epoch"] or float("nan"), 1)
        rows.append(row)
    return pd.DataFrame(rows)
