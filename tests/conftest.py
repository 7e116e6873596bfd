"""Fixtures every test module shares: an offline, isolated environment and the smoke corpus.

Every test runs with ``HF_HUB_OFFLINE=1`` and with its data home (``$SERNB_DATA``: generated
corpora, MFCC and text-state caches) and results cache (``$SERNB_RESULTS``) in this session's
temporary folder, so no test reads or writes the checkout's ``data/`` or ``runs/``; the chapters
run by the notebook tests inherit the same environment. The folders are per session, so tests
(and chapters) share caches with one another, never with a user's runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``cuda`` are skipped on machines without CUDA (``make gpu-check`` runs them)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run `make gpu-check` on a GPU machine)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def session_data_home(tmp_path_factory) -> Path:
    """This session's ``$SERNB_DATA``: corpora and feature caches made by the tests."""
    return tmp_path_factory.getbasetemp() / "data-home"


@pytest.fixture(scope="session")
def session_results(tmp_path_factory) -> Path:
    """This session's ``$SERNB_RESULTS``: results of the experiments the tests and chapters run."""
    return tmp_path_factory.getbasetemp() / "results"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, session_data_home, session_results) -> None:
    """Offline, with data and results in this session's temporary folder (see the module)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SERNB_DATA", str(session_data_home))
    monkeypatch.setenv("SERNB_RESULTS", str(session_results))


@pytest.fixture(scope="session")
def smoke_corpus(tmp_path_factory) -> str:
    """The synthetic smoke corpus (~150 utterances, seed 0), generated once per test session."""
    from sernb.data.synth import generate

    return str(generate("smoke", out=tmp_path_factory.getbasetemp() / "smoke-corpus"))


@pytest.fixture(scope="session")
def smoke_transcripts(smoke_corpus) -> list[str]:
    """The transcripts of the smoke corpus (what the stand-in SentencePiece model is trained on)."""
    from sernb.data.iemocap import load_iemocap

    return load_iemocap(smoke_corpus)["text"].tolist()


@pytest.fixture(scope="session")
def deberta_folder(tmp_path_factory, smoke_transcripts) -> str:
    """A tiny DeBERTa-v3 in microsoft/deberta-v3-base's own layout (sernb.models.standins):
    config.json, pytorch_model.bin only (``deberta.*`` + unused heads), spm.model trained on the
    smoke transcripts, tokenizer_config.json; no tokenizer.json. Random weights."""
    from sernb.models.standins import write_deberta_v3_folder

    return str(write_deberta_v3_folder(tmp_path_factory.getbasetemp() / "hub" / "deberta-v3-base",
                                       smoke_transcripts))


@pytest.fixture(scope="session")
def wav2vec2_folders(tmp_path_factory) -> dict[str, str]:
    """Tiny wav2vec2 folders in facebook/wav2vec2-base's layout: ``{"bin": ..., "safetensors": ...}``."""
    from sernb.models.standins import write_wav2vec2_folder

    base = tmp_path_factory.getbasetemp() / "hub"
    return {w: str(write_wav2vec2_folder(base / f"wav2vec2-base-{w}", weights=w)) for w in ("bin", "safetensors")}
