"""The one in-memory record every annotation reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Optional

import numpy as np

from ..core.filtering import outside_image_reasons


@dataclass(frozen=True)
class ImageRecord:
    """One annotated image.

    Attributes:
        path: image path relative to the dataset's image root, with forward slashes
            (e.g. ``"0--Parade/0_Parade_marchingband_1_849.jpg"``).
        boxes: float32 ``(N, 4)`` ``x1, y1, x2, y2`` in the package convention
            (exclusive ``x2, y2``; see :mod:`mtcnn_data`). Every box line of the file
            is here, also those a filter drops; ``keep`` says which survive.
        landmarks: float32 ``(N, 5, 2)`` or ``None`` when the format has none; order
            left eye, right eye, nose, left mouth corner, right mouth corner
            (image-left first).
        attributes: per-box int arrays ``(N,)`` named as the format names them (WIDER:
            ``blur, expression, illumination, invalid, occlusion, pose``).
        keep: bool ``(N,)``: boxes that pass the reader's filters.
        drop_reason: uint8 ``(N,)``: 0 for kept boxes, otherwise a code of
            :data:`mtcnn_data.core.filtering.DROP_REASONS`.
        source: the annotation file this record came from.
        line: 1-based line number where the record starts in ``source``.
        dataset: short dataset name (``"wider"``, ``"celeba"``, ``"lfw_net"``, ...).
    """

    path: str
    boxes: np.ndarray
    landmarks: Optional[np.ndarray] = None
    attributes: Dict[str, np.ndarray] = field(default_factory=dict)
    keep: Optional[np.ndarray] = None
    drop_reason: Optional[np.ndarray] = None
    source: str = ""
    line: int = 0
    dataset: str = ""

    def __post_init__(self):
        n = len(self.boxes)
        if self.keep is None:
            object.__setattr__(self, "keep", np.ones(n, dtype=bool))
        if self.drop_reason is None:
            object.__setattr__(self, "drop_reason", np.zeros(n, dtype=np.uint8))

    @property
    def num_faces(self) -> int:
        return len(self.boxes)

    @property
    def kept_boxes(self) -> np.ndarray:
        return self.boxes[self.keep]

    @property
    def kept_landmarks(self) -> Optional[np.ndarray]:
        return None if self.landmarks is None else self.landmarks[self.keep]


def fit_to_image(rec: ImageRecord, size, enabled: bool = True) -> ImageRecord:
    """``rec`` with its boxes that miss the ``(w, h)`` image dropped as ``outside_image``."""
    if not enabled or not len(rec.boxes):
        return rec
    reason = outside_image_reasons(rec.boxes, rec.drop_reason, size)
    if np.array_equal(reason, rec.drop_reason):
        return rec
    return replace(rec, keep=reason == 0, drop_reason=reason)
