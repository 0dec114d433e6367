"""gen-pnet at (a fraction of) full scale on real images, against the decode floor of the
same files measured in the same run, with CPU utilisation and peak memory.

    nice python benchmarks/bench_gen_pnet_scale.py --scale 0.2 [--workers 2] [--keep DIR]

Builds, under a temporary folder, a WIDER-style root of ``scale x 12,192`` train images
(the real WIDER train images in /tmp/widerface/WIDER_train/images, repeated under new
event names: one symlink per event and copy, with a matching annotation file) and a
CelebA-style root of ``scale x 162,770`` rows (the CelebA train split's size: the real
LFW_NET images, symlinked as ``img_celeba/NNNNNN.jpg``, with their boxes and landmarks
written as CelebA's lists). Nothing is copied. Then:

- the decode floor: every one of those files decoded once (``read_rgb``) on a worker pool
  of the same size, as ``bench_gen_pnet.py`` does;
- ``mtcnn-data gen-pnet --wider ROOT --celeba ROOT --workers N`` in a child process,
  sampled every 0.2 s over its process tree (/proc): wall time, CPU utilisation (CPU
  seconds of the tree / (wall x cores), also per phase, the phases placed by the
  manifest's timings), and peak memory as the largest sum of the tree's RSS;
- the per-phase times from the manifest and the ratio gen-pnet / decode floor.

The machine's other load counts against every figure: report it (the load average is
printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realdata import REALDATA  # noqa: E402
from bench_gen_pnet import decode_floor  # noqa: E402

FULL_WIDER, FULL_CELEBA = 12_192, 162_770
WIDER = Path("/tmp/widerface")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- building the root


def wider_blocks(ann: Path, images: Path) -> list:
    """``(path, block lines)`` of the annotation blocks whose image is present."""
    lines = ann.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        name, count = lines[i].strip(), int(lines[i + 1])
        end = i + 2 + max(count, 1)
        if (images / name).is_file():
            blocks.append((name, lines[i + 1 : end]))
        i = end
    return blocks


def build_wider(root: Path, count: int) -> list:
    """``count`` images: the present train images in file order, then again under events
    renamed ``<event>-copyK``; returns their paths."""
    images = WIDER / "WIDER_train" / "images"
    blocks = wider_blocks(WIDER / "wider_face_split" / "wider_face_train_bbx_gt.txt", images)
    if not blocks:
        sys.exit(f"benchmark skipped: no WIDER train images in {images}")
    (root / "wider_face_split").mkdir(parents=True)
    out_images = root / "WIDER_train" / "images"
    out_images.mkdir(parents=True)
    text, paths = [], []
    for k in range(-(-count // len(blocks))):
        for name, rest in blocks[: count - k * len(blocks)]:
            event, file = name.split("/", 1)
            new_event = event if k == 0 else f"{event}-copy{k}"
            link = out_images / new_event
            if not link.exists():
                link.symlink_to(images / event, target_is_directory=True)
            text.append(f"{new_event}/{file}")
            text.extend(rest)
            paths.append(out_images / new_event / file)
    (root / "wider_face_split" / "wider_face_train_bbx_gt.txt").write_text("\n".join(text) + "\n")
    return paths


def lfw_rows() -> list:
    """``(image path, [x, y, w, h], [10 landmark values])`` of the present LFW_NET train images."""
    lfw = REALDATA / "lfw_net"
    rows = []
    for line in (lfw / "trainImageList.txt").read_text().splitlines():
        t = line.split()
        if len(t) == 15 and (lfw / t[0].replace("\\", "/")).is_file():
            left, right, top, bottom = map(float, t[1:5])
            rows.append((lfw / t[0].replace("\\", "/"), [left, top, right - left, bottom - top], t[5:]))
    if not rows:
        sys.exit(f"benchmark skipped: no LFW_NET images in {lfw}")
    return rows


def build_celeba(root: Path, count: int) -> list:
    """``count`` CelebA rows, all in the train partition, cycling over the LFW_NET images."""
    rows = lfw_rows()
    (root / "Anno").mkdir(parents=True)
    (root / "Eval").mkdir()
    (root / "img_celeba").mkdir()
    boxes, marks, part, paths = [], [], [], []
    for i in range(count):
        src, xywh, lm = rows[i % len(rows)]
        name = f"{i + 1:06d}.jpg"
        (root / "img_celeba" / name).symlink_to(src)
        boxes.append(f"{name} " + " ".join(f"{v:g}" for v in xywh))
        marks.append(f"{name} " + " ".join(lm))
        part.append(f"{name} 0")
        paths.append(root / "img_celeba" / name)
    (root / "Anno" / "list_bbox_celeba.txt").write_text(
        f"{count}\nimage_id x_1 y_1 width height\n" + "\n".join(boxes) + "\n")
    (root / "Anno" / "list_landmarks_celeba.txt").write_text(
        f"{count}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
        "rightmouth_x rightmouth_y\n" + "\n".join(marks) + "\n")
    (root / "Eval" / "list_eval_partition.txt").write_text("\n".join(part) + "\n")
    return paths


# ---------------------------------------------------------------- watching the run


def tree(pid: int) -> list:
    """``pid`` and all its descendants now alive."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_and_rss(pids) -> tuple:
    """CPU seconds (own + reaped children) and RSS bytes summed over ``pids``."""
    cpu = rss = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
        rss += int(f[21]) * PAGE
    return cpu / TICK, rss


def watch(cmd, env) -> dict:
    """Run ``cmd``; samples of (time, tree CPU seconds) and the peak summed RSS."""
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples, peak, seen_cpu = [], 0, 0.0
    while proc.poll() is None:
        cpu, rss = cpu_and_rss(tree(proc.pid))
        seen_cpu = max(seen_cpu, cpu)
        samples.append((time.perf_counter() - t0, seen_cpu))
        peak = max(peak, rss)
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    after = os.times()
    err = proc.stderr.read()
    if proc.returncode:
        sys.exit(f"gen-pnet failed ({proc.returncode}):\n{err[-3000:]}")
    reaped = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    # workers that exit unreaped are missing from the rusage; the samples saw them alive
    return {"wall": wall, "cpu": max(reaped, seen_cpu), "cpu_reaped": reaped, "cpu_sampled": seen_cpu,
            "samples": samples, "peak_rss": peak}


def cpu_between(samples, a: float, b: float) -> float:
    """Tree CPU seconds spent between wall times ``a`` and ``b`` (from the samples)."""
    def at(t):
        last = 0.0
        for s, c in samples:
            if s > t:
                break
            last = c
        return last
    return at(b) - at(a)


def phase_cpu(samples, timings: dict, wall: float) -> dict:
    """Tree CPU seconds per phase; the phases are laid end to end so that the manifest's
    total ends where the process ended."""
    start = wall - timings["total"]
    out = {}
    for name in ("plan", "select", "cut", "assemble"):
        if name in timings:
            out[name] = cpu_between(samples, start, start + timings[name])
            start += timings[name]
    return out


def timed_floor(paths, workers: int) -> tuple:
    """Decode floor wall seconds and the CPU seconds this process's tree spent on it."""
    from mtcnn_data.engine.parallel import run_parallel

    run_parallel(len, [[]] * workers, workers)  # the pool exists before the CPU is read
    cpu0, _ = cpu_and_rss(tree(os.getpid()))
    wall = decode_floor(paths, workers, 64)
    cpu1, _ = cpu_and_rss(tree(os.getpid()))
    return wall, cpu1 - cpu0


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.2, help="1.0 = 12,192 WIDER images + 162,770 CelebA rows")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--keep", type=Path, help="build the roots and the output here and keep them")
    ap.add_argument("--skip-floor", action="store_true", help="only gen-pnet (no decode floor)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-gen-pnet-scale-"))
    cores = os.cpu_count()
    try:
        t0 = time.perf_counter()
        wider_paths = build_wider(tmp / "wider", round(args.scale * FULL_WIDER))
        celeba_paths = build_celeba(tmp / "celeba", round(args.scale * FULL_CELEBA))
        print(f"roots: {len(wider_paths):,} WIDER images, {len(celeba_paths):,} CelebA rows under {tmp} "
              f"(built in {time.perf_counter() - t0:.1f} s); {args.workers} workers, {cores} cores; "
              f"load average {os.getloadavg()[0]:.1f}")
        floor = floor_cpu = None
        if not args.skip_floor:
            floor, floor_cpu = timed_floor([str(p) for p in wider_paths + celeba_paths], args.workers)
        exe = Path(sys.executable).parent / "mtcnn-data"
        cmd = [str(exe), "gen-pnet", "--out", str(tmp / "out"), "--wider", str(tmp / "wider"),
               "--celeba", str(tmp / "celeba"), "--workers", str(args.workers)]
        run = watch(cmd, dict(os.environ))
        manifest = json.loads((tmp / "out" / "manifest.json").read_text())
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    timings = manifest["timings_s"]
    cpu = phase_cpu(run["samples"], timings, run["wall"])
    fig = {
        "scale": args.scale, "wider_images": len(wider_paths), "celeba_rows": len(celeba_paths),
        "workers": args.workers, "cores": cores, "samples": manifest["totals"]["samples"],
        "shards": manifest["totals"]["shards"], "gen_pnet_s": round(run["wall"], 1),
        "phases_s": {k: v for k, v in timings.items() if k != "plan_cpu_s"},
        "decode_floor_s": None if floor is None else round(floor, 1),
        "ratio_to_decode_floor": None if floor is None else round(run["wall"] / floor, 2),
        "cpu_utilisation": round(run["cpu"] / (run["wall"] * cores), 3),
        "cpu_s": {"reaped": round(run["cpu_reaped"], 1), "sampled": round(run["cpu_sampled"], 1)},
        "cpu_utilisation_per_phase": {k: round(c / max(timings[k], 1e-9) / cores, 2) for k, c in cpu.items()},
        "cpu_s_per_phase": {k: round(c, 1) for k, c in cpu.items()},
        "decode_floor_cpu_s": None if floor_cpu is None else round(floor_cpu, 1),
        "cpu_ratio_to_decode_floor": None if floor_cpu is None else round(run["cpu"] / floor_cpu, 2),
        "peak_rss_all_processes_mib": round(run["peak_rss"] / 2**20),
        "load_average_after": round(os.getloadavg()[0], 1),
        "command": " ".join(cmd),
    }
    print(f"gen-pnet         {fig['gen_pnet_s']:8.1f} s  ({fig['samples']:,} samples, {fig['shards']} shards)")
    print("phases           " + ", ".join(f"{k} {v:.1f}" for k, v in fig["phases_s"].items()))
    if floor is not None:
        print(f"decode floor     {floor:8.1f} s  (same files, same run, {args.workers} workers)")
        print(f"ratio to floor   {fig['ratio_to_decode_floor']:8.2f}x  wall; CPU seconds "
              f"{run['cpu']:.1f} / {floor_cpu:.1f} = {fig['cpu_ratio_to_decode_floor']:.2f}x (less sensitive to other load)")
    print(f"CPU utilisation  {fig['cpu_utilisation']:8.1%}  of {cores} cores over the run; per phase "
          + ", ".join(f"{k} {v:.0%}" for k, v in fig["cpu_utilisation_per_phase"].items()))
    print("CPU s per phase  " + ", ".join(f"{k} {v:.1f}" for k, v in fig["cpu_s_per_phase"].items()))
    print(f"peak memory      {fig['peak_rss_all_processes_mib']:8d} MiB  (largest summed RSS of the process tree)")
    print(f"load average     {fig['load_average_after']:8.1f}  after the run")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")


if __name__ == "__main__":
    main()
