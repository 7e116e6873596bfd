"""Torch side of the data: per-utterance inputs -> padded batches with masks.

A :class:`SERDataset` holds, for each utterance, a few named arrays (``mfcc`` (T, 40) frames,
``tokens`` (L,) ids, ``text_states`` (L, D) frozen-encoder states, or whatever a registered
system needs) plus its class index. :func:`collate` pads every variable-length field to the longest
in the batch and adds ``<field>_mask`` (True = real, False = padding). :class:`BucketBatchSampler`
groups utterances of similar length so little time is spent on padding (it matters on 2 CPU cores).
Used by :mod:`sernb.train` and chapter "Training the paper's model".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class SERDataset(Dataset):
    """Utterances as named arrays plus labels (class indices; -1 when unknown, e.g. at predict)."""

    def __init__(self, inputs: Mapping[str, Sequence[np.ndarray]], labels: Sequence[int] | None = None,
                 max_frames: int | None = None) -> None:
        if not inputs:
            raise ValueError("SERDataset needs at least one input field")
        sizes = {name: len(values) for name, values in inputs.items()}
        n = next(iter(sizes.values()))
        if any(size != n for size in sizes.values()):
            raise ValueError(f"input fields have different numbers of utterances: {sizes}")
        self.inputs = {name: list(values) for name, values in inputs.items()}
        if "mfcc" in self.inputs and max_frames is not None:  # the paper truncates long clips
            self.inputs["mfcc"] = [x[:max_frames] for x in self.inputs["mfcc"]]
        self.labels = np.full(n, -1, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
        if len(self.labels) != n:
            raise ValueError(f"{len(self.labels)} labels for {n} utterances")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, np.ndarray | int]:
        item: dict[str, np.ndarray | int] = {name: values[i] for name, values in self.inputs.items()}
        item["label"] = int(self.labels[i])
        item["index"] = int(i)
        return item

    def lengths(self) -> np.ndarray:
        """Length of each utterance's longest-running field (frames if there is audio)."""
        field = "mfcc" if "mfcc" in self.inputs else next(iter(self.inputs))
        return np.asarray([len(x) for x in self.inputs[field]], dtype=np.int64)

    def subset(self, rows: Sequence[int]) -> SERDataset:
        """A dataset of the given row positions (no copies of the arrays)."""
        rows = list(rows)
        return SERDataset({k: [v[i] for i in rows] for k, v in self.inputs.items()}, self.labels[rows])


def pad(arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack arrays of shape (L_i, ...) into (B, L_max, ...) with zeros, plus a (B, L_max) mask."""
    lengths = [len(a) for a in arrays]
    longest = max(max(lengths), 1)
    first = np.asarray(arrays[0])
    out = np.zeros((len(arrays), longest, *first.shape[1:]), dtype=first.dtype)
    mask = np.zeros((len(arrays), longest), dtype=bool)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
        mask[i, : len(a)] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


def collate(items: Sequence[Mapping[str, np.ndarray | int]]) -> dict[str, torch.Tensor]:
    """Batch a list of :meth:`SERDataset.__getitem__` items: pad each field, add its mask."""
    batch: dict[str, torch.Tensor] = {
        "label": torch.as_tensor([it["label"] for it in items], dtype=torch.long),
        "index": torch.as_tensor([it["index"] for it in items], dtype=torch.long),
    }
    for name in items[0]:
        if name in ("label", "index"):
            continue
        values, mask = pad([np.asarray(it[name]) for it in items])
        batch[name] = values.float() if values.is_floating_point() else values.long()
        batch[f"{name}_mask"] = mask
    return batch


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffled batches of similar-length utterances, reproducible from ``(seed, epoch)``.

    Indices are shuffled, cut into pools of ``pool_factor`` batches, sorted by length inside each
    pool and cut into batches; the batch order is shuffled again. The order depends only on the
    seed and the epoch number (:meth:`set_epoch`), so a resumed run sees the same batches.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, shuffle: bool = True,
                 bucket: bool = True, pool_factor: int = 4) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.bucket = bucket
        self.pool = batch_size * pool_factor
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        batches = []
        for start in range(0, len(order), self.pool):
            pool = order[start:start + self.pool]
            if self.bucket:
                pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += [pool[i:i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return iter(batches)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size) if len(self.lengths) else 0
