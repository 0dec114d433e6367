"""facenet-pytorch's own MTCNN as the peer of the benchmarks, timed in the same run.

Its import needs torchvision (not installed): the plain-torch stand-in in
``benchmarks/_torchvision_standin`` is put first on ``sys.path`` here, for the benchmark only.
It also imports Pillow (``pip install pillow``; facenet-pytorch is installed ``--no-deps``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

STANDIN = Path(__file__).resolve().parent / "_torchvision_standin"


def facenet_mtcnn(threads: int, thresholds=(0.6, 0.7, 0.7)):
    """facenet-pytorch's MTCNN on the CPU at its settings (min face 20, factor 0.709)."""
    import torch

    if str(STANDIN) not in sys.path:
        sys.path.insert(0, str(STANDIN))
    try:
        from facenet_pytorch import MTCNN
    except ModuleNotFoundError as exc:
        sys.exit(f"the facenet-pytorch peer cannot be imported ({exc}): pip install --no-deps facenet-pytorch==2.6.0 pillow")

    torch.set_num_threads(threads)
    return MTCNN(keep_all=True, device="cpu", min_face_size=20, factor=0.709, thresholds=list(thresholds))


def time_facenet(mtcnn, images) -> list:
    """Seconds per image of ``mtcnn.detect`` (one image at a time) and the faces found."""
    rows = []
    for image in images:
        start = time.perf_counter()
        boxes, _ = mtcnn.detect(image)
        rows.append({"full": time.perf_counter() - start, "faces": 0 if boxes is None else len(boxes)})
    return rows
