"""Shared helpers of the annotation readers: numbered lines, number fields, records.

Lines are read lazily (one at a time) with universal newlines, so LF and CRLF
files read the same and trailing whitespace is ignored. Line numbers are 1-based.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Optional, Sequence, Tuple

import numpy as np

from ..core.filtering import FilterConfig, drop_reasons
from ..errors import AnnotationError
from .records import ImageRecord

#: ``relpath -> (width, height)``: optional image-size probe for the outside-image filter.
SizeOf = Optional[Callable[[str], Tuple[int, int]]]


def numbered_lines(path) -> Iterator[Tuple[int, str]]:
    """``(line number, text without trailing whitespace)`` for every line, blank ones too."""
    with open(path, "r", encoding="utf-8", newline=None) as f:
        for number, text in enumerate(f, start=1):
            yield number, text.rstrip()


def content_lines(path) -> Iterator[Tuple[int, str]]:
    """Like :func:`numbered_lines` but without blank lines."""
    return ((n, t) for n, t in numbered_lines(path) if t)


class PeekableLines:
    """An iterator of ``(number, text)`` that can look one item ahead."""

    def __init__(self, lines: Iterator[Tuple[int, str]]):
        self._lines = lines
        self._ahead: Optional[Tuple[int, str]] = None

    def __iter__(self):
        return self

    def __next__(self) -> Tuple[int, str]:
        if self._ahead is not None:
            item, self._ahead = self._ahead, None
            return item
        return next(self._lines)

    def peek(self) -> Optional[Tuple[int, str]]:
        if self._ahead is None:
            self._ahead = next(self._lines, None)
        return self._ahead


def parse_numbers(tokens: Sequence[str], source, line: int, what: str, kind=float) -> list:
    """``kind(t)`` for each token, or AnnotationError ``FILE:LINE: expected <what>``."""
    try:
        return [kind(t) for t in tokens]
    except ValueError:
        raise AnnotationError(source, line, what, repr(" ".join(tokens))) from None


def is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def forward_slashes(path: str) -> str:
    return path.replace("\\", "/")


def build_record(
    path: str,
    boxes: np.ndarray,
    *,
    source,
    line: int,
    dataset: str,
    filters: FilterConfig,
    landmarks: Optional[np.ndarray] = None,
    attributes: Optional[dict] = None,
    size_of: SizeOf = None,
) -> ImageRecord:
    """An :class:`ImageRecord` with ``keep`` and ``drop_reason`` from ``filters``."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    attributes = attributes or {}
    size = size_of(path) if (size_of is not None and len(boxes)) else None
    reasons = drop_reasons(boxes, filters, attributes, landmarks, size)
    return ImageRecord(
        path=path,
        boxes=boxes,
        landmarks=None if landmarks is None else np.asarray(landmarks, dtype=np.float32).reshape(-1, 5, 2),
        attributes=attributes,
        keep=reasons == 0,
        drop_reason=reasons,
        source=os.fspath(source),
        line=line,
        dataset=dataset,
    )
