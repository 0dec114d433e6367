"""WIDER FACE val AP of the cascade with the original MTCNN weights (facenet-pytorch's).

    python benchmarks/bench_wider_val.py [--root /tmp/widerface] [--min-face 20 12]
        [--max-images N] [--out DIR] [--threads 2]

For each ``--min-face`` the cascade (thresholds 0.6/0.7/0.7, factor 0.709: facenet-pytorch's
settings) runs over the val images in ``ROOT/WIDER_val/images`` and writes one submission
file per image into ``OUT/min-face-<M>/`` (the WIDER FACE format; a rerun skips the
images already written). The folder is then scored by the official protocol
(:mod:`mtcnn_data.tools.wider_eval`): AP per setting, the images and faces covered,
detections per image, seconds per image and their ratio to decoding the image alone.

Images are taken in a spread order (every 8th image of the annotation order, then the
next offset, ...), so that a run cut short, or ``--max-images N``, covers every event
in proportion; the report says how many of the 3,226 images it covered. The published
MTCNN figures (Zhang et al. 2016, WIDER FACE results page) are 0.851 / 0.820 / 0.607.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
GT_DIR = REPO.parent / "shared" / "realdata" / "widerface" / "eval_tools" / "ground_truth"
PUBLISHED = {"easy": 0.851, "medium": 0.820, "hard": 0.607}
STRIDE = 8


def spread_order(n: int, stride: int = STRIDE):
    """0, 8, 16, ..., 1, 9, 17, ...: any prefix samples the annotation order evenly."""
    return sorted(range(n), key=lambda i: (i % stride, i))


def val_images(root: Path, truth, limit=None):
    """``(event, name, path)`` of the ground truth's images present under ROOT, spread order."""
    keys = list(truth.images)
    chosen = [keys[i] for i in spread_order(len(keys))]
    present = [(e, n, root / "WIDER_val" / "images" / e / f"{n}.jpg") for e, n in chosen]
    present = [row for row in present if row[2].is_file()]
    if not present:
        sys.exit(f"no WIDER val images under {root / 'WIDER_val' / 'images'} (see ../shared/realdata/README.md, extra/)")
    return present[:limit]


def run_setting(images, min_face: float, thresholds, threads: int, out: Path) -> dict:
    """Detect on every image not yet written to ``out``; times per image."""
    from mtcnn_data.detect.detector import Detector, DetectorConfig
    from mtcnn_data.engine.progress import make_progress
    from mtcnn_data.io.images import read_rgb
    from mtcnn_data.io.wider_eval import write_submission

    detector = Detector("facenet", "facenet", "facenet",
                        DetectorConfig(min_face=min_face, thresholds=thresholds, num_threads=threads))
    todo = [row for row in images if not (out / row[0] / f"{row[1]}.txt").is_file()]
    decode = detect = 0.0
    bar = make_progress(len(todo), f"min face {min_face:g}")
    for _, _, path in todo:
        start = time.perf_counter()
        image = read_rgb(path)
        mid = time.perf_counter()
        found = detector.detect(image)
        decode, detect = decode + mid - start, detect + time.perf_counter() - mid
        write_submission(out, str(path), found.boxes, found.scores)
        bar.update(1)
    bar.close()
    return {"run": len(todo), "decode_s": decode, "detect_s": detect}


def score(out: Path, truth) -> dict:
    from mtcnn_data.io.wider_eval import read_submission
    from mtcnn_data.tools.wider_eval import score_detections

    report = score_detections(read_submission(out), truth)
    report.pop("curves")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/widerface"), help="WIDER FACE root with WIDER_val/images")
    parser.add_argument("--gt-dir", type=Path, default=GT_DIR, help="the evaluation toolkit's ground_truth/ folder")
    parser.add_argument("--min-face", type=float, nargs="+", default=[20.0, 12.0])
    parser.add_argument("--thresholds", type=float, nargs=3, default=[0.6, 0.7, 0.7])
    parser.add_argument("--max-images", type=int, help="only the first N images of the spread order")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-wider-val"), help="submission folders go here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from mtcnn_data.io.wider_eval import load_ground_truth

    truth = load_ground_truth(args.gt_dir)
    images = val_images(args.root, truth, args.max_images)
    rows = []
    for min_face in args.min_face:
        out = args.out / f"min-face-{min_face:g}"
        timing = run_setting(images, min_face, tuple(args.thresholds), args.threads, out)
        report = score(out, truth)
        per_image = timing["detect_s"] / timing["run"] if timing["run"] else float("nan")
        floor = timing["decode_s"] / timing["run"] if timing["run"] else float("nan")
        rows.append({"min_face": min_face, "thresholds": args.thresholds, **report, **timing,
                     "seconds_per_image": per_image, "ratio_to_decode": per_image / floor if floor else None,
                     "detections_per_image": report["detections"] / report["images"]})
        ap = report["ap"]
        print(f"min face {min_face:g}: AP easy {ap['easy']:.4f} / medium {ap['medium']:.4f} / hard {ap['hard']:.4f} "
              f"(published {PUBLISHED['easy']} / {PUBLISHED['medium']} / {PUBLISHED['hard']}) on "
              f"{report['images']} of {report['images_in_ground_truth']} images; "
              f"{rows[-1]['detections_per_image']:.1f} detections per image; "
              f"{per_image:.3f} s per image detecting ({rows[-1]['ratio_to_decode'] or float('nan'):.1f}x the decode) "
              f"over the {timing['run']} images run now", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
