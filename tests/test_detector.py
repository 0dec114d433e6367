"""Detector geometry, NMS, the cascade on synthetic images, and the ``detect`` command."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import torch
F = torch.nn.functional

from click.testing import CliRunner

from mtcnn_data.cli.main import cli
from mtcnn_data.core.boxes import iou_matrix
from mtcnn_data.detect.detector import (
    Detector,
    DetectorConfig,
    DetectorConfigError,
    integer_squares,
    match_faces,
    pnet_cell_boxes,
    pyramid_scales,
)
from mtcnn_data.detect.models import build_model


class BrightnessNet(torch.nn.Module):
    """A stand-in network that "sees" bright squares.

    P-Net: face probability = brightness of each 12 x 12 cell (stride 2), zero offsets.
    R-Net / O-Net: probability 0.75 when the crop holds a whole bright region with a
    dark margin (else 0.25 x brightness), offsets that move the crop onto the bright
    region's bounding box grown by MARGIN of its side on each side, landmarks at the
    crop centre.
    """

    def __init__(self, stage):
        super().__init__()
        self.stage = stage

    def forward(self, x):
        bright = (x.mean(1, keepdim=True) * 128 + 127.5) / 255
        if self.stage == "pnet":
            prob = F.avg_pool2d(bright, 12, 2)[:, 0]
            return torch.zeros(len(x), 4, *prob.shape[1:]), prob
        n, side = len(x), x.shape[-1]
        mask = bright[:, 0] > 0.5
        cols, rows = mask.any(1), mask.any(2)
        first = lambda m: m.float().argmax(1)  # noqa: E731
        x1, y1 = first(cols), first(rows)
        x2, y2 = side - first(cols.flip(1)), side - first(rows.flip(1))
        inside = cols.any(1) & (x1 > 0) & (y1 > 0) & (x2 < side) & (y2 < side)
        margin = (x2 - x1).float() * MARGIN
        offsets = (torch.stack([x1, y1, x2 - side, y2 - side], 1).float() + margin[:, None] * torch.tensor([-1, -1, 1, 1])) / side
        prob = torch.where(inside, torch.full((n,), 0.75), 0.25 * bright.mean((1, 2, 3)))
        return offsets, torch.full((n, 10), 0.5), prob


SQUARE = (100, 60, 140, 100)  # a 40 px white "face"
MARGIN = 0.1
FRAMED = (96, 56, 144, 104)  # SQUARE grown by MARGIN


def _square_image(height=200, width=260):
    image = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = SQUARE
    image[y1:y2, x1:x2] = 255
    return image


def _brightness_detector(stages=3, **config):
    nets = [BrightnessNet(s) for s in ("pnet", "rnet", "onet")[:stages]]
    return Detector(*nets, config=DetectorConfig(**config))


# ----------------------------------------------------------------------------- geometry

def test_pyramid_scales_stop_when_the_image_is_smaller_than_a_cell():
    scales = pyramid_scales(100, 300, min_face=20, factor=0.709)
    assert len(scales) == 5 and scales[0] == pytest.approx(0.6)
    assert 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709


def test_cell_boxes_map_level_pixels_back_to_the_image():
    boxes = pnet_cell_boxes(np.array([3]), np.array([5]), sx=0.5, sy=0.25)
    np.testing.assert_allclose(boxes, [[20, 24, 44, 72]])


def test_integer_squares_keep_the_centre_and_the_longer_side():
    crops = integer_squares(np.array([[10.2, 20.7, 30.2, 30.7], [0, 0, 0.2, 0.1]]))
    assert crops.dtype == np.int64
    np.testing.assert_array_equal(crops, [[10, 16, 30, 36], [0, 0, 1, 1]])


def test_match_faces_is_one_to_one():
    truth = np.array([[0, 0, 10, 10], [100, 100, 110, 110]])
    detected = np.array([[0, 0, 10, 10], [0, 0, 10, 11], [50, 50, 60, 60]])
    np.testing.assert_array_equal(match_faces(detected, truth), [True, False])
    two_faces = np.array([[0, 0, 10, 10], [1, 0, 11, 10]])
    assert match_faces(np.array([[0, 0, 11, 10]]), two_faces).sum() == 1
    assert match_faces(np.zeros((0, 4)), truth).sum() == 0


# ----------------------------------------------------------------------------- config

def test_config_is_recorded_and_validated():
    d = DetectorConfig(thresholds=[0.5, 0.6, 0.7]).to_dict()
    assert json.loads(json.dumps(d))["thresholds"] == [0.5, 0.6, 0.7] and d["channel_order"] == "RGB"
    with pytest.raises(DetectorConfigError, match="min_face"):
        DetectorConfig(min_face=8)
    with pytest.raises(DetectorConfigError, match="channel_order"):
        DetectorConfig(channel_order="rgb")
    with pytest.raises(DetectorConfigError, match="needs an R-Net"):
        Detector(BrightnessNet("pnet"), onet=BrightnessNet("onet"))


# ----------------------------------------------------------------------------- cascade

def test_cascade_finds_the_bright_square_and_calibrates_onto_it():
    found = _brightness_detector(thresholds=(0.3, 0.7, 0.7)).detect(_square_image())
    assert found.boxes.dtype == np.float32 and found.landmarks.shape == (len(found), 5, 2)
    assert len(found) == 1 and iou_matrix(found.boxes, np.array([FRAMED]))[0, 0] > 0.85
    np.testing.assert_allclose(found.boxes[0], FRAMED, atol=3)
    # landmarks are placed in the O-Net crop (before calibration): its centre
    assert np.abs(found.landmarks[0] - np.array([120, 80])).max() < 6


@pytest.mark.parametrize("upto", ["pnet", "rnet"])
def test_propose_returns_square_integer_crops(upto):
    cands = _brightness_detector(thresholds=(0.3, 0.7, 0.7)).propose(_square_image(), upto=upto)
    assert len(cands) > 0 and cands.crops.dtype == np.int64
    side = cands.crops[:, 2] - cands.crops[:, 0]
    np.testing.assert_array_equal(side, cands.crops[:, 3] - cands.crops[:, 1])
    assert (side >= 1).all() and cands.boxes.shape == (len(cands), 4) and cands.scores.shape == (len(cands),)
    assert iou_matrix(cands.crops, np.array([SQUARE])).max() > 0.5


def test_stopping_after_pnet_gives_boxes_without_landmarks():
    found = _brightness_detector(stages=1).detect(_square_image())
    assert len(found) > 0 and found.landmarks is None


def test_a_black_image_has_no_faces():
    found = _brightness_detector().detect(np.zeros((120, 90, 3), np.uint8))
    assert found.boxes.shape == (0, 4) and found.scores.shape == (0,)


def test_tiny_image_below_one_cell_has_no_faces():
    assert len(_brightness_detector().detect(np.full((15, 15, 3), 255, np.uint8))) == 0


def test_bgr_order_reverses_channels():
    image = np.zeros((60, 60, 3), np.uint8)
    image[..., 0] = 255  # pure red, RGB
    seen = []

    class Probe(BrightnessNet):
        def forward(self, x):
            seen.append(x[0, :, 0, 0].clone())
            return super().forward(x)

    Detector(Probe("pnet"), config=DetectorConfig(channel_order="BGR")).detect(image)
    np.testing.assert_allclose(seen[-1].numpy(), [-127.5 / 128, -127.5 / 128, 127.5 / 128])


def test_rejects_non_uint8_images():
    with pytest.raises(ValueError, match="RGB uint8"):
        _brightness_detector().detect(np.zeros((20, 20), np.float32))


# ----------------------------------------------------------------------------- CLI

@pytest.fixture
def random_checkpoints(tmp_path):
    torch.manual_seed(0)
    paths = {}
    for stage in ("pnet", "rnet", "onet"):
        paths[stage] = tmp_path / f"{stage}.pth"
        torch.save(build_model(stage).state_dict(), paths[stage])
    return paths


def test_cli_writes_json_and_png(tmp_path, random_checkpoints):
    image_path = tmp_path / "square.png"
    cv2.imwrite(str(image_path), _square_image(80, 90))
    out_json, out_png = tmp_path / "faces.json", tmp_path / "drawn"
    args = ["detect", str(image_path), "--json", str(out_json), "--png", str(out_png), "--thresholds", "0,0,0"]
    args += [f"--{s}={p}" for s, p in random_checkpoints.items()]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out_json.read_text())
    assert report[0]["image"] == str(image_path) and len(report[0]["faces"]) > 0
    face = report[0]["faces"][0]
    assert len(face["box"]) == 4 and 0 <= face["score"] <= 1 and np.array(face["landmarks"]).shape == (5, 2)
    assert f"--png: wrote 1 file(s) under {out_png.resolve()}" in result.output
    assert report[0]["png"] == str(out_png / "square.png")
    drawn = cv2.cvtColor(cv2.imread(str(out_png / "square.png")), cv2.COLOR_BGR2RGB)
    assert drawn.shape == (80 + 24, 90, 3)  # the image, then the landmark legend
    from mtcnn_data.core.landmarks import LANDMARK_COLOURS

    x, y = np.round(np.array(face["landmarks"])).astype(int)[0]  # the left eye, in its own colour
    if 0 <= x < 90 and 0 <= y < 80:
        assert tuple(drawn[y, x]) in {tuple(c) for c in LANDMARK_COLOURS}, drawn[y, x]


def _noise_images(folder, n=5):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        paths.append(folder / f"ev{i % 2}" / f"img{i}.jpg")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(paths[-1]), rng.integers(0, 256, (60 + 13 * i, 90 - 7 * i, 3), dtype=np.uint8))
    return paths


def test_cli_detect_on_workers_gives_the_same_faces_in_the_same_order(tmp_path, random_checkpoints, monkeypatch):
    from mtcnn_data.tools import detecting

    pools = []
    real = detecting.run_parallel
    monkeypatch.setattr(detecting, "run_parallel", lambda fn, items, workers, *a: pools.append(workers) or real(fn, items, workers, *a))
    images = _noise_images(tmp_path / "images")
    nets = [f"--{s}={p}" for s, p in random_checkpoints.items()]
    runs = {}
    for name, extra in (("one", ["--threads", "1"]), ("two", ["--workers", "2"])):
        args = ["detect", *map(str, images), *nets, "--thresholds", "0.2,0.2,0.2", "--min-face", "12",
                "--json", str(tmp_path / f"{name}.json"), "--wider-txt", str(tmp_path / name), *extra]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert pools == [2]  # the second run, on a pool of 2 worker processes
    assert [r["image"] for r in runs["two"]] == list(map(str, images))
    assert sum(len(r["faces"]) for r in runs["one"]) > 20  # enough faces to tell the runs apart
    assert runs["two"] == runs["one"]
    txt = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.txt"))
    assert len(txt) == len(images)
    assert all((tmp_path / "two" / t).read_bytes() == (tmp_path / "one" / t).read_bytes() for t in txt)


def test_detect_paths_counts_images_on_its_progress_bar(tmp_path, random_checkpoints, capsys):
    from mtcnn_data.tools.detecting import DetectorSpec, detect_paths

    images = _noise_images(tmp_path / "images", 3)
    spec = DetectorSpec(str(random_checkpoints["pnet"]))
    assert [p for p, _ in detect_paths(spec, images, progress=True)] == images
    bar = capsys.readouterr().err
    assert "detect: 100%" in bar and "3/3" in bar and "image/s" in bar, bar


def test_cli_rejects_bad_thresholds(tmp_path, random_checkpoints):
    image_path = tmp_path / "x.png"
    cv2.imwrite(str(image_path), _square_image(40, 40))
    result = CliRunner().invoke(cli, ["detect", str(image_path), "--pnet", str(random_checkpoints["pnet"]),
                                      "--thresholds", "0.6,0.7"])
    assert result.exit_code == 2 and "three probabilities" in result.output


def test_cli_help_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; from mtcnn_data.cli.main import main; sys.argv=['mtcnn-data','--help']\n" \
           "try:\n main()\nexcept SystemExit: pass\nassert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_exported_models_detect_like_the_originals(tmp_path):
    from torch.export import Dim, export

    from mtcnn_data.detect.checkpoints import load_stage

    torch.manual_seed(3)
    pnet, rnet = build_model("pnet").eval(), build_model("rnet").eval()
    n, h, w = Dim("n", min=1, max=4096), Dim("h", min=7, max=2048), Dim("w", min=7, max=2048)
    torch.export.save(export(pnet, (torch.zeros(2, 3, 40, 30),), dynamic_shapes={"x": {0: n, 2: 2 * h, 3: 2 * w}}),
                      str(tmp_path / "p.pt2"))
    torch.export.save(export(rnet, (torch.zeros(2, 3, 24, 24),), dynamic_shapes={"x": {0: n}}), str(tmp_path / "r.pt2"))
    config = DetectorConfig(thresholds=(0.0, 0.0, 0.0))
    image = _square_image(61, 77)  # odd sides: every level is padded
    plain = Detector(pnet, rnet, config=config).detect(image)
    exported = Detector(load_stage(tmp_path / "p.pt2", "pnet"), str(tmp_path / "r.pt2"), config=config).detect(image)
    assert len(plain) > 0
    np.testing.assert_allclose(exported.boxes, plain.boxes, atol=1e-3)
    np.testing.assert_allclose(exported.scores, plain.scores, atol=1e-5)
