"""HDF5 shard files: the public output format (schema in docs/format.md).

Every shard is written to a temporary name in the same folder and moved into
place with ``os.replace`` once complete and flushed, so a reader never sees a
half-written shard. Files are byte-for-byte reproducible: no timestamps
(``track_times=False``), fixed chunking, fixed dataset order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from collections import deque
from itertools import islice
from typing import Dict, Iterator, List, Mapping, Sequence

import numpy as np

from .files import file_sha256
from ..core.schema import (AUGMENT_CODES, CLASS_NAMES, CLASS_ORDER, FIELD_NAMES, FIELDS_BY_NAME, LABEL_CODES,
                           SCHEMA_VERSION, sample_fields, schema_description, schema_differences)
from ..errors import MtcnnDataError

COORDINATE_CONVENTION = (
    "x1,y1,x2,y2 in source-image pixels, origin at the top-left corner of the top-left "
    "pixel, x2/y2 exclusive (w = x2 - x1); targets normalised to the crop: "
    "bbox ((gx1-x1)/w, (gy1-y1)/h, (gx2-x2)/w, (gy2-y2)/h), landmarks ((lx-x1)/w, (ly-y1)/h) "
    "as x1,y1,...,x5,y5 in the order left eye, right eye, nose, left mouth, right mouth (image-left)"
)


class ShardReadError(MtcnnDataError):
    """A shard cannot be read: missing, not HDF5, or not the schema it should hold."""


def shard_attributes(stage: str, crop_size: int, extra: Mapping | None = None) -> dict:
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "schema": json.dumps(schema_description(crop_size)),
        "stage": stage,
        "crop_size": crop_size,
        "label_codes": json.dumps(LABEL_CODES),
        "augment_codes": json.dumps(AUGMENT_CODES),
        "coordinate_convention": COORDINATE_CONVENTION,
        "image_layout": "NHWC uint8 RGB",
    }
    attrs.update(extra or {})
    return attrs


def write_shard(
    path,
    samples: Mapping[str, np.ndarray],
    source_paths: Sequence[str],
    attrs: Mapping,
    compression: str | None = "gzip",
    level: int = 4,
    threads: int = 1,
) -> dict:
    """Write one shard atomically; returns ``{name, count, classes, sha256, bytes}``.

    ``threads`` compress the images' chunks in parallel (zlib releases the GIL); the
    bytes written do not depend on it."""
    path = Path(path)
    crop = int(attrs["crop_size"])
    n = len(samples["labels"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # no chunk cache, and a flush after every dataset: each chunk reaches the file as it
        # is written, so the layout never depends on when Python frees a dataset object
        import h5py  # here, not at import: workers that only plan or cut never load it

        with h5py.File(tmp, "w", libver=("earliest", "v110"), track_order=False, rdcc_nbytes=0) as f:
            fields = {name: np.ascontiguousarray(samples[name], dtype=dtype).reshape((n,) + shape)
                      for name, (dtype, shape) in sample_fields(crop).items()}
            _write_datasets(f, fields, compression, level, threads)
            str_type = h5py.string_dtype("utf-8")
            f.create_dataset("source_paths", data=np.array(list(source_paths), dtype=object), dtype=str_type, track_times=False)
            for key, value in attrs.items():
                f.attrs[key] = value
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return shard_info(path, samples["labels"])


def _write_datasets(f, fields: Mapping[str, np.ndarray], compression, level: int, threads: int) -> None:
    """Create the datasets in order, each flushed before the next (the layout never depends
    on when Python frees a dataset object). With gzip, every chunk of every filtered dataset
    (``Field.filtered``: all but the pixels, which are chunked without a filter) is
    deflated up front by ``threads`` threads (zlib releases the GIL) and stored as HDF5's
    shuffle and deflate filters store it; the bytes do not depend on ``threads``."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, threads)) as pool:
        filters = {name: compression if FIELDS_BY_NAME[name].filtered else None for name in fields}
        deflated = {name: [(start, pool.submit(_deflate_chunk, name, data, start, level))
                           for start in range(0, len(data), _chunk_rows(data))]
                    for name, data in fields.items() if filters[name] == "gzip" and len(data)}
        for name, data in fields.items():
            opts = _chunk_options(data, filters[name], level) if compression and len(data) else {}
            if name in deflated:
                dset = f.create_dataset(name, shape=data.shape, dtype=data.dtype, track_times=False, **opts)
                for start, payload in deflated[name]:
                    dset.id.write_direct_chunk((start,) + (0,) * (data.ndim - 1), payload.result(), 0)
            else:
                dset = f.create_dataset(name, data=data, track_times=False, **opts)
            dset.id.flush()
            f.flush()


#: Bytes of one chunk (before compression), about: every dataset is chunked by rows.
CHUNK_BYTES = 1 << 18


def _chunk_rows(data: np.ndarray) -> int:
    """Samples per chunk: about :data:`CHUNK_BYTES`."""
    return max(1, min(len(data), CHUNK_BYTES // max(1, data[0:1].nbytes)))


def _chunk_options(data: np.ndarray, compression, level: int) -> dict:
    """Chunked by rows, with ``compression`` (``None``: chunks stored as they are, with
    HDF5's Fletcher-32 checksum, so that a damaged chunk still fails to read)."""
    opts = {"compression": compression, "chunks": (_chunk_rows(data),) + data.shape[1:]}
    if compression is None:
        opts["fletcher32"] = True
    if compression == "gzip":
        opts["compression_opts"] = level
        opts["shuffle"] = data.dtype.itemsize > 1
    return opts


def _deflate_chunk(name: str, data: np.ndarray, start: int, level: int) -> bytes:
    """One chunk as HDF5 stores it with the shuffle (multi-byte types) and deflate filters:
    the whole chunk, the last one padded with zeros, bytes grouped by significance, one
    zlib stream. The 1-byte codes (``labels``, ``augment``) use zlib's run-length
    strategy (Z_RLE; the schema says which fields, ``Field.rle``), the others the default
    strategy, as HDF5's own filter does (identical bytes)."""
    import zlib

    rows = _chunk_rows(data)
    chunk = data[start : start + rows]
    if len(chunk) < rows:
        chunk = np.concatenate([chunk, np.zeros((rows - len(chunk),) + data.shape[1:], data.dtype)])
    raw = np.ascontiguousarray(chunk).view(np.uint8).reshape(-1, data.dtype.itemsize)
    strategy = zlib.Z_RLE if FIELDS_BY_NAME[name].rle else zlib.Z_DEFAULT_STRATEGY
    packer = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy)
    return packer.compress(raw.T.tobytes()) + packer.flush()


def class_counts(labels) -> Dict[str, int]:
    labels = np.asarray(labels)
    return {name: int((labels == code).sum()) for name, code in zip(CLASS_NAMES, CLASS_ORDER)}


def shard_info(path, labels) -> dict:
    path = Path(path)
    return {
        "name": path.name,
        "count": int(len(labels)),
        "classes": class_counts(labels),
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
    }


class ShardFile:
    """One shard file open for reading: the one place shards are opened and read.

    ``check`` compares its datasets and attributes with the sample schema;
    ``read`` loads fields (all rows or a range); ``datasets`` are the open h5py
    datasets (HDF5 keeps a chunk cache per open dataset, so readers keep them).
    """

    def __init__(self, path, cache_bytes: int = 1 << 20, cache_slots: int = 521):
        import h5py

        self.path = Path(path)
        try:
            self.file = h5py.File(self.path, "r", rdcc_nbytes=cache_bytes, rdcc_nslots=cache_slots)
        except (OSError, ValueError) as exc:
            raise ShardReadError(f"{self.path}: cannot be opened as HDF5 ({exc})") from exc
        self.datasets = {k: self.file[k] for k in FIELD_NAMES + ("source_paths",) if k in self.file}
        self.attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in self.file.attrs.items()}

    @property
    def rows(self) -> int:
        return int(self.datasets["labels"].shape[0]) if "labels" in self.datasets else 0

    def problems(self, crop_size: int | None = None, rows: int | None = None) -> List[str]:
        """What differs from the schema: missing datasets, dtypes, shapes, row counts, attributes."""
        crop = int(self.attrs.get("crop_size", -1)) if crop_size is None else crop_size
        rows = self.rows if rows is None else rows
        out = [f"dataset {k!r} missing" for k in FIELD_NAMES + ("source_paths",) if k not in self.datasets]
        for name, (dtype, shape) in sample_fields(crop).items():
            ds = self.datasets.get(name)
            if ds is not None and (ds.dtype != dtype or ds.shape != (rows,) + shape):
                out.append(f"{name} is {ds.dtype}{ds.shape}, expected {dtype}{(rows,) + shape}")
        version, stored_crop = self.attrs.get("schema_version"), self.attrs.get("crop_size")
        if version != SCHEMA_VERSION or stored_crop != crop:
            out.append(f"attributes schema_version={version} crop_size={stored_crop}, expected {SCHEMA_VERSION} and {crop}")
        return out + self._stored_schema_problems(crop)

    def _stored_schema_problems(self, crop: int) -> List[str]:
        """The ``schema`` attribute (shards of 0.3.0 on; older ones have none) against ours."""
        if "schema" not in self.attrs:
            return []
        try:
            stored = json.loads(self.attrs["schema"])
            found = schema_differences(stored, crop)
        except (TypeError, ValueError, AttributeError) as exc:
            return [f"attribute 'schema' is not the JSON schema description ({exc})"]
        return [f"attribute 'schema': {d}" for d in found] + (
            ["it was written by another version of the schema; read it with the mtcnn-data that wrote it "
             f"(attribute 'tool': {self.attrs.get('tool', '?')})"] if found else [])

    def check(self, crop_size: int | None = None, rows: int | None = None, hint: str = "") -> "ShardFile":
        """Raise :class:`ShardReadError` naming every :meth:`problems` (closing the file)."""
        found = self.problems(crop_size, rows)
        if found:
            self.close()
            raise ShardReadError(f"{self.path}: not a shard of the expected schema: {'; '.join(found)}{hint}")
        return self

    def read(self, fields: Sequence[str] = FIELD_NAMES, start: int = 0, stop: int | None = None) -> Dict[str, np.ndarray]:
        """Rows ``start:stop`` of ``fields`` (``source_paths`` whole, as str)."""
        return {k: self.source_paths() if k == "source_paths" else self.datasets[k][start:stop] for k in fields}

    def source_paths(self) -> List[str]:
        return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in self.datasets["source_paths"][()]]

    def chunk_rows(self, name: str = "images", contiguous: int = 1024) -> int:
        """Rows of one chunk of ``name`` (``contiguous`` where it is stored without chunks)."""
        chunks = self.datasets[name].chunks
        return int(chunks[0]) if chunks else contiguous

    def chunk_ranges(self, name: str) -> List[tuple]:
        """``(start, stop)`` rows of every chunk of ``name``, in order."""
        n, step = self.datasets[name].shape[0], self.chunk_rows(name)
        return [(a, min(a + step, n)) for a in range(0, n, step)]

    def decode_chunks(self, name: str, pool, keep: bool = True, ahead: int = 32):
        """Decode every chunk of ``name``: ``(rows or None, [(start, stop, error), ...])``.

        The stored bytes of each chunk are read here and inflated (and un-shuffled) in
        ``pool``'s threads, as the writer deflates them, at most ``ahead`` chunks in
        flight; a chunk stored any other way (no chunks, other filters, a filter
        skipped) is decoded by HDF5. ``keep`` false: the rows are checked but not kept
        (``None`` comes back), so memory stays at ``ahead`` chunks."""
        ranges = self.chunk_ranges(name)
        jobs = self._chunk_jobs(name, ranges, pool)
        pending = deque(islice(jobs, ahead))
        parts, bad = [], []
        for a, b in ranges:
            job = pending.popleft()
            pending.extend(islice(jobs, 1))
            try:
                rows = job.result()[: b - a]
            except Exception as exc:  # zlib.error, OSError from HDF5, a wrong size: all say "this chunk is bad"
                bad.append((a, b, f"{type(exc).__name__}: {exc}"))
                continue
            if keep:
                parts.append(rows)
        if not keep or bad:
            return None, bad
        ds = self.datasets[name]
        return (np.concatenate(parts) if parts else np.zeros(ds.shape, ds.dtype)), bad

    def _chunk_jobs(self, name: str, ranges, pool) -> Iterator:
        """Per chunk, in order, something whose ``result()`` is its rows (a whole chunk)."""
        ds = self.datasets[name]
        plain = ds.chunks is not None and ds.compression == "gzip" and not (ds.fletcher32 or ds.scaleoffset)
        shape, shuffled = (self.chunk_rows(name),) + ds.shape[1:], ds.shuffle
        for a, b in ranges:
            try:
                mask, payload = ds.id.read_direct_chunk((a,) + (0,) * (ds.ndim - 1)) if plain else (1, None)
            except Exception as exc:  # a damaged chunk index: reported for this chunk
                yield _Later(_raise, exc)
                continue
            if mask == 0:
                yield pool.submit(_inflate_chunk, payload, ds.dtype, shape, shuffled)
            else:
                yield _Later(ds.__getitem__, slice(a, b))

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "ShardFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Later:
    """``fn(*args)`` run when its ``result()`` is asked for, like a future's."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def result(self):
        return self.fn(*self.args)


def _raise(exc: Exception):
    raise exc


def _inflate_chunk(payload: bytes, dtype: np.dtype, chunk_shape: tuple, shuffled: bool) -> np.ndarray:
    """The inverse of :func:`_deflate_chunk`: one stored chunk back to its rows."""
    import zlib

    expected = int(np.prod(chunk_shape)) * dtype.itemsize
    raw = zlib.decompress(payload, 15, expected)  # the output buffer sized once, not grown
    if len(raw) != expected:
        raise ValueError(f"{len(raw):,} bytes after inflating, expected {expected:,}")
    data = np.frombuffer(raw, np.uint8)
    if shuffled and dtype.itemsize > 1:
        data = np.ascontiguousarray(data.reshape(dtype.itemsize, -1).T)
    return data.view(dtype).reshape(chunk_shape)


def read_shard(path, fields: Sequence[str] | None = None) -> dict:
    """Load a whole shard as numpy arrays (plus ``source_paths`` and ``attrs``)."""
    with ShardFile(path) as shard:
        out = shard.read(fields or FIELD_NAMES + ("source_paths",))
        out["attrs"] = shard.attrs
    return out


def read_shard_info(path) -> dict:
    """:func:`shard_info` of an existing shard (reads only its labels)."""
    with ShardFile(path) as shard:
        labels = shard.read(["labels"])["labels"]
    return shard_info(path, labels)
