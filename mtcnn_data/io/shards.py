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
from typing import Dict, Mapping, Sequence

import numpy as np

from .files import file_sha256
from ..core.schema import AUGMENT_CODES, CLASS_NAMES, CLASS_ORDER, LABEL_CODES, SCHEMA_VERSION

COORDINATE_CONVENTION = (
    "x1,y1,x2,y2 in source-image pixels, origin at the top-left corner of the top-left "
    "pixel, x2/y2 exclusive (w = x2 - x1); targets normalised to the crop: "
    "bbox ((gx1-x1)/w, (gy1-y1)/h, (gx2-x2)/w, (gy2-y2)/h), landmarks ((lx-x1)/w, (ly-y1)/h) "
    "as x1,y1,...,x5,y5 in the order left eye, right eye, nose, left mouth, right mouth (image-left)"
)


def shard_fields(crop_size: int) -> Dict[str, tuple]:
    """Dataset name -> (dtype, per-sample shape), in the order they are written."""
    return {
        "images": (np.uint8, (crop_size, crop_size, 3)),
        "labels": (np.int8, ()),
        "bbox": (np.float32, (4,)),
        "landmarks": (np.float32, (10,)),
        "iou": (np.float32, ()),
        "crop_box": (np.float32, (4,)),
        "source": (np.int32, ()),
        "augment": (np.uint8, ()),
    }


def shard_attributes(stage: str, crop_size: int, extra: Mapping | None = None) -> dict:
    attrs = {
        "schema_version": SCHEMA_VERSION,
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
            for name, (dtype, shape) in shard_fields(crop).items():
                data = np.ascontiguousarray(samples[name], dtype=dtype).reshape((n,) + shape)
                _create(f, name, data, compression, level, threads)
                f.flush()
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


def _create(f, name, data, compression, level, threads=1):
    n = len(data)
    chunk_rows = max(1, min(n, (1 << 18) // max(1, data[0:1].nbytes)))
    opts = {}
    if compression and n:
        opts = {"compression": compression, "chunks": (chunk_rows,) + data.shape[1:]}
        if compression == "gzip":
            opts["compression_opts"] = level
            opts["shuffle"] = data.dtype.itemsize > 1
    if compression == "gzip" and n and data.dtype.itemsize == 1:
        dset = f.create_dataset(name, shape=data.shape, dtype=data.dtype, track_times=False, **opts)
        _write_deflated_chunks(dset, data, chunk_rows, level, threads)
    else:
        dset = f.create_dataset(name, data=data, track_times=False, **opts)
    dset.id.flush()


def _write_deflated_chunks(dset, data, chunk_rows, level, threads):
    """Chunks as HDF5's deflate filter stores them (a zlib stream of the whole chunk, the
    last one padded with zeros), compressed by ``threads`` threads and written in order.
    Only for 1-byte types (pixels): no shuffle filter to apply. zlib's run-length strategy
    (Z_RLE): LZ77 string matching finds little to match in small crops and takes 3x the
    time (real P-Net images: 95.7 % of the raw size with it, 98.0 % with Z_RLE)."""
    import zlib
    from concurrent.futures import ThreadPoolExecutor

    def deflate(start):
        chunk = data[start : start + chunk_rows]
        if len(chunk) < chunk_rows:
            chunk = np.concatenate([chunk, np.zeros((chunk_rows - len(chunk),) + data.shape[1:], data.dtype)])
        packer = zlib.compressobj(level, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
        return packer.compress(np.ascontiguousarray(chunk).tobytes()) + packer.flush()

    starts = range(0, len(data), chunk_rows)
    zeros = (0,) * (data.ndim - 1)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for start, payload in zip(starts, pool.map(deflate, starts)):
            dset.id.write_direct_chunk((start,) + zeros, payload, 0)


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


def read_shard(path, fields: Sequence[str] | None = None) -> dict:
    """Load a whole shard as numpy arrays (plus ``source_paths`` and ``attrs``)."""
    import h5py

    with h5py.File(path, "r") as f:
        names = fields or [k for k in f.keys()]
        out = {}
        for k in names:
            if k == "source_paths":
                out[k] = [s.decode("utf-8") if isinstance(s, bytes) else s for s in f[k][()]]
            else:
                out[k] = f[k][()]
        out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return out


def read_shard_info(path) -> dict:
    """:func:`shard_info` of an existing shard (reads only its labels)."""
    import h5py

    with h5py.File(path, "r") as f:
        labels = f["labels"][()]
    return shard_info(path, labels)
