"""Shared fixtures. ``realdata``: the real annotation files in ../shared/realdata (or a skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
REALDATA = REPO_ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``../shared/realdata`` relative to the repository root, or skip the test."""
    if not (REALDATA / "README.md").is_file():
        pytest.skip(f"../shared/realdata not found: {REALDATA} is absent (real WIDER/LFW_NET/CelebA files "
                    "are only available in the development workspace)")
    return REALDATA
