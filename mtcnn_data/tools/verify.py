"""``verify``: check a shard folder against its manifest.

Every check appends a readable fault; nothing stops at the first one, so one
run reports everything wrong with a folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import numpy as np

from ..core.schema import AUGMENT_CODES, CLASS_NAMES, LABEL_CODES, LANDMARK, NEGATIVE, PART, POSITIVE, SCHEMA_VERSION
from ..io.shards import class_counts, file_sha256, shard_fields
from ..engine.workdir import INCOMPLETE, MANIFEST

#: Tolerance for float targets compared with band edges.
EPS = 1e-6


@dataclass
class Report:
    folder: str
    checked: List[str] = field(default_factory=list)
    faults: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults

    def fault(self, msg: str) -> None:
        self.faults.append(msg)

    def text(self) -> str:
        lines = [f"verify {self.folder}"]
        lines += [f"  ok    {c}" for c in self.checked]
        lines += [f"  FAULT {f}" for f in self.faults]
        lines.append("PASSED" if self.ok else f"FAILED: {len(self.faults)} fault(s)")
        return "\n".join(lines)


def verify(folder) -> Report:
    folder = Path(folder)
    report = Report(str(folder))
    manifest = _load_manifest(folder, report)
    if manifest is None:
        return report
    totals = dict.fromkeys(CLASS_NAMES, 0)
    for entry in manifest.get("shards", []):
        counts = _check_shard(folder, entry, manifest, report)
        for k in totals:
            totals[k] += counts.get(k, 0)
    _check_totals(manifest, totals, report)
    _check_leftovers(folder, manifest, report)
    return report


def _load_manifest(folder: Path, report: Report):
    path = folder / MANIFEST
    if not path.is_file():
        hint = " (an unfinished run: rerun with --resume)" if (folder / INCOMPLETE).exists() else ""
        report.fault(f"{path}: missing; a finished run writes it last{hint}")
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.fault(f"{path}: not readable JSON ({exc})")
        return None
    missing = [k for k in ("stage", "crop_size", "ratio", "shards", "totals", "config") if k not in manifest]
    if missing:
        report.fault(f"{path}: keys missing: {', '.join(missing)}")
        return None
    report.checked.append(f"{MANIFEST}: {len(manifest['shards'])} shard(s), stage {manifest['stage']}")
    return manifest


def _check_shard(folder: Path, entry: dict, manifest: dict, report: Report) -> dict:
    path = folder / entry["name"]
    if not path.is_file():
        report.fault(f"{entry['name']}: listed in the manifest but missing")
        return {}
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        report.fault(f"{entry['name']}: sha256 {digest[:16]}... differs from the manifest's {entry['sha256'][:16]}... (changed or corrupted)")
    try:
        data = _read_fields(path, int(manifest["crop_size"]), report)
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError variants on corruption
        report.fault(f"{entry['name']}: cannot be read as an HDF5 shard ({type(exc).__name__}: {exc})")
        return {}
    if data is None:
        return {}
    counts = class_counts(data["labels"])
    if counts != entry.get("classes"):
        report.fault(f"{entry['name']}: class counts {counts} differ from the manifest's {entry.get('classes')}")
    _check_values(entry["name"], data, manifest, report)
    report.checked.append(f"{entry['name']}: {len(data['labels']):,} samples, checksum, schema and values")
    return counts


def _read_fields(path: Path, crop: int, report: Report):
    import h5py

    with h5py.File(path, "r") as f:
        ok = True
        n = None
        for name, (dtype, shape) in shard_fields(crop).items():
            if name not in f:
                report.fault(f"{path.name}: dataset {name!r} missing")
                ok = False
                continue
            ds = f[name]
            n = ds.shape[0] if n is None else n
            if ds.dtype != np.dtype(dtype) or ds.shape != (n,) + shape:
                report.fault(f"{path.name}: {name} is {ds.dtype}{ds.shape}, expected {np.dtype(dtype)}{(n,) + shape}")
                ok = False
        if "source_paths" not in f:
            report.fault(f"{path.name}: dataset 'source_paths' missing")
            ok = False
        attrs = dict(f.attrs)
        if attrs.get("schema_version") != SCHEMA_VERSION or int(attrs.get("crop_size", -1)) != crop:
            report.fault(f"{path.name}: attributes schema_version={attrs.get('schema_version')} crop_size={attrs.get('crop_size')}, "
                         f"expected {SCHEMA_VERSION} and {crop}")
            ok = False
        if not ok:
            return None
        out = {k: f[k][()] for k in ("labels", "bbox", "landmarks", "iou", "crop_box", "source", "augment")}
        out["num_sources"] = len(f["source_paths"])
        if n:
            f["images"][n - 1]  # reading the last image decompresses the last chunk: catches truncation
        return out


def _bands(manifest: dict) -> dict:
    cfg = manifest["config"]
    sampling = cfg.get("sampling") or cfg.get("labelling") or {}
    bands = sampling.get("bands", {"positive": 0.65, "part": 0.4, "negative": 0.3})
    lm = cfg.get("landmark_sampling", {}).get("min_iou", bands["positive"])
    return {**bands, "landmark": lm}


def _check_values(name: str, d: dict, manifest: dict, report: Report) -> None:
    labels, iou = d["labels"], d["iou"]
    bands = _bands(manifest)

    def bad(mask, what):
        if np.any(mask):
            i = int(np.flatnonzero(mask)[0])
            report.fault(f"{name}: {int(np.sum(mask)):,} sample(s) {what} (first: index {i})")

    bad(~np.isin(labels, list(LABEL_CODES.values())), "with an unknown label code")
    bad(~np.isfinite(iou) | (iou < 0) | (iou > 1 + EPS), "with iou outside [0, 1]")
    bad((labels == POSITIVE) & (iou <= bands["positive"] - EPS), f"labelled positive with iou <= {bands['positive']}")
    bad((labels == PART) & ((iou < bands["part"] - EPS) | (iou > bands["positive"] + EPS)), f"labelled part with iou outside [{bands['part']}, {bands['positive']}]")
    bad((labels == NEGATIVE) & (iou >= bands["negative"] + EPS), f"labelled negative with iou >= {bands['negative']}")
    bad((labels == LANDMARK) & (iou < bands["landmark"] - EPS), f"labelled landmark with iou < {bands['landmark']}")
    bad(~np.all(np.isfinite(d["bbox"]), axis=1), "with non-finite box targets")
    bad((labels == NEGATIVE) & np.any(d["bbox"] != 0, axis=1), "negative with non-zero box targets")
    bad((labels != LANDMARK) & np.any(d["landmarks"] != 0, axis=1), "without landmark label but with landmark targets")
    lm = d["landmarks"]
    bad((labels == LANDMARK) & np.any((lm < 0) | (lm >= 1), axis=1), "with landmark targets outside [0, 1)")
    cb = d["crop_box"]
    bad((cb[:, 2] <= cb[:, 0]) | (cb[:, 3] <= cb[:, 1]), "with an empty crop_box")
    bad((d["source"] < 0) | (d["source"] >= d["num_sources"]), "with a source index outside source_paths")
    bad(~np.isin(d["augment"], list(AUGMENT_CODES.values())), "with an unknown augment code")
    bad((labels != LANDMARK) & (d["augment"] != 0), "augmented although not landmark samples")


def _check_totals(manifest: dict, totals: dict, report: Report) -> None:
    expected = {k: manifest["totals"].get(k) for k in CLASS_NAMES}
    if totals != expected:
        report.fault(f"class totals {totals} differ from the manifest's {expected}")
    ratio = np.array([manifest["ratio"][k] for k in CLASS_NAMES], dtype=np.int64)
    counts = np.array([totals[k] for k in CLASS_NAMES], dtype=np.int64)
    used = ratio > 0
    scale = counts[used] // ratio[used] if used.any() else np.array([0])
    if np.any(counts[~used]) or not np.array_equal(counts[used], ratio[used] * scale[0]):
        report.fault(f"class totals {totals} are not in the ratio {':'.join(map(str, ratio))}")
    else:
        report.checked.append(f"ratio {':'.join(map(str, ratio))} exact: {totals}")


def _check_leftovers(folder: Path, manifest: dict, report: Report) -> None:
    listed = {e["name"] for e in manifest["shards"]}
    extra = sorted(p.name for p in folder.glob("*.h5") if p.name not in listed)
    if extra:
        report.fault(f"shards not in the manifest: {', '.join(extra[:5])}")
    if (folder / INCOMPLETE).exists():
        report.fault(f"{INCOMPLETE}/ is present: an unfinished run shares this folder")
    temps = sorted(p.name for p in folder.glob(".*.tmp"))
    if temps:
        report.fault(f"temporary files left behind: {', '.join(temps[:5])}")
