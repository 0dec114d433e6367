"""open_shards: what gen-pnet wrote comes back unchanged, by index, slice, index array and batches."""

import json
import pickle
import subprocess
import sys

import h5py
import numpy as np
import pytest

import mtcnn_data
from mtcnn_data.core.schema import CLASS_NAMES, class_index
from mtcnn_data.io.reader import FIELDS, ShardReader, ShardReadError, batch_class_counts, ratio_batches


def h5_all(folder):
    """Every field of every shard, concatenated in manifest order, read with plain h5py."""
    manifest = json.loads((folder / "manifest.json").read_text())
    parts = []
    for entry in manifest["shards"]:
        with h5py.File(folder / entry["name"], "r") as f:
            d = {k: f[k][()] for k in FIELDS}
            paths = [p.decode() if isinstance(p, bytes) else p for p in f["source_paths"][()]]
            d["source_path"] = np.array([paths[i] for i in d["source"]], dtype=object)
            parts.append(d)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@pytest.fixture(params=[None, 10], ids=["chunk-blocks", "10-row-blocks"])
def reader(request, shards, monkeypatch):
    """A reader on the sample shards; also with 10-row blocks, so one shard spans many blocks."""
    if request.param:
        monkeypatch.setattr(ShardReader, "block_rows", lambda self, shard: request.param)
    with mtcnn_data.open_shards(shards) as r:
        yield r


def assert_batch_equal(batch, expected, rows):
    for k in FIELDS + ("source_path",):
        np.testing.assert_array_equal(batch[k], expected[k][rows], err_msg=k)
        assert batch[k].dtype == expected[k].dtype, k


def test_len_and_counts_follow_the_manifest(reader, shards, shard_layout):
    manifest = shard_layout["manifest"]
    assert len(reader) == manifest["totals"]["samples"] == sum(e["count"] for e in manifest["shards"])
    assert reader.names == [e["name"] for e in manifest["shards"]]
    assert reader.class_counts == {k: manifest["totals"][k] for k in CLASS_NAMES}
    assert reader.ratio == {"negative": 3, "positive": 1, "part": 1, "landmark": 2}
    assert reader.crop_size == 12 and reader.stage == "pnet"


def test_every_sample_by_index_is_what_was_written(reader, shards):
    expected = h5_all(shards)
    for i in range(len(reader)):
        sample = reader[i]
        for k in FIELDS:
            np.testing.assert_array_equal(sample[k], expected[k][i], err_msg=f"{k}[{i}]")
        assert sample["source_path"] == expected["source_path"][i]
        assert "/" in sample["source_path"]
    np.testing.assert_array_equal(reader[-1]["images"], expected["images"][-1])


def test_slices_index_arrays_and_repeats(reader, shards, shard_layout):
    expected = h5_all(shards)
    n, (_, second, third, *_) = shard_layout["samples"], shard_layout["starts"]
    span = slice(second - 6, third + 8)  # across a whole shard and into the next
    assert_batch_equal(reader[span], expected, span)
    assert_batch_equal(reader[::7], expected, slice(None, None, 7))
    rows = np.array([n - 1, 3, n // 2, 3, second, second - 1, 0, third, third - 1, n - 1])
    assert_batch_equal(reader[rows], expected, rows)
    assert_batch_equal(reader[list(rows)], expected, rows)
    assert_batch_equal(reader[np.zeros(0, int)], expected, np.zeros(0, int))
    np.testing.assert_array_equal(reader.labels, expected["labels"])


def test_iter_batches_in_order_is_the_whole_folder(reader, shards, shard_layout):
    expected = h5_all(shards)
    full, rest = divmod(shard_layout["samples"], 50)
    assert rest, "the sample count must leave a partial last batch"
    batches = list(reader.iter_batches(50))
    assert [len(b["labels"]) for b in batches] == [50] * full + [rest]
    whole = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    assert_batch_equal(whole, expected, slice(None))
    assert [len(b["labels"]) for b in reader.iter_batches(50, drop_last=True)] == [50] * full


def test_iter_batches_shuffled_visits_every_sample_once(reader, shards):
    expected = h5_all(shards)
    batches = list(reader.iter_batches(32, shuffle=True, seed=3))
    whole = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    key = lambda d: sorted(zip(d["crop_box"].tolist(), d["source"].tolist(), d["augment"].tolist(), d["images"].reshape(len(d["images"]), -1).sum(1).tolist()))
    assert key(whole) == key(expected)
    assert not np.array_equal(whole["crop_box"], expected["crop_box"])
    again = list(reader.iter_batches(32, shuffle=True, seed=3))
    np.testing.assert_array_equal(np.concatenate([b["crop_box"] for b in again]), whole["crop_box"])


def test_index_errors_say_the_range(reader, shard_layout):
    n = shard_layout["samples"]
    with pytest.raises(IndexError, match=str(n)):
        reader[n]
    with pytest.raises(IndexError, match="out of range"):
        reader[[0, n + 1000]]


def test_pickled_reader_has_no_handles_and_still_reads(reader):
    first = reader[5]
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._files == {} and clone._open_datasets == {}
    np.testing.assert_array_equal(clone[5]["images"], first["images"])
    clone.close()


def test_close_then_read_reopens(shards):
    r = ShardReader(shards)
    r[0]
    r.close()
    assert r._files == {}
    assert r[1]["images"].shape == (12, 12, 3)
    r.close()


def test_refuses_a_folder_without_manifest(tmp_path):
    (tmp_path / "shard-00000.h5").write_bytes(b"")
    with pytest.raises(ShardReadError, match="no manifest.json"):
        mtcnn_data.open_shards(tmp_path)
    with pytest.raises(ShardReadError, match="not a folder"):
        mtcnn_data.open_shards(tmp_path / "nope")


def test_refuses_missing_shards(shards, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "manifest.json").write_text((shards / "manifest.json").read_text())
    (copy / "shard-00000.h5").write_bytes((shards / "shard-00000.h5").read_bytes())
    with pytest.raises(ShardReadError, match="3 of 4 shard"):
        mtcnn_data.open_shards(copy)


def test_import_stays_light():
    code = "import sys, mtcnn_data; assert 'h5py' not in sys.modules and 'torch' not in sys.modules; print(mtcnn_data.open_shards.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "open_shards"


@pytest.mark.parametrize("batch,ratio,expected", [
    (384, (3, 1, 1, 2), [164, 55, 55, 110]),
    (70, (3, 1, 1, 2), [30, 10, 10, 20]),
    (10, (1, 1, 0, 0), [5, 5, 0, 0]),
])
def test_batch_class_counts(batch, ratio, expected):
    assert batch_class_counts(batch, ratio).tolist() == expected


def test_ratio_batches_keep_the_ratio_and_never_repeat():
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.array([0, 1, -1, -2], np.int8), [300, 100, 100, 200]))
    blocks = [(a, min(a + 64, 700)) for a in range(0, 700, 64)]
    per_class = batch_class_counts(70, (3, 1, 1, 2))
    batches = list(ratio_batches(labels, blocks, per_class, np.random.default_rng(1), pool_blocks=2))
    assert len(batches) == 10
    for b in batches:
        assert np.bincount(class_index(labels[b]), minlength=4).tolist() == [30, 10, 10, 20]
    seen = np.concatenate(batches)
    assert len(np.unique(seen)) == len(seen) == 700


def test_take_reads_only_the_fields_asked_for(reader, shards):
    expected = h5_all(shards)
    batch = reader.take([9, 2], fields=("images", "labels"))
    assert set(batch) == {"images", "labels"}
    np.testing.assert_array_equal(batch["images"], expected["images"][[9, 2]])
