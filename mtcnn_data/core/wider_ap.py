"""The WIDER FACE evaluation protocol (average precision per setting), pure numpy.

This follows the official evaluation toolkit (``eval_tools/``: ``norm_score.m``,
``read_pred.m``, ``evaluation.m``, ``boxoverlap.m``, ``VOCap.m``), step for step:

1. Scores are normalised over the whole detection set: ``(s - min) / (max - min)``.
2. In each image the detections are taken in descending score order (stable). Each one
   is matched to the annotated face it overlaps most (IoU by the toolkit's pixel
   convention: a box ``x y w h`` covers the pixels ``x .. x+w`` inclusive, so widths and
   heights count ``+1``). At IoU >= 0.5 with a face the setting keeps, the face is found
   (once; later matches to it are false positives); with a face the setting ignores,
   the detection is dropped: neither a hit nor a false positive.
3. For 1000 thresholds ``1 - t/1000`` (t = 1..1000), each image contributes the number of
   its detections above the threshold that are not dropped, and the number of kept faces
   found by them; summed over the images, they give precision = found / proposals and
   recall = found / (faces the setting keeps).
4. AP is the area under the precision envelope (the VOC rule): precision made
   non-increasing from the right, summed over the steps in recall. A threshold with no
   proposals has precision 0/0; MATLAB's ``max`` ignores that NaN, and so does this code.

Boxes here are ``x, y, w, h`` as the submission files and the ground truth give them
(see docs/evaluation.md); this module converts them once, in :func:`toolkit_iou`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .boxes import iou_matrix

SETTINGS = ("easy", "medium", "hard")
THRESHOLDS = 1000
IOU = 0.5

__all__ = [
    "SETTINGS",
    "THRESHOLDS",
    "ImageTruth",
    "SettingResult",
    "toolkit_iou",
    "normalise_scores",
    "match_detections",
    "image_pr_counts",
    "envelope_ap",
    "evaluate_setting",
    "sort_by_score",
]


@dataclass
class ImageTruth:
    """One image's annotated faces ``boxes`` (K, 4) ``x y w h`` and, per setting, the
    boolean mask (K,) of the faces that setting keeps (the rest are ignored there)."""

    boxes: np.ndarray
    keep: Dict[str, np.ndarray]


@dataclass
class SettingResult:
    """AP of one setting, its curve (``precision``, ``recall``: one value per threshold,
    highest threshold first) and the number of faces the setting keeps in the images
    evaluated."""

    ap: float
    precision: np.ndarray
    recall: np.ndarray
    faces: int


def toolkit_iou(detections_xywh, truth_xywh) -> np.ndarray:
    """(N, K) IoU as ``boxoverlap.m`` computes it: ``x y w h`` boxes spanning the pixels
    ``x .. x+w`` inclusive, i.e. ``[x, x+w+1)`` in this package's exclusive convention."""
    return iou_matrix(_inclusive_to_exclusive(detections_xywh), _inclusive_to_exclusive(truth_xywh))


def _inclusive_to_exclusive(xywh) -> np.ndarray:
    b = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:4] + 1.0], axis=1)


def normalise_scores(scores: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Min-max normalise every image's scores with the min and max over all images.

    When every score is the same (min == max) the toolkit divides by zero; here all
    scores become 1.0 (every detection passes every threshold) instead.
    """
    present = [np.asarray(s, dtype=np.float64) for s in scores]
    nonempty = [s for s in present if len(s)]
    if not nonempty:
        return present
    lo = min(float(s.min()) for s in nonempty)
    hi = max(float(s.max()) for s in nonempty)
    if hi == lo:
        return [np.ones_like(s) for s in present]
    return [(s - lo) / (hi - lo) for s in present]


def match_detections(detections_xywh, truth_xywh, keep: np.ndarray, iou: float = IOU) -> Tuple[np.ndarray, np.ndarray]:
    """Match one image's detections (already in descending score order) to its faces.

    Returns ``(found, proposal)``: ``found[h]`` = kept faces found by detections
    ``0..h``; ``proposal[h]`` = False where detection ``h`` lands on an ignored face
    (IoU >= ``iou`` with it as its best face), True otherwise.
    """
    n = len(detections_xywh)
    if n == 0 or len(truth_xywh) == 0:
        return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    overlaps = toolkit_iou(detections_xywh, truth_xywh)
    best = overlaps.argmax(axis=1)
    hit = overlaps[np.arange(n), best] >= iou
    kept = np.asarray(keep, dtype=bool)[best]
    proposal = ~(hit & ~kept)
    finds = hit & kept
    first = np.zeros(n, dtype=bool)
    if finds.any():
        faces_hit = np.flatnonzero(finds)
        _, first_of_face = np.unique(best[faces_hit], return_index=True)
        first[faces_hit[first_of_face]] = True
    return np.cumsum(first), proposal


def image_pr_counts(scores_desc: np.ndarray, found: np.ndarray, proposal: np.ndarray,
                    thresholds: int = THRESHOLDS) -> np.ndarray:
    """(thresholds, 2): per threshold ``1 - t/thresholds`` (t = 1..), the proposals at or
    above it and the kept faces they find (``image_pr_info`` of the toolkit)."""
    levels = 1.0 - np.arange(1, thresholds + 1) / thresholds
    above = np.searchsorted(-np.asarray(scores_desc, dtype=np.float64), -levels, side="right")
    out = np.zeros((thresholds, 2), dtype=np.float64)
    some = above > 0
    out[some, 0] = np.cumsum(proposal)[above[some] - 1]
    out[some, 1] = found[above[some] - 1]
    return out


def envelope_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (``VOCap.m``); NaN precisions are skipped as
    MATLAB's ``max`` skips them."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.fmax.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))


def evaluate_setting(detections: Sequence[np.ndarray], truths: Sequence[ImageTruth], setting: str,
                     iou: float = IOU, thresholds: int = THRESHOLDS) -> SettingResult:
    """AP of ``setting`` over images ``i``: ``detections[i]`` (N, 5) ``x y w h score``
    with scores already normalised and rows in descending score order, ``truths[i]``."""
    counts = np.zeros((thresholds, 2), dtype=np.float64)
    faces = 0
    for det, truth in zip(detections, truths):
        keep = truth.keep[setting]
        faces += int(np.count_nonzero(keep))
        if len(det) == 0 or len(truth.boxes) == 0:
            continue
        found, proposal = match_detections(det[:, :4], truth.boxes, keep, iou)
        counts += image_pr_counts(det[:, 4], found, proposal, thresholds)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = counts[:, 1] / counts[:, 0]
        recall = counts[:, 1] / faces if faces else np.zeros(thresholds)
    return SettingResult(envelope_ap(recall, precision), precision, recall, faces)


def sort_by_score(detections: np.ndarray) -> np.ndarray:
    """Rows of (N, 5) ``x y w h score`` in descending score order, ties in file order
    (MATLAB's stable ``sort(..., 'descend')``)."""
    d = np.asarray(detections, dtype=np.float64).reshape(-1, 5)
    return d[np.argsort(-d[:, 4], kind="stable")]
