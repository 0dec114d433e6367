"""Face boxes derived from five landmarks (for sets that have no box, e.g. aligned CelebA).

Coordinates follow :mod:`mtcnn_data`: ``x1, y1, x2, y2`` with exclusive ``x2, y2``.

The rule (documented in docs/annotations.md): a square centred half-way between
the eye centre (mean of the two eyes) and the mouth centre (mean of the two mouth
corners), with side ``LANDMARK_BOX_SCALE`` times the eye-centre to mouth-centre
distance. That distance is nearly independent of yaw and of in-plane rotation,
and 2.5 of it spans roughly eyebrows to chin and ear to ear, which is how a
WIDER FACE annotator frames a face. On the aligned 178x218 CelebA images (eye
centre ~y=111, mouth centre ~y=152, distance ~41 px) the box is ~103 px wide,
about ``(37, 80, 141, 184)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LANDMARK_BOX_SCALE", "box_from_landmarks"]

#: side of the derived square in units of the eye-centre to mouth-centre distance.
LANDMARK_BOX_SCALE = 2.5


def box_from_landmarks(landmarks, scale: float = LANDMARK_BOX_SCALE) -> np.ndarray:
    """float32 ``(N, 4)`` square boxes from ``(N, 5, 2)`` landmarks (see module doc)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    eyes = lm[:, 0:2].mean(axis=1)
    mouth = lm[:, 3:5].mean(axis=1)
    centre = (eyes + mouth) / 2
    half = scale * np.linalg.norm(mouth - eyes, axis=1) / 2
    return np.stack(
        [centre[:, 0] - half, centre[:, 1] - half, centre[:, 0] + half, centre[:, 1] + half], axis=1
    ).astype(np.float32)
