"""Property tests of the geometry core (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtcnn_data.core.boxes import (
    best_iou,
    decode_offsets,
    encode_offsets,
    flip_boxes,
    flip_offsets,
    iou_matrix,
    nms,
    overlap_matrix,
    square_boxes,
    xywh_to_xyxy,
)
from mtcnn_data.core.landmarks import (
    apply_affine,
    denormalise_from_crops,
    flip_landmarks,
    flip_normalised,
    normalise_to_crops,
    rotation_matrix,
)

coord = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
size = st.floats(0.5, 500, allow_nan=False, allow_infinity=False)


@st.composite
def boxes(draw, n=None):
    n = draw(st.integers(1, 6)) if n is None else n
    out = []
    for _ in range(n):
        x, y, w, h = draw(coord), draw(coord), draw(size), draw(size)
        out.append([x, y, x + w, y + h])
    return np.array(out)


@given(boxes(), boxes())
def test_iou_symmetric_and_bounded(a, b):
    m = iou_matrix(a, b)
    assert m.shape == (len(a), len(b))
    assert np.all(m >= 0) and np.all(m <= 1)
    np.testing.assert_allclose(m, iou_matrix(b, a).T, rtol=1e-12, atol=1e-12)


@given(boxes())
def test_iou_with_itself_is_one(a):
    np.testing.assert_allclose(np.diag(iou_matrix(a, a)), 1.0, rtol=1e-9)


def test_iou_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [10, 10, 20, 20], [0, 0, 5, 5]])
    np.testing.assert_allclose(iou_matrix(a, b)[0], [50 / 150, 0.0, 25 / 100])


def test_degenerate_box_has_zero_iou():
    a = np.array([[1050, 142, 1050, 192]])  # a WIDER "w = 0" box
    assert iou_matrix(a, a)[0, 0] == 0.0


def test_best_iou_without_faces():
    iou, idx = best_iou(np.array([[0, 0, 12, 12]]), np.zeros((0, 4)))
    assert iou[0] == 0 and idx[0] == -1


@given(boxes(n=4), boxes(n=4))
def test_offsets_round_trip(crops, gts):
    off = encode_offsets(crops, gts)
    np.testing.assert_allclose(decode_offsets(crops, off), gts, rtol=1e-9, atol=1e-6)


def test_offsets_definition():
    off = encode_offsets([[10, 20, 30, 40]], [[12, 18, 33, 41]])
    np.testing.assert_allclose(off[0], [2 / 20, -2 / 20, 3 / 20, 1 / 20])


@given(boxes(), st.floats(1, 4000))
def test_flip_boxes_twice_is_identity(b, width):
    np.testing.assert_allclose(flip_boxes(flip_boxes(b, width), width), b, atol=1e-9)


@given(boxes(n=3), boxes(n=3))
def test_flip_offsets_matches_flipping_the_boxes(crops, gts):
    width = 2000.0
    direct = encode_offsets(flip_boxes(crops, width), flip_boxes(gts, width))
    np.testing.assert_allclose(flip_offsets(encode_offsets(crops, gts)), direct, atol=1e-6)
    np.testing.assert_allclose(flip_offsets(flip_offsets(encode_offsets(crops, gts))), encode_offsets(crops, gts))


points = st.lists(st.tuples(coord, coord), min_size=5, max_size=5).map(lambda p: np.array(p)[None])


@given(points, st.floats(1, 4000))
def test_flip_landmarks_twice_is_identity(lm, width):
    np.testing.assert_allclose(flip_landmarks(flip_landmarks(lm, width), width), lm, atol=1e-9)


def test_flip_landmarks_swaps_left_and_right():
    lm = np.array([[[10, 5], [20, 5], [15, 10], [11, 15], [19, 15]]], dtype=float)
    f = flip_landmarks(lm, 30)[0]
    # the new left eye is the old right eye mirrored: 30 - 20 = 10
    np.testing.assert_allclose(f[0], [10, 5])
    np.testing.assert_allclose(f[1], [20, 5])
    np.testing.assert_allclose(f[3], [11, 15])
    assert f[0, 0] < f[1, 0] and f[3, 0] < f[4, 0]


@given(points, boxes(n=1))
def test_normalise_round_trip_and_flip(lm, crop):
    n = normalise_to_crops(lm, crop)
    np.testing.assert_allclose(denormalise_from_crops(n, crop), lm, atol=1e-6)
    np.testing.assert_allclose(flip_normalised(flip_normalised(n)), n, atol=1e-12)


@given(st.floats(-180, 180), coord, coord)
def test_rotation_inverse(deg, cx, cy):
    pts = np.array([[0.0, 0.0], [10.0, 5.0], [cx, cy]])
    there = apply_affine(pts, rotation_matrix((cx, cy), deg))
    back = apply_affine(there, rotation_matrix((cx, cy), -deg))
    np.testing.assert_allclose(back, pts, atol=1e-6)


def test_rotation_matches_opencv():
    import cv2

    np.testing.assert_allclose(rotation_matrix((30, 40), 5), cv2.getRotationMatrix2D((30, 40), 5, 1), atol=1e-12)


def test_xywh_and_square():
    np.testing.assert_array_equal(xywh_to_xyxy([[449, 330, 122, 149]]), [[449, 330, 571, 479]])
    sq = square_boxes([[0, 0, 10, 20]])
    np.testing.assert_allclose(sq, [[-5, 0, 15, 20]])


def test_nms_keeps_best_of_overlapping():
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    keep = nms(b, [0.5, 0.9, 0.7], 0.5)
    assert keep.tolist() == [1, 2]
    assert nms(b, [0.5, 0.9, 0.7], 0.5, mode="min").tolist() == [1, 2]


def reference_nms(boxes, scores, threshold, mode="union"):
    """The plain greedy loop that :func:`nms` must reproduce: the highest score first,
    every box overlapping it by more than ``threshold`` dropped, repeat."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        order = rest[overlap_matrix(b[i][None], b[rest], mode)[0] <= threshold]
    return np.asarray(keep, dtype=np.int64)


@pytest.mark.parametrize("mode", ["union", "min"])
@pytest.mark.parametrize("seed", range(6))
def test_blocked_nms_equals_the_reference(mode, seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 40, (300, 2))], axis=1)
    scores = rng.integers(0, 20, 300) / 20  # ties on purpose
    for threshold in (0.3, 0.5, 0.7):
        np.testing.assert_array_equal(nms(boxes, scores, threshold, mode), reference_nms(boxes, scores, threshold, mode))


def test_blocked_nms_across_blocks_equals_the_reference(monkeypatch):
    from mtcnn_data.core import boxes as boxes_module

    monkeypatch.setattr(boxes_module, "NMS_BLOCK", 37)
    rng = np.random.default_rng(9)
    xy = rng.uniform(0, 200, (500, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 50, (500, 2))], axis=1)
    scores = rng.integers(0, 30, 500) / 30
    for mode in ("union", "min"):
        np.testing.assert_array_equal(nms(boxes, scores, 0.4, mode), reference_nms(boxes, scores, 0.4, mode))


def test_blocked_nms_of_nothing():
    assert len(nms(np.zeros((0, 4)), np.zeros(0), 0.5)) == 0


