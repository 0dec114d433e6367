"""Box geometry in the package's single coordinate convention.

Boxes are float arrays ``(..., 4)`` of ``x1, y1, x2, y2`` in continuous pixel
coordinates with exclusive ``x2, y2``: ``w = x2 - x1``, ``h = y2 - y1``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "widths",
    "heights",
    "areas",
    "iou_matrix",
    "best_iou",
    "encode_offsets",
    "decode_offsets",
    "flip_boxes",
    "flip_offsets",
    "square_boxes",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
    "nms",
    "overlap_matrix",
    "pair_ious",
    "near_pairs",
]


def _as_boxes(boxes) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def widths(boxes) -> np.ndarray:
    b = np.asarray(boxes)
    return b[..., 2] - b[..., 0]


def heights(boxes) -> np.ndarray:
    b = np.asarray(boxes)
    return b[..., 3] - b[..., 1]


def areas(boxes) -> np.ndarray:
    """Areas, 0 for degenerate boxes (w <= 0 or h <= 0)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.clip(widths(b), 0, None) * np.clip(heights(b), 0, None)


def xywh_to_xyxy(xywh) -> np.ndarray:
    """``x, y, w, h`` (WIDER, CelebA) to ``x1, y1, x2, y2``; keeps dtype float32."""
    a = np.asarray(xywh, dtype=np.float32).reshape(-1, 4)
    out = a.copy()
    out[:, 2] = a[:, 0] + a[:, 2]
    out[:, 3] = a[:, 1] + a[:, 3]
    return out


def xyxy_to_xywh(xyxy) -> np.ndarray:
    """``x1, y1, x2, y2`` to ``x, y, w, h`` (the WIDER FACE submission format), float64."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def _intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of the boxes ``a`` and ``b`` (broadcast against each other)."""
    iw = _overlap_1d(a[..., 0], a[..., 2], b[..., 0], b[..., 2])
    iw *= _overlap_1d(a[..., 1], a[..., 3], b[..., 1], b[..., 3])
    return iw


def _overlap_1d(lo_a, hi_a, lo_b, hi_b) -> np.ndarray:
    """Length of the overlap of intervals [lo_a, hi_a) and [lo_b, hi_b), at least 0 (broadcast)."""
    out = np.minimum(hi_a, hi_b)
    out -= np.maximum(lo_a, lo_b)
    return np.maximum(out, 0.0, out=out)


def _ratio(num: np.ndarray, denom: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), 0.0)


def _overlaps(a: np.ndarray, b: np.ndarray, mode: str) -> np.ndarray:
    """IoU or intersection over the smaller area of boxes ``a`` and ``b`` (broadcast)."""
    inter = _intersections(a, b)
    if mode == "union":
        denom = areas(a) + areas(b) - inter
    elif mode == "min":
        denom = np.minimum(areas(a), areas(b))
    else:
        raise ValueError(f"overlap mode must be 'union' or 'min', got {mode!r}")
    return np.clip(_ratio(inter, denom), 0.0, 1.0)


def iou_matrix(a, b) -> np.ndarray:
    """IoU of every box in ``a`` (N,4) with every box in ``b`` (M,4): (N, M) float64.

    Degenerate boxes have IoU 0 with everything (also with themselves).
    """
    return overlap_matrix(a, b, "union")


def overlap_matrix(a, b, mode: str = "union") -> np.ndarray:
    """(N, M) IoU (``"union"``) or intersection over the smaller area (``"min"``)."""
    return _overlaps(_as_boxes(a)[:, None, :], _as_boxes(b)[None, :, :], mode)


def pair_ious(a, b, i, j) -> np.ndarray:
    """IoU of ``a[i[k]]`` with ``b[j[k]]`` for every k: the entries ``iou_matrix(a, b)[i, j]``,
    bit for bit, without the matrix."""
    return _overlaps(_as_boxes(a)[i], _as_boxes(b)[j], "union")


def near_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(i, j)`` of every pair of boxes ``a[i]``, ``b[j]`` that overlap with
    positive width and height, i.e. every pair whose IoU can be above 0.

    Sort and sweep on x, in time about linear in the boxes near each other: the boxes
    of ``b`` are grouped by width (powers of two), each group sorted on ``x1``; a box
    of ``a`` tests only the boxes of a group whose ``x1`` lies within twice the group's
    widest box to its left and before its right edge. Boxes of ``b`` that are
    degenerate or not finite are never returned (their IoU is 0 with everything)."""
    a, b = _as_boxes(a), _as_boxes(b)
    w, h = widths(b), heights(b)
    usable = np.flatnonzero((w > 0) & (h > 0) & np.isfinite(w) & np.isfinite(h))
    _, exponent = np.frexp(w[usable])  # w in [2**(e-1), 2**e)
    found_i, found_j = [], []
    for e in np.unique(exponent):
        group = usable[exponent == e]
        group = group[np.argsort(b[group, 0], kind="stable")]
        x1 = b[group, 0]
        lo = np.searchsorted(x1, a[:, 0] - np.ldexp(1.0, int(e) + 1), "left")
        hi = np.searchsorted(x1, a[:, 2], "left")
        i, pos = _ranges(lo, hi)
        j = group[pos]
        hit = (b[j, 2] > a[i, 0]) & (b[j, 0] < a[i, 2]) & (b[j, 3] > a[i, 1]) & (b[j, 1] < a[i, 3])
        found_i.append(i[hit])
        found_j.append(j[hit])
    if not found_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_i), np.concatenate(found_j)


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(k, p)`` for every ``p`` in ``range(lo[k], hi[k])``, for every k."""
    count = np.maximum(hi - lo, 0)
    k = np.repeat(np.arange(len(lo)), count)
    start = np.cumsum(count) - count
    return k, np.arange(len(k)) - np.repeat(start - lo, count)


def best_iou(crops, gts) -> tuple[np.ndarray, np.ndarray]:
    """For each crop, the highest IoU over all ground-truth boxes and its index.

    Returns ``(iou float64 (N,), index int64 (N,))``; with no ground truth the IoU
    is 0 and the index -1.
    """
    crops = _as_boxes(crops)
    gts = np.asarray(gts, dtype=np.float64).reshape(-1, 4)
    if len(gts) == 0:
        return np.zeros(len(crops)), np.full(len(crops), -1, dtype=np.int64)
    m = iou_matrix(crops, gts)
    idx = m.argmax(axis=1)
    return m[np.arange(len(crops)), idx], idx.astype(np.int64)


def encode_offsets(crops, gts) -> np.ndarray:
    """Box regression targets of ``gts`` relative to ``crops`` (both (N,4)).

    ``((gx1 - x1) / w, (gy1 - y1) / h, (gx2 - x2) / w, (gy2 - y2) / h)`` with the
    crop's ``w, h``. float64, exact (no rounding).
    """
    c = _as_boxes(crops)
    g = _as_boxes(gts)
    w = widths(c)[:, None]
    h = heights(c)[:, None]
    scale = np.concatenate([w, h, w, h], axis=1)
    return (g - c) / scale


def decode_offsets(crops, offsets) -> np.ndarray:
    """Inverse of :func:`encode_offsets`: boxes from crops and offsets."""
    c = _as_boxes(crops)
    o = _as_boxes(offsets)
    w = widths(c)[:, None]
    h = heights(c)[:, None]
    return c + o * np.concatenate([w, h, w, h], axis=1)


def flip_boxes(boxes, width: float) -> np.ndarray:
    """Mirror boxes horizontally inside an image (or crop) of the given width."""
    b = _as_boxes(boxes).copy()
    x1 = b[:, 0].copy()
    b[:, 0] = width - b[:, 2]
    b[:, 2] = width - x1
    return b


def flip_offsets(offsets) -> np.ndarray:
    """Box targets of a horizontally mirrored crop: ``(-dx2, dy1, -dx1, dy2)``."""
    o = _as_boxes(offsets)
    return np.stack([-o[:, 2], o[:, 1], -o[:, 0], o[:, 3]], axis=1)


def square_boxes(boxes) -> np.ndarray:
    """Squares of side ``max(w, h)`` sharing each box's centre."""
    b = _as_boxes(boxes)
    side = np.maximum(widths(b), heights(b))
    cx = (b[:, 0] + b[:, 2]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=1)


#: Boxes per block of :func:`nms` (bounds its memory to a few block-sized matrices).
NMS_BLOCK = 1024
#: Above this many boxes :func:`nms` looks only at pairs of boxes that intersect.
NMS_SPARSE_MIN = 512
#: Candidate pairs per chunk of the sparse path (bounds its memory to some 100 MB).
NMS_CHUNK = 1 << 21
# Coordinates beyond this go to the dense path (the grid's cell arithmetic stays exact).
_NMS_SPARSE_LIMIT = 2.0**40


def nms(boxes, scores, threshold: float, mode: str = "union", sparse: bool | None = None) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first.

    ``mode="union"`` suppresses by IoU, ``mode="min"`` by intersection over the
    smaller area (as MTCNN's O-Net stage does). The result is that of the plain greedy
    loop (highest score first, stable ties; drop every box overlapping it by more than
    ``threshold``). Up to :data:`NMS_SPARSE_MIN` boxes (where the dense path is as
    fast), for a negative threshold and for boxes not finite, it is computed block by
    block in score order: each block is first cleared against the boxes already kept
    (one matrix), then greedily within itself. Otherwise, as only boxes that intersect
    can overlap by more than a threshold >= 0, :func:`_suppression_pairs` finds those
    pairs on a grid and computes their overlaps with the same kernel, and the greedy
    pass walks that sparse graph: the kept indices are the same. ``sparse`` forces one
    path (``True`` where allowed).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    b = b[order]
    if mode not in ("union", "min"):
        raise ValueError(f"overlap mode must be 'union' or 'min', got {mode!r}")
    allowed = threshold >= 0 and bool(np.all(np.abs(b) < _NMS_SPARSE_LIMIT))
    if allowed and (sparse if sparse is not None else len(b) > NMS_SPARSE_MIN):
        return order[_sparse_greedy(b, threshold, mode)]
    return order[_dense_greedy(b, threshold, mode)]


def _dense_greedy(b: np.ndarray, threshold: float, mode: str) -> np.ndarray:
    kept = []
    for start in range(0, len(b), NMS_BLOCK):
        block = b[start : start + NMS_BLOCK]
        alive = np.ones(len(block), dtype=bool)
        if kept:
            alive &= ~(overlap_matrix(b[kept], block, mode) > threshold).any(axis=0)
        suppress = overlap_matrix(block, block, mode) > threshold
        for i in np.flatnonzero(alive):
            if alive[i]:
                kept.append(start + i)
                alive &= ~suppress[i]
    return np.asarray(kept, dtype=np.int64)


def _sparse_greedy(b: np.ndarray, threshold: float, mode: str) -> np.ndarray:
    """The greedy pass of :func:`nms` over boxes ``b`` already in score order."""
    i, j = _suppression_pairs(b, threshold, mode)
    by_i = np.argsort(i, kind="stable")
    i, j = i[by_i], j[by_i]
    start = np.searchsorted(i, np.arange(len(b) + 1))
    alive = np.ones(len(b), dtype=bool)
    kept = []
    for k in range(len(b)):
        if alive[k]:
            kept.append(k)
            alive[j[start[k] : start[k + 1]]] = False
    return np.asarray(kept, dtype=np.int64)


def _suppression_pairs(b: np.ndarray, threshold: float, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of finite boxes ``b`` with ``_overlaps(b[i], b[j]) > threshold``
    (threshold >= 0, so only pairs that intersect with positive width and height).

    The usable boxes are grouped by the binary exponents of width and height (a group's
    boxes are narrower than ``cw`` and lower than ``ch``; tiny boxes join the finest
    group) and bucketed on a grid of cells an eighth of that; each grid is queried by the boxes
    of the groups not larger than its own (so the columns to visit stay few), one key
    range per column, in chunks of :data:`NMS_CHUNK` candidates."""
    w, h = widths(b), heights(b)
    usable = np.flatnonzero((w > 0) & (h > 0))
    # cells no finer than 2**-20 of the extent, so the cell indices stay small integers
    finest = int(np.frexp(np.abs(b[usable]).max(initial=1.0))[1]) - 20
    ew = np.maximum(np.frexp(w[usable])[1], finest)
    eh = np.maximum(np.frexp(h[usable])[1], finest)
    groups = sorted(set(zip(ew.tolist(), eh.tolist())))
    members = [usable[(ew == g[0]) & (eh == g[1])] for g in groups]
    found_i, found_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for gi, (e_w, e_h) in enumerate(groups):
        cw, ch = np.ldexp(1.0, e_w), np.ldexp(1.0, e_h)
        cx, cy = cw / 8, ch / 8
        m = members[gi]
        ox, oy = b[m, 0].min() - cw, b[m, 1].min() - ch
        gx = np.floor((b[m, 0] - ox) / cx).astype(np.int64)
        gy = np.floor((b[m, 1] - oy) / cy).astype(np.int64)
        nx, ny = int(gx.max()) + 1, int(gy.max()) + 1
        key = gx * ny + gy
        by_key = np.argsort(key, kind="stable")
        m, key = m[by_key], key[by_key]
        q = np.concatenate([m, *members[:gi]])
        same = np.arange(len(q)) < len(m)  # the group's own boxes find each pair twice
        # a member t intersecting a query a has a.x1 - cw < t.x1 < a.x2 (and so on y)
        x_lo = np.maximum(np.floor((b[q, 0] - cw - ox) / cx).astype(np.int64) - 1, 0)
        x_hi = np.minimum(np.floor((b[q, 2] - ox) / cx).astype(np.int64) + 1, nx - 1)
        y_lo = np.maximum(np.floor((b[q, 1] - ch - oy) / cy).astype(np.int64) - 1, 0)
        y_hi = np.minimum(np.floor((b[q, 3] - oy) / cy).astype(np.int64) + 1, ny - 1)
        ok = (x_lo <= x_hi) & (y_lo <= y_hi)
        r, col = _ranges(x_lo[ok], x_hi[ok] + 1)
        r = np.flatnonzero(ok)[r]
        lo = np.searchsorted(key, col * ny + y_lo[r], "left")
        hi = np.searchsorted(key, col * ny + y_hi[r], "right")
        nonempty = hi > lo
        r, lo, hi = r[nonempty], lo[nonempty], hi[nonempty]
        ends = np.cumsum(hi - lo)
        cuts = np.searchsorted(ends, np.arange(NMS_CHUNK, ends[-1] if len(ends) else 0, NMS_CHUNK))
        for a, z in zip(np.r_[0, cuts], np.r_[cuts, len(r)]):
            k, pos = _ranges(lo[a:z], hi[a:z])
            rk = r[a:z][k]
            p, t = q[rk], m[pos]
            pick = np.where(same[rk], p < t, True)
            p, t = p[pick], t[pick]
            first, second = np.minimum(p, t), np.maximum(p, t)
            hit = _overlaps(b[first], b[second], mode) > threshold
            found_i.append(first[hit])
            found_j.append(second[hit])
    return np.concatenate(found_i), np.concatenate(found_j)
