"""Running a data job end to end: sources -> plan -> select -> cut -> assemble -> manifest.

``gen-pnet`` and ``mine`` differ only in how a unit is planned (random crops or a
detector's proposals); everything else, including resume and the manifest, is here.
"""

from __future__ import annotations

import itertools
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np

from .. import __version__
from ..core.filtering import DROP_REASONS
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
    """A resolved dataset and its role: ``kind`` is "faces" or "landmarks";
    ``max_images``: only its first N images, in annotation order (all when None)."""

    kind: str
    dataset: object  # mtcnn_data.io.datasets.Dataset
    max_images: Optional[int] = None

    def records(self):
        return itertools.islice(self.dataset.records(), self.max_images)

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
    #: mine --stage onet: a finished R-Net run whose kept P-Net candidates stand in for P-Net
    reuse: Optional[str] = None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))


def output_spec(stage, crop_size, seed=0, ratio=DEFAULT_RATIO, limit=None, shard_mb=64.0,
                compression="gzip", compression_level=4, angle=5.0, max_pixels=DEFAULT_MAX_PIXELS) -> OutputSpec:
    return OutputSpec(stage, crop_size, int(seed), tuple(int(r) for r in ratio), limit, float(shard_mb),
                      compression, int(compression_level), float(angle), int(max_pixels))


def run_job(out, sources: List[Source], plan_fn, spec: OutputSpec, config: dict, run: RunOptions,
            command: Optional[List[str]] = None, settings: Optional[dict] = None,
            manifest_extra: Optional[Callable[[], dict]] = None) -> dict:
    """Run a whole job into ``out``; returns the manifest.

    ``settings``: the command's description (:meth:`mtcnn_data.jobs.config.DataConfig.settings`),
    recorded in the manifest and, with ``config`` and the input files' sha256, the resume
    fingerprint; without it the output spec stands in. ``manifest_extra()``, called once
    the shards are written, gives manifest entries that do not decide the output (so they
    are not in the resume fingerprint)."""
    work = WorkDir(Path(out).resolve())  # absolute: workers on other hosts or folders see the same path
    settings = settings if settings is not None else {"output": dict(spec.__dict__)}
    config = {**config, "filters": _filters(sources)}
    inputs = [_input_files(s) for s in sources]
    resuming = work.prepare(_fingerprint(settings, config, inputs), run.resume, run.overwrite)
    if resuming:
        run.log(f"resuming the unfinished run in {work.out}")
    try:
        return _run_phases(work, sources, plan_fn, spec, dict(settings=settings, config=config, inputs=inputs),
                           run, command, manifest_extra)
    except BaseException:
        # a unit failed, the annotations had an error, Ctrl-C: the local pool has been
        # stopped, possibly killing a worker in the middle of writing a file
        work.remove_temporary()
        raise


def _run_phases(work, sources, plan_fn, spec, described, run, command, manifest_extra=None) -> dict:
    timer, stats = Timer(), {}
    started = time.time()
    with timer.phase("plan"):
        units = chunk_units(((s.name, s.kind, s.dataset.image_root, s.records(), s.dataset.filters.drop_outside_image)
                             for s in sources), run.unit_size)
        num_units = run_plan(work, units, plan_fn, run.workers, run.backend, stats)
    images = _collect_images(work, num_units)
    images["roots"] = {i["dataset"]: {"image_root": i["image_root"], "images": images["planned"].get(i["dataset"], 0)}
                       for i in described["inputs"]}
    _check_bad_images(images, run, work)
    with timer.phase("select"):
        sel = run_select(work, num_units, spec)
    _check_selection(sel, spec)
    with timer.phase("cut"):
        run_cut(work, sel, spec, run.workers, run.backend)
    with timer.phase("assemble"):
        attrs = shard_attrs_for(spec, {"seed": spec.seed, "tool": f"mtcnn-data {__version__}"})
        shards = run_assemble(work, sel, spec, run.workers, run.backend, attrs)
    manifest = _manifest(spec, described, sel, shards, images, timer.times, started, run, command)
    manifest.update(manifest_extra() if manifest_extra else {})
    work.finish([s["name"] for s in shards], manifest)
    return manifest


def _fingerprint(settings: dict, config: dict, inputs: list) -> dict:
    """Everything that decides the output bytes, as JSON would give it back."""
    return json.loads(json.dumps({"tool_version": __version__, "settings": settings, "config": config,
                                  "inputs": inputs}, allow_nan=False))


def _filters(sources) -> dict:
    """The filters the readers apply (every source shares one FilterConfig)."""
    return asdict(sources[0].dataset.filters) if sources else {}


def _input_files(source: Source) -> dict:
    ds = source.dataset
    return {
        "role": source.kind,
        "dataset": source.name,
        "split": ds.split,
        "image_root": str(Path(ds.image_root).resolve()),
        "annotations": [{"path": str(Path(p).resolve()), "sha256": file_sha256(p)} for p in _files(ds)],
    }


def _collect_images(work: WorkDir, num_units: int) -> dict:
    used, planned, skipped, bad_units, seconds, boxes = {}, {}, [], [], {}, {}
    for u in range(num_units):
        meta = read_json(work.unit_meta(u))
        counts = boxes.setdefault(meta["dataset"], {})
        for k, v in meta.get("boxes", {}).items():
            counts[k] = counts.get(k, 0) + v
        for k, v in meta.get("seconds", {}).items():
            seconds[k] = seconds.get(k, 0.0) + v
        used[meta["dataset"]] = used.get(meta["dataset"], 0) + len(meta["images"]) - len(meta.get("skipped", []))
        planned[meta["dataset"]] = planned.get(meta["dataset"], 0) + len(meta["images"])
        skipped.extend(meta.get("skipped", []))
        if meta.get("skipped"):
            bad_units.append(u)
    return {"used": used, "skipped": skipped, "bad_units": bad_units, "plan_cpu_s": seconds, "boxes": boxes,
            "planned": planned}


def _check_bad_images(images: dict, run: RunOptions, work: WorkDir) -> None:
    bad = images["skipped"]
    if not bad:
        return
    first = "\n".join(f"  {p}: {why}" for p, why in bad[:5]) + "\n" + _missing_by_folder(bad, images["roots"])
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


def _missing_by_folder(bad, roots: dict) -> str:
    """Per dataset: how many images are missing or unreadable of how many, and the top
    folders (under its image root) that do not exist at all."""
    lines = []
    by_dataset = {}
    for identity, _ in bad:
        dataset, _, rel = identity.partition("/")
        by_dataset.setdefault(dataset, []).append(rel)
    for dataset, rels in by_dataset.items():
        root = Path(roots[dataset]["image_root"])
        folders = {}
        for rel in rels:
            top = rel.split("/", 1)[0] if "/" in rel else ""
            folders[top] = folders.get(top, 0) + 1
        absent = [f"{n:,} under the absent {top}/" for top, n in sorted(folders.items()) if top and not (root / top).is_dir()]
        note = f" ({'; '.join(absent)})" if absent else ""
        lines.append(f"  {dataset}: {len(rels):,} of {roots[dataset]['images']:,} images missing or unreadable under {root}{note}")
    return "\n".join(lines)


def _check_selection(sel: dict, spec: OutputSpec) -> None:
    if sel["total"] == 0:
        cand = ", ".join(f"{k} {v:,}" for k, v in sel["candidates"].items())
        raise MtcnnDataError(
            f"no balanced output is possible: candidates per class are {cand} and the ratio "
            f"{':'.join(map(str, spec.ratio))} needs every class with a non-zero share "
            f"(limited by: {sel['limiting_class']}). Add a source for the empty class or set its share to 0 with --ratio."
        )


def _manifest(spec, described, sel, shards, images, times, started, run, command) -> dict:
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
        "settings": described["settings"],
        "config": described["config"],
        "output": {"shard_mb": spec.shard_mb, "samples_per_shard": sel["samples_per_shard"],
                   "compression": spec.compression, "compression_level": spec.compression_level,
                   "rotation_degrees": spec.angle, "max_pixels": spec.max_pixels},
        "inputs": [_input_entry(i, images) for i in described["inputs"]],
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


def _input_entry(files: dict, images: dict) -> dict:
    name = files["dataset"]
    return {**files, "images_used": images["used"].get(name, 0), "boxes": _box_counts(images["boxes"].get(name, {}))}


def _box_counts(counts: dict) -> dict:
    """``{"total", "kept", "dropped": {reason: n}}`` over the used images' boxes."""
    dropped = {name: counts[name] for name in DROP_REASONS.values() if name != "kept" and counts.get(name)}
    return {"total": sum(counts.values()), "kept": counts.get("kept", 0), "dropped": dropped}


def _cv2_version():
    import cv2

    return cv2.__version__


def _h5py_version():
    import h5py

    return h5py.__version__


def _files(dataset) -> list:
    return list(dataset.annotation_files.values())
