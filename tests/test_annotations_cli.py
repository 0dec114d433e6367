"""``mtcnn-data annotations``: counts, histogram, checks against manifests/, exit status."""

from __future__ import annotations

import json
import re

import pytest

from fakedata import landmarks_in_box, make_celeba, make_lfw_net, make_wider
from mtcnn_data.cli.main import main
from mtcnn_data.tools.annotations import load_release_figures

IMAGES = [
    ("0--Parade/a.jpg", 64, 48, [(4, 5, 20, 22, 2, 0, 0, 0, 2, 1), (30, 6, 10, 12, 0, 0, 0, 1, 0, 0)]),
    ("0--Parade/empty.jpg", 40, 30, []),
    ("1--Handshaking/b.jpg", 50, 40, [(60, 5, 0, 10), (1, 2, 30, 30), (1, 2, 170, 200)]),
]


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(["annotations", *map(str, args)])
    out = capsys.readouterr()
    return info.value.code, out.out + out.err


def run_ok(capsys, *args):
    """Commands that finish normally return from main() without SystemExit."""
    main(["annotations", *map(str, args)])
    out = capsys.readouterr()
    return out.out + out.err


def figure(text: str, name: str) -> int:
    return int(re.search(rf"^\s+{name}\s+([\d,]+)\s*$", text, re.M).group(1).replace(",", ""))


def test_fake_wider_counts_and_mismatch_exit_status(tmp_path, capsys):
    make_wider(tmp_path, "val", IMAGES, write_images=False)
    code, text = run(capsys, "--wider", tmp_path, "--split", "val")
    assert code == 1
    assert (figure(text, "images"), figure(text, "faces"), figure(text, "empty_images")) == (3, 5, 1)
    assert (figure(text, "degenerate"), figure(text, "invalid"), figure(text, "kept")) == (1, 1, 3)
    assert "MISMATCH  images: expected 3226, found 3" in text
    assert re.search(r"1 degenerate\s+1$", text, re.M) and re.search(r"2 invalid\s+1$", text, re.M)
    assert re.search(r"<12\s+2\s+0$", text, re.M)  # the degenerate and the invalid 10x12 box: "all" only
    assert re.search(r"20-40\s+2\s+2$", text, re.M)
    assert re.search(r">=160\s+1\s+1$", text, re.M)
    # 5 official figures differ, and no image is there: the sixth
    assert run_ok(capsys, "--wider", tmp_path, "--split", "val", "--no-fail").count("MISMATCH") == 5 + 1
    assert "MISMATCH  images present: expected 3, found 0" in text
    assert "WIDER_val/images is absent" in text


OUTSIDE = [
    ("0--a/big.jpg", 200, 160, [(20, 20, 60, 60), (60, 40, 50, 70)]),
    ("0--a/off.jpg", 120, 100, [(30, 20, 40, 50), (150, 10, 30, 30)]),  # the second lies right of the image
    ("0--a/gone.jpg", 120, 100, [(10, 10, 40, 40)]),
]


def test_images_present_are_counted_and_boxes_outside_them_dropped_as_gen_pnet_does(tmp_path, capsys):
    make_wider(tmp_path, "train", OUTSIDE)
    (tmp_path / "WIDER_train" / "images" / OUTSIDE[2][0]).unlink()
    text = run_ok(capsys, "--wider", tmp_path, "--no-fail")
    assert "MISMATCH  images present: expected 3, found 2" in text
    assert "1 annotated image(s) missing" in text and "lacks them" in text
    report = int(re.search(r"3 outside_image\s+(\d+)$", text, re.M).group(1))
    assert report == 1
    out = tmp_path / "out"
    code = _exit_code(["gen-pnet", "--wider", str(tmp_path), "--ratio", "3:1:1:0", "--skip-missing", "--out", str(out)])
    assert code == 0
    boxes = json.loads((out / "manifest.json").read_text())["inputs"][0]["boxes"]
    assert boxes["dropped"].get("outside_image") == report and boxes["total"] == 4 and boxes["kept"] == 3


def _exit_code(args) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return exc.code
    return 0


def test_filter_options_change_the_drops(tmp_path, capsys):
    make_wider(tmp_path, "train", IMAGES, write_images=False)
    args = ["--wider", tmp_path, "--no-fail"]
    text = run_ok(capsys, *args, "--keep-invalid", "--min-size", 20, "--max-blur", 1, "--max-occlusion", 1,
                  "--drop-atypical-pose")
    assert re.search(r"2 invalid\s+0$", text, re.M) and figure(text, "invalid") == 1
    assert re.search(r"5 too_small\s+1$", text, re.M)  # 10x12 box
    assert re.search(r"6 blur\s+1$", text, re.M)
    assert figure(text, "kept") == 2


def test_lfw_net_and_celeba_md5(tmp_path, capsys):
    make_lfw_net(tmp_path / "l", "train", [("net_7876\\1.jpg", 80, 80, (10, 60, 12, 62),
                                           landmarks_in_box(10, 12, 60, 62))], write_images=False)
    code, text = run(capsys, "--lfw-net", tmp_path / "l")
    assert code == 1 and "MISMATCH  images: expected 10000, found 1" in text and figure(text, "kept") == 1
    entries = [("000001.jpg", 90, 100, (10, 12, 50, 60), landmarks_in_box(10, 12, 60, 72), 0)]
    make_celeba(tmp_path / "c", entries, write_images=False)
    code, text = run(capsys, "--celeba", tmp_path / "c")
    assert code == 1
    assert "MISMATCH  md5 Anno/list_bbox_celeba.txt: expected 00566efa6fedff7a56946cd1c10f1c16" in text
    assert "MISMATCH  md5 Eval/list_eval_partition.txt" in text
    assert "partition.train" in text


def test_missing_root_draws_the_tree(tmp_path, capsys):
    code, text = run(capsys, "--celeba", tmp_path / "nope")
    assert code == 2
    assert "dataset root folder not found" in text and "list_landmarks_celeba.txt" in text


def test_usage_errors(tmp_path, capsys):
    code, text = run(capsys, "--wider", tmp_path, "--lfw-net", tmp_path)
    assert code == 2 and "give one of --wider, --lfw-net, --celeba" in text
    code, text = run(capsys)
    assert code == 2 and "give one of" in text


def test_release_figures_hold_the_official_figures():
    wider = load_release_figures("wider_face")["splits"]
    assert wider["train"] == dict(images=12880, faces=159420, empty_images=4, degenerate=27, invalid=2399)
    assert wider["val"] == dict(images=3226, faces=39704, empty_images=4, degenerate=7, invalid=585)
    celeba = load_release_figures("celeba")
    assert celeba["md5"]["Eval/list_eval_partition.txt"] == "d32c9cbf5e040fd4025c592c306e6668"
    assert load_release_figures("lfw_net")["splits"]["train"]["images"] == 10000


@pytest.mark.realdata
def test_real_wider_val_all_ok(realdata, capsys):
    images = realdata / "widerface" / "WIDER_val" / "images"
    there = sum(1 for _ in images.rglob("*.jpg")) if images.is_dir() else 0
    code, text = run(capsys, "--wider", realdata / "widerface", "--split", "val")
    mismatches = [line for line in text.splitlines() if "MISMATCH" in line]
    if there < 3226:  # shared/ holds a subset of the val images: only that check may differ
        assert code == 1 and mismatches == [f"    MISMATCH  images present: expected 3226, found {there}"]
    else:
        assert code == 0 and not mismatches
    for line in ("OK        images: 3226", "OK        faces: 39704", "OK        empty_images: 4",
                 "OK        degenerate: 7", "OK        invalid: 585"):
        assert line in text


@pytest.mark.realdata
def test_real_celeba_partition_md5_ok(realdata, tmp_path, capsys):
    root = tmp_path / "celeba"
    (root / "Eval").mkdir(parents=True)
    (root / "Eval/list_eval_partition.txt").symlink_to(realdata / "celeba/Eval/list_eval_partition.txt")
    make_celeba(tmp_path / "fake", [("000001.jpg", 90, 100, (10, 12, 50, 60), landmarks_in_box(10, 12, 60, 72), 0)],
                write_images=False)
    code, text = run(capsys, "--celeba", root, "--bbox", tmp_path / "fake/Anno/list_bbox_celeba.txt",
                     "--landmarks", tmp_path / "fake/Anno/list_landmarks_celeba.txt")
    assert code == 1
    assert "OK        md5 Eval/list_eval_partition.txt: d32c9cbf5e040fd4025c592c306e6668" in text
