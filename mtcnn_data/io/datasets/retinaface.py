"""Reader of the RetinaFace annotations of WIDER FACE (``retinaface_gt_v1.1.zip``: ``label.txt``).

Deng et al. (RetinaFace, CVPR 2020) re-annotated the WIDER FACE train images with five
facial landmarks; current face detectors train with them. Coordinates: yielded boxes
are ``x1, y1, x2, y2`` with exclusive ``x2, y2`` (``x2 = x + w``) and landmarks
``(N, 5, 2)`` in the same frame (see :mod:`mtcnn_data`). Layout (the labels of the zip
unpacked into a WIDER FACE root, or the Pytorch_Retinaface ``data/widerface`` folder)::

    ROOT/
    ├── train/label.txt                 boxes + five landmarks
    ├── val/label.txt                   boxes only
    ├── train/images/<event>/*.jpg      or WIDER_train/images/<event>/*.jpg
    └── val/images/<event>/*.jpg        or WIDER_val/images/<event>/*.jpg

Format: an image line ``# <event>/<image>.jpg``, then one line per face::

    # 0--Parade/0_Parade_marchingband_1_849.jpg
    449 330 122 149 488.906 373.643 0.0 542.089 376.442 0.0 515.031 412.83 0.0 485.174 425.893 0.0 538.357 431.491 0.0 0.82
    78 221 7 8 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 0.2

i.e. ``x y w h`` and, in the train file, ``l0x l0y v0 ... l4x l4y v4 conf`` (20
columns): the five points (left eye, right eye, nose, left mouth corner, right mouth
corner), each with a third value (``0.0`` where annotated), then a confidence. A face
whose points are not annotated has ``-1`` for them; such a point is read as NaN, and
the face is dropped with reason ``no_landmarks`` (:mod:`mtcnn_data.core.filtering`), so
that only faces with all five landmarks give landmark samples. The val file has
``x y w h`` only (4 columns; records without landmarks). Quirks handled: an image whose
only face line is ``0 0 0 0`` (how the val file writes the four empty images) gives a
record with zero boxes, as the official WIDER lists do; an image line followed by no
face line gives zero boxes too; every file is one width (4 or 20 columns), a line of
another width is an AnnotationError ``FILE:LINE``. The confidence is kept in
``attributes["landmark_confidence"]`` (float32, -1 where absent).
"""

from __future__ import annotations

from typing import Iterator, List, Tuple

import numpy as np

from ...core.boxes import xywh_to_xyxy
from ...core.filtering import FilterConfig
from ...errors import AnnotationError
from ..parsing import SizeOf, build_record, content_lines, forward_slashes, parse_numbers
from ..records import ImageRecord
from .kind import DatasetKind

__all__ = ["KINDS", "RETINAFACE_WIDTHS", "read_retinaface"]

#: columns of a face line: boxes only (val, test) or boxes + landmarks (train).
RETINAFACE_WIDTHS = (4, 20)
_ABSENT = -1.0


def read_retinaface(path, filters: FilterConfig = FilterConfig(), size_of: SizeOf = None) -> Iterator[ImageRecord]:
    """Yield one :class:`ImageRecord` per ``# <image>`` block of a RetinaFace ``label.txt``."""
    block: Tuple[int, str] = None
    rows: List[Tuple[int, list]] = []
    width = [None]
    for number, text in content_lines(path):
        if text.startswith("#"):
            if block is not None:
                yield _record(path, block, rows, width[0], filters, size_of)
            block, rows = (number, _image_path(path, number, text)), []
            continue
        if block is None:
            raise AnnotationError(path, number, "an image line '# <event>/<image>.jpg' first", repr(text))
        rows.append((number, _face_values(path, number, text, width)))
    if block is not None:
        yield _record(path, block, rows, width[0], filters, size_of)


def _image_path(path, number: int, text: str) -> str:
    name = text[1:].strip()
    if not name:
        raise AnnotationError(path, number, "an image path after '#' ('# 0--Parade/0_Parade_marchingband_1_849.jpg')",
                              repr(text))
    return forward_slashes(name)


def _face_values(path, number: int, text: str, width: list) -> list:
    tokens = text.split()
    if width[0] is None and len(tokens) in RETINAFACE_WIDTHS:
        width[0] = len(tokens)
    if len(tokens) != width[0]:
        expected = width[0] or " or ".join(map(str, RETINAFACE_WIDTHS))
        raise AnnotationError(path, number, f"{expected} columns 'x y w h [l0x l0y 0.0 ... l4x l4y 0.0 conf]'",
                              f"{len(tokens)} columns {text!r}")
    return parse_numbers(tokens, path, number, "numbers 'x y w h [l0x l0y 0.0 ... conf]'")


def _record(path, block, rows, width, filters, size_of) -> ImageRecord:
    """The record of one block; ``width`` is the file's (``None`` before its first face line)."""
    line, name = block
    width = width or RETINAFACE_WIDTHS[0]
    table = np.asarray([values for _, values in rows], dtype=np.float64).reshape(-1, width)
    if len(table) == 1 and not table[0, :4].any():
        table = table[:0]
    landmarks, attributes = None, {}
    if width == 20:
        points = table[:, 4:19].reshape(-1, 5, 3)[..., :2].copy()
        points[(points == _ABSENT).any(axis=2)] = np.nan
        landmarks = points
        attributes["landmark_confidence"] = table[:, 19].astype(np.float32)
    return build_record(name, xywh_to_xyxy(table[:, :4]), source=path, line=line, dataset="retinaface",
                        filters=filters, landmarks=landmarks, attributes=attributes, size_of=size_of)


def _read(files, split, filters, size_of=None):
    return read_retinaface(files["annotations"], filters, size_of)


#: the registry entry of this module.
KINDS = (
    DatasetKind(
        kind="retinaface", dataset="retinaface", title="RetinaFace WIDER FACE labels", splits=("train", "val"),
        role="landmarks", option="retinaface", tree="""ROOT/                               (retinaface_gt_v1.1.zip unpacked)
├── train/label.txt                 (boxes + 5 landmarks)
├── val/label.txt                   (boxes only)
├── train/images/<event>/*.jpg      (or WIDER_train/images/: a WIDER FACE root)
└── val/images/<event>/*.jpg        (or WIDER_val/images/)""",
        files={"annotations": "{split}/label.txt"}, images=("{split}/images", "WIDER_{split}/images"),
        reader=_read, probes_sizes=True, source_split="train",
        help="RetinaFace labels root ({train,val}/label.txt, images in <split>/images/ or WIDER_<split>/images/): "
             "landmark samples from WIDER FACE images.",
    ),
)
