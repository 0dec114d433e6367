"""ShardDataset and RatioBatchSampler: the tensor layout, unchanged values, DataLoader workers."""

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mtcnn_data import RatioBatchSampler, ShardDataset, open_shards
from mtcnn_data.core.schema import CLASS_NAMES, class_index


@pytest.fixture(scope="module")
def raw(shards):
    with open_shards(shards) as r:
        return r[:]


def expected_tensors(raw, rows):
    image = (raw["images"][rows].transpose(0, 3, 1, 2).astype(np.float32) - 127.5) / 128
    return {"image": image, "label": raw["labels"][rows].astype(np.int64), "bbox": raw["bbox"][rows], "landmarks": raw["landmarks"][rows]}


def assert_tensors(batch, expected):
    assert set(batch) == {"image", "label", "bbox", "landmarks"}
    for k, v in expected.items():
        assert batch[k].dtype == torch.from_numpy(np.asarray(v)).dtype, k
        np.testing.assert_allclose(batch[k].numpy(), v, rtol=0, atol=1e-6, err_msg=k)


def test_sample_layout_and_values(shards, raw, shard_layout):
    ds = ShardDataset(shards)
    assert len(ds) == shard_layout["samples"]
    s = ds[7]
    assert s["image"].shape == (3, 12, 12) and s["image"].dtype == torch.float32
    assert s["label"].shape == () and s["label"].dtype == torch.int64
    assert s["bbox"].shape == (4,) and s["landmarks"].shape == (10,)
    assert_tensors({k: v[None] for k, v in s.items()}, expected_tensors(raw, [7]))


def test_batch_read_by_index_list(shards, raw, shard_layout):
    n, second = shard_layout["samples"], shard_layout["starts"][1]
    rows = [n - 50, 5, second, 5, n - 1]
    assert_tensors(ShardDataset(shards)[rows], expected_tensors(raw, rows))


def test_uint8_and_bgr_options(shards, raw):
    s = ShardDataset(shards, normalise=False)[3]
    assert s["image"].dtype == torch.uint8
    np.testing.assert_array_equal(s["image"].numpy(), raw["images"][3].transpose(2, 0, 1))
    bgr = ShardDataset(shards, normalise=False, channels="bgr")[3]["image"]
    np.testing.assert_array_equal(bgr.numpy(), raw["images"][3][..., ::-1].transpose(2, 0, 1))
    with pytest.raises(ValueError, match="rgb"):
        ShardDataset(shards, channels="hsv")


def test_transform_runs_per_sample(shards):
    ds = ShardDataset(shards, transform=lambda s: dict(s, flipped=torch.flip(s["image"], dims=[2])))
    s = ds[0]
    assert torch.equal(s["flipped"], torch.flip(s["image"], dims=[2]))


def test_pickle_drops_handles(shards, raw):
    ds = ShardDataset(shards)
    ds[0]
    assert ds.reader._files
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.reader._files == {}
    assert_tensors(clone[[10, 11]], expected_tensors(raw, [10, 11]))


def test_dataloader_two_workers_returns_every_sample_unchanged(shards, raw):
    ds = ShardDataset(shards)
    ds[0]  # handles open in the parent before the fork: workers must reopen their own
    batches = list(DataLoader(ds, batch_size=16, shuffle=False, num_workers=2))
    whole = {k: torch.cat([b[k] for b in batches]) for k in batches[0]}
    assert_tensors(whole, expected_tensors(raw, slice(None)))


def test_ratio_sampler_batches_have_the_ratio(shards):
    ds = ShardDataset(shards)
    sampler = RatioBatchSampler(ds, 35, seed=1)
    assert sampler.per_class.tolist() == [15, 5, 5, 10]
    assert len(sampler) == 7  # 37 positives // 5
    labels = ds.labels
    batches = list(sampler)
    assert len(batches) == 7
    for b in batches:
        assert np.bincount(class_index(labels[b]), minlength=4).tolist() == [15, 5, 5, 10]
    flat = np.concatenate(batches)
    assert len(np.unique(flat)) == len(flat)
    assert list(sampler) != batches  # the next epoch has another order
    sampler.set_epoch(0)
    assert list(sampler) == batches


def test_ratio_sampler_through_two_workers(shards, raw, shard_layout):
    ds = ShardDataset(shards)
    sampler = RatioBatchSampler(ds, 70, seed=2)
    sampler.set_epoch(0)
    index_batches = list(sampler)
    sampler.set_epoch(0)
    loaded = list(DataLoader(ds, sampler=sampler, batch_size=None, num_workers=2))
    per_class = sampler.per_class.tolist()
    epoch = min(shard_layout["totals"][c] // k for c, k in zip(CLASS_NAMES, per_class) if k)
    assert len(loaded) == len(index_batches) == epoch > 1
    for batch, rows in zip(loaded, index_batches):
        assert_tensors(batch, expected_tensors(raw, rows))
        assert torch.bincount(batch["label"] + 2, minlength=4).tolist() == [20, 10, 30, 10]  # landmark, part, negative, positive


def test_ratio_sampler_as_batch_sampler_collates(shards, raw):
    ds = ShardDataset(shards)
    sampler = RatioBatchSampler(ds, 14)
    sampler.set_epoch(0)
    rows = next(iter(sampler))
    sampler.set_epoch(0)
    first = next(iter(DataLoader(ds, batch_sampler=sampler)))
    assert_tensors(first, expected_tensors(raw, rows))


def test_ratio_sampler_refuses_a_batch_larger_than_the_data(shards):
    with pytest.raises(ValueError, match="smaller batch size"):
        RatioBatchSampler(ShardDataset(shards), 5000)
