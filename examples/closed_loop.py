"""The closed loop without borrowed weights, on the real images in ../shared/realdata.

gen-pnet on some WIDER val events -> train P-Net on the CPU -> measure its recall on
events it never saw (against an untrained P-Net) -> mine --stage rnet with it ->
train R-Net -> mine --stage onet. Every step is the command a user would type; the
figures are printed as a table and written to WORK/figures.json.

    python examples/closed_loop.py [--work out/closed-loop] [--pnet-epochs 30]
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
WIDER = REAL / "widerface"
VAL_GT = WIDER / "wider_face_split" / "wider_face_val_bbx_gt.txt"
IMAGES = WIDER / "WIDER_val" / "images"
TRAIN_EVENTS = ("0--Parade", "4--Dancing", "13--Interview")
HELD_OUT_EVENTS = ("19--Couple", "20--Family_Group")


def split_annotations(events, out: Path) -> Path:
    """The official val annotation blocks of ``events``, byte for byte, in a file of their own."""
    from mtcnn_data import write_wider_subset

    out.parent.mkdir(parents=True, exist_ok=True)
    write_wider_subset(VAL_GT, out, lambda path: path.split("/")[0] in events)
    return out


def cli(*args, capture=False):
    cmd = [str(Path(sys.executable).with_name("mtcnn-data")), *map(str, args)]
    print("$ mtcnn-data " + " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    run = subprocess.run(cmd, text=True, capture_output=capture)
    if run.returncode:
        sys.exit(f"step failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr if capture else ''}")
    return time.perf_counter() - t0, run.stdout if capture else ""


def evaluate(work: Path, name: str, held_out: Path, **stages) -> dict:
    out = work / f"eval-{name}.json"
    opts = [x for k, v in stages.items() for x in (f"--{k}", v)]
    seconds, _ = cli("evaluate", *opts, "--wider-annotations", held_out, "--wider-images", IMAGES, "--json", out)
    fig = json.loads(out.read_text())
    fig["seconds"] = round(seconds, 1)
    return fig


def untrained(stage: str, path: Path) -> Path:
    import torch

    from mtcnn_data import build_model

    torch.manual_seed(0)
    torch.save(build_model(stage).state_dict(), path)
    return path


def data_step(work: Path, name: str, *args) -> dict:
    out = work / name
    seconds, _ = cli(*args, "--out", out, "--workers", 2, "--skip-missing")
    cli("verify", out)
    m = json.loads((out / "manifest.json").read_text())
    return {"seconds": round(seconds, 1), "samples": m["totals"]["samples"], "kept": m["balance"]["kept"],
            "candidates": m["balance"]["candidates"], "limited_by": m["balance"]["limiting_class"], "verified": True}


def train_step(work: Path, stage: str, data: str, epochs: int) -> dict:
    ckpt = work / f"{stage}.pt"
    seconds, _ = cli("train", "--stage", stage, "--data", work / data, "--out", ckpt, "--epochs", epochs, "--threads", 1)
    stats = json.loads(ckpt.with_suffix(".pt.json").read_text()) if ckpt.with_suffix(".pt.json").exists() else {}
    return {"seconds": round(seconds, 1), "checkpoint": str(ckpt), "stats": stats.get("epochs", stats)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(REPO / "out" / "closed-loop"))
    ap.add_argument("--pnet-epochs", type=int, default=30)
    ap.add_argument("--rnet-epochs", type=int, default=20)
    args = ap.parse_args(argv)
    if not VAL_GT.exists():
        sys.exit(f"needs the real data in {REAL}")
    work = Path(args.work)
    if work.exists() and any(work.iterdir()):
        sys.exit(f"{work} is not empty: remove it or pass another --work")
    train_gt = split_annotations(TRAIN_EVENTS, work / "annotations" / "train_events_bbx_gt.txt")
    held_gt = split_annotations(HELD_OUT_EVENTS, work / "annotations" / "held_out_events_bbx_gt.txt")
    wider = ["--wider-annotations", train_gt, "--wider-images", IMAGES]
    lfw = ["--lfw-net", REAL / "lfw_net", "--lfw-split", "train"]
    fig = {"train_events": TRAIN_EVENTS, "held_out_events": HELD_OUT_EVENTS}
    fig["gen_pnet"] = data_step(work, "pnet-data", "gen-pnet", *wider, *lfw)
    fig["train_pnet"] = train_step(work, "pnet", "pnet-data", args.pnet_epochs)
    fig["recall_pnet_trained"] = evaluate(work, "pnet-trained", held_gt, pnet=work / "pnet.pt")
    fig["recall_pnet_untrained"] = evaluate(work, "pnet-untrained", held_gt, pnet=untrained("pnet", work / "pnet-untrained.pt"))
    fig["recall_pnet_top100"] = evaluate(work, "pnet-top100", held_gt, pnet=work / "pnet.pt", top=100)
    fig["recall_untrained_top100"] = evaluate(work, "untrained-top100", held_gt, pnet=work / "pnet-untrained.pt",
                                              top=100, thresholds="0.53,0.7,0.7")
    fig["mine_rnet"] = data_step(work, "rnet-data", "mine", "--stage", "rnet", "--pnet", work / "pnet.pt", *wider, *lfw)
    fig["train_rnet"] = train_step(work, "rnet", "rnet-data", args.rnet_epochs)
    fig["recall_pnet_rnet"] = evaluate(work, "pnet-rnet", held_gt, pnet=work / "pnet.pt", rnet=work / "rnet.pt")
    fig["mine_onet"] = data_step(work, "onet-data", "mine", "--stage", "onet", "--pnet", work / "pnet.pt",
                                 "--rnet", work / "rnet.pt", *wider, *lfw)
    (work / "figures.json").write_text(json.dumps(fig, indent=2, default=str) + "\n")
    print(summary(fig))


def summary(fig: dict) -> str:
    rows = [
        f"held-out events {', '.join(fig['held_out_events'])}: faces with min(w,h) >= 20, IoU >= 0.5",
        f"  P-Net untrained : recall {fig['recall_pnet_untrained']['recall']:.1%}, {fig['recall_pnet_untrained']['detections_per_image']:.1f} detections/image",
        f"  P-Net trained   : recall {fig['recall_pnet_trained']['recall']:.1%}, {fig['recall_pnet_trained']['detections_per_image']:.1f} detections/image",
        f"  P-Net trained, 100 best windows per image  : recall {fig['recall_pnet_top100']['recall']:.1%}",
        f"  P-Net untrained, 100 best windows per image: recall {fig['recall_untrained_top100']['recall']:.1%}",
        f"  P-Net + R-Net   : recall {fig['recall_pnet_rnet']['recall']:.1%}, {fig['recall_pnet_rnet']['detections_per_image']:.1f} detections/image",
    ]
    for step in ("gen_pnet", "mine_rnet", "mine_onet"):
        s = fig[step]
        rows.append(f"  {step:<10}: {s['samples']:,} samples {s['kept']} (limited by {s['limited_by']}), "
                    f"{s['seconds']} s, verified")
    for step in ("train_pnet", "train_rnet"):
        rows.append(f"  {step:<10}: {fig[step]['seconds']} s")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
