"""Labelling crops by IoU with the annotated faces (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import encode_offsets, iou_matrix
from .schema import NEGATIVE, PART, POSITIVE

#: Label of a crop that falls between the bands and is discarded.
DISCARD = 99


@dataclass(frozen=True)
class IoUBands:
    """Positive if IoU > ``positive``; part if ``part`` <= IoU <= ``positive``;
    negative if IoU < ``negative`` against every annotated face; else discarded."""

    positive: float = 0.65
    part: float = 0.4
    negative: float = 0.3

    def __post_init__(self):
        if not (0 <= self.negative <= self.part <= self.positive <= 1):
            raise ValueError(
                f"IoU bands must satisfy 0 <= negative <= part <= positive <= 1, got "
                f"negative={self.negative}, part={self.part}, positive={self.positive}"
            )


def label_crops(crops, faces, keep=None, bands: IoUBands = IoUBands()):
    """Label crops against the faces of one image.

    ``faces`` (M,4) are every annotated face of the image; ``keep`` (M,) bool says
    which of them may give positives and parts (those the filters kept; all when
    ``None``). A negative must stay under ``bands.negative`` against every face.

    Returns ``(labels int8 (N,), iou float32 (N,), bbox float32 (N,4))``:
    ``iou`` is the best IoU over the kept faces for positives and parts and over
    all faces otherwise; ``bbox`` the offsets of the best kept face, zeros for
    negatives and discarded crops.
    """
    crops = np.asarray(crops, dtype=np.float64).reshape(-1, 4)
    faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
    keep = np.ones(len(faces), bool) if keep is None else np.asarray(keep, bool).reshape(-1)
    if len(keep) != len(faces):
        raise ValueError(f"keep has {len(keep)} entries for {len(faces)} faces")
    m = iou_matrix(crops, faces) if len(faces) else np.zeros((len(crops), 0))
    a_iou = m.max(axis=1, initial=0.0)
    kept = np.flatnonzero(keep)
    if len(kept):
        t_best = m[:, kept].argmax(axis=1)
        t_idx = kept[t_best]
        t_iou = m[np.arange(len(crops)), t_idx]
    else:
        t_idx, t_iou = np.zeros(len(crops), np.int64), np.zeros(len(crops))
    labels = np.full(len(crops), DISCARD, dtype=np.int8)
    labels[t_iou >= bands.part] = PART
    labels[t_iou > bands.positive] = POSITIVE
    labels[a_iou < bands.negative] = NEGATIVE
    has_target = (labels == POSITIVE) | (labels == PART)
    iou = np.where(has_target, t_iou, a_iou).astype(np.float32)
    bbox = np.zeros((len(crops), 4), dtype=np.float32)
    if has_target.any():
        bbox[has_target] = encode_offsets(crops[has_target], faces[t_idx[has_target]])
    return labels, iou, bbox
