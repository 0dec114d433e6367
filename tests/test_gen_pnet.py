"""gen-pnet end to end on small datasets written in the real formats."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from fakedata import gen, run_cli, shard_bytes
from mtcnn_data.core.boxes import encode_offsets, iou_matrix
from mtcnn_data.core.schema import LANDMARK, NEGATIVE, PART, POSITIVE
from mtcnn_data.core.imaging import sample_pixels
from mtcnn_data.io.images import read_rgb
from mtcnn_data.io.shards import read_shard
from mtcnn_data.engine import phases as engine
from mtcnn_data.tools.verify import verify


def test_gen_pnet_writes_verified_balanced_shards(dataset, tmp_path):
    out = tmp_path / "out"
    res = gen(dataset, out, "--shard-mb", "0.05")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["shards"]) > 1  # size-bounded
    kept = manifest["balance"]["kept"]
    k = kept["positive"]
    assert k > 0 and kept == {"negative": 3 * k, "positive": k, "part": k, "landmark": 2 * k}
    assert manifest["balance"]["limiting_class"] in kept
    report = verify(out)
    assert report.ok, report.text()
    assert not (out / ".incomplete").exists()
    shard = read_shard(out / manifest["shards"][0]["name"])
    assert shard["images"].dtype == np.uint8 and shard["images"].shape[1:] == (12, 12, 3)
    assert shard["attrs"]["stage"] == "pnet" and shard["attrs"]["crop_size"] == 12
    assert all(p.startswith(("wider/", "lfw_net/")) for p in shard["source_paths"])


def test_every_sample_rederives_from_its_provenance(dataset, tmp_path):
    out = tmp_path / "out"
    assert gen(dataset, out, "--seed", "3").exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    from mtcnn_data.io.datasets.lfw_net import read_lfw_net
    from mtcnn_data.io.datasets.wider import read_wider

    wider = {r.path: r for r in read_wider(dataset / "wider/wider_face_split/wider_face_train_bbx_gt.txt")}
    lfw = {r.path: r for r in read_lfw_net(dataset / "lfw/trainImageList.txt")}
    roots = {"wider": dataset / "wider/WIDER_train/images", "lfw_net": dataset / "lfw"}
    angle = manifest["output"]["rotation_degrees"]
    seen = set()
    for entry in manifest["shards"]:
        s = read_shard(out / entry["name"])
        for i in range(len(s["labels"])):
            ds, rel = s["source_paths"][s["source"][i]].split("/", 1)
            crop = s["crop_box"][i]
            pixels = sample_pixels(read_rgb(roots[ds] / rel), crop.astype(int), 12, s["augment"][i], angle)
            assert np.array_equal(pixels, s["images"][i])
            label = s["labels"][i]
            seen.add(int(label))
            rec = (wider if ds == "wider" else lfw)[rel]
            if label == LANDMARK:
                continue  # landmark targets are checked on real data with the augmentation geometry
            ious = iou_matrix(crop[None], rec.boxes)[0] if len(rec.boxes) else np.zeros(1)
            kept = iou_matrix(crop[None], rec.kept_boxes)[0] if rec.keep.any() else np.zeros(1)
            if label == NEGATIVE:
                assert ious.max() < 0.3 and np.allclose(s["bbox"][i], 0)
            else:
                best = int(np.argmax(kept))
                assert abs(kept[best] - s["iou"][i]) < 1e-5
                assert (kept[best] > 0.65) if label == POSITIVE else (0.4 <= kept[best] <= 0.65)
                want = encode_offsets(crop[None], rec.kept_boxes[best][None])[0]
                np.testing.assert_allclose(s["bbox"][i], want, atol=1e-5)
    assert seen == {NEGATIVE, POSITIVE, PART, LANDMARK}


def test_workers_do_not_change_a_byte(dataset, tmp_path):
    assert gen(dataset, tmp_path / "w1", "--workers", "1", "--shard-mb", "0.05").exit_code == 0
    assert gen(dataset, tmp_path / "w2", "--workers", "2", "--shard-mb", "0.05", "--unit-size", "5").exit_code == 0
    a, b = shard_bytes(tmp_path / "w1"), shard_bytes(tmp_path / "w2")
    assert a and a == b


def test_seed_changes_the_output(dataset, tmp_path):
    assert gen(dataset, tmp_path / "s0").exit_code == 0
    assert gen(dataset, tmp_path / "s1", "--seed", "1").exit_code == 0
    assert shard_bytes(tmp_path / "s0") != shard_bytes(tmp_path / "s1")


class Crash(Exception):
    pass


def test_interrupted_run_resumes_to_identical_shards(dataset, tmp_path, monkeypatch):
    ref = tmp_path / "ref"
    assert gen(dataset, ref, "--unit-size", "4").exit_code == 0
    out = tmp_path / "out"
    calls = {"n": 0}
    real = engine.read_rgb

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] > 12:
            raise Crash("simulated crash mid-cut")
        return real(*a, **k)

    monkeypatch.setattr(engine, "read_rgb", dying)
    crashed = gen(dataset, out, "--unit-size", "4")
    assert isinstance(crashed.exception, Crash)
    monkeypatch.setattr(engine, "read_rgb", real)
    assert (out / ".incomplete").exists() and not (out / "manifest.json").exists()
    assert not list(out.glob("*.h5"))  # nothing half-done in DIR itself
    refused = gen(dataset, out, "--unit-size", "4")
    assert refused.exit_code != 0 and "--resume" in str(refused.exception or refused.output)
    res = gen(dataset, out, "--unit-size", "4", "--resume")
    assert res.exit_code == 0, res.output
    assert shard_bytes(out) == shard_bytes(ref)
    assert verify(out).ok


def test_refuses_to_clobber_and_to_resume_with_other_settings(dataset, tmp_path):
    out = tmp_path / "out"
    assert gen(dataset, out).exit_code == 0
    again = gen(dataset, out)
    assert again.exit_code != 0 and "already holds a finished run" in str(again.exception)
    assert gen(dataset, out, "--overwrite").exit_code == 0
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    res = gen(dataset, busy)
    assert res.exit_code != 0 and "not empty" in str(res.exception)
    assert (busy / "notes.txt").read_text() == "mine"
    half = tmp_path / "half"
    (half / ".incomplete").mkdir(parents=True)
    (half / ".incomplete" / "run.json").write_text(json.dumps({"seed": 99}))
    res = gen(dataset, half, "--resume")
    assert res.exit_code != 0 and "other settings" in str(res.exception)


def test_missing_images_fail_with_a_count_or_are_skipped(dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    gone = data / "wider/WIDER_train/images/0--Event/img_7.jpg"
    gone.unlink()
    res = run_cli("gen-pnet", "--wider", data / "wider", "--lfw-net", data / "lfw", "--out", tmp_path / "o")
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "1 image(s) are missing" in msg and "img_7.jpg" in msg and "--skip-missing" in msg
    res = run_cli("gen-pnet", "--wider", data / "wider", "--lfw-net", data / "lfw", "--out", tmp_path / "o",
                  "--resume", "--skip-missing")
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "o/manifest.json").read_text())
    assert manifest["images_skipped"] == [{"image": "wider/0--Event/img_7.jpg", "reason": "missing"}]


def test_verify_catches_corruption(dataset, tmp_path):
    out = tmp_path / "out"
    assert gen(dataset, out, "--shard-mb", "0.05").exit_code == 0
    names = [p.name for p in sorted(out.glob("*.h5"))]
    flipped = out / names[0]
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    truncated = out / names[1]
    truncated.write_bytes(truncated.read_bytes()[:2000])
    (out / "shard-09999.h5").write_bytes(b"")
    res = run_cli("verify", out)
    assert res.exit_code == 1
    assert f"{names[0]}: sha256" in res.output
    assert f"{names[1]}: sha256" in res.output and "cannot be read" in res.output
    assert "shards not in the manifest: shard-09999.h5" in res.output


def test_verify_catches_inconsistent_labels(dataset, tmp_path):
    out = tmp_path / "out"
    assert gen(dataset, out).exit_code == 0
    name = sorted(out.glob("*.h5"))[0]
    with h5py.File(name, "r+") as f:
        labels = f["labels"][()]
        i = int(np.flatnonzero(labels == NEGATIVE)[0])
        iou = f["iou"][()]
        iou[i] = 0.9
        f["iou"][...] = iou
    report = verify(out)
    assert not report.ok
    assert any(f"1 sample(s) fail 'negative iou < 0.3' (rows {i})" in f for f in report.faults), report.faults


def test_bundled_sample_quick_start(tmp_path):
    """The README's first command, through the installed console script."""
    exe = Path(sys.executable).with_name("mtcnn-data")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mtcnn_data.cli.main"]
    out = tmp_path / "pnet-sample"
    run = subprocess.run(cmd + ["gen-pnet", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "bundled sample" in run.stderr
    check = subprocess.run(cmd + ["verify", str(out)], capture_output=True, text=True)
    assert check.returncode == 0 and "PASSED" in check.stdout, check.stdout


def test_help_does_not_import_torch():
    code = "import sys; from mtcnn_data.cli.main import main\ntry:\n main(['--help'])\nexcept SystemExit: pass\n" \
           "for c in ['gen-pnet','verify','annotations']:\n try:\n  main([c,'--help'])\n except SystemExit: pass\n" \
           "assert 'torch' not in sys.modules, 'torch imported'\nassert 'h5py' not in sys.modules, 'h5py imported'"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


class _Terminal:
    """A stderr that says it is a terminal and keeps what is written."""

    def __init__(self):
        self.text = []

    def isatty(self):
        return True

    def write(self, s):
        self.text.append(s)
        return len(s)

    def flush(self):
        pass


def test_progress_shows_live_class_counts_on_a_terminal_only(tmp_path, monkeypatch):
    from mtcnn_data.engine import progress
    from mtcnn_data.jobs.gen_pnet import gen_pnet
    from mtcnn_data.engine.run import RunOptions
    from mtcnn_data.jobs.sources import sample_sources

    monkeypatch.delenv("CI", raising=False)
    sources = sample_sources()
    term = _Terminal()
    monkeypatch.setattr(progress.sys, "stderr", term)
    gen_pnet(tmp_path / "tty", sources, run=RunOptions(log=lambda m: None))
    shown = "".join(term.text)
    for phase in ("plan", "cut", "shards"):
        assert phase in shown
    assert "nega=" in shown and "posi=" in shown and "land=" in shown  # live per-class counts

    class Pipe(_Terminal):
        def isatty(self):
            return False

    pipe = Pipe()
    monkeypatch.setattr(progress.sys, "stderr", pipe)
    gen_pnet(tmp_path / "pipe", sources, run=RunOptions(log=lambda m: None))
    assert "".join(pipe.text) == ""
