"""Labelling crops by IoU with the annotated faces (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import encode_offsets, iou_matrix, near_pairs, pair_ious
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
    a_iou, t_iou, t_idx = best_overlaps(crops, faces, keep)
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


#: Crops x faces up to which :func:`best_overlaps` builds the full IoU matrix; above it
#: only the pairs whose boxes can overlap are tested (same results, cost linear in faces).
DENSE_PAIRS = 4096


def best_overlaps(crops, faces, keep):
    """Per crop: the best IoU over all faces, the best over the kept faces and that
    face's index (lowest index among equal IoU, as ``argmax``; ``kept[0]`` when no kept
    face overlaps). ``crops`` (N,4), ``faces`` (M,4) float64, ``keep`` (M,) bool."""
    if len(crops) * len(faces) <= DENSE_PAIRS:
        return dense_best_overlaps(crops, faces, keep)
    return sparse_best_overlaps(crops, faces, keep)


def dense_best_overlaps(crops, faces, keep):
    """:func:`best_overlaps` from the full (N, M) IoU matrix."""
    m = iou_matrix(crops, faces) if len(faces) else np.zeros((len(crops), 0))
    a_iou = m.max(axis=1, initial=0.0)
    kept = np.flatnonzero(keep)
    if not len(kept):
        return a_iou, np.zeros(len(crops)), np.zeros(len(crops), np.int64)
    t_idx = kept[m[:, kept].argmax(axis=1)]
    return a_iou, m[np.arange(len(crops)), t_idx], t_idx


def sparse_best_overlaps(crops, faces, keep):
    """:func:`best_overlaps` from only the (crop, face) pairs whose boxes overlap
    (:func:`near_pairs`); every other pair has IoU 0 in the dense matrix too."""
    n = len(crops)
    kept = np.flatnonzero(keep)
    ci, fj = near_pairs(crops, faces)
    iou = pair_ious(crops, faces, ci, fj)
    a_iou = np.zeros(n)
    np.maximum.at(a_iou, ci, iou)
    if not len(kept):
        return a_iou, np.zeros(n), np.zeros(n, np.int64)
    k = keep[fj]
    ci, fj, iou = ci[k], fj[k], iou[k]
    t_iou = np.zeros(n)
    np.maximum.at(t_iou, ci, iou)
    best = (iou == t_iou[ci]) & (iou > 0)
    t_idx = np.full(n, len(faces), np.int64)
    np.minimum.at(t_idx, ci[best], fj[best])
    t_idx[t_idx == len(faces)] = kept[0]
    return a_iou, t_iou, t_idx
