"""WIDER FACE AP by the official protocol: the core, the files, the ``evaluate`` command.

The real-data test scores detections made here against the toolkit's real ground truth
and checks the AP against a plain re-implementation of the protocol written below
(loops, no shared code), ignored faces included.
"""

from __future__ import annotations

import json
import sys

import click
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from mtcnn_data.cli.main import cli, main
from mtcnn_data.core.wider_ap import envelope_ap, match_detections, normalise_scores
from mtcnn_data.errors import AnnotationError, LayoutError
from mtcnn_data.io.wider_eval import read_submission, read_submission_file, write_submission

from fakedata import make_wider, make_wider_eval_gt

SETTINGS = ("easy", "medium", "hard")
ALL = {"easy": [1], "medium": [1], "hard": [1]}


# ----------------------------------------------------------------- an independent reference


def _reference_iou(a, b):
    """IoU of two x y w h boxes spanning the pixels x .. x+w inclusive (the toolkit's rule)."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = min(ax2, bx2) - max(a[0], b[0]) + 1
    ih = min(ay2, by2) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    union = (a[2] + 1) * (a[3] + 1) + (b[2] + 1) * (b[3] + 1) - iw * ih
    return iw * ih / union


def _reference_ap(dets, gts, keeps):
    """The protocol in plain Python: ``dets[img]`` = [(x, y, w, h, s)], ``gts[img]`` = [(x, y, w, h)],
    ``keeps[img]`` = set of kept 0-based indices. Returns the AP."""
    scores = [d[4] for img in dets for d in dets[img]]
    lo, hi = min(scores), max(scores)
    proposals, found = [0] * 1000, [0] * 1000
    faces = 0
    for img in dets:
        faces += len(keeps[img])
        ds = sorted(dets[img], key=lambda d: -d[4])
        recalled, cum_found, is_proposal = [0] * len(gts[img]), [], []
        for d in ds:
            ious = [_reference_iou(d, g) for g in gts[img]]
            best = max(range(len(ious)), key=lambda k: (ious[k], -k)) if ious else None
            proposal = True
            if best is not None and ious[best] >= 0.5:
                if best not in keeps[img]:
                    recalled[best], proposal = -1, False
                elif recalled[best] == 0:
                    recalled[best] = 1
            cum_found.append(sum(1 for r in recalled if r == 1))
            is_proposal.append(proposal)
        norm = [(d[4] - lo) / (hi - lo) for d in ds]
        for t in range(1000):
            level = 1 - (t + 1) / 1000
            above = [i for i, s in enumerate(norm) if s >= level]
            if above:
                proposals[t] += sum(is_proposal[: above[-1] + 1])
                found[t] += cum_found[above[-1]]
    precision = [f / p if p else None for f, p in zip(found, proposals)]
    recall = [f / faces for f in found]
    rec, prec = [0.0] + recall + [1.0], [0.0] + precision + [0.0]
    for i in range(len(prec) - 2, -1, -1):
        prec[i] = prec[i + 1] if prec[i] is None else max(prec[i], prec[i + 1])
    return sum((rec[i] - rec[i - 1]) * prec[i] for i in range(1, len(rec)) if rec[i] != rec[i - 1])


# ----------------------------------------------------------------- helpers


def _write_txt(folder, event, name, rows):
    """A submission file written by hand (not by the package's writer)."""
    path = folder / event / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{name}\n{len(rows)}\n" + "".join(" ".join(f"{v:g}" for v in r) + " \n" for r in rows))
    return path


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def _console(args):
    """The console entry point, as a user runs it (library errors become one line + exit 2)."""
    main(list(args))


def _evaluate(*args):
    return CliRunner().invoke(_console, ["evaluate", *map(str, args)])


@pytest.fixture
def scipy_io():
    """scipy.io: the evaluation extra (the README's test command installs it)."""
    return pytest.importorskip("scipy.io", reason='needs the evaluation extra: pip install "mtcnn-data[eval]"')


TINY = {
    ("0--A", "a"): ([[10, 10, 40, 40], [100, 10, 40, 40]], {"easy": [1], "medium": [1, 2], "hard": [1, 2]}),
    ("0--A", "b"): ([[0, 0, 0, 0]], {"easy": [], "medium": [], "hard": []}),
    ("1--B", "c"): ([[20, 20, 30, 30]], ALL),
}


@pytest.fixture
def tiny_gt(tmp_path, scipy_io):
    """Three images; ``a`` has a kept face and a face ignored in easy; ``b`` none; ``c`` a kept face."""
    return make_wider_eval_gt(tmp_path / "gt", TINY)


# ----------------------------------------------------------------- real ground truth


@pytest.mark.realdata
def test_ap_on_the_real_ground_truth_equals_a_plain_reimplementation(realdata, tmp_path, scipy_io):
    gt_dir = realdata / "widerface" / "eval_tools" / "ground_truth"
    main = scipy_io.loadmat(str(gt_dir / "wider_face_val.mat"))
    lists = {s: scipy_io.loadmat(str(gt_dir / f"wider_{s}_val.mat"))["gt_list"] for s in SETTINGS}
    rng = np.random.default_rng(11)
    chosen = [(0, j) for j in range(4)] + [(1, 0), (12, 3)]
    dets, gts, keeps = {}, {}, {s: {} for s in SETTINGS}
    for i, j in chosen:
        event, name = str(main["event_list"][i][0][0]), str(main["file_list"][i][0][j][0][0])
        boxes = main["face_bbx_list"][i][0][j][0].astype(float)
        rows = []
        for k, (x, y, w, h) in enumerate(boxes):
            shift = (0.0, 0.05, 0.2, 0.45)[k % 4] * max(w, 1)  # found, found, borderline, missed
            rows.append((x + shift, y, w, h, round(float(rng.uniform(0.5, 1.0)), 4)))
            if k % 5 == 0:
                rows.append((x + 1, y + 1, w, h, round(float(rng.uniform(0.5, 1.0)), 4)))  # a duplicate
        rows += [(float(rng.uniform(0, 900)), float(rng.uniform(0, 600)), 30.0, 30.0,
                  round(float(rng.uniform(0.5, 1.0)), 4)) for _ in range(3)]  # false positives
        _write_txt(tmp_path / "dets", event, name, rows)
        dets[(event, name)], gts[(event, name)] = rows, [tuple(b) for b in boxes]
        for s in SETTINGS:
            keeps[s][(event, name)] = {int(v) - 1 for v in lists[s][i][0][j][0].ravel()}
    assert any(len(keeps["easy"][k]) < len(gts[k]) for k in gts), "the images must have ignored faces"

    out = tmp_path / "ap.json"
    result = _evaluate("--detections", tmp_path / "dets", "--gt-dir", gt_dir, "--json", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for s in SETTINGS:
        assert report["ap"][s] == pytest.approx(_reference_ap(dets, gts, keeps[s]), abs=1e-9), s
        assert report["faces"][s] == sum(len(v) for v in keeps[s].values())
    assert report["images"] == len(chosen) and report["images_in_ground_truth"] == 3226
    assert report["faces_in_ground_truth"] == {"easy": 7211, "medium": 13319, "hard": 31958}
    assert f"covering {len(chosen)} of 3226 images" in result.output


# ----------------------------------------------------------------- the protocol on synthetic truth


def test_hand_computed_ap(tiny_gt, tmp_path):
    # image c: one kept face. Detections: hit (0.9), false positive (0.8); image a: hit on face 1 (0.7)
    _write_txt(tmp_path / "d", "1--B", "c", [(20, 20, 30, 30, 0.9), (300, 300, 10, 10, 0.8)])
    _write_txt(tmp_path / "d", "0--A", "a", [(10, 10, 40, 40, 0.7)])
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    # easy keeps 2 faces: recall 1/2 at precision 1, then 2/2 at precision 2/3
    assert report["ap"]["easy"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # medium keeps 3 faces (a's second one too): 1/3 at 1, 2/3 at 2/3
    assert report["ap"]["medium"] == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)
    assert len(report["curves"]["easy"]["precision"]) == 1000


def test_a_detection_on_an_ignored_face_is_neither_hit_nor_false_positive(tiny_gt, tmp_path):
    base = [(10, 10, 40, 40, 0.9)]
    _write_txt(tmp_path / "plain", "0--A", "a", base + [(0, 300, 5, 5, 0.1)])
    _write_txt(tmp_path / "ignored", "0--A", "a", base + [(100, 10, 40, 40, 0.95), (0, 300, 5, 5, 0.1)])
    _write_txt(tmp_path / "false", "0--A", "a", base + [(400, 400, 40, 40, 0.95), (0, 300, 5, 5, 0.1)])
    ap = {}
    for name in ("plain", "ignored", "false"):
        r = _evaluate("--detections", tmp_path / name, "--gt-dir", tiny_gt, "--json", tmp_path / f"{name}.json")
        assert r.exit_code == 0, r.output
        ap[name] = json.loads((tmp_path / f"{name}.json").read_text())["ap"]
    assert ap["ignored"]["easy"] == pytest.approx(ap["plain"]["easy"]) == pytest.approx(1.0)
    assert ap["false"]["easy"] < 0.9
    assert ap["ignored"]["medium"] > ap["plain"]["medium"]  # medium keeps that face: a hit there


def test_match_detections_counts_a_face_once_and_drops_ignored_matches():
    truth = np.array([[0, 0, 10, 10], [50, 0, 10, 10]], float)
    dets = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 0, 10, 10], [200, 0, 10, 10]], float)
    found, proposal = match_detections(dets, truth, np.array([True, False]))
    assert found.tolist() == [1, 1, 1, 1] and proposal.tolist() == [True, True, False, True]


def test_score_normalisation_and_envelope():
    a, b, c = normalise_scores([np.array([2.0, 4.0]), np.array([]), np.array([3.0])])
    assert a.tolist() == [0.0, 1.0] and b.tolist() == [] and c.tolist() == [0.5]
    assert normalise_scores([np.array([5.0, 5.0])])[0].tolist() == [1.0, 1.0]  # the toolkit would divide by 0
    assert envelope_ap(np.array([0.5, 0.5, 1.0]), np.array([np.nan, 0.4, 0.8])) == pytest.approx(0.8)


def test_a_subset_is_scored_on_its_images_and_says_what_it_covers(tiny_gt, tmp_path):
    _write_txt(tmp_path / "d", "1--B", "c", [(20, 20, 30, 30, 0.9)])
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["images"] == 1 and report["images_in_ground_truth"] == 3
    assert report["faces"] == {"easy": 1, "medium": 1, "hard": 1}
    assert report["faces_in_ground_truth"] == {"easy": 2, "medium": 3, "hard": 3}
    assert report["ap"]["hard"] == pytest.approx(1.0)
    assert "covering 1 of 3 images; faces: 1 of 2 easy, 1 of 3 medium, 1 of 3 hard" in result.output


def test_png_draws_three_curves(tiny_gt, tmp_path):
    _write_txt(tmp_path / "d", "1--B", "c", [(20, 20, 30, 30, 0.9), (0, 0, 9, 9, 0.3)])
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt, "--png", tmp_path / "pr.png")
    assert result.exit_code == 0, result.output
    image = cv2.imread(str(tmp_path / "pr.png"))
    assert image is not None and image.shape[2] == 3 and (image < 250).any()


# ----------------------------------------------------------------- files and bad input


def test_submission_round_trip(tmp_path):
    path = write_submission(tmp_path / "out", "/data/WIDER_val/images/3--Riot/3_Riot_1.jpg",
                            np.array([[10.0, 20.0, 40.5, 61.0]]), np.array([0.875]))
    assert path == tmp_path / "out" / "3--Riot" / "3_Riot_1.txt"
    assert path.read_text().splitlines()[:2] == ["3_Riot_1", "1"]
    assert read_submission(tmp_path / "out")[("3--Riot", "3_Riot_1")].tolist() == [[10.0, 20.0, 30.5, 41.0, 0.875]]


@pytest.mark.parametrize("text, line, expected", [
    ("", 1, "the image name"),
    ("other_name\n1\n1 2 3 4 0.5\n", 1, "the image name 'x'"),
    ("x\nmany\n", 2, "the number of faces"),
    ("x\n2\n1 2 3 4 0.5\n", 4, "2 face line(s)"),
    ("x\n1\n1 2 3 0.5\n", 3, "5 numbers"),
    ("x\n1\n1 2 3 4 0.5\n5 6 7 8 0.2\n", 4, "only the 1 face line(s)"),
])
def test_malformed_detection_files_name_file_and_line(tmp_path, text, line, expected):
    path = tmp_path / "x.txt"
    path.write_text(text)
    with pytest.raises(AnnotationError) as err:
        read_submission_file(path)
    assert err.value.line == line and expected in str(err.value) and str(path) in str(err.value)


def test_malformed_file_is_one_error_line_from_the_cli(tiny_gt, tmp_path):
    path = _write_txt(tmp_path / "d", "0--A", "a", [(1, 2, 3, 4, 0.5)])
    path.write_text("a\n3\n1 2 3 4 0.5\n")
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt)
    assert result.exit_code != 0 and f"{path}:4" in result.output and "Traceback" not in result.output


def test_images_unknown_to_the_ground_truth_are_refused(tiny_gt, tmp_path):
    _write_txt(tmp_path / "d", "0--A", "a", [(10, 10, 40, 40, 0.9)])
    _write_txt(tmp_path / "d", "9--Z", "zz", [(10, 10, 40, 40, 0.9)])
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt)
    assert result.exit_code != 0 and "9--Z/zz" in result.output and "does not know" in result.output


def test_an_empty_detection_folder_is_an_error(tiny_gt, tmp_path):
    (tmp_path / "d").mkdir()
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt)
    assert result.exit_code != 0 and "no detection files" in result.output


@pytest.mark.parametrize("missing", ["wider_face_val.mat", "wider_hard_val.mat"])
def test_a_ground_truth_folder_missing_a_file_names_it(tiny_gt, tmp_path, missing):
    (tiny_gt / missing).unlink()
    _write_txt(tmp_path / "d", "0--A", "a", [(10, 10, 40, 40, 0.9)])
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt)
    assert result.exit_code != 0 and str(tiny_gt / missing) in result.output


def test_without_scipy_the_error_says_what_to_install(tmp_path, monkeypatch):
    for name in ("wider_face_val", "wider_easy_val", "wider_medium_val", "wider_hard_val"):
        (tmp_path / f"{name}.mat").write_bytes(b"")
    _write_txt(tmp_path / "d", "0--A", "a", [(10, 10, 40, 40, 0.9)])
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    result = _evaluate("--detections", tmp_path / "d", "--gt-dir", tmp_path)
    assert result.exit_code != 0 and 'pip install "mtcnn-data[eval]"' in result.output
    assert "Traceback" not in result.output


def test_conflicting_options_are_refused(tiny_gt, tmp_path):
    (tmp_path / "d").mkdir()
    both = _evaluate("--detections", tmp_path / "d", "--gt-dir", tiny_gt, "--pnet", "facenet", "--max-images", "3")
    assert both.exit_code != 0 and "cannot be combined with --pnet, --max-images" in both.output
    assert "needs --gt-dir" in _evaluate("--detections", tmp_path / "d").output
    assert "give --gt-dir too" in _evaluate("--pnet", "facenet", "--wider", tmp_path, "--png", tmp_path / "x.png").output
    nothing = _evaluate("--wider", tmp_path)
    assert nothing.exit_code != 0 and "--pnet" in nothing.output and "--detections" in nothing.output
    no_data = _evaluate("--pnet", "facenet")
    assert no_data.exit_code != 0 and "--wider ROOT" in no_data.output and "--annotations" not in no_data.output
    half = _evaluate("--pnet", "facenet", "--wider-annotations", tmp_path / "gt.txt")
    assert half.exit_code != 0 and "--wider-images DIR" in half.output and "--images" not in half.output


def test_missing_ground_truth_folder_is_a_layout_error(tmp_path):
    from mtcnn_data.io.wider_eval import load_ground_truth

    with pytest.raises(LayoutError, match="not a folder"):
        load_ground_truth(tmp_path / "nowhere")


# ----------------------------------------------------------------- with a detector


@pytest.fixture
def tiny_wider(tmp_path):
    """The images of TINY as a WIDER val folder (real JPEGs, a blob in every face)."""
    images = [(f"{e}/{n}.jpg", 160, 120, [b for b in boxes if b[2] > 0]) for (e, n), (boxes, _) in TINY.items()]
    make_wider(tmp_path / "wider", "val", images)
    return tmp_path / "wider"


@pytest.fixture
def random_nets(tmp_path):
    torch = pytest.importorskip("torch")
    from mtcnn_data.detect.models import build_model

    torch.manual_seed(0)
    paths = []
    for stage in ("pnet", "rnet", "onet"):
        torch.save(build_model(stage).state_dict(), tmp_path / f"{stage}.pth")
        paths += [f"--{stage}", tmp_path / f"{stage}.pth"]
    return paths


def test_evaluate_with_a_detector_reports_ap_like_its_submission_folder(tiny_wider, tiny_gt, random_nets, tmp_path):
    args = [*random_nets, "--thresholds", "0,0,0", "--min-face", "12"]
    run = _evaluate(*args, "--wider", tiny_wider, "--gt-dir", tiny_gt, "--max-images", 2, "--json", tmp_path / "r.json")
    assert run.exit_code == 0, run.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["images"] == 2 and report["max_images"] == 2 and set(report["ap"]) == set(SETTINGS)
    assert "recall" in run.output and "covering 2 of 3 images" in run.output

    jpgs = [tiny_wider / "WIDER_val" / "images" / e / f"{n}.jpg" for e, n in list(TINY)[:2]]
    detect = CliRunner().invoke(cli, ["detect", *map(str, jpgs), *map(str, args), "--wider-txt", str(tmp_path / "txt")])
    assert detect.exit_code == 0, detect.output
    scored = _evaluate("--detections", tmp_path / "txt", "--gt-dir", tiny_gt, "--json", tmp_path / "s.json")
    assert scored.exit_code == 0, scored.output
    again = json.loads((tmp_path / "s.json").read_text())["ap"]
    assert again == pytest.approx(report["ap"], abs=1e-6)


def test_evaluate_on_workers_reports_what_one_process_reports(tiny_wider, tiny_gt, random_nets, tmp_path):
    args = [*random_nets, "--thresholds", "0.3,0.3,0.3", "--min-face", "12", "--wider", tiny_wider, "--gt-dir", tiny_gt]
    reports = []
    for n in (1, 2):
        run = _evaluate(*args, "--workers", n, "--json", tmp_path / f"w{n}.json")
        assert run.exit_code == 0, run.output
        reports.append(json.loads((tmp_path / f"w{n}.json").read_text()))
    assert reports[0]["images"] == 3 and reports[0]["detections"] > 0
    one, two = reports  # one process runs torch's threads, a worker one: scores equal to float tolerance
    assert {k: two[k] for k in ("images", "faces", "matched", "detections")} == {k: one[k] for k in ("images", "faces", "matched", "detections")}
    assert two["ap"] == pytest.approx(one["ap"], abs=1e-6)
    assert "on 2 workers" in run.output
    refused = _evaluate("--detections", tmp_path, "--gt-dir", tiny_gt, "--workers", 2)
    assert refused.exit_code != 0 and "cannot be combined with --workers" in refused.output


def test_no_annotated_image_present_is_an_error(tiny_wider, random_nets):
    for jpg in (tiny_wider / "WIDER_val" / "images").rglob("*.jpg"):
        jpg.unlink()
    result = _evaluate(*random_nets, "--wider", tiny_wider)
    assert result.exit_code != 0 and "none of the images annotated" in result.output
