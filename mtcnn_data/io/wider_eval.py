"""Files of the WIDER FACE evaluation: the toolkit's ground truth and the submission format.

Ground truth: the official toolkit's ``ground_truth/`` folder, MATLAB v5 files read with
``scipy.io.loadmat`` (the optional extra ``mtcnn-data[eval]``): ``wider_face_val.mat``
(``event_list``, ``file_list``, ``face_bbx_list``: ``x y w h`` per face) and
``wider_{easy,medium,hard}_val.mat`` (``gt_list``: per image the 1-based indices of the
faces that setting keeps).

Submission format (what the benchmark expects, one file per image,
``DIR/<event>/<image>.txt``)::

    <image name>
    <number of faces N>
    x y w h score          (N lines)

``x y w h`` is the box ``x1, y1, x2 - x1, y2 - y1`` of this package's exclusive
convention, as the annotation readers read the ground truth (docs/conventions.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from ..core.boxes import xyxy_to_xywh
from ..core.wider_ap import SETTINGS, ImageTruth
from ..errors import AnnotationError, EvaluationError, LayoutError
from .files import atomic_write_bytes

__all__ = [
    "GT_FILES",
    "WiderTruth",
    "load_ground_truth",
    "image_key",
    "submission_text",
    "write_submission",
    "read_submission_file",
    "read_submission",
]

#: file of each part of the toolkit's ground truth
GT_FILES = {"all": "wider_face_val.mat", **{s: f"wider_{s}_val.mat" for s in SETTINGS}}

ImageKey = Tuple[str, str]  # (event folder, image name without .jpg)


@dataclass
class WiderTruth:
    """The ground truth: ``images[(event, name)]`` in annotation order (dicts keep it)."""

    images: Dict[ImageKey, ImageTruth]

    def faces(self, setting: str) -> int:
        return sum(int(np.count_nonzero(t.keep[setting])) for t in self.images.values())


def _loadmat(path: Path) -> dict:
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise EvaluationError(
            f"reading the WIDER FACE ground truth (MATLAB .mat files) needs scipy, which cannot be imported here "
            f'({exc}). Install it with: pip install "mtcnn-data[eval]"'
        ) from exc
    return loadmat(str(path))


def _gt_file(gt_dir: Path, part: str) -> Path:
    path = gt_dir / GT_FILES[part]
    if not path.is_file():
        raise LayoutError(
            f"{path}: not found. --gt-dir must be the evaluation toolkit's ground_truth/ folder with "
            f"{', '.join(GT_FILES.values())} (eval_tools/ground_truth/ of the WIDER FACE download)"
        )
    return path


def _field(mat: dict, name: str, path: Path):
    if name not in mat:
        raise EvaluationError(f"{path}: no variable {name!r}; expected the toolkit's {path.name} "
                              f"(found {sorted(k for k in mat if not k.startswith('__'))})")
    return mat[name]


def load_ground_truth(gt_dir) -> WiderTruth:
    """Read the toolkit's ground-truth folder into :class:`WiderTruth`."""
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise LayoutError(f"--gt-dir {gt_dir}: not a folder; expected the evaluation toolkit's ground_truth/ "
                          f"with {', '.join(GT_FILES.values())}")
    main_path = _gt_file(gt_dir, "all")
    main = _loadmat(main_path)
    events = _field(main, "event_list", main_path)
    files = _field(main, "file_list", main_path)
    boxes = _field(main, "face_bbx_list", main_path)
    keeps = {}
    for s in SETTINGS:
        path = _gt_file(gt_dir, s)
        keeps[s] = _field(_loadmat(path), "gt_list", path)
    images: Dict[ImageKey, ImageTruth] = {}
    for i in range(len(events)):
        event = str(events[i][0][0])
        for j in range(len(files[i][0])):
            face_boxes = np.asarray(boxes[i][0][j][0], dtype=np.float64).reshape(-1, 4)
            keep = {s: _keep_mask(keeps[s][i][0][j][0], len(face_boxes)) for s in SETTINGS}
            images[(event, str(files[i][0][j][0][0]))] = ImageTruth(face_boxes, keep)
    return WiderTruth(images)


def _keep_mask(indices_1based, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    idx = np.asarray(indices_1based, dtype=np.int64).ravel()
    mask[idx - 1] = True
    return mask


# ---------------------------------------------------------------- submission format


def image_key(image_path) -> ImageKey:
    """``(event, image)`` of ``.../<event>/<image>.jpg``, as the ground truth names images."""
    path = os.fspath(image_path)
    return os.path.basename(os.path.dirname(path)), os.path.splitext(os.path.basename(path))[0]


def submission_text(name: str, boxes_xyxy, scores) -> str:
    """One image's submission file: ``name``, the count, ``x y w h score`` per face."""
    b = xyxy_to_xywh(boxes_xyxy)
    s = np.asarray(scores, dtype=np.float64).ravel()
    lines = [name, str(len(b))]
    lines += [f"{x:.2f} {y:.2f} {w:.2f} {h:.2f} {p:.8f}" for (x, y, w, h), p in zip(b, s)]
    return "\n".join(lines) + "\n"


def write_submission(folder, image_path: str, boxes_xyxy, scores) -> Path:
    """Write ``folder/<event>/<image>.txt`` for the image at ``image_path``
    (``.../<event>/<image>.jpg``); atomic. Returns the path written."""
    event, name = image_key(image_path)
    target = Path(folder) / event / f"{name}.txt"
    atomic_write_bytes(target, submission_text(name, boxes_xyxy, scores).encode("utf-8"))
    return target


def read_submission_file(path) -> np.ndarray:
    """(N, 5) ``x y w h score`` of one submission file, in file order; checks the name
    line against the file name and the count against the rows."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or not lines[0].strip():
        raise AnnotationError(path, 1, "the image name", "an empty line" if lines else "an empty file")
    named = os.path.splitext(os.path.basename(lines[0].strip().replace("\\", "/")))[0]
    if named != path.stem:
        raise AnnotationError(path, 1, f"the image name {path.stem!r} (the file's name)", repr(lines[0].strip()))
    count = _count(path, lines)
    rows = [_row(path, k + 3, lines[k + 2]) for k in range(count)]
    for k in range(count + 2, len(lines)):
        if lines[k].strip():
            raise AnnotationError(path, k + 1, f"only the {count} face line(s) that line 2 announces",
                                  f"more: {lines[k].strip()[:60]!r}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)


def _count(path: Path, lines: List[str]) -> int:
    if len(lines) < 2:
        raise AnnotationError(path, 2, "the number of faces", "end of file")
    try:
        count = int(lines[1].strip())
    except ValueError:
        count = -1
    if count < 0:
        raise AnnotationError(path, 2, "the number of faces (an integer >= 0)", repr(lines[1].strip()[:60]))
    if len(lines) < count + 2:
        raise AnnotationError(path, len(lines) + 1, f"{count} face line(s) as line 2 says",
                              f"end of file after {len(lines) - 2}")
    return count


def _row(path: Path, line_no: int, line: str) -> List[float]:
    fields = line.split()
    try:
        values = [float(v) for v in fields]
    except ValueError:
        values = []
    if len(values) != 5 or not np.all(np.isfinite(values)):
        raise AnnotationError(path, line_no, "5 numbers 'x y w h score'", repr(line.strip()[:60]))
    return values


def read_submission(folder) -> Dict[ImageKey, np.ndarray]:
    """Every ``folder/<event>/<image>.txt``: ``{(event, image): (N, 5)}``, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LayoutError(f"--detections {folder}: not a folder; expected DIR/<event>/<image>.txt "
                          "(the WIDER FACE submission format)")
    stray = sorted(p.name for p in folder.glob("*.txt"))
    if stray:
        raise LayoutError(f"{folder / stray[0]}: a detection file outside an event folder; expected "
                          "DIR/<event>/<image>.txt (the WIDER FACE submission format)")
    out: Dict[ImageKey, np.ndarray] = {}
    for path in sorted(folder.glob("*/*.txt")):
        out[(path.parent.name, path.stem)] = read_submission_file(path)
    return out
