"""Landmark geometry: normalisation to a crop, horizontal flip, rotation.

Landmarks are float arrays ``(N, 5, 2)`` of ``(x, y)`` points in the package's
coordinate convention, ordered left eye, right eye, nose, left mouth corner,
right mouth corner ("left" = image-left).
"""

from __future__ import annotations

import numpy as np

from .boxes import _as_boxes, heights, widths

#: The five points, in order, and the RGB colour every drawing (inspect, detect --png) gives
#: each: image-left points warm, image-right points cool, so a missed flip swap shows.
LANDMARK_NAMES = ("left eye", "right eye", "nose", "left mouth", "right mouth")
LANDMARK_COLOURS = ((255, 40, 40), (40, 120, 255), (40, 220, 40), (255, 160, 0), (0, 230, 230))

#: Index permutation that swaps image-left and image-right points after a flip.
FLIP_ORDER = np.array([1, 0, 2, 4, 3])


def normalise_to_crops(landmarks, crops) -> np.ndarray:
    """``((lx - x1) / w, (ly - y1) / h)`` per point, flattened to (N, 10) as x1,y1,...,x5,y5."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    c = _as_boxes(crops)
    origin = c[:, None, :2]
    size = np.stack([widths(c), heights(c)], axis=1)[:, None, :]
    return ((lm - origin) / size).reshape(-1, 10)


def denormalise_from_crops(normalised, crops) -> np.ndarray:
    """Inverse of :func:`normalise_to_crops`: (N, 5, 2) points in image pixels."""
    n = np.asarray(normalised, dtype=np.float64).reshape(-1, 5, 2)
    c = _as_boxes(crops)
    size = np.stack([widths(c), heights(c)], axis=1)[:, None, :]
    return n * size + c[:, None, :2]


def flip_landmarks(landmarks, width: float) -> np.ndarray:
    """Mirror points in an image (or crop) of the given width and swap left/right."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2).copy()
    lm[..., 0] = width - lm[..., 0]
    return lm[:, FLIP_ORDER, :]


def flip_normalised(normalised) -> np.ndarray:
    """Flip landmark targets already normalised to their crop ((N,10) -> (N,10))."""
    n = np.asarray(normalised, dtype=np.float64).reshape(-1, 5, 2)
    return flip_landmarks(n, 1.0).reshape(-1, 10)


def rotation_matrix(center, degrees: float) -> np.ndarray:
    """2x3 affine matrix rotating points by ``degrees`` (counter-clockwise on screen)
    about ``center``; the same matrix as ``cv2.getRotationMatrix2D(center, degrees, 1)``."""
    cx, cy = float(center[0]), float(center[1])
    a = np.deg2rad(degrees)
    cos, sin = np.cos(a), np.sin(a)
    return np.array(
        [[cos, sin, (1 - cos) * cx - sin * cy], [-sin, cos, sin * cx + (1 - cos) * cy]],
        dtype=np.float64,
    )


def apply_affine(points, matrix) -> np.ndarray:
    """Apply a 2x3 affine matrix to points ``(..., 2)``."""
    p = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]

