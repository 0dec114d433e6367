"""Reader of the LFW_NET facial-point lists (Sun et al., CVPR 2013): ``trainImageList.txt``, ``testImageList.txt``.

Coordinates: yielded boxes are ``x1, y1, x2, y2`` with exclusive ``x2, y2`` and
landmarks ``(1, 5, 2)`` in the same frame (see :mod:`mtcnn_data`). Layout::

    ROOT/
    ├── trainImageList.txt
    ├── testImageList.txt
    ├── lfw_5590/*.jpg
    └── net_7876/*.jpg

One image per line, 15 fields, CRLF, Windows backslash paths::

    lfw_5590\\Aaron_Eckhart_0001.jpg 84 161 92 169 106.25 107.75 ... 161.75

i.e. ``path left right top bottom x1 y1 ... x5 y5`` (the box is left, RIGHT,
top, bottom). Paths are returned with forward slashes; a list written with
forward slashes reads the same. ``right`` and ``bottom`` are read as exclusive
edges (``w = right - left``): the landmarks are continuous sub-pixel
coordinates, every box has ``right - left == bottom - top`` (a square detector
box, so no inclusive "+1" is implied), and the widely used reference readers
(deep-landmark ``BBox``, MTCNN-Tensorflow ``BBox_utils``) take ``w = right - left``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ...core.filtering import FilterConfig
from ...errors import AnnotationError
from ..parsing import SizeOf, build_record, content_lines, forward_slashes, parse_numbers
from ..records import ImageRecord
from .kind import DatasetKind

__all__ = ["KINDS", "read_lfw_net"]

_FIELDS = "path left right top bottom x1 y1 x2 y2 x3 y3 x4 y4 x5 y5"


def read_lfw_net(path, filters: FilterConfig = FilterConfig(), size_of: SizeOf = None) -> Iterator[ImageRecord]:
    """Yield one :class:`ImageRecord` (one box, five landmarks) per line of an LFW_NET list."""
    for number, text in content_lines(path):
        tokens = text.split()
        if len(tokens) != 15:
            raise AnnotationError(path, number, f"15 fields '{_FIELDS}'", f"{len(tokens)} fields {text!r}")
        values = np.asarray(parse_numbers(tokens[1:], path, number, f"numbers after the path in '{_FIELDS}'"))
        left, right, top, bottom = values[:4]
        yield build_record(
            forward_slashes(tokens[0]), np.array([[left, top, right, bottom]]), source=path, line=number,
            dataset="lfw_net", filters=filters, landmarks=values[4:].reshape(1, 5, 2), size_of=size_of,
        )


def _read(files, split, filters, size_of=None):
    return read_lfw_net(files["annotations"], filters, size_of)


#: the registry entry of this module.
KINDS = (
    DatasetKind(
        kind="lfw_net", dataset="lfw_net", title="LFW_NET", splits=("train", "test"), role="landmarks",
        option="lfw_net", tree="""ROOT/
├── trainImageList.txt
├── testImageList.txt
├── lfw_5590/*.jpg
└── net_7876/*.jpg""",
        files={"annotations": "{split}ImageList.txt"}, images=("",), reader=_read, probes_sizes=True,
        figures="lfw_net", source_split="train",
        help="LFW_NET root (trainImageList.txt, net_7876/, lfw_5590/): landmark samples.",
    ),
)
