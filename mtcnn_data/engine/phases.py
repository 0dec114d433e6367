"""Plan, select, cut, assemble: the four phases every data job runs.

1. *plan* (per work unit, in parallel): candidate crops with labels and targets,
   no pixels; images are only probed for their size (gen-pnet) or run through
   the detector (mine).
2. *select* (streaming, in the main process): the balanced selection by random
   keys, and each selected sample's slot in a seeded permutation of the output.
3. *cut* (per unit, in parallel): each image decoded once, only its selected
   samples cropped and resampled.
4. *assemble* (per shard, in parallel): shards filled from the units' cut files
   in slot order and written atomically.

Each phase writes one file per unit (or shard) into ``DIR/.incomplete`` and skips
files that exist, so a killed run resumes where it stopped and ends with the same
bytes as an uninterrupted one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional

import numpy as np

from ..core.balance import (
    BUCKET_BITS,
    Cutoff,
    boundary_buckets,
    bucket_histogram,
    class_quota,
    cutoff_from_bucket,
    key_buckets,
    permute,
    select_mask,
)
from ..core.schema import ASSEMBLY_FIELDS, CLASS_NAMES, FIELD_NAMES, SAMPLE_FIELDS, class_index, cut_dtype, sample_bytes
from ..core.imaging import ImageCutter
from ..io.images import read_rgb
from ..io.shards import shard_attributes, write_shard
from .parallel import run_parallel
from .progress import make_progress
from .units import Unit
from ..io.files import atomic_save_npy, atomic_write_json, read_json
from .workdir import WorkDir


@dataclass
class OutputSpec:
    stage: str
    crop_size: int
    seed: int
    ratio: tuple
    limit: Optional[int]
    shard_mb: float
    compression: Optional[str]
    compression_level: int
    angle: float
    max_pixels: int

    def samples_per_shard(self) -> int:
        return max(1, int(self.shard_mb * (1 << 20)) // sample_bytes(self.crop_size))


# ---------------------------------------------------------------- plan


def run_plan(work: WorkDir, units: Iterable[Unit], plan_fn: Callable, workers: int, backend: str, stats: dict):
    """Run ``plan_fn(unit) -> (candidates, meta)`` for every unit lacking its files.

    Units go to the workers as the annotations are read, so parsing overlaps with planning."""
    counts = np.zeros(4, dtype=np.int64)
    hist = np.zeros(4 << BUCKET_BITS, dtype=np.int64)  # the selection's first pass, as units finish
    total = [0]
    bar = make_progress(None, "plan")

    def todo():
        for unit in units:
            total[0] += 1
            if not (work.candidates(unit.index).exists() and work.unit_meta(unit.index).exists()):
                yield unit
            else:  # planned before a resume
                hist[:] += bucket_histogram(*_keys_cls(work, unit.index)).ravel()

    def on_result(res):
        counts[:] += res["counts"]
        np.add.at(hist, res["hist"][0], res["hist"][1])
        bar.set_postfix(_postfix(counts), refresh=False)

    run_parallel(_PlanTask(work, plan_fn), todo(), workers, bar, on_result, backend)
    bar.close()
    atomic_save_npy(histogram_file(work), hist.reshape(4, -1))
    stats["units"] = total[0]
    return total[0]


def histogram_file(work: WorkDir):
    """The candidates' (class, key bucket) histogram of all units, written by :func:`run_plan`."""
    return work.root / "histogram.npy"


class _PlanTask:
    def __init__(self, work, plan_fn):
        self.work, self.plan_fn = work, plan_fn

    def __call__(self, unit: Unit):
        cands, meta = self.plan_fn(unit)
        meta.update(unit=unit.index, dataset=unit.dataset, kind=unit.kind, image_root=unit.image_root)
        meta["counts"] = np.bincount(class_index(cands["label"]), minlength=4).tolist()
        atomic_save_npy(self.work.candidates(unit.index), cands)
        atomic_write_json(self.work.unit_meta(unit.index), meta)
        hist = bucket_histogram(cands["key"], class_index(cands["label"])).ravel()
        filled = np.flatnonzero(hist)
        return {"unit": unit.index, "counts": np.asarray(meta["counts"]), "hist": (filled, hist[filled])}


def _postfix(counts):
    return {name[:4]: int(c) for name, c in zip(CLASS_NAMES, counts)}


# ---------------------------------------------------------------- select


def run_select(work: WorkDir, num_units: int, spec: OutputSpec) -> dict:
    """Balanced selection from the plan phase's histogram and one streaming pass over the
    candidate files (each class's boundary bucket, and every unit's count below it)."""
    if work.selection_file.exists():
        return read_json(work.selection_file)
    hist = np.load(histogram_file(work))
    counts = hist.sum(axis=1)
    quota, limiting = class_quota(counts, spec.ratio, spec.limit)
    bucket, need = boundary_buckets(hist, quota)
    entries: List[list] = [[] for _ in range(4)]
    selected = np.zeros(num_units, dtype=np.int64)
    for u in range(num_units):
        key, cls = _keys_cls(work, u)
        b = key_buckets(key)
        selected[u] = int((b < bucket[cls]).sum())
        for k in range(4):
            hit = np.flatnonzero((cls == k) & (b == bucket[k]))
            if len(hit):
                entries[k].append(np.stack([key[hit], np.full(len(hit), u, np.uint64), hit.astype(np.uint64)], 1))
    cutoffs = [None] * 4
    for k in range(4):
        if bucket[k] >= 0:
            e = np.concatenate(entries[k])
            cutoffs[k] = cutoff_from_bucket(e, int(need[k]))
            selected += np.bincount(e[_up_to(e, cutoffs[k]), 1].astype(np.int64), minlength=num_units)
    selected = selected.tolist()
    total = int(sum(selected))
    per_shard = spec.samples_per_shard()
    num_shards = max(1, -(-total // per_shard))
    sel = {
        "candidates": dict(zip(CLASS_NAMES, counts.tolist())),
        "quota": dict(zip(CLASS_NAMES, quota.tolist())),
        "limiting_class": limiting,
        "cutoffs": [None if c is None else [c.key, c.unit, c.index] for c in cutoffs],
        "unit_selected": selected,
        "unit_offset": np.concatenate([[0], np.cumsum(selected)[:-1]]).astype(int).tolist() if selected else [],
        "total": total,
        "samples_per_shard": per_shard,
        "shards": [f"shard-{i:05d}.h5" for i in range(num_shards)],
    }
    atomic_write_json(work.selection_file, sel)
    return sel


def _up_to(entries: np.ndarray, cut: Cutoff) -> np.ndarray:
    """Which ``(key, unit, index)`` rows are at most ``cut`` in lexicographic order, as
    :func:`select_mask` selects them."""
    key, unit, index = entries[:, 0], entries[:, 1], entries[:, 2]
    k, u, i = np.uint64(cut.key), np.uint64(cut.unit), np.uint64(cut.index)
    return (key < k) | ((key == k) & ((unit < u) | ((unit == u) & (index <= i))))


def _keys_cls(work, u):
    c = np.load(work.candidates(u), mmap_mode="r")
    return c["key"], class_index(c["label"])


def _cutoffs(sel) -> list:
    return [None if c is None else Cutoff(*c) for c in sel["cutoffs"]]


# ---------------------------------------------------------------- cut


class _CutTask:
    def __init__(self, work, sel, spec):
        self.work, self.sel, self.spec = work, sel, spec

    def __call__(self, u: int):
        cands = np.load(self.work.candidates(u))
        meta = read_json(self.work.unit_meta(u))
        key, cls = cands["key"], class_index(cands["label"])
        chosen = np.flatnonzero(select_mask(key, cls, u, _cutoffs(self.sel)))
        out = np.zeros(len(chosen), dtype=cut_dtype(self.spec.crop_size))
        g = self.sel["unit_offset"][u] + np.arange(len(chosen))
        out["slot"] = permute(g, self.sel["total"], self.spec.seed)
        picked = cands[chosen]
        for f in SAMPLE_FIELDS:
            if f.candidate:
                out[f.name] = picked[f.candidate]
        out["src"] = picked["image"]
        for img in np.unique(picked["image"]):
            rows = np.flatnonzero(picked["image"] == img)
            path = f"{meta['image_root']}/{meta['images'][img]}"
            cutter = ImageCutter(read_rgb(path, self.spec.max_pixels))
            out["images"][rows] = cutter.cut(picked["crop"][rows], self.spec.crop_size, picked["augment"][rows], self.spec.angle)
        out = out[np.argsort(out["slot"], kind="stable")]
        atomic_save_npy(self.work.cut(u), out)
        return {"unit": u, "counts": np.bincount(class_index(out["labels"]), minlength=4)}


def run_cut(work: WorkDir, sel: dict, spec: OutputSpec, workers: int, backend: str):
    units = [u for u, n in enumerate(sel["unit_selected"]) if n and not work.cut(u).exists()]
    counts = np.zeros(4, dtype=np.int64)
    bar = make_progress(len(units), "cut")

    def on_result(res):
        counts[:] += res["counts"]
        bar.set_postfix(_postfix(counts), refresh=False)

    run_parallel(_CutTask(work, sel, spec), units, workers, bar, on_result, backend)
    bar.close()


# ---------------------------------------------------------------- assemble


def shard_holders(work: WorkDir, sel: dict) -> List[List[tuple]]:
    """Per shard, ``(unit, first row, end row)`` of every unit whose cut file holds rows
    of it: each cut file is sorted by slot, so two binary searches per shard boundary
    (the file is memory-mapped; only the pages searched are read)."""
    per = sel["samples_per_shard"]
    bounds = np.minimum(np.arange(len(sel["shards"]) + 1) * per, sel["total"])
    holders: List[List[tuple]] = [[] for _ in sel["shards"]]
    for u, n in enumerate(sel["unit_selected"]):
        if not n:
            continue
        rows = np.searchsorted(np.load(work.cut(u), mmap_mode="r")["slot"], bounds)
        for s in np.flatnonzero(rows[1:] > rows[:-1]):
            holders[s].append((u, int(rows[s]), int(rows[s + 1])))
    return holders


class _AssembleTask:
    def __init__(self, work, sel, spec, attrs, threads=1):
        self.work, self.sel, self.spec, self.attrs, self.threads = work, sel, spec, attrs, threads

    def __call__(self, item):
        s, holders = item
        name = self.sel["shards"][s]
        lo = s * self.sel["samples_per_shard"]
        hi = min(lo + self.sel["samples_per_shard"], self.sel["total"])
        parts, sources = [], []
        for u, a, b in holders:
            rows = np.array(np.load(self.work.cut(u), mmap_mode="r")[a:b])
            meta = read_json(self.work.unit_meta(u))
            parts.append(rows)
            sources.extend(f"{meta['dataset']}/{meta['images'][i]}" for i in rows["src"])
        rows = np.concatenate(parts)
        order = np.argsort(rows["slot"], kind="stable")
        rows = rows[order]
        sources = [sources[i] for i in order]
        if not np.array_equal(rows["slot"], np.arange(lo, hi)):
            raise RuntimeError(f"{name}: slots {lo}..{hi} are not filled exactly once; the work state is corrupt")
        paths = sorted(set(sources))
        index = {p: i for i, p in enumerate(paths)}
        samples = {k: rows[k] for k in FIELD_NAMES if k not in ASSEMBLY_FIELDS}
        samples["source"] = np.array([index[p] for p in sources], dtype=np.int32)
        return write_shard(self.work.shard(name), samples, paths, self.attrs, self.spec.compression,
                           self.spec.compression_level, self.threads)


def run_assemble(work: WorkDir, sel: dict, spec: OutputSpec, workers: int, backend: str, attrs: dict) -> list:
    from ..io.shards import read_shard_info

    infos: Dict[int, dict] = {}
    todo = []
    for s, name in enumerate(sel["shards"]):
        if work.shard(name).exists():
            infos[s] = read_shard_info(work.shard(name))
        else:
            todo.append(s)
    holders = shard_holders(work, sel) if todo else []
    bar = make_progress(len(todo), "shards")
    results = []
    threads = max(1, workers // max(1, len(todo)))  # fewer shards than workers: compress in threads
    run_parallel(_AssembleTask(work, sel, spec, attrs, threads), [(s, holders[s]) for s in todo], workers, bar,
                 results.append, backend)
    bar.close()
    for info in results:
        infos[sel["shards"].index(info["name"])] = info
    return [infos[s] for s in range(len(sel["shards"]))]


def shard_attrs_for(spec: OutputSpec, extra: dict) -> dict:
    return shard_attributes(spec.stage, spec.crop_size, extra)


class Timer:
    """Wall time per phase, for the manifest."""

    def __init__(self):
        self.times: Dict[str, float] = {}

    def phase(self, name):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.times[name] = round(time.perf_counter() - self.t0, 3)

        return _Ctx()
