"""gen-pnet speed against the decode floor, measured in the same run.

The floor is the time the same workers take merely to decode the same images
(``read_rgb``, i.e. cv2.imdecode + BGR->RGB) once each. gen-pnet can never be
faster than that, since it decodes every image it cuts from exactly once.

    python benchmarks/bench_gen_pnet.py [--workers 2] [--lfw 2000] [--repeat 1]

Uses the real WIDER val images and LFW_NET images in ../shared/realdata (the
benchmark exits with a message when they are absent).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REALDATA = REPO.parent / "shared" / "realdata"


def image_list(lfw_count: int):
    from mtcnn_data.io.datasets import resolve_dataset

    wider = resolve_dataset("wider", REALDATA / "widerface", "val")
    lfw = resolve_dataset("lfw_net", REALDATA / "lfw_net", "train")
    paths = [wider.image_root / r.path for r in wider.records() if (wider.image_root / r.path).exists()]
    lfw_paths = [lfw.image_root / r.path for r in lfw.records() if (lfw.image_root / r.path).exists()]
    return paths, lfw_paths[:lfw_count]


def decode_chunk(paths):
    from mtcnn_data.io.images import read_rgb
    from mtcnn_data.pipeline.execute import limit_threads

    limit_threads()
    for p in paths:
        read_rgb(p)
    return len(paths)


def decode_floor(paths, workers: int, unit: int) -> float:
    from joblib import Parallel, delayed, parallel_config

    chunks = [paths[i : i + unit] for i in range(0, len(paths), unit)]
    t0 = time.perf_counter()
    with parallel_config(backend="loky", inner_max_num_threads=1):
        Parallel(n_jobs=workers)(delayed(decode_chunk)(c) for c in chunks)
    return time.perf_counter() - t0


def run_gen_pnet(out: Path, workers: int, lfw_count: int, unit: int):
    """gen-pnet over the val images and the first ``lfw_count`` LFW_NET train images."""
    from mtcnn_data.io.datasets import resolve_dataset
    from mtcnn_data.pipeline.gen_pnet import gen_pnet
    from mtcnn_data.pipeline.jobs import RunOptions, Source

    wider = resolve_dataset("wider", REALDATA / "widerface", "val")
    lfw = resolve_dataset("lfw_net", REALDATA / "lfw_net", "train")
    present = lambda ds, recs: (r for r in recs if (ds.image_root / r.path).exists())  # noqa: E731

    class Subset:
        def __init__(self, ds, limit=None):
            self.ds, self.limit = ds, limit
            self.name, self.image_root, self.annotation_files = ds.name, ds.image_root, ds.annotation_files

        def records(self):
            for i, r in enumerate(present(self.ds, self.ds.records())):
                if self.limit is not None and i >= self.limit:
                    return
                yield r

    sources = [Source("faces", Subset(wider)), Source("landmarks", Subset(lfw, lfw_count))]
    run = RunOptions(workers=workers, unit_size=unit, log=lambda m: None)
    t0 = time.perf_counter()
    manifest = gen_pnet(out, sources, run=run, command=["benchmark"])
    return time.perf_counter() - t0, manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lfw", type=int, default=2000, help="LFW_NET images for landmark samples")
    ap.add_argument("--unit-size", type=int, default=64)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    if not (REALDATA / "README.md").exists():
        sys.exit(f"benchmark skipped: {REALDATA} not found (real images are needed)")
    wider_paths, lfw_paths = image_list(args.lfw)
    paths = wider_paths + lfw_paths
    mpix = sum(_mpix(p) for p in paths)
    floor = decode_floor(paths, args.workers, args.unit_size)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gen-pnet-"))
    try:
        wall, manifest = run_gen_pnet(tmp / "out", args.workers, args.lfw, args.unit_size)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fig = {
        "images": len(paths),
        "wider_images": len(wider_paths),
        "lfw_images": len(lfw_paths),
        "megapixels": round(mpix, 1),
        "workers": args.workers,
        "samples": manifest["totals"]["samples"],
        "decode_floor_s": round(floor, 2),
        "gen_pnet_s": round(wall, 2),
        "phases_s": manifest["timings_s"],
        "images_per_s": round(len(paths) / wall, 1),
        "ratio_to_decode_floor": round(wall / floor, 2),
    }
    print(f"images {fig['images']} ({fig['wider_images']} WIDER val at 1024 px, {fig['lfw_images']} LFW_NET), "
          f"{fig['megapixels']} Mpx, {args.workers} workers")
    print(f"decode floor     {floor:7.2f} s")
    print(f"gen-pnet         {wall:7.2f} s   ({fig['images_per_s']} images/s, {fig['samples']:,} samples)")
    print(f"phases           " + ", ".join(f"{k} {v:.2f}" for k, v in manifest["timings_s"].items()))
    print(f"ratio to floor   {fig['ratio_to_decode_floor']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2) + "\n")


def _mpix(path):
    from mtcnn_data.io.images import image_size

    w, h = image_size(path)
    return w * h / 1e6


if __name__ == "__main__":
    main()
