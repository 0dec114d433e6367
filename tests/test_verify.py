"""``verify`` decodes every chunk of every dataset: damage anywhere is found and located."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from mtcnn_data.cli.main import cli
from mtcnn_data.io import shards as shards_module
from mtcnn_data.io.files import file_sha256
from mtcnn_data.io.reader import ShardReadError, open_shards
from mtcnn_data.tools.verify import verify


@pytest.fixture
def many_chunks(dataset, tmp_path, monkeypatch):
    """A run whose shards hold many chunks per dataset (4 KiB chunks: 9 rows of images)."""
    monkeypatch.setattr(shards_module, "CHUNK_BYTES", 4096)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["gen-pnet", "--wider", str(dataset / "wider"), "--lfw-net", str(dataset / "lfw"),
                                   "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert verify(out).ok
    return out


def damage_chunk(path, dataset: str, chunk: int) -> tuple:
    """Flip bytes in the middle of one stored chunk; the chunk's rows ``(start, stop)``."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        info = ds.id.get_chunk_info(chunk)
        rows = ds.chunks[0]
        start, stop = info.chunk_offset[0], min(info.chunk_offset[0] + rows, ds.shape[0])
    data = bytearray(path.read_bytes())
    at = info.byte_offset + info.size // 2
    data[at:at + 4] = bytes(b ^ 0xA5 for b in data[at:at + 4])
    path.write_bytes(bytes(data))
    return start, stop


def forge_checksum(out, path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    next(e for e in manifest["shards"] if e["name"] == path.name)["sha256"] = file_sha256(path)
    (out / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("dataset_name", ["images", "bbox"])
def test_damage_in_a_middle_chunk_is_found_with_a_forged_checksum(many_chunks, dataset_name):
    path = sorted(many_chunks.glob("*.h5"))[0]
    with h5py.File(path, "r") as f:
        n_chunks = f[dataset_name].id.get_num_chunks()
    assert n_chunks >= 3, f"{dataset_name}: {n_chunks} chunk(s); the test needs a middle one"
    middle = n_chunks // 2
    start, stop = damage_chunk(path, dataset_name, middle)
    forge_checksum(many_chunks, path)
    report = verify(many_chunks)
    assert not report.ok
    wanted = f"{path.name}: dataset '{dataset_name}' chunk {middle} (rows {start:,}..{stop - 1:,}) cannot be decoded"
    assert any(wanted in f for f in report.faults), report.faults
    assert not any("sha256" in f or "cannot be read" in f for f in report.faults), report.faults
    assert not any("ratio" in c for c in report.checked)  # an unreadable shard: no ratio claimed
    res = CliRunner().invoke(cli, ["verify", str(many_chunks)])
    assert res.exit_code == 1 and wanted in res.output and "Traceback" not in res.output


def test_a_value_out_of_range_in_any_row_is_found(many_chunks):
    """A landmark target rewritten in the last row (through HDF5, so every chunk decodes)."""
    path = sorted(many_chunks.glob("*.h5"))[-1]
    with h5py.File(path, "r+") as f:
        labels = f["labels"][()]
        row = int(np.flatnonzero(labels == -2)[-1])
        marks = f["landmarks"][()]
        marks[row, 3] = 1.5
        f["landmarks"][...] = marks
    report = verify(many_chunks)
    assert any(f"fail 'landmark targets in [0, 1) for landmark samples' (rows {row})" in f for f in report.faults), report.faults


def test_an_unreadable_shard_claims_no_ratio(many_chunks):
    path = sorted(many_chunks.glob("*.h5"))[0]
    path.write_bytes(b"not hdf5 at all")
    forge_checksum(many_chunks, path)
    report = verify(many_chunks)
    assert any(f"{path.name}: cannot be read as an HDF5 shard" in f for f in report.faults)
    assert any("class totals and ratio not checked: 1 shard(s) could not be read" in f for f in report.faults)
    assert not any("ratio" in c for c in report.checked), report.checked


def test_the_report_says_what_was_checked_on_every_shard(many_chunks):
    report = verify(many_chunks)
    manifest = json.loads((many_chunks / "manifest.json").read_text())
    for entry in manifest["shards"]:
        with shards_module.ShardFile(many_chunks / entry["name"]) as shard:
            chunks = sum(len(shard.chunk_ranges(k)) for k in shards_module.FIELD_NAMES)
        line = next(c for c in report.checked if c.startswith(entry["name"]))
        assert f"{entry['count']:,} samples" in line and f"all {chunks} chunk(s)" in line
    assert any(c.startswith("on every row of every shard: label codes known") for c in report.checked)


def set_schema_attribute(out, path, value) -> None:
    """Replace (``None``: delete) a shard's stored schema and forge its checksum."""
    with h5py.File(path, "r+") as f:
        if value is None:
            del f.attrs["schema"]
        else:
            f.attrs["schema"] = value
    forge_checksum(out, path)


def test_a_shard_without_the_schema_attribute_passes_and_reads(many_chunks):
    """Shards written before 0.3.0 carry no ``schema`` attribute."""
    for path in many_chunks.glob("*.h5"):
        set_schema_attribute(many_chunks, path, None)
    assert verify(many_chunks).ok
    reader = open_shards(many_chunks)
    assert len(reader[0:len(reader)]["labels"]) == len(reader)


def test_a_shard_whose_stored_schema_differs_is_refused_by_verify_and_the_reader(many_chunks):
    path = sorted(many_chunks.glob("*.h5"))[0]
    with h5py.File(path, "r") as f:
        schema = json.loads(f.attrs["schema"])
    schema["fields"][2]["shape"] = [5]
    set_schema_attribute(many_chunks, path, json.dumps(schema))
    wanted = "attribute 'schema': field 2 is bbox <f4 (5,), expected bbox <f4 (4,)"
    assert any(f"{path.name}: {wanted}" in f for f in verify(many_chunks).faults)
    with pytest.raises(ShardReadError, match=re.escape(wanted)):
        open_shards(many_chunks)[0]
