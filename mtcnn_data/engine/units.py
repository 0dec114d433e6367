"""Work units: consecutive images of one dataset, the grain of planning and cutting."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..core.filtering import DROP_REASONS
from ..core.sampling import LandmarkSampling, image_rng, landmark_candidates_of_images
from ..core.schema import CANDIDATE_DTYPE
from ..io.images import safe_join, usable
from ..io.records import ImageRecord, fit_to_image


@dataclass
class Unit:
    """A work unit: consecutive images of one dataset.

    Pickled compactly for the workers: the records' boxes, ``keep`` and landmarks as
    a few concatenated arrays, without the per-box ``attributes`` (the filters that
    need them ran in the reader), so that handing a unit to a worker costs the
    driver a fraction of a millisecond rather than pickling hundreds of small arrays."""

    index: int
    dataset: str
    kind: str  # "faces" (positives, parts, negatives) or "landmarks"
    image_root: str
    records: list = field(repr=False)
    drop_outside: bool = True  # FilterConfig.drop_outside_image: applied once the image's size is known

    def __getstate__(self):
        recs = self.records
        has_landmarks = np.array([r.landmarks is not None for r in recs], bool)
        return {
            "head": (self.index, self.dataset, self.kind, self.image_root, self.drop_outside),
            "paths": [r.path for r in recs],
            "where": [(r.source, r.line, r.dataset) for r in recs],
            "counts": np.array([len(r.boxes) for r in recs], np.int64),
            "boxes": _concat([r.boxes for r in recs], (0, 4), np.float32),
            "keep": _concat([r.keep for r in recs], (0,), bool),
            "drop_reason": _concat([r.drop_reason for r in recs], (0,), np.uint8),
            "has_landmarks": has_landmarks,
            "landmarks": _concat([r.landmarks for r in recs if r.landmarks is not None], (0, 5, 2), np.float32),
        }

    def __setstate__(self, state):
        self.index, self.dataset, self.kind, self.image_root, self.drop_outside = state["head"]
        ends = np.cumsum(state["counts"])
        starts = ends - state["counts"]
        lm_ends = np.cumsum(np.where(state["has_landmarks"], state["counts"], 0))
        self.records = [
            ImageRecord(path, state["boxes"][a:b], state["landmarks"][e - (b - a):e] if has else None,
                        keep=state["keep"][a:b], drop_reason=state["drop_reason"][a:b],
                        source=source, line=line, dataset=dataset)
            for path, (source, line, dataset), a, b, has, e in zip(
                state["paths"], state["where"], starts.tolist(), ends.tolist(),
                state["has_landmarks"].tolist(), lm_ends.tolist())
        ]


def _concat(arrays, empty_shape, empty_dtype):
    """One array of the records' arrays (their own dtype kept)."""
    return np.concatenate(arrays) if arrays else np.zeros(empty_shape, empty_dtype)


def chunk_units(sources, unit_size: int, start: int = 0) -> Iterator[Unit]:
    """Cut each ``(name, kind, image_root, records_iterable[, drop_outside])`` source into units."""
    u = start
    for name, kind, image_root, records, *drop_outside in sources:
        image_root = Path(image_root).resolve()
        batch = []
        for rec in records:
            batch.append(rec)
            if len(batch) == unit_size:
                yield Unit(u, name, kind, str(image_root), batch, *drop_outside)
                u, batch = u + 1, []
        if batch:
            yield Unit(u, name, kind, str(image_root), batch, *drop_outside)
            u += 1


def plan_unit(unit: Unit, plan_image: Callable):
    """Plan every image of a unit with ``plan_image(kind, identity, path, record, fit) ->
    (candidates, (w, h), problem)``, where ``fit(record, (w, h))`` is the record with the
    unit's image-size filter applied (call it once the size is known, before sampling);
    images with a problem are listed as skipped. Returns ``(candidates, meta)`` as
    :func:`run_plan` expects; ``meta["boxes"]`` counts the used images' boxes by drop reason."""
    fit = partial(fit_to_image, enabled=unit.drop_outside)
    planned = []
    for rec, identity, path in _images(unit):
        cands, size, problem = plan_image(unit.kind, identity, path, rec, fit)
        planned.append((cands, size, problem, None if problem else fit(rec, size).drop_reason))
    return _unit_plan(unit, planned)


def plan_landmark_unit(unit: Unit, seed: int, cfg: LandmarkSampling):
    """:func:`plan_unit` for a landmark set's unit, the same result: each image probed for
    its size, each used record's kept faces sampled by :func:`landmark_candidates` with
    the image's generator, all the unit's images in one call."""
    fit = partial(fit_to_image, enabled=unit.drop_outside)
    planned, sampled = [], []
    for rec, identity, path in _images(unit):
        size, problem = usable(path)
        if not problem:
            rec = fit(rec, size)
            if rec.landmarks is not None and rec.keep.any():
                sampled.append((len(planned), image_rng(seed, identity), rec))
        planned.append([_NO_CANDIDATES, size, problem, None if problem else rec.drop_reason])
    cands = landmark_candidates_of_images([s[1] for s in sampled], [s[2].kept_boxes for s in sampled],
                                          [s[2].kept_landmarks for s in sampled], cfg)
    for (i, _, _), c in zip(sampled, cands):
        planned[i][0] = c
    return _unit_plan(unit, planned)


_NO_CANDIDATES = np.zeros(0, dtype=CANDIDATE_DTYPE)


def _images(unit: Unit):
    """``(record, identity, path)`` of each image of the unit, its path checked."""
    for rec in unit.records:
        yield rec, f"{unit.dataset}/{rec.path}", safe_join(unit.image_root, rec.path, f"{rec.source}:{rec.line}")


def _unit_plan(unit: Unit, planned: list):
    """``(candidates, meta)`` of a unit from ``(candidates, size, problem, drop reasons)`` per image."""
    parts, sizes, skipped, reasons = [], [], [], []
    for i, (rec, (cands, size, problem, reason)) in enumerate(zip(unit.records, planned)):
        sizes.append(list(size) if size is not None else None)
        if problem:
            skipped.append([f"{unit.dataset}/{rec.path}", problem])
            continue
        reasons.append(reason)
        cands["image"] = i
        parts.append(cands)
    cands = np.concatenate(parts) if parts else np.zeros(0, dtype=CANDIDATE_DTYPE)
    return cands, {"images": [r.path for r in unit.records], "sizes": sizes, "skipped": skipped,
                   "boxes": reason_counts(np.concatenate(reasons) if reasons else np.zeros(0, np.uint8))}


def reason_counts(codes: np.ndarray) -> dict:
    """Drop-reason name -> number of boxes (``kept`` included)."""
    values, counts = np.unique(codes, return_counts=True)
    return {DROP_REASONS[int(v)]: int(c) for v, c in zip(values, counts)}
