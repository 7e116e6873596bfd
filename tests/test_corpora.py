"""Real corpora as first-class inputs: CREMA-D, a labelled folder, MELD's CSVs alone, class sets,
protocols that fit each corpus, honest modalities, and `sernb train` on each layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sernb.cli import main
from sernb.data import EMOTIONS_4, load
from sernb.data.corpora import class_set, parse_classes
from sernb.data.splits import make_folds
from sernb.errors import DataError, DataNotFound, UserInputError
from sernb.experiments import ExperimentConfig, check_inputs
from tests.fixtures import (
    CREMAD_KEPT_ALL,
    CREMAD_SKIPS_ALL,
    FOLDER_KEPT_ALL,
    FOLDER_SKIPS_ALL,
    make_cremad,
    make_folder,
    make_meld,
    relayout,
)


def test_cremad_parses_names_genders_and_sentences(tmp_path):
    table = load("cremad", make_cremad(tmp_path))
    assert len(table) == CREMAD_KEPT_ALL and table.attrs["skipped"] == CREMAD_SKIPS_ALL
    row = table.set_index("utt_id").loc["1002_DFA_SAD_LO"]
    assert (row["label"], row["speaker"], row["gender"], row["session"]) == ("sad", "Actor_1002", "F", 1002)
    assert row["text"] == "Don't forget a jacket"
    assert table.attrs["class_names"] == ["anger", "disgust", "fear", "happy", "neutral", "sad"]


def test_cremad_four_classes_and_no_demographics(tmp_path):
    four = load("cremad", make_cremad(tmp_path, demographics=False), classes=4)
    assert sorted(four["label"]) == ["ang", "hap", "neu", "sad"]
    assert four.attrs["skipped"]["label:disgust"] == 1 and four.attrs["skipped"]["label:fear"] == 1
    assert four["gender"].isna().all()  # unknown without VideoDemographics.csv, never guessed
    assert four.attrs["class_names"] == list(EMOTIONS_4)


def test_cremad_missing_layout_names_the_folder(tmp_path):
    with pytest.raises(DataNotFound, match="AudioWAV") as err:
        load("cremad", tmp_path)
    assert str(tmp_path) in str(err.value)


def test_folder_rows_skips_and_official_split(tmp_path):
    table = load("folder", make_folder(tmp_path))
    assert len(table) == FOLDER_KEPT_ALL and table.attrs["skipped"] == FOLDER_SKIPS_ALL
    assert set(table["label"]) == {"neutral", "angry", "sad", "happy", "bored"}  # lower-cased
    assert table.attrs["class_names"] == sorted(table["label"].unique())
    (fold,) = make_folds(table, "official")
    parts = {p: sorted(table.iloc[rows]["utt_id"]) for p, rows in fold.parts().items()}
    assert parts == {"train": ["a/one", "a/two"], "val": ["b/three"], "test": ["b/five", "b/four"]}


def test_folder_four_classes_map_synonyms_and_count_the_rest(tmp_path):
    four = load("folder", make_folder(tmp_path), classes=4)
    assert sorted(four["label"]) == ["ang", "hap", "neu", "sad"]
    assert four.attrs["skipped"]["label:bored"] == 1


def test_folder_csv_errors_name_the_file(tmp_path):
    (tmp_path / "labels.csv").write_text("file,emotion\nx.wav,sad\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['path', 'label', 'speaker'\]") as err:
        load("folder", tmp_path)
    assert "labels.csv" in str(err.value)
    with pytest.raises(DataNotFound, match="labels.csv or metadata.csv"):
        load("folder", tmp_path / "nowhere")


def test_meld_csvs_alone_load_text_only(tmp_path):
    root = make_meld(tmp_path)
    for clips in (root / "MELD.Raw").iterdir():
        if clips.is_dir():
            for f in clips.iterdir():
                f.unlink()
            clips.rmdir()
    table = load("meld", root)
    assert table.attrs["audio"] is False and (table["wav_path"] == "").all()
    assert len(table) == 15 and "missing clip" not in table.attrs["skipped"]  # every CSV row, no clip needed
    config = ExperimentConfig.from_profile("smoke", system="ours", corpus="meld", data_root=str(root))
    with pytest.raises(UserInputError, match="no clips"):
        check_inputs(config, table)
    assert check_inputs(ExperimentConfig.from_profile("smoke", system="text_only", corpus="meld",
                                                      data_root=str(root)), table) == []


@pytest.mark.parametrize(("text", "value"), [("6", 6), ("4", 4), ("Native", "native"), ("all", "all"),
                                             ("neutral, Angry ,sad", "neutral,angry,sad")])
def test_classes_option_values(text, value):
    assert parse_classes(text) == value


def test_class_sets_per_corpus():
    assert class_set("ravdess", "native")[0][:2] == ("neutral", "calm")
    assert class_set("ravdess", "neutral,sad") == (("neutral", "sad"), {"neutral": "neutral", "sad": "sad"})
    assert class_set("synthetic", 4)[1]["exc"] == "hap"
    with pytest.raises(UserInputError, match="IEMOCAP's six"):
        class_set("ravdess", 6)
    with pytest.raises(UserInputError, match="not labels of corpus 'ravdess'"):
        class_set("ravdess", "neutral,joy")
    with pytest.raises(ValueError, match="comma list"):
        parse_classes("7")


def test_protocols_that_do_not_fit_are_refused_by_name():
    from sernb.data.corpora import check_protocol

    check_protocol("meld", "official")
    with pytest.raises(UserInputError, match="protocol 'official' does not fit corpus 'ravdess'"):
        check_protocol("ravdess", "official")
    assert ExperimentConfig.from_profile("smoke", protocol="actor-kfold").protocol == "speaker_kfold"


# ---------------------------------------------------------------------------- sernb train, each layout


@pytest.fixture(scope="module")
def smoke_table(smoke_corpus):
    return load("synthetic", smoke_corpus)


def _train(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["train", "--profile", "smoke", "--epochs", "1", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _trained(capsys, out: Path, *args: str) -> tuple[dict, str]:
    """`sernb train ... --out OUT` that must succeed: its result.json and what it printed."""
    code, stdout, err = _train(capsys, *args, "--out", str(out))
    assert code == 0, err
    return json.loads((out / "result.json").read_text()), stdout


def test_train_ravdess_audio_only_actor_folds_native_classes(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "ravdess", "ravdess")
    record, _ = _trained(capsys, tmp_path / "out", "--corpus", "ravdess", "--data-root", str(root), "--system",
                         "audio_only", "--protocol", "actor-kfold", "--model-option", "mfcc_norm=speaker",
                         "--mitigation", "augment_audio={p_noise: 0.3}")
    assert record["meta"]["corpus"] == "ravdess" and record["config"]["protocol"] == "speaker_kfold"
    assert len(record["runs"]) == 5 and record["labels"][:2] == ["neutral", "calm"]
    assert record["config"]["model_options"] == {"mfcc_norm": "speaker"}
    assert record["config"]["mitigations"] == {"augment_audio": {"p_noise": 0.3}}
    code, _, err = _train(capsys, "--corpus", "ravdess", "--data-root", str(root), "--system", "audio_only",
                          "--mitigation", "noise", "--out", str(tmp_path / "bad"))
    assert code == 2 and "unknown mitigation(s) ['noise']" in err


def test_a_model_option_the_system_does_not_take_is_refused(smoke_corpus, tmp_path, capsys):
    for system, option in (("audio_only", "mfcc_nrom=speaker"), ("whisper_audio", "no_such=1")):
        code, _, err = _train(capsys, "--data-root", smoke_corpus, "--system", system, "--model-option", option,
                              "--out", str(tmp_path / system))
        assert code == 2 and f"takes no model option {option.split('=')[0]}" in err, err
        assert not (tmp_path / system / "result.json").exists()


def test_without_validation_rows_they_train_too_and_each_run_keeps_its_last_epoch(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "ravdess", "ravdess")
    common = ("--corpus", "ravdess", "--data-root", str(root), "--system", "audio_only", "--protocol", "actor-kfold",
              "--seeds", "1")
    held, _ = _trained(capsys, tmp_path / "held", *common)
    none, _ = _trained(capsys, tmp_path / "none", *common, "--validation", "none", "--patience", "none",
                       "--epochs", "2")
    for kept, used in zip(held["runs"], none["runs"], strict=True):
        assert kept["n_val"] > 0 and used["n_val"] == 0 and used["n_test"] == kept["n_test"]
        assert used["n_train"] == kept["n_train"] + kept["n_val"]  # the same test speakers, more training ones
        assert used["best_epoch"] == used["epochs_run"] == 2  # nothing scored: the last epoch
    code, _, err = _train(capsys, *common, "--validation", "none", "--patience", "2", "--out", str(tmp_path / "x"))
    assert code == 2 and "set patience none" in err


def test_train_text_only_on_fixed_sentences_is_refused(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "cremad", "cremad")
    code, _, err = _train(capsys, "--corpus", "cremad", "--data-root", str(root), "--system", "text_only",
                          "--out", str(tmp_path / "out"))
    assert code == 2 and "same fixed sentences" in err


def test_train_ours_on_fixed_sentences_marks_text_uninformative(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "cremad", "cremad")
    record, out = _trained(capsys, tmp_path / "out", "--corpus", "cremad", "--data-root", str(root), "--system",
                           "ours", "--classes", "4")
    assert "text carries no emotion" in out
    assert record["uninformative"] == ["text"]


def test_train_meld_text_only_from_csvs(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "meld", "meld_csv")
    record, _ = _trained(capsys, tmp_path / "out", "--corpus", "meld", "--data-root", str(root), "--system",
                         "text_only", "--protocol", "official")
    assert record["runs"][0]["fold"] == "official" and "joy" in record["labels"]
    code, _, err = _train(capsys, "--corpus", "meld", "--data-root", str(root), "--system", "audio_only",
                          "--out", str(tmp_path / "out2"))
    assert code == 2 and "no clips" in err


def test_meld_text_only_reads_each_utterance_with_its_previous_turns(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "meld", "meld_csv")
    table = load("meld", root)
    context = ExperimentConfig.from_profile("smoke", corpus="meld", text_context=2)
    from sernb.experiments import with_text_source

    rows = with_text_source(context, table).set_index("utt_id")
    first, second, third = (rows.loc[f"train_dia0_utt{k}"] for k in range(3))
    assert (first["context"], second["context"]) == ("", first["text"])
    assert third["context"] == f"{second['text']} | {first['text']}"  # newest first
    record, _ = _trained(capsys, tmp_path / "out", "--corpus", "meld", "--data-root", str(root), "--system",
                         "text_only", "--protocol", "official", "--text-context", "2")
    assert record["config"]["text_context"] == 2
    for system, why in (("audio_only", "reads no text"), ("blstm_dcnn", "its own way")):
        with pytest.raises(UserInputError, match=why):
            check_inputs(ExperimentConfig.from_profile("smoke", system=system, text_context=1), table)
    cremad = relayout(smoke_table, tmp_path / "cremad", "cremad")
    code, _, err = _train(capsys, "--corpus", "cremad", "--data-root", str(cremad), "--system", "ours",
                          "--text-context", "1", "--out", str(tmp_path / "out2"))
    assert code == 2 and "no dialogs" in err
    with pytest.raises(UserInputError, match="text_context must be a whole number"):
        ExperimentConfig.from_profile("smoke", text_context=-1)


def test_train_labelled_folder(smoke_table, tmp_path, capsys):
    root = relayout(smoke_table, tmp_path / "mine", "folder")
    record, _ = _trained(capsys, tmp_path / "out", "--corpus", "folder", "--data-root", str(root / "labels.csv"),
                         "--system", "ours", "--protocol", "speaker_kfold")
    assert record["meta"]["corpus"] == "folder" and set(record["labels"]) == set(smoke_table["label"])


def test_the_corpus_is_recognised_from_its_layout(smoke_table, tmp_path):
    from sernb.data.corpora import detect_corpus

    for layout, name in (("ravdess", "ravdess"), ("cremad", "cremad"), ("folder", "folder"), ("meld_csv", "meld")):
        root = relayout(smoke_table.head(8), tmp_path / layout, layout)
        assert detect_corpus(root) == name
        assert ExperimentConfig.from_profile("smoke", data_root=str(root)).corpus == name
    assert detect_corpus(tmp_path / "folder" / "labels.csv") == "folder"
    assert detect_corpus(tmp_path / "empty") == "iemocap"
