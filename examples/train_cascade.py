"""A cascade trained from scratch on mtcnn-data shards, measured beside the original weights.

gen-pnet on the WIDER train images present on disk + LFW_NET train -> train P-Net ->
mine --stage rnet with it -> train R-Net -> mine --stage onet -> train O-Net ->
evaluate the trained cascade and the original (facenet) weights on WIDER val at the
same detector settings. Every step is the command a user would type; each prints its
wall time, and the figures go to WORKDIR/figures.json, the training curves to
WORKDIR/curves.png. A step whose output exists is skipped (rerun to resume).

The evaluation reports the official WIDER FACE AP (easy / medium / hard) when
`mtcnn-data evaluate` has `--gt-dir`, and recall at IoU 0.5 in any case.

    python examples/train_cascade.py --quick                      # a few images, minutes
    python examples/train_cascade.py --workdir /tmp/train_run --wider /tmp/widerface \\
        --epochs 4,6,6 [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "realdata"
STAGES = ("pnet", "rnet", "onet")
# --quick: few images, a P-Net trained long enough on them that mining is not swamped by windows
# (a weak P-Net passes tens of thousands per image, and the pyramid NMS then takes minutes).
QUICK = {"train_images": 40, "lfw_images": 400, "val_images": 30, "epochs": "20,10,10",
         "mine_thresholds": "0.8,0.1,0.7"}


# ---------------------------------------------------------------------- inputs

def wider_subset(root: Path, split: str, out: Path, limit: int = 0, every: int = 1) -> Path:
    """The official annotation blocks of the ``split`` images present under ``root``
    (every ``every``-th of them; the first ``limit`` if ``limit``), byte for byte, in a file
    of their own."""
    from mtcnn_data import write_wider_subset

    images = root / f"WIDER_{split}" / "images"
    present = []

    def keep(path: str) -> bool:
        if not (images / path).is_file():
            return False
        present.append(path)
        return (len(present) - 1) % every == 0 and (not limit or len(present) <= limit * every)

    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        write_wider_subset(root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt", out, keep)
    return out


def lfw_subset(root: Path, out: Path, limit: int) -> Path:
    """An LFW_NET root in ``out`` whose train list holds its first ``limit`` images present
    under ``root`` (the image folders are links to the real ones)."""
    if not (out / "trainImageList.txt").exists():
        out.mkdir(parents=True, exist_ok=True)
        lines = (root / "trainImageList.txt").read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if ln.strip() and (root / ln.split()[0].replace("\\", "/")).is_file()][:limit]
        for folder in ("net_7876", "lfw_5590"):
            if (root / folder).is_dir() and not (out / folder).exists():
                (out / folder).symlink_to((root / folder).resolve(), target_is_directory=True)
        (out / "trainImageList.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return out


def mine_subset(wider: Path, work: Path, train_gt: Path, every: int) -> Path:
    """The annotations mining runs on: every ``every``-th train image of ``train_gt``."""
    if every <= 1:
        return train_gt
    return wider_subset(wider, "train", work / "annotations" / f"wider_train_every{every}_bbx_gt.txt", every=every)


# ---------------------------------------------------------------------- steps

def cli(*args) -> float:
    """Run ``mtcnn-data ARGS`` (output streamed); the wall time in seconds."""
    cmd = [str(Path(sys.executable).with_name("mtcnn-data")), *map(str, args)]
    print("$ mtcnn-data " + " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    if subprocess.run(cmd).returncode:
        sys.exit(f"step failed: {' '.join(cmd)}")
    return time.perf_counter() - t0


def timed(name: str, done: Path, run) -> dict:
    """Run one step unless ``done`` exists; its wall time (None when skipped)."""
    if done.exists():
        print(f"[{name}] skipped: {done} exists", flush=True)
        return {"seconds": None, "skipped": True}
    seconds = run()
    print(f"[{name}] {seconds:.1f} s", flush=True)
    return {"seconds": round(seconds, 1)}


def data_step(name: str, out: Path, *args) -> dict:
    """gen-pnet or mine into ``out``, then verify; the samples per class."""
    fig = timed(name, out / "manifest.json", lambda: cli(*args, "--out", out, "--skip-missing"))
    manifest = json.loads((out / "manifest.json").read_text())
    fig.update(samples=manifest["totals"]["samples"], per_class=manifest["balance"]["kept"],
               limited_by=manifest["balance"]["limiting_class"])
    return fig


def train_step(stage: str, data: Path, ckpt: Path, epochs: int, device: str, threads: int) -> dict:
    fig = timed(f"train {stage}", ckpt, lambda: cli("train", "--stage", stage, "--data", data, "--out", ckpt,
                                                     "--epochs", epochs, "--device", device, "--threads", threads))
    history = json.loads(Path(str(ckpt) + ".json").read_text())["history"]
    fig.update(epochs=len(history), history=[{k: h[k] for k in ("total", "cls", "box", "landmark", "accuracy",
                                                                  "samples", "seconds")} for h in history])
    return fig


def has_ap() -> bool:
    """Whether this `mtcnn-data evaluate` reports the official AP (``--gt-dir``)."""
    exe = Path(sys.executable).with_name("mtcnn-data")
    return "--gt-dir" in subprocess.run([exe, "evaluate", "--help"], capture_output=True, text=True).stdout


def eval_step(name: str, out: Path, stages: dict, val: list, gt_dir: Path, workers: tuple = ()) -> dict:
    opts = [x for stage, ckpt in stages.items() for x in (f"--{stage}", ckpt)]
    ap = ["--gt-dir", gt_dir] if gt_dir.is_dir() and has_ap() else []
    fig = timed(f"evaluate {name}", out, lambda: cli("evaluate", *opts, *val, *ap, *workers, "--json", out))
    fig.update(json.loads(out.read_text()))
    return fig


# ---------------------------------------------------------------------- the chain

def chain(args) -> dict:
    work = Path(args.workdir)
    wider, lfw = Path(args.wider), Path(args.lfw_net)
    quick = QUICK if args.quick else {"train_images": 0, "lfw_images": 0, "val_images": args.val_images,
                                      "val_every": args.val_every}
    train_gt = wider_subset(wider, "train", work / "annotations" / "wider_train_present_bbx_gt.txt",
                            quick["train_images"])
    if quick["lfw_images"]:
        lfw = lfw_subset(lfw, work / "lfw_net_subset", quick["lfw_images"])
    val_root = Path(args.val)
    val = ["--wider", val_root, "--split", "val"]
    every = quick.get("val_every", 1)
    if quick["val_images"] or every > 1:
        name = f"wider_val_first{quick['val_images'] or 'all'}_every{every}_bbx_gt.txt"
        val_gt = wider_subset(val_root, "val", work / "annotations" / name, quick["val_images"], every)
        val = ["--wider-annotations", val_gt, "--wider-images", val_root / "WIDER_val" / "images"]
    src = ["--wider-annotations", train_gt, "--wider-images", wider / "WIDER_train" / "images",
           "--lfw-net", lfw, "--lfw-split", "train"]
    workers = ["--workers", args.workers]
    # each stage mines every n-th train image (all of them in --quick); when onet's n is a multiple
    # of rnet's, its images are among rnet's and mine onet takes mine rnet's P-Net candidates
    mine_every = {"rnet": max(args.mine_every, 1), "onet": max(args.onet_mine_every or args.mine_every, 1)}
    if quick["train_images"]:
        mine_every = dict.fromkeys(mine_every, 1)
    mine_src = {stage: ["--wider-annotations", mine_subset(wider, work, train_gt, n),
                        *src[2:], *workers, "--device", args.device,
                        "--thresholds", quick.get("mine_thresholds", args.mine_thresholds)]
                for stage, n in mine_every.items()}
    reuse = ["--reuse", work / "rnet-data"] if mine_every["onet"] % mine_every["rnet"] == 0 else []
    ckpt = {stage: work / f"{stage}.pt" for stage in STAGES}
    epochs = dict(zip(STAGES, map(int, (args.epochs or quick.get("epochs", "4,6,6")).split(","))))
    fig = {"command": " ".join(sys.argv), "train_images": sum(1 for ln in train_gt.read_text().splitlines()
                                                               if ln.strip().endswith(".jpg"))}
    fig["gen_pnet"] = data_step("gen-pnet", work / "pnet-data", "gen-pnet", *src, *workers,
                                "--landmark-attempts", args.landmark_attempts, "--negatives-per-image", args.negatives_per_image)
    fig["train_pnet"] = train_step("pnet", work / "pnet-data", ckpt["pnet"], epochs["pnet"], args.device, args.threads)
    fig["mine_rnet"] = data_step("mine rnet", work / "rnet-data", "mine", "--stage", "rnet", "--pnet", ckpt["pnet"],
                                 *mine_src["rnet"])
    fig["train_rnet"] = train_step("rnet", work / "rnet-data", ckpt["rnet"], epochs["rnet"], args.device, args.threads)
    fig["mine_onet"] = data_step("mine onet", work / "onet-data", "mine", "--stage", "onet", "--pnet", ckpt["pnet"],
                                 "--rnet", ckpt["rnet"], *mine_src["onet"], *reuse)
    fig["train_onet"] = train_step("onet", work / "onet-data", ckpt["onet"], epochs["onet"], args.device, args.threads)
    gt_dir = Path(args.gt_dir)
    fig["eval_trained"] = eval_step("trained", work / "eval-trained.json", ckpt, val, gt_dir, workers)
    fig["eval_facenet"] = eval_step("facenet", work / "eval-facenet.json", dict.fromkeys(STAGES, "facenet"), val, gt_dir,
                                    workers)
    return fig


# ---------------------------------------------------------------------- report

def summary(fig: dict) -> str:
    rows = [f"{'step':<12} {'time':>9}  result"]
    for step in ("gen_pnet", "train_pnet", "mine_rnet", "train_rnet", "mine_onet", "train_onet",
                 "eval_trained", "eval_facenet"):
        s = fig[step]
        seconds = "skipped" if s["seconds"] is None else f"{s['seconds']:.0f} s"
        if "samples" in s:
            result = f"{s['samples']:,} samples {s['per_class']} (limited by {s['limited_by']})"
        elif "history" in s:
            first, last = s["history"][0], s["history"][-1]
            result = (f"{s['epochs']} epochs, loss {first['total']:.3f} -> {last['total']:.3f}, "
                      f"accuracy {first['accuracy']:.3f} -> {last['accuracy']:.3f}")
        else:
            result = f"recall {s['recall']:.1%}, {s['detections_per_image']:.1f} detections/image"
        rows.append(f"{step:<12} {seconds:>9}  {result}")
    rows.append(f"\nWIDER val, {fig['eval_trained']['images']} images, {fig['eval_trained']['faces']} faces "
                "with min(w,h) >= 20, detector min face 20, thresholds 0.6/0.7/0.7:")
    for name in ("trained", "facenet"):
        e = fig[f"eval_{name}"]
        ap = " ".join(f"{k} {v:.3f}" for k, v in e["ap"].items()) if "ap" in e else "(AP: evaluate has no --gt-dir)"
        rows.append(f"  {name:<8} AP {ap} | recall {e['recall']:.1%}, {e['detections_per_image']:.1f} detections/image")
    return "\n".join(rows)


#: BGR colour of each stage's curves.
CURVE_COLOURS = {"pnet": (200, 90, 20), "rnet": (30, 140, 240), "onet": (40, 160, 40)}


def plot_curves(fig: dict, out: Path) -> Path:
    """Loss and accuracy per epoch of the three stages, side by side, into ``out`` (OpenCV,
    so the example needs nothing the package does not install)."""
    import cv2
    import numpy as np

    panels = [_panel(fig, key, title) for key, title in
              (("total", "training loss (weighted total)"), ("accuracy", "face / non-face accuracy (train)"))]
    cv2.imwrite(str(out), np.concatenate(panels, axis=1))
    return out


def _panel(fig: dict, key: str, title: str, size=(360, 270)):
    """One line chart: ``key`` of every epoch's history, one polyline per stage, with a legend."""
    import cv2
    import numpy as np

    w, h = size
    left, right, top, bottom = 48, 10, 24, 30
    img = np.full((h, w, 3), 255, np.uint8)
    series = {s: [e[key] for e in fig[f"train_{s}"]["history"]] for s in STAGES}
    values = [v for vs in series.values() for v in vs]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    epochs = max(len(vs) for vs in series.values())

    def at(epoch, value):
        x = left + (epoch - 1) / max(1, epochs - 1) * (w - left - right)
        return int(round(x)), int(round(h - bottom - (value - lo) / (hi - lo) * (h - top - bottom)))

    cv2.rectangle(img, at(1, hi), at(epochs, lo), (0, 0, 0), 1)
    for v in (lo, (lo + hi) / 2, hi):
        cv2.putText(img, f"{v:.3f}", (2, at(1, v)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    for e in range(1, epochs + 1):
        cv2.putText(img, str(e), (at(e, lo)[0] - 3, h - bottom + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    cv2.putText(img, "epoch", (w // 2 - 15, h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    for row, (stage, vs) in enumerate(series.items()):
        pts = np.asarray([at(e, v) for e, v in enumerate(vs, start=1)], np.int32)
        cv2.polylines(img, [pts], False, CURVE_COLOURS[stage], 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, tuple(int(c) for c in p), 3, CURVE_COLOURS[stage], -1)
        y = top + 16 + 16 * row
        cv2.line(img, (w - right - 70, y - 4), (w - right - 50, y - 4), CURVE_COLOURS[stage], 2)
        cv2.putText(img, stage, (w - right - 45, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK['train_images']} train images, {QUICK['lfw_images']} LFW_NET images, "
                         f"{QUICK['val_images']} val images, epochs {QUICK['epochs']}")
    ap.add_argument("--workdir", help="Everything goes here (default out/train-cascade[-quick]); rerun to resume.")
    ap.add_argument("--wider", default="/tmp/widerface", help="WIDER root with WIDER_train/images (the images present are used).")
    ap.add_argument("--lfw-net", default=str(REAL / "lfw_net"), help="LFW_NET root (its train list only).")
    ap.add_argument("--val", default=str(REAL / "widerface"), help="WIDER root with WIDER_val/images to evaluate on.")
    ap.add_argument("--val-images", type=int, default=0, help="Evaluate on the first N val images present (0: all).")
    ap.add_argument("--val-every", type=int, default=1, help="Evaluate on every K-th val image present (1: all).")
    ap.add_argument("--gt-dir", default=str(REAL / "widerface" / "eval_tools" / "ground_truth"),
                    help="The evaluation toolkit's ground_truth/ folder (for the AP).")
    ap.add_argument("--epochs", help="P-Net,R-Net,O-Net epochs (default 4,6,6; --quick 20,10,10).")
    ap.add_argument("--landmark-attempts", type=int, default=25,
                    help="gen-pnet: jittered crops per LFW_NET face (25, not 10: else landmarks limit the positives kept).")
    ap.add_argument("--negatives-per-image", type=int, default=100,
                    help="gen-pnet: random negatives per WIDER image (100, not 50: else negatives limit the positives).")
    ap.add_argument("--mine-every", type=int, default=1,
                    help="Mine R-Net / O-Net data on every K-th train image present (1: all of them).")
    ap.add_argument("--onet-mine-every", type=int, default=0,
                    help="The same for the O-Net data (0: as --mine-every).")
    ap.add_argument("--mine-thresholds", default="0.3,0.1,0.7",
                    help="P-Net,R-Net,O-Net thresholds of the mining detector (mine's defaults; a P-Net trained "
                         "briefly passes many windows at 0.3, and the pyramid NMS then dominates: try 0.6).")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (training and mining).")
    ap.add_argument("--workers", type=int, default=2, help="gen-pnet / mine / evaluate worker processes.")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads of the trainer.")
    args = ap.parse_args(argv)
    args.workdir = args.workdir or str(REPO / "out" / ("train-cascade-quick" if args.quick else "train-cascade"))
    return args


def main(argv=None):
    args = parse_args(argv)
    for path in (Path(args.wider) / "WIDER_train" / "images", Path(args.lfw_net), Path(args.val) / "WIDER_val" / "images"):
        if not path.is_dir():
            sys.exit(f"{path} is missing: see ../shared/realdata/README.md (section extra/) for the WIDER train images")
    t0 = time.perf_counter()
    fig = chain(args)
    fig["total_seconds"] = round(time.perf_counter() - t0, 1)
    work = Path(args.workdir)
    (work / "figures.json").write_text(json.dumps(fig, indent=2, default=str) + "\n")
    print(summary(fig))
    print(f"training curves: {plot_curves(fig, work / 'curves.png')}; figures: {work / 'figures.json'}")


if __name__ == "__main__":
    main()
