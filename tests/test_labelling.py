"""The labelling's near-pairs path equals the full IoU matrix, bit for bit (hypothesis)."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mtcnn_data.core import labelling
from mtcnn_data.core.boxes import iou_matrix, near_pairs, pair_ious
from mtcnn_data.core.labelling import IoUBands, dense_best_overlaps, label_crops, sparse_best_overlaps

# small integer grid: duplicates, touching and nested boxes are common; widths and
# heights may be 0 or negative (degenerate boxes)
grid = st.integers(0, 12).map(float)
side = st.integers(-2, 8).map(float)
fine = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
fine_side = st.floats(0, 40, allow_nan=False, allow_infinity=False)


@st.composite
def box_sets(draw, max_size=12):
    n = draw(st.integers(0, max_size))
    coords, sides = draw(st.sampled_from([(grid, side), (fine, fine_side)]))
    out = [[x, y, x + w, y + h] for x, y, w, h in (draw(st.tuples(coords, coords, sides, sides)) for _ in range(n))]
    return np.array(out, dtype=np.float64).reshape(-1, 4)


@st.composite
def with_duplicates(draw):
    faces = draw(box_sets())
    if len(faces) and draw(st.booleans()):  # repeat some faces: equal IoU ties
        faces = np.concatenate([faces, faces[draw(st.lists(st.integers(0, len(faces) - 1), max_size=4))]])
    return faces


@st.composite
def cases(draw):
    crops, faces = draw(box_sets(20)), draw(with_duplicates())
    mode = draw(st.sampled_from(["all", "none", "random"]))
    if mode == "all":
        keep = np.ones(len(faces), bool)
    elif mode == "none":
        keep = np.zeros(len(faces), bool)
    else:
        keep = np.array(draw(st.lists(st.booleans(), min_size=len(faces), max_size=len(faces))), bool)
    if draw(st.booleans()) and len(faces):  # crops equal to faces: IoU exactly 1
        crops = np.concatenate([crops, faces[: draw(st.integers(1, len(faces)))]])
    return crops, faces, keep


@settings(max_examples=400, deadline=None)
@given(cases())
def test_sparse_best_overlaps_equal_the_dense_ones(case):
    crops, faces, keep = case
    dense = dense_best_overlaps(crops, faces, keep)
    sparse = sparse_best_overlaps(crops, faces, keep)
    for d, s in zip(dense, sparse):
        assert d.dtype == s.dtype and np.array_equal(d, s)


@settings(max_examples=200, deadline=None)
@given(cases(), st.sampled_from([IoUBands(), IoUBands(0.5, 0.0, 0.0), IoUBands(1.0, 1.0, 1.0)]))
def test_label_crops_is_the_same_on_both_paths(case, bands):
    crops, faces, keep = case
    assume(keep.any() or bands.part > 0)  # part band from IoU 0 needs a kept face to aim at (both paths fail alike)
    saved = labelling.DENSE_PAIRS
    try:
        labelling.DENSE_PAIRS = 1 << 62
        dense = label_crops(crops, faces, keep, bands)
        labelling.DENSE_PAIRS = -1
        sparse = label_crops(crops, faces, keep, bands)
    finally:
        labelling.DENSE_PAIRS = saved
    for d, s in zip(dense, sparse):
        assert np.array_equal(d, s, equal_nan=True)  # a crop of width 0 has NaN offsets on both


@settings(max_examples=300, deadline=None)
@given(box_sets(20), with_duplicates())
def test_near_pairs_hold_every_overlapping_pair_once(a, b):
    i, j = near_pairs(a, b)
    m = iou_matrix(a, b) if len(a) and len(b) else np.zeros((len(a), len(b)))
    found = np.zeros(m.shape, np.int64)
    np.add.at(found, (i, j), 1)
    assert found.max(initial=0) <= 1
    assert not (m > 0)[found == 0].any()
    assert np.array_equal(pair_ious(a, b, i, j), m[i, j])


def test_a_crowd_takes_the_sparse_path_and_agrees():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, (800, 2))
    wh = rng.uniform(5, 60, (800, 2))
    faces = np.concatenate([xy, xy + wh], 1)
    crops = faces[rng.integers(0, 800, 3000)] + rng.normal(0, 4, (3000, 4))
    keep = rng.random(800) < 0.8
    assert len(crops) * len(faces) > labelling.DENSE_PAIRS
    assert len(near_pairs(crops, faces)[0]) < len(crops) * len(faces) / 20
    for d, s in zip(dense_best_overlaps(crops, faces, keep), sparse_best_overlaps(crops, faces, keep)):
        assert np.array_equal(d, s)
