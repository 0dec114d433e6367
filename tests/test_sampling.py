"""Sampling and labelling: every candidate's label and targets follow from its crop."""

import numpy as np
import pytest

from mtcnn_data.core.boxes import encode_offsets, iou_matrix
from mtcnn_data.core.labelling import DISCARD, label_crops
from mtcnn_data.core.landmarks import FLIP_ORDER, denormalise_from_crops, rotation_matrix
from mtcnn_data.core.sampling import (
    LandmarkSampling,
    PNetSampling,
    augment_geometry,
    image_rng,
    landmark_candidates,
    pnet_candidates,
)
from mtcnn_data.core.schema import AUG_FLIP, AUG_ROT_NEG, AUG_ROT_POS, LANDMARK, NEGATIVE, PART, POSITIVE
from mtcnn_data.core.imaging import crop_padded, sample_pixels

FACES = np.array([[100, 100, 160, 170], [300, 50, 330, 85], [400, 300, 460, 360]], dtype=float)


def test_image_rng_depends_on_seed_and_identity_only():
    a = image_rng(3, "wider/a.jpg").random(4)
    assert np.array_equal(a, image_rng(3, "wider/a.jpg").random(4))
    assert not np.array_equal(a, image_rng(4, "wider/a.jpg").random(4))
    assert not np.array_equal(a, image_rng(3, "wider/b.jpg").random(4))


def test_labels_follow_the_bands():
    crops = np.array([[100, 100, 160, 170], [110, 100, 170, 170], [130, 120, 190, 190], [500, 0, 560, 60], [140, 100, 200, 170]])
    labels, iou, bbox = label_crops(crops, FACES)
    truth = iou_matrix(crops, FACES).max(1)
    np.testing.assert_allclose(iou, truth, rtol=1e-6)
    for lab, v in zip(labels, truth):
        if lab == POSITIVE:
            assert v > 0.65
        elif lab == PART:
            assert 0.4 <= v <= 0.65
        elif lab == NEGATIVE:
            assert v < 0.3
        else:
            assert lab == DISCARD and 0.3 <= v < 0.4
    assert labels[0] == POSITIVE and labels[3] == NEGATIVE
    np.testing.assert_allclose(bbox[0], 0)
    np.testing.assert_allclose(bbox[1], encode_offsets(crops[1:2], FACES[:1])[0], rtol=1e-6)


def test_dropped_faces_block_negatives_but_give_no_positives():
    dropped = np.array([[500, 0, 560, 60]], dtype=float)
    all_faces = np.concatenate([FACES, dropped])
    keep = np.array([True] * len(FACES) + [False])
    labels, iou, _ = label_crops(dropped, all_faces, keep)
    assert labels[0] == DISCARD  # IoU 1 with a dropped face: neither positive nor negative
    assert iou[0] == 1.0
    near = np.array([[98, 98, 158, 172]], dtype=float)  # overlaps kept face 0 only
    labels, iou, bbox = label_crops(np.concatenate([near, near]), all_faces, keep)
    assert labels[0] in (POSITIVE, PART) and iou[0] == np.float32(iou_matrix(near, FACES[:1])[0, 0])
    np.testing.assert_allclose(bbox[0], encode_offsets(near, FACES[:1])[0], rtol=1e-6)


def test_pnet_candidates_are_consistent():
    rng = image_rng(0, "wider/x.jpg")
    cfg = PNetSampling()
    cands = pnet_candidates(rng, 640, 480, FACES, None, cfg)
    labels, iou, bbox = label_crops(cands["crop"], FACES, None, cfg.bands)
    assert np.array_equal(labels, cands["label"])
    np.testing.assert_allclose(iou, cands["iou"], rtol=1e-6)
    np.testing.assert_allclose(bbox, cands["bbox"], atol=1e-6)
    side = cands["crop"][:, 2] - cands["crop"][:, 0]
    assert np.array_equal(side, cands["crop"][:, 3] - cands["crop"][:, 1])
    assert side.min() >= 12
    assert (cands["label"] == NEGATIVE).sum() >= 50
    assert (cands["label"] == POSITIVE).sum() > 0 and (cands["label"] == PART).sum() > 0
    assert len(np.unique(cands["key"])) == len(cands)


def test_small_faces_give_no_jittered_crops():
    tiny = np.array([[10, 10, 18, 19]], dtype=float)
    cands = pnet_candidates(image_rng(0, "t"), 200, 200, tiny)
    assert not np.isin(cands["label"], [POSITIVE, PART]).any()


def test_landmark_candidates_inside_and_flip_consistent():
    face = FACES[:1]
    lm = np.array([[[115, 125], [145, 125], [130, 140], [118, 155], [142, 155]]], dtype=float)
    cands = landmark_candidates(image_rng(1, "celeba/000001.jpg"), face, lm, LandmarkSampling(attempts=40))
    assert len(cands) > 0 and (cands["label"] == LANDMARK).all()
    assert (cands["landmarks"] >= 0).all() and (cands["landmarks"] < 1).all()
    assert (cands["iou"] >= 0.65).all()
    assert set(np.unique(cands["augment"])) >= {0, AUG_FLIP}
    plain = cands[cands["augment"] == 0]
    pts = denormalise_from_crops(plain["landmarks"], plain["crop"])
    np.testing.assert_allclose(pts, np.repeat(lm, len(plain), 0), atol=1e-4)


@pytest.mark.parametrize("scale", [1, 4])
@pytest.mark.parametrize("augment", [0, AUG_FLIP, AUG_ROT_POS, AUG_ROT_POS | AUG_FLIP, AUG_ROT_NEG, AUG_ROT_NEG | AUG_FLIP])
def test_landmark_targets_point_at_the_pixels(augment, scale):
    """Dots drawn at the landmarks must appear where the stored targets say, in the stored pixels.

    ``scale`` 1 keeps full resolution (checked to the pixel); 4 shrinks the crop 4x,
    which takes the downsample-then-rotate path for rotations (checked to one output pixel).
    """
    img = np.zeros((300 * scale, 300 * scale, 3), dtype=np.uint8)
    pts = np.array([[110.5, 120.5], [150.5, 118.5], [131.5, 140.5], [114.5, 162.5], [147.5, 160.5]]) * scale
    crop = np.array([90, 90, 170, 170]) * scale
    face = np.array([95, 95, 165, 175], dtype=float) * scale
    size = 80  # output pixels
    _, lm = augment_geometry(crop, face, pts, augment, 10.0)
    for k, (x, y) in enumerate(pts):
        one = img.copy()
        r = scale // 2
        one[int(y) - r : int(y) + r + 1, int(x) - r : int(x) + r + 1] = 255
        out = sample_pixels(one, crop, size, augment, 10.0)
        peak = np.unravel_index(np.argmax(out[..., 0]), out.shape[:2])
        j = FLIP_ORDER[k] if augment & AUG_FLIP else k  # a flip makes the left eye the right eye
        want = lm[2 * j : 2 * j + 2] * size  # continuous coordinate of the dot's centre
        assert abs(peak[1] + 0.5 - want[0]) <= 1.0 and abs(peak[0] + 0.5 - want[1]) <= 1.0, (k, peak, want)


def test_flip_twice_is_identity_for_pixels_and_targets():
    img = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    crop = np.array([10, 20, 60, 70])
    once = sample_pixels(img, crop, 50, AUG_FLIP)
    assert np.array_equal(once[:, ::-1], sample_pixels(img, crop, 50, 0))
    face = np.array([15, 25, 55, 68.0])
    pts = np.array([[25, 35], [45, 35], [35, 45], [28, 55], [42, 55.0]])
    b0, l0 = augment_geometry(crop, face, pts, 0, 5)
    b1, l1 = augment_geometry(crop, face, pts, AUG_FLIP, 5)
    from mtcnn_data.core.boxes import flip_offsets
    from mtcnn_data.core.landmarks import flip_normalised

    np.testing.assert_allclose(flip_offsets(b1[None])[0], b0, atol=1e-12)
    np.testing.assert_allclose(flip_normalised(l1[None])[0], l0, atol=1e-12)


def test_crop_padded_zero_pads_outside():
    img = np.full((10, 10, 3), 7, dtype=np.uint8)
    patch = crop_padded(img, (-2, -3, 4, 5))
    assert patch.shape == (8, 6, 3)
    assert (patch[:3] == 0).all() and (patch[:, :2] == 0).all() and (patch[3:, 2:] == 7).all()


def test_vectorised_rotation_matches_rotation_matrix():
    from mtcnn_data.core.landmarks import apply_affine

    crop = np.array([90, 90, 170, 170])
    pts = np.array([[110.5, 120.5], [150.5, 118.5], [131.5, 140.5], [114.5, 162.5], [147.5, 160.5]])
    _, lm = augment_geometry(crop, crop.astype(float), pts, AUG_ROT_NEG, 7.0)
    want = apply_affine(pts, rotation_matrix((130, 130), -7.0))
    np.testing.assert_allclose(denormalise_from_crops(lm[None], crop[None])[0], want, atol=1e-9)


def rotated_full_resolution(image, box, degrees):
    """The reference: ``box`` of the image turned by ``degrees`` about the box centre with
    :func:`rotation_matrix`, bilinear at full resolution, zero outside (pixel centres at i + .5)."""
    import cv2

    x1, y1, x2, y2 = (int(v) for v in box)
    rot = rotation_matrix(((x1 + x2) / 2, (y1 + y2) / 2), degrees)
    lin_inv = rot[:, :2].T
    offset = lin_inv @ (np.array([x1, y1]) + 0.5) - lin_inv @ rot[:, 2] - 0.5
    return cv2.warpAffine(image, np.hstack([lin_inv, offset[:, None]]), (x2 - x1, y2 - y1),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def test_downsampled_rotation_agrees_with_full_resolution():
    import cv2

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8), (0, 0), 6)
    crop = np.array([60, 80, 300, 320])
    fast = sample_pixels(img, crop, 12, AUG_ROT_POS, 5.0)
    from mtcnn_data.core.imaging import ImageCutter

    slow = ImageCutter(rotated_full_resolution(img, crop, 5.0)).cut([[0, 0, 240, 240]], 12)[0]
    assert np.abs(fast.astype(int) - slow.astype(int)).mean() < 1.5


def test_landmark_candidates_of_many_images_are_those_of_each_image():
    """A unit's images sampled together give each image the candidates it gets alone, and
    leave each image's generator where sampling it alone leaves it."""
    from mtcnn_data.core.sampling import landmark_candidates_of_images

    g = np.random.default_rng(11)
    faces, points = [], []
    for count in [1, 0, 3, 1, 2, 1]:  # an image without faces, and crowded ones
        xy, wh = g.uniform(0, 300, (count, 2)), g.uniform(8, 150, (count, 2))
        faces.append(np.concatenate([xy, xy + wh], 1))
        points.append(xy[:, None] + g.uniform(0.1, 0.9, (count, 5, 2)) * wh[:, None])
    cfg = LandmarkSampling(attempts=30, min_iou=0.5)
    together = [image_rng(2, f"lm/{i}") for i in range(len(faces))]
    alone = [image_rng(2, f"lm/{i}") for i in range(len(faces))]
    many = landmark_candidates_of_images(together, faces, points, cfg)
    assert len(many) == len(faces) and sum(map(len, many)) > 20
    for i, (rng, f, p) in enumerate(zip(alone, faces, points)):
        one = landmark_candidates(rng, f, p, cfg)
        assert one.tobytes() == many[i].tobytes(), i
        assert rng.random() == together[i].random()
    assert len(many[1]) == 0
    assert landmark_candidates_of_images([], [], [], cfg) == []
