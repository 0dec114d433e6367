"""The shard writer: gzip chunks compressed in threads, read back by plain h5py."""

from __future__ import annotations

import h5py
import numpy as np

from mtcnn_data.io.shards import shard_attributes, write_shard


def samples(n, rng):
    return {
        "images": rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8),
        "labels": rng.choice(np.array([0, 1, -1, -2], np.int8), n),
        "bbox": rng.random((n, 4), dtype=np.float32),
        "landmarks": rng.random((n, 10), dtype=np.float32),
        "iou": rng.random(n, dtype=np.float32),
        "crop_box": rng.random((n, 4), dtype=np.float32),
        "source": rng.integers(0, 3, n).astype(np.int32),
        "augment": rng.integers(0, 6, n).astype(np.uint8),
    }


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
        assert images.compression == "gzip" and images.compression_opts == 4
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
