"""``verify``: check a shard folder against its manifest.

Every chunk of every dataset is decoded (in a thread pool, as the writer deflates
them) and the values of every row are checked (:data:`VALUE_CHECKS`). Every check
appends a readable fault; nothing stops at the first one, so one run reports
everything wrong with a folder, and the report says what was checked.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import numpy as np

from ..core.schema import (AUGMENT_CODES, CLASS_NAMES, FIELD_NAMES, LABEL_CODES, LANDMARK, METADATA_FIELDS, NEGATIVE,
                           PART, POSITIVE)
from ..io.shards import ShardFile, ShardReadError, class_counts, file_sha256
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


def verify(folder, threads: int | None = None) -> Report:
    """Check ``folder`` against its manifest: every chunk of every dataset decoded in
    ``threads`` threads (all CPUs by default), values checked on every row."""
    folder = Path(folder)
    report = Report(str(folder))
    manifest = _load_manifest(folder, report)
    if manifest is None:
        return report
    totals = dict.fromkeys(CLASS_NAMES, 0)
    unread = []
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        digests = {e["name"]: pool.submit(file_sha256, folder / e["name"]) for e in manifest.get("shards", [])
                   if (folder / e["name"]).is_file()}
        for entry in manifest.get("shards", []):
            counts = _check_shard(folder, entry, manifest, digests.get(entry["name"]), pool, report)
            if counts is None:
                unread.append(entry["name"])
                continue
            for k in totals:
                totals[k] += counts[k]
    if unread:
        report.fault(f"class totals and ratio not checked: {len(unread)} shard(s) could not be read ({', '.join(unread[:5])})")
    else:
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
    report.checked.append("on every row of every shard: " + "; ".join(what.format(**_bands(manifest)) for what, _ in VALUE_CHECKS))
    return manifest


def _check_shard(folder: Path, entry: dict, manifest: dict, digest, pool, report: Report):
    """Class counts of one shard, or ``None`` when it cannot be read in full."""
    name = entry["name"]
    if digest is None:
        report.fault(f"{name}: listed in the manifest but missing")
        return None
    if digest.result() != entry["sha256"]:
        report.fault(f"{name}: sha256 {digest.result()[:16]}... differs from the manifest's {entry['sha256'][:16]}... "
                     "(changed or corrupted)")
    try:
        with ShardFile(folder / name) as shard:
            data = _decode_shard(shard, int(manifest["crop_size"]), pool, report)
    except ShardReadError as exc:
        report.fault(f"{name}: cannot be read as an HDF5 shard ({exc})")
        return None
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError variants on a damaged file
        report.fault(f"{name}: cannot be read as an HDF5 shard ({type(exc).__name__}: {exc})")
        return None
    if data is None:
        return None
    counts = class_counts(data["labels"])
    if counts != entry.get("classes"):
        report.fault(f"{name}: class counts {counts} differ from the manifest's {entry.get('classes')}")
    _check_values(name, data, _bands(manifest), report)
    report.checked.append(f"{name}: {len(data['labels']):,} samples; sha256; datasets, dtypes, shapes and attributes; "
                          f"all {data['chunks']} chunk(s) of the {len(FIELD_NAMES)} datasets decoded; values of every row")
    return counts


def _decode_shard(shard: ShardFile, crop: int, pool, report: Report):
    """Every dataset decoded chunk by chunk (the pixels checked, not kept), or ``None``
    after reporting what is wrong."""
    name = shard.path.name
    problems = shard.problems(crop)
    for p in problems:
        report.fault(f"{name}: {p}")
    if problems:
        return None
    out, chunks, damaged = {"num_sources": len(shard.source_paths())}, 0, False
    for field in FIELD_NAMES:
        out[field], bad = shard.decode_chunks(field, pool, keep=field in METADATA_FIELDS)
        chunks += len(shard.chunk_ranges(field))
        for a, b, why in bad:
            k = a // shard.chunk_rows(field)
            report.fault(f"{name}: dataset {field!r} chunk {k} (rows {a:,}..{b - 1:,}) cannot be decoded ({why})")
        damaged = damaged or bool(bad)
    return None if damaged else dict(out, chunks=chunks)


def _bands(manifest: dict) -> dict:
    cfg = manifest["config"]
    sampling = cfg.get("sampling") or cfg.get("labelling") or {}
    bands = sampling.get("bands", {"positive": 0.65, "part": 0.4, "negative": 0.3})
    lm = cfg.get("landmark_sampling", {}).get("min_iou", bands["positive"])
    return {**bands, "landmark": lm}


def _finite(a) -> np.ndarray:
    return np.all(np.isfinite(a.reshape(len(a), -1)), axis=1)


def _box_bound(d) -> np.ndarray:
    """Rows whose box targets exceed what their IoU allows: a crop and a face with IoU
    ``t`` have every normalised offset within ``[-(1 - t) / t, (1 - t) / t]``."""
    iou = d["iou"].astype(np.float64)
    bound = np.where(iou > 0, (1 - iou) / np.maximum(iou, EPS), np.inf)
    return (d["labels"] != NEGATIVE) & np.any(np.abs(d["bbox"]) > bound[:, None] + 1e-4, axis=1)


#: ``(what is checked, rows that fail it)``; ``b`` the class bands of the manifest (``what`` names them).
VALUE_CHECKS = (
    ("label codes known", lambda d, b: ~np.isin(d["labels"], list(LABEL_CODES.values()))),
    ("iou finite and in [0, 1]", lambda d, b: ~np.isfinite(d["iou"]) | (d["iou"] < 0) | (d["iou"] > 1 + EPS)),
    ("positive iou > {positive}", lambda d, b: (d["labels"] == POSITIVE) & (d["iou"] <= b["positive"] - EPS)),
    ("part iou in [{part}, {positive}]", lambda d, b: (d["labels"] == PART) & ((d["iou"] < b["part"] - EPS) | (d["iou"] > b["positive"] + EPS))),
    ("negative iou < {negative}", lambda d, b: (d["labels"] == NEGATIVE) & (d["iou"] >= b["negative"] + EPS)),
    ("landmark iou >= {landmark}", lambda d, b: (d["labels"] == LANDMARK) & (d["iou"] < b["landmark"] - EPS)),
    ("box, landmark and crop_box values finite", lambda d, b: ~(_finite(d["bbox"]) & _finite(d["landmarks"]) & _finite(d["crop_box"]))),
    ("box targets zero for negatives", lambda d, b: (d["labels"] == NEGATIVE) & np.any(d["bbox"] != 0, axis=1)),
    ("box targets within the bound their iou allows", lambda d, b: _box_bound(d)),
    ("landmark targets zero unless landmark", lambda d, b: (d["labels"] != LANDMARK) & np.any(d["landmarks"] != 0, axis=1)),
    ("landmark targets in [0, 1) for landmark samples", lambda d, b: (d["labels"] == LANDMARK) & np.any((d["landmarks"] < 0) | (d["landmarks"] >= 1), axis=1)),
    ("crop_box integer and not empty", lambda d, b: np.any(d["crop_box"] != np.round(d["crop_box"]), axis=1)
     | (d["crop_box"][:, 2] <= d["crop_box"][:, 0]) | (d["crop_box"][:, 3] <= d["crop_box"][:, 1])),
    ("source index within source_paths", lambda d, b: (d["source"] < 0) | (d["source"] >= d["num_sources"])),
    ("augment codes known, and only on landmark samples", lambda d, b: ~np.isin(d["augment"], list(AUGMENT_CODES.values()))
     | ((d["labels"] != LANDMARK) & (d["augment"] != 0))),
)


def _check_values(name: str, d: dict, bands: dict, report: Report) -> None:
    with np.errstate(invalid="ignore"):
        for what, failing in VALUE_CHECKS:
            mask = failing(d, bands)
            if np.any(mask):
                rows = np.flatnonzero(mask)
                report.fault(f"{name}: {len(rows):,} sample(s) fail '{what.format(**bands)}' (rows {', '.join(map(str, rows[:5]))}"
                             f"{', ...' if len(rows) > 5 else ''})")


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
    elif not counts.sum():
        report.checked.append(f"ratio {':'.join(map(str, ratio))}: no samples, nothing to check")
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
