"""mine: detector candidates labelled, balanced and written like gen-pnet's."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fakedata import make_mining_data
from mtcnn_data.cli.main import cli
from mtcnn_data.core.boxes import iou_matrix
from mtcnn_data.core.sampling import image_rng
from mtcnn_data.core.schema import LANDMARK, NEGATIVE, PART, POSITIVE
from mtcnn_data.core.imaging import sample_pixels
from mtcnn_data.io.images import read_rgb
from mtcnn_data.io.shards import read_shard
from mtcnn_data.errors import OptionError
from mtcnn_data.jobs.mine import MineSettings, labelled_detections
from mtcnn_data.tools.verify import verify


def test_negatives_are_capped_and_labels_follow_iou():
    faces = np.array([[100, 100, 160, 160]], dtype=float)
    crops = np.array([[100, 100, 160, 160], [110, 110, 170, 170]] + [[x, 300, x + 30, 330] for x in range(0, 600, 10)])
    s = MineSettings(stage="rnet", pnet="x", max_negatives_per_image=7)
    out = labelled_detections(image_rng(0, "a"), crops, faces, None, s)
    assert (out["label"] == NEGATIVE).sum() == 7
    assert (out["label"] == POSITIVE).sum() == 1
    np.testing.assert_allclose(out["iou"], iou_matrix(out["crop"], faces).max(1), rtol=1e-6)


def test_onet_needs_an_rnet():
    with pytest.raises(OptionError, match="--rnet"):
        MineSettings(stage="onet", pnet="x")


def test_mine_onet_end_to_end_with_the_facenet_weights(tmp_path):
    """P-Net then R-Net (facenet-pytorch's weights) over the bundled sample: 48 px O-Net data that verifies."""
    res = CliRunner().invoke(cli, ["mine", "--stage", "onet", "--pnet", "facenet", "--rnet", "facenet",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output + repr(res.exception)
    report = verify(tmp_path / "o")
    assert report.ok, report.text()
    m = json.loads((tmp_path / "o/manifest.json").read_text())
    assert m["stage"] == "onet" and m["crop_size"] == 48 and m["settings"]["stage"] == "onet"
    assert [st["sha256"] for st in m["config"]["detector"]["stages"]] and len(m["config"]["detector"]["stages"]) == 2
    s = read_shard(tmp_path / "o" / m["shards"][0]["name"])
    assert s["images"].shape[1:] == (48, 48, 3)
    assert set(np.unique(s["labels"]).tolist()) == {NEGATIVE, POSITIVE, PART, LANDMARK}
    assert len(s["labels"]) == m["totals"]["samples"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_mining_data(tmp_path_factory.mktemp("mine-data"), images=10, seed=1)


def mine_cli(dataset, out, *extra):
    args = ["mine", "--stage", "rnet", "--pnet", dataset / "pnet.pt", "--wider", dataset / "wider",
            "--lfw-net", dataset / "lfw", "--out", out, *extra]
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_mine_end_to_end_is_verified_deterministic_and_rederivable(dataset, tmp_path):
    res = mine_cli(dataset, tmp_path / "a", "--workers", "1")
    assert res.exit_code == 0, res.output + repr(res.exception)
    report = verify(tmp_path / "a")
    assert report.ok, report.text()
    res = mine_cli(dataset, tmp_path / "b", "--workers", "2", "--unit-size", "3")
    assert res.exit_code == 0, repr(res.exception)
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.h5")}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").glob("*.h5")}
    assert a and a == b
    m = json.loads((tmp_path / "a/manifest.json").read_text())
    assert m["stage"] == "rnet" and m["crop_size"] == 24
    assert m["config"]["detector"]["stages"][0]["sha256"]
    s = read_shard(tmp_path / "a" / m["shards"][0]["name"])
    assert s["images"].shape[1:] == (24, 24, 3)
    roots = {"wider": dataset / "wider/WIDER_train/images", "lfw_net": dataset / "lfw"}
    for i in range(0, len(s["labels"]), 7):
        ds, rel = s["source_paths"][s["source"][i]].split("/", 1)
        img = read_rgb(roots[ds] / rel)
        assert np.array_equal(sample_pixels(img, s["crop_box"][i].astype(int), 24, s["augment"][i], 5.0), s["images"][i])


def test_bad_checkpoint_fails_before_any_work(dataset, tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"conv1.weight": torch.zeros(3)}, bad)
    res = CliRunner().invoke(cli, ["mine", "--stage", "rnet", "--pnet", str(bad), "--wider", str(dataset / "wider"),
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert not (tmp_path / "o").exists()
