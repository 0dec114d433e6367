"""gen-pnet: P-Net training data (12x12) from WIDER-style boxes and a landmark set."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..core.sampling import LandmarkSampling, PNetSampling, image_rng, landmark_candidates, pnet_candidates
from ..core.schema import CANDIDATE_DTYPE
from ..errors import ImageError
from ..io.images import image_size, safe_join
from .jobs import RunOptions, output_spec, run_job


@dataclass(frozen=True)
class PlanPnet:
    """Plans one unit: random labelled crops (faces units) or landmark crops."""

    seed: int
    faces: PNetSampling
    landmarks: LandmarkSampling

    def __call__(self, unit):
        parts, sizes, skipped = [], [], []
        for i, rec in enumerate(unit.records):
            path = safe_join(unit.image_root, rec.path, f"{rec.source}:{rec.line}")
            size = probe_size(path)
            sizes.append(list(size) if isinstance(size, tuple) else None)
            if not isinstance(size, tuple):
                skipped.append([f"{unit.dataset}/{rec.path}", size])
                continue
            rng = image_rng(self.seed, f"{unit.dataset}/{rec.path}")
            cands = self._plan_image(unit.kind, rng, size, rec)
            cands["image"] = i
            parts.append(cands)
        cands = np.concatenate(parts) if parts else np.zeros(0, dtype=CANDIDATE_DTYPE)
        return cands, {"images": [r.path for r in unit.records], "sizes": sizes, "skipped": skipped}

    def _plan_image(self, kind, rng, size, rec):
        if kind == "faces":
            return pnet_candidates(rng, size[0], size[1], rec.kept_boxes, rec.boxes, self.faces)
        if rec.landmarks is None or not rec.keep.any():
            return np.zeros(0, dtype=CANDIDATE_DTYPE)
        return landmark_candidates(rng, rec.kept_boxes, rec.kept_landmarks, self.landmarks)


def probe_size(path):
    """``(w, h)`` of an image, or a short reason why it cannot be used."""
    if not os.path.exists(path):
        return "missing"
    try:
        size = image_size(path)
    except ImageError as exc:
        return f"unreadable ({str(exc).split(': ', 1)[-1]})"
    return size


def gen_pnet(out, sources, *, seed=0, ratio=(3, 1, 1, 2), limit=None, faces=PNetSampling(),
             landmarks=LandmarkSampling(), shard_mb=64.0, compression="gzip", compression_level=4,
             max_pixels=None, run: RunOptions = RunOptions(), command=None) -> dict:
    """Cut balanced P-Net data from ``sources`` (a list of :class:`Source`) into ``out``."""
    if faces.crop_size != landmarks.crop_size:
        raise ValueError("face and landmark samples must share one crop size")
    extra = {} if max_pixels is None else {"max_pixels": max_pixels}
    spec = output_spec("pnet", faces.crop_size, seed, ratio, limit, shard_mb, compression,
                       compression_level, landmarks.angle, **extra)
    config = {"sampling": faces.to_dict(), "landmark_sampling": landmarks.to_dict()}
    plan = PlanPnet(int(seed), faces, landmarks)
    return run_job(out, list(sources), plan, spec, config, run, command)
