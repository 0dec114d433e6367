"""Readers of WIDER FACE box lists: the official ``*_bbx_gt.txt`` and the flat MTCNN list.

Coordinates: yielded boxes are ``x1, y1, x2, y2`` with exclusive ``x2, y2``
(``x2 = x + w``), see :mod:`mtcnn_data`. Paths are relative to the image root::

    ROOT/
    ├── wider_face_split/
    │   ├── wider_face_train_bbx_gt.txt
    │   └── wider_face_val_bbx_gt.txt
    ├── WIDER_train/images/<event>/*.jpg
    └── WIDER_val/images/<event>/*.jpg

Official format (one block per image)::

    0--Parade/0_Parade_marchingband_1_849.jpg
    1
    449 330 122 149 0 0 0 0 0 0

Box lines are ``x y w h blur expression illumination invalid occlusion pose``
(all ten kept in ``attributes``: ``x y w h`` as int32, the six flags as int8).
Quirks handled:

- an image without faces is ``0`` + one all-zero line (train) or ``1`` + one
  all-zero line (val): both give a record with zero boxes;
- degenerate boxes (``w <= 0`` or ``h <= 0``) are kept in ``boxes`` and marked
  dropped (reason ``degenerate``);
- trailing spaces, CRLF, no final newline, blank lines: ignored;
- a block with fewer box lines than its count: AnnotationError ``FILE:LINE``;
- the 7-column rewrite ``x y w h blur invalid occlusion`` parses too;
  ``expression``, ``illumination`` and ``pose`` are then absent from
  ``attributes`` (no default is invented; filters on them keep the box).

Flat MTCNN list (``path x1 y1 x2 y2 [x1 y1 x2 y2 ...]``, one image per line):
its ``x2, y2`` are exclusive already (``x2 - x1 == w`` of the official box for
77% of boxes, the rest off by +-1 symmetrically), so they are read unchanged.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import numpy as np

from ...core.boxes import xywh_to_xyxy
from ...core.filtering import FilterConfig
from ...errors import AnnotationError
from ..parsing import (
    PeekableLines,
    SizeOf,
    build_record,
    content_lines,
    forward_slashes,
    is_number,
    parse_numbers,
)
from ..records import ImageRecord
from .kind import DatasetKind

__all__ = ["KINDS", "WIDER_COLUMNS", "WIDER_7_COLUMNS", "read_wider", "read_mtcnn_flat", "write_wider_subset"]

#: the ten columns of an official box line.
WIDER_COLUMNS = ("x", "y", "w", "h", "blur", "expression", "illumination", "invalid", "occlusion", "pose")
#: the columns of the 7-column rewrite seen in the wild.
WIDER_7_COLUMNS = ("x", "y", "w", "h", "blur", "invalid", "occlusion")
_SCHEMAS = {10: WIDER_COLUMNS, 7: WIDER_7_COLUMNS, 4: WIDER_COLUMNS[:4]}
_COORDS = ("x", "y", "w", "h")


def read_wider(path, filters: FilterConfig = FilterConfig(), size_of: SizeOf = None) -> Iterator[ImageRecord]:
    """Yield one :class:`ImageRecord` per image block of a WIDER ``*_bbx_gt.txt`` file.

    Streams the file line by line. ``size_of(relpath) -> (w, h)`` is optional and
    only used by the outside-image filter.
    """
    lines = PeekableLines(content_lines(path))
    schema: List[Optional[Tuple[str, ...]]] = [None]
    for start, name in lines:
        _check_image_line(path, start, name)
        count = _read_count(path, lines, name, start)
        rows = [_read_box(path, lines, (name, start), count, i, schema) for i in range(count)]
        if count == 0:
            _skip_dummy_line(lines)
        rows = [r for r in rows if any(r[:4])] if count == 1 else rows
        yield _wider_record(path, start, name, rows, schema[0], filters, size_of)


def _check_image_line(path, line: int, text: str) -> None:
    if is_number(text.split()[0]):
        raise AnnotationError(
            path, line, "an image path (e.g. '0--Parade/0_Parade_marchingband_1_849.jpg')", repr(text),
            "the previous block has more box lines than its count says; check the count above this line",
        )


def _read_count(path, lines: PeekableLines, name: str, start: int) -> int:
    item = next(lines, None)
    if item is None:
        raise AnnotationError(path, start, f"the face count of {name!r} after this line", "end of file",
                              "the file is truncated; download the official file again")
    number, text = item
    if not text.isdigit():
        raise AnnotationError(path, number, f"the face count of {name!r} (a non-negative integer)", repr(text))
    return int(text)


def _read_box(path, lines: PeekableLines, block: Tuple[str, int], count: int, index: int, schema) -> list:
    item = next(lines, None)
    if item is None or not is_number(item[1].split()[0]):
        name, start = block
        raise AnnotationError(
            path, start if item is None else item[0],
            f"box line {index + 1} of the {count} promised for {name!r} (block at line {start})",
            "end of file" if item is None else repr(item[1]),
            "the file is truncated or the count is wrong; download the official file again",
        )
    number, text = item
    tokens = text.split()
    if schema[0] is None and len(tokens) in _SCHEMAS:
        schema[0] = _SCHEMAS[len(tokens)]
    if schema[0] is None or len(tokens) != len(schema[0]):
        expected = len(schema[0]) if schema[0] else "10 (or 7)"
        raise AnnotationError(path, number, f"{expected} integer columns 'x y w h blur ...'",
                              f"{len(tokens)} columns {text!r}")
    return parse_numbers(tokens, path, number, "integer columns 'x y w h blur ...'", int)


def _skip_dummy_line(lines: PeekableLines) -> None:
    """Consume the all-zero line that follows a ``0`` count, if there is one."""
    ahead = lines.peek()
    if ahead is not None and all(is_number(t) and float(t) == 0 for t in ahead[1].split()):
        next(lines)


def _wider_record(path, line, name, rows, schema, filters, size_of) -> ImageRecord:
    columns = schema or WIDER_COLUMNS
    table = np.asarray(rows, dtype=np.int64).reshape(-1, len(columns))
    attributes = {
        col: table[:, j].astype(np.int32 if col in _COORDS else np.int8) for j, col in enumerate(columns)
    }
    return build_record(
        forward_slashes(name), xywh_to_xyxy(table[:, :4]), source=path, line=line, dataset="wider",
        filters=filters, attributes=attributes, size_of=size_of,
    )


def read_mtcnn_flat(path, filters: FilterConfig = FilterConfig(), size_of: SizeOf = None) -> Iterator[ImageRecord]:
    """Yield one record per line of a flat ``path x1 y1 x2 y2 ...`` list (exclusive x2, y2).

    A single all-zero box (how these lists write an image without faces) gives a
    record with zero boxes, as in :func:`read_wider`.
    """
    for number, text in content_lines(path):
        name, *tokens = text.split()
        if len(tokens) % 4:
            raise AnnotationError(path, number, "an image path followed by groups of 4 numbers 'x1 y1 x2 y2'",
                                  f"{len(tokens)} numbers after {name!r}")
        boxes = np.asarray(parse_numbers(tokens, path, number, "numbers 'x1 y1 x2 y2'"), dtype=np.float32)
        boxes = boxes.reshape(-1, 4)
        if len(boxes) == 1 and not boxes.any():
            boxes = boxes[:0]
        yield build_record(forward_slashes(name), boxes, source=path, line=number, dataset="wider",
                           filters=filters, size_of=size_of)


def write_wider_subset(src, dst, keep) -> int:
    """Copy the blocks of the images ``keep(relative path)`` accepts from an official
    ``*_bbx_gt.txt`` file to ``dst``, byte for byte; returns the number of images kept.

    For experiments on part of a split (some events, the images present on disk).
    """
    with open(src, "r", encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    starts = [(rec.line - 1, rec.path) for rec in read_wider(src, FilterConfig(drop_invalid=False))]
    ends = [s for s, _ in starts[1:]] + [len(lines)]
    kept = [(start, end) for (start, path), end in zip(starts, ends) if keep(path)]
    with open(dst, "w", encoding="utf-8", newline="") as f:
        for start, end in kept:
            block = lines[start:end]
            while block and not block[-1].strip():
                block.pop()
            f.write("".join(block) if block[-1].endswith("\n") else "".join(block) + "\n")
    return len(kept)


_TREE = """ROOT/
├── wider_face_split/
│   ├── wider_face_train_bbx_gt.txt
│   └── wider_face_val_bbx_gt.txt
├── WIDER_train/images/<event>/*.jpg
└── WIDER_val/images/<event>/*.jpg"""


def _read_official(files, split, filters, size_of=None):
    return read_wider(files["annotations"], filters, size_of)


def _read_flat(files, split, filters, size_of=None):
    return read_mtcnn_flat(files["annotations"], filters, size_of)


_WIDER = dict(
    dataset="wider", title="WIDER FACE", tree=_TREE, splits=("train", "val"), role="faces", option="wider",
    files={"annotations": "wider_face_split/wider_face_{split}_bbx_gt.txt"}, images=("WIDER_{split}/images",),
    probes_sizes=True, figures="wider_face",
)
#: the registry entries of this module: the official lists, and the flat MTCNN list (``--flat``).
KINDS = (
    DatasetKind(kind="wider", reader=_read_official, help="WIDER FACE root (wider_face_split/, WIDER_<split>/images/).",
                **_WIDER),
    DatasetKind(kind="wider_flat", reader=_read_flat, variant="flat",
                help="The WIDER annotations are the flat MTCNN list (path x1 y1 x2 y2 ...).", **_WIDER),
)
