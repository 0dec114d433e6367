"""Pixel operations shared by gen-pnet, mine and the detector (numpy in, numpy out).

Crops are integer boxes ``x1, y1, x2, y2`` (exclusive ``x2, y2``) in source-image
pixels. Parts of a crop that reach past the image border are zero (black), the
convention of the original MTCNN detector.

Resampling to the network input size is an exact *area average* when the crop
shrinks: each output pixel is the mean of the source area it covers, partial
source pixels weighted by the fraction covered (the box filter of
``cv2.INTER_AREA``), so a 300 px face becomes a 12 px face without aliasing, the
way an area-downsampled pyramid presents it to P-Net. It is computed from the
image's summed-area table (:class:`ImageCutter`), which makes every crop cost the
same small amount whatever its size: the table is built once per image, in about
a fifth of the time the image takes to decode. Crops that grow (smaller than the
output) are resampled bilinearly (``cv2.INTER_LINEAR``; an area average would
only repeat pixels there).
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

from .schema import AUG_FLIP, rotation_degrees

__all__ = ["ImageCutter", "crop_padded", "crop_resize", "sample_pixels"]


#: Rotated crops are sampled at this multiple of the output size (from a level of the
#: image's 2x area pyramid), then area-averaged to the output size.
ROTATION_WORK_FACTOR = 4

#: Boxes resampled together (bounds the temporary arrays of :meth:`ImageCutter.area_average`).
_BLOCK = 64

#: Largest sum a 32-bit summed-area table holds exactly.
_INT32_MAX = 2**31 - 1


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


class ImageCutter:
    """Cuts and resamples any number of crops from one uint8 image ``(H, W)`` or ``(H, W, C)``.

    Holds the image's summed-area table, built on first use, so that an area
    average over any rectangle costs four lookups per output pixel and channel, and
    for rotated crops a 2x area pyramid of the image, levels built as needed.
    """

    def __init__(self, image: np.ndarray):
        self.image = image if image.ndim == 3 else image[:, :, None]
        self._table, self._table_shape = None, (0, 0)
        self._levels = [self.image]

    @property
    def channels(self) -> int:
        return self.image.shape[2]

    def cut(self, boxes, size: int, augments=None, angle: float = 0.0) -> np.ndarray:
        """The stored pixels of samples: ``(N, size, size, C)`` uint8.

        Each integer box is cropped (turned about its centre when its ``augments``
        code says so, by ``angle`` degrees), resampled to ``size`` and mirrored
        when the code has the flip bit."""
        boxes = np.trunc(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
        augments = np.zeros(len(boxes), np.int64) if augments is None else np.asarray(augments, np.int64).reshape(-1)
        sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        if len(boxes) and sides.min() <= 0:
            raise ValueError(f"empty crop box {tuple(boxes[int(np.argmin(sides))])}")
        degrees = rotation_degrees(augments, angle)
        out = np.empty((len(boxes), size, size, self.channels), np.uint8)
        area = (degrees == 0) & (sides >= size)
        out[area] = self.area_average(boxes[area], size, size)
        for i in np.flatnonzero(~area):
            out[i] = self._one(boxes[i], size, float(degrees[i]))
        flip = (augments & AUG_FLIP) != 0
        out[flip] = out[flip, :, ::-1]
        return out

    def _one(self, box, size, degrees):
        if degrees:
            return self.rotated(box, degrees, size)
        patch = crop_padded(self.image, box)
        return cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR).reshape(size, size, self.channels)

    # ------------------------------------------------------------ area averages

    def area_average(self, boxes, out_w: int, out_h: int) -> np.ndarray:
        """Mean of the source area under each of ``out_w x out_h`` equal cells of each box
        (float boxes allowed; zero outside the image): ``(N, out_h, out_w, C)`` uint8."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        out = np.empty((len(boxes), out_h, out_w, self.channels), np.uint8)
        if not len(boxes):
            return out
        h, w = self.image.shape[:2]
        ix, fx = _lattice(boxes[:, 0], boxes[:, 2], out_w, w)
        iy, fy = _lattice(boxes[:, 1], boxes[:, 3], out_h, h)
        table = self.table(int(ix.max()) + 1, int(iy.max()) + 1)
        stride = self._table_shape[1] + 1
        cell = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (out_w * out_h)
        for lo in range(0, len(boxes), _BLOCK):
            b = slice(lo, lo + _BLOCK)
            out[b] = _area_block(table, stride, ix[b], fx[b], iy[b], fy[b], cell[b])
        return out

    def table(self, width: Optional[int] = None, height: Optional[int] = None) -> np.ndarray:
        """The summed-area table of the image's first ``height`` rows and ``width`` columns
        (all by default), rows flattened: ``((height + 1) * (width + 1), C)``, int32 while
        its sums fit, float64 beyond. Its entries are those of the whole image's table (each
        is the exact sum of the pixels above and left of it), so the averages do not depend
        on how far it reaches; it is built on first use and rebuilt only to reach further."""
        h, w = self.image.shape[:2]
        want = (h if height is None else min(height, h), w if width is None else min(width, w))
        if self._table is None or want[0] > self._table_shape[0] or want[1] > self._table_shape[1]:
            if self._table is not None:
                want = (max(want[0], self._table_shape[0]), max(want[1], self._table_shape[1]))
            th, tw = want
            depth = cv2.CV_32S if th * tw * 255 <= _INT32_MAX else cv2.CV_64F
            part = self.image[:th, :tw]
            self._table = cv2.integral(part, sdepth=depth).reshape((th + 1) * (tw + 1), self.channels)
            self._table_shape = want
        return self._table

    # ------------------------------------------------------------ rotation

    def rotated(self, box, degrees: float, out_size: int) -> np.ndarray:
        """``box`` of the image turned by ``degrees`` about the box centre, ``out_size``
        square: sampled bilinearly at ``ROTATION_WORK_FACTOR * out_size`` from the level of
        the image's 2x area pyramid that leaves at most a 2x shrink, then area-averaged to
        ``out_size``."""
        work = ROTATION_WORK_FACTOR * out_size
        x1, y1, x2, y2 = (int(v) for v in box)
        w, h = x2 - x1, y2 - y1
        level = max(0, int(math.floor(math.log2(max(w, h) / work)))) if max(w, h) > work else 0
        scale = float(1 << level)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        a = math.radians(degrees)
        cos, sin = math.cos(a), math.sin(a)
        # work pixel (u, v) sits at crop point p = (x1, y1) + (u + .5, v + .5) * step; its source is
        # the point turned back about the centre, R^-1 (p - c) + c (R as core.landmarks.rotation_matrix), which
        # lies at p' / 2^level on the pyramid level, in OpenCV's centre-at-integer indexing
        sx, sy = w / work, h / work
        px, py = x1 + 0.5 * sx - cx, y1 + 0.5 * sy - cy
        ox = (cos * px - sin * py + cx) / scale - 0.5
        oy = (sin * px + cos * py + cy) / scale - 0.5
        inverse = np.array([[cos * sx / scale, -sin * sy / scale, ox], [sin * sx / scale, cos * sy / scale, oy]])
        turned = cv2.warpAffine(self.pyramid_level(level), inverse, (work, work), borderValue=0,
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        small = cv2.resize(turned, (out_size, out_size), interpolation=cv2.INTER_AREA)
        return small.reshape(out_size, out_size, self.channels)

    def pyramid_level(self, level: int) -> np.ndarray:
        """The image averaged over aligned ``2^level`` pixel blocks (zero beyond its edges),
        each level exact 2x2 averages of the one below; built on demand and kept."""
        while len(self._levels) <= level:
            below = self._levels[-1]
            h, w = below.shape[:2]
            if h % 2 or w % 2:
                below = cv2.copyMakeBorder(below, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
            half = cv2.resize(below, (below.shape[1] // 2, below.shape[0] // 2), interpolation=cv2.INTER_AREA)
            self._levels.append(half.reshape(half.shape[0], half.shape[1], -1))
        return self._levels[level]


def _area_block(table, stride, ix, fx, iy, fy, cell):
    """Area averages of boxes from their cell-edge lattices (:func:`_lattice`) and the
    summed-area table (rows ``stride`` entries apart): the table at the four pixel corners
    around each cell edge crossing, bilinear between them (the exact integral of the
    piecewise-constant image up to that point), differenced per cell, divided by the
    cell's area. In-place steps; the same operations in the same order as written out."""
    at = iy[:, :, None] * stride + ix[:, None, :]
    c0, c1, c2, c3 = np.take(table, np.stack([at, at + 1, at + stride, at + stride + 1]), axis=0)
    fx, fy = fx[:, None, :, None], fy[:, :, None, None]
    top = np.subtract(c1, c0, dtype=np.float64)  # c0 + (c1 - c0) * fx
    top *= fx
    top += c0
    integral = np.subtract(c3, c2, dtype=np.float64)  # bottom = c2 + (c3 - c2) * fx
    integral *= fx
    integral += c2
    integral -= top  # top + (bottom - top) * fy
    integral *= fy
    integral += top  # (N, out_h + 1, out_w + 1, C)
    sums = integral[:, 1:, 1:] - integral[:, :-1, 1:]
    sums -= integral[:, 1:, :-1]
    sums += integral[:, :-1, :-1]
    sums /= cell[:, None, None, None]
    np.rint(sums, out=sums)
    return np.clip(sums, 0, 255, out=sums).astype(np.uint8)


def _lattice(lo, hi, cells, limit):
    """Cell edges of ``cells`` equal steps from ``lo`` to ``hi``, clipped to ``[0, limit]``,
    as (integer table index, fraction) so that ``edge = index + fraction``."""
    edges = lo[:, None] + (hi - lo)[:, None] * (np.arange(cells + 1) / cells)
    edges = np.clip(edges, 0, limit)
    index = np.minimum(np.floor(edges), limit - 1).astype(np.intp)
    return index, edges - index


def crop_resize(image: np.ndarray, boxes, size: int) -> np.ndarray:
    """Unaugmented samples of integer ``boxes``: ``(N, size, size, C)``, the pixels
    :func:`sample_pixels` gives for each. The detector crops R-Net and O-Net inputs
    this way (through an :class:`ImageCutter`), so they are exactly what mining stores."""
    return ImageCutter(image).cut(boxes, size)


def sample_pixels(image: np.ndarray, box, size: int, augment: int = 0, angle: float = 0.0) -> np.ndarray:
    """The stored pixels of one sample: crop (rotated when ``augment`` says so),
    resample to ``size``, mirror when ``augment`` has the flip bit. Same shape as
    ``image`` but ``size x size``."""
    out = ImageCutter(image).cut(np.asarray(box, np.float64)[None], size, [augment], angle)[0]
    return out if image.ndim == 3 else out[:, :, 0]


def landmark_legend(width: int, note: str = "(left/right = image-left/right)") -> np.ndarray:
    """A 24-pixel RGB strip naming the five landmark colours (``core.landmarks``), then ``note``."""
    from .landmarks import LANDMARK_COLOURS, LANDMARK_NAMES

    out = np.zeros((24, width, 3), np.uint8)
    x = 6
    for name, colour in zip(LANDMARK_NAMES, LANDMARK_COLOURS):
        cv2.circle(out, (x + 5, 12), 5, colour, -1, cv2.LINE_AA)
        cv2.putText(out, name, (x + 14, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        x += 22 + 9 * len(name)
    cv2.putText(out, note, (x + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 200, 200), 1, cv2.LINE_AA)
    return out
