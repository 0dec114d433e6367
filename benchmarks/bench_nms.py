"""nms(): the sparse path (above NMS_SPARSE_MIN boxes) against the dense block-wise path,
same run, on the real P-Net windows of WIDER train images.

    python benchmarks/bench_nms.py [--images 3] [--pnet /tmp/train_run/pnet.pt]

For each P-Net (a briefly trained one, whose thousands of windows per pyramid level
made NMS dominate mining, and facenet-pytorch's), ``Detector.propose(upto="pnet")``
runs on each image with the thresholds mining uses (0.3, 0.1, 0.7), min_face 20,
recording every nms() call; the recorded calls are then timed with the sparse and the
dense path (the kept indices are checked equal), and the whole proposal is timed with
each. Prints seconds and new / old ratios. Skips where the images or weights are absent.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np
import torch

WIDER_TRAIN = "/tmp/widerface/WIDER_train/images"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--pnet", default="/tmp/train_run/pnet.pt")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(f"{WIDER_TRAIN}/*/*.jpg"))[: args.images]
    if not paths:
        print(f"skipped: no images under {WIDER_TRAIN}")
        return 0
    torch.set_num_threads(args.threads)
    from mtcnn_data.core import boxes
    from mtcnn_data.detect import detector as det_module
    from mtcnn_data.detect.detector import Detector, DetectorConfig
    from mtcnn_data.io.images import read_rgb

    images = [read_rgb(p) for p in paths]
    weights = [("facenet", "facenet")]
    if Path(args.pnet).is_file():
        weights.insert(0, ("trained", args.pnet))
    else:
        print(f"skipped the trained P-Net: no {args.pnet}")
    for name, pnet in weights:
        det = Detector(pnet, None, None, DetectorConfig(min_face=20, thresholds=(0.3, 0.1, 0.7)))
        calls = []

        def recording(b, s, t, mode="union", sparse=None):
            calls.append((np.array(b), np.array(s), t, mode))
            return boxes.nms(b, s, t, mode, sparse)

        det_module.nms = recording
        try:
            for im in images:
                det.propose(im, upto="pnet")
        finally:
            det_module.nms = boxes.nms
        times = {}
        for label, sparse in (("new", None), ("old", False)):
            start = time.perf_counter()
            kept = [boxes.nms(b, s, t, m, sparse=sparse) for b, s, t, m in calls]
            times[label] = time.perf_counter() - start
            times[label + "_kept"] = kept
        assert all(np.array_equal(a, b) for a, b in zip(times["new_kept"], times["old_kept"]))
        largest = max(len(b) for b, *_ in calls)
        print(
            f"{name} P-Net, {len(images)} images: {len(calls)} nms calls, up to {largest} boxes; "
            f"nms new {times['new']:.2f} s, old {times['old']:.2f} s, new/old {times['new'] / times['old']:.3f}"
        )
        per_image = {}
        for label, sparse in (("new", None), ("old", False)):
            det_module.nms = lambda b, s, t, mode="union", sparse=sparse: boxes.nms(b, s, t, mode, sparse)
            try:
                start = time.perf_counter()
                for im in images:
                    det.propose(im, upto="pnet")
                per_image[label] = (time.perf_counter() - start) / len(images)
            finally:
                det_module.nms = boxes.nms
        print(
            f"{name} P-Net propose(upto='pnet'): new {per_image['new']:.2f} s/image, "
            f"old {per_image['old']:.2f} s/image, new/old {per_image['new'] / per_image['old']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
