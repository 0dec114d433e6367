"""Labelling crops by IoU with the annotated faces (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import best_iou, encode_offsets
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


def label_crops(crops, target_faces, all_faces, bands: IoUBands = IoUBands()):
    """Label crops against the faces of one image.

    ``target_faces`` (K,4) are the faces that may give positives and parts (those
    the filters kept); ``all_faces`` (M,4) are every annotated, non-degenerate face,
    against which a negative must stay under ``bands.negative``.

    Returns ``(labels int8 (N,), iou float32 (N,), bbox float32 (N,4))``:
    ``iou`` is the best IoU over ``target_faces`` for positives and parts and over
    ``all_faces`` otherwise; ``bbox`` the offsets of the best target face, zeros
    for negatives and discarded crops.
    """
    crops = np.asarray(crops, dtype=np.float64).reshape(-1, 4)
    t_iou, t_idx = best_iou(crops, target_faces)
    a_iou, _ = best_iou(crops, all_faces)
    labels = np.full(len(crops), DISCARD, dtype=np.int8)
    labels[t_iou >= bands.part] = PART
    labels[t_iou > bands.positive] = POSITIVE
    labels[a_iou < bands.negative] = NEGATIVE
    iou = np.where((labels == POSITIVE) | (labels == PART), t_iou, a_iou).astype(np.float32)
    bbox = np.zeros((len(crops), 4), dtype=np.float32)
    has_target = (labels == POSITIVE) | (labels == PART)
    if has_target.any():
        faces = np.asarray(target_faces, dtype=np.float64).reshape(-1, 4)
        bbox[has_target] = encode_offsets(crops[has_target], faces[t_idx[has_target]])
    return labels, iou, bbox
