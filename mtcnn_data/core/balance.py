"""Balancing classes to a ratio and placing samples in a shuffled output (pure).

Selection is by random keys: every candidate carries a uniform 64-bit key and a
class keeps its ``quota`` smallest keys. The cut-off is found in two streaming
passes (a histogram of the keys' top bits, then the keys of one bucket), so the
whole candidate set never has to be in memory. Ties are broken by
``(unit, index)``, so the selection is exact and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .schema import CLASS_NAMES

BUCKET_BITS = 16


def class_quota(counts: Sequence[int], ratio: Sequence[int], limit: Optional[int] = None):
    """Samples to keep per class for an exact ``ratio`` (negative, positive, part, landmark).

    The scarcest class relative to its share sets the scale ``k``; class ``i``
    keeps ``k * ratio[i]``. A ratio entry of 0 drops that class. ``limit`` caps
    the total. Returns ``(quota int64 (4,), limiting class name)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    ratio = np.asarray(ratio, dtype=np.int64)
    if ratio.shape != (4,) or (ratio < 0).any() or ratio.sum() == 0:
        raise ValueError(f"ratio must be 4 non-negative integers, not all 0; got {ratio.tolist()}")
    used = ratio > 0
    scale = counts[used] // ratio[used]
    k = int(scale.min())
    limiting = CLASS_NAMES[int(np.flatnonzero(used)[int(scale.argmin())])]
    if limit is not None and k * int(ratio.sum()) > limit:
        k = int(limit) // int(ratio.sum())
        limiting = "limit"
    return k * ratio, limiting


def key_buckets(keys) -> np.ndarray:
    """Bucket (top bits) of each key."""
    return (np.asarray(keys, dtype=np.uint64) >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


def bucket_histogram(keys, cls, num_classes: int = 4) -> np.ndarray:
    """(classes, 2**BUCKET_BITS) counts of keys per class and bucket."""
    flat = np.asarray(cls, dtype=np.int64) * (1 << BUCKET_BITS) + key_buckets(keys)
    hist = np.bincount(flat, minlength=num_classes << BUCKET_BITS)
    return hist.reshape(num_classes, 1 << BUCKET_BITS)


def boundary_buckets(hist: np.ndarray, quota) -> tuple[np.ndarray, np.ndarray]:
    """For each class, the bucket holding its quota-th key and how many of that
    bucket's keys are needed. Bucket -1 means the class keeps nothing."""
    quota = np.asarray(quota, dtype=np.int64)
    cum = np.cumsum(hist, axis=1)
    bucket = np.full(len(quota), -1, dtype=np.int64)
    need = np.zeros(len(quota), dtype=np.int64)
    for c, q in enumerate(quota):
        if q <= 0:
            continue
        if q > cum[c, -1]:
            raise ValueError(f"class {CLASS_NAMES[c]}: quota {q} exceeds its {cum[c, -1]} candidates")
        b = int(np.searchsorted(cum[c], q))
        bucket[c] = b
        need[c] = q - (cum[c, b - 1] if b > 0 else 0)
    return bucket, need


@dataclass(frozen=True)
class Cutoff:
    """Largest selected ``(key, unit, index)`` of one class; ``None`` keeps nothing."""

    key: int
    unit: int
    index: int


def cutoff_from_bucket(entries, need: int) -> Cutoff:
    """``entries`` (M, 3) uint64 rows ``key, unit, index`` of one class's boundary
    bucket; the ``need``-th smallest in lexicographic order is the cut-off."""
    e = np.asarray(entries, dtype=np.uint64).reshape(-1, 3)
    order = np.lexsort((e[:, 2], e[:, 1], e[:, 0]))
    k, u, i = e[order[need - 1]]
    return Cutoff(int(k), int(u), int(i))


def select_mask(keys, cls, unit: int, cutoffs) -> np.ndarray:
    """Which candidates of ``unit`` (indices 0..N-1) are selected, given per-class cut-offs."""
    keys = np.asarray(keys, dtype=np.uint64)
    cls = np.asarray(cls, dtype=np.int64)
    index = np.arange(len(keys), dtype=np.int64)
    mask = np.zeros(len(keys), dtype=bool)
    for c, cut in enumerate(cutoffs):
        if cut is None:
            continue
        mine = cls == c
        k = np.uint64(cut.key)
        below = keys < k
        tie = (keys == k) & ((unit < cut.unit) | ((unit == cut.unit) & (index <= cut.index)))
        mask |= mine & (below | tie)
    return mask


# --- a seeded bijection on [0, n): the global shuffle without holding a permutation


_MASK64 = (1 << 64) - 1


def _round(r: np.ndarray, key: int, half_bits: int) -> np.ndarray:
    x = (r.astype(np.uint64) + np.uint64(key)) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(29)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(32)
    return x & np.uint64((1 << half_bits) - 1)


def permute(index, n: int, seed: int, rounds: int = 4) -> np.ndarray:
    """Position of each ``index`` in a seeded pseudo-random permutation of ``range(n)``.

    A balanced Feistel network on the smallest even-bit power of two >= n, with
    cycle walking back into range: a bijection computed element by element.
    """
    idx = np.asarray(index, dtype=np.uint64)
    if n <= 1:
        return idx.astype(np.int64)
    bits = max(2, int(n - 1).bit_length())
    bits += bits % 2
    half = bits // 2
    low_mask = np.uint64((1 << half) - 1)
    keys = [((seed * 0x2545F4914F6CDD1D) + r * 0x9E3779B97F4A7C15) & _MASK64 for r in range(rounds)]
    out = idx.copy()
    todo = np.ones(len(out), dtype=bool)
    while todo.any():
        x = out[todo]
        left, right = x >> np.uint64(half), x & low_mask
        for k in keys:
            left, right = right, left ^ _round(right, k, half)
        x = (left << np.uint64(half)) | right
        out[todo] = x
        todo[todo] = x >= np.uint64(n)
    return out.astype(np.int64)
