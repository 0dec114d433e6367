"""The sample dataset bundled in ``mtcnn_data/data/sample``: files, exact formats, geometry, size.

Most checks read the files with plain Python and cv2, independently of the
package's readers. The last tests also parse the sample with the official
readers (``mtcnn_data.io.datasets.wider`` / ``mtcnn_data.io.datasets.celeba``) and compare.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from mtcnn_data import data as sample

ROOT = sample.sample_root()
WIDER = sample.sample_wider_root()
CELEBA = sample.sample_celeba_root()
WIDER_GT = sample.sample_wider_annotations()
WIDER_IMAGES = sample.sample_wider_images()
CELEBA_FILES = sample.sample_celeba_files()

EVENT = "0--Sample"
WIDER_NAMES = [
    "0_Sample_GraceHopper_1.jpg",
    "0_Sample_Astronaut_2.jpg",
    "0_Sample_Cameraman_3.jpg",
    "0_Sample_Collage_4.jpg",
    "0_Sample_CollageSmall_5.jpg",
    "0_Sample_NoFace_6.jpg",
]
CELEBA_IDS = [f"{i:06d}.jpg" for i in range(1, 9)]
BBOX_HEADER = "image_id x_1 y_1 width height"
LANDMARK_HEADER = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
                   "leftmouth_x leftmouth_y rightmouth_x rightmouth_y")
MAX_TOTAL_BYTES = 400_000


# --------------------------------------------------------------------------- helpers

def _wider_blocks():
    """Strict plain parse of the WIDER list: [(relpath, [(x, y, w, h, *six flags)])]."""
    lines = WIDER_GT.read_bytes().decode("ascii").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    lines = lines[:-1]
    blocks, i = [], 0
    while i < len(lines):
        path = lines[i]
        count = int(lines[i + 1])
        rows = []
        body = lines[i + 2:i + 2 + max(count, 1)]
        for text in body:
            assert re.fullmatch(r"(-?\d+ ){10}", text), f"bad box line {text!r}"
            rows.append(tuple(int(v) for v in text.split()))
        if count == 0:
            assert rows == [(0,) * 10]
            rows = []
        blocks.append((path, rows))
        i += 2 + max(count, 1)
    return blocks


def _crlf_rows(path: Path):
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n"), f"{path.name}: last line must end with CRLF"
    rows = raw[:-2].split(b"\r\n")
    for row in rows:
        assert b"\n" not in row and b"\r" not in row, f"{path.name}: bare LF or CR in {row!r}"
    return [r.decode("ascii") for r in rows]


def _celeba_table(path: Path, header: str, nfields: int):
    rows = _crlf_rows(path)
    assert rows[0] == str(len(rows) - 2), f"{path.name}: first row must be the image count"
    assert rows[1] == header
    table = {}
    for row in rows[2:]:
        tokens = row.split()
        assert len(tokens) == nfields, row
        assert tokens[0] not in table
        table[tokens[0]] = [int(v) for v in tokens[1:]]
    assert list(table) == [r.split()[0] for r in rows[2:]]
    return rows[2:], table


def _image_size(path: Path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"{path} does not decode"
    return img.shape[1], img.shape[0]


# --------------------------------------------------------------------------- files

def test_roots_and_files_exist():
    assert ROOT.is_dir() and ROOT.name == "sample"
    assert WIDER == ROOT / "widerface" and CELEBA == ROOT / "celeba"
    assert WIDER_GT == WIDER / "wider_face_split" / "wider_face_train_bbx_gt.txt"
    assert WIDER_IMAGES == WIDER / "WIDER_train" / "images"
    assert WIDER_GT.is_file()
    for name in WIDER_NAMES:
        assert (WIDER_IMAGES / EVENT / name).is_file(), name
    assert CELEBA_FILES["bbox"] == CELEBA / "Anno" / "list_bbox_celeba.txt"
    assert CELEBA_FILES["landmarks"] == CELEBA / "Anno" / "list_landmarks_celeba.txt"
    assert CELEBA_FILES["partition"] == CELEBA / "Eval" / "list_eval_partition.txt"
    assert CELEBA_FILES["images"] == CELEBA / "img_celeba"
    for key in ("bbox", "landmarks", "partition"):
        assert CELEBA_FILES[key].is_file(), key
    for image_id in CELEBA_IDS:
        assert (CELEBA_FILES["images"] / image_id).is_file(), image_id
    assert (ROOT / "README.md").is_file()


def test_no_unlisted_images():
    on_disk = sorted(p.relative_to(WIDER_IMAGES).as_posix() for p in WIDER_IMAGES.rglob("*.jpg"))
    assert on_disk == sorted(f"{EVENT}/{n}" for n in WIDER_NAMES)
    assert sorted(p.name for p in CELEBA_FILES["images"].iterdir()) == CELEBA_IDS


def test_sample_is_small():
    files = [p for p in ROOT.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    assert total < MAX_TOTAL_BYTES, f"sample is {total:,} bytes"


def test_images_are_jpegs_of_modest_size():
    for path in list(WIDER_IMAGES.rglob("*.jpg")) + list(CELEBA_FILES["images"].glob("*.jpg")):
        assert path.read_bytes()[:2] == b"\xff\xd8", path
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.dtype == np.uint8, path
        assert max(img.shape[:2]) <= 640, path
    # the cameraman photo is stored as a 1-channel greyscale JPEG, all others colour
    grey = cv2.imread(str(WIDER_IMAGES / EVENT / "0_Sample_Cameraman_3.jpg"), cv2.IMREAD_UNCHANGED)
    assert grey.ndim == 2
    colour = cv2.imread(str(WIDER_IMAGES / EVENT / "0_Sample_Astronaut_2.jpg"), cv2.IMREAD_UNCHANGED)
    assert colour.ndim == 3 and colour.shape[2] == 3


# --------------------------------------------------------------------------- WIDER format

def test_wider_line_endings_and_format():
    raw = WIDER_GT.read_bytes()
    assert b"\r" not in raw, "official WIDER lists use LF"
    assert raw.endswith(b"\n") and not raw.endswith(b"\n\n")
    blocks = _wider_blocks()
    assert [p for p, _ in blocks] == [f"{EVENT}/{n}" for n in WIDER_NAMES]
    counts = [len(rows) for _, rows in blocks]
    assert counts == [1, 1, 1, 4, 4, 0]
    for path, _ in blocks:
        assert re.fullmatch(r"\d+--\w+/[\w.-]+\.jpg", path), path


def test_wider_boxes_inside_their_images():
    for path, rows in _wider_blocks():
        width, height = _image_size(WIDER_IMAGES / path)
        for x, y, w, h, blur, expr, illum, invalid, occl, pose in rows:
            assert w > 0 and h > 0, (path, x, y, w, h)
            x1, y1, x2, y2 = x, y, x + w, y + h  # package convention: exclusive x2, y2
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, (path, (x1, y1, x2, y2))
            assert blur in (0, 1, 2) and expr in (0, 1) and illum in (0, 1)
            assert invalid in (0, 1) and occl in (0, 1, 2) and pose in (0, 1)


def test_wider_faces_span_sizes():
    sizes = [min(r[2], r[3]) for _, rows in _wider_blocks() for r in rows]
    assert min(sizes) < 12 and max(sizes) > 150, sizes


# --------------------------------------------------------------------------- CelebA format

def test_celeba_bbox_format():
    rows, table = _celeba_table(CELEBA_FILES["bbox"], BBOX_HEADER, 5)
    assert list(table) == CELEBA_IDS
    for row, (image_id, (x, y, w, h)) in zip(rows, table.items()):
        # whitespace-aligned like the official file: '000001.jpg    95  71 226 313'
        assert row == f"{image_id}{x:6d}{y:4d}{w:4d}{h:4d}", row


def test_celeba_landmark_format():
    rows, table = _celeba_table(CELEBA_FILES["landmarks"], LANDMARK_HEADER, 11)
    assert list(table) == CELEBA_IDS
    for row, (image_id, values) in zip(rows, table.items()):
        # '000001.jpg 165  184  244  176  196  249  194  271  266  260'
        assert row == f"{image_id} {values[0]}" + "".join(f"{v:5d}" for v in values[1:]), row


def test_celeba_partition_format():
    rows = _crlf_rows(CELEBA_FILES["partition"])
    assert rows == [f"{image_id} 0" for image_id in CELEBA_IDS], "no header; all train"


def test_celeba_geometry():
    _, boxes = _celeba_table(CELEBA_FILES["bbox"], BBOX_HEADER, 5)
    _, marks = _celeba_table(CELEBA_FILES["landmarks"], LANDMARK_HEADER, 11)
    for image_id in CELEBA_IDS:
        width, height = _image_size(CELEBA_FILES["images"] / image_id)
        x, y, w, h = boxes[image_id]
        x1, y1, x2, y2 = x, y, x + w, y + h
        assert w > 0 and h > 0
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, image_id
        pts = np.array(marks[image_id], dtype=float).reshape(5, 2)
        assert np.all((pts[:, 0] >= x1) & (pts[:, 0] < x2)), image_id
        assert np.all((pts[:, 1] >= y1) & (pts[:, 1] < y2)), image_id
        left_eye, right_eye, nose, left_mouth, right_mouth = pts
        assert left_eye[0] < right_eye[0], f"{image_id}: left eye must be image-left"
        assert left_mouth[0] < right_mouth[0], f"{image_id}: left mouth corner must be image-left"
        assert max(left_eye[1], right_eye[1]) < min(left_mouth[1], right_mouth[1]), image_id
        assert left_eye[0] < nose[0] < right_eye[0], image_id
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1]), image_id
        # plausible face proportions: the eyes span a good part of the box width
        assert 0.2 < (right_eye[0] - left_eye[0]) / w < 0.7, image_id


# --------------------------------------------------------------------------- official readers

def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(not _have("mtcnn_data.io.datasets.wider"), reason="mtcnn_data.io.datasets.wider not available")
def test_wider_reader_parses_sample():
    from mtcnn_data.io.datasets.wider import read_wider

    records = list(read_wider(WIDER_GT))
    blocks = _wider_blocks()
    assert [r.path for r in records] == [p for p, _ in blocks]
    for record, (_, rows) in zip(records, blocks):
        expected = np.array([[x, y, x + w, y + h] for x, y, w, h, *_ in rows], dtype=np.float64).reshape(-1, 4)
        np.testing.assert_array_equal(np.asarray(record.boxes, dtype=np.float64).reshape(-1, 4), expected)
        assert bool(np.all(record.keep))


@pytest.mark.skipif(not _have("mtcnn_data.io.datasets.celeba"), reason="mtcnn_data.io.datasets.celeba not available")
def test_celeba_reader_parses_sample():
    from mtcnn_data.io.datasets.celeba import read_celeba

    records = list(read_celeba(CELEBA_FILES["bbox"], CELEBA_FILES["landmarks"], CELEBA_FILES["partition"],
                               split="train"))
    _, boxes = _celeba_table(CELEBA_FILES["bbox"], BBOX_HEADER, 5)
    _, marks = _celeba_table(CELEBA_FILES["landmarks"], LANDMARK_HEADER, 11)
    assert [r.path for r in records] == CELEBA_IDS
    for record in records:
        x, y, w, h = boxes[record.path]
        np.testing.assert_array_equal(np.asarray(record.boxes, dtype=np.float64).reshape(4),
                                      [x, y, x + w, y + h])
        np.testing.assert_array_equal(np.asarray(record.landmarks, dtype=np.float64).reshape(10),
                                      marks[record.path])
        assert bool(np.all(record.keep)), f"{record.path} dropped: {record.drop_reason}"
