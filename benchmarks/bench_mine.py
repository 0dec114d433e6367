"""mine speed on real images on the CPU, with the P-Net and R-Net shares.

    python benchmarks/bench_mine.py [--stage rnet|onet|both] [--workers 2]

Runs ``mine`` with facenet-pytorch's weights (``pip install --no-deps
facenet-pytorch==2.6.0``) over the 394 real WIDER val images in ../shared/realdata,
with landmark samples from 300 LFW_NET images, and prints images/s, seconds per
WIDER image, and where the time goes. For reference, facenet-pytorch's own MTCNN,
one image at a time with 2 torch threads on this kind of machine, takes a median
0.43 s per image for the full cascade on these images (0.16 s through P-Net,
0.33 s through R-Net).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realdata import real_sources, require_realdata  # noqa: E402

FACENET_PER_IMAGE = {"rnet": 0.16, "onet": 0.33}


def run_mine(stage: str, workers: int, sources) -> dict:
    from mtcnn_data.core.sampling import LandmarkSampling
    from mtcnn_data.engine.run import RunOptions
    from mtcnn_data.jobs.mine import STAGE_SIZES, MINING_THRESHOLDS, MineSettings, mine

    settings = MineSettings(stage=stage, pnet="facenet", rnet="facenet" if stage == "onet" else None,
                            detector={"thresholds": MINING_THRESHOLDS}, threads=1,
                            landmarks=LandmarkSampling(crop_size=STAGE_SIZES[stage]))
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-mine-{stage}-"))
    try:
        t0 = time.perf_counter()
        manifest = mine(tmp / "out", list(sources), settings, run=RunOptions(workers=workers, log=lambda m: None),
                        command=["benchmark"])
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"wall": wall, "manifest": manifest}


def report(stage: str, res: dict, wider_images: int, workers: int) -> dict:
    t = res["manifest"]["timings_s"]
    cpu = t.get("plan_cpu_s", {})
    detector = cpu.get("pnet", 0) + cpu.get("rnet", 0)
    per_image_cpu = (detector + cpu.get("decode", 0)) / wider_images
    fig = {
        "stage": stage,
        "workers": workers,
        "wider_images": wider_images,
        "samples": res["manifest"]["totals"]["samples"],
        "wall_s": round(res["wall"], 1),
        "plan_s": t["plan"],
        "images_per_s": round(wider_images / res["wall"], 2),
        "cpu_s_per_image": round(per_image_cpu, 3),
        "pnet_share": round(cpu.get("pnet", 0) / detector, 2) if detector else None,
        "rnet_share": round(cpu.get("rnet", 0) / detector, 2) if detector else None,
        "facenet_s_per_image_same_stages": FACENET_PER_IMAGE[stage],
    }
    fig["vs_facenet"] = round(per_image_cpu / FACENET_PER_IMAGE[stage], 2)
    print(f"mine --stage {stage}: {wider_images} WIDER images in {fig['wall_s']} s on {workers} workers "
          f"= {fig['images_per_s']} images/s ({fig['samples']:,} samples)")
    print(f"  per image (one worker, one thread): {fig['cpu_s_per_image']:.3f} s of decode + detector "
          f"(facenet-pytorch through the same stages, 2 threads: {FACENET_PER_IMAGE[stage]} s) -> {fig['vs_facenet']}x")
    print(f"  detector time: P-Net {fig['pnet_share']:.0%}" + (f", R-Net {fig['rnet_share']:.0%}" if stage == "onet" else ""))
    print("  phases: " + ", ".join(f"{k} {v}" for k, v in t.items() if k != "plan_cpu_s"))
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["rnet", "onet", "both"], default="both")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lfw", type=int, default=300)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    require_realdata()
    sources = real_sources(args.lfw)
    wider_images = len(sources[0].dataset.paths())
    figures = []
    for stage in (["rnet", "onet"] if args.stage == "both" else [args.stage]):
        figures.append(report(stage, run_mine(stage, args.workers, sources), wider_images, args.workers))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
