"""Pixel operations shared by gen-pnet, mine and the detector (numpy in, numpy out).

Crops are integer boxes ``x1, y1, x2, y2`` (exclusive ``x2, y2``) in source-image
pixels. Parts of a crop that reach past the image border are zero (black), the
convention of the original MTCNN detector. Resampling to the network input size
uses ``cv2.INTER_AREA`` when shrinking (a box filter over the source pixels: it
averages every source pixel, so a 300 px face becomes a 12 px face without
aliasing, the way an area-downsampled pyramid presents it to P-Net) and
``cv2.INTER_LINEAR`` when enlarging (``INTER_AREA`` degenerates to it there).
"""

from __future__ import annotations

import cv2
import numpy as np

from .core.landmarks import rotation_matrix
from .core.sampling import rotation_degrees
from .core.schema import AUG_FLIP

__all__ = ["crop_padded", "resize_patch", "crop_resize", "interpolation_for", "rotated_crop", "sample_pixels"]


#: Rotated crops are rotated at this multiple of the output size (area-downsampled
#: first), then area-downsampled to the output size.
ROTATION_WORK_FACTOR = 4


def interpolation_for(src_w: int, src_h: int, dst_w: int, dst_h: int) -> int:
    """The OpenCV interpolation flag the package uses for this resize."""
    return cv2.INTER_AREA if (src_w >= dst_w and src_h >= dst_h) else cv2.INTER_LINEAR


def crop_padded(image: np.ndarray, box) -> np.ndarray:
    """Pixels of integer box ``(x1, y1, x2, y2)``, zero where it leaves the image.

    Returns a view when the box lies inside the image, a new array otherwise.
    """
    x1, y1, x2, y2 = (int(v) for v in box)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"empty crop box {(x1, y1, x2, y2)}")
    h, w = image.shape[:2]
    if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:
        return image[y1:y2, x1:x2]
    out = np.zeros((y2 - y1, x2 - x1) + image.shape[2:], dtype=image.dtype)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return out


def resize_patch(patch: np.ndarray, size: int) -> np.ndarray:
    """Resample a patch to ``size x size`` with the package's interpolation rule."""
    h, w = patch.shape[:2]
    if (w, h) == (size, size):
        return np.ascontiguousarray(patch)
    flag = interpolation_for(w, h, size, size)
    return cv2.resize(patch, (size, size), interpolation=flag)


def crop_resize(image: np.ndarray, boxes, size: int) -> np.ndarray:
    """:func:`sample_pixels` of every integer box (no augmentation): ``(N, size, size, C)``.

    The detector crops R-Net and O-Net inputs with this, so they are exactly the
    pixels that mining stores."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    channels = image.shape[2] if image.ndim == 3 else 1
    out = np.empty((len(boxes), size, size, channels), dtype=image.dtype)
    for i, box in enumerate(boxes):
        out[i] = sample_pixels(image, box, size).reshape(size, size, channels)
    return out


def rotated_crop(image: np.ndarray, box, degrees: float, out_size=None) -> np.ndarray:
    """Pixels of integer ``box`` in the image turned by ``degrees`` about the box
    centre (counter-clockwise on screen), bilinear, zero outside the image.

    Consistent with :func:`mtcnn_data.core.landmarks.rotation_matrix` in the
    package's continuous coordinates (pixel centres at ``i + 0.5``). With
    ``out_size`` smaller than the box, the region is first area-downsampled to that
    scale (anti-aliased, and far cheaper than rotating at full resolution); the
    result is then ``out_size x out_size``.
    """
    x1, y1, x2, y2 = (int(v) for v in box)
    w, h = x2 - x1, y2 - y1
    rot = rotation_matrix(((x1 + x2) / 2, (y1 + y2) / 2), degrees)
    lin_inv = rot[:, :2].T
    shift_inv = -lin_inv @ rot[:, 2]
    if out_size is None or out_size >= max(w, h):
        return _warp(image, lin_inv, shift_inv, (x1, y1), (1.0, 1.0), (w, h))
    region, small = _area_downsampled_region(image, rot, (x1, y1, x2, y2), out_size / max(w, h))
    t = small.shape[1] / (region[2] - region[0])
    step = (w / out_size, h / out_size)
    # output pixel (u, v) sits at crop point (x1, y1) + (u + .5, v + .5) * step; rotate it back,
    # move into the downsampled region's frame, then to OpenCV's centre-at-integer indexing
    lin = t * lin_inv * np.array(step)[None, :]
    offset = t * (lin_inv @ (np.array([x1, y1]) + 0.5 * np.array(step)) + shift_inv - np.array(region[:2])) - 0.5
    return _warp_matrix(small, np.hstack([lin, offset[:, None]]), (out_size, out_size))


def _area_downsampled_region(image, rot, box, scale):
    """The square region that holds ``box`` at any rotation, area-downsampled by ``scale``."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    r = int(np.ceil(max(x2 - x1, y2 - y1) * (abs(rot[0, 0]) + abs(rot[0, 1])) / 2)) + 2
    region = (int(np.floor(cx)) - r, int(np.floor(cy)) - r, int(np.floor(cx)) + r, int(np.floor(cy)) + r)
    side = max(1, int(round(2 * r * scale)))
    patch = crop_padded(image, region)
    return region, cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)


def _warp(image, lin_inv, shift_inv, origin, step, size):
    offset = lin_inv @ (np.array(origin) + 0.5 * np.array(step)) + shift_inv - 0.5
    return _warp_matrix(image, np.hstack([lin_inv * np.array(step)[None, :], offset[:, None]]), size)


def _warp_matrix(image, inverse_map, size):
    return cv2.warpAffine(
        image,
        inverse_map,
        (int(size[0]), int(size[1])),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def sample_pixels(image: np.ndarray, box, size: int, augment: int = 0, angle: float = 0.0) -> np.ndarray:
    """The stored pixels of one sample: crop (rotated when ``augment`` says so),
    resample to ``size``, mirror when ``augment`` has the flip bit."""
    degrees = rotation_degrees(int(augment), angle)
    patch = rotated_crop(image, box, degrees, ROTATION_WORK_FACTOR * size) if degrees else crop_padded(image, box)
    out = resize_patch(patch, size)
    if int(augment) & AUG_FLIP:
        out = np.ascontiguousarray(out[:, ::-1])
    return out
