"""mine --stage onet --reuse: the P-Net candidates kept by an R-Net run stand in for P-Net."""

import hashlib
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from fakedata import make_mining_data
from mtcnn_data.cli.main import cli
from mtcnn_data.errors import ReuseError
from mtcnn_data.tools.verify import verify


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_mining_data(tmp_path_factory.mktemp("reuse-data"), images=8, seed=2, stages=("pnet", "rnet"))
    res = _mine(root, root / "rnet-out", "rnet", "--unit-size", "3")
    assert res.exit_code == 0, res.output + repr(res.exception)
    return root


def _mine(root, out, stage, *extra, wider=None):
    args = ["mine", "--stage", stage, "--pnet", root / "pnet.pt", "--wider", wider or root / "wider",
            "--lfw-net", root / "lfw", "--out", out, *extra]
    if stage == "onet":
        args += ["--rnet", root / "rnet.pt"]
    return CliRunner().invoke(cli, [str(a) for a in args])


def _refusal(res) -> str:
    assert isinstance(res.exception, ReuseError), res.output + repr(res.exception)
    return str(res.exception)


def _shard_digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.h5"))}


def test_rnet_run_keeps_its_pnet_candidates_described_in_the_manifest(data):
    out = data / "rnet-out"
    assert verify(out).ok, verify(out).text()
    m = json.loads((out / "manifest.json").read_text())
    c = m["candidates"]
    assert c["images"] == 8 and c["files"] == len(list((out / "candidates").glob("u*.npz"))) == 3
    assert c["matches"]["pnet_sha256"] == m["config"]["detector"]["stages"][0]["sha256"]
    assert c["matches"]["min_face"] == m["config"]["detector"]["config"]["min_face"]
    with np.load(out / "candidates" / "u000000.npz") as z:
        assert list(z["images"]) == [f"wider/0--Event/img_{i}.jpg" for i in range(3)]
        assert z["counts"].sum() == len(z["crops"]) == len(z["boxes"]) == len(z["scores"]) > 0


def test_onet_with_reuse_is_byte_identical_to_onet_without(data, tmp_path):
    plain = _mine(data, tmp_path / "plain", "onet")
    assert plain.exit_code == 0, plain.output + repr(plain.exception)
    reused = _mine(data, tmp_path / "reused", "onet", "--reuse", data / "rnet-out", "--workers", "2")
    assert reused.exit_code == 0, reused.output + repr(reused.exception)
    a, b = _shard_digests(tmp_path / "plain"), _shard_digests(tmp_path / "reused")
    assert a and a == b
    ma, mb = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in ("plain", "reused"))
    assert ma["config"] == mb["config"]  # --reuse is not in the resume fingerprint
    assert "reused" in mb and "reused" not in ma
    assert mb["timings_s"]["plan_cpu_s"]["pnet"] == 0 < ma["timings_s"]["plan_cpu_s"]["pnet"]


def test_reuse_refuses_other_pnet_settings(data, tmp_path):
    res = _mine(data, tmp_path / "o", "onet", "--reuse", data / "rnet-out", "--min-face", "24")
    assert "min_face: 20.0 there, 24.0 here" in _refusal(res)
    res = _mine(data, tmp_path / "o", "onet", "--reuse", data / "rnet-out", "--thresholds", "0.5,0.1,0.7")
    assert "pnet_threshold: 0.3 there, 0.5 here" in _refusal(res)
    assert not (tmp_path / "o").exists()


def test_reuse_refuses_a_changed_image_naming_it(data, tmp_path):
    wider = tmp_path / "wider"
    shutil.copytree(data / "wider", wider)
    image = wider / "WIDER_train/images/0--Event/img_4.jpg"
    image.write_bytes(image.read_bytes() + b"\0")
    res = _mine(data, tmp_path / "o", "onet", "--reuse", data / "rnet-out", wider=wider)
    assert "wider/0--Event/img_4.jpg changed since that run" in _refusal(res)


def test_reuse_refuses_a_folder_without_candidates(data, tmp_path):
    res = _mine(data, tmp_path / "o", "onet", "--reuse", tmp_path)
    assert "no manifest.json" in _refusal(res)
    res = _mine(data, tmp_path / "o2", "rnet", "--reuse", data / "rnet-out")
    assert "--stage onet" in _refusal(res)


def test_reuse_refuses_an_image_that_run_did_not_plan(data):
    from mtcnn_data.jobs.reuse import KeptCandidates

    kept = KeptCandidates(data / "rnet-out" / "candidates")
    with pytest.raises(ReuseError, match="wider/0--Event/new.jpg has no kept candidates"):
        kept.get("wider/0--Event/new.jpg", "0" * 64)
