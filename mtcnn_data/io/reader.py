"""Read a shard folder as one indexable sequence of samples (numpy, no torch).

``open_shards(DIR)`` goes through ``DIR/manifest.json``: the shards it lists, in its
order, make one sequence of ``len(reader)`` samples. A sample is a dict of the shard
datasets (``images``, ``labels``, ``bbox``, ``landmarks``, ``iou``, ``crop_box``,
``source``, ``augment``: :data:`mtcnn_data.core.schema.SAMPLE_FIELDS`) plus ``source_path``.
Each shard is opened (and checked against the schema) by :class:`mtcnn_data.io.shards.ShardFile`.

HDF5 stores the datasets in gzip chunks (about 600 rows of 12 x 12 images); reading
one row decompresses its whole chunk. Everything here therefore reads by *block*,
the rows of one ``images`` chunk: ``take`` groups the requested rows by block and
decompresses each block once, ``iter_batches`` walks whole blocks.

File handles are opened on first use in each process (a reader made before a fork
reopens its files in the child) and are never pickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from ..core.schema import CLASS_NAMES, CLASS_ORDER, FIELD_NAMES, class_index, empty_samples
from .shards import ShardFile, ShardReadError

__all__ = ["ShardReader", "ShardReadError", "open_shards", "FIELDS", "batch_class_counts", "ratio_batches"]

#: The per-sample shard datasets, in schema order.
FIELDS = FIELD_NAMES
#: Rows per block where a dataset is stored without chunks.
CONTIGUOUS_BLOCK = 1024
#: HDF5 chunk cache per dataset: a window of image chunks (see ratio_batches) and the small fields' chunks.
CHUNK_CACHE_BYTES = 16 << 20


def open_shards(folder) -> "ShardReader":
    """Open the shard folder ``folder`` (it must hold ``manifest.json``)."""
    return ShardReader(folder)


def _load_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not folder.is_dir():
        raise ShardReadError(f"{folder}: not a folder; expected a shard folder written by mtcnn-data gen-pnet or mine")
    if not path.is_file():
        hint = " It holds an unfinished run (.incomplete/): finish it with --resume." if (folder / ".incomplete").exists() else ""
        raise ShardReadError(
            f"{folder}: no manifest.json; a finished gen-pnet/mine run writes it last, so this folder is not "
            f"(yet) a complete shard folder.{hint}"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShardReadError(f"{path}: not readable JSON ({exc}); run `mtcnn-data verify {folder}`") from exc
    if not isinstance(manifest.get("shards"), list) or "crop_size" not in manifest:
        raise ShardReadError(f"{path}: expected keys 'shards' (a list) and 'crop_size'; is this an mtcnn-data manifest?")
    return manifest


def _check_shards_present(folder: Path, manifest: dict) -> None:
    missing = [e["name"] for e in manifest["shards"] if not (folder / e["name"]).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ShardReadError(
            f"{folder}: {len(missing)} of {len(manifest['shards'])} shard(s) listed in manifest.json are missing "
            f"({shown}); copy the whole folder, or regenerate it. `mtcnn-data verify {folder}` lists every fault."
        )


class ShardReader:
    """The samples of a shard folder, in manifest order.

    ``reader[i]`` is one sample (dict of numpy values plus ``source_path``);
    ``reader[a:b]``, ``reader[[i, j, ...]]`` a batch (dict of arrays with a leading
    axis; ``source_path`` an object array of str). See :meth:`iter_batches` for epochs.
    """

    def __init__(self, folder):
        self.folder = Path(os.fspath(folder))
        self.manifest = _load_manifest(self.folder)
        _check_shards_present(self.folder, self.manifest)
        self.names = [e["name"] for e in self.manifest["shards"]]
        self.counts = np.array([int(e["count"]) for e in self.manifest["shards"]], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.crop_size = int(self.manifest["crop_size"])
        self._files: Dict[int, object] = {}
        self._open_datasets: Dict[int, dict] = {}
        self._sources: Dict[int, np.ndarray] = {}
        self._labels: Optional[np.ndarray] = None
        self._pid = os.getpid()

    # ------------------------------------------------------------------ summary

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __repr__(self) -> str:
        return f"ShardReader({str(self.folder)!r}: {len(self):,} samples, {len(self.names)} shard(s), {self.crop_size}x{self.crop_size})"

    @property
    def stage(self) -> str:
        return str(self.manifest.get("stage", ""))

    @property
    def class_counts(self) -> Dict[str, int]:
        """Samples per class (negative, positive, part, landmark), from the manifest."""
        totals = self.manifest.get("totals") or {}
        if all(k in totals for k in CLASS_NAMES):
            return {k: int(totals[k]) for k in CLASS_NAMES}
        return {k: int(sum(e["classes"][k] for e in self.manifest["shards"])) for k in CLASS_NAMES}

    @property
    def ratio(self) -> Dict[str, int]:
        """The manifest's class ratio (negative:positive:part:landmark)."""
        ratio = self.manifest.get("ratio") or self.class_counts
        return {k: int(ratio[k]) for k in CLASS_NAMES}

    @property
    def labels(self) -> np.ndarray:
        """All labels (int8, one a sample), read once and cached."""
        if self._labels is None:
            self._labels = np.concatenate([self._datasets(s)["labels"][()] for s in range(len(self.names))] or [np.zeros(0, np.int8)])
        return self._labels

    # ------------------------------------------------------------------ files

    def _datasets(self, shard: int) -> dict:
        """The open h5py datasets of ``shard`` in this process (reopened after a fork).

        The datasets stay open: HDF5 keeps its chunk cache per open dataset, and
        ``file[name]`` would open (and drop) a fresh one, cache and all, every time.
        """
        if self._pid != os.getpid():
            self._forget_inherited()
        if shard not in self._files:
            self._files[shard] = self._open(shard)
            self._open_datasets[shard] = self._files[shard].datasets
        return self._open_datasets[shard]

    def _open(self, shard: int) -> ShardFile:
        hint = f"; run `mtcnn-data verify {self.folder}`"
        try:
            f = ShardFile(self.folder / self.names[shard], CHUNK_CACHE_BYTES, 1009)
        except ShardReadError as exc:
            raise ShardReadError(f"{exc}{hint}") from exc
        return f.check(self.crop_size, int(self.counts[shard]), f" (rows from the manifest){hint}")

    def source_paths(self, shard: int) -> np.ndarray:
        """``source_paths`` of one shard (``<dataset>/<relpath>``, object array of str), cached."""
        if shard not in self._sources:
            self._datasets(shard)
            self._sources[shard] = np.array(self._files[shard].source_paths(), dtype=object)
        return self._sources[shard]

    def block_rows(self, shard: int) -> int:
        """Rows of one ``images`` chunk of ``shard``: the unit every read decompresses."""
        self._datasets(shard)
        return self._files[shard].chunk_rows("images", CONTIGUOUS_BLOCK)

    def blocks(self) -> List[tuple]:
        """Every block as ``(global_start, global_stop)``, in order."""
        out = []
        for s, count in enumerate(self.counts):
            step = self.block_rows(s) if count else 1
            out += [(int(self.starts[s] + a), int(self.starts[s] + min(a + step, count))) for a in range(0, int(count), step)]
        return out

    def _forget_inherited(self) -> None:
        """In a forked child: close this process's copies of the parent's handles, open afresh."""
        for f in self._files.values():
            try:
                f.close()
            except Exception:  # pragma: no cover - a handle the child cannot close is dropped
                pass
        self._files, self._open_datasets, self._pid = {}, {}, os.getpid()

    def close(self) -> None:
        """Close the open files (the reader stays usable: files reopen on demand)."""
        for f in self._files.values():
            f.close()
        self._files, self._open_datasets = {}, {}

    def __enter__(self) -> "ShardReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_files"], state["_open_datasets"] = {}, {}
        return state

    def __del__(self):  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ reading

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            batch = self.take([self._check_index(int(key))])
            return {k: v[0] for k, v in batch.items()}
        if isinstance(key, slice):
            return self.read_range(*key.indices(len(self))[:2]) if key.step in (None, 1) else self.take(np.arange(*key.indices(len(self))))
        return self.take(key)

    def _check_index(self, i: int) -> int:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"sample index {i} out of range for {n:,} samples")
        return i % n

    def _shard_of(self, indices: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, indices, side="right") - 1

    def read_range(self, start: int, stop: int, fields: Sequence[str] = FIELDS) -> dict:
        """Rows ``start:stop`` (global indices) as a batch, read as contiguous slices.

        ``fields``: the shard datasets to read; ``source_path`` comes with ``source``.
        """
        stop = max(start, stop)
        parts = []
        for s in range(len(self.names)):
            a, b = max(start, self.starts[s]), min(stop, self.starts[s + 1])
            if a < b:
                parts.append(self._read_shard_rows(s, int(a - self.starts[s]), int(b - self.starts[s]), fields))
        return _concat(parts, fields, self.crop_size)

    def _read_shard_rows(self, shard: int, a: int, b: int, fields: Sequence[str]) -> dict:
        f = self._datasets(shard)
        out = {k: f[k][a:b] for k in fields}
        if "source" in out:
            out["source_path"] = self.source_paths(shard)[out["source"]]
        return out

    def take(self, indices, fields: Sequence[str] = FIELDS) -> dict:
        """The samples at ``indices`` (any order, repeats allowed) as a batch, in that order.

        Rows are grouped by block so each block is decompressed once per call.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx[(idx < -n) | (idx >= n)][0])
            raise IndexError(f"sample index {bad} out of range for {n:,} samples")
        idx = idx % max(n, 1)
        order = np.argsort(idx, kind="stable")
        parts, positions = [], []
        for s, local, where in self._group_by_block(idx[order]):
            block = self._read_shard_rows(s, int(local.min()), int(local.max()) + 1, fields)
            picked = local - local.min()
            parts.append({k: v[picked] for k, v in block.items()})
            positions.append(order[where])
        batch = _concat(parts, fields, self.crop_size)
        return _reorder(batch, np.concatenate(positions) if positions else np.zeros(0, np.int64))

    def _group_by_block(self, sorted_idx: np.ndarray):
        """``(shard, local rows, positions in sorted_idx)`` per block touched."""
        shards = self._shard_of(sorted_idx)
        for s in np.unique(shards):
            where = np.flatnonzero(shards == s)
            local = sorted_idx[where] - self.starts[s]
            block_ids = local // self.block_rows(int(s))
            cuts = np.flatnonzero(np.diff(block_ids)) + 1
            for w, l in zip(np.split(where, cuts), np.split(local, cuts)):
                yield int(s), l, w

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, drop_last: bool = False,
                     fields: Sequence[str] = FIELDS, pool_blocks: int = 8) -> Iterator[dict]:
        """Batches of ``batch_size`` samples covering the folder once (an epoch).

        In order when ``shuffle`` is false. Shuffled: blocks are visited in a random
        order (``seed``) and the rows of ``pool_blocks`` consecutive blocks are mixed
        before they are cut into batches, so every block is decompressed exactly once.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rng = np.random.default_rng(seed)
        blocks = self.blocks()
        if shuffle:
            blocks = [blocks[i] for i in rng.permutation(len(blocks))]
        pending: List[dict] = []
        for k in range(0, len(blocks), pool_blocks):
            pool = _concat(pending + [self.read_range(a, b, fields) for a, b in blocks[k:k + pool_blocks]], fields, self.crop_size)
            if shuffle:
                pool = _reorder(pool, rng.permutation(_rows(pool)))
            full = _rows(pool) // batch_size * batch_size
            yield from (_slice(pool, i, i + batch_size) for i in range(0, full, batch_size))
            pending = [_slice(pool, full, _rows(pool))]
        rest = _concat(pending, fields, self.crop_size)
        if _rows(rest) and not drop_last:
            yield rest

    def class_indices(self) -> Dict[str, np.ndarray]:
        """Global indices of each class's samples."""
        labels = self.labels
        return {name: np.flatnonzero(labels == code) for name, code in zip(CLASS_NAMES, CLASS_ORDER)}


# ---------------------------------------------------------------------- ratio batches

def batch_class_counts(batch_size: int, ratio: Sequence[float]) -> np.ndarray:
    """Samples per class (negative, positive, part, landmark) in one batch of ``batch_size``.

    Largest-remainder rounding of ``batch_size * ratio / sum(ratio)``: exact when
    ``batch_size`` is a multiple of ``sum(ratio)`` (7 for 3:1:1:2), else off by at most one.
    """
    r = np.asarray(ratio, dtype=np.float64)
    if r.shape != (len(CLASS_NAMES),) or r.min() < 0 or r.sum() <= 0:
        raise ValueError(f"ratio must be four non-negative numbers (negative, positive, part, landmark), got {list(ratio)}")
    share = batch_size * r / r.sum()
    counts = np.floor(share).astype(np.int64)
    by_remainder = np.argsort(-(share - counts), kind="stable")
    counts[by_remainder[: batch_size - int(counts.sum())]] += 1
    return counts


def ratio_batches(labels: np.ndarray, blocks: Sequence[tuple], per_class: np.ndarray,
                  rng: np.random.Generator, pool_blocks: int = 8) -> Iterator[np.ndarray]:
    """Index batches holding ``per_class[c]`` samples of each class, read window by window.

    Blocks are visited in random order, ``pool_blocks`` at a time; each class's samples
    of a window join that class's queue (shuffled), and every batch takes the head of
    each queue. A batch therefore touches about ``pool_blocks`` blocks, the same ones
    as its neighbours (they stay in the HDF5 chunk cache). Batches stop when a class
    runs out: ``min(count[c] // per_class[c])`` batches.
    """
    cls = class_index(labels)
    used = np.flatnonzero(per_class > 0)
    totals = np.bincount(cls[cls >= 0], minlength=len(CLASS_NAMES))
    n_batches = int(min(totals[c] // per_class[c] for c in used)) if used.size else 0
    order = rng.permutation(len(blocks))
    queues = [np.zeros(0, np.int64) for _ in CLASS_NAMES]
    pos = 0
    for _ in range(n_batches):
        while any(len(queues[c]) < per_class[c] for c in used):
            window = np.concatenate([np.arange(*blocks[i]) for i in order[pos:pos + pool_blocks]])
            pos += pool_blocks
            for c in used:
                queues[c] = np.concatenate([queues[c], rng.permutation(window[cls[window] == c])])
        batch = np.concatenate([queues[c][: per_class[c]] for c in used])
        for c in used:
            queues[c] = queues[c][per_class[c]:]
        yield rng.permutation(batch)


# ---------------------------------------------------------------------- batch dicts

def _rows(batch: dict) -> int:
    return len(next(iter(batch.values())))


def _slice(batch: dict, a: int, b: int) -> dict:
    return {k: v[a:b] for k, v in batch.items()}


def _reorder(batch: dict, positions: np.ndarray) -> dict:
    """``out[positions[j]] = batch[j]``: put rows read in sorted order back where they were asked for."""
    inverse = np.empty_like(positions)
    inverse[positions] = np.arange(len(positions))
    return {k: v[inverse] for k, v in batch.items()}


def _concat(parts: List[dict], fields: Sequence[str], crop: int) -> dict:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        empty = empty_samples(crop, fields)
        return dict(empty, source_path=np.zeros(0, dtype=object)) if "source" in fields else empty
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
