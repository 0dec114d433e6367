"""examples/train_cascade.py: its inputs (annotation and LFW_NET subsets) and its step logic
(order, what each step is given, resuming), on tiny fake data with the CLI calls recorded."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fakedata import landmarks_in_box, make_lfw_net, make_wider
from mtcnn_data.io.datasets.lfw_net import read_lfw_net
from mtcnn_data.io.datasets.wider import read_wider

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "train_cascade.py"


@pytest.fixture(scope="module")
def tc():
    spec = importlib.util.spec_from_file_location("train_cascade", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wider(root, split="train", n=7, missing=(2,)):
    images = [(f"0--Parade/img_{i}.jpg", 64, 48, [(4 + i, 5, 20, 22)]) for i in range(n)]
    gt = make_wider(root, split, images)
    for i in missing:
        (root / f"WIDER_{split}" / "images" / images[i][0]).unlink()
    return gt, [p for p, *_ in images]


def _blocks(path):
    return {rec.path: rec.boxes.tolist() for rec in read_wider(path)}


def test_wider_subset_keeps_every_kth_present_image_byte_for_byte(tc, tmp_path):
    gt, names = _wider(tmp_path / "w")
    present = [p for i, p in enumerate(names) if i != 2]
    out = tc.wider_subset(tmp_path / "w", "train", tmp_path / "every2.txt", every=2)
    assert list(_blocks(out)) == present[::2]
    source = gt.read_text()
    for block in out.read_text().split("0--Parade/")[1:]:
        assert "0--Parade/" + block in source
    first = tc.wider_subset(tmp_path / "w", "train", tmp_path / "first3.txt", limit=3)
    assert list(_blocks(first)) == present[:3]


def test_lfw_subset_lists_only_present_images_up_to_the_limit(tc, tmp_path):
    root = tmp_path / "lfw"
    box = (10, 40, 8, 38)
    entries = [(f"net_7876\\{i}.jpg", 60, 60, box, landmarks_in_box(10, 8, 40, 38)) for i in range(5)]
    make_lfw_net(root, "train", entries)
    (root / "net_7876" / "1.jpg").unlink()
    sub = tc.lfw_subset(root, tmp_path / "sub", limit=3)
    records = list(read_lfw_net(sub / "trainImageList.txt"))
    assert [r.path for r in records] == ["net_7876/0.jpg", "net_7876/2.jpg", "net_7876/3.jpg"]
    assert all((sub / r.path).is_file() for r in records)
    np.testing.assert_allclose(records[0].landmarks[0], landmarks_in_box(10, 8, 40, 38), atol=1e-5)


class FakeCli:
    """Records the commands; writes what each real command would leave behind."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args):
        args = [str(a) for a in args]
        self.calls.append(args)
        opt = lambda name: Path(args[args.index(name) + 1])
        if args[0] in ("gen-pnet", "mine"):
            out = opt("--out")
            out.mkdir(parents=True)
            balance = {"kept": {"negative": 3, "positive": 1, "part": 1, "landmark": 2}, "limiting_class": "positive"}
            (out / "manifest.json").write_text(json.dumps({"totals": {"samples": 7}, "balance": balance}))
        elif args[0] == "train":
            ckpt = opt("--out")
            ckpt.write_bytes(b"weights")
            epochs = int(args[args.index("--epochs") + 1])
            history = [{"total": 1.0 / (e + 1), "cls": 0.5, "box": 0.1, "landmark": 0.1, "accuracy": 0.5 + e / 10,
                        "samples": 7, "seconds": 1.0} for e in range(epochs)]
            Path(str(ckpt) + ".json").write_text(json.dumps({"history": history}))
        elif args[0] == "evaluate":
            fig = {"images": 3, "faces": 5, "recall": 0.6, "detections_per_image": 2.0}
            if "--gt-dir" in args:
                fig["ap"] = {"easy": 0.5, "medium": 0.4, "hard": 0.2}
            opt("--json").write_text(json.dumps(fig))
        return 0.5


def _run_chain(tc, tmp_path, monkeypatch, *extra):
    fake = FakeCli()
    monkeypatch.setattr(tc, "cli", fake)
    monkeypatch.setattr(tc, "has_ap", lambda: True)
    _wider(tmp_path / "w")
    _wider(tmp_path / "v", "val", n=3, missing=())
    (tmp_path / "gt").mkdir(exist_ok=True)
    make_lfw_net(tmp_path / "lfw", "train", [("net_7876\\0.jpg", 60, 60, (10, 40, 8, 38), landmarks_in_box(10, 8, 40, 38))])
    args = tc.parse_args(["--workdir", str(tmp_path / "work"), "--wider", str(tmp_path / "w"), "--lfw-net",
                          str(tmp_path / "lfw"), "--val", str(tmp_path / "v"), "--gt-dir", str(tmp_path / "gt"),
                          "--epochs", "3,2,1", *extra])
    return fake, tc.chain(args)


def test_chain_runs_the_steps_in_order_with_each_ones_inputs(tc, tmp_path, monkeypatch):
    fake, fig = _run_chain(tc, tmp_path, monkeypatch, "--mine-every", "2", "--onet-mine-every", "3",
                           "--mine-thresholds", "0.6,0.1,0.7", "--val-every", "2")
    work = tmp_path / "work"
    steps = [c[0] + (" " + c[c.index("--stage") + 1] if "--stage" in c else "") for c in fake.calls]
    assert steps == ["gen-pnet", "train pnet", "mine rnet", "train rnet", "mine onet", "train onet", "evaluate", "evaluate"]
    gen, _, mine_r, _, mine_o, train_o, ev_trained, ev_facenet = fake.calls
    assert len(_blocks(gen[gen.index("--wider-annotations") + 1])) == 6
    for mine, images in ((mine_r, 3), (mine_o, 2)):
        assert len(_blocks(mine[mine.index("--wider-annotations") + 1])) == images
        assert mine[mine.index("--thresholds") + 1] == "0.6,0.1,0.7"
    for ev in (ev_trained, ev_facenet):
        assert len(_blocks(ev[ev.index("--wider-annotations") + 1])) == 2
    assert mine_r[mine_r.index("--pnet") + 1] == str(work / "pnet.pt")
    assert mine_o[mine_o.index("--rnet") + 1] == str(work / "rnet.pt")
    assert train_o[train_o.index("--data") + 1] == str(work / "onet-data")
    assert "--reuse" not in mine_o  # every 3rd image is not among every 2nd: P-Net runs again
    assert [ev_trained[ev_trained.index(f"--{s}") + 1] for s in tc.STAGES] == [str(work / f"{s}.pt") for s in tc.STAGES]
    assert [ev_facenet[ev_facenet.index(f"--{s}") + 1] for s in tc.STAGES] == ["facenet"] * 3
    assert "--gt-dir" in ev_trained and "--gt-dir" in ev_facenet
    assert ev_trained[ev_trained.index("--workers") + 1] == ev_facenet[ev_facenet.index("--workers") + 1] == "2"
    assert [fig[f"train_{s}"]["epochs"] for s in tc.STAGES] == [3, 2, 1]
    assert fig["eval_trained"]["ap"]["easy"] == 0.5
    table = tc.summary(fig)
    assert "AP easy 0.500" in table and "7 samples" in table
    png = tc.plot_curves(fig, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_onet_mining_reuses_the_rnet_candidates_when_its_images_are_among_them(tc, tmp_path, monkeypatch):
    fake, _ = _run_chain(tc, tmp_path, monkeypatch, "--mine-every", "2", "--onet-mine-every", "4")
    mine_o = [c for c in fake.calls if "onet" in c and c[0] == "mine"][0]
    assert mine_o[mine_o.index("--reuse") + 1] == str(tmp_path / "work" / "rnet-data")


def test_chain_resumes_skipping_steps_whose_output_exists(tc, tmp_path, monkeypatch):
    _run_chain(tc, tmp_path, monkeypatch)
    (tmp_path / "work" / "onet.pt").unlink()
    (tmp_path / "work" / "eval-trained.json").unlink()
    fake, fig = _run_chain(tc, tmp_path, monkeypatch)
    assert [c[0] for c in fake.calls] == ["train", "evaluate"]
    assert fig["gen_pnet"]["skipped"] and fig["train_onet"]["seconds"] == 0.5


def test_without_gt_dir_support_the_evaluation_falls_back_to_recall(tc, tmp_path, monkeypatch):
    _run_chain(tc, tmp_path, monkeypatch)
    monkeypatch.setattr(tc, "has_ap", lambda: False)
    (tmp_path / "work" / "eval-facenet.json").unlink()
    fake2 = FakeCli()
    monkeypatch.setattr(tc, "cli", fake2)
    fig = tc.eval_step("facenet", tmp_path / "work" / "eval-facenet.json", dict.fromkeys(tc.STAGES, "facenet"),
                       ["--wider", str(tmp_path / "v")], tmp_path / "gt")
    assert "--gt-dir" not in fake2.calls[0] and "ap" not in fig and fig["recall"] == 0.6
