"""PyTorch access to a shard folder: :class:`ShardDataset` and :class:`RatioBatchSampler`.

Tensor layout of one sample (``dataset[i]``)::

    image      float32 (3, S, S)  RGB, (x - 127.5) / 128: the detector's preprocessing
               (uint8 (3, S, S) with normalise=False)
    label      int64 ()           0 negative, 1 positive, -1 part, -2 landmark
    bbox       float32 (4,)       box offsets relative to the crop (zero for negatives)
    landmarks  float32 (10,)      x1, y1, ..., x5, y5 relative to the crop (zero unless landmark)

``dataset[list_of_indices]`` returns the same keys with a leading batch axis, read
block by block (see :mod:`mtcnn_data.io.reader`); that is what the fast recipe uses::

    ds = ShardDataset("data/pnet")
    loader = DataLoader(ds, sampler=RatioBatchSampler(ds, 384), batch_size=None, num_workers=2)

Worker safety: the HDF5 files are opened on first read in each process (a dataset
used before ``fork`` reopens them in the worker) and are never pickled.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..core.schema import CLASS_NAMES, CLASS_ORDER
from .reader import ShardReader, batch_class_counts, ratio_batches

__all__ = ["ShardDataset", "RatioBatchSampler", "TENSOR_KEYS"]

#: Keys of a sample or batch, in order.
TENSOR_KEYS = ("image", "label", "bbox", "landmarks")
#: Shard datasets read for them.
_READ_FIELDS = ("images", "labels", "bbox", "landmarks")


class ShardDataset(Dataset):
    """The samples of a shard folder as tensors (layout in the module docstring).

    ``normalise``: float ``(x - mean) * scale`` (default 127.5 and 1/128, as the
    detector) or, when false, the raw uint8 pixels. ``channels``: ``"rgb"`` (as
    stored) or ``"bgr"``. ``transform(sample) -> sample`` runs on single samples,
    ``batch_transform(batch) -> batch`` on batches read with a list of indices.
    """

    def __init__(self, folder, transform: Optional[Callable] = None, *, normalise: bool = True,
                 mean: float = 127.5, scale: float = 1.0 / 128.0, channels: str = "rgb",
                 batch_transform: Optional[Callable] = None):
        if channels not in ("rgb", "bgr"):
            raise ValueError(f"channels must be 'rgb' or 'bgr', got {channels!r}")
        self.reader = ShardReader(folder)
        self.transform = transform
        self.batch_transform = batch_transform
        self.normalise, self.mean, self.scale, self.channels = normalise, float(mean), float(scale), channels

    def __len__(self) -> int:
        return len(self.reader)

    def __repr__(self) -> str:
        return f"ShardDataset({str(self.reader.folder)!r}: {len(self):,} samples, {self.crop_size}x{self.crop_size})"

    @property
    def crop_size(self) -> int:
        return self.reader.crop_size

    @property
    def labels(self) -> np.ndarray:
        return self.reader.labels

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            sample = {k: v[0] for k, v in self._read([key]).items()}
            return self.transform(sample) if self.transform else sample
        batch = self._read(key)
        return self.batch_transform(batch) if self.batch_transform else batch

    def __getitems__(self, indices: Sequence[int]) -> List[dict]:
        """Per-sample dicts for ``DataLoader(batch_size=B)``, read block by block."""
        batch = self._read(indices)
        samples = [{k: v[j] for k, v in batch.items()} for j in range(len(batch["label"]))]
        return [self.transform(s) for s in samples] if self.transform else samples

    def _read(self, indices) -> Dict[str, torch.Tensor]:
        if isinstance(indices, torch.Tensor):
            indices = indices.numpy()
        raw = self.reader.take(indices, fields=_READ_FIELDS)
        return self.to_tensors(raw)

    def to_tensors(self, raw: dict) -> Dict[str, torch.Tensor]:
        """Numpy shard fields (``images``, ``labels``, ``bbox``, ``landmarks``) to the tensor layout.

        The arithmetic is numpy's: small torch ops pay for torch's thread pool, which
        costs more than the work on a busy CPU.
        """
        images = raw["images"].transpose(0, 3, 1, 2)
        if self.channels == "bgr":
            images = images[:, ::-1]
        if self.normalise:
            images = (images.astype(np.float32) - np.float32(self.mean)) * np.float32(self.scale)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(images)),
            "label": torch.from_numpy(raw["labels"].astype(np.int64)),
            "bbox": torch.from_numpy(np.ascontiguousarray(raw["bbox"], dtype=np.float32)),
            "landmarks": torch.from_numpy(np.ascontiguousarray(raw["landmarks"], dtype=np.float32)),
        }

    def close(self) -> None:
        self.reader.close()


def _reader_of(dataset) -> ShardReader:
    if isinstance(dataset, ShardReader):
        return dataset
    reader = getattr(dataset, "reader", None)
    if not isinstance(reader, ShardReader):
        raise TypeError(f"expected a ShardDataset or ShardReader, got {type(dataset).__name__}")
    return reader


class RatioBatchSampler(Sampler):
    """Batches of indices that keep the class ratio (the manifest's, 3:1:1:2 by default).

    Each batch holds :func:`~mtcnn_data.io.reader.batch_class_counts` samples per class,
    exact when ``batch_size`` is a multiple of the ratio's sum. Indices are drawn
    window by window over the HDF5 chunks (``pool_blocks`` chunks at a time), so a
    batch decompresses a handful of chunks, not one per sample. Every ``iter()`` is a
    new epoch with a new order (``seed`` and the epoch number); :meth:`set_epoch` sets it.

    Use it as ``DataLoader(ds, sampler=sampler, batch_size=None)`` (each batch read in
    one call) or ``DataLoader(ds, batch_sampler=sampler)`` (per-sample collation).
    """

    def __init__(self, dataset, batch_size: int, seed: int = 0, ratio: Optional[Sequence[float]] = None,
                 pool_blocks: int = 8):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        reader = _reader_of(dataset)
        ratio = ratio if ratio is not None else [reader.ratio[k] for k in CLASS_NAMES]
        self.per_class = batch_class_counts(batch_size, ratio)
        self.batch_size, self.seed, self.pool_blocks, self.epoch = batch_size, seed, pool_blocks, 0
        self.labels = reader.labels
        self.blocks = reader.blocks()
        totals = np.array([int(np.sum(self.labels == c)) for c in CLASS_ORDER])
        used = self.per_class > 0
        self._len = int(min(totals[used] // self.per_class[used])) if used.any() else 0
        if self._len == 0:
            raise ValueError(
                f"{reader.folder}: too few samples for one batch of {batch_size} at "
                f"{dict(zip(CLASS_NAMES, self.per_class.tolist()))} per class; the folder holds "
                f"{dict(zip(CLASS_NAMES, totals.tolist()))}. Use a smaller batch size."
            )

    def __len__(self) -> int:
        return self._len

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[List[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        for batch in ratio_batches(self.labels, self.blocks, self.per_class, rng, self.pool_blocks):
            yield batch.tolist()
