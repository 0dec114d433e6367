"""Small file helpers shared by the I/O edges."""

from __future__ import annotations

import hashlib
from pathlib import Path


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
