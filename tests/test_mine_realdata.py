"""mine --stage rnet with the facenet-pytorch P-Net on real WIDER val images (one event)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mtcnn_data.cli.main import cli
from mtcnn_data.core.boxes import encode_offsets, iou_matrix
from mtcnn_data.core.schema import NEGATIVE, POSITIVE
from mtcnn_data.core.imaging import sample_pixels
from mtcnn_data.io.images import read_rgb
from mtcnn_data.io.shards import read_shard
from mtcnn_data.io.datasets.wider import read_wider, write_wider_subset
from mtcnn_data.tools.verify import verify

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
EVENT = "19--Couple/"


@pytest.fixture(scope="module")
def facenet():
    from mtcnn_data.detect.checkpoints import facenet_path
    from mtcnn_data.errors import MtcnnDataError

    try:
        return facenet_path("pnet")
    except MtcnnDataError as exc:
        pytest.skip(f"facenet-pytorch weights not installed: {exc}")


def event_annotations(realdata, tmp_path):
    """The official val annotations of one event, byte for byte, as a file of their own."""
    path = tmp_path / "couple_val_bbx_gt.txt"
    write_wider_subset(realdata / "widerface/wider_face_split/wider_face_val_bbx_gt.txt", path,
                       lambda p: p.startswith(EVENT))
    return path


def test_mine_rnet_on_real_images(realdata, facenet, tmp_path):
    ann = event_annotations(realdata, tmp_path)
    out = tmp_path / "rnet"
    res = CliRunner().invoke(cli, ["mine", "--stage", "rnet", "--pnet", "facenet",
                                   "--wider-annotations", str(ann), "--wider-images", str(realdata / "widerface/WIDER_val/images"),
                                   "--lfw-net", str(realdata / "lfw_net"), "--lfw-split", "test", "--skip-missing",
                                   "--workers", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    report = verify(out)
    assert report.ok, report.text()
    m = json.loads((out / "manifest.json").read_text())
    assert m["balance"]["kept"]["positive"] > 100
    records = {r.path: r for r in read_wider(ann)}
    s = read_shard(out / m["shards"][0]["name"])
    rng = np.random.default_rng(0)
    for label in (NEGATIVE, POSITIVE, -1):
        for i in rng.choice(np.flatnonzero(s["labels"] == label), 25, replace=False):
            ds, rel = s["source_paths"][s["source"][i]].split("/", 1)
            assert ds == "wider"
            crop = s["crop_box"][i]
            image = read_rgb(realdata / "widerface/WIDER_val/images" / rel)
            assert np.array_equal(sample_pixels(image, crop.astype(int), 24), s["images"][i])
            rec = records[rel]
            if label == NEGATIVE:
                assert iou_matrix(crop[None], rec.boxes).max() < 0.3
                continue
            ious = iou_matrix(crop[None], rec.kept_boxes)[0]
            best = int(np.argmax(ious))
            assert abs(ious[best] - s["iou"][i]) < 1e-5
            assert ious[best] > 0.65 if label == POSITIVE else 0.4 <= ious[best] <= 0.65
            np.testing.assert_allclose(s["bbox"][i], encode_offsets(crop[None], rec.kept_boxes[best][None])[0], atol=1e-5)
