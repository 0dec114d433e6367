"""WIDER FACE average precision of a detection folder: the official protocol
(:mod:`mtcnn_data.core.wider_ap`) on the files of :mod:`mtcnn_data.io.wider_eval`.

A subset is scored on the images that have a detection file, and only on those: their
faces make the recall's denominator, and the report says how many of the ground truth's
images and of each setting's faces that covers. (The toolkit itself counts an image
without a file as one with no detections.)
"""

from __future__ import annotations

from typing import Dict, List

import cv2
import numpy as np

from ..core.wider_ap import SETTINGS, evaluate_setting, normalise_scores, sort_by_score
from ..errors import EvaluationError
from ..io.wider_eval import WiderTruth, load_ground_truth, read_submission

__all__ = ["score_detections", "evaluate_folder", "report_lines", "draw_pr_curves", "curves_json"]


def _check_known(detections: Dict, truth: WiderTruth) -> None:
    unknown = [k for k in detections if k not in truth.images]
    if unknown:
        shown = ", ".join(f"{e}/{n}" for e, n in unknown[:5])
        raise EvaluationError(
            f"{len(unknown)} detection file(s) name images the ground truth does not know: {shown}"
            f"{' ...' if len(unknown) > 5 else ''}; expected <event>/<image>.txt of WIDER FACE val images "
            "(is --gt-dir the val ground truth, and DIR laid out as DIR/<event>/<image>.txt?)"
        )
    if not detections:
        raise EvaluationError("no detection files to score: expected DIR/<event>/<image>.txt for "
                              "at least one image of the ground truth")


def score_detections(detections: Dict, truth: WiderTruth, iou: float = 0.5) -> dict:
    """AP per setting of ``{(event, image): (N, 5) x y w h score}`` on those images of
    ``truth``, with the coverage; the curves under ``"curves"``."""
    _check_known(detections, truth)
    keys = [k for k in truth.images if k in detections]
    scores = normalise_scores([detections[k][:, 4] for k in keys])
    dets = [sort_by_score(np.column_stack([detections[k][:, :4], s])) for k, s in zip(keys, scores)]
    truths = [truth.images[k] for k in keys]
    results = {s: evaluate_setting(dets, truths, s, iou) for s in SETTINGS}
    return {
        "images": len(keys),
        "images_in_ground_truth": len(truth.images),
        "detections": int(sum(len(d) for d in dets)),
        "iou": iou,
        "ap": {s: r.ap for s, r in results.items()},
        "faces": {s: r.faces for s, r in results.items()},
        "faces_in_ground_truth": {s: truth.faces(s) for s in SETTINGS},
        "curves": {s: curves_json(r.precision, r.recall) for s, r in results.items()},
    }


def curves_json(precision: np.ndarray, recall: np.ndarray) -> dict:
    """A PR curve as JSON lists (NaN precision, where no detection passes, as null)."""
    return {"precision": [None if np.isnan(p) else round(float(p), 6) for p in precision],
            "recall": [round(float(r), 6) for r in recall]}


def evaluate_folder(detections_dir, gt_dir, iou: float = 0.5) -> dict:
    """:func:`score_detections` of a submission folder against a ground-truth folder."""
    truth = load_ground_truth(gt_dir)
    return score_detections(read_submission(detections_dir), truth, iou)


def report_lines(report: dict) -> List[str]:
    """The AP lines a user reads: AP per setting and what the images cover."""
    ap = report["ap"]
    cover = ", ".join(f"{report['faces'][s]} of {report['faces_in_ground_truth'][s]} {s}" for s in SETTINGS)
    return [
        f"WIDER FACE AP (official protocol, IoU >= {report['iou']:g}): "
        + " / ".join(f"{s} {ap[s]:.4f}" for s in SETTINGS),
        f"covering {report['images']} of {report['images_in_ground_truth']} images; faces: {cover}",
    ]


_COLOURS = {"easy": (40, 160, 40), "medium": (30, 110, 230), "hard": (40, 40, 210)}  # BGR


def draw_pr_curves(report: dict, path, size: int = 640) -> None:
    """The three precision-recall curves in one PNG, AP in the legend (drawn with OpenCV)."""
    from ..io.files import atomic_write_bytes

    margin = 60
    img = np.full((size, size, 3), 255, np.uint8)
    span = size - 2 * margin

    def at(recall, precision):
        return int(round(margin + recall * span)), int(round(size - margin - precision * span))

    for v in np.linspace(0, 1, 6):
        cv2.line(img, at(v, 0), at(v, 1), (225, 225, 225), 1)
        cv2.line(img, at(0, v), at(1, v), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.1f}", (at(v, 0)[0] - 12, size - margin + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{v:.1f}", (margin - 35, at(0, v)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.rectangle(img, at(0, 1), at(1, 0), (0, 0, 0), 1)
    cv2.putText(img, "recall", (size // 2 - 20, size - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "precision", (5, margin - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    for row, s in enumerate(SETTINGS):
        curve = report["curves"][s]
        pts = [at(r, p) for p, r in zip(curve["precision"], curve["recall"]) if p is not None]
        if len(pts) > 1:
            cv2.polylines(img, [np.asarray(pts, np.int32)], False, _COLOURS[s], 2, cv2.LINE_AA)
        y = size - margin - 70 + 22 * row
        cv2.line(img, (margin + 15, y - 4), (margin + 40, y - 4), _COLOURS[s], 2)
        cv2.putText(img, f"{s} AP {report['ap'][s]:.3f}", (margin + 47, y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", img)
    if not ok:
        raise EvaluationError(f"{path}: OpenCV could not encode the PR figure as PNG")
    atomic_write_bytes(path, png.tobytes())
