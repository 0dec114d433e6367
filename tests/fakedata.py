"""Builders of small fake datasets in the EXACT formats of the official releases.

Like torchvision's fake-data fixtures: each builder writes annotation files (with
the real quirks: trailing spaces, CRLF, backslash paths, header rows, dummy lines
of empty images) and, optionally, real small JPEGs with a face-like blob drawn
in every box, into the layout that :func:`mtcnn_data.io.datasets.resolve_dataset`
expects. Every builder returns the path of the annotation file it wrote (CelebA:
a dict of them). Coordinates given to the builders are in each format's own
terms (WIDER/CelebA ``x y w h``, LFW_NET ``left right top bottom``).

    make_wider(tmp_path, "train", [("0--Parade/a.jpg", 64, 48, [(4, 5, 20, 22)])])
    make_lfw_net(tmp_path, "train", [("net_7876\\\\1_0_0.jpg", 80, 80, (10, 60, 12, 62), LANDMARKS)])
    make_celeba(tmp_path, [("000001.jpg", 120, 140, (20, 25, 70, 80), LANDMARKS, 0)])
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    "WIDER_ATTRS_ZERO",
    "make_wider",
    "make_wider_flat",
    "make_lfw_net",
    "make_celeba",
    "landmarks_in_box",
    "write_jpeg",
]

WIDER_ATTRS_ZERO = (0, 0, 0, 0, 0, 0)
_LANDMARK_HEADER = (
    "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
)


def write_jpeg(path: Path, width: int, height: int, boxes_xyxy: Iterable = (), seed: int = 0) -> Path:
    """A real ``width x height`` JPEG: noise background, a light ellipse per box."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
    for x1, y1, x2, y2 in boxes_xyxy:
        centre = (int((x1 + x2) / 2), int((y1 + y2) / 2))
        axes = (max(int((x2 - x1) / 2), 1), max(int((y2 - y1) / 2), 1))
        cv2.ellipse(img, centre, axes, 0, 0, 360, (180, 200, 220), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"cv2 could not write {path}")
    return path


def landmarks_in_box(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """Five plausible ``(x, y)`` points inside a box: eyes, nose, mouth corners."""
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
    return np.array([x1, y1]) + rel * np.array([w, h])


def make_wider(
    root,
    split: str,
    images: Sequence[Tuple[str, int, int, Sequence[Sequence[int]]]],
    write_images: bool = True,
    columns: int = 10,
    final_newline: bool = True,
) -> Path:
    """Write ``ROOT/wider_face_split/wider_face_<split>_bbx_gt.txt`` (+ ``WIDER_<split>/images``).

    ``images``: ``(relpath, width, height, boxes)``; a box is ``x y w h`` optionally
    followed by the six flags ``blur expression illumination invalid occlusion pose``
    (zeros when omitted). An image with no boxes is written the official way:
    ``0`` + an all-zero line in train, ``1`` + an all-zero line in val.
    ``columns=7`` writes the ``x y w h blur invalid occlusion`` rewrite.
    """
    root = Path(root)
    out = root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for relpath, width, height, boxes in images:
        lines += _wider_block(relpath, boxes, split, columns)
        if write_images:
            xyxy = [(b[0], b[1], b[0] + b[2], b[1] + b[3]) for b in boxes]
            write_jpeg(root / f"WIDER_{split}" / "images" / relpath, width, height, xyxy)
    text = "\n".join(lines) + ("\n" if final_newline else "")
    out.write_text(text, encoding="utf-8", newline="")
    return out


def _wider_block(relpath: str, boxes, split: str, columns: int) -> list:
    full = [tuple(b) + WIDER_ATTRS_ZERO[: 10 - len(b)] for b in boxes]
    if columns == 7:
        full = [b[:5] + (b[7], b[8]) for b in full]
    rows = [" ".join(str(v) for v in b) + " " for b in full]
    if not boxes:
        count = "1" if split == "val" else "0"
        return [relpath, count, " ".join(["0"] * columns) + " "]
    return [relpath, str(len(boxes))] + rows


def make_wider_flat(path, images: Sequence[Tuple[str, Sequence[Sequence[float]]]]) -> Path:
    """Write a flat ``relpath x1 y1 x2 y2 ...`` list (exclusive x2, y2); no boxes -> ``0 0 0 0``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for relpath, boxes in images:
        values = [v for b in boxes for v in b] or [0, 0, 0, 0]
        lines.append(relpath + " " + " ".join(str(v) for v in values) + " ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return path


def make_lfw_net(
    root,
    split: str,
    entries: Sequence[Tuple[str, int, int, Sequence[int], np.ndarray]],
    write_images: bool = True,
) -> Path:
    """Write ``ROOT/trainImageList.txt`` or ``testImageList.txt``: CRLF, 15 fields.

    ``entries``: ``(path as written, e.g. 'net_7876\\\\1_0_0.jpg', width, height,
    (left, right, top, bottom), landmarks (5, 2))``. Images go to ``ROOT/<path>``.
    """
    root = Path(root)
    out = root / ("trainImageList.txt" if split == "train" else "testImageList.txt")
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for written, width, height, (left, right, top, bottom), landmarks in entries:
        points = " ".join(f"{v:.6f}" for v in np.asarray(landmarks, dtype=float).reshape(-1))
        lines.append(f"{written} {left} {right} {top} {bottom} {points}")
        if write_images:
            write_jpeg(root / written.replace("\\", "/"), width, height, [(left, top, right, bottom)])
    out.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return out


def make_celeba(
    root,
    entries: Sequence[Tuple[str, int, int, Sequence[int], np.ndarray, Optional[int]]],
    write_images: bool = True,
    aligned: bool = False,
) -> dict:
    """Write the CelebA lists (count row, header row, aligned columns, CRLF) and images.

    ``entries``: ``(image_id, width, height, (x_1, y_1, width, height), landmarks
    (5, 2), partition 0|1|2 or None)``. In-the-wild: ``Anno/list_bbox_celeba.txt``
    + ``Anno/list_landmarks_celeba.txt`` + ``img_celeba/``; ``aligned=True``:
    ``Anno/list_landmarks_align_celeba.txt`` + ``img_align_celeba/`` (box unused).
    ``Eval/list_eval_partition.txt`` is written when every entry has a partition.
    Returns ``{"bbox"?, "landmarks", "partition"?}`` paths.
    """
    root = Path(root)
    (root / "Anno").mkdir(parents=True, exist_ok=True)
    files = {}
    count = str(len(entries))
    lm_rows = [(e[0], [int(round(v)) for v in np.asarray(e[4]).reshape(-1)]) for e in entries]
    if aligned:
        files["landmarks"] = _write_celeba_list(root / "Anno/list_landmarks_align_celeba.txt", count,
                                                _LANDMARK_HEADER, lm_rows)
    else:
        files["bbox"] = _write_celeba_list(root / "Anno/list_bbox_celeba.txt", count, "image_id x_1 y_1 width height",
                                           [(e[0], list(e[3])) for e in entries])
        files["landmarks"] = _write_celeba_list(root / "Anno/list_landmarks_celeba.txt", count, _LANDMARK_HEADER,
                                                lm_rows)
    if all(e[5] is not None for e in entries):
        files["partition"] = root / "Eval/list_eval_partition.txt"
        files["partition"].parent.mkdir(parents=True, exist_ok=True)
        files["partition"].write_bytes("".join(f"{e[0]} {e[5]}\r\n" for e in entries).encode())
    if write_images:
        folder = root / ("img_align_celeba" if aligned else "img_celeba")
        for image_id, width, height, (x, y, w, h), _, _ in entries:
            write_jpeg(folder / image_id, width, height, [(x, y, x + w, y + h)])
    return files


def _write_celeba_list(path: Path, count: str, header: str, rows) -> Path:
    body = [f"{image_id} " + " ".join(f"{v:>4d}" for v in values) for image_id, values in rows]
    path.write_bytes(("\r\n".join([count, header] + body) + "\r\n").encode("utf-8"))
    return path


def make_mining_data(root: Path, images: int, seed: int, stages=("pnet",)) -> Path:
    """A small WIDER train split (2 faces per 400x300 image), 12 LFW_NET faces, and an
    untrained ``STAGE.pt`` per stage whose face head leans to faces (it proposes plenty)."""
    import torch

    from mtcnn_data.detect.models import build_model

    rng = np.random.default_rng(seed)
    listed = []
    for i in range(images):
        boxes = [(int(rng.integers(20, 300)), int(rng.integers(20, 200)), s, s) for s in rng.integers(30, 90, 2)]
        listed.append((f"0--Event/img_{i}.jpg", 400, 300, boxes))
    make_wider(root / "wider", "train", listed)
    entries = [(f"net_7876\\face_{i}.jpg", 160, 216, (40, 120, 50, 140), landmarks_in_box(40, 50, 120, 140))
               for i in range(12)]
    make_lfw_net(root / "lfw", "train", entries)
    for stage in stages:
        torch.manual_seed(0)
        net = build_model(stage)
        with torch.no_grad():
            net.face_head.bias.copy_(torch.tensor([-2.0, 2.0]))
        torch.save(net.state_dict(), root / f"{stage}.pt")
    return root
