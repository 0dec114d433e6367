"""Per-image time of the full cascade (facenet weights) on the real WIDER val images.

    python benchmarks/bench_detect.py [--limit N] [--threads 2] [--no-channels-last]

Each image is decoded (the decode-only floor), then run once through P-Net, R-Net and
O-Net; medians per image are printed with the P-Net and R-Net shares and the ratio to
facenet-pytorch's own MTCNN on the same images (0.43 s/image full cascade, 0.16 s
through P-Net, 0.33 s through R-Net, one image at a time, 2 torch threads).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO.parent / "shared" / "realdata" / "widerface" / "WIDER_val" / "images"
FACENET_REFERENCE = {"full": 0.43, "pnet": 0.16, "upto_rnet": 0.33}


def image_paths(limit=None):
    paths = sorted(IMAGES.glob("*/*.jpg"))
    if not paths:
        sys.exit(f"no images under {IMAGES}: the benchmark needs ../shared/realdata (see its README.md)")
    return paths[:limit]


def measure(paths, detector):
    from mtcnn_data.io.images import read_rgb

    rows = []
    for path in paths:
        start = time.perf_counter()
        image = read_rgb(path)
        decode = time.perf_counter() - start
        found = detector.detect(image)
        t = detector.last_timings
        rows.append({"decode": decode, "pnet": t["pnet"], "upto_rnet": t["pnet"] + t["rnet"],
                     "full": t["pnet"] + t["rnet"] + t["onet"], "faces": len(found)})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N images (sorted by path)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--warmup", type=int, default=3, help="images run first and not timed")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args(argv)

    from mtcnn_data.detect.detector import Detector, DetectorConfig

    config = DetectorConfig(num_threads=args.threads, channels_last=not args.no_channels_last)
    detector = Detector("facenet", "facenet", "facenet", config)
    paths = image_paths(args.limit)
    measure(paths[: args.warmup], detector)
    rows = measure(paths, detector)
    med = {k: statistics.median(r[k] for r in rows) for k in ("decode", "pnet", "upto_rnet", "full")}
    summary = {
        "images": len(rows),
        "threads": args.threads,
        "channels_last": config.channels_last,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "pnet_share": round(med["pnet"] / med["full"], 3),
        "rnet_share": round((med["upto_rnet"] - med["pnet"]) / med["full"], 3),
        "full_over_decode": round(med["full"] / med["decode"], 2),
        "vs_facenet": {k: round(med[k] / v, 3) for k, v in FACENET_REFERENCE.items()},
        "detections": sum(r["faces"] for r in rows),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
