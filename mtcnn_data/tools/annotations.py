"""Counts of a dataset's annotations, checked against the official release figures.

The release figures (``manifests/<name>.json``, installed as ``mtcnn_data.manifests``)
are public counts of the official downloads; which file belongs to a dataset is its
registry entry's ``figures`` (:mod:`mtcnn_data.io.datasets`). They are not the
``manifest.json`` of a run.

Boxes are ``x1, y1, x2, y2`` with exclusive ``x2, y2`` (see :mod:`mtcnn_data`).
Counting reads the annotation files only, never an image. ``faces`` counts every
box of every record (before filtering; dummy lines of empty images are not
boxes); ``degenerate`` and ``invalid`` are independent counts of boxes with those
properties, while ``dropped`` counts each dropped box once, under the first
failing reason (:mod:`mtcnn_data.core.filtering`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..io.datasets import figures_name
from ..io.files import file_digest, manifests_dir
from ..core.filtering import DROP_REASONS, min_side
from ..io.images import usable
from ..io.records import ImageRecord, fit_to_image

__all__ = [
    "SIZE_BINS",
    "AnnotationStats",
    "Check",
    "collect_stats",
    "load_release_figures",
    "expected_figures",
    "compare_figures",
    "check_md5",
    "run_report",
    "format_report",
]

#: lower edges of the face-size histogram bins over ``min(w, h)`` in pixels.
SIZE_BINS = (0, 12, 20, 40, 80, 160)
_CELEBA_PARTS = {0: "train", 1: "val", 2: "test"}


@dataclass
class AnnotationStats:
    """What :func:`collect_stats` counts."""

    images: int = 0
    faces: int = 0
    empty_images: int = 0
    kept: int = 0
    degenerate: int = 0
    invalid: int = 0
    landmarks_outside_box: int = 0
    dropped: Counter = field(default_factory=Counter)
    sizes_all: np.ndarray = field(default_factory=lambda: np.zeros(len(SIZE_BINS), dtype=np.int64))
    sizes_kept: np.ndarray = field(default_factory=lambda: np.zeros(len(SIZE_BINS), dtype=np.int64))
    partition: Counter = field(default_factory=Counter)
    attributes_seen: set = field(default_factory=set)

    def figures(self) -> Dict[str, int]:
        """The flat figures a manifest can state (``invalid`` only where the format has the flag)."""
        out = {"images": self.images, "faces": self.faces, "empty_images": self.empty_images,
               "degenerate": self.degenerate}
        if "invalid" in self.attributes_seen:
            out["invalid"] = self.invalid
        out.update({"landmarks_outside_box": self.landmarks_outside_box, "kept": self.kept})
        out.update({f"partition.{k}": v for k, v in self.partition.items()})
        return out


@dataclass(frozen=True)
class Check:
    """One expected-vs-actual comparison."""

    name: str
    expected: object
    actual: object

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def collect_stats(records: Iterable[ImageRecord]) -> AnnotationStats:
    """Count images, faces, empty images, raw flags, drops by reason and face sizes."""
    stats = AnnotationStats()
    for record in records:
        _add_record(stats, record)
    return stats


def _add_record(stats: AnnotationStats, record: ImageRecord) -> None:
    stats.images += 1
    stats.attributes_seen.update(record.attributes)
    stats.faces += record.num_faces
    stats.empty_images += record.num_faces == 0
    stats.kept += int(record.keep.sum())
    b = record.boxes
    stats.degenerate += int(((b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])).sum())
    stats.invalid += int((record.attributes.get("invalid", np.zeros(0)) == 1).sum())
    stats.landmarks_outside_box += int((record.drop_reason == 4).sum())
    for code in record.drop_reason[record.drop_reason > 0]:
        stats.dropped[DROP_REASONS[int(code)]] += 1
    stats.sizes_all += _size_histogram(b)
    stats.sizes_kept += _size_histogram(b[record.keep])
    for code in record.attributes.get("partition", ()):
        stats.partition[_CELEBA_PARTS[int(code)]] += 1


def _size_histogram(boxes: np.ndarray) -> np.ndarray:
    """Counts of ``min(w, h)`` per bin of :data:`SIZE_BINS`; degenerate boxes fall in the first."""
    bins = np.searchsorted(SIZE_BINS, min_side(boxes), side="right") - 1
    return np.bincount(np.clip(bins, 0, None), minlength=len(SIZE_BINS))


def load_release_figures(name: str) -> dict:
    """The release figures ``manifests/<name>.json`` (``wider_face``, ``lfw_net``, ``celeba``)."""
    return json.loads((manifests_dir() / f"{name}.json").read_text(encoding="utf-8"))


def expected_figures(dataset_name: str, split: Optional[str]) -> Dict[str, int]:
    """The official figures for a dataset and split, ``{}`` when none are kept.

    A figures file states them per split (``"splits"``), or, for a dataset with one list
    and a partition (CelebA), ``"images"`` and ``"partition"`` per split."""
    name = figures_name(dataset_name)
    if name is None:
        return {}
    figures = load_release_figures(name)
    if "splits" in figures:
        return dict(figures["splits"].get(split, {}))
    if split in (None, "all"):
        out = {"images": figures["images"]}
        out.update({f"partition.{k}": v for k, v in figures["partition"].items()})
        return out
    return {"images": figures["partition"][split]}


def compare_figures(stats: AnnotationStats, expected: Dict[str, int]) -> List[Check]:
    """One :class:`Check` per expected figure that these records can report."""
    actual = stats.figures()
    return [Check(name, value, actual[name]) for name, value in expected.items() if name in actual]


def check_md5(files: Dict[str, Path], published: Dict[str, str]) -> List[Check]:
    """md5 of annotation files against a published table (``"md5"`` of a figures file,
    keyed ``<folder>/<file>``: CelebA's)."""
    checks = []
    for path in files.values():
        key = f"{Path(path).parent.name}/{Path(path).name}"
        if key in published:
            checks.append(Check(f"md5 {key}", published[key], file_digest(path, "md5")))
    return checks


def run_report(dataset) -> Tuple[str, bool]:
    """Count a :class:`~mtcnn_data.io.datasets.Dataset`, compare, and return ``(text, all_ok)``.

    Images are looked for too: ``images present`` is checked against the images
    annotated, and the boxes of present images go through the outside-image filter
    with the image's size (read from its header), as gen-pnet and mine apply it."""
    present = Counter()
    stats = collect_stats(_fitted_to_images(dataset, present))
    checks = compare_figures(stats, expected_figures(dataset.name, dataset.split))
    name = figures_name(dataset.name)
    if name is not None:
        checks += check_md5(dataset.annotation_files, load_release_figures(name).get("md5", {}))
    official = bool(checks)
    checks.append(Check("images present", stats.images, present["present"]))
    files = ", ".join(str(p) for p in dataset.annotation_files.values())
    title = f"{dataset.kind} split={dataset.split}: {files}"
    text = format_report(title, stats, checks, official)
    if present["present"] < stats.images:
        text += "\n" + _missing_images_note(dataset, stats.images - present["present"])
    return text, all(c.ok for c in checks)


def _fitted_to_images(dataset, present: Counter) -> Iterable[ImageRecord]:
    """The records, each with the outside-image filter applied when its image is there."""
    for record in dataset.records():
        size, problem = usable(dataset.image_path(record))
        if not problem:
            present["present"] += 1
            record = fit_to_image(record, size, dataset.filters.drop_outside_image)
        yield record


def _missing_images_note(dataset, missing: int) -> str:
    root = Path(dataset.image_root)
    where = "is absent" if not root.is_dir() else "lacks them"
    return (f"  {missing:,} annotated image(s) missing or unreadable: the image folder {root} {where}. "
            "Only the annotations were checked; unpack the images there before gen-pnet or mine.")


def format_report(title: str, stats: AnnotationStats, checks: List[Check], official: bool = True) -> str:
    """The text the ``annotations`` command prints; ``official``: some of ``checks`` compare
    with the release figures (otherwise they are only checks of this copy, such as the
    images present)."""
    lines = [title, ""]
    lines += [f"  {name:<24}{value:>10,}" for name, value in stats.figures().items()]
    lines += ["", "  dropped boxes by reason (first failing reason):"]
    lines += [f"    {code} {name:<22}{stats.dropped.get(name, 0):>10,}" for code, name in DROP_REASONS.items() if code]
    lines += ["", f"  face size min(w,h)   {'all':>10}{'kept':>10}"]
    lines += [f"    {label:<18}{a:>10,}{k:>10,}" for label, a, k in zip(_bin_labels(), stats.sizes_all, stats.sizes_kept)]
    heading = "  checks against the official release:" if official else "  no official figures to check against; checks:"
    lines += ["", heading if checks else "  no official figures to check against"]
    lines += [_check_line(c) for c in checks]
    return "\n".join(lines)


def _bin_labels() -> List[str]:
    edges = list(SIZE_BINS)
    return [f"<{edges[1]}"] + [f"{a}-{b}" for a, b in zip(edges[1:-1], edges[2:])] + [f">={edges[-1]}"]


def _check_line(check: Check) -> str:
    if check.ok:
        return f"    OK        {check.name}: {check.expected}"
    return f"    MISMATCH  {check.name}: expected {check.expected}, found {check.actual}"
