import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcnn_data.core.balance import (
    boundary_buckets,
    bucket_histogram,
    class_quota,
    cutoff_from_bucket,
    key_buckets,
    permute,
    select_mask,
)


def test_quota_scarcest_class_sets_scale():
    quota, limiting = class_quota([1000, 50, 400, 300], (3, 1, 1, 2))
    assert quota.tolist() == [150, 50, 50, 100]
    assert limiting == "positive"


def test_quota_limit_and_zero_share():
    quota, limiting = class_quota([1000, 500, 400, 300], (3, 1, 1, 2), limit=70)
    assert quota.tolist() == [30, 10, 10, 20] and limiting == "limit"
    quota, _ = class_quota([1000, 500, 400, 0], (3, 1, 1, 0))
    assert quota.tolist() == [999, 333, 333, 0]


def test_quota_rejects_bad_ratio():
    with pytest.raises(ValueError):
        class_quota([1, 1, 1, 1], (0, 0, 0, 0))


def _select(units, quota):
    """The streaming selection as the engine runs it, on in-memory units."""
    hist = sum(bucket_histogram(k, c) for k, c in units)
    bucket, need = boundary_buckets(hist, quota)
    cutoffs = []
    for cls in range(4):
        if bucket[cls] < 0:
            cutoffs.append(None)
            continue
        rows = []
        for u, (k, c) in enumerate(units):
            hit = np.flatnonzero((c == cls) & (key_buckets(k) == bucket[cls]))
            rows.append(np.stack([k[hit], np.full(len(hit), u, np.uint64), hit.astype(np.uint64)], 1))
        cutoffs.append(cutoff_from_bucket(np.concatenate(rows), int(need[cls])))
    return [select_mask(k, c, u, cutoffs) for u, (k, c) in enumerate(units)]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(0, 300), min_size=1, max_size=6))
def test_selection_is_exactly_the_smallest_keys(seed, sizes):
    rng = np.random.default_rng(seed)
    # few distinct keys force ties, which (unit, index) must break exactly
    units = [(rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True) if seed % 2 else
              (rng.integers(0, 5, n).astype(np.uint64) << np.uint64(62)), rng.integers(0, 4, n)) for n in sizes]
    counts = np.bincount(np.concatenate([c for _, c in units]), minlength=4)
    quota, _ = class_quota(counts, (3, 1, 1, 2))
    masks = _select(units, quota)
    for cls in range(4):
        got = sum(int((m & (c == cls)).sum()) for m, (_, c) in zip(masks, units))
        assert got == quota[cls]
        allrows = sorted((int(k[i]), u, i) for u, (k, c) in enumerate(units) for i in np.flatnonzero(c == cls))
        want = set(allrows[: quota[cls]])
        have = {(int(k[i]), u, i) for u, ((k, c), m) in enumerate(zip(units, masks)) for i in np.flatnonzero(m & (c == cls))}
        assert have == want


@given(st.integers(1, 5000), st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_permute_is_a_bijection(n, seed):
    p = permute(np.arange(n), n, seed)
    assert np.array_equal(np.sort(p), np.arange(n))


def test_permute_depends_on_seed_and_shuffles():
    a, b = permute(np.arange(1000), 1000, 1), permute(np.arange(1000), 1000, 2)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, np.arange(1000))
