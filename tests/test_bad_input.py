"""Bad input: broken, odd or hostile images and annotations.

Each case says what happened and leaves nothing half-written: no shard in DIR, no
temporary file anywhere under it, and a documented way to continue
(docs/robustness.md).
"""

import json
import os
import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakedata import gen, make_wider, run_cli, shard_bytes
from mtcnn_data.errors import ImageError
from mtcnn_data.io.images import image_size, read_rgb, safe_join

WIDER_IMAGES = "wider/WIDER_train/images/0--Event"


# ---------------------------------------------------------------- helpers


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def flat_cmyk_jpeg(width: int, height: int, cmyk) -> bytes:
    """A baseline 4-component JPEG (Adobe, inverted CMYK) of one flat colour.

    No encoder at hand writes CMYK, so this one writes the DC terms of each 8x8
    block directly: 4-bit codes for the 12 DC categories, a 2-bit end-of-block.
    """
    out = b"\xff\xd8" + _segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))
    out += _segment(0xDB, b"\x00" + bytes([1] * 64))
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 4) + b"".join(bytes([i + 1, 0x11, 0]) for i in range(4)))
    out += _segment(0xC4, b"\x00" + bytes([0, 0, 0, 12] + [0] * 12) + bytes(range(12)))
    out += _segment(0xC4, b"\x10" + bytes([0, 1] + [0] * 14) + b"\x00")
    out += _segment(0xDA, bytes([4]) + b"".join(bytes([i + 1, 0]) for i in range(4)) + b"\x00\x3f\x00")
    bits = ""
    for block in range(((width + 7) // 8) * ((height + 7) // 8)):
        for v in cmyk:
            dc = 8 * (int(v) - 128) if block == 0 else 0
            cat = abs(dc).bit_length()
            bits += format(cat, "04b") + (format(dc if dc > 0 else dc + (1 << cat) - 1, f"0{cat}b") if cat else "") + "00"
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    return out + data.replace(b"\xff", b"\xff\x00") + b"\xff\xd9"


def encoded(ext: str, img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def noise(h=40, w=60, c=3, dtype=np.uint8, seed=0):
    hi = np.iinfo(dtype).max
    shape = (h, w) if c == 1 else (h, w, c)
    return np.random.default_rng(seed).integers(0, hi, size=shape, dtype=dtype)


def with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with the frame header claiming another size."""
    i = jpeg.index(b"\xff\xc0") + 5
    return jpeg[:i] + struct.pack(">HH", height, width) + jpeg[i + 4:]


def leftovers(out: Path) -> list:
    """Shards in DIR itself and temporary files anywhere under it."""
    return sorted(p.name for p in out.glob("*.h5")) + sorted(str(p) for p in out.rglob("*.tmp"))


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    res = gen(dataset, out)
    assert res.exit_code == 0, res.output
    return shard_bytes(out)


@pytest.fixture
def data(dataset, tmp_path):
    """A private copy of the dataset to break."""
    copy = tmp_path / "data"
    shutil.copytree(dataset, copy)
    return copy


def gen_copy(data, out, *extra):
    return run_cli("gen-pnet", "--wider", data / "wider", "--lfw-net", data / "lfw", "--out", out, *extra)


# ---------------------------------------------------------------- decoding: what must work


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_greyscale_becomes_rgb(tmp_path, ext):
    grey = noise(c=1)
    path = tmp_path / f"g{ext}"
    path.write_bytes(encoded(ext, grey))
    rgb = read_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (40, 60, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    if ext == ".png":
        assert np.array_equal(rgb[..., 0], grey)


def test_png_and_rgba_become_rgb_in_order(tmp_path):
    bgra = noise(c=4)
    (tmp_path / "a.png").write_bytes(encoded(".png", bgra))
    (tmp_path / "c.png").write_bytes(encoded(".png", bgra[..., :3]))
    want = bgra[..., 2::-1]
    assert np.array_equal(read_rgb(tmp_path / "a.png"), want)
    assert np.array_equal(read_rgb(tmp_path / "c.png"), want)


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    deep = noise(c=3, dtype=np.uint16)
    (tmp_path / "d.png").write_bytes(encoded(".png", deep))
    rgb = read_rgb(tmp_path / "d.png")
    assert rgb.dtype == np.uint8 and np.array_equal(rgb, (deep >> 8).astype(np.uint8)[..., ::-1])


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The same JPEG with an EXIF APP1 segment (little-endian TIFF) whose one IFD0 entry
    is Orientation (tag 0x0112, SHORT) = ``orientation``, right after SOI."""
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_exif_orientation_is_ignored(tmp_path):
    """Annotations give boxes on the stored pixel grid, so a JPEG tagged 'rotate 90'
    must come back as stored, not turned (OpenCV's colour modes would turn it)."""
    img = noise(h=40, w=64)
    path = tmp_path / "turned.jpg"
    path.write_bytes(with_exif_orientation(encoded(".jpg", img), 6))
    assert cv2.imread(str(path), cv2.IMREAD_COLOR).shape[:2] == (64, 40)  # the tag is read
    rgb = read_rgb(path)
    assert rgb.shape == (40, 64, 3)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(rgb, stored[..., ::-1])


@pytest.mark.parametrize("subsampling", [cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
@pytest.mark.parametrize("progressive", [0, 1])
def test_jpeg_decodes_to_the_pixels_of_bgr_then_swapped(tmp_path, subsampling, progressive):
    """JPEGs decode straight to RGB (OpenCV >= 4.10): the very pixels the BGR decode and a
    channel swap give, so samples do not depend on which path an install takes."""
    path = tmp_path / "a.jpg"
    ok, buf = cv2.imencode(".jpg", noise(h=37, w=53), [cv2.IMWRITE_JPEG_QUALITY, 90,
                                                       cv2.IMWRITE_JPEG_SAMPLING_FACTOR, subsampling,
                                                       cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    path.write_bytes(buf.tobytes())
    assert np.array_equal(read_rgb(path), cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1])


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    path.write_bytes(flat_cmyk_jpeg(24, 16, (255, 0, 255, 255)))  # Adobe-inverted: magenta
    assert image_size(path) == (24, 16)
    rgb = read_rgb(path)
    assert rgb.shape == (16, 24, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - [255, 0, 255]).max() <= 2


def test_jpeg_with_bytes_after_its_end_is_fine(tmp_path):
    img = noise()
    path = tmp_path / "trailer.jpg"
    path.write_bytes(encoded(".jpg", img) + b"\x00" * 100 + b"appended data")
    assert image_size(path) == (60, 40) and read_rgb(path).shape == (40, 60, 3)


# ---------------------------------------------------------------- decoding: what must be refused


@pytest.mark.parametrize("cut", [0.5, 0.95, -2])
def test_truncated_jpeg_is_refused_by_probe_and_decoder(tmp_path, cut):
    data = encoded(".jpg", noise(120, 160))
    path = tmp_path / "t.jpg"
    path.write_bytes(data[: int(len(data) * cut) if cut > 0 else cut])
    for call in (lambda: image_size(path), lambda: read_rgb(path)):
        with pytest.raises(ImageError, match=r"t\.jpg: truncated JPEG .*end-of-image marker is missing"):
            call()
    assert image_size(path, missing_ok=True) is None


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"just some words, not an image\n", "not a decodable image"),
])
def test_empty_or_text_file_named_jpg(tmp_path, content, message):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=f"x.jpg: {message}"):
        read_rgb(path)
    with pytest.raises(ImageError, match=message):
        image_size(path)


def test_huge_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.jpg"
    path.write_bytes(with_size(encoded(".jpg", noise(16, 16)), 60000, 50000))
    with pytest.raises(ImageError) as err:
        read_rgb(path, max_pixels=100_000_000)
    msg = str(err.value)
    assert "huge.jpg: 60000x50000 = 3,000,000,000 pixels exceeds the limit of 100,000,000" in msg
    assert "refused before decoding" in msg and "--max-pixels" in msg


def test_missing_file_and_directory_in_place_of_a_file(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.jpg: cannot read the file \(No such file"):
        read_rgb(tmp_path / "nope.jpg")
    (tmp_path / "dir.jpg").mkdir()
    for call in (read_rgb, image_size):
        with pytest.raises(ImageError, match=r"dir\.jpg: cannot read the file \(Is a directory\)"):
            call(tmp_path / "dir.jpg")


def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.jpg"
    path.write_bytes(encoded(".jpg", noise()))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop root from reading; "
                        "test_missing_file_and_directory_in_place_of_a_file covers the unreadable path")
        with pytest.raises(ImageError, match=r"locked\.jpg: cannot read the file \(Permission denied\)"):
            read_rgb(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("rel", ["../x.jpg", "a/../../x.jpg", "/etc/passwd", "C:\\x.jpg", ".."])
def test_safe_join_refuses_paths_that_leave_the_root(tmp_path, rel):
    with pytest.raises(ImageError, match=r"list\.txt:7: image path .* leaves the image root"):
        safe_join(tmp_path, rel, "list.txt:7")


def test_safe_join_keeps_ordinary_paths(tmp_path):
    assert safe_join(tmp_path, "0--Parade/a.jpg") == os.path.join(str(tmp_path), "0--Parade/a.jpg")
    assert safe_join(tmp_path, "a/./b/../c.jpg") == os.path.join(str(tmp_path), "a/c.jpg")
    assert safe_join(tmp_path, "net_7876\\1.jpg") == os.path.join(str(tmp_path), "net_7876/1.jpg")


# ---------------------------------------------------------------- whole runs


def _break_truncate(p: Path):
    p.write_bytes(p.read_bytes()[:1500])


def _break_empty(p: Path):
    p.write_bytes(b"")


def _break_text(p: Path):
    p.write_text("not an image")


def _break_directory(p: Path):
    p.unlink()
    p.mkdir()


BREAKERS = {
    "truncated": (_break_truncate, "truncated JPEG"),
    "zero-byte": (_break_empty, "the file is empty"),
    "text": (_break_text, "not a decodable image"),
    "directory": (_break_directory, "cannot read the file"),
}


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_bad_image_stops_the_plan_and_can_be_skipped(data, tmp_path, kind):
    breaker, reason = BREAKERS[kind]
    breaker(data / WIDER_IMAGES / "img_5.jpg")
    out = tmp_path / "out"
    res = gen_copy(data, out)
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "1 image(s) are missing or unreadable" in msg and "wider/0--Event/img_5.jpg" in msg and reason in msg
    assert "--skip-missing" in msg and leftovers(out) == []
    res = gen_copy(data, out, "--resume", "--skip-missing")
    assert res.exit_code == 0, res.output
    skipped = json.loads((out / "manifest.json").read_text())["images_skipped"]
    assert [s["image"] for s in skipped] == ["wider/0--Event/img_5.jpg"] and reason in skipped[0]["reason"]


@pytest.mark.parametrize("rerun", ["--overwrite", "--resume"])
def test_bad_image_fixed_then_rerun_gives_the_reference(data, dataset, tmp_path, reference, rerun):
    victim = data / WIDER_IMAGES / "img_5.jpg"
    _break_truncate(victim)
    out = tmp_path / "out"
    assert gen_copy(data, out).exit_code != 0
    shutil.copy(dataset / WIDER_IMAGES / "img_5.jpg", victim)
    res = gen_copy(data, out, rerun)
    assert res.exit_code == 0, res.output
    assert shard_bytes(out) == reference


def test_decode_failure_in_the_cut_names_the_image_and_resume_continues(data, dataset, tmp_path, reference):
    """A PNG whose header is sound passes the plan; its broken pixel data stops the cut."""
    victim = data / WIDER_IMAGES / "img_2.jpg"
    good = read_rgb(victim)
    png = bytearray(encoded(".png", good[..., ::-1]))
    i = png.index(b"IDAT") + 40
    png[i:i + 64] = bytes(64)
    victim.write_bytes(bytes(png))
    out = tmp_path / "out"
    res = gen_copy(data, out)
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "img_2.jpg: not a decodable image" in msg and leftovers(out) == []
    assert (out / ".incomplete" / "selection.json").exists()  # planned and selected: the cut stopped
    shutil.copy(dataset / WIDER_IMAGES / "img_2.jpg", victim)
    res = gen_copy(data, out, "--resume")
    assert res.exit_code == 0, res.output
    assert shard_bytes(out) == reference


def test_max_pixels_refuses_large_images_with_the_option_to_raise(dataset, tmp_path):
    out = tmp_path / "out"
    res = gen(dataset, out, "--max-pixels", "100000")
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "exceeds the limit of 100,000" in msg and "--max-pixels" in msg and ".jpg: " in msg
    assert leftovers(out) == []


def test_many_missing_images_are_counted_and_the_first_listed(data, tmp_path):
    for i in range(7):
        (data / WIDER_IMAGES / f"img_{i}.jpg").unlink()
    out = tmp_path / "out"
    res = gen_copy(data, out)
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "7 image(s) are missing or unreadable" in msg and msg.count(": missing") == 5
    assert leftovers(out) == []


def test_annotation_path_leaving_the_image_root_is_refused(tmp_path):
    root = tmp_path / "wider"
    ann = make_wider(root, "train", [("0--E/a.jpg", 64, 48, [(4, 5, 20, 22)]), ("../../secret.jpg", 64, 48, [])],
                     write_images=False)
    (root / "WIDER_train/images/0--E").mkdir(parents=True)
    out = tmp_path / "out"
    res = run_cli("gen-pnet", "--wider", root, "--out", out, "--ratio", "1:1:1:0")
    assert res.exit_code != 0
    msg = str(res.exception)
    assert f"{ann}:4: image path '../../secret.jpg' leaves the image root" in msg
    assert leftovers(out) == []


def test_annotation_error_found_while_workers_plan_stops_the_run(tmp_path):
    """Units go to the workers while the annotations are still being read: an error late
    in the file must still stop the run with FILE:LINE and leave nothing behind."""
    root = tmp_path / "wider"
    good = [(f"0--E/{i}.jpg", 64, 48, [(4, 5, 30, 32)]) for i in range(12)]
    ann = make_wider(root, "train", good)
    with open(ann, "a", encoding="utf-8") as f:
        f.write("0--E/late.jpg\n2\n1 2 3 4 0 0 0 0 0 0 \n")  # says 2 boxes, the file ends after 1
    out = tmp_path / "out"
    res = run_cli("gen-pnet", "--wider", root, "--out", out, "--workers", "2", "--unit-size", "1", "--ratio", "1:1:1:0")
    assert res.exit_code != 0
    msg = str(res.exception)
    assert f"{ann}:{3 * len(good) + 1}: expected box line 2 of the 2 promised for '0--E/late.jpg'" in msg
    assert leftovers(out) == []
