"""Which annotated boxes a reader keeps, and why the others are dropped (pure numpy).

Boxes are ``x1, y1, x2, y2`` with exclusive ``x2, y2`` (see :mod:`mtcnn_data`).
Every reader yields all the boxes of its file and marks each with a drop-reason
code from :data:`DROP_REASONS` (0 = kept); :func:`drop_reasons` computes them.

Reasons are checked in the order of their codes and the first failing one wins:

====  ======================  ===============================================
code  name                    dropped when
====  ======================  ===============================================
0     kept                    (nothing failed)
1     degenerate              ``w <= 0`` or ``h <= 0`` (always)
2     invalid                 WIDER ``invalid == 1`` (``drop_invalid``)
3     outside_image           the box does not overlap its image at all
                              (``drop_outside_image``; only with image sizes)
4     landmarks_outside_box   a landmark lies outside its box
                              (``require_landmarks_in_box``; only with landmarks)
5     too_small               ``min(w, h) < min_size``
6     blur                    WIDER ``blur > max_blur``
7     occlusion               WIDER ``occlusion > max_occlusion``
8     atypical_pose           WIDER ``pose == 1`` (``drop_atypical_pose``)
9     no_landmarks            the format has landmarks but not for this face
                              (NaN points, e.g. RetinaFace's ``-1``; always)
====  ======================  ===============================================

A check whose attribute column is absent (e.g. ``pose`` in 7-column WIDER files,
or any WIDER flag for CelebA) keeps the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

__all__ = ["DROP_REASONS", "REASON_CODES", "FilterConfig", "drop_reasons", "min_side", "outside_image_reasons"]

#: drop-reason code (uint8) -> name; 0 means kept.
DROP_REASONS = {
    0: "kept",
    1: "degenerate",
    2: "invalid",
    3: "outside_image",
    4: "landmarks_outside_box",
    5: "too_small",
    6: "blur",
    7: "occlusion",
    8: "atypical_pose",
    9: "no_landmarks",
}

#: name -> code, the inverse of :data:`DROP_REASONS`.
REASON_CODES = {name: code for code, name in DROP_REASONS.items()}


@dataclass(frozen=True)
class FilterConfig:
    """Which boxes to drop. The defaults keep every usable face:

    - ``drop_invalid=True``: WIDER boxes flagged ``invalid=1`` are dropped.
    - degenerate boxes (``w <= 0`` or ``h <= 0``) are always dropped.
    - ``drop_outside_image=True``: boxes with no overlap with their image are
      dropped, but only when the reader is given image sizes (optional probe).
    - ``require_landmarks_in_box=True``: a box whose own landmarks are not all
      inside it (edges included) is dropped; only formats with landmarks.
    - a box of a format with landmarks whose landmarks are missing (NaN) is
      always dropped (``no_landmarks``).
    - ``min_size=0`` (off): boxes with ``min(w, h) < min_size`` are dropped.
    - ``max_blur=None``, ``max_occlusion=None``, ``drop_atypical_pose=False``:
      WIDER attribute thresholds, off.
    """

    drop_invalid: bool = True
    drop_outside_image: bool = True
    require_landmarks_in_box: bool = True
    min_size: float = 0.0
    max_blur: Optional[int] = None
    max_occlusion: Optional[int] = None
    drop_atypical_pose: bool = False


def min_side(boxes) -> np.ndarray:
    """``min(w, h)`` per box."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])


def drop_reasons(
    boxes,
    config: FilterConfig = FilterConfig(),
    attributes: Optional[Mapping[str, np.ndarray]] = None,
    landmarks=None,
    image_size=None,
) -> np.ndarray:
    """uint8 ``(N,)`` drop-reason codes for ``boxes`` (``(N, 4)``), 0 = kept.

    Args:
        boxes: ``(N, 4)`` ``x1, y1, x2, y2``.
        config: the thresholds.
        attributes: per-box columns by name (WIDER ``invalid``, ``blur``, ...).
        landmarks: ``(N, 5, 2)`` or ``None``.
        image_size: ``(width, height)`` of the image, or ``(N, 2)`` per box, or
            ``None`` when unknown (the outside-image check is then skipped).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    attributes = attributes or {}
    codes = np.zeros(len(b), dtype=np.uint8)
    for code, failed in _failed_checks(b, config, attributes, landmarks, image_size):
        codes[(codes == 0) & failed] = code
    return codes


def _failed_checks(b, config, attributes, landmarks, image_size):
    """Yield ``(code, bool mask)`` in priority order, only for the checks that apply."""
    yield REASON_CODES["degenerate"], (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if config.drop_invalid and "invalid" in attributes:
        yield REASON_CODES["invalid"], np.asarray(attributes["invalid"]) == 1
    if config.drop_outside_image and image_size is not None:
        yield REASON_CODES["outside_image"], _outside_image(b, image_size)
    if config.require_landmarks_in_box and landmarks is not None:
        yield REASON_CODES["landmarks_outside_box"], ~_landmarks_inside(b, landmarks)
    if config.min_size > 0:
        yield REASON_CODES["too_small"], min_side(b) < config.min_size
    if config.max_blur is not None and "blur" in attributes:
        yield REASON_CODES["blur"], np.asarray(attributes["blur"]) > config.max_blur
    if config.max_occlusion is not None and "occlusion" in attributes:
        yield REASON_CODES["occlusion"], np.asarray(attributes["occlusion"]) > config.max_occlusion
    if config.drop_atypical_pose and "pose" in attributes:
        yield REASON_CODES["atypical_pose"], np.asarray(attributes["pose"]) == 1
    if landmarks is not None:
        yield REASON_CODES["no_landmarks"], _landmarks_absent(b, landmarks)


def outside_image_reasons(boxes, drop_reason, image_size) -> np.ndarray:
    """``drop_reason`` with ``outside_image`` set where a box misses its ``(w, h)`` image
    and no earlier reason (degenerate, invalid) already dropped it: what
    :func:`drop_reasons` gives with the image size known, for records read without it."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    reason = np.asarray(drop_reason, dtype=np.uint8).copy()
    code = REASON_CODES["outside_image"]
    reason[((reason == 0) | (reason > code)) & _outside_image(b, image_size)] = code
    return reason


def _outside_image(b: np.ndarray, image_size) -> np.ndarray:
    size = np.broadcast_to(np.asarray(image_size, dtype=np.float64).reshape(-1, 2), (len(b), 2))
    w, h = size[:, 0], size[:, 1]
    return (b[:, 0] >= w) | (b[:, 1] >= h) | (b[:, 2] <= 0) | (b[:, 3] <= 0)


def _landmarks_inside(b: np.ndarray, landmarks) -> np.ndarray:
    """True where all five points of a box lie in it, edges included (or where the box
    has no landmarks: that is ``no_landmarks``, not this reason)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(len(b), 5, 2)
    x, y = lm[..., 0], lm[..., 1]
    inside = (x >= b[:, None, 0]) & (x <= b[:, None, 2]) & (y >= b[:, None, 1]) & (y <= b[:, None, 3])
    return inside.all(axis=1) | _landmarks_absent(b, landmarks)


def _landmarks_absent(b: np.ndarray, landmarks) -> np.ndarray:
    """True where any point of a box's landmarks is NaN (not annotated)."""
    return np.isnan(np.asarray(landmarks, dtype=np.float64).reshape(len(b), 5, 2)).any(axis=(1, 2))
