"""IoU labelling on crowded real images: the near-pairs path against the full matrix,
timed in the same run on the same crops.

    python benchmarks/bench_labelling.py [--annotations FILE] [--top 20] [--repeat 5]

Takes the WIDER train annotations (``/tmp/widerface/wider_face_split`` or
``../shared/realdata``), plans the ``--top`` most crowded images and a sample of
ordinary ones with the library's own ``pnet_candidates`` (the plan phase's sampling and
labelling; the image size is read from the image when present, else 1024 x the boxes'
extent) once with the full crops x faces IoU matrix forced and once as shipped, checks
that both give the same candidates, and prints new / old per group.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realdata import REALDATA  # noqa: E402

SPLITS = [Path("/tmp/widerface/wider_face_split"), REALDATA / "widerface" / "wider_face_split"]


def train_annotations() -> Path:
    for d in SPLITS:
        if (d / "wider_face_train_bbx_gt.txt").is_file():
            return d / "wider_face_train_bbx_gt.txt"
    sys.exit("benchmark skipped: wider_face_train_bbx_gt.txt not found in " + ", ".join(map(str, SPLITS)))


def image_size(root: Path, rec):
    from mtcnn_data.io.images import image_size as header_size

    path = root / rec.path
    if path.is_file():
        return header_size(path)
    return 1024, int(max(1024, np.ceil(rec.boxes[:, 3].max(initial=0)) + 1))


def plan_all(images, dense: bool, repeat: int):
    """Best of ``repeat`` times to plan every image; the candidates of the last pass."""
    from mtcnn_data.core import labelling
    from mtcnn_data.core.sampling import image_rng, pnet_candidates

    saved = labelling.DENSE_PAIRS
    labelling.DENSE_PAIRS = 1 << 62 if dense else saved
    try:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = [pnet_candidates(image_rng(0, rec.path), w, h, rec.boxes, rec.keep) for rec, (w, h) in images]
            best = min(best, time.perf_counter() - t0)
    finally:
        labelling.DENSE_PAIRS = saved
    return best, out


def main(argv=None):
    from mtcnn_data.io.datasets.wider import read_wider

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotations", type=Path, default=None)
    ap.add_argument("--top", type=int, default=20, help="the most crowded images to time")
    ap.add_argument("--ordinary", type=int, default=300, help="ordinary images (every k-th of the file) to time")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    ann = args.annotations or train_annotations()
    root = ann.parent.parent / "WIDER_train" / "images"
    recs = list(read_wider(ann))
    crowded = sorted(recs, key=lambda r: -len(r.boxes))[: args.top]
    ordinary = recs[:: max(1, len(recs) // args.ordinary)][: args.ordinary]
    print(f"{ann}: {len(recs)} images; most crowded: {len(crowded[0].boxes)} faces ({crowded[0].path})")
    for name, group in (("most crowded", crowded[:1]), (f"top {len(crowded)}", crowded), (f"{len(ordinary)} ordinary", ordinary)):
        images = [(r, image_size(root, r)) for r in group]
        old, a = plan_all(images, True, args.repeat)
        new, b = plan_all(images, False, args.repeat)
        same = all(np.array_equal(x, y) for x, y in zip(a, b))
        faces = sum(len(r.boxes) for r in group)
        print(f"{name:>14}: {len(group):4d} images, {faces:6d} faces, {sum(len(x) for x in a):7d} candidates | "
              f"full matrix {old * 1e3:8.1f} ms, near pairs {new * 1e3:8.1f} ms, new/old {new / old:.3f}, "
              f"identical {same}")
        if not same:
            sys.exit("the two paths gave different candidates")


if __name__ == "__main__":
    main()
