"""mine: R-Net (24x24) and O-Net (48x48) data mined with the trained earlier stage(s).

Each WIDER image runs through P-Net (``--stage rnet``) or P-Net then R-Net
(``--stage onet``); every candidate that survives is cropped exactly as the next
stage will see it at detection time (the square, integer, zero-padded crop of
:class:`mtcnn_data.detect.detector.Candidates`), labelled by its best IoU against
all annotated faces, and balanced with landmark samples regenerated at 24 or 48.
Detections go to one file per work unit: memory does not grow with the dataset.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from ..errors import OptionError
from .config import MINING_THRESHOLDS, MineConfig  # noqa: F401  (MINING_THRESHOLDS: re-exported)
from ..core.labelling import DISCARD, IoUBands, label_crops
from ..core.sampling import LandmarkSampling, image_rng, random_keys
from ..core.schema import CANDIDATE_DTYPE, NEGATIVE
from ..errors import ReuseError
from ..io.files import file_sha256
from ..io.images import read_rgb, usable
from . import reuse
from ..engine.units import plan_landmark_unit, plan_unit
from ..engine.run import RunOptions, output_spec, run_job
from ..engine.workdir import WorkDir

STAGE_SIZES = {"rnet": 24, "onet": 48}


@dataclass(frozen=True)
class MineSettings:
    """What decides a mining run's output (all recorded in the manifest)."""

    stage: str
    pnet: str
    rnet: Optional[str] = None
    detector: dict = field(default_factory=dict)  # DetectorConfig keyword arguments
    max_negatives_per_image: int = 50
    bands: IoUBands = IoUBands()
    landmarks: LandmarkSampling = LandmarkSampling(crop_size=24)
    threads: int = 1

    def __post_init__(self):
        if self.stage not in STAGE_SIZES:
            raise OptionError(f"stage must be 'rnet' or 'onet', got {self.stage!r}")
        if self.stage == "onet" and not self.rnet:
            raise OptionError("--stage onet mines with P-Net then R-Net: give --rnet CKPT as well")
        if self.landmarks.crop_size != STAGE_SIZES[self.stage]:
            raise OptionError(f"landmark crops must be {STAGE_SIZES[self.stage]} px for {self.stage}")


def _detector(settings: MineSettings):
    """The run's detector, one per worker process."""
    from ..detect.detector import DetectorConfig, cached_detector

    return cached_detector(settings.pnet, settings.rnet if settings.stage == "onet" else None,
                           config=DetectorConfig(**settings.detector))


_KEPT: dict = {}


def _kept(folder) -> reuse.KeptCandidates:
    """One look-up of ``--reuse`` candidates per worker process, built on first use."""
    if folder not in _KEPT:
        _KEPT[folder] = reuse.KeptCandidates(folder)
    return _KEPT[folder]


@dataclass
class PlanMine:
    """Plans a unit; ``keep_dir``: where an R-Net run keeps each unit's P-Net candidates;
    ``reuse_dir``: the kept candidates an O-Net run takes instead of running P-Net."""

    seed: int
    settings: MineSettings
    keep_dir: Optional[str] = None
    reuse_dir: Optional[str] = None

    def __call__(self, unit):
        import torch

        torch.set_num_threads(self.settings.threads)
        self._seconds = {"decode": 0.0, "pnet": 0.0, "rnet": 0.0}
        self._pnet_kept = []
        if unit.kind == "landmarks":
            cands, meta = plan_landmark_unit(unit, self.seed, self.settings.landmarks)
        else:
            cands, meta = plan_unit(unit, self._plan_image)
        if self.keep_dir is not None and unit.kind == "faces":
            reuse.save_unit(reuse.unit_file(self.keep_dir, unit.index), self._pnet_kept)
        meta["seconds"] = {k: round(v, 4) for k, v in self._seconds.items()}
        return cands, meta

    def _plan_image(self, kind, identity, path, rec, fit):
        rng = image_rng(self.seed, identity)
        start = time.perf_counter()
        image, problem = usable(path, read_rgb)
        self._seconds["decode"] += time.perf_counter() - start
        if problem:
            return None, None, problem
        size = (image.shape[1], image.shape[0])
        return self._mined(rng, image, fit(rec, size), identity, path), size, None

    def _mined(self, rng, image, rec, identity, path):
        detector = _detector(self.settings)
        if self.reuse_dir is not None:
            pnet = _kept(self.reuse_dir).get(identity, file_sha256(path))
            cands = detector.propose(image, upto="rnet", pnet=pnet)
        else:
            cands = detector.propose(image, upto="pnet" if self.settings.stage == "rnet" else "rnet")
        if self.keep_dir is not None:  # an R-Net run: these are P-Net's candidates
            self._pnet_kept.append((identity, file_sha256(path), cands))
        for stage, seconds in detector.last_timings.items():
            self._seconds[stage] += seconds
        return labelled_detections(rng, cands.crops, rec.boxes, rec.keep, self.settings)


def labelled_detections(rng, crops, faces, keep, settings: MineSettings):
    """Label detector crops against ``faces`` (``keep``: those that may give positives and
    parts); keep at most ``max_negatives_per_image`` negatives (random)."""
    crops = np.asarray(crops, dtype=np.int64).reshape(-1, 4)
    labels, iou, bbox = label_crops(crops, faces, keep, settings.bands)
    keys = random_keys(rng, len(crops))
    keep = labels != DISCARD
    neg = np.flatnonzero(labels == NEGATIVE)
    if len(neg) > settings.max_negatives_per_image:
        drop = neg[np.argsort(keys[neg], kind="stable")[settings.max_negatives_per_image:]]
        keep[drop] = False
    out = np.zeros(int(keep.sum()), dtype=CANDIDATE_DTYPE)
    out["crop"], out["label"], out["iou"], out["bbox"] = crops[keep], labels[keep], iou[keep], bbox[keep]
    out["key"] = keys[keep]
    return out


def mine_config(out, config: MineConfig, run: RunOptions = RunOptions(), command=None, threads=None) -> dict:
    """Mine data as ``config`` describes into ``out``; returns the manifest. ``threads``:
    torch threads per worker (default: the CPUs shared among ``run.workers``)."""
    detector = {"min_face": float(config.min_face), "factor": float(config.factor),
                "thresholds": config.thresholds, "device": config.device}
    settings = MineSettings(
        stage=config.stage, pnet=config.pnet, rnet=config.rnet, detector=detector,
        max_negatives_per_image=config.max_negatives_per_image,
        threads=threads or max(1, (os.cpu_count() or 1) // run.workers),
        landmarks=LandmarkSampling(crop_size=STAGE_SIZES[config.stage], attempts=config.landmark_attempts,
                                   angle=float(config.rotate_degrees)),
    )
    return mine(out, config.sources(), settings, seed=config.seed, ratio=config.ratio, limit=config.limit,
                shard_mb=config.shard_mb, compression=config.compression_filter, max_pixels=config.max_pixels,
                run=run, command=command, description=config.settings(), reuse_dir=run.reuse)


def mine(out, sources, settings: MineSettings, *, seed=0, ratio=(3, 1, 1, 2), limit=None, shard_mb=64.0,
         compression="gzip", compression_level=4, max_pixels=None, run: RunOptions = RunOptions(),
         command=None, description=None, reuse_dir=None) -> dict:
    """Mine ``settings.stage`` data from ``sources`` into ``out``; returns the manifest
    (``description``: the settings recorded in the manifest, see :func:`mine_config`).

    An R-Net run keeps its P-Net candidates in ``out/candidates/``; an O-Net run with
    ``reuse_dir`` (a finished R-Net run's ``out``) takes them instead of running P-Net."""
    extra = {} if max_pixels is None else {"max_pixels": max_pixels}
    spec = output_spec(settings.stage, STAGE_SIZES[settings.stage], seed, ratio, limit, shard_mb, compression,
                       compression_level, settings.landmarks.angle, **extra)
    detector = _detector(settings).to_dict()  # loads the checkpoints now: a bad one fails before any work
    config = {
        "mining": {"stage": settings.stage, "max_negatives_per_image": settings.max_negatives_per_image},
        "labelling": {"bands": asdict(settings.bands)},
        "detector": detector,
        "landmark_sampling": settings.landmarks.to_dict(),
    }
    if reuse_dir is not None and settings.stage != "onet":
        raise ReuseError("--reuse takes P-Net candidates for --stage onet; --stage rnet runs P-Net itself (and keeps "
                         "its candidates for a later --stage onet --reuse)")
    plan = PlanMine(int(seed), settings)
    if settings.stage == "rnet":
        plan.keep_dir = str(kept_folder(out))
    elif reuse_dir is not None:
        plan.reuse_dir = str(reuse.check_reusable(reuse_dir, detector).resolve())
    return run_job(out, list(sources), plan, spec, config, run, command, description,
                   manifest_extra=lambda: _manifest_extra(plan, detector))


def kept_folder(out) -> Path:
    """Where an R-Net run keeps its P-Net candidates until the run finishes."""
    return WorkDir(Path(out).resolve()).kept(reuse.FOLDER)


def _manifest_extra(plan: PlanMine, detector: dict) -> dict:
    """Not part of the resume fingerprint: neither changes the shards."""
    if plan.keep_dir is not None:
        return {"candidates": reuse.describe(plan.keep_dir, detector)}
    if plan.reuse_dir is not None:
        return {"reused": {"pnet_candidates": plan.reuse_dir,
                           "note": "P-Net was not rerun; the shards are byte-identical to a run without --reuse"}}
    return {}
