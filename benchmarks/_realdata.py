"""Shared by the benchmarks: the real images in ../shared/realdata as job sources."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REALDATA = REPO.parent / "shared" / "realdata"


def require_realdata() -> None:
    if not (REALDATA / "README.md").exists():
        sys.exit(f"benchmark skipped: {REALDATA} not found (real images are needed)")


class PresentImages:
    """A resolved dataset restricted to the images present on disk (at most ``limit``)."""

    def __init__(self, dataset, limit=None):
        self.ds, self.limit = dataset, limit

    def __getattr__(self, name):  # everything but the records is the dataset's own (name, filters, ...)
        return getattr(self.ds, name)

    def records(self):
        n = 0
        for r in self.ds.records():
            if self.limit is not None and n >= self.limit:
                return
            if (self.ds.image_root / r.path).exists():
                n += 1
                yield r

    def paths(self):
        return [self.image_root / r.path for r in self.records()]


def present_wider_annotations(root: Path = REALDATA / "widerface", split: str = "val", limit=None) -> Path:
    """The official annotations of the ``split`` images present under ``root`` (the first
    ``limit`` of them), as a file of their own, so that parsing costs what it would in a
    run over those images alone (not 8x more)."""
    import tempfile

    from mtcnn_data.io.datasets.wider import write_wider_subset

    images, kept = Path(root) / f"WIDER_{split}" / "images", []

    def keep(path: str) -> bool:
        if (limit is None or len(kept) < limit) and (images / path).is_file():
            kept.append(path)
            return True
        return False

    out = Path(tempfile.mkdtemp(prefix="bench-ann-")) / f"wider_face_{split}_present_bbx_gt.txt"
    write_wider_subset(REALDATA / f"widerface/wider_face_split/wider_face_{split}_bbx_gt.txt", out, keep)
    return out


def present_lfw_annotations(count: int, split: str = "train") -> Path:
    """The LFW_NET list lines of the first ``count`` images present, verbatim, as a file of
    their own (the shared folder holds 7,876 of the 10,000 listed images)."""
    import tempfile

    root = REALDATA / "lfw_net"
    name = "trainImageList.txt" if split == "train" else "testImageList.txt"
    kept = []
    with open(root / name, "rb") as f:
        for line in f:
            rel = line.split(maxsplit=1)[0].decode().replace("\\", "/") if line.strip() else ""
            if rel and (root / rel).is_file():
                kept.append(line)
                if len(kept) == count:
                    break
    out = Path(tempfile.mkdtemp(prefix="bench-lfw-")) / name
    out.write_bytes(b"".join(kept))
    return out


def real_sources(lfw_count: int, lfw_split: str = "train", wider_root: Path = REALDATA / "widerface",
                 wider_split: str = "val", wider_limit=None):
    """(faces source: the WIDER images present under ``wider_root`` (by default the 394 val
    images here; the first ``wider_limit``), landmarks source: ``lfw_count`` LFW_NET images)."""
    from mtcnn_data.io.datasets import resolve_dataset
    from mtcnn_data.engine.run import Source

    annotations = present_wider_annotations(wider_root, wider_split, wider_limit)
    wider = PresentImages(resolve_dataset("wider", None, wider_split, annotations=annotations,
                                          images=Path(wider_root) / f"WIDER_{wider_split}" / "images"))
    lfw = PresentImages(resolve_dataset("lfw_net", None, lfw_split, images=REALDATA / "lfw_net",
                                        annotations=present_lfw_annotations(lfw_count, lfw_split)))
    return Source("faces", wider), Source("landmarks", lfw)


def peak_rss_mib() -> dict:
    """Peak resident memory (VmHWM) of this process and of its largest live descendant, MiB."""
    import os

    def hwm(pid):
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return 0.0
        return 0.0

    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    me, family, grew = os.getpid(), {os.getpid()}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in family} - family
        family |= new
        grew = bool(new)
    workers = [hwm(p) for p in family - {me}]
    return {"main": round(hwm(me), 1), "largest_worker": round(max(workers, default=0.0), 1)}
