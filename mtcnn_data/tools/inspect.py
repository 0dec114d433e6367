"""``inspect``: what a shard folder holds, in numbers and in one picture (numpy + cv2).

:func:`summarise` counts samples per class, per source dataset and per augmentation
code, and describes the targets (box offsets and landmarks by class, IoU histogram
by class). :func:`contact_sheet` draws a PNG a person checks in seconds: crops of
every class, upscaled with nearest-neighbour, the decoded face box on positives,
parts and landmark samples, the five landmarks as coloured dots (image-left points
warm, image-right points cool, so a flip that forgot to swap them shows), and
histograms of IoU and box offsets.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import cv2
import numpy as np

from ..core.imaging import landmark_legend
from ..core.landmarks import LANDMARK_COLOURS
from ..core.schema import AUGMENT_CODES, CLASS_NAMES, CLASS_ORDER, LANDMARK, METADATA_FIELDS, NEGATIVE
from ..io.reader import ShardReader

__all__ = ["summarise", "format_summary", "contact_sheet", "write_png", "LANDMARK_COLOURS"]

IOU_BINS = np.linspace(0.0, 1.0, 21)
OFFSET_BINS = np.linspace(-1.0, 1.0, 41)
OFFSET_NAMES = ("dx1", "dy1", "dx2", "dy2")
#: RGB colour of each class's box and title.
CLASS_COLOURS = {"negative": (160, 160, 160), "positive": (40, 230, 40), "part": (255, 220, 0), "landmark": (255, 80, 255)}
AUGMENT_SHORT = {0: "", 1: "F", 2: "R+", 3: "R+F", 4: "R-", 5: "R-F"}


# ---------------------------------------------------------------------- numbers

class _Moments:
    """Count, mean, std, min, max of rows of a fixed width, accumulated in pieces."""

    def __init__(self, width: int):
        self.n, self.sum, self.sq = 0, np.zeros(width), np.zeros(width)
        self.min, self.max = np.full(width, np.inf), np.full(width, -np.inf)

    def add(self, rows: np.ndarray) -> None:
        if len(rows):
            rows = rows.astype(np.float64)
            self.n += len(rows)
            self.sum += rows.sum(0)
            self.sq += (rows ** 2).sum(0)
            self.min, self.max = np.minimum(self.min, rows.min(0)), np.maximum(self.max, rows.max(0))

    def result(self) -> dict:
        if not self.n:
            return {"count": 0}
        mean = self.sum / self.n
        std = np.sqrt(np.maximum(self.sq / self.n - mean ** 2, 0))
        return {"count": self.n, "mean": mean.tolist(), "std": std.tolist(), "min": self.min.tolist(), "max": self.max.tolist()}


def _dataset_of(path: str) -> str:
    return path.split("/", 1)[0] if path else "?"


def summarise(reader: ShardReader) -> dict:
    """Counts and target statistics of every sample (images are not read)."""
    classes = dict(zip(CLASS_ORDER.tolist(), CLASS_NAMES))
    per_dataset: Dict[str, Dict[str, int]] = {}
    per_augment = {name: dict.fromkeys(CLASS_NAMES, 0) for name in AUGMENT_CODES}
    augment_names = {code: name for name, code in AUGMENT_CODES.items()}
    boxes = {c: _Moments(4) for c in CLASS_NAMES}
    marks = {c: _Moments(10) for c in CLASS_NAMES}
    iou_hist = {c: np.zeros(len(IOU_BINS) - 1, np.int64) for c in CLASS_NAMES}
    offset_hist = {c: np.zeros((4, len(OFFSET_BINS) - 1), np.int64) for c in CLASS_NAMES}
    for s in range(len(reader.names)):
        d = reader.read_range(int(reader.starts[s]), int(reader.starts[s + 1]), METADATA_FIELDS)
        datasets = np.array([_dataset_of(p) for p in reader.source_paths(s)], dtype=object)[d["source"]]
        for code, name in classes.items():
            m = d["labels"] == code
            for ds_name, count in zip(*np.unique(datasets[m].astype(str), return_counts=True)):
                per_dataset.setdefault(str(ds_name), dict.fromkeys(CLASS_NAMES, 0))[name] += int(count)
            for aug, count in zip(*np.unique(d["augment"][m], return_counts=True)):
                key = augment_names.get(int(aug), f"code {int(aug)}")
                per_augment.setdefault(key, dict.fromkeys(CLASS_NAMES, 0))[name] += int(count)
            boxes[name].add(d["bbox"][m])
            marks[name].add(d["landmarks"][m])
            iou_hist[name] += np.histogram(np.clip(d["iou"][m], 0, 1), IOU_BINS)[0]
            for j in range(4):
                offset_hist[name][j] += np.histogram(np.clip(d["bbox"][m, j], -1, 1), OFFSET_BINS)[0]
    return {
        "folder": str(reader.folder), "stage": reader.stage, "crop_size": reader.crop_size,
        "samples": len(reader), "shards": len(reader.names), "ratio": reader.ratio,
        "classes": {c: int(boxes[c].n) for c in CLASS_NAMES},
        "manifest_classes": reader.class_counts,
        "datasets": per_dataset,
        "augment": {k: v for k, v in per_augment.items() if any(v.values())},
        "bbox": {c: boxes[c].result() for c in CLASS_NAMES},
        "landmarks": {c: marks[c].result() for c in CLASS_NAMES},
        "iou_bins": IOU_BINS.tolist(), "iou_hist": {c: h.tolist() for c, h in iou_hist.items()},
        "offset_bins": OFFSET_BINS.tolist(), "offset_hist": {c: h.tolist() for c, h in offset_hist.items()},
    }


def _count_table(title: str, rows: Dict[str, Dict[str, int]]) -> List[str]:
    lines = [f"{title:<18}" + "".join(f"{c:>11}" for c in CLASS_NAMES) + f"{'total':>11}"]
    for key, counts in rows.items():
        lines.append(f"  {key:<16}" + "".join(f"{counts.get(c, 0):>11,}" for c in CLASS_NAMES) + f"{sum(counts.values()):>11,}")
    return lines


def _moment_lines(title: str, stats: dict, names: Sequence[str], classes: Sequence[str]) -> List[str]:
    lines = [title]
    for c in classes:
        s = stats[c]
        if not s["count"]:
            continue
        lines.append(f"  {c} ({s['count']:,})" + "".join(f"{n:>9}" for n in names))
        for key in ("mean", "std", "min", "max"):
            lines.append(f"    {key:<12}" + "".join(f"{v:>+9.3f}" for v in s[key]))
    return lines


def format_summary(s: dict) -> str:
    """The text ``mtcnn-data inspect`` prints."""
    ratio = ":".join(str(s["ratio"][c]) for c in CLASS_NAMES)
    lines = [f"inspect {s['folder']}: stage {s['stage']}, {s['crop_size']}x{s['crop_size']}, "
             f"{s['samples']:,} samples in {s['shards']} shard(s), ratio {ratio}"]
    lines.append(f"{'class':<18}{'count':>11}{'share':>9}")
    for c in CLASS_NAMES:
        lines.append(f"  {c:<16}{s['classes'][c]:>11,}{100 * s['classes'][c] / max(s['samples'], 1):>8.1f}%")
    if s["classes"] != s["manifest_classes"]:
        lines.append(f"  WARNING: the manifest says {s['manifest_classes']}; run `mtcnn-data verify`")
    lines += _count_table("source dataset", s["datasets"])
    lines += _count_table("augmentation", s["augment"])
    lines += _moment_lines("box offsets by class", s["bbox"], OFFSET_NAMES, [c for c in CLASS_NAMES if c != "negative"])
    lines += _moment_lines("landmark targets", s["landmarks"], [f"{a}{i}" for i in range(1, 6) for a in "xy"], ["landmark"])
    lines.append("IoU histogram by class (bins of 0.1)")
    lines.append(" " * 12 + "".join(f"{b:>8.1f}" for b in IOU_BINS[:-1:2]))
    for c in CLASS_NAMES:
        h = np.asarray(s["iou_hist"][c]).reshape(-1, 2).sum(1)
        lines.append(f"  {c:<10}" + "".join(f"{v:>8,}" for v in h))
    return "\n".join(lines)


# ---------------------------------------------------------------------- picture

def _bgr(rgb) -> tuple:
    return tuple(int(v) for v in rgb[::-1])


def _text(img: np.ndarray, text: str, org, scale: float = 0.45, colour=(255, 255, 255), thickness: int = 1) -> None:
    cv2.putText(img, text, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, scale, _bgr(colour), thickness, cv2.LINE_AA)


def tile_scale(crop_size: int) -> int:
    """Nearest-neighbour upscale factor giving crops of about 72 px (at least x2)."""
    return max(2, int(round(72 / crop_size)))


def draw_tile(image: np.ndarray, label: int, bbox: np.ndarray, landmarks: np.ndarray, augment: int, scale: int) -> np.ndarray:
    """One crop (RGB) upscaled inside a margin, box and landmark targets decoded onto it; BGR out.

    The margin (a quarter of the crop each side) shows box edges that lie outside the crop.
    """
    s = image.shape[0]
    side, m = s * scale, (s * scale) // 4
    tile = np.full((side + 2 * m, side + 2 * m, 3), 70, np.uint8)
    tile[m:m + side, m:m + side] = cv2.cvtColor(cv2.resize(image, (side, side), interpolation=cv2.INTER_NEAREST), cv2.COLOR_RGB2BGR)
    name = CLASS_NAMES[list(CLASS_ORDER).index(label)]

    def at(x, y):  # crop-relative (0..1) to tile pixels
        return int(round(m + x * side)), int(round(m + y * side))

    if label != NEGATIVE:  # box target relative to the crop frame [0, 1]: x1 = dx1, x2 = 1 + dx2
        (x1, y1), (x2, y2) = at(bbox[0], bbox[1]), at(1 + bbox[2], 1 + bbox[3])
        cv2.rectangle(tile, (x1, y1), (x2 - 1, y2 - 1), _bgr(CLASS_COLOURS[name]), 1)
    if label == LANDMARK:
        for k, colour in enumerate(LANDMARK_COLOURS):
            cv2.circle(tile, at(landmarks[2 * k], landmarks[2 * k + 1]), max(2, scale // 3), _bgr(colour), -1, cv2.LINE_AA)
        if AUGMENT_SHORT.get(int(augment)):
            _text(tile, AUGMENT_SHORT[int(augment)], (2, 11), 0.4, (255, 255, 0))
    return tile


def _grid(tiles: List[np.ndarray], cols: int, pad: int = 2) -> np.ndarray:
    th, tw = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.full((rows * (th + pad) + pad, cols * (tw + pad) + pad, 3), 40, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[pad + r * (th + pad): pad + r * (th + pad) + th, pad + c * (tw + pad): pad + c * (tw + pad) + tw] = t
    return out


def _banner(text: str, width: int, colour=(255, 255, 255), height: int = 24) -> np.ndarray:
    out = np.zeros((height, width, 3), np.uint8)
    _text(out, text, (6, height - 8), 0.5, colour)
    return out


def _legend(width: int) -> np.ndarray:
    """The landmark legend, in this module's BGR."""
    return landmark_legend(width, "(left/right = image-left/right; F flip, R+/R- rotation)")[..., ::-1].copy()


def bar_chart(counts: np.ndarray, edges: np.ndarray, title: str, colour, size=(300, 130)) -> np.ndarray:
    """A histogram drawn with cv2: bars, the first/last edge, the title and the peak count (BGR)."""
    w, h = size
    out = np.full((h, w, 3), 25, np.uint8)
    top, bottom, left, right = 18, h - 16, 6, w - 6
    peak = max(int(np.max(counts)), 1) if len(counts) else 1
    step = (right - left) / max(len(counts), 1)
    for i, c in enumerate(counts):
        bar = int(round((bottom - top) * c / peak))
        if bar:
            cv2.rectangle(out, (int(left + i * step), bottom - bar), (max(int(left + (i + 1) * step) - 2, int(left + i * step)), bottom), _bgr(colour), -1)
    cv2.line(out, (left, bottom), (right, bottom), (150, 150, 150), 1)
    _text(out, title, (left, 13), 0.4)
    _text(out, f"max {peak:,}", (right - 80, 13), 0.35, (200, 200, 200))
    _text(out, f"{edges[0]:g}", (left, h - 3), 0.35, (200, 200, 200))
    _text(out, f"{edges[-1]:g}", (right - 14, h - 3), 0.35, (200, 200, 200))
    mid = len(edges) // 2
    _text(out, f"{edges[mid]:g}", (int(left + mid * step) - 4, h - 3), 0.35, (200, 200, 200))
    return out


def _chart_rows(summary: dict, width: int) -> np.ndarray:
    iou = [bar_chart(np.asarray(summary["iou_hist"][c]), IOU_BINS, f"IoU, {c}", CLASS_COLOURS[c]) for c in CLASS_NAMES]
    rows = [_banner("IoU with the best face, by class", width), _pad_row(np.hstack(iou), width)]
    for c in ("positive", "part", "landmark"):
        hist = np.asarray(summary["offset_hist"][c])
        charts = [bar_chart(hist[j], OFFSET_BINS, f"{OFFSET_NAMES[j]}, {c}", CLASS_COLOURS[c]) for j in range(4)]
        rows += [_banner(f"box offsets of {c} samples", width), _pad_row(np.hstack(charts), width)]
    return np.vstack(rows)


def _pad_row(img: np.ndarray, width: int) -> np.ndarray:
    if img.shape[1] >= width:
        return img[:, :width]
    return np.hstack([img, np.zeros((img.shape[0], width - img.shape[1], 3), np.uint8)])


def pick_samples(reader: ShardReader, per_class: int, seed: int = 0) -> Dict[str, np.ndarray]:
    """Up to ``per_class`` random indices of each class (sorted)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, idx in reader.class_indices().items():
        out[name] = np.sort(rng.choice(idx, size=min(per_class, len(idx)), replace=False)) if len(idx) else idx
    return out


def contact_sheet(reader: ShardReader, summary: dict, per_class: int = 32, cols: int = 16, seed: int = 0) -> np.ndarray:
    """The inspection picture (BGR uint8): a sheet per class, then the histograms."""
    scale = tile_scale(reader.crop_size)
    cols = max(1, min(cols, per_class))
    width = max(cols * (reader.crop_size * scale * 3 // 2 + 2) + 2, 1200)
    parts = [_banner(f"{summary['folder']}: {summary['samples']:,} samples, {reader.crop_size}x{reader.crop_size} "
                     f"shown x{scale}; boxes = decoded bbox targets", width), _legend(width)]
    for name, idx in pick_samples(reader, per_class, seed).items():
        parts.append(_banner(f"{name}: {len(idx)} of {summary['classes'][name]:,}", width, CLASS_COLOURS[name]))
        if len(idx):
            d = reader.take(idx, fields=("images", "labels", "bbox", "landmarks", "augment"))
            tiles = [draw_tile(d["images"][i], int(d["labels"][i]), d["bbox"][i], d["landmarks"][i], int(d["augment"][i]), scale)
                     for i in range(len(idx))]
            parts.append(_pad_row(_grid(tiles, cols), width))
    parts.append(_chart_rows(summary, width))
    return np.vstack(parts)


def write_png(path, image_bgr: np.ndarray) -> None:
    """Write the picture atomically (to a temporary name, then renamed)."""
    from ..io.files import atomic_write_bytes

    ok, data = cv2.imencode(".png", image_bgr)
    if not ok:  # pragma: no cover - cv2 encodes any uint8 BGR image
        raise RuntimeError(f"cv2 could not encode a {image_bgr.shape} image as PNG")
    atomic_write_bytes(path, data.tobytes())
