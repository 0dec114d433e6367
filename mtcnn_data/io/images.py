"""Image decoding and header-only size probing (the I/O edge for pixels)."""

from __future__ import annotations

import os
import struct
from typing import Tuple

import cv2
import numpy as np

from ..errors import ImageError

#: Images with more pixels than this are refused before decoding (configurable).
DEFAULT_MAX_PIXELS = 100_000_000


def read_rgb(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file to uint8 ``(H, W, 3)`` RGB.

    Greyscale is expanded to three channels, alpha is dropped, 16-bit is scaled to
    8 bits. Raises :class:`ImageError` naming the file on any failure.
    """
    path = os.fspath(path)
    size = image_size(path, missing_ok=True)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageError(
            f"{path}: {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels exceeds the limit of "
            f"{max_pixels:,}; raise --max-pixels if the image is genuine"
        )
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if data.size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); expected an encoded image")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageError(f"{path}: not a decodable image (truncated, or not an image format OpenCV reads)")
    return _to_rgb8(img, path)


def _to_rgb8(img: np.ndarray, path: str) -> np.ndarray:
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageError(f"{path}: unsupported pixel type {img.dtype}; expected 8- or 16-bit")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    if img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    raise ImageError(f"{path}: {img.shape[2]} channels; expected 1, 3 or 4")


def image_size(path, missing_ok: bool = False):
    """``(width, height)`` from the file header without decoding (JPEG, PNG).

    Falls back to a full decode for other formats. Returns ``None`` when
    ``missing_ok`` and the header cannot be parsed.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(26)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            if head[:2] == b"\xff\xd8":
                f.seek(2)
                found = _jpeg_size(f)
                if found is not None:
                    return found
    except OSError as exc:
        if missing_ok:
            return None
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if missing_ok:
        return None
    img = read_rgb(path)
    return img.shape[1], img.shape[0]


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f) -> Tuple[int, int] | None:
    while True:
        b = f.read(1)
        while b and b != b"\xff":
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            return None
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if marker in _SOF:
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return int(w), int(h)
        f.seek(length - 2, os.SEEK_CUR)
