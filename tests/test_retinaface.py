"""The RetinaFace ``label.txt`` source: the reader (train format with landmarks, val format
with boxes only), ``annotations --retinaface`` and landmark samples in gen-pnet and mine."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from fakedata import assert_malformed, landmarks_in_box, make_retinaface, make_wider
from mtcnn_data.cli.main import cli, main
from mtcnn_data.core.filtering import REASON_CODES, FilterConfig
from mtcnn_data.core.schema import LABEL_CODES
from mtcnn_data.io.datasets import resolve_dataset
from mtcnn_data.io.datasets.retinaface import read_retinaface
from mtcnn_data.io.datasets.wider import read_wider
from mtcnn_data.io.shards import read_shard
from mtcnn_data.tools.verify import verify

FACE = (30, 40, 60, 70)  # x y w h
POINTS = landmarks_in_box(30, 40, 90, 110)


def test_train_lines_give_five_landmarks_and_absent_ones_drop_the_face(tmp_path):
    path = make_retinaface(tmp_path / "label.txt", [
        ("0--Parade/a.jpg", [FACE + (POINTS, 0.82), (5, 6, 7, 8, None, 0.2)]),
        ("0--Parade/b.jpg", []),
        ("1--Handshaking/c.jpg", [(1, 2, 30, 30, landmarks_in_box(1, 2, 31, 32), 1.0)]),
    ])
    text = path.read_text().splitlines()
    assert text[0] == "# 0--Parade/a.jpg" and len(text[1].split()) == 20 and text[1].split()[6] == "0.0"
    assert text[2].split()[4:19] == ["-1.0"] * 15
    a, b, c = read_retinaface(path)
    assert a.path == "0--Parade/a.jpg" and a.line == 1 and a.dataset == "retinaface"
    np.testing.assert_array_equal(a.boxes, [[30, 40, 90, 110], [5, 6, 12, 14]])
    np.testing.assert_allclose(a.landmarks[0], POINTS, atol=1e-3)
    assert np.isnan(a.landmarks[1]).all()
    assert a.drop_reason.tolist() == [0, REASON_CODES["no_landmarks"]] and a.keep.tolist() == [True, False]
    np.testing.assert_allclose(a.attributes["landmark_confidence"], [0.82, 0.2])
    assert b.num_faces == 0 and b.landmarks.shape == (0, 5, 2) and b.line == 4
    assert c.keep.all() and c.landmarks.shape == (1, 5, 2)


def test_reasons_keep_their_order_for_faces_without_landmarks(tmp_path):
    path = make_retinaface(tmp_path / "label.txt", [("e/a.jpg", [(5, 6, 4, 4, None, -1.0), (5, 6, 0, 9, None, -1.0)])])
    (rec,) = read_retinaface(path, FilterConfig(min_size=10))
    assert rec.drop_reason.tolist() == [REASON_CODES["too_small"], REASON_CODES["degenerate"]]


def test_val_lines_are_boxes_only_and_a_zero_line_is_an_empty_image(tmp_path):
    path = make_retinaface(tmp_path / "label.txt", [("e/a.jpg", [FACE]), ("e/empty.jpg", [(0, 0, 0, 0)])],
                           landmarks=False)
    a, empty = read_retinaface(path)
    assert a.landmarks is None and a.boxes.tolist() == [[30, 40, 90, 110]] and a.keep.all()
    assert empty.num_faces == 0


#: (file text, line of the error, what the message says was expected)
MALFORMED = [
    ("1 2 3 4\n", 1, "an image line '# <event>/<image>.jpg' first"),
    ("# e/a.jpg\n1 2 3 4\n1 2 3 4 5\n", 3, "4 columns"),
    ("# e/a.jpg\n1 2 3\n", 2, "4 or 20 columns"),
    ("# e/a.jpg\n1 2 x 4\n", 2, "numbers 'x y w h"),
    ("#\n", 1, "an image path after '#'"),
]


@pytest.mark.parametrize("text, line, expected", MALFORMED)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, expected):
    assert_malformed(read_retinaface, tmp_path / "label.txt", text, line, expected)


@pytest.fixture(scope="module")
def wider_root(tmp_path_factory):
    """A WIDER FACE root with the RetinaFace train labels unpacked into it: faces of the
    ``with/`` images have landmarks, faces of the ``without/`` images have -1."""
    root = tmp_path_factory.mktemp("retina") / "widerface"
    rng = np.random.default_rng(3)
    images, labels = [], []
    for i in range(8):
        s = int(rng.integers(40, 80))
        x, y = int(rng.integers(0, 200 - s)), int(rng.integers(0, 160 - s))
        rel = f"0--Event/{'with' if i % 2 else 'without'}_{i}.jpg"
        images.append((rel, 240, 200, [(x, y, s, s)]))
        labels.append((rel, [(x, y, s, s, landmarks_in_box(x, y, x + s, y + s) if i % 2 else None, 0.9)]))
    make_wider(root, "train", images)
    make_retinaface(root / "train" / "label.txt", labels)
    return root


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_images_are_found_in_a_wider_root(wider_root):
    ds = resolve_dataset("retinaface", wider_root)
    assert ds.image_root == wider_root / "WIDER_train" / "images"
    assert all(ds.image_path(r).is_file() for r in ds.records())


def test_annotations_counts_faces_without_landmarks(wider_root):
    res = run("annotations", "--retinaface", wider_root)
    assert res.exit_code == 0, res.output
    assert "retinaface split=train" in res.output and "no official figures" in res.output
    records = list(resolve_dataset("retinaface", wider_root).records())
    dropped = sum(int(r.drop_reason[0] == REASON_CODES["no_landmarks"]) for r in records)
    assert dropped == sum("/without_" in r.path for r in records) > 0
    assert re.search(rf"9 no_landmarks\s+{dropped}\n", res.output), res.output
    assert re.search(rf"  kept\s+{len(records) - dropped}\n", res.output), res.output


def test_annotations_refuses_a_split_it_does_not_have(wider_root, capsys):
    with pytest.raises(SystemExit) as info:
        main(["annotations", "--retinaface", str(wider_root), "--split", "test"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "Error: RetinaFace WIDER FACE labels has no split 'test'; expected one of train, val"]


def landmark_sources(out):
    manifest = json.loads((out / "manifest.json").read_text())
    names = []
    for entry in manifest["shards"]:
        shard = read_shard(out / entry["name"])
        rows = shard["labels"] == LABEL_CODES["landmark"]
        names += [shard["source_paths"][i] for i in shard["source"][rows]]
    return manifest, names


def test_gen_pnet_takes_landmark_samples_only_from_faces_with_landmarks(wider_root, tmp_path):
    out = tmp_path / "pnet"
    res = run("gen-pnet", "--wider", wider_root, "--retinaface", wider_root, "--out", out)
    assert res.exit_code == 0, res.output
    assert verify(out).ok
    manifest, names = landmark_sources(out)
    roles = {(i["role"], i["dataset"]) for i in manifest["inputs"]}
    assert roles == {("faces", "wider"), ("landmarks", "retinaface")}
    assert names and len(names) == manifest["totals"]["landmark"]
    assert all(n.startswith("retinaface/0--Event/with_") for n in names), set(names)


def test_mine_takes_landmark_samples_from_retinaface(wider_root, tmp_path):
    out = tmp_path / "rnet"
    res = run("mine", "--stage", "rnet", "--pnet", "facenet", "--wider", wider_root, "--retinaface", wider_root,
              "--ratio", "1:0:0:1", "--out", out)  # the pretrained P-Net finds no face in noise images
    assert res.exit_code == 0, res.output
    manifest, names = landmark_sources(out)
    assert names and all(n.startswith("retinaface/0--Event/with_") for n in names)


@pytest.mark.realdata
def test_real_val_labels_are_the_official_val_boxes(realdata):
    """retinaface_gt_v1.1's val/label.txt against the official wider_face_val_bbx_gt.txt."""
    labels = realdata / "widerface" / "variants" / "retinaface_gt_v1.1_val_label.txt"
    ds = resolve_dataset("retinaface", None, "val", annotations=labels, images=realdata, require_images=False)
    ours = list(ds.records())
    official = list(read_wider(realdata / "widerface" / "wider_face_split" / "wider_face_val_bbx_gt.txt"))
    assert [r.path for r in ours] == [r.path for r in official]
    assert [r.num_faces for r in ours] == [r.num_faces for r in official]
    assert all(r.landmarks is None for r in ours)
    same = sum(np.array_equal(a.boxes, b.boxes) for a, b in zip(ours, official))
    assert same >= len(official) - 1  # one image's boxes were re-annotated
    # --no-fail: realdata holds only some of the val images, which "images present" reports
    res = run("annotations", "--retinaface", realdata, "--annotations", labels, "--split", "val", "--no-fail")
    assert res.exit_code == 0, res.output
    assert re.search(rf"  images\s+{len(official):,}\n", res.output), res.output
    assert re.search(rf"  faces\s+{sum(r.num_faces for r in official):,}\n", res.output), res.output
