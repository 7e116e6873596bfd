"""The corpora sernb reads and what each is good for (chapters "Data and preprocessing", "Real speech").

One :class:`Corpus` per name says where its loader is, its native classes, how they map onto
IEMOCAP's four, which evaluation protocols fit it and whether its words carry emotion. The
command line (``--corpus``, ``--classes``, ``--protocol``) and :func:`sernb.data.load` read this
table, so adding a corpus is one entry here and one loader module.

Classes (``--classes``): ``native`` (the default: each corpus' own set; IEMOCAP's native set is
the paper's six), ``all`` (every label in the data), ``6`` (IEMOCAP's six, IEMOCAP-format corpora only), ``4`` (the literature's
neu/ang/sad/hap, every corpus through its own map, e.g. IEMOCAP's exc->hap), or a comma list of
native labels (``neutral,angry,sad,happy``). Rows whose label falls outside the set are counted
skips (``label:<x>``), never silent drops.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sernb.data.table import EMOTIONS_4, EMOTIONS_6
from sernb.errors import UserInputError

#: The corpus' own classes (IEMOCAP's: the paper's six).
NATIVE = "native"
#: Every label found in the data, unfiltered (IEMOCAP: xxx, oth, sur... too).
ALL = "all"


@dataclass(frozen=True)
class Corpus:
    """A corpus the package can load: its loader, classes, protocols and modalities."""

    name: str
    loader: str  # "module:function"; the function takes (root, classes=<mapping or "all">)
    native: tuple[str, ...] | None  # None: the labels found in the data (a labelled folder)
    to_4: Mapping[str, str]  # native label -> EMOTIONS_4 label
    protocols: tuple[str, ...]  # those that fit; the first is the default speaker-independent one
    text_informative: bool  # False: every speaker reads the same fixed sentences
    about: str
    download: str = ""
    extra_4: Mapping[str, str] = field(default_factory=dict)  # further merges of the 4-class map

    def load_function(self):
        module, _, name = self.loader.partition(":")
        return getattr(importlib.import_module(module), name)


_IEMOCAP_PROTOCOLS = ("loso", "random", "speaker_kfold")
_ACTED_PROTOCOLS = ("speaker_kfold", "random", "loso")
_IEMOCAP_4 = {"neu": "neu", "ang": "ang", "sad": "sad", "hap": "hap", "exc": "hap"}

CORPORA: dict[str, Corpus] = {c.name: c for c in (
    Corpus("synthetic", "sernb.data.iemocap:load_synthetic", EMOTIONS_6, _IEMOCAP_4, _IEMOCAP_PROTOCOLS, True,
           "generated here with eSpeak NG in IEMOCAP's layout (sernb synth)"),
    Corpus("iemocap", "sernb.data.iemocap:load_iemocap", EMOTIONS_6, _IEMOCAP_4, _IEMOCAP_PROTOCOLS, True,
           "IEMOCAP: 10 actors in 5 sessions, dyadic, scripted and improvised (licence from USC SAIL)",
           "https://sail.usc.edu/iemocap/ (request form; about 12 GB)"),
    Corpus("ravdess", "sernb.data.ravdess:load_ravdess",
           ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
           {"neutral": "neu", "angry": "ang", "sad": "sad", "happy": "hap"}, _ACTED_PROTOCOLS, False,
           "RAVDESS speech: 24 actors, 2 fixed sentences, 8 emotions, 1,440 clips (CC BY-NC-SA 4.0)",
           "https://zenodo.org/record/1188976 (Audio_Speech_Actors_01-24.zip, 208 MB)"),
    Corpus("cremad", "sernb.data.cremad:load_cremad",
           ("anger", "disgust", "fear", "happy", "neutral", "sad"),
           {"neutral": "neu", "anger": "ang", "sad": "sad", "happy": "hap"}, _ACTED_PROTOCOLS, False,
           "CREMA-D: 91 actors, 12 fixed sentences, 6 emotions, 7,442 clips (ODbL)",
           "https://github.com/CheyneyComputerScience/CREMA-D (AudioWAV/, about 600 MB, Git LFS)"),
    Corpus("meld", "sernb.data.meld:load_meld",
           ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"),
           {"neutral": "neu", "anger": "ang", "sadness": "sad", "joy": "hap"}, ("official", "random"), True,
           "MELD: Friends dialogues, 13,708 utterances, 7 emotions; the CSVs alone serve text-only work (GPL-3.0)",
           "https://affective-meld.github.io/ (CSVs: a few MB; MELD.Raw clips: about 10 GB)"),
    Corpus("folder", "sernb.data.folder:load_folder", None,
           {"neutral": "neu", "neu": "neu", "angry": "ang", "anger": "ang", "ang": "ang", "sad": "sad",
            "sadness": "sad", "happy": "hap", "happiness": "hap", "joy": "hap", "hap": "hap"},
           ("speaker_kfold", "random", "loso", "official"), True,
           "any labelled folder: a CSV with path, label, speaker and optional text, session, split columns "
           "(sernb.data.folder)"),
)}


def get_corpus(name: str) -> Corpus:
    """The :class:`Corpus` called ``name`` (a clear error listing the names otherwise)."""
    try:
        return CORPORA[name.lower()]
    except KeyError:
        raise UserInputError(None, f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}") from None


def detect_corpus(root: str | os.PathLike) -> str:
    """The corpus whose layout ``root`` has (checked from the most to the least specific; a
    folder with none of them is taken for IEMOCAP, whose loader then says what it expected)."""
    root = Path(root).expanduser()
    if root.is_file() and root.suffix.lower() == ".csv" or any((root / n).is_file() for n in
                                                                ("labels.csv", "metadata.csv")):
        return "folder"
    layouts = (("ravdess", ("Actor_*", "*/Actor_*")), ("cremad", ("AudioWAV", "*/AudioWAV")),
               ("meld", ("train_sent_emo.csv", "*/train_sent_emo.csv", "*/*/train_sent_emo.csv")))
    for name, patterns in layouts:
        if any(next(root.glob(p), None) is not None for p in patterns):
            return name
    return "iemocap"


def parse_classes(text: str | int) -> int | str:
    """A ``--classes`` value: ``6``/``4`` as ints, ``native``, or a normalised comma list."""
    value = str(text).strip().lower()
    if value in ("6", "4"):
        return int(value)
    if value in (NATIVE, ALL):
        return value
    labels = [label.strip() for label in value.split(",") if label.strip()]
    if len(labels) < 2:
        raise ValueError(f"classes must be 6, 4, native or a comma list of at least two labels, not {text!r}")
    return ",".join(labels)


def canonical_classes(corpus: str, classes: int | str) -> int | str:
    """``classes`` as stored in a run's settings and a table's attrs: parsed, with ``native`` of an
    IEMOCAP-format corpus written 6 (its native set is the paper's six: one name, one stored key)."""
    value = parse_classes(classes)
    return 6 if value == NATIVE and get_corpus(corpus).native == EMOTIONS_6 else value


def names_from_labels(corpus: str, labels: Iterable[str]) -> tuple[str, ...]:
    """Class names for labels found in the data: the corpus' native order first, the rest sorted."""
    found = set(labels)
    native = get_corpus(corpus).native or ()
    return tuple(n for n in native if n in found) + tuple(sorted(found - set(native)))


def class_set(corpus: str, classes: int | str, found: tuple[str, ...] | None = None
              ) -> tuple[tuple[str, ...], dict[str, str] | None]:
    """``(names, mapping)`` for ``classes`` on ``corpus``: the class names in index order and the
    map native label -> kept label (None: keep every label; the names then come from the data). ``found`` gives the labels
    present in the data for corpora without a fixed native set (a labelled folder)."""
    spec = get_corpus(corpus)
    classes = parse_classes(classes)
    native = spec.native if spec.native is not None else found
    if classes == ALL:
        return (), None
    if classes == NATIVE:
        if native is None:
            return (), None  # a folder's labels are known once it is read
        return tuple(native), {label: label for label in native}
    if classes == 6:
        if spec.native != EMOTIONS_6:
            raise UserInputError(None, f"--classes 6 is IEMOCAP's six; corpus {corpus!r} has its own: "
                                 f"native ({', '.join(native or ['the labels in its CSV'])}), 4 or a comma list")
        return EMOTIONS_6, {label: label for label in EMOTIONS_6}
    if classes == 4:
        return EMOTIONS_4, {**spec.to_4, **spec.extra_4}
    wanted = tuple(classes.split(","))
    if native is not None:
        unknown = [label for label in wanted if label not in native]
        if unknown:
            raise UserInputError(None, f"classes {unknown} are not labels of corpus {corpus!r}; "
                                 f"its labels are {', '.join(native)}")
    return wanted, {label: label for label in wanted}


def default_protocol(corpus: str) -> str:
    """The speaker-independent protocol that fits ``corpus`` best (its first)."""
    return get_corpus(corpus).protocols[0]


def check_protocol(corpus: str, protocol: str) -> None:
    """A clear error when ``protocol`` does not fit ``corpus`` (e.g. MELD's official split on RAVDESS)."""
    spec = get_corpus(corpus)
    if protocol not in spec.protocols:
        raise UserInputError(None, f"protocol {protocol!r} does not fit corpus {corpus!r}; "
                             f"choose from {', '.join(spec.protocols)}")
