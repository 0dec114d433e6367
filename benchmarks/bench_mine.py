"""mine speed on real images on the CPU, with the P-Net and R-Net shares.

    python benchmarks/bench_mine.py [--stage rnet|onet|both] [--workers 2] [--peer-images 40]
        [--wider /tmp/widerface --split train --images 1000]

Runs ``mine`` with facenet-pytorch's weights (``pip install --no-deps
facenet-pytorch==2.6.0``) over the 394 real WIDER val images in ../shared/realdata,
with landmark samples from 300 LFW_NET images, and prints images/s, seconds per
WIDER image, and where the time goes. With ``--stage both`` the O-Net run is made
twice: rerunning P-Net, and with ``--reuse`` of the R-Net run's candidates. The peer,
timed in the same run on the first ``--peer-images`` of the same images with one torch
thread (as each mining worker has), is facenet-pytorch's own MTCNN, full cascade at its
own (stricter) thresholds: a yardstick, not the same work. With both stages, the time
R-Net + O-Net data (--reuse) would take for the 12,880 WIDER train images is extrapolated
from the wall time per image: measure it on the crowded train images (``--wider``).
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
from _facenet_peer import facenet_mtcnn, time_facenet  # noqa: E402
from _realdata import real_sources, require_realdata  # noqa: E402


def run_mine(stage: str, workers: int, sources, out: Path, reuse=None) -> dict:
    from mtcnn_data.core.sampling import LandmarkSampling
    from mtcnn_data.engine.run import RunOptions
    from mtcnn_data.jobs.mine import STAGE_SIZES, MINING_THRESHOLDS, MineSettings, mine

    settings = MineSettings(stage=stage, pnet="facenet", rnet="facenet" if stage == "onet" else None,
                            detector={"thresholds": MINING_THRESHOLDS}, threads=1,
                            landmarks=LandmarkSampling(crop_size=STAGE_SIZES[stage]))
    t0 = time.perf_counter()
    manifest = mine(out, list(sources), settings, run=RunOptions(workers=workers, log=lambda m: None),
                    command=["benchmark"], reuse_dir=reuse)
    return {"wall": time.perf_counter() - t0, "manifest": manifest}


def facenet_seconds_per_image(paths) -> float:
    from mtcnn_data.io.images import read_rgb

    images = [read_rgb(p) for p in paths]
    peer = facenet_mtcnn(threads=1)
    time_facenet(peer, images[:2])
    rows = time_facenet(peer, images)
    return sum(r["full"] for r in rows) / len(rows)


def report(stage: str, res: dict, wider_images: int, workers: int, facenet_s: float) -> dict:
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
        "reuse": "reused" in res["manifest"],
        "facenet_full_cascade_s_per_image_1_thread": round(facenet_s, 3),
    }
    fig["vs_facenet"] = round(per_image_cpu / facenet_s, 2)
    print(f"mine --stage {stage}{' --reuse' if fig['reuse'] else ''}: {wider_images} WIDER images in {fig['wall_s']} s on {workers} workers "
          f"= {fig['images_per_s']} images/s ({fig['samples']:,} samples)")
    print(f"  per image (one worker, one thread): {fig['cpu_s_per_image']:.3f} s of decode + detector "
          f"(facenet-pytorch full cascade, 1 thread, this run: {facenet_s:.3f} s) -> {fig['vs_facenet']}x")
    if fig["pnet_share"] is not None:
        print(f"  detector time: P-Net {fig['pnet_share']:.0%}" + (f", R-Net {fig['rnet_share']:.0%}" if stage == "onet" else ""))
    print("  phases: " + ", ".join(f"{k} {v}" for k, v in t.items() if k != "plan_cpu_s"))
    return fig


WIDER_TRAIN_IMAGES = 12_880


def extrapolation(figures, wider_images: int) -> str:
    """R-Net + O-Net data for all of WIDER train at this run's wall time per image: the
    O-Net run with --reuse when it was made (what a user runs after the R-Net run)."""
    walls = {f["stage"] + ("-reuse" if f["reuse"] else ""): f["wall_s"] for f in figures}
    if "rnet" not in walls or not ({"onet", "onet-reuse"} & set(walls)):
        return "(R-Net and O-Net both needed for the WIDER train extrapolation)"
    onet = walls.get("onet-reuse", walls.get("onet"))
    minutes = (walls["rnet"] + onet) / wider_images * WIDER_TRAIN_IMAGES / 60
    return (f"R-Net + O-Net{' (--reuse)' if 'onet-reuse' in walls else ''} data for {WIDER_TRAIN_IMAGES:,} WIDER train "
            f"images at this run's wall time per image: {minutes:.0f} min (goal: 60)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["rnet", "onet", "both"], default="both")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lfw", type=int, default=300)
    ap.add_argument("--peer-images", type=int, default=40, help="images facenet-pytorch is timed on")
    ap.add_argument("--wider", type=Path, help="WIDER FACE root to mine instead of the 394 val images here "
                    "(e.g. /tmp/widerface with --split train: the crowded train images of ../shared/realdata/extra)")
    ap.add_argument("--split", choices=["train", "val"], default="val", help="WIDER split under --wider")
    ap.add_argument("--images", type=int, help="only the first N WIDER images present")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    require_realdata()
    wider = {} if args.wider is None else {"wider_root": args.wider}
    sources = real_sources(args.lfw, wider_split=args.split, wider_limit=args.images, **wider)
    wider_images = len(sources[0].dataset.paths())
    facenet_s = facenet_seconds_per_image(sources[0].dataset.paths()[: args.peer_images])
    runs = {"rnet": [("rnet", None)], "onet": [("onet", None)],
            "both": [("rnet", None), ("onet", None), ("onet", "rnet")]}[args.stage]
    figures = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-mine-"))
    try:
        for i, (stage, reuse) in enumerate(runs):
            res = run_mine(stage, args.workers, sources, tmp / f"{i}-{stage}", reuse and tmp / "0-rnet")
            figures.append(report(stage, res, wider_images, args.workers, facenet_s))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(extrapolation(figures, wider_images))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
