"""gen-pnet speed against the decode floor, measured in the same run.

The floor is the time the same workers take merely to decode the same images
(``read_rgb``) once each. gen-pnet can never be faster than that, since it
decodes every image it cuts from exactly once.

A second floor, *pixel work*, is the time the same workers take to decode each
image and resample exactly the samples gen-pnet kept from it (the library's
``ImageCutter``, as the cut phase does), read back from the first run's shards:
no planning, selection, files or shards. It is what any run with the same
anti-aliased resampling must spend at least; gen-pnet's time above it is the
orchestration.

    python benchmarks/bench_gen_pnet.py [--workers 2] [--lfw 2000] [--repeat 1]

Uses the real WIDER val images and LFW_NET images in ../shared/realdata (the
benchmark exits with a message when they are absent).
"""

from __future__ import annotations

import argparse
import json
import statistics
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realdata import peak_rss_mib, real_sources, require_realdata  # noqa: E402


def decode_chunk(paths):
    from mtcnn_data.io.images import read_rgb

    for p in paths:
        read_rgb(p)
    return len(paths)


def decode_floor(paths, workers: int, unit: int) -> float:
    """Decode every image once on the pool gen-pnet uses (same workers, same units)."""
    from mtcnn_data.engine.parallel import run_parallel

    chunks = [paths[i : i + unit] for i in range(0, len(paths), unit)]
    run_parallel(len, [[]] * workers, workers)  # start the pool outside the timings
    t0 = time.perf_counter()
    run_parallel(decode_chunk, chunks, workers)
    return time.perf_counter() - t0


def cut_chunk(jobs):
    from mtcnn_data.core.imaging import ImageCutter
    from mtcnn_data.io.images import read_rgb

    for path, boxes, augment, size, angle in jobs:
        ImageCutter(read_rgb(path)).cut(boxes, size, augment, angle)
    return len(jobs)


def pixel_floor(jobs, workers: int, unit: int) -> float:
    """Decode each image and resample the samples kept from it, on the same pool."""
    from mtcnn_data.engine.parallel import run_parallel

    chunks = [jobs[i : i + unit] for i in range(0, len(jobs), unit)]
    run_parallel(len, [[]] * workers, workers)
    t0 = time.perf_counter()
    run_parallel(cut_chunk, chunks, workers)
    return time.perf_counter() - t0


def kept_samples(out: Path, sources, manifest) -> list:
    """``(image path, crop boxes, augment codes, crop size, angle)`` per image, from a
    run's shards, in the order gen-pnet's units visit the images."""
    import numpy as np

    from mtcnn_data.io.shards import read_shard

    per_image = {}
    for shard in sorted(out.glob("*.h5")):
        data = read_shard(shard, ["source_paths", "source", "crop_box", "augment"])
        for i, name in enumerate(data["source_paths"]):
            rows = data["source"] == i
            boxes, codes = per_image.get(name, (np.zeros((0, 4), np.float32), np.zeros(0, np.uint8)))
            per_image[name] = (np.concatenate([boxes, data["crop_box"][rows]]), np.concatenate([codes, data["augment"][rows]]))
    size, angle = manifest["crop_size"], manifest["output"]["rotation_degrees"]
    return [(str(Path(s.dataset.image_root) / r.path), *per_image[f"{s.dataset.name}/{r.path}"], size, angle)
            for s in sources for r in s.dataset.records() if f"{s.dataset.name}/{r.path}" in per_image]


def run_gen_pnet(out: Path, workers: int, sources, unit: int):
    from mtcnn_data.jobs.gen_pnet import gen_pnet
    from mtcnn_data.engine.run import RunOptions

    run = RunOptions(workers=workers, unit_size=unit, log=lambda m: None)
    t0 = time.perf_counter()
    manifest = gen_pnet(out, list(sources), run=run, command=["benchmark"])
    return time.perf_counter() - t0, manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lfw", type=int, default=300,
                    help="LFW_NET images for landmark samples (300: the WIDER train : LFW_NET train image "
                         "proportion, 12,880 : 10,000, applied to the 394 WIDER images)")
    ap.add_argument("--unit-size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3, help="runs (floor and gen-pnet alternately); medians are printed")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    require_realdata()
    sources = real_sources(args.lfw)
    wider_paths, lfw_paths = sources[0].dataset.paths(), sources[1].dataset.paths()
    paths = wider_paths + lfw_paths
    mpix = sum(_mpix(p) for p in paths)
    floors, pixels, walls, jobs = [], [], [], None
    for _ in range(args.repeat):  # alternate, so that all see the same machine state
        floors.append(decode_floor(paths, args.workers, args.unit_size))
        if jobs is not None:
            pixels.append(pixel_floor(jobs, args.workers, args.unit_size))
        tmp = Path(tempfile.mkdtemp(prefix="bench-gen-pnet-"))
        try:
            wall, manifest = run_gen_pnet(tmp / "out", args.workers, sources, args.unit_size)
            if jobs is None:
                jobs = kept_samples(tmp / "out", sources, manifest)
                pixels.append(pixel_floor(jobs, args.workers, args.unit_size))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        walls.append(wall)
    ratios = sorted(w / f for w, f in zip(walls, floors))
    floor, pixel, wall = statistics.median(floors), statistics.median(pixels), statistics.median(walls)
    fig = {
        "images": len(paths),
        "wider_images": len(wider_paths),
        "lfw_images": len(lfw_paths),
        "megapixels": round(mpix, 1),
        "workers": args.workers,
        "repeats": args.repeat,
        "samples": manifest["totals"]["samples"],
        "decode_floor_s": round(floor, 2),
        "pixel_work_s": round(pixel, 2),
        "pixel_work_to_decode_floor": round(pixel / floor, 2),
        "gen_pnet_s": round(wall, 2),
        "phases_s": manifest["timings_s"],
        "images_per_s": round(len(paths) / wall, 1),
        "ratio_to_decode_floor": round(statistics.median(ratios), 2),
        "ratio_range": [round(ratios[0], 2), round(ratios[-1], 2)],
        "peak_rss_mib": peak_rss_mib(),
    }
    print(f"images {fig['images']} ({fig['wider_images']} WIDER val at 1024 px, {fig['lfw_images']} LFW_NET), "
          f"{fig['megapixels']} Mpx, {args.workers} workers")
    print(f"decode floor     {floor:7.2f} s   (median)")
    print(f"pixel work       {pixel:7.2f} s   (median; decode + resample the kept samples only: "
          f"{fig['pixel_work_to_decode_floor']:.2f}x the decode floor)")
    print(f"gen-pnet         {wall:7.2f} s   (median; {fig['images_per_s']} images/s, {fig['samples']:,} samples)")
    print("phases (last)    " + ", ".join(f"{k} {v:.2f}" for k, v in manifest["timings_s"].items()))
    print(f"ratio to floor   {fig['ratio_to_decode_floor']:.2f}x (median of {args.repeat}; "
          f"range {fig['ratio_range'][0]:.2f}-{fig['ratio_range'][1]:.2f})")
    print(f"peak memory      main {fig['peak_rss_mib']['main']} MiB, largest worker {fig['peak_rss_mib']['largest_worker']} MiB "
          "(VmHWM)")
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2) + "\n")


def _mpix(path):
    from mtcnn_data.io.images import image_size

    w, h = image_size(path)
    return w * h / 1e6


if __name__ == "__main__":
    main()
