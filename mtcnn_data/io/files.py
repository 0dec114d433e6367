"""File helpers shared by every layer: digests, atomic writes, the installed resources.

Atomic writes go to a temporary name beside the target (:func:`temporary_name`), are
synced, and are moved into place with ``os.replace``: a reader never sees half a file,
and a killed writer leaves only a ``.NAME.<hex>.tmp`` that the run engine removes."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np


def file_digest(path, algorithm: str = "sha256", block: int = 1 << 20) -> str:
    """Hex digest of a file's bytes, read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path) -> str:
    return file_digest(path, "sha256")


def manifests_dir() -> Path:
    """The installed ``manifests/`` folder (package ``mtcnn_data.manifests``)."""
    from importlib.resources import files

    return Path(str(files("mtcnn_data.manifests")))


def temporary_name(path: Path) -> Path:
    """A hidden temporary name beside ``path``, unique across processes and hosts (two
    workers of a cluster sharing a folder can have the same pid): ``.NAME.<hex>.tmp``."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _atomic(path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, sync it, move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path, data: bytes) -> None:
    _atomic(path, lambda f: f.write(data))


def atomic_write_json(path, obj, allow_nan: bool = True) -> None:
    """``obj`` as indented JSON; ``allow_nan=False`` refuses NaN and infinities (ValueError)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, allow_nan=allow_nan) + "\n").encode("utf-8"))


def atomic_save_npy(path, array: np.ndarray) -> None:
    _atomic(path, lambda f: np.save(f, array, allow_pickle=False))


def atomic_save_npz(path, **arrays) -> None:
    """Arrays into one deflated ``.npz`` (no pickles), written atomically."""
    _atomic(path, lambda f: np.savez_compressed(f, **arrays))


def read_json(path):
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)
