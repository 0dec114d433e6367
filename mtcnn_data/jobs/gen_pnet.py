"""gen-pnet: P-Net training data (12x12) from WIDER-style boxes and a landmark set."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionError
from .config import GenPnetConfig
from ..core.sampling import LandmarkSampling, PNetSampling, image_rng, pnet_candidates
from ..io.images import usable
from ..engine.units import plan_landmark_unit, plan_unit
from ..engine.run import RunOptions, output_spec, run_job


@dataclass(frozen=True)
class PlanPnet:
    """Plans one unit: random labelled crops (faces units) or landmark crops."""

    seed: int
    faces: PNetSampling
    landmarks: LandmarkSampling

    def __call__(self, unit):
        if unit.kind == "landmarks":
            return plan_landmark_unit(unit, self.seed, self.landmarks)
        return plan_unit(unit, self._plan_image)

    def _plan_image(self, kind, identity, path, rec, fit):
        size, problem = usable(path)
        if problem:
            return None, None, problem
        rec = fit(rec, size)
        return pnet_candidates(image_rng(self.seed, identity), size[0], size[1], rec.boxes, rec.keep, self.faces), size, None


def gen_pnet_config(out, config: GenPnetConfig, run: RunOptions = RunOptions(), command=None) -> dict:
    """Cut balanced P-Net data as ``config`` describes into ``out``; returns the manifest."""
    faces = PNetSampling(negatives_per_image=config.negatives_per_image,
                         near_negatives_per_face=config.near_negatives_per_face,
                         jitter_per_face=config.jitter_per_face, min_face=float(config.min_face))
    landmarks = LandmarkSampling(attempts=config.landmark_attempts, angle=float(config.rotate_degrees))
    return gen_pnet(out, config.sources(), seed=config.seed, ratio=config.ratio, limit=config.limit, faces=faces,
                    landmarks=landmarks, shard_mb=config.shard_mb, compression=config.compression_filter,
                    max_pixels=config.max_pixels, run=run, command=command, description=config.settings())


def gen_pnet(out, sources, *, seed=0, ratio=(3, 1, 1, 2), limit=None, faces=PNetSampling(),
             landmarks=LandmarkSampling(), shard_mb=64.0, compression="gzip", compression_level=4,
             max_pixels=None, run: RunOptions = RunOptions(), command=None, description=None) -> dict:
    """Cut balanced P-Net data from ``sources`` (a list of :class:`Source`) into ``out``
    (``description``: the settings recorded in the manifest, see :func:`gen_pnet_config`)."""
    if faces.crop_size != landmarks.crop_size:
        raise OptionError("face and landmark samples must share one crop size")
    extra = {} if max_pixels is None else {"max_pixels": max_pixels}
    spec = output_spec("pnet", faces.crop_size, seed, ratio, limit, shard_mb, compression,
                       compression_level, landmarks.angle, **extra)
    config = {"sampling": faces.to_dict(), "landmark_sampling": landmarks.to_dict()}
    plan = PlanPnet(int(seed), faces, landmarks)
    return run_job(out, list(sources), plan, spec, config, run, command, description)
