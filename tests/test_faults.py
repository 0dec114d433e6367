"""Faults during a run: a full disk, Ctrl-C, kill -9 of the run or of one worker, hostile
checkpoints, corrupted shards. Each stops cleanly (or recovers by itself) and
``--resume`` ends with the same bytes as an uninterrupted run."""

import errno
import json
import os
import signal
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from fakedata import KillOnce, gen, kill_one_worker_in_plan, run_cli, shard_bytes, stop_then_resume
from mtcnn_data.detect import checkpoints
from mtcnn_data.errors import OutputError
from mtcnn_data.io import files


def leftovers(out: Path) -> list:
    return sorted(p.name for p in out.glob("*.h5")) + sorted(str(p) for p in out.rglob("*.tmp"))


SLOW_RUN = ("--unit-size", "1", "--workers", "2", "--shard-mb", "0.05")


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    res = gen(dataset, out, "--shard-mb", "0.05")
    assert res.exit_code == 0, res.output
    return shard_bytes(out)


# ---------------------------------------------------------------- a full disk


@pytest.mark.parametrize("fail_at", [3, 14], ids=["in-plan", "in-cut"])
def test_disk_full_says_so_leaves_nothing_half_written_and_resume_continues(dataset, tmp_path, monkeypatch,
                                                                            reference, fail_at):
    real_save = np.save
    saves = {"n": 0}

    def filling_disk(f, arr, *a, **k):
        saves["n"] += 1
        if saves["n"] >= fail_at:
            f.write(b"\x93NUMPY half a header")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(f, arr, *a, **k)

    monkeypatch.setattr(files.np, "save", filling_disk)
    out = tmp_path / "out"
    res = gen(dataset, out, "--unit-size", "4", "--shard-mb", "0.05")
    assert isinstance(res.exception, OutputError), res.output
    msg = str(res.exception)
    assert "the disk is full" in msg and "No space left on device" in msg and "--resume" in msg
    assert leftovers(out) == []
    monkeypatch.setattr(files.np, "save", real_save)
    res = gen(dataset, out, "--unit-size", "4", "--shard-mb", "0.05", "--resume")
    assert res.exit_code == 0, res.output
    assert shard_bytes(out) == reference


# ---------------------------------------------------------------- Ctrl-C and kill -9


@pytest.mark.slow
def test_sigint_stops_cleanly_and_resume_continues(dataset, tmp_path, reference):
    err = stop_then_resume(dataset, tmp_path / "out", signal.SIGINT, SLOW_RUN, reference)
    assert "Interrupted: finished work is kept; rerun the same command with --resume to continue." in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_kill_9_of_the_whole_run_then_resume_gives_identical_shards(dataset, tmp_path, reference):
    stop_then_resume(dataset, tmp_path / "out", signal.SIGKILL, SLOW_RUN, reference)


@pytest.mark.slow
def test_a_killed_local_worker_costs_only_unfinished_units(dataset, tmp_path, monkeypatch, reference):
    state = tmp_path / "state"
    kill_one_worker_in_plan(monkeypatch, victim=3, state=state)
    out = tmp_path / "out"
    res = gen(dataset, out, "--unit-size", "4", "--workers", "2", "--shard-mb", "0.05")
    assert res.exit_code == 0, res.output
    assert (state / "killed").exists()
    runs = KillOnce.runs(state)
    assert set(runs) == set(range(10)) and runs[3] == 2
    assert sum(runs.values()) - 10 <= 1 + 2 * 2  # the victim, and at most what was in flight on the pool
    assert shard_bytes(out) == reference


# ---------------------------------------------------------------- checkpoints that carry code


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_checkpoint_that_pickles_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Payload(marker)}, path)
    with pytest.raises(checkpoints.CheckpointError) as err:
        checkpoints.load_stage(str(path), "pnet")
    assert "refused" in str(err.value) and "pickles Python objects or code" in str(err.value)
    assert "state_dict" in str(err.value)
    assert not marker.exists(), "the pickled payload ran"


def test_whole_pickled_model_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 10, 3)), path)
    with pytest.raises(checkpoints.CheckpointError, match="refused: the file pickles Python objects or code"):
        checkpoints.load_stage(str(path), "pnet")


# ---------------------------------------------------------------- corrupted output


@pytest.fixture
def finished(dataset, tmp_path):
    out = tmp_path / "out"
    assert gen(dataset, out, "--shard-mb", "0.05").exit_code == 0
    return out


def faults_of(out) -> str:
    res = run_cli("verify", out)
    assert res.exit_code == 1, res.output
    return res.output


def test_verify_catches_a_missing_and_an_emptied_shard(finished):
    names = sorted(p.name for p in finished.glob("*.h5"))
    (finished / names[0]).unlink()
    (finished / names[1]).write_bytes(b"")
    text = faults_of(finished)
    assert f"{names[0]}: listed in the manifest but missing" in text
    assert f"{names[1]}: sha256" in text and "cannot be read" in text


def test_verify_catches_corrupted_pixels_even_with_a_matching_checksum(finished):
    """Bytes flipped inside a compressed chunk, and the manifest's checksum forged to match."""
    name = sorted(finished.glob("*.h5"))[0]
    with h5py.File(name, "r") as f:
        offset = f["images"].id.get_chunk_info(0).byte_offset
    data = bytearray(name.read_bytes())
    data[offset + 50:offset + 60] = bytes(b ^ 0xFF for b in data[offset + 50:offset + 60])
    name.write_bytes(bytes(data))
    manifest = json.loads((finished / "manifest.json").read_text())
    from mtcnn_data.io.shards import file_sha256

    entry = next(e for e in manifest["shards"] if e["name"] == name.name)
    entry["sha256"] = file_sha256(name)
    (finished / "manifest.json").write_text(json.dumps(manifest))
    assert f"{name.name}: dataset 'images' chunk 0 (rows 0.." in faults_of(finished)


def test_verify_catches_an_unreadable_manifest_and_leftovers(finished):
    (finished / ".shard-00000.h5.1234.tmp").write_bytes(b"half")
    assert "temporary files left behind: .shard-00000.h5.1234.tmp" in faults_of(finished)
    (finished / "manifest.json").write_text('{"format": "mtcnn-data shards", "shards": [')
    assert "manifest.json: not readable JSON" in faults_of(finished)
    (finished / "manifest.json").unlink()
    assert "manifest.json: missing" in faults_of(finished)
