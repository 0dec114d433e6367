"""Image decoding, header-only size probing and safe image paths (the I/O edge for pixels).

Every failure is an :class:`ImageError` that names the file and says what was
expected. Checks made before any pixel is decoded:

- the file exists, is a regular file and can be read;
- it is not empty;
- its header size (JPEG, PNG) is within ``max_pixels``;
- a JPEG ends its entropy-coded data with the EOI marker: some decoders return a
  partly grey image for a truncated JPEG without failing, so truncation is
  detected here rather than left to the decoder.

Accepted pixel formats, all returned as uint8 RGB ``(H, W, 3)``: 8-bit and 16-bit
greyscale, RGB and RGBA, and CMYK JPEG (converted by the decoder).
"""

from __future__ import annotations

import io
import os
import posixpath
import struct
from typing import BinaryIO, Iterator, Optional, Tuple

import cv2
import numpy as np

from ..errors import ImageError

#: Images with more pixels than this are refused before decoding (configurable).
DEFAULT_MAX_PIXELS = 100_000_000

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8"
_EOI = b"\xff\xd9"
_SOS = 0xDA
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_TAIL = 64  # bytes at the end of a JPEG searched for EOI before a full scan
#: JPEGs decode straight to RGB where OpenCV can (4.10 and later): the same pixels as
#: decoding to BGR and swapping, without the extra pass. EXIF orientation is ignored,
#: as with IMREAD_UNCHANGED: annotations refer to the stored pixel grid.
_JPEG_TO_RGB = (cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION) if hasattr(cv2, "IMREAD_COLOR_RGB") else None


# ---------------------------------------------------------------- decoding


def read_rgb(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file to uint8 ``(H, W, 3)`` RGB.

    Greyscale is expanded to three channels, alpha is dropped, 16-bit is scaled to
    8 bits, CMYK is converted. Raises :class:`ImageError` naming the file on any
    failure, and before decoding when the header says it has more than
    ``max_pixels`` pixels or when a JPEG is truncated.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    check_pixels(path, header_size(data), max_pixels)
    jpeg = data.startswith(_JPEG_MAGIC)
    if jpeg:
        _check_jpeg_complete(path, data)
    jpeg_rgb = jpeg and _JPEG_TO_RGB is not None
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _JPEG_TO_RGB if jpeg_rgb else cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageError(f"{path}: not a decodable image (truncated, or not an image format OpenCV reads)")
    return img if jpeg_rgb else _to_rgb8(img, path)



def check_pixels(path, size: Optional[Tuple[int, int]], max_pixels: int) -> None:
    """Refuse an image whose ``(w, h)`` exceeds ``max_pixels`` (``None``: unknown, allowed)."""
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageError(
            f"{os.fspath(path)}: {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels exceeds the limit of "
            f"{max_pixels:,}; refused before decoding. Raise --max-pixels if the image is genuine"
        )


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageError(f"{path}: the file is empty (0 bytes); expected an encoded image")
    return data


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


# ---------------------------------------------------------------- header probing


def image_size(path, missing_ok: bool = False):
    """``(width, height)`` from the file header without decoding (JPEG, PNG).

    A JPEG whose entropy-coded data has no end marker is truncated and raises
    :class:`ImageError` (the tail is read; the whole file only when the end
    marker is not among its last bytes). Other formats fall back to a full
    decode. Returns ``None`` when ``missing_ok`` and the file cannot be read or
    its header cannot be parsed.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = _header_size_of(f)
            if size is not None and _is_jpeg(f):
                _check_jpeg_file_complete(path, f)
    except (OSError, ImageError) as exc:
        if missing_ok:
            return None
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if size is not None:
        return size
    if missing_ok:
        return None
    img = read_rgb(path)
    return img.shape[1], img.shape[0]


def header_size(data: bytes) -> Optional[Tuple[int, int]]:
    """``(width, height)`` from the header of encoded JPEG or PNG bytes, else ``None``."""
    return _header_size_of(io.BytesIO(data))


def _header_size_of(f: BinaryIO) -> Optional[Tuple[int, int]]:
    head = f.read(26)
    if head[:8] == _PNG_MAGIC and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if head[:2] == _JPEG_MAGIC:
        f.seek(2)
        for marker, _ in _jpeg_segments(f):
            if marker in _SOF:
                data = f.read(5)
                if len(data) < 5:
                    return None
                h, w = struct.unpack(">HH", data[1:5])
                return int(w), int(h)
    return None


def _is_jpeg(f: BinaryIO) -> bool:
    f.seek(0)
    return f.read(2) == _JPEG_MAGIC


def _jpeg_segments(f: BinaryIO) -> Iterator[Tuple[int, int]]:
    """Walk the marker segments after SOI: yields ``(marker, length)`` with ``f`` at the
    segment's payload; stops after SOS (entropy-coded data follows) or at EOI / EOF.
    Skips a payload the consumer did not read."""
    while True:
        b = f.read(1)
        while b and b != b"\xff":
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            return
        seg = f.read(2)
        if len(seg) < 2:
            return
        length = struct.unpack(">H", seg)[0]
        start = f.tell()
        yield marker, length
        if marker == _SOS:
            return
        f.seek(start + length - 2)


def _scan_start(f: BinaryIO) -> Optional[int]:
    """Offset of the first scan's entropy-coded data (after its SOS header), or ``None``."""
    f.seek(2)
    for marker, length in _jpeg_segments(f):
        if marker == _SOS:
            return f.tell() + length - 2
    return None


def _check_jpeg_file_complete(path: str, f: BinaryIO) -> None:
    f.seek(0, os.SEEK_END)
    end = f.tell()
    f.seek(max(0, end - _TAIL))
    if _EOI in f.read():
        return
    f.seek(0)
    _check_jpeg_complete(path, f.read())


def _check_jpeg_complete(path: str, data: bytes) -> None:
    """A JPEG is complete when an EOI marker follows the start of its first scan
    (an EXIF thumbnail's own EOI, inside an APP segment, does not count)."""
    start = _scan_start(io.BytesIO(data))
    if start is None or data.find(_EOI, start) < 0:
        where = "its first scan is missing" if start is None else "the end-of-image marker is missing"
        raise ImageError(
            f"{path}: truncated JPEG ({len(data):,} bytes; {where}); expected a complete file. "
            "Download or copy the image again"
        )


# ---------------------------------------------------------------- paths


def safe_join(root, relpath, where: str = "") -> str:
    """``root/relpath`` for an annotation's image path, refusing a path that is absolute
    or climbs out of ``root`` with ``..``.

    ``where`` (e.g. ``"FILE:LINE"``) prefixes the message. Symbolic links inside
    ``root`` are followed as usual: only the path as written is checked.
    """
    text = os.fspath(relpath).replace("\\", "/")
    norm = posixpath.normpath(text)
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../") or _has_drive(text):
        prefix = f"{where}: " if where else ""
        raise ImageError(
            f"{prefix}image path {os.fspath(relpath)!r} leaves the image root {os.fspath(root)}; "
            "expected a path relative to the image root without '..' or a leading '/'. Fix the annotation file"
        )
    return os.path.join(os.fspath(root), norm)


def _has_drive(text: str) -> bool:
    return len(text) > 1 and text[1] == ":" and text[0].isalpha()


def usable(path, read=None):
    """``(read(path), None)``, or ``(None, reason)`` for an image that cannot be used:
    ``"missing"`` or ``"unreadable (...)"``. ``read`` defaults to :func:`image_size`."""
    if not os.path.exists(path):
        return None, "missing"
    try:
        return (read or image_size)(path), None
    except ImageError as exc:
        return None, f"unreadable ({str(exc).split(': ', 1)[-1]})"
