"""Network time against call size, same run: R-Net / O-Net per crop, P-Net per pixel.

    python benchmarks/bench_call_size.py [--threads 1] [--repeat 3]

The facenet-pytorch weights (channels-last, as the detector runs them) on random crops,
each call size timed ``--repeat`` times over the same crops (best kept). Prints
microseconds per crop and the ratio to the detector's default call size
(``DetectorConfig.batch_size`` R-Net crops, a quarter as many O-Net crops): large calls
are slower per crop, because their activations (a 2,048-crop R-Net call makes 111 MB
of them after the first convolution) leave the cache and are paged in afresh each call.

P-Net: the levels of the pyramid of a 1024 x 683 image at min face 20 (padded as the
detector pads them), each timed alone; the time above the largest level's per-pixel
rate is what one call per level costs beyond its pixels, the most that packing levels
into fewer calls could save.
"""

from __future__ import annotations

import argparse
import json
import time


def per_crop_us(model, crops, per_call: int, repeat: int) -> float:
    import torch

    best = float("inf")
    with torch.inference_mode():
        model(crops[:per_call])
        for _ in range(repeat):
            start = time.perf_counter()
            for lo in range(0, len(crops), per_call):
                model(crops[lo : lo + per_call])
            best = min(best, time.perf_counter() - start)
    return best / len(crops) * 1e6


def pnet_levels(repeat: int, width: int = 1024, height: int = 683) -> dict:
    import torch

    from mtcnn_data.detect.checkpoints import load_stage
    from mtcnn_data.detect.detector import DetectorConfig, _padded_side, pyramid_scales

    model = load_stage("facenet", "pnet").model.eval().to(memory_format=torch.channels_last)
    cfg = DetectorConfig()
    rows = []
    with torch.inference_mode():
        for scale in pyramid_scales(height, width, cfg.min_face, cfg.factor):
            w, h = (_padded_side(max(12, round(side * scale))) for side in (width, height))
            x = torch.randn(1, 3, h, w).contiguous(memory_format=torch.channels_last)
            rows.append((w * h, min(_timed(model, x) for _ in range(repeat + 2))))
    rate = rows[0][1] / rows[0][0]  # seconds per pixel at the largest level
    total = sum(t for _, t in rows)
    overhead = sum(max(0.0, t - px * rate) for px, t in rows)
    print(f"pnet: {len(rows)} levels of a {width} x {height} image, {total * 1e3:.1f} ms in all; beyond the largest "
          f"level's {rate * 1e9:.0f} ns per pixel: {overhead * 1e3:.2f} ms ({overhead / total:.1%}), "
          "the most that packing the levels into fewer calls could save")
    return {"levels": len(rows), "total_ms": round(total * 1e3, 2), "overhead_ms": round(overhead * 1e3, 2),
            "overhead_share": round(overhead / total, 3)}


def _timed(model, x) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a mining worker)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)

    import torch

    from mtcnn_data.detect.checkpoints import load_stage
    from mtcnn_data.detect.detector import DetectorConfig

    torch.set_num_threads(args.threads)
    default = DetectorConfig().batch_size
    figures = {}
    for stage, side, scale in (("rnet", 24, 1), ("onet", 48, 4)):
        model = load_stage("facenet", stage).model.eval().to(memory_format=torch.channels_last)
        crops = torch.randn(4096 // scale, 3, side, side).contiguous(memory_format=torch.channels_last)
        sizes = sorted({max(1, n // scale) for n in (2048, 1024, 512, 256, 128, 64, 32)} | {default // scale}, reverse=True)
        us = {n: per_crop_us(model, crops, n, args.repeat) for n in sizes}
        base = us[default // scale]
        figures[stage] = {str(n): {"us_per_crop": round(t, 1), "vs_default": round(t / base, 2)} for n, t in us.items()}
        print(f"{stage} ({side} px, {args.threads} thread(s)), crops per call: "
              + ", ".join(f"{n}: {t:.0f} us ({t / base:.2f}x)" for n, t in us.items())
              + f"   [default {default // scale}]")
    figures["pnet"] = pnet_levels(args.repeat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
