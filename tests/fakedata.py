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

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
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
    "make_retinaface",
    "landmarks_in_box",
    "write_jpeg",
    "assert_malformed",
    "run_cli",
    "gen",
    "shard_bytes",
    "KillOnce",
    "kill_one_worker_in_plan",
    "command",
    "signal_mid_run",
    "stop_then_resume",
    "make_wider_eval_gt",
]

WIDER_ATTRS_ZERO = (0, 0, 0, 0, 0, 0)
_LANDMARK_HEADER = (
    "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
)


def assert_malformed(reader, path: Path, text: str, line: int, expected: str) -> None:
    """Write ``text`` to ``path`` and check that reading it raises AnnotationError
    ``PATH:LINE: expected EXPECTED...``."""
    import re

    import pytest

    from mtcnn_data.errors import AnnotationError

    path.write_text(text)
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:{line}: expected {expected}")):
        list(reader(path))


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


# ------------------------------------------------------------------ registry contract
# One writer per registered dataset kind: ``writer(files, images, split)`` writes the
# annotation files at the paths the registry entry describes (role -> path) and JPEGs
# under ``images``, and returns what a reader must yield, in order: a list of
# ``(relative path, boxes x1 y1 x2 y2 exclusive (N, 4), landmarks (N, 5, 2) or None)``.
# tests/test_dataset_registry.py runs every registered kind through its writer.

_FAKE_FACES = [  # relpath, width, height, boxes x y w h
    ("0--Parade/0_Parade_a_1.jpg", 96, 80, [(4, 5, 30, 36), (50, 10, 24, 24)]),
    ("0--Parade/0_Parade_b_2.jpg", 64, 48, []),
    ("1--Handshaking/1_Handshaking_c_3.jpg", 80, 64, [(10, 8, 40, 44)]),
]


def _xyxy(box) -> list:
    x, y, w, h = box[:4]
    return [x, y, x + w, y + h]


def _expected(relpath, boxes_xywh, landmarks=None):
    boxes = np.asarray([_xyxy(b) for b in boxes_xywh], dtype=np.float32).reshape(-1, 4)
    return relpath, boxes, None if landmarks is None else np.asarray(landmarks, np.float32).reshape(-1, 5, 2)


def _write_images(folder: Path, images) -> None:
    for relpath, width, height, boxes in images:
        write_jpeg(folder / relpath, width, height, [_xyxy(b) for b in boxes])


def fake_wider(files, images, split):
    path = files["annotations"]
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for relpath, _, _, boxes in _FAKE_FACES for line in _wider_block(relpath, boxes, split, 10)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    _write_images(images, _FAKE_FACES)
    return [_expected(relpath, boxes) for relpath, _, _, boxes in _FAKE_FACES]


def fake_wider_flat(files, images, split):
    make_wider_flat(files["annotations"], [(r, [_xyxy(b) for b in boxes]) for r, _, _, boxes in _FAKE_FACES])
    _write_images(images, _FAKE_FACES)
    return [_expected(relpath, boxes) for relpath, _, _, boxes in _FAKE_FACES]


def fake_lfw_net(files, images, split):
    entries = [(f"net_7876\\{split}_{i}.jpg", 80, 80, (10 + i, 60 + i, 12, 62)) for i in range(3)]
    lines, expected = [], []
    for written, width, height, (left, right, top, bottom) in entries:
        lm = landmarks_in_box(left, top, right, bottom)
        lines.append(f"{written} {left} {right} {top} {bottom} " + " ".join(f"{v:.6f}" for v in lm.reshape(-1)))
        relpath = written.replace("\\", "/")
        write_jpeg(images / relpath, width, height, [(left, top, right, bottom)])
        expected.append(_expected(relpath, [(left, top, right - left, bottom - top)], lm))
    files["annotations"].parent.mkdir(parents=True, exist_ok=True)
    files["annotations"].write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return expected


_CELEBA_CODES = {"train": 0, "val": 1, "test": 2}


def _fake_celeba_entries():
    out = []
    for i in range(6):
        box = (10 + i, 12, 50, 60)
        lm = np.round(landmarks_in_box(*_xyxy(box)))
        out.append((f"{i + 1:06d}.jpg", box, lm, i % 3))
    return out


def _write_celeba_common(files, entries):
    count = str(len(entries))
    for role in files:
        files[role].parent.mkdir(parents=True, exist_ok=True)
    lm_rows = [(image_id, [int(v) for v in lm.reshape(-1)]) for image_id, _, lm, _ in entries]
    _write_celeba_list(files["landmarks"], count, _LANDMARK_HEADER, lm_rows)
    files["partition"].write_bytes("".join(f"{e[0]} {e[3]}\r\n" for e in entries).encode())


def _celeba_wanted(entries, split):
    return [e for e in entries if split == "all" or e[3] == _CELEBA_CODES[split]]


def fake_celeba(files, images, split):
    entries = _fake_celeba_entries()
    _write_celeba_common(files, entries)
    _write_celeba_list(files["bbox"], str(len(entries)), "image_id x_1 y_1 width height",
                       [(image_id, list(box)) for image_id, box, _, _ in entries])
    for image_id, box, _, _ in entries:
        write_jpeg(images / image_id, 100, 90, [_xyxy(box)])
    return [_expected(image_id, [box], lm) for image_id, box, lm, _ in _celeba_wanted(entries, split)]


def fake_celeba_aligned(files, images, split):
    """Boxes of aligned CelebA are derived from the landmarks: ``None`` here (not compared)."""
    entries = _fake_celeba_entries()
    _write_celeba_common(files, entries)
    for image_id, box, _, _ in entries:
        write_jpeg(images / image_id, 100, 90, [_xyxy(box)])
    return [(image_id, None, np.asarray(lm, np.float32).reshape(1, 5, 2))
            for image_id, _, lm, _ in _celeba_wanted(entries, split)]


def make_retinaface(path, images: Sequence[Tuple[str, Sequence[Sequence[float]]]], landmarks: bool = True) -> Path:
    """Write a RetinaFace ``label.txt`` in the exact format of ``retinaface_gt_v1.1.zip``.

    ``images``: ``(relpath, faces)``; a face is ``(x, y, w, h)`` plus, with ``landmarks``
    (the train file), ``points`` (5, 2) or ``None`` for a face without landmarks (all
    fifteen values ``-1.0``), and the confidence. Train lines:
    ``x y w h l0x l0y 0.0 ... l4x l4y 0.0 conf``; val lines: ``x y w h``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for relpath, faces in images:
        lines.append(f"# {relpath}")
        for face in faces:
            x, y, w, h = face[:4]
            if not landmarks:
                lines.append(f"{x} {y} {w} {h}")
                continue
            points, conf = face[4], face[5]
            triples = ["-1.0 -1.0 -1.0"] * 5 if points is None else [f"{px:.3f} {py:.3f} 0.0" for px, py in points]
            lines.append(f"{x} {y} {w} {h} " + " ".join(triples) + f" {conf}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return path


def fake_retinaface(files, images, split):
    train = split == "train"
    faces = [(r, [tuple(b) + (landmarks_in_box(*_xyxy(b)), 0.89) for b in boxes]) for r, _, _, boxes in _FAKE_FACES]
    make_retinaface(files["annotations"], faces, landmarks=train)
    _write_images(images, _FAKE_FACES)
    return [_expected(r, boxes, np.asarray([f[4] for f in fs]) if train else None)
            for (r, _, _, boxes), (_, fs) in zip(_FAKE_FACES, faces)]


#: registry kind -> its fake-tree writer.
FAKE_WRITERS = {
    "wider": fake_wider,
    "wider_flat": fake_wider_flat,
    "lfw_net": fake_lfw_net,
    "celeba": fake_celeba,
    "celeba_aligned": fake_celeba_aligned,
    "retinaface": fake_retinaface,
}


# ------------------------------------------------------------------ running the CLI, and killing runs
# Shared by test_gen_pnet, test_faults, test_bad_input and test_backends. ``dataset`` is
# the folder of the ``dataset`` fixture (conftest.py): ``wider/`` and ``lfw/``.


def run_cli(*args):
    from click.testing import CliRunner

    from mtcnn_data.cli.main import cli

    return CliRunner().invoke(cli, list(map(str, args)))


def gen(dataset, out, *extra):
    return run_cli("gen-pnet", "--wider", dataset / "wider", "--lfw-net", dataset / "lfw", "--out", out, *extra)


def shard_bytes(out):
    return {p.name: p.read_bytes() for p in sorted(Path(out).glob("*.h5"))}


class KillOnce:
    """A plan function that kills its own worker process (SIGKILL) the first time it
    plans unit ``victim``, and records every run of every unit in ``state``."""

    def __init__(self, plan, victim: int, state: Path):
        self.plan, self.victim, self.state = plan, victim, Path(state)
        self.driver = os.getpid()

    def __call__(self, unit):
        (self.state / f"run-{unit.index}-{uuid.uuid4().hex}").touch()
        if unit.index == self.victim and self._first_time():
            if os.getpid() == self.driver:
                raise RuntimeError("KillOnce refuses to kill the test process: run it on workers")
            os.kill(os.getpid(), signal.SIGKILL)
        return self.plan(unit)

    def _first_time(self) -> bool:
        try:
            os.close(os.open(self.state / "killed", os.O_CREAT | os.O_EXCL))
            return True
        except FileExistsError:
            return False

    @staticmethod
    def runs(state: Path) -> Counter:
        return Counter(int(p.name.split("-")[1]) for p in Path(state).glob("run-*"))


def kill_one_worker_in_plan(monkeypatch, victim: int, state: Path) -> None:
    """Make gen-pnet's planner kill its worker on unit ``victim`` once."""
    from mtcnn_data.jobs import gen_pnet as gen_pnet_module

    real = gen_pnet_module.PlanPnet
    state.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(gen_pnet_module, "PlanPnet", lambda *a: KillOnce(real(*a), victim, state))


def command(dataset, out, *extra):
    exe = Path(sys.executable).with_name("mtcnn-data")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "mtcnn_data.cli.main"]
    return base + ["gen-pnet", "--wider", str(dataset / "wider"), "--lfw-net", str(dataset / "lfw"),
                   "--out", str(out), *extra]


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_mid_run(cmd, out: Path, sig: int, timeout: float = 120):
    """Start ``cmd`` in its own process group; send ``sig`` to the whole group once the
    first unit is planned. Returns the finished process and its stderr."""
    # SIGINT back to its default in the run: a test run started in the background of a
    # non-interactive shell inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt (what a user's terminal gives the run is the default)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)
    cand = out / ".incomplete" / "cand"
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not (cand.exists() and any(cand.glob("*.npy"))):
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    return proc, err


def stop_then_resume(dataset, out: Path, sig: int, options, reference) -> str:
    """Send ``sig`` to a run mid-way, check nothing is in DIR, resume to the reference
    bytes; returns the stopped run's stderr."""
    proc, err = signal_mid_run(command(dataset, out, *options), out, sig)
    assert proc.returncode == (130 if sig == signal.SIGINT else -sig), f"exit status {proc.returncode}, stderr: {err!r}"
    assert not (out / "manifest.json").exists() and not list(out.glob("*.h5"))
    run = subprocess.run(command(dataset, out, *options, "--resume"), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert shard_bytes(out) == reference
    assert not list(out.rglob("*.tmp"))
    return err


def make_wider_eval_gt(folder, images) -> Path:
    """The evaluation toolkit's ``ground_truth/`` folder (MATLAB v5, needs scipy) for
    ``images``: ``{(event, name): (boxes x y w h, {"easy"|"medium"|"hard": 1-based kept indices})}``,
    events in order of first appearance."""
    from scipy.io import savemat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    events = list(dict.fromkeys(event for event, _ in images))
    per_event = [[(name, *images[(e, name)]) for (ev, name) in images if ev == e] for e in events]

    def cells(rows):
        out = np.empty((len(rows), 1), dtype=object)
        for i, value in enumerate(rows):
            out[i, 0] = value
        return out

    files = cells([cells([name for name, _, _ in rows]) for rows in per_event])
    boxes = cells([cells([np.asarray(b, np.int32).reshape(-1, 4) for _, b, _ in rows]) for rows in per_event])
    common = {"event_list": cells(events), "file_list": files, "face_bbx_list": boxes}
    savemat(str(folder / "wider_face_val.mat"), common)
    for setting in ("easy", "medium", "hard"):
        keep = cells([cells([np.asarray(k[setting], np.uint16).reshape(-1, 1) for _, _, k in rows]) for rows in per_event])
        savemat(str(folder / f"wider_{setting}_val.mat"), {**common, "gt_list": keep})
    return folder


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
