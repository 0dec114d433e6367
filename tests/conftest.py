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


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """The bundled sample cut into several small shards (``--shard-mb 0.04``); counts
    come from its manifest (:func:`shard_layout`), never from literals of one run."""
    from click.testing import CliRunner

    from mtcnn_data.cli.main import cli

    out = tmp_path_factory.mktemp("reader") / "pnet"
    result = CliRunner().invoke(cli, ["gen-pnet", "--out", str(out), "--shard-mb", "0.04"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def shard_layout(shards):
    """What the manifest of ``shards`` says: ``samples`` (total), ``starts`` (first row of
    each shard, in order), ``totals`` (per class) and ``manifest``."""
    import json

    manifest = json.loads((shards / "manifest.json").read_text())
    counts = [entry["count"] for entry in manifest["shards"]]
    assert len(counts) > 2, "the fixture must span several shards"
    starts = [sum(counts[:i]) for i in range(len(counts))]
    return {"samples": manifest["totals"]["samples"], "starts": starts, "totals": manifest["totals"],
            "manifest": manifest}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """24 WIDER-format images with 0-3 faces (one flagged invalid) and 16 LFW_NET faces, in the real formats."""
    import numpy as np

    from fakedata import landmarks_in_box, make_lfw_net, make_wider

    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(5)
    images = []
    for i in range(24):
        w, h = int(rng.integers(320, 640)), int(rng.integers(240, 480))
        boxes = []
        for _ in range(int(rng.integers(0, 4))):
            s = int(rng.integers(22, 110))
            x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
            boxes.append((x, y, s, int(s * 1.2) if y + int(s * 1.2) < h else s))
        if i == 3:
            boxes.append((10, 10, 40, 40, 0, 0, 0, 1, 0, 0))  # flagged invalid: no positives, blocks negatives
        images.append((f"0--Event/img_{i}.jpg", w, h, boxes))
    make_wider(root / "wider", "train", images)
    entries = []
    for i in range(16):
        box = (40, 120, 50, 140)  # left right top bottom
        lm = landmarks_in_box(40, 50, 120, 140) + rng.uniform(-2, 2, (5, 2))
        entries.append((f"net_7876\\face_{i}.jpg", 160, 216, box, lm))
    make_lfw_net(root / "lfw", "train", entries)
    return root


