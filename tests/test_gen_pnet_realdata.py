"""gen-pnet on the real WIDER val images and LFW_NET images in ../shared/realdata.

Only 394 of the 3,226 val images and the net_7876 part of LFW_NET are present, so
the runs use --skip-missing (the manifest lists the rest as missing).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mtcnn_data.core.boxes import encode_offsets, iou_matrix
from mtcnn_data.core.sampling import augment_geometry
from mtcnn_data.core.schema import LANDMARK, NEGATIVE, POSITIVE
from mtcnn_data.core.imaging import sample_pixels
from mtcnn_data.io.images import read_rgb
from mtcnn_data.io.datasets.lfw_net import read_lfw_net
from mtcnn_data.io.shards import read_shard
from mtcnn_data.io.datasets.wider import read_wider
from mtcnn_data.tools.verify import verify

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def command(realdata, out, *extra):
    exe = Path(sys.executable).with_name("mtcnn-data")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "mtcnn_data.cli.main"]
    return base + ["gen-pnet", "--wider", str(realdata / "widerface"), "--split", "val",
                   "--lfw-net", str(realdata / "lfw_net"), "--lfw-split", "test", "--skip-missing",
                   "--out", str(out), *extra]


@pytest.fixture(scope="module")
def shards(realdata, tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "pnet"
    run = subprocess.run(command(realdata, out, "--workers", "2", "--unit-size", "16"), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def test_real_run_verifies_and_is_balanced(shards):
    report = verify(shards)
    assert report.ok, report.text()
    m = json.loads((shards / "manifest.json").read_text())
    k = m["balance"]["kept"]["positive"]
    assert k > 5000
    assert m["balance"]["kept"] == {"negative": 3 * k, "positive": k, "part": k, "landmark": 2 * k}
    missing = [s for s in m["images_skipped"] if s["reason"] == "missing"]
    assert len(missing) == (3226 - 394) + (3466 - 2027)


def test_samples_rederive_from_provenance(shards, realdata):
    """Pixels, IoU, label band and targets of sampled outputs of every class, recomputed."""
    m = json.loads((shards / "manifest.json").read_text())
    wider = {r.path: r for r in read_wider(realdata / "widerface/wider_face_split/wider_face_val_bbx_gt.txt")}
    lfw = {r.path: r for r in read_lfw_net(realdata / "lfw_net/testImageList.txt")}
    roots = {"wider": realdata / "widerface/WIDER_val/images", "lfw_net": realdata / "lfw_net"}
    angle = m["output"]["rotation_degrees"]
    s = read_shard(shards / m["shards"][0]["name"])
    rng = np.random.default_rng(0)
    checked = {}
    for label in (0, 1, -1, -2):
        idx = np.flatnonzero(s["labels"] == label)
        for i in rng.choice(idx, size=min(40, len(idx)), replace=False):
            ds, rel = s["source_paths"][s["source"][i]].split("/", 1)
            crop = s["crop_box"][i]
            image = read_rgb(roots[ds] / rel)
            assert np.array_equal(sample_pixels(image, crop.astype(int), 12, s["augment"][i], angle), s["images"][i])
            rec = wider[rel] if ds == "wider" else lfw[rel]
            if label == LANDMARK:
                face = rec.kept_boxes[0]
                bbox, lm = augment_geometry(crop, face, rec.kept_landmarks[0], int(s["augment"][i]), angle)
                np.testing.assert_allclose(s["landmarks"][i], lm, atol=1e-5)
                np.testing.assert_allclose(s["bbox"][i], bbox, atol=1e-5)
                assert abs(iou_matrix(crop[None], face[None])[0, 0] - s["iou"][i]) < 1e-5
            elif label == NEGATIVE:
                assert iou_matrix(crop[None], rec.boxes).max(initial=0) < 0.3
                assert abs(iou_matrix(crop[None], rec.boxes).max(initial=0) - s["iou"][i]) < 1e-5
            else:
                ious = iou_matrix(crop[None], rec.kept_boxes)[0]
                best = int(np.argmax(ious))
                assert abs(ious[best] - s["iou"][i]) < 1e-5
                assert ious[best] > 0.65 if label == POSITIVE else 0.4 <= ious[best] <= 0.65
                np.testing.assert_allclose(s["bbox"][i], encode_offsets(crop[None], rec.kept_boxes[best][None])[0], atol=1e-5)
            checked[label] = checked.get(label, 0) + 1
    assert set(checked) == {0, 1, -1, -2}


def test_kill_9_then_resume_gives_identical_shards(shards, realdata, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(command(realdata, out, "--workers", "2", "--unit-size", "16"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cut = out / ".incomplete" / "cut"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if cut.exists() and len(list(cut.glob("*.npy"))) >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    run = subprocess.run(command(realdata, out, "--workers", "2", "--unit-size", "16", "--resume"),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in shards.glob("*.h5"))
    assert names == sorted(p.name for p in out.glob("*.h5"))
    for n in names:
        assert (out / n).read_bytes() == (shards / n).read_bytes()
