"""mtcnn-data inspect: correct counts, and a PNG that shows the targets where they are."""

import json

import cv2
import numpy as np
from click.testing import CliRunner

from mtcnn_data.cli.main import cli
from mtcnn_data.core.schema import LANDMARK, NEGATIVE, POSITIVE
from mtcnn_data.tools.inspect import LANDMARK_COLOURS, draw_tile




def test_text_counts_match_the_manifest(shards):
    result = CliRunner().invoke(cli, ["inspect", str(shards)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((shards / "manifest.json").read_text())
    totals = manifest["totals"]
    lines = result.output.splitlines()
    assert f"{totals['samples']} samples in {len(manifest['shards'])} shard(s), ratio 3:1:1:2" in lines[0]
    for name in ("negative", "positive", "part", "landmark"):
        row = next(line for line in lines if line.strip().startswith(name))
        assert row.split()[1] == f"{totals[name]:,}"
    from_wider = f"{totals['samples'] - totals['landmark']:,}"  # every non-landmark sample is cut from WIDER
    assert any(line.split()[:1] == ["wider"] and line.split()[-1] == from_wider for line in lines), lines
    assert any(line.split()[:1] == ["celeba"] and line.split()[-1] == f"{totals['landmark']:,}" for line in lines)
    assert "WARNING" not in result.output


def test_json_statistics(shards, shard_layout):
    result = CliRunner().invoke(cli, ["inspect", str(shards), "--json"])
    s = json.loads(result.output)
    totals = shard_layout["totals"]
    assert s["classes"] == {k: totals[k] for k in ("negative", "positive", "part", "landmark")}
    assert sum(s["augment"][k]["landmark"] for k in s["augment"]) == totals["landmark"]
    assert sum(s["iou_hist"]["positive"]) == totals["positive"]
    assert max(s["iou_bins"][i] for i, c in enumerate(s["iou_hist"]["negative"]) if c) < 0.3
    assert s["bbox"]["negative"]["max"] == [0.0] * 4


def test_png_is_written_and_readable(shards, tmp_path):
    png = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, ["inspect", str(shards), "--png", str(png), "--per-class", "8"])
    assert result.exit_code == 0, result.output
    image = cv2.imread(str(png))
    assert image is not None and image.ndim == 3 and image.shape[0] > 500 and image.shape[1] >= 1200
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_refuses_a_folder_without_manifest(tmp_path):
    result = CliRunner().invoke(cli, ["inspect", str(tmp_path)])
    assert result.exit_code != 0
    assert "no manifest.json" in str(result.exception)


def test_tile_draws_the_decoded_box_where_the_target_says():
    crop = np.zeros((12, 12, 3), np.uint8)
    bbox = np.array([0.25, 0.0, -0.25, 0.0], np.float32)  # face = crop x in [3, 9), full height
    tile = draw_tile(crop, POSITIVE, bbox, np.zeros(10, np.float32), 0, scale=8)
    margin = 96 // 4
    green = np.all(tile == (40, 230, 40), axis=2)
    ys, xs = np.nonzero(green)
    assert xs.min() == margin + 24 and xs.max() == margin + 72 - 1
    assert ys.min() == margin and ys.max() == margin + 96 - 1


def test_tile_landmark_colours_sit_on_their_points():
    lm = np.array([0.25, 0.3, 0.75, 0.3, 0.5, 0.5, 0.3, 0.75, 0.7, 0.75], np.float32)
    tile = draw_tile(np.zeros((12, 12, 3), np.uint8), LANDMARK, np.zeros(4, np.float32), lm, 1, scale=8)
    margin = 24
    for k, rgb in enumerate(LANDMARK_COLOURS):
        x, y = int(round(margin + lm[2 * k] * 96)), int(round(margin + lm[2 * k + 1] * 96))
        assert tuple(tile[y, x]) == rgb[::-1]
    negative = draw_tile(np.full((12, 12, 3), 9, np.uint8), NEGATIVE, np.zeros(4, np.float32), lm, 0, scale=8)
    assert set(np.unique(negative)) == {9, 70}  # no box, no dots on negatives
