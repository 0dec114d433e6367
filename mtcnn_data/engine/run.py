"""Running a data job end to end: sources -> plan -> select -> cut -> assemble -> manifest.

``gen-pnet`` and ``mine`` differ only in how a unit is planned (random crops or a
detector's proposals); everything else, including resume and the manifest, is here.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np

from .. import __version__
from ..core.schema import CLASS_NAMES, DEFAULT_RATIO
from ..errors import ImageError, MtcnnDataError
from ..io.images import DEFAULT_MAX_PIXELS
from ..io.shards import file_sha256
from .phases import (
    OutputSpec,
    Timer,
    run_assemble,
    run_cut,
    run_plan,
    run_select,
    shard_attrs_for,
)
from ..io.files import read_json
from .units import chunk_units
from .workdir import WorkDir


@dataclass
class Source:
    """A resolved dataset and its role: ``kind`` is "faces" or "landmarks"."""

    kind: str
    dataset: object  # mtcnn_data.io.datasets.Dataset

    @property
    def name(self) -> str:
        return self.dataset.name


@dataclass
class RunOptions:
    """Options that shape how a job runs but never what it writes."""

    workers: int = 1
    backend: str = "loky"
    resume: bool = False
    overwrite: bool = False
    skip_missing: bool = False
    unit_size: int = 64
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))


def output_spec(stage, crop_size, seed=0, ratio=DEFAULT_RATIO, limit=None, shard_mb=64.0,
                compression="gzip", compression_level=4, angle=5.0, max_pixels=DEFAULT_MAX_PIXELS) -> OutputSpec:
    return OutputSpec(stage, crop_size, int(seed), tuple(int(r) for r in ratio), limit, float(shard_mb),
                      compression, int(compression_level), float(angle), int(max_pixels))


def run_job(out, sources: List[Source], plan_fn, spec: OutputSpec, config: dict, run: RunOptions,
            command: Optional[List[str]] = None, manifest_extra: Optional[Callable[[], dict]] = None) -> dict:
    """Run a whole job into ``out``; returns the manifest. ``manifest_extra()``, called
    once the shards are written, gives manifest entries that do not decide the output
    (so they are not in the resume fingerprint)."""
    work = WorkDir(Path(out).resolve())  # absolute: workers on other hosts or folders see the same path
    fingerprint = _fingerprint(config, spec, sources)
    resuming = work.prepare(fingerprint, run.resume, run.overwrite)
    if resuming:
        run.log(f"resuming the unfinished run in {work.out}")
    try:
        return _run_phases(work, sources, plan_fn, spec, config, run, command, manifest_extra)
    except BaseException:
        # a unit failed, the annotations had an error, Ctrl-C: the local pool has been
        # stopped, possibly killing a worker in the middle of writing a file
        work.remove_temporary()
        raise


def _run_phases(work, sources, plan_fn, spec, config, run, command, manifest_extra=None) -> dict:
    timer, stats = Timer(), {}
    started = time.time()
    with timer.phase("plan"):
        units = chunk_units(((s.name, s.kind, s.dataset.image_root, s.dataset.records()) for s in sources), run.unit_size)
        num_units = run_plan(work, units, plan_fn, run.workers, run.backend, stats)
    images = _collect_images(work, num_units)
    _check_bad_images(images, run, work)
    with timer.phase("select"):
        sel = run_select(work, num_units, spec)
    _check_selection(sel, spec)
    with timer.phase("cut"):
        run_cut(work, sel, spec, run.workers, run.backend)
    with timer.phase("assemble"):
        attrs = shard_attrs_for(spec, {"seed": spec.seed, "tool": f"mtcnn-data {__version__}"})
        shards = run_assemble(work, sel, spec, run.workers, run.backend, attrs)
    manifest = _manifest(spec, config, sources, sel, shards, images, timer.times, started, run, command)
    manifest.update(manifest_extra() if manifest_extra else {})
    work.finish([s["name"] for s in shards], manifest)
    return manifest


def _fingerprint(config, spec: OutputSpec, sources) -> dict:
    """Everything that decides the output bytes, as JSON would give it back."""
    return json.loads(json.dumps({
        "tool_version": __version__,
        "output": spec.__dict__,
        "config": config,
        "sources": [{"kind": s.kind, "name": s.name, "annotations": [str(Path(p).resolve()) for p in _files(s.dataset)],
                     "image_root": str(Path(s.dataset.image_root).resolve())} for s in sources],
    }))


def _collect_images(work: WorkDir, num_units: int) -> dict:
    used, skipped, bad_units, seconds = {}, [], [], {}
    for u in range(num_units):
        meta = read_json(work.unit_meta(u))
        for k, v in meta.get("seconds", {}).items():
            seconds[k] = seconds.get(k, 0.0) + v
        used[meta["dataset"]] = used.get(meta["dataset"], 0) + len(meta["images"]) - len(meta.get("skipped", []))
        skipped.extend(meta.get("skipped", []))
        if meta.get("skipped"):
            bad_units.append(u)
    return {"used": used, "skipped": skipped, "bad_units": bad_units, "plan_cpu_s": seconds}


def _check_bad_images(images: dict, run: RunOptions, work: WorkDir) -> None:
    bad = images["skipped"]
    if not bad:
        return
    first = "\n".join(f"  {p}: {why}" for p, why in bad[:5])
    if not run.skip_missing:
        for u in images["bad_units"]:  # planned again on --resume, in case the images were fixed
            work.unit_meta(u).unlink()
            work.candidates(u).unlink()
        raise ImageError(
            f"{len(bad)} image(s) are missing or unreadable, for example:\n{first}\n"
            "Fix them and rerun with --resume, or rerun with --resume --skip-missing to continue "
            "without them (they are then listed in the manifest)."
        )
    run.log(f"skipping {len(bad)} missing or unreadable image(s); they are listed in the manifest")


def _check_selection(sel: dict, spec: OutputSpec) -> None:
    if sel["total"] == 0:
        cand = ", ".join(f"{k} {v:,}" for k, v in sel["candidates"].items())
        raise MtcnnDataError(
            f"no balanced output is possible: candidates per class are {cand} and the ratio "
            f"{':'.join(map(str, spec.ratio))} needs every class with a non-zero share "
            f"(limited by: {sel['limiting_class']}). Add a source for the empty class or set its share to 0 with --ratio."
        )


def _manifest(spec, config, sources, sel, shards, images, times, started, run, command) -> dict:
    kept = {name: sum(s["classes"][name] for s in shards) for name in CLASS_NAMES}
    return {
        "format": "mtcnn-data shards",
        "schema_version": 1,
        "tool": {"name": "mtcnn-data", "version": __version__, "python": platform.python_version(),
                 "numpy": np.__version__, "opencv": _cv2_version(), "h5py": _h5py_version()},
        "command": command if command is not None else sys.argv,
        "stage": spec.stage,
        "crop_size": spec.crop_size,
        "seed": spec.seed,
        "ratio": dict(zip(CLASS_NAMES, spec.ratio)),
        "config": config,
        "output": {"shard_mb": spec.shard_mb, "samples_per_shard": sel["samples_per_shard"],
                   "compression": spec.compression, "compression_level": spec.compression_level,
                   "rotation_degrees": spec.angle, "max_pixels": spec.max_pixels},
        "inputs": [_input_entry(s, images) for s in sources],
        "images_skipped": [{"image": p, "reason": why} for p, why in images["skipped"]],
        "balance": {"candidates": sel["candidates"], "kept": kept, "limiting_class": sel["limiting_class"]},
        "shards": shards,
        "totals": {"samples": sel["total"], "shards": len(shards), **kept},
        "timings_s": {**times, "total": round(time.time() - started, 3),
                      **({"plan_cpu_s": {k: round(v, 2) for k, v in images["plan_cpu_s"].items()}}
                         if images["plan_cpu_s"] else {})},
        "run": {"workers": run.workers, "backend": run.backend, "unit_size": run.unit_size,
                "host": platform.node(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }


def _input_entry(source: Source, images: dict) -> dict:
    ds = source.dataset
    return {
        "role": source.kind,
        "dataset": source.name,
        "image_root": str(Path(ds.image_root).resolve()),
        "annotations": [{"path": str(Path(p).resolve()), "sha256": file_sha256(p)} for p in _files(ds)],
        "images_used": images["used"].get(source.name, 0),
    }


def _cv2_version():
    import cv2

    return cv2.__version__


def _h5py_version():
    import h5py

    return h5py.__version__


def _files(dataset) -> list:
    return list(dataset.annotation_files.values())
