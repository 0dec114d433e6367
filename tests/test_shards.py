"""The sample schema, the shard writer (gzip chunks compressed in threads, read back by
plain h5py) and the one shard-file reader (``ShardFile``)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest

from mtcnn_data.core.schema import ASSEMBLY_FIELDS, FIELD_NAMES, METADATA_FIELDS, SAMPLE_FIELDS, cut_dtype, sample_fields, schema_description
from mtcnn_data.io.reader import FIELDS
from mtcnn_data.io.shards import ShardFile, ShardReadError, read_shard, shard_attributes, write_shard


def samples(n, rng, crop=12):
    """Random values of every schema field (any values: the writer stores what it is given)."""
    out = {}
    for name, (dtype, shape) in sample_fields(crop).items():
        if dtype.kind == "f":
            out[name] = rng.random((n,) + shape, dtype=np.float32).astype(dtype)
        else:
            info = np.iinfo(dtype)
            out[name] = rng.integers(info.min, int(info.max) + 1, (n,) + shape).astype(dtype)
    out["source"] = rng.integers(0, 3, n).astype(np.int32)
    return out


def test_cut_records_reader_and_writer_all_follow_the_schema(tmp_path):
    cut = cut_dtype(24)
    assert cut.names == ("slot", "src") + tuple(n for n in FIELD_NAMES if n not in ASSEMBLY_FIELDS)
    assert cut["images"].shape == (24, 24, 3) and cut["images"].base == np.uint8
    assert FIELDS == FIELD_NAMES == tuple(f.name for f in SAMPLE_FIELDS)
    rng = np.random.default_rng(3)
    for crop in (12, 24, 48):
        path = tmp_path / f"s{crop}.h5"
        write_shard(path, samples(5, rng, crop), ["a/b.jpg"], shard_attributes("pnet", crop), "gzip", 4)
        with h5py.File(path, "r") as f:
            assert [k for k in f.keys() if k != "source_paths"] == sorted(FIELD_NAMES)
            for name, (dtype, shape) in sample_fields(crop).items():
                assert f[name].dtype == dtype and f[name].shape == (5,) + shape, name
        with ShardFile(path) as shard:
            assert shard.problems(crop) == [] and shard.rows == 5


def test_shard_file_names_every_difference_from_the_schema(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "s.h5"
    write_shard(path, samples(6, rng), ["a/b.jpg"], shard_attributes("pnet", 12), "gzip", 4)
    with h5py.File(path, "r+") as f:
        del f["iou"]
        f.create_dataset("iou", data=np.zeros(6, np.float64))
        del f["augment"]
    with pytest.raises(ShardReadError) as err:
        ShardFile(path).check(12)
    text = str(err.value)
    assert "dataset 'augment' missing" in text and "iou is float64(6,), expected float32(6,)" in text
    with pytest.raises(ShardReadError, match="expected 1 and 24"):
        ShardFile(tmp_path / "s.h5").check(24)
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(ShardReadError, match="cannot be opened as HDF5"):
        ShardFile(tmp_path / "junk.h5")


@pytest.mark.parametrize("compression", ["gzip", None])
def test_decoding_every_chunk_gives_what_hdf5_decodes(tmp_path, compression):
    """``decode_chunks`` inflates the stored chunks itself (gzip) or through HDF5 (others)."""
    rng = np.random.default_rng(5)
    data = samples(70_000 + 11, rng)  # several chunks of every multi-byte dataset, partial last ones
    path = tmp_path / "s.h5"
    write_shard(path, data, ["x/y.jpg"], shard_attributes("pnet", 12), compression, 4, threads=2)
    with ShardFile(path) as shard, ThreadPoolExecutor(3) as pool:
        for name in FIELD_NAMES:
            rows, bad = shard.decode_chunks(name, pool, ahead=2)  # fewer in flight than there are chunks
            assert bad == [] and np.array_equal(rows, data[name]), name
        assert shard.decode_chunks("images", pool, keep=False) == (None, [])
        assert read_shard(path, ["bbox"])["bbox"].tobytes() == data["bbox"].tobytes()


def test_threads_do_not_change_the_bytes_and_plain_h5py_reads_them(tmp_path):
    rng = np.random.default_rng(0)
    data = samples(1500 + 7, rng)  # several chunks of images, the last one partial
    attrs = shard_attributes("pnet", 12)
    paths = ["wider/a.jpg", "wider/b.jpg", "lfw_net/c.jpg"]
    one = write_shard(tmp_path / "one.h5", data, paths, attrs, "gzip", 4, threads=1)
    three = write_shard(tmp_path / "three.h5", data, paths, attrs, "gzip", 4, threads=3)
    assert (tmp_path / "one.h5").read_bytes() == (tmp_path / "three.h5").read_bytes()
    assert one["sha256"] == three["sha256"]
    with h5py.File(tmp_path / "three.h5", "r") as f:
        images = f["images"]
        assert images.compression is None and images.fletcher32  # pixels do not compress: only a checksum
        assert all(f[name].compression == "gzip" and f[name].compression_opts == 4 for name in METADATA_FIELDS)
        assert images.chunks[0] < len(data["images"])  # really chunked, so several chunks were written
        for name, values in data.items():
            assert np.array_equal(f[name][()], values), name
        assert np.array_equal(images[-7:], data["images"][-7:])  # the partial last chunk


def test_uncompressed_and_empty_shards(tmp_path):
    rng = np.random.default_rng(1)
    attrs = shard_attributes("pnet", 12)
    write_shard(tmp_path / "plain.h5", samples(10, rng), ["x/y.jpg"], attrs, None, 0)
    write_shard(tmp_path / "empty.h5", samples(0, rng), [], attrs, "gzip", 4, threads=2)
    with h5py.File(tmp_path / "plain.h5", "r") as f:
        assert f["images"].compression is None and f["images"].shape == (10, 12, 12, 3)
    with h5py.File(tmp_path / "empty.h5", "r") as f:
        assert f["images"].shape == (0, 12, 12, 3)


def test_chunks_are_stored_as_hdf5s_own_shuffle_and_deflate_filters_store_them(tmp_path):
    """Multi-byte datasets are deflated by us (in threads) but must be the very chunks
    HDF5's shuffle + gzip filters write, the partial last chunk included."""
    rng = np.random.default_rng(2)
    data = samples(70_000 + 11, rng)  # iou: 65,536 rows per chunk, bbox 16,384: all partial at the end
    write_shard(tmp_path / "ours.h5", data, ["x/y.jpg"], shard_attributes("pnet", 12), "gzip", 4, threads=2)
    with h5py.File(tmp_path / "ours.h5", "r") as ours, h5py.File(tmp_path / "hdf5.h5", "w") as ref:
        for name in ("bbox", "landmarks", "iou", "source"):
            mine = ours[name]
            theirs = ref.create_dataset(name, data=data[name], chunks=mine.chunks, compression="gzip",
                                        compression_opts=4, shuffle=True)
            assert mine.shuffle and mine.chunks[0] < len(data[name])
            for start in range(0, len(data[name]), mine.chunks[0]):
                at = (start,) + (0,) * (mine.ndim - 1)
                assert mine.id.read_direct_chunk(at) == theirs.id.read_direct_chunk(at), (name, start)


def shard_with_schema(tmp_path, edit=None):
    """A written shard; ``edit(schema)`` changes its stored schema attribute (``None`` drops it)."""
    path = tmp_path / "s.h5"
    write_shard(path, samples(4, np.random.default_rng(6)), ["a/b.jpg"], shard_attributes("pnet", 12), "gzip", 4)
    if edit is not None:
        with h5py.File(path, "r+") as f:
            changed = edit(json.loads(f.attrs["schema"]))
            if changed is None:
                del f.attrs["schema"]
            else:
                f.attrs["schema"] = json.dumps(changed)
    return path


def test_every_shard_stores_the_schema_it_was_written_with(tmp_path):
    for crop in (12, 48):
        path = tmp_path / f"s{crop}.h5"
        write_shard(path, samples(2, np.random.default_rng(7), crop), ["a/b.jpg"], shard_attributes("onet", crop), "gzip", 4)
        with h5py.File(path, "r") as f:
            stored = json.loads(f.attrs["schema"])
        assert stored == schema_description(crop)
        assert [f["name"] for f in stored["fields"]] == list(FIELD_NAMES)
        assert stored["fields"][0]["shape"] == [crop, crop, 3]


def test_a_stored_schema_that_differs_is_refused_with_the_field_named(tmp_path):
    def retype_iou(schema):
        schema["fields"][4]["dtype"] = "<f8"
        return schema

    with pytest.raises(ShardReadError, match=r"attribute 'schema': field 4 is iou <f8 \(\), expected iou <f4 \(\)"):
        ShardFile(shard_with_schema(tmp_path, retype_iou)).check(12)

    def add_field(schema):
        schema["fields"].append({"name": "quality", "dtype": "<f4", "shape": []})
        return schema

    with pytest.raises(ShardReadError, match=r"field 8 is quality <f4 \(\), expected absent.*another version"):
        ShardFile(shard_with_schema(tmp_path, add_field)).check(12)

    with pytest.raises(ShardReadError, match="attribute 'schema' is not the JSON schema description"):
        ShardFile(shard_with_schema(tmp_path, lambda s: "not json {")).check(12)


def test_shards_without_the_schema_attribute_still_read(tmp_path):
    """Shards written before 0.3.0 carry no ``schema`` attribute."""
    path = shard_with_schema(tmp_path, lambda s: None)
    with ShardFile(path) as shard:
        assert "schema" not in shard.attrs and shard.problems(12) == []
        assert len(shard.read(["labels"])["labels"]) == 4
