"""Small file helpers shared by the I/O edges."""

from __future__ import annotations

import hashlib


def file_digest(path, algorithm: str = "sha256", block: int = 1 << 20) -> str:
    """Hex digest of a file's bytes, read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path) -> str:
    return file_digest(path, "sha256")
