"""nms()'s sparse path keeps exactly the boxes of the dense block-wise path (hypothesis)."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mtcnn_data.core import boxes as boxes_module
from mtcnn_data.core.boxes import nms

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 1.0)


def dense_nms(boxes, scores, threshold, mode="union"):
    """The block-wise dense algorithm (kept as it was; tests/test_geometry.py checks it
    against the plain greedy loop)."""
    return nms(boxes, scores, threshold, mode, sparse=False)


# small integer grid: duplicates, touching and nested boxes are common; widths and
# heights may be 0 or negative (degenerate boxes); scores from few values (ties)
grid = st.integers(0, 16).map(float)
side = st.integers(-2, 10).map(float)
fine = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
fine_side = st.floats(0, 40, allow_nan=False, allow_infinity=False)


@st.composite
def box_sets(draw):
    n = draw(st.integers(0, 60))
    coords, sides = draw(st.sampled_from([(grid, side), (fine, fine_side)]))
    rows = [draw(st.tuples(coords, coords, sides, sides)) for _ in range(n)]
    b = np.array([[x, y, x + w, y + h] for x, y, w, h in rows], dtype=np.float64).reshape(-1, 4)
    if len(b) and draw(st.booleans()):  # exact duplicates
        b = np.concatenate([b, b[draw(st.lists(st.integers(0, len(b) - 1), max_size=10))]])
    scores = np.array(draw(st.lists(st.integers(0, 4), min_size=len(b), max_size=len(b))), dtype=np.float64)
    return b, scores


@settings(max_examples=300, deadline=None)
@given(box_sets(), st.sampled_from(["union", "min"]), st.sampled_from(THRESHOLDS))
@example((np.array([[0, 0, 1, 1], [0, 0, 2, 6e-134]]), np.zeros(2)), "union", 0.0)  # a tiny height
def test_sparse_nms_equals_dense(case, mode, threshold):
    b, scores = case
    want = dense_nms(b, scores, threshold, mode)
    np.testing.assert_array_equal(nms(b, scores, threshold, mode, sparse=True), want)
    np.testing.assert_array_equal(nms(b, scores, threshold, mode), want)


def grid_windows(rng, n_levels=3):
    """Dense grids of same-size windows, as P-Net proposes them, jittered a little."""
    out = []
    for side, stride in [(12, 2), (17, 2.8), (24, 4)][:n_levels]:
        xs, ys = np.meshgrid(np.arange(0, 140, stride), np.arange(0, 100, stride))
        xy = np.stack([xs.ravel(), ys.ravel()], axis=1) + rng.normal(0, 0.7, (xs.size, 2))
        wh = side * np.exp(rng.normal(0, 0.1, (xs.size, 2)))
        out.append(np.concatenate([xy, xy + wh], axis=1))
    return np.concatenate(out)


@pytest.mark.parametrize("mode", ["union", "min"])
@pytest.mark.parametrize("seed", range(2))
def test_sparse_nms_on_many_grid_windows(mode, seed):
    rng = np.random.default_rng(seed)
    b = grid_windows(rng)
    assert len(b) > boxes_module.NMS_SPARSE_MIN  # the default takes the sparse path
    scores = np.round(rng.random(len(b)), 2)  # many ties
    b[::97] = b[::89][: len(b[::97])]  # some exact duplicates
    b[::101, 2] = b[::101, 0]  # some degenerate
    for threshold in THRESHOLDS:
        np.testing.assert_array_equal(nms(b, scores, threshold, mode), dense_nms(b, scores, threshold, mode))


def test_sparse_nms_in_small_chunks(monkeypatch):
    monkeypatch.setattr(boxes_module, "NMS_CHUNK", 1000)
    rng = np.random.default_rng(5)
    b = grid_windows(rng, 2)
    scores = rng.random(len(b))
    for mode in ("union", "min"):
        np.testing.assert_array_equal(nms(b, scores, 0.5, mode), dense_nms(b, scores, 0.5, mode))


def test_negative_threshold_and_non_finite_boxes_take_the_dense_path():
    rng = np.random.default_rng(3)
    b = grid_windows(rng, 1)
    scores = rng.random(len(b))
    np.testing.assert_array_equal(nms(b, scores, -0.1), dense_nms(b, scores, -0.1))
    b[5] = [np.nan, 0, 10, 10]
    b[9] = [0, 0, np.inf, 10]
    np.testing.assert_array_equal(nms(b, scores, 0.5), dense_nms(b, scores, 0.5))


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError):
        nms(np.zeros((3000, 4)), np.zeros(3000), 0.5, mode="max")
