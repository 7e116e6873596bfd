"""Tests that need a CUDA device (``@pytest.mark.cuda``): skipped here, run by ``make gpu-check``.

Plus the CPU-side tests of the GPU check itself, which run everywhere: without CUDA it must say so,
and ``--device cpu --dry-run`` runs its code at toy sizes.
"""

from __future__ import annotations

import json

import pytest
import torch

from sernb.cli import main
from sernb.models import build_model


@pytest.mark.cuda
def test_train_step_with_bf16_autocast_on_cuda():
    from sernb.bench import paper_sized_model

    model = paper_sized_model().cuda().train()
    batch = {"mfcc": torch.randn(8, 1000, 40, device="cuda"), "mfcc_mask": torch.ones(8, 1000, dtype=torch.bool, device="cuda"),
             "tokens": torch.randint(5, 1000, (8, 128), device="cuda"),
             "tokens_mask": torch.ones(8, 128, dtype=torch.bool, device="cuda")}
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(batch)["logits"]
    loss = torch.nn.functional.cross_entropy(logits.float(), torch.zeros(8, dtype=torch.long, device="cuda"))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.cuda
def test_checkpoint_from_a_hub_folder_predicts_on_cuda(deberta_folder, tmp_path):
    from sernb.models.checkpoint import load_model, save_model

    model = build_model("ours", text_model=deberta_folder, max_tokens=32)
    model.fit_audio_stats(torch.randn(100, 40))
    save_model(model, tmp_path / "m", labels=["ang", "fru", "neu", "sad", "exc", "hap"])
    loaded, _ = load_model(tmp_path / "m", device="cuda")
    assert next(loaded.parameters()).is_cuda


def test_gpu_check_says_when_there_is_no_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["gpu-check", "--no-tests", "--json", ""]) == 3
    assert "no CUDA device is present" in capsys.readouterr().out


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(smoke_corpus, tmp_path, capsys):
    path = tmp_path / "gpu_check.json"
    code = main(["gpu-check", "--device", "cpu", "--dry-run", "--data-root", smoke_corpus, "--json", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = json.loads(path.read_text())
    assert set(summary["parts"]) == {"cuda_tests", "bench", "loso_fold"}
    assert summary["parts"]["loso_fold"]["fold"] and summary["parts"]["loso_fold"]["steps"] >= 1
    assert "DRY RUN" in out
