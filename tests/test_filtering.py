"""Drop-reason codes and their priority (mtcnn_data.core.filtering)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from mtcnn_data.core.face_box import box_from_landmarks
from mtcnn_data.core.filtering import DROP_REASONS, REASON_CODES, FilterConfig, drop_reasons, min_side

BOXES = np.array([[0, 0, 10, 10], [5, 5, 5, 20], [0, 0, 30, 30]], dtype=np.float32)


def test_reason_table_is_uint8_codes_with_zero_kept():
    assert DROP_REASONS[0] == "kept"
    assert all(0 <= code < 256 for code in DROP_REASONS)
    assert drop_reasons(BOXES).dtype == np.uint8


def test_degenerate_always_dropped_even_without_other_filters():
    codes = drop_reasons(BOXES, FilterConfig(drop_invalid=False))
    assert codes.tolist() == [0, REASON_CODES["degenerate"], 0]


def test_invalid_dropped_by_default_and_kept_on_request():
    attrs = {"invalid": np.array([1, 0, 0], dtype=np.int8)}
    assert drop_reasons(BOXES, FilterConfig(), attrs).tolist() == [2, 1, 0]
    assert drop_reasons(BOXES, FilterConfig(drop_invalid=False), attrs).tolist() == [0, 1, 0]


def test_first_failing_reason_wins():
    boxes = np.array([[0, 0, 0, 5], [0, 0, 5, 5]], dtype=np.float32)
    attrs = {"invalid": np.array([1, 1]), "blur": np.array([2, 2])}
    codes = drop_reasons(boxes, FilterConfig(min_size=10, max_blur=0), attrs)
    assert codes.tolist() == [REASON_CODES["degenerate"], REASON_CODES["invalid"]]


def test_min_size_applies_to_the_smaller_side():
    boxes = np.array([[0, 0, 40, 11], [0, 0, 12, 12]], dtype=np.float32)
    assert min_side(boxes).tolist() == [11, 12]
    assert drop_reasons(boxes, FilterConfig(min_size=12)).tolist() == [REASON_CODES["too_small"], 0]


def test_outside_image_needs_a_size():
    boxes = np.array([[1050, 142, 1050, 192], [1030, 10, 1040, 20], [-20, 5, -1, 9], [10, 10, 20, 20]],
                     dtype=np.float32)
    assert drop_reasons(boxes[1:]).tolist() == [0, 0, 0]
    codes = drop_reasons(boxes, FilterConfig(), image_size=(1024, 768))
    assert codes.tolist() == [1, 3, 3, 0]
    per_box = drop_reasons(boxes[1:], image_size=np.array([[2048, 768], [100, 100], [100, 100]]))
    assert per_box.tolist() == [0, 3, 0]


def test_landmarks_outside_box():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    lm = np.full((2, 5, 2), 5.0)
    lm[1, 2] = (11, 5)
    assert drop_reasons(boxes, landmarks=lm).tolist() == [0, REASON_CODES["landmarks_outside_box"]]
    assert drop_reasons(boxes, FilterConfig(require_landmarks_in_box=False), landmarks=lm).tolist() == [0, 0]


@pytest.mark.parametrize(
    "config, attr, values, reason",
    [
        (FilterConfig(max_blur=1), "blur", [2, 1, 0], "blur"),
        (FilterConfig(max_occlusion=0), "occlusion", [2, 1, 0], "occlusion"),
        (FilterConfig(drop_atypical_pose=True), "pose", [1, 1, 0], "atypical_pose"),
    ],
)
def test_wider_attribute_thresholds(config, attr, values, reason):
    boxes = np.tile(np.array([[0, 0, 20, 20]], dtype=np.float32), (3, 1))
    codes = drop_reasons(boxes, config, {attr: np.array(values, dtype=np.int8)})
    dropped = codes == REASON_CODES[reason]
    assert dropped.tolist() == [v > {"blur": 1, "occlusion": 0, "pose": 0}[attr] for v in values]
    assert drop_reasons(boxes, FilterConfig(), {attr: np.array(values)}).tolist() == [0, 0, 0]


def test_absent_attribute_keeps_the_box():
    boxes = np.array([[0, 0, 20, 20]], dtype=np.float32)
    assert drop_reasons(boxes, FilterConfig(drop_atypical_pose=True, max_blur=0), {"blur": np.array([0])}) == [0]


def test_box_from_landmarks_is_a_square_around_eyes_and_mouth():
    lm = np.array([[[69, 111], [107, 111], [89, 135], [72, 152], [106, 152]]], dtype=np.float32)
    box = box_from_landmarks(lm)[0]
    assert box.dtype == np.float32
    assert box[2] - box[0] == pytest.approx(2.5 * np.hypot(1, 41))
    assert box[3] - box[1] == pytest.approx(2.5 * np.hypot(1, 41))
    assert ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) == pytest.approx((88.5, 131.5))


def test_core_imports_no_heavy_dependencies():
    core = Path(__file__).resolve().parent.parent / "mtcnn_data" / "core"
    for name in ("filtering.py", "face_box.py"):
        tree = ast.parse((core / name).read_text())
        modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not modules & {"click", "tqdm", "h5py", "torch", "cv2"}, name
