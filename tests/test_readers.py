"""Readers on small fake files in the exact official formats (tests/fakedata.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fakedata import assert_malformed, landmarks_in_box, make_celeba, make_lfw_net, make_wider, make_wider_flat
from mtcnn_data.core.filtering import REASON_CODES, FilterConfig
from mtcnn_data.errors import AnnotationError, LayoutError
from mtcnn_data.io.datasets.celeba import read_celeba, read_celeba_aligned, read_partition
from mtcnn_data.io.datasets import resolve_dataset
from mtcnn_data.io.datasets.lfw_net import read_lfw_net
from mtcnn_data.io.datasets.wider import read_mtcnn_flat, read_wider

WIDER_IMAGES = [
    ("0--Parade/0_Parade_a.jpg", 64, 48, [(4, 5, 20, 22, 1, 0, 0, 0, 2, 0), (30, 6, 10, 12, 0, 1, 1, 1, 0, 1)]),
    ("0--Parade/0_Parade_empty.jpg", 40, 30, []),
    ("1--Handshaking/1_b.jpg", 50, 40, [(60, 5, 0, 10), (3, 4, 8, -2), (1, 2, 30, 30)]),
]


def _records(reader, *args, **kwargs):
    return list(reader(*args, **kwargs))


@pytest.mark.parametrize("split", ["train", "val"])
def test_wider_parses_boxes_attributes_and_lines(tmp_path, split):
    path = make_wider(tmp_path, split, WIDER_IMAGES, write_images=False)
    recs = _records(read_wider, path)
    assert [r.path for r in recs] == [i[0] for i in WIDER_IMAGES]
    assert [r.line for r in recs] == [1, 5, 8]
    first = recs[0]
    assert first.boxes.dtype == np.float32 and first.boxes.shape == (2, 4)
    assert first.boxes.tolist() == [[4, 5, 24, 27], [30, 6, 40, 18]]
    assert first.attributes["occlusion"].tolist() == [2, 0]
    assert first.attributes["invalid"].dtype == np.int8
    assert set(first.attributes) == set("x y w h blur expression illumination invalid occlusion pose".split())
    assert first.drop_reason.tolist() == [0, REASON_CODES["invalid"]]
    assert first.landmarks is None and first.dataset == "wider" and first.source == str(path)


@pytest.mark.parametrize("split", ["train", "val"])
def test_wider_empty_image_has_zero_boxes(tmp_path, split):
    path = make_wider(tmp_path, split, WIDER_IMAGES, write_images=False)
    lines = path.read_text().splitlines()
    assert lines[5:7] == (["0", "0 0 0 0 0 0 0 0 0 0 "] if split == "train" else ["1", "0 0 0 0 0 0 0 0 0 0 "])
    empty = _records(read_wider, path)[1]
    assert empty.num_faces == 0 and empty.boxes.shape == (0, 4) and empty.keep.shape == (0,)


def test_wider_degenerate_boxes_are_kept_but_dropped(tmp_path):
    path = make_wider(tmp_path, "train", WIDER_IMAGES, write_images=False)
    rec = _records(read_wider, path)[2]
    assert rec.num_faces == 3
    assert rec.drop_reason.tolist() == [1, 1, 0]
    assert rec.keep.tolist() == [False, False, True]


def test_wider_count_zero_without_dummy_line(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("a.jpg\n0\nb.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n")
    recs = _records(read_wider, path)
    assert [r.num_faces for r in recs] == [0, 1]


def test_wider_crlf_no_final_newline_trailing_blank_lines(tmp_path):
    path = make_wider(tmp_path, "val", WIDER_IMAGES, write_images=False)
    reference = _records(read_wider, path)
    text = path.read_text()
    variants = {"crlf": text.replace("\n", "\r\n"), "no_eol": text.rstrip("\n"), "blank": text + "\n" * 50}
    for name, body in variants.items():
        other = tmp_path / f"{name}.txt"
        other.write_bytes(body.encode())
        got = _records(read_wider, other)
        assert [r.boxes.tolist() for r in got] == [r.boxes.tolist() for r in reference], name


def test_wider_truncated_block_names_file_and_line(tmp_path):
    path = make_wider(tmp_path, "train", WIDER_IMAGES, write_images=False)
    lines = path.read_text().splitlines()
    cut = tmp_path / "cut.txt"
    cut.write_text("\n".join(lines[:-2]) + "\n")  # last block promises 3 boxes, 1 remains
    with pytest.raises(AnnotationError, match=re.escape(f"{cut}:8: expected box line 2 of the 3 promised")):
        list(read_wider(cut))


def test_wider_count_too_small_names_the_box_line(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n5 6 7 8 0 0 0 0 0 0\nb.jpg\n1\n1 1 1 1 0 0 0 0 0 0\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:4: expected an image path")):
        list(read_wider(path))


def test_wider_promised_box_replaced_by_a_path(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\nb.jpg\n1\n1 1 1 1 0 0 0 0 0 0\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:4: expected box line 2 of the 2 promised for 'a.jpg'")):
        list(read_wider(path))


@pytest.mark.parametrize(
    "body, line, expected",
    [
        ("a.jpg\nx\n", 2, "the face count of 'a.jpg'"),
        ("a.jpg\n", 1, "the face count of 'a.jpg' after this line"),
        ("a.jpg\n1\n1 2 3 4 0\n", 3, "10 (or 7) integer columns"),
        ("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n1 2 3 4 0 0 0\n", 4, "10 integer columns"),
        ("a.jpg\n1\n1 2 3 4.5.6 0 0 0 0 0 0\n", 3, "integer columns 'x y w h blur ...', found '1 2 3 4.5.6"),
        ("a.jpg\n1\n1 2 3 z 0 0 0 0 0 0\n", 3, "integer columns 'x y w h blur ...', found '1 2 3 z"),
        ("a.jpg\n1\n1 2 3 4 0 0 0 0 0 x\n", 3, "integer columns 'x y w h blur ...', found"),
    ],
)
def test_wider_malformed_lines(tmp_path, body, line, expected):
    assert_malformed(read_wider, tmp_path / "gt.txt", body, line, expected)


def test_wider_seven_columns(tmp_path):
    path = make_wider(tmp_path, "train", WIDER_IMAGES, write_images=False, columns=7)
    assert path.read_text().splitlines()[2] == "4 5 20 22 1 0 2 "
    recs = _records(read_wider, path)
    first = recs[0]
    assert set(first.attributes) == {"x", "y", "w", "h", "blur", "invalid", "occlusion"}
    assert first.attributes["invalid"].tolist() == [0, 1]
    assert first.attributes["occlusion"].tolist() == [2, 0]
    assert recs[1].num_faces == 0
    assert recs[2].drop_reason.tolist() == [1, 1, 0]


def test_wider_streams_lazily(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\ngarbage line here\n")
    reader = read_wider(path)
    assert next(reader).path == "a.jpg"  # the bad line after it is not read yet
    with pytest.raises(AnnotationError):
        next(reader)


def test_flat_format_reads_exclusive_corners_and_empty(tmp_path):
    path = make_wider_flat(tmp_path / "flat.txt", [("0--Parade/a.jpg", [(448, 329, 570, 478), (1, 2, 3, 4)]),
                                                   ("0--Parade/e.jpg", []), ("x\\y.jpg", [(5, 5, 5, 9)])])
    recs = _records(read_mtcnn_flat, path)
    assert recs[0].boxes.tolist() == [[448, 329, 570, 478], [1, 2, 3, 4]]
    assert recs[1].num_faces == 0
    assert recs[2].path == "x/y.jpg" and recs[2].drop_reason.tolist() == [1]
    assert [r.line for r in recs] == [1, 2, 3]


def test_flat_format_wrong_arity(tmp_path):
    path = tmp_path / "flat.txt"
    path.write_text("a.jpg 1 2 3 4\nb.jpg 1 2 3\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:2: expected an image path followed by groups of 4")):
        list(read_mtcnn_flat(path))


LFW_LM = landmarks_in_box(10, 12, 60, 62)


def test_lfw_net_crlf_backslash_and_box_order(tmp_path):
    path = make_lfw_net(tmp_path, "train", [("net_7876\\1_0_0.jpg", 80, 80, (10, 60, 12, 62), LFW_LM),
                                            ("lfw_5590\\A_0001.jpg", 80, 80, (30, 70, 8, 73), LFW_LM)])
    assert b"\r\n" in path.read_bytes() and b"net_7876\\1_0_0.jpg 10 60 12 62 " in path.read_bytes()
    recs = _records(read_lfw_net, path)
    assert recs[0].path == "net_7876/1_0_0.jpg"
    assert recs[0].boxes.tolist() == [[10, 12, 60, 62]]
    assert recs[0].landmarks.shape == (1, 5, 2) and recs[0].landmarks.dtype == np.float32
    np.testing.assert_allclose(recs[0].landmarks[0], LFW_LM, atol=1e-5)
    assert recs[1].drop_reason.tolist() == [REASON_CODES["landmarks_outside_box"]]
    assert recs[0].dataset == "lfw_net" and recs[1].line == 2


def test_lfw_net_forward_slash_variant(tmp_path):
    path = make_lfw_net(tmp_path, "test", [("net_7876/1_0_0.jpg", 80, 80, (10, 60, 12, 62), LFW_LM)])
    assert _records(read_lfw_net, path)[0].path == "net_7876/1_0_0.jpg"


def test_lfw_net_wrong_field_count(tmp_path):
    path = tmp_path / "trainImageList.txt"
    path.write_bytes(b"a.jpg 1 2 3 4 1 2 3 4 5 6 7 8 9 10\r\nb.jpg 1 2 3\r\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:2: expected 15 fields")):
        list(read_lfw_net(path))


def _celeba_entries(n=5, partitions=(0, 0, 1, 2, 0)):
    entries = []
    for i in range(n):
        x, y, w, h = 10 + i, 12, 50, 60
        entries.append((f"{i + 1:06d}.jpg", 90, 100, (x, y, w, h), landmarks_in_box(x, y, x + w, y + h),
                        partitions[i]))
    return entries


def test_celeba_in_the_wild_format_and_records(tmp_path):
    files = make_celeba(tmp_path, _celeba_entries(), write_images=False)
    raw = files["bbox"].read_bytes()
    assert raw.startswith(b"5\r\nimage_id x_1 y_1 width height\r\n000001.jpg   10   12   50   60\r\n")
    recs = _records(read_celeba, files["bbox"], files["landmarks"], files["partition"])
    assert [r.path for r in recs] == [f"{i:06d}.jpg" for i in range(1, 6)]
    assert recs[0].boxes.tolist() == [[10, 12, 60, 72]]
    assert recs[0].line == 3 and recs[0].landmarks.shape == (1, 5, 2)
    assert [int(r.attributes["partition"][0]) for r in recs] == [0, 0, 1, 2, 0]
    assert all(r.keep.all() for r in recs)


@pytest.mark.parametrize("split, expected", [("train", 3), ("val", 1), ("test", 1), ("all", 5)])
def test_celeba_split_from_partition(tmp_path, split, expected):
    files = make_celeba(tmp_path, _celeba_entries(), write_images=False)
    recs = _records(read_celeba, files["bbox"], files["landmarks"], files["partition"], split)
    assert len(recs) == expected


def test_celeba_degenerate_and_landmarks_outside(tmp_path):
    entries = _celeba_entries(3, (0, 0, 0))
    entries[0] = entries[0][:3] + ((10, 12, 0, 60),) + entries[0][4:]
    entries[1] = entries[1][:3] + ((40, 12, 10, 10),) + entries[1][4:]
    files = make_celeba(tmp_path, entries, write_images=False)
    recs = _records(read_celeba, files["bbox"], files["landmarks"])
    assert [int(r.drop_reason[0]) for r in recs] == [1, REASON_CODES["landmarks_outside_box"], 0]
    assert "partition" not in recs[0].attributes


def test_celeba_ids_out_of_step(tmp_path):
    files = make_celeba(tmp_path, _celeba_entries(), write_images=False)
    text = files["landmarks"].read_bytes().replace(b"000004.jpg", b"000009.jpg")
    files["landmarks"].write_bytes(text)
    with pytest.raises(AnnotationError, match=re.escape(f"{files['landmarks']}:6: expected image id '000004.jpg' as on "
                                                        f"{files['bbox']}:6, found '000009.jpg'")):
        list(read_celeba(files["bbox"], files["landmarks"]))


def test_celeba_truncated_list_and_bad_header(tmp_path):
    files = make_celeba(tmp_path, _celeba_entries(), write_images=False)
    lines = files["bbox"].read_bytes().split(b"\r\n")
    files["bbox"].write_bytes(b"\r\n".join(lines[:-3]) + b"\r\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{files['bbox']}:1: expected 5 rows as this first row says, "
                                                        "found 3 rows")):
        list(read_celeba(files["bbox"], files["bbox"].with_name("list_landmarks_celeba.txt")))
    files["landmarks"].write_bytes(b"5\r\nimage_id a b c\r\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{files['landmarks']}:2: expected the column names")):
        list(read_celeba_aligned(files["landmarks"]))


def test_celeba_partition_errors(tmp_path):
    path = tmp_path / "list_eval_partition.txt"
    path.write_bytes(b"000001.jpg 0\r\n000002.jpg 7\r\n")
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:2: expected '<image_id> <0|1|2>'")):
        read_partition(path)
    files = make_celeba(tmp_path / "c", _celeba_entries(), write_images=False)
    files["partition"].write_bytes(b"000001.jpg 0\r\n")
    with pytest.raises(AnnotationError, match="expected image id '000002.jpg' to be listed in"):
        list(read_celeba(files["bbox"], files["landmarks"], files["partition"]))


def test_celeba_aligned_derives_a_box(tmp_path):
    lm = np.array([[69, 109], [106, 113], [77, 142], [73, 152], [108, 154]])
    files = make_celeba(tmp_path, [("000001.jpg", 178, 218, (0, 0, 0, 0), lm, 0)], aligned=True)
    assert (tmp_path / "img_align_celeba" / "000001.jpg").is_file()
    rec = _records(read_celeba_aligned, files["landmarks"], files["partition"])[0]
    x1, y1, x2, y2 = rec.boxes[0]
    assert x2 - x1 == pytest.approx(y2 - y1) and 90 < x2 - x1 < 120
    assert rec.keep.all() and rec.landmarks[0].tolist() == lm.tolist()


def test_celeba_streams_a_full_size_list(tmp_path):
    n = 202_599
    lm = landmarks_in_box(95, 71, 321, 384)
    entries = [(f"{i:06d}.jpg", 0, 0, (95, 71, 226, 313), lm, i % 3) for i in range(1, n + 1)]
    files = make_celeba(tmp_path, entries, write_images=False)
    reader = read_celeba(files["bbox"], files["landmarks"], files["partition"], "val")
    first = next(reader)  # a generator: the first record comes before the lists are read
    assert first.path == "000001.jpg" and first.line == 3
    assert 1 + sum(1 for _ in reader) == n // 3


def test_resolve_dataset_layouts(tmp_path):
    make_wider(tmp_path / "w", "val", WIDER_IMAGES)
    ds = resolve_dataset("wider", tmp_path / "w", split="val", filters=FilterConfig(min_size=12))
    recs = list(ds.records())
    assert ds.name == "wider" and ds.image_root == tmp_path / "w" / "WIDER_val" / "images"
    assert ds.image_path(recs[0]).is_file()
    assert recs[0].drop_reason.tolist() == [0, REASON_CODES["invalid"]]
    assert recs[2].drop_reason.tolist() == [1, 1, 0]
    probed = list(ds.records(probe_image_sizes=True))
    assert probed[2].drop_reason.tolist() == [1, 1, 0]


def test_resolve_dataset_outside_image_with_probe(tmp_path):
    make_wider(tmp_path, "train", [("e/a.jpg", 64, 48, [(70, 5, 10, 10), (5, 5, 20, 20)])])
    ds = resolve_dataset("wider", tmp_path)
    assert next(ds.records()).drop_reason.tolist() == [0, 0]
    assert next(ds.records(probe_image_sizes=True)).drop_reason.tolist() == [REASON_CODES["outside_image"], 0]


def test_resolve_dataset_celeba_and_lfw(tmp_path):
    make_celeba(tmp_path / "c", _celeba_entries())
    ds = resolve_dataset("celeba", tmp_path / "c", split="train")
    assert len(list(ds.records())) == 3 and ds.image_path(next(ds.records())).is_file()
    make_lfw_net(tmp_path / "l", "test", [("net_7876\\1_0_0.jpg", 80, 80, (10, 60, 12, 62), LFW_LM)])
    ds = resolve_dataset("lfw_net", tmp_path / "l", split="test")
    assert ds.image_path(next(ds.records())).is_file()


def test_resolve_dataset_explicit_paths(tmp_path):
    path = make_wider(tmp_path / "w", "train", WIDER_IMAGES, write_images=False)
    moved = path.rename(tmp_path / "elsewhere.txt")
    ds = resolve_dataset("wider", None, annotations=moved, images=tmp_path, split="train")
    assert ds.annotation_files == {"annotations": moved}
    assert len(list(ds.records())) == 3


@pytest.mark.parametrize(
    "kind, make, missing",
    [
        ("wider", lambda root: None, "dataset root folder not found"),
        ("wider", lambda root: root.mkdir(), "annotations file not found"),
        ("wider", lambda root: make_wider(root, "train", WIDER_IMAGES, write_images=False), "image folder not found"),
        ("celeba", lambda root: (root / "Anno").mkdir(parents=True), "bbox file not found"),
        ("lfw_net", lambda root: root.mkdir(), "annotations file not found"),
    ],
)
def test_layout_errors_draw_the_tree(tmp_path, kind, make, missing):
    root = tmp_path / "root"
    make(root)
    with pytest.raises(LayoutError) as info:
        resolve_dataset(kind, root)
    message = str(info.value)
    assert missing in message and "Expected this layout" in message and "ROOT/" in message
    assert {"wider": "wider_face_split/", "celeba": "list_bbox_celeba.txt", "lfw_net": "trainImageList.txt"}[kind] \
        in message


def test_layout_error_for_celeba_split_without_partition(tmp_path):
    make_celeba(tmp_path, [e[:5] + (None,) for e in _celeba_entries()])
    assert len(list(resolve_dataset("celeba", tmp_path).records())) == 5
    with pytest.raises(LayoutError, match="partition file not found"):
        resolve_dataset("celeba", tmp_path, split="val")
