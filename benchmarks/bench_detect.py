"""Per-image time of the full cascade (facenet weights) on the real WIDER val images.

    python benchmarks/bench_detect.py [--limit N] [--threads 2] [--no-channels-last]

Each image is decoded (the decode-only floor), then run once through P-Net, R-Net and
O-Net, and once through facenet-pytorch's own MTCNN (its settings, same torch threads,
same decoded images, this run: see _facenet_peer.py); medians per image are printed
with the P-Net and R-Net shares, the recall of both at IoU 0.5 where the images have
annotations, and ours / facenet-pytorch's time.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _facenet_peer import facenet_mtcnn, time_facenet  # noqa: E402


def image_paths(limit=None, images=IMAGES):
    paths = sorted(Path(images).glob("*/*.jpg"))
    if not paths:
        sys.exit(f"no images under {images}: the benchmark needs ../shared/realdata (see its README.md) or --images")
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
    parser.add_argument("--images", default=str(IMAGES), help="folder of EVENT/*.jpg (default: the real WIDER val "
                        "images; /tmp/widerface/WIDER_train/images for crowded ones)")
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args(argv)

    from mtcnn_data.detect.detector import Detector, DetectorConfig

    config = DetectorConfig(num_threads=args.threads, channels_last=not args.no_channels_last)
    detector = Detector("facenet", "facenet", "facenet", config)
    paths = image_paths(args.limit, args.images)
    measure(paths[: args.warmup], detector)
    rows = measure(paths, detector)
    from mtcnn_data.io.images import read_rgb

    peer = facenet_mtcnn(args.threads)
    time_facenet(peer, [read_rgb(p) for p in paths[: args.warmup]])
    theirs = time_facenet(peer, [read_rgb(p) for p in paths])
    med = {k: statistics.median(r[k] for r in rows) for k in ("decode", "pnet", "upto_rnet", "full")}
    summary = {
        "images": len(rows),
        "threads": args.threads,
        "channels_last": config.channels_last,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "pnet_share": round(med["pnet"] / med["full"], 3),
        "rnet_share": round((med["upto_rnet"] - med["pnet"]) / med["full"], 3),
        "full_over_decode": round(med["full"] / med["decode"], 2),
        "facenet_median_s": round(statistics.median(r["full"] for r in theirs), 4),
        "ours_over_facenet": round(med["full"] / statistics.median(r["full"] for r in theirs), 3),
        "ours_over_facenet_total": round(sum(r["full"] for r in rows) / sum(r["full"] for r in theirs), 3),
        "detections": sum(r["faces"] for r in rows),
        "facenet_detections": sum(r["faces"] for r in theirs),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
