"""Recall of a detector against annotated faces: how a user checks a trained stage.

A face counts when ``min(w, h) >= min_side`` (w, h of the annotated box); it is found
when a detection overlaps it with IoU >= ``iou``, matching one-to-one, greedily by
descending IoU (:func:`mtcnn_data.detect.detector.match_faces`). The same detections
give the WIDER FACE AP (:func:`as_submission`, :mod:`mtcnn_data.tools.wider_eval`).
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, Iterator, List, Sequence, Tuple

import numpy as np

from ..core.boxes import heights, widths, xyxy_to_xywh


def faces_to_find(dataset, min_side: float = 20.0) -> List[Tuple[str, np.ndarray]]:
    """``(image path, boxes (N, 4))`` of every image present on disk, keeping the faces
    with ``min(w, h) >= min_side`` (all annotated boxes count, flagged or not)."""
    out = []
    for rec in dataset.records():
        path = os.path.join(dataset.image_root, rec.path)
        if os.path.isfile(path):
            b = rec.boxes
            out.append((path, b[np.minimum(widths(b), heights(b)) >= min_side]))
    return out


def detect_images(detector, images: Sequence[Tuple[str, np.ndarray]], top: int = 0, progress=None, workers: int = 1,
                  backend: str = "loky") -> Iterator[tuple]:
    """``(path, truth, detections)`` per image, in order: ``detector`` (a
    :class:`~mtcnn_data.tools.detecting.DetectorSpec`, or a built detector for this process)
    on each, on ``workers`` processes or the cluster ``backend`` names, with a progress bar on a terminal (``progress``: force it
    on or off).

    ``top`` > 0 keeps only each image's ``top`` highest-scoring detections: recall at a
    fixed detection budget, which compares networks whose scores are calibrated
    differently (an untrained one, say) fairly.
    """
    from .detecting import detect_paths

    found_all = detect_paths(detector, [path for path, _ in images], workers, backend, progress)
    for (path, truth), (_, found) in zip(images, found_all):
        if top > 0 and len(found) > top:
            keep = np.argsort(-found.scores, kind="stable")[:top]
            found = type(found)(found.boxes[keep], found.scores[keep],
                                None if found.landmarks is None else found.landmarks[keep])
        yield path, truth, found


def recall_figures(detected: Iterable[tuple], iou: float = 0.5) -> dict:
    """Matched faces and detections of ``(path, truth, detections)`` triples."""
    from ..detect.detector import match_faces

    matched = faces = detections = n = 0
    for _, truth, found in detected:
        matched += int(match_faces(found.boxes, truth, iou).sum())
        faces += len(truth)
        detections += len(found)
        n += 1
    return {"images": n, "faces": faces, "matched": matched, "recall": matched / faces if faces else 0.0,
            "detections": detections, "detections_per_image": detections / n if n else 0.0}


def evaluate(detector, images: Sequence[Tuple[str, np.ndarray]], iou: float = 0.5, top: int = 0, workers: int = 1,
             backend: str = "loky") -> dict:
    """Run ``detector`` (see :func:`detect_images`) on each image and count matched faces and detections."""
    return recall_figures(detect_images(detector, images, top, workers=workers, backend=backend), iou)


def as_submission(detected: Iterable[tuple]) -> Dict[Tuple[str, str], np.ndarray]:
    """``{(event, image): (N, 5) x y w h score}`` of ``(path, truth, detections)``
    triples, keyed as WIDER FACE names them (the image's folder is its event)."""
    from ..io.wider_eval import image_key

    out = {}
    for path, _, found in detected:
        out[image_key(path)] = np.column_stack([xyxy_to_xywh(found.boxes), np.asarray(found.scores, dtype=np.float64)])
    return out
