"""Resampling: the summed-area-table area average against an exact box filter and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcnn_data.core.schema import AUG_FLIP
from mtcnn_data.core.imaging import ImageCutter, crop_padded, crop_resize, sample_pixels


def box_filter_reference(image, box, out_w, out_h):
    """Mean over each cell of the piecewise-constant image (zero outside), by explicit
    per-pixel coverage weights: slow, obviously right."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    xs = x1 + (x2 - x1) * np.arange(out_w + 1) / out_w
    ys = y1 + (y2 - y1) * np.arange(out_h + 1) / out_h
    px, py = np.arange(w), np.arange(h)
    wx = np.clip(np.minimum(xs[1:, None], px[None] + 1) - np.maximum(xs[:-1, None], px[None]), 0, None)  # (out_w, w)
    wy = np.clip(np.minimum(ys[1:, None], py[None] + 1) - np.maximum(ys[:-1, None], py[None]), 0, None)  # (out_h, h)
    sums = np.einsum("yh,xw,hwc->yxc", wy, wx, image.astype(np.float64))
    return sums / ((x2 - x1) / out_w * (y2 - y1) / out_h)


def smooth_image(rng, h, w):
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.5)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    x=st.floats(-30, 70), y=st.floats(-30, 50), side=st.floats(1, 120),
    out=st.sampled_from([1, 5, 12, 24]),
)
def test_area_average_is_the_exact_box_filter(seed, x, y, side, out):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    box = (x, y, x + side, y + side * 0.8)
    got = ImageCutter(img).area_average(np.array([box]), out, out)[0].astype(np.float64)
    want = box_filter_reference(img, box, out, out)
    assert np.abs(got - want).max() <= 0.5 + 1e-6  # rounding only


def test_agrees_with_opencv_inter_area_within_rounding():
    rng = np.random.default_rng(0)
    img = smooth_image(rng, 300, 400)
    cutter = ImageCutter(img)
    diffs = []
    for _ in range(200):
        side = int(rng.integers(12, 290))
        x, y = int(rng.integers(0, 400 - side)), int(rng.integers(0, 300 - side))
        for size in (12, 24, 48):
            if side < size:
                continue
            ours = cutter.cut([[x, y, x + side, y + side]], size)[0].astype(int)
            ref = cv2.resize(img[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA).astype(int)
            diffs.append(np.abs(ours - ref).ravel())
    diffs = np.concatenate(diffs)
    assert diffs.max() <= 1 and (diffs > 0).mean() < 0.01


def test_outside_the_image_counts_as_zero():
    img = smooth_image(np.random.default_rng(1), 50, 70)
    box = (-20, -10, 40, 50)
    padded = crop_padded(img, box)
    ours = sample_pixels(img, box, 12)
    assert np.array_equal(ours, ImageCutter(padded).cut([[0, 0, 60, 60]], 12)[0])
    assert ours[0, 0].max() == 0  # the top-left cell lies wholly outside


def test_growing_is_bilinear_and_flip_mirrors():
    img = smooth_image(np.random.default_rng(2), 40, 40)
    box = (5, 6, 15, 16)
    grown = sample_pixels(img, box, 24)
    assert np.array_equal(grown, cv2.resize(img[6:16, 5:15], (24, 24), interpolation=cv2.INTER_LINEAR))
    assert np.array_equal(sample_pixels(img, box, 24, AUG_FLIP), grown[:, ::-1])


def test_batch_and_single_and_detector_crops_agree():
    rng = np.random.default_rng(3)
    img = smooth_image(rng, 120, 160)
    boxes = np.array([[10, 10, 60, 60], [-5, 20, 30, 55], [100, 70, 170, 140], [40, 40, 52, 52], [3, 3, 10, 10]])
    codes = np.array([0, 1, 2, 5, 0])
    batch = ImageCutter(img).cut(boxes, 12, codes, 5.0)
    for b, c, got in zip(boxes, codes, batch):
        assert np.array_equal(got, sample_pixels(img, b, 12, c, 5.0))
    assert np.array_equal(crop_resize(img, boxes, 24), np.stack([sample_pixels(img, b, 24) for b in boxes]))


def test_grey_images_keep_their_shape():
    grey = smooth_image(np.random.default_rng(4), 30, 30)[:, :, 0]
    assert sample_pixels(grey, (0, 0, 30, 30), 12).shape == (12, 12)


@pytest.mark.parametrize("dtype", ["int32", "float64"])
def test_table_is_exact_for_small_and_huge_images(dtype):
    """Sums past 2**31 switch the table to float64; the averages stay exact."""
    rng = np.random.default_rng(5)
    if dtype == "int32":
        img = smooth_image(rng, 200, 300)
    else:
        img = np.full((3000, 3000, 3), 255, np.uint8)  # 2.3e9 per channel: beyond int32
        img[1000:1100, 2000:2100] = smooth_image(rng, 100, 100)
    cutter = ImageCutter(img)
    assert cutter.table().dtype == np.dtype(dtype)
    x, y = (2950, 1050) if dtype == "float64" else (20, 30)  # the far corner of the huge one: largest sums
    got = cutter.area_average(np.array([[x - 0.5, y + 0.25, x + 70.5, y + 70.25]]), 12, 12)[0].astype(np.float64)
    want = box_filter_reference(img[y : y + 72, x - 1 : x + 72], (0.5, 0.25, 71.5, 70.25), 12, 12)
    assert np.abs(got - want).max() <= 0.5 + 1e-6


def test_empty_box_is_refused():
    with pytest.raises(ValueError, match="empty crop box"):
        ImageCutter(np.zeros((10, 10, 3), np.uint8)).cut([[5, 5, 5, 9]], 12)


def test_pyramid_levels_are_block_means_of_the_zero_padded_image():
    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, (37, 51, 3), dtype=np.uint8)  # odd sizes: zero padding at each level
    cutter = ImageCutter(img)
    for level in (1, 2, 3):
        got = cutter.pyramid_level(level).astype(np.float64)
        k = 2**level
        h, w = -(-37 // k), -(-51 // k)
        padded = np.zeros((h * k, w * k, 3))
        padded[:37, :51] = img
        want = padded.reshape(h, k, w, k, 3).mean(axis=(1, 3))
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 0.5 * level + 1e-9  # one rounding per level


def test_rotation_by_zero_degrees_matches_the_area_average():
    """The rotated path (pyramid, bilinear, 4x area) at 0 degrees is a fair area average."""
    img = smooth_image(np.random.default_rng(7), 300, 300)
    box = np.array([40, 50, 240, 250])
    turned = ImageCutter(img).rotated(box, 0.0, 12).astype(int)
    straight = sample_pixels(img, box, 12).astype(int)
    assert np.abs(turned - straight).mean() < 1.0 and np.abs(turned - straight).max() <= 4


def test_a_sample_does_not_depend_on_the_other_crops_of_its_image():
    """Provenance: re-cutting one sample alone must give the bytes it got in a batch."""
    rng = np.random.default_rng(9)
    img = smooth_image(rng, 300, 400)
    side = rng.integers(12, 200, 400)
    x, y = rng.integers(-30, 400 - side // 2), rng.integers(-30, 300 - side // 2)
    boxes = np.stack([x, y, x + side, y + side], 1)
    codes = rng.integers(0, 6, 400)
    batch = ImageCutter(img).cut(boxes, 12, codes, 5.0)
    alone = np.stack([sample_pixels(img, b, 12, c, 5.0) for b, c in zip(boxes, codes)])
    assert np.array_equal(batch, alone)
    half = ImageCutter(img).cut(boxes[::2], 12, codes[::2], 5.0)
    assert np.array_equal(half, batch[::2])


def test_the_table_reaches_only_as_far_as_the_boxes_and_gives_the_same_averages():
    """The table covers the rows and columns the boxes reach, grows when a later box
    reaches further, and its averages are those of the whole image's table."""
    rng = np.random.default_rng(10)
    img = smooth_image(rng, 300, 400)
    near = np.array([[5.0, 7.0, 41.0, 43.0], [-10.0, -4.0, 30.0, 36.0]])
    far = np.array([[330.0, 250.0, 410.0, 330.0], [100.25, 90.5, 180.75, 170.0]])
    cutter = ImageCutter(img)
    first = cutter.area_average(near, 12, 12)
    reach = cutter._table_shape
    assert reach[0] < 60 and reach[1] < 60  # only the top-left corner the near boxes touch
    second = cutter.area_average(far, 12, 12)
    assert cutter._table_shape == (300, 400)  # grown to the far box, clipped to the image
    whole = ImageCutter(img)
    whole.table()  # the whole image's table first
    assert np.array_equal(np.concatenate([first, second]), whole.area_average(np.concatenate([near, far]), 12, 12))
    assert np.array_equal(cutter.area_average(near, 12, 12), first)  # the grown table gives the same
