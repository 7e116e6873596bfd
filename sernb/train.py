"""One training loop for every system (chapter "Training the paper's model"; the shell's ``sernb train``).

:func:`fit` trains any module that maps a batch to ``{"logits": ...}``: AdamW with two parameter
groups (pretrained text encoder 2e-5, everything else 1e-4, Section 4.2), linear warm-up and decay,
gradient clipping at 1.0, optional class weights, early stopping on validation balanced accuracy
with the best weights restored, and a per-epoch history for the overfitting curves (Table 4).

With a ``checkpoint_dir`` every finished epoch is saved atomically (weights in safetensors; the
optimizer, scheduler, RNG states and bookkeeping in a small torch file). Only the weights training
can change are written (trainable parameters and buffers): a frozen pretrained encoder is the same
at every epoch and comes back from its own files when the model is built, and writing it twice an
epoch cost more than training the baseline. A killed run called again
with the same folder resumes after its last finished epoch and ends exactly where an uninterrupted
run would have: batch order depends only on ``(seed, epoch)`` and the RNG states are restored.
On CUDA the forward pass runs under bf16 autocast; on CPU in float32, same code.

The paper's remedies for overfitting (Section 5.1; chapter "Beyond the paper: remedies for
overfitting") are switches here: ``modality_dropout`` masks the whole audio or the whole text of a
share of the training utterances, ``supcon`` adds a supervised contrastive loss on the two branches'
global vectors, and ``fit(augment=...)`` swaps in each epoch's augmented training set
(:mod:`sernb.augment`). All of them are off by default.
"""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn
from torch.utils.data import DataLoader

from sernb.data.dataset import BucketBatchSampler, SERDataset, collate
from sernb.metrics import classification_metrics
from sernb.profiles import EPOCH_SELECTIONS, TrainingSettings
from sernb.utils import atomic_write_bytes, pick_device, seed_everything

STATE_FILE = "trainer_state.pt"


@dataclass(frozen=True, kw_only=True)
class TrainConfig(TrainingSettings):
    """Optimisation settings; the defaults are the paper's (Section 4.2) where it gives them.

    ``epochs``, ``patience``, ``batch_size``, ``lr`` (everything but the pretrained encoder),
    ``lr_text`` (the pretrained text encoder, "BERT layers"), ``class_weights``, ``device`` and
    ``progress`` are :class:`sernb.profiles.TrainingSettings`, declared once for experiments and
    training alike; the rest are the loop's own.
    """

    weight_decay: float = 0.01
    grad_clip: float = 1.0
    warmup: float = 0.1  # fraction of all steps with a linear warm-up; then linear decay to 0
    seed: int = 0
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    bucket: bool = True  # batch utterances of similar length together
    modality_dropout: float = 0.0  # per utterance, mask the whole audio or text with this probability
    supcon: float = 0.0  # weight of the supervised contrastive loss added to cross-entropy
    supcon_temperature: float = 0.1


@dataclass
class Predictions:
    """Class probabilities for every row of a dataset, in row order."""

    probs: np.ndarray  # (N, C)
    labels: np.ndarray  # (N,), -1 where unknown
    loss: float | None = None
    attention: dict[int, np.ndarray] = field(default_factory=dict)  # row -> (heads, T_i, L_i)

    @property
    def preds(self) -> np.ndarray:
        return self.probs.argmax(1)


@dataclass
class FitResult:
    """What :func:`fit` learned: the history and where the best epoch was (1-based)."""

    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    stopped_early: bool
    seconds: float
    device: str

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([h["seconds"] for h in self.history])) if self.history else float("nan")


def param_groups(model: nn.Module, lr: float, lr_text: float) -> list[dict]:
    """Two AdamW groups: parameters under ``model.pretrained_prefixes`` get ``lr_text``."""
    prefixes = tuple(getattr(model, "pretrained_prefixes", ()))
    pretrained, rest = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (pretrained if prefixes and name.startswith(prefixes) else rest).append(p)
    groups = [{"params": rest, "lr": lr, "name": "new"}]
    if pretrained:
        groups.append({"params": pretrained, "lr": lr_text, "name": "pretrained"})
    return groups


def _adamw(groups: list[dict], weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused where torch has the kernel: 7x faster steps on CPU for a 23M-parameter encoder."""
    try:
        return torch.optim.AdamW(groups, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, weight_decay=weight_decay)


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """scikit-learn's "balanced" weights ``n / (C * count)``; absent classes count as 1."""
    counts = np.maximum(np.bincount(labels, minlength=n_classes), 1)
    return torch.as_tensor(len(labels) / (n_classes * counts), dtype=torch.float32)


def _loader(dataset: SERDataset, batch_size: int, seed: int, shuffle: bool, bucket: bool) -> DataLoader:
    sampler = BucketBatchSampler(dataset.lengths(), batch_size, seed=seed, shuffle=shuffle, bucket=bucket)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def _scores(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> dict[str, float]:
    m = classification_metrics(labels, preds, [str(i) for i in range(n_classes)])
    return {k: m[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")}


@torch.no_grad()
def predict(model: nn.Module, dataset: SERDataset, *, batch_size: int = 64, device: str | torch.device = "auto",
            amp: bool = True, weight: torch.Tensor | None = None, keep_attention: Sequence[int] = (),
            progress: bool = False, missing: str | None = None) -> Predictions:
    """Run ``model`` in eval mode over ``dataset``; keep attention maps for rows in ``keep_attention``.

    ``missing="audio"`` or ``"text"`` withholds that modality from every utterance (robustness tests).
    """
    from tqdm.auto import tqdm

    if missing not in (None, "audio", "text"):
        raise ValueError(f"missing must be None, 'audio' or 'text', not {missing!r}")
    if missing is not None and not getattr(model, "accepts_missing_modality", False):
        raise ValueError(f"{type(model).__name__} cannot run without its {missing}: it needs both branches")

    device = pick_device(device) if isinstance(device, str) else device
    model.to(device).eval()
    n = len(dataset)
    probs: np.ndarray | None = None
    keep = set(int(i) for i in keep_attention)
    attention: dict[int, np.ndarray] = {}
    loss_sum, known = 0.0, 0
    for batch in tqdm(_loader(dataset, batch_size, 0, shuffle=False, bucket=True), desc="predict",
                      disable=not progress, leave=False):
        batch = _to(batch, device)
        if missing is not None:
            batch[f"{missing}_missing"] = torch.ones(len(batch["label"]), dtype=torch.bool, device=device)
        with _autocast(device, amp):
            out = model(batch)
        logits = out["logits"].float()
        if probs is None:
            probs = np.zeros((n, logits.shape[1]), dtype=np.float32)
        rows = batch["index"].cpu().numpy()
        probs[rows] = torch.softmax(logits, -1).cpu().numpy()
        labels = batch["label"]
        if (labels >= 0).all():
            loss_sum += float(F.cross_entropy(logits, labels, weight=_on(weight, device), reduction="sum"))
            known += len(labels)
        if keep and out.get("attention") is not None:
            _keep_attention(out["attention"], out.get("frame_mask"), out.get("token_mask"), batch, rows, keep,
                            attention)
    if probs is None:
        raise ValueError("predict: the dataset is empty")
    loss = loss_sum / known if known == n else None
    return Predictions(probs, dataset.labels.copy(), loss, attention)


def _on(weight: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if weight is None else weight.to(device)


def _keep_attention(weights: torch.Tensor, frame_mask: torch.Tensor | None, token_mask: torch.Tensor | None,
                    batch: dict[str, torch.Tensor], rows: np.ndarray, keep: set[int], into: dict[int, np.ndarray]
                    ) -> None:
    """Store (heads, real frames, the utterance's tokens) slices of the attention maps of chosen rows."""
    frame_mask = batch["mfcc_mask"] if frame_mask is None else frame_mask
    if token_mask is None:
        token_mask = batch["tokens_mask"] if "tokens_mask" in batch else batch["text_states_mask"]
    for j, row in enumerate(rows):
        if int(row) in keep:
            t, length = int(frame_mask[j].sum()), int(token_mask[j].sum())
            into[int(row)] = weights[j, :, :t, :length].float().cpu().numpy()


def fit(model: nn.Module, train_set: SERDataset, val_set: SERDataset | None, config: TrainConfig,
        *, n_classes: int | None = None, checkpoint_dir: str | Path | None = None,
        on_epoch_end: Callable[[dict[str, float]], None] | None = None,
        augment: Callable[[int], SERDataset] | None = None) -> FitResult:
    """Train ``model`` on ``train_set``, early-stop on ``val_set``; return the history.

    The model ends with the weights of the epoch ``config.epoch_selection`` keeps (by default the
    best on validation, scored by ``config.selection_metric``). ``on_epoch_end(record)`` runs after each epoch is
    recorded and checkpointed (a notebook can plot live; a test can simulate a crash).
    ``augment(epoch)`` returns that epoch's training set (same utterances in the same order,
    augmented inputs; see :class:`sernb.augment.EpochAugmenter`); batches stay those of ``train_set``.
    """
    from tqdm.auto import tqdm

    device = pick_device(config.device)
    seed_everything(config.seed)
    n_classes = n_classes or int(max(train_set.labels.max(), val_set.labels.max() if val_set else 0)) + 1
    has_val = val_set is not None and len(val_set) > 0
    if (config.modality_dropout or config.supcon) and not getattr(model, "accepts_missing_modality", False):
        raise ValueError("modality_dropout and supcon need a model with both an audio and a text branch "
                         f"(a SERModel with modalities='audio+text'), not {type(model).__name__}")
    model.to(device)
    weight = class_weights(train_set.labels, n_classes).to(device) if config.class_weights else None
    loader = _loader(train_set, config.batch_size, config.seed, shuffle=True, bucket=config.bucket)
    optimizer = _adamw(param_groups(model, config.lr, config.lr_text), config.weight_decay)
    scheduler = _warmup_linear(optimizer, config.epochs * len(loader), config.warmup)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    state = _TrainerState()
    if ckpt is not None and (ckpt / STATE_FILE).exists():
        state = _restore(ckpt, model, optimizer, scheduler, device, asdict(config))

    bar = tqdm(total=config.epochs, initial=len(state.history), desc="epochs", disable=not config.progress)
    try:
        while not state.finished and len(state.history) < config.epochs:
            epoch = len(state.history)
            loader.batch_sampler.set_epoch(epoch)
            start, cpu_start = time.perf_counter(), time.process_time()
            epoch_loader = loader
            if augment is not None:  # same batches of row positions, this epoch's augmented inputs
                epoch_loader = DataLoader(augment(epoch), batch_sampler=loader.batch_sampler,
                                          collate_fn=collate, num_workers=0)
            record = {"epoch": epoch + 1, **_train_epoch(model, epoch_loader, optimizer, scheduler, config,
                                                          device, weight, n_classes)}
            if has_val:
                val = predict(model, val_set, batch_size=config.batch_size, device=device, amp=config.amp,
                              weight=weight)
                record.update({"val_loss": val.loss, **{f"val_{k}": v for k, v in
                                                        _scores(val.labels, val.preds, n_classes).items()}})
            record["seconds"] = time.perf_counter() - start
            record["cpu_seconds"] = time.process_time() - cpu_start  # honest under a busy machine
            record["lr"] = optimizer.param_groups[0]["lr"]
            state.update(record, model, has_val, config.patience, config.epochs, config.epoch_selection,
                         len(val_set) if has_val else 0, config.selection_metric)
            if ckpt is not None:
                _save(ckpt, state, model, optimizer, scheduler, asdict(config))
            bar.update(1)
            bar.set_postfix({k: round(record[k], 3) for k in ("loss", f"val_{config.selection_metric}") if k in record})
            if on_epoch_end is not None:
                on_epoch_end(record)
    finally:
        bar.close()
    if state.best_weights is not None:
        load_trained_state(model, state.best_weights, "the kept epoch's weights")
    model.eval()
    return FitResult(state.history, state.best_epoch, state.best_score, state.stopped_early,
                     float(sum(h["seconds"] for h in state.history)), str(device))


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, config: TrainConfig, device: torch.device,
                 weight: torch.Tensor | None, n_classes: int) -> dict[str, float]:
    from tqdm.auto import tqdm

    model.train()
    loss_sum, contrast_sum, labels, preds = 0.0, 0.0, [], []
    for batch in tqdm(loader, desc="train", leave=False, disable=not config.progress):
        batch = _to(batch, device)
        if config.modality_dropout:
            batch.update(drop_modalities(len(batch["label"]), config.modality_dropout, device))
        with _autocast(device, config.amp):
            out = model(batch)
        logits = out["logits"].float()
        loss = F.cross_entropy(logits, batch["label"], weight=weight)
        if config.supcon:
            contrast = multimodal_supcon(out, batch, config.supcon_temperature)
            loss = loss + config.supcon * contrast
            contrast_sum += float(contrast.detach()) * len(logits)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        loss_sum += float(loss.detach()) * len(logits)
        labels.append(batch["label"].cpu().numpy())
        preds.append(logits.argmax(1).cpu().numpy())
    y, p = np.concatenate(labels), np.concatenate(preds)
    extra = {"supcon_loss": contrast_sum / len(y)} if config.supcon else {}
    return {"loss": loss_sum / len(y), **_scores(y, p, n_classes), **extra}


def drop_modalities(n: int, p: float, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Modality dropout: each utterance loses, with probability ``p``, its audio or its text (50/50).

    Never both. Draws from torch's global RNG, which :func:`fit` seeds and checkpoints, so runs
    repeat and resume exactly.
    """
    drop = torch.rand(n) < p
    audio = torch.rand(n) < 0.5
    return {"audio_missing": (drop & audio).to(device), "text_missing": (drop & ~audio).to(device)}


def supcon_loss(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al., 2020, the "L_out" form) of (N, D) features.

    Each vector is pulled towards every other vector of its class and pushed from the rest, by
    cosine similarity over ``temperature``. Anchors without a positive are left out; a batch
    with none returns 0 (still differentiable).
    """
    z = F.normalize(features.float(), dim=1)
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = (z @ z.T / temperature).masked_fill(eye, -torch.inf)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    count = positive.sum(1)
    has = count > 0
    if not has.any():
        return z.sum() * 0.0
    return -(log_prob.masked_fill(~positive, 0.0).sum(1)[has] / count[has]).mean()


def multimodal_supcon(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                      temperature: float) -> torch.Tensor:
    """:func:`supcon_loss` over the union of the batch's audio and text global vectors.

    Same-class audio and text vectors are positives of each other, so the two branches learn one
    emotion space. Vectors of a modality dropped for an utterance are left out.
    """
    if out.get("audio_vec") is None or out.get("text_vec") is None:
        raise ValueError("supcon needs a model that returns 'audio_vec' and 'text_vec'")
    labels = batch["label"]
    keep_audio = ~batch["audio_missing"] if "audio_missing" in batch else torch.ones_like(labels, dtype=torch.bool)
    keep_text = ~batch["text_missing"] if "text_missing" in batch else torch.ones_like(labels, dtype=torch.bool)
    features = torch.cat([out["audio_vec"][keep_audio], out["text_vec"][keep_text]])
    return supcon_loss(features, torch.cat([labels[keep_audio], labels[keep_text]]), temperature)


def _warmup_linear(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float
                   ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` of the steps, then linear decay to zero at the last step.

    Not ``transformers.get_linear_schedule_with_warmup``: that one starts at a learning rate of 0
    (step ``s`` gets ``s / warm``), ours at ``1 / warm`` (step ``s`` gets ``(s + 1) / warm``), so
    swapping it would change every stored number; kept so results stay comparable.
    """
    warm = max(1, math.ceil(warmup * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class _TrainerState:
    """Bookkeeping that must survive an interruption."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = -math.inf  # the kept epoch's validation score
    best_epoch: int = 0  # the kept epoch (config.epoch_selection)
    top_score: float = -math.inf  # the highest validation score so far (patience counts from it)
    bad_epochs: int = 0
    stopped_early: bool = False
    finished: bool = False
    best_weights: dict[str, torch.Tensor] | None = None  # trained_state of the kept epoch

    def update(self, record: dict[str, float], model: nn.Module, has_val: bool, patience: int | None,
               epochs: int, selection: str = "best", n_val: int = 0, metric: str = "balanced_accuracy") -> None:
        self.history.append(record)
        score = record[f"val_{metric}"] if has_val else float(len(self.history))
        if score > self.top_score:
            self.top_score, self.bad_epochs = score, 0
        else:
            self.bad_epochs += 1
        if not has_val or keeps_epoch(selection, score, self.best_score, self.top_score, n_val):
            self.best_score, self.best_epoch = score, record["epoch"]
            self.best_weights = _cpu_copy(trained_state(model))
        self.stopped_early = has_val and patience is not None and self.bad_epochs >= patience
        self.finished = self.stopped_early or len(self.history) >= epochs


def keeps_epoch(selection: str, score: float, kept: float, top: float, n_val: int) -> bool:
    """Whether the epoch just scored ``score`` replaces the kept one (``kept``: its score; ``top``:
    the highest so far, this epoch included), under the ``epoch_selection`` rule ``selection``.

    ``one-se`` keeps the latest epoch within one standard error of the top score, the binomial
    sqrt(p(1-p)/n) of ``n_val`` validation rows: on ~100 rows two epochs 3 points apart are a tie,
    and the later one has seen more of the learning-rate schedule (for an F1 score the same width
    serves as an approximation).
    """
    if selection == "last":
        return True
    if selection == "one-se":
        return score >= top - math.sqrt(max(top * (1 - top), 0.0) / max(n_val, 1))
    if selection == "best":
        return score > kept
    raise ValueError(f"epoch_selection must be one of {', '.join(EPOCH_SELECTIONS)}, not {selection!r}")


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Independent contiguous CPU copies (no shared storage, so safetensors accepts them)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def trained_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The part of ``model.state_dict()`` training can change: every buffer and every parameter
    that requires a gradient (frozen ones are restored by building the model, not from checkpoints)."""
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k not in frozen}


def load_trained_state(model: nn.Module, state: dict[str, torch.Tensor], source: object) -> None:
    """Load :func:`trained_state` (or a full state dict) into ``model``; anything else is an error
    naming ``source``: a key the model lacks, or a trainable weight the state lacks."""
    hint = "(made by another model or with other settings?)"
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a shape mismatch
        raise ValueError(f"{source} does not fit this model {hint}: {str(exc).splitlines()[-1].strip()}") from exc
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    missing = [k for k in result.missing_keys if k not in frozen]
    if missing or result.unexpected_keys:
        raise ValueError(f"{source} does not fit this model {hint}: missing {missing[:3]}, "
                         f"unexpected {result.unexpected_keys[:3]}")


def _save(folder: Path, state: _TrainerState, model: nn.Module, optimizer: torch.optim.Optimizer,
          scheduler: torch.optim.lr_scheduler.LRScheduler, config: dict) -> None:
    """This epoch's weights first (a new file), then the state that points at them, then clean up.

    The kept epoch's file is the one written in that epoch, so each epoch writes one file.
    """
    epoch = len(state.history)
    last = f"weights-e{epoch:03d}.safetensors"
    kept_now = state.best_epoch == epoch and state.best_weights is not None  # already copied by update()
    atomic_write_bytes(folder / last, save_safetensors(state.best_weights if kept_now else
                                                       _cpu_copy(trained_state(model))))
    best = f"weights-e{state.best_epoch:03d}.safetensors"
    if not (folder / best).is_file() and state.best_weights is not None:
        # a checkpoint written before one file per epoch, resumed: its kept weights live in memory
        atomic_write_bytes(folder / best, save_safetensors(state.best_weights))
    payload = {
        "history": state.history, "best_score": state.best_score, "best_epoch": state.best_epoch,
        "top_score": state.top_score, "bad_epochs": state.bad_epochs, "stopped_early": state.stopped_early, "finished": state.finished,
        "last_file": last, "best_file": best, "config": config,
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state(),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(folder / STATE_FILE, buffer.getvalue())
    for old in folder.glob("*.safetensors"):
        if old.name not in (last, best):
            old.unlink(missing_ok=True)


#: Settings that may differ between an interrupted run and its resumption.
_RESUMABLE_CHANGES = ("device", "progress", "amp")


def _restore(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler, device: torch.device,
             config: dict) -> _TrainerState:
    payload = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    defaults = asdict(TrainConfig())  # a checkpoint older than a setting was made with its default
    changed = sorted(k for k, v in config.items()
                     if k not in _RESUMABLE_CHANGES and payload["config"].get(k, defaults.get(k)) != v)
    if changed:
        raise ValueError(f"the checkpoint in {folder} was made with other settings ({', '.join(changed)}); "
                         "resume with the same TrainConfig or use another checkpoint_dir")
    load_trained_state(model, load_safetensors((folder / payload["last_file"]).read_bytes()), folder / payload["last_file"])
    model.to(device)
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    _set_rng_state(payload["rng"])
    return _TrainerState(
        history=payload["history"], best_score=payload["best_score"], best_epoch=payload["best_epoch"],
        top_score=payload.get("top_score", payload["best_score"]), bad_epochs=payload["bad_epochs"], stopped_early=payload["stopped_early"],
        finished=payload["finished"],
        best_weights=load_safetensors((folder / payload["best_file"]).read_bytes()),
    )


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x):
    """torch.load gives lists back where Python's random state wants tuples."""
    return tuple(_tuples(v) for v in x) if isinstance(x, list | tuple) else x
