"""Readers of CelebA: in-the-wild boxes + landmarks, and aligned landmarks (box derived).

Coordinates: yielded boxes are ``x1, y1, x2, y2`` with exclusive ``x2, y2``
(``x2 = x_1 + width``) and landmarks ``(1, 5, 2)`` in the same frame (see
:mod:`mtcnn_data`). Layout of the official release::

    ROOT/
    ├── Anno/
    │   ├── list_bbox_celeba.txt              image_id x_1 y_1 width height
    │   ├── list_landmarks_celeba.txt         in-the-wild coordinates
    │   └── list_landmarks_align_celeba.txt   aligned 178x218 coordinates
    ├── Eval/list_eval_partition.txt          image_id 0|1|2 (train|val|test), optional
    ├── img_celeba/000001.jpg ...             in-the-wild images
    └── img_align_celeba/000001.jpg ...       aligned images

The lists: first row the image count, second row the column names, then
``<image_id> <values>`` whitespace-aligned, CRLF. The box and landmark lists are
streamed in lockstep (same image order; an id mismatch is an AnnotationError
naming ``FILE:LINE``); only the partition is held in memory (a dict).

Degenerate CelebA boxes: no public list of bad rows was found, so the rule is
generic: boxes with ``width <= 0`` or ``height <= 0`` are dropped as
``degenerate`` and boxes that do not contain their own five landmarks as
``landmarks_outside_box`` (:mod:`mtcnn_data.core.filtering`).

Aligned CelebA has no boxes: each box is derived from the landmarks with
:func:`mtcnn_data.core.face_box.box_from_landmarks` (documented there).
"""

from __future__ import annotations

import itertools
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from ...core.boxes import xywh_to_xyxy
from ...core.face_box import box_from_landmarks
from ...core.filtering import FilterConfig, drop_reasons
from ...errors import AnnotationError
from ..parsing import numbered_lines, parse_numbers
from ..records import ImageRecord
from .kind import DatasetKind

__all__ = [
    "KINDS",
    "CELEBA_SPLITS",
    "BBOX_COLUMNS",
    "LANDMARK_COLUMNS",
    "read_partition",
    "read_celeba",
    "read_celeba_aligned",
]

#: split name -> code in ``list_eval_partition.txt``.
CELEBA_SPLITS = {"train": 0, "val": 1, "test": 2}
BBOX_COLUMNS = ("x_1", "y_1", "width", "height")
LANDMARK_COLUMNS = (
    "lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y",
)
_CHUNK = 4096

Row = Tuple[int, str, List[float]]


def read_partition(path) -> Dict[str, int]:
    """``image_id -> 0|1|2`` from ``list_eval_partition.txt`` (no header)."""
    partition = {}
    for number, text in numbered_lines(path):
        if not text:
            continue
        tokens = text.split()
        if len(tokens) != 2 or tokens[1] not in ("0", "1", "2"):
            raise AnnotationError(path, number, "'<image_id> <0|1|2>'", repr(text))
        partition[tokens[0]] = int(tokens[1])
    return partition


def read_celeba(
    bbox_path,
    landmarks_path,
    partition_path=None,
    split: Optional[str] = None,
    filters: FilterConfig = FilterConfig(),
) -> Iterator[ImageRecord]:
    """Yield one record (one box, five landmarks) per row of the in-the-wild lists."""
    pairs = _lockstep(_rows(bbox_path, BBOX_COLUMNS), _rows(landmarks_path, LANDMARK_COLUMNS),
                      bbox_path, landmarks_path)
    rows = ((line, image_id, xywh + points) for line, image_id, xywh, points in pairs)
    return _records(rows, landmarks_path, partition_path, split, filters, _wild_geometry)


def read_celeba_aligned(
    landmarks_path,
    partition_path=None,
    split: Optional[str] = None,
    filters: FilterConfig = FilterConfig(),
) -> Iterator[ImageRecord]:
    """Yield one record per row of ``list_landmarks_align_celeba.txt``, box derived from the landmarks."""
    return _records(_rows(landmarks_path, LANDMARK_COLUMNS), landmarks_path, partition_path, split, filters,
                    _aligned_geometry)


def _wild_geometry(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    return xywh_to_xyxy(values[:, :4]), values[:, 4:].reshape(-1, 5, 2)


def _aligned_geometry(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    landmarks = values.reshape(-1, 5, 2)
    return box_from_landmarks(landmarks), landmarks


def _records(rows, source, partition_path, split, filters, geometry) -> Iterator[ImageRecord]:
    partition = read_partition(partition_path) if partition_path is not None else None
    wanted = _split_code(split, partition_path)
    rows = _with_partition(rows, partition, partition_path, source)
    if wanted is not None:
        rows = (row for row in rows if row[3] == wanted)
    while True:
        chunk = list(itertools.islice(rows, _CHUNK))
        if not chunk:
            return
        yield from _chunk_records(chunk, source, filters, geometry)


def _split_code(split: Optional[str], partition_path) -> Optional[int]:
    if split in (None, "all"):
        return None
    if split not in CELEBA_SPLITS:
        raise ValueError(f"CelebA split must be one of {sorted(CELEBA_SPLITS)} or 'all', got {split!r}")
    if partition_path is None:
        raise ValueError(f"CelebA split {split!r} needs Eval/list_eval_partition.txt (partition_path)")
    return CELEBA_SPLITS[split]


def _with_partition(rows, partition, partition_path, source):
    """``(line, id, values, code)``; code -1 without a partition file."""
    for line, image_id, values in rows:
        code = -1
        if partition is not None:
            code = partition.get(image_id, -2)
            if code == -2:
                raise AnnotationError(source, line, f"image id {image_id!r} to be listed in {partition_path}",
                                      "no such id", "the partition file and the lists come from different releases")
        yield line, image_id, values, code


def _chunk_records(chunk, source, filters, geometry) -> Iterator[ImageRecord]:
    values = np.asarray([row[2] for row in chunk], dtype=np.float32)
    boxes, landmarks = geometry(values)
    boxes = boxes.astype(np.float32)
    landmarks = landmarks.astype(np.float32)
    reasons = drop_reasons(boxes, filters, landmarks=landmarks)
    parts = np.asarray([row[3] for row in chunk], dtype=np.int8)
    source = str(source)
    for i, (line, image_id, _, _) in enumerate(chunk):
        attributes = {"partition": parts[i:i + 1]} if parts[i] >= 0 else {}
        yield ImageRecord(path=image_id, boxes=boxes[i:i + 1], landmarks=landmarks[i:i + 1],
                          attributes=attributes, keep=reasons[i:i + 1] == 0, drop_reason=reasons[i:i + 1],
                          source=source, line=line, dataset="celeba")


def _rows(path, columns: Tuple[str, ...]) -> Iterator[Row]:
    """``(line, image_id, values)`` of a CelebA list after checking its two header rows."""
    lines = numbered_lines(path)
    count = _header(path, lines, columns)
    seen = 0
    for number, text in lines:
        if not text:
            continue
        tokens = text.split()
        if len(tokens) != len(columns) + 1:
            raise AnnotationError(path, number, f"{len(columns) + 1} fields 'image_id {' '.join(columns)}'",
                                  f"{len(tokens)} fields {text!r}")
        seen += 1
        yield number, tokens[0], parse_numbers(tokens[1:], path, number, f"numbers '{' '.join(columns)}'")
    if seen != count:
        raise AnnotationError(path, 1, f"{count} rows as this first row says", f"{seen} rows",
                              "the file is truncated or was edited; download the official file again")


def _header(path, lines, columns: Tuple[str, ...]) -> int:
    first = next(lines, (1, ""))
    if not first[1].strip().isdigit():
        raise AnnotationError(path, first[0], "the image count on the first row", repr(first[1]))
    second = next(lines, (2, ""))
    names = tuple(second[1].split())
    if names[-len(columns):] != columns:
        raise AnnotationError(path, second[0], f"the column names {' '.join(columns)!r}", repr(second[1]),
                              "is this the right CelebA list?")
    return int(first[1])


def _lockstep(box_rows, landmark_rows, bbox_path, landmarks_path):
    """``(line, id, xywh, points)`` from two lists that must name the same ids in the same order."""
    for box_row, lm_row in itertools.zip_longest(box_rows, landmark_rows):
        if box_row is None or lm_row is None:
            short, other = (bbox_path, lm_row) if box_row is None else (landmarks_path, box_row)
            raise AnnotationError(short, other[0], f"a row for {other[1]!r} (as on line {other[0]} of the other list)",
                                  "end of file", "the two lists must have the same rows in the same order")
        if box_row[1] != lm_row[1]:
            raise AnnotationError(landmarks_path, lm_row[0],
                                  f"image id {box_row[1]!r} as on {bbox_path}:{box_row[0]}", repr(lm_row[1]),
                                  "the two lists must have the same rows in the same order")
        yield box_row[0], box_row[1], box_row[2], lm_row[2]


_TREE = """ROOT/
├── Anno/
│   ├── list_bbox_celeba.txt
│   ├── list_landmarks_celeba.txt
│   └── list_landmarks_align_celeba.txt
├── Eval/list_eval_partition.txt   (for --split train|val|test)
├── img_celeba/*.jpg               (in the wild)
└── img_align_celeba/*.jpg         (aligned)"""


def _celeba_split(split: str) -> Optional[str]:
    return None if split == "all" else split


def _read_wild(files, split, filters, size_of=None):
    return read_celeba(files["bbox"], files["landmarks"], files.get("partition"), _celeba_split(split), filters)


def _read_aligned(files, split, filters, size_of=None):
    return read_celeba_aligned(files["landmarks"], files.get("partition"), _celeba_split(split), filters)


_CELEBA = dict(
    dataset="celeba", title="CelebA", tree=_TREE, splits=("all", "train", "val", "test"), role="landmarks",
    option="celeba", optional_files={"partition": ("all",)}, figures="celeba", source_split="train",
)
#: the registry entries of this module: in-the-wild images, and the aligned ones (``--aligned``).
KINDS = (
    DatasetKind(
        kind="celeba", reader=_read_wild, images=("img_celeba",),
        files={"bbox": "Anno/list_bbox_celeba.txt", "landmarks": "Anno/list_landmarks_celeba.txt",
               "partition": "Eval/list_eval_partition.txt"},
        help="CelebA root (Anno/, Eval/, img_celeba/): landmark samples.", **_CELEBA,
    ),
    DatasetKind(
        kind="celeba_aligned", reader=_read_aligned, images=("img_align_celeba",), variant="aligned",
        files={"landmarks": "Anno/list_landmarks_align_celeba.txt", "partition": "Eval/list_eval_partition.txt"},
        help="Use the aligned CelebA images (box derived from the landmarks).", **_CELEBA,
    ),
)
