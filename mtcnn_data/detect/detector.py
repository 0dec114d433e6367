"""The MTCNN cascade: P-Net over an image pyramid, then R-Net and O-Net on crops.

Every box is ``x1, y1, x2, y2`` with exclusive ``x2, y2`` (see :mod:`mtcnn_data`).
R-Net and O-Net see crops cut with :func:`mtcnn_data.core.imaging.crop_resize` (integer,
square, zero-padded boxes), exactly the crops the mining pipeline writes as training
data. The algorithm and its defaults are described in docs/detector.md.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np
import torch

from ..core.boxes import decode_offsets, iou_matrix, nms, square_boxes
from ..core.landmarks import LANDMARK_COLOURS, denormalise_from_crops
from ..core.imaging import ImageCutter, landmark_legend
from ..errors import MtcnnDataError
from .checkpoints import LoadedStage, load_stage

__all__ = [
    "DetectorConfigError",
    "DetectorConfig",
    "Detections",
    "Candidates",
    "Detector",
    "pyramid_scales",
    "pnet_cell_boxes",
    "integer_squares",
    "match_faces",
    "draw_detections",
    "cached_detector",
]

CELL = 12
STRIDE = 2


class DetectorConfigError(MtcnnDataError, ValueError):
    """A detector setting out of range, or stages given in an impossible combination."""


@dataclass
class DetectorConfig:
    """Every setting of the cascade; ``to_dict()`` goes into manifests.

    ``thresholds`` are the face-probability floors of P-Net, R-Net and O-Net;
    ``nms_scale`` / ``nms_pyramid`` the IoU limits within one pyramid level and across
    levels; ``nms_rnet`` the IoU limit after R-Net; ``nms_onet`` the intersection over
    the smaller box after O-Net. Preprocessing: the network sees channels in
    ``channel_order`` as ``(x - mean) * scale``. ``num_threads`` sets
    ``torch.set_num_threads`` when given; ``channels_last`` uses that memory format
    on the CPU; ``batch_size`` bounds the crops per R-Net call, O-Net calls take a quarter
    as many (the same pixels). Small calls are faster: a call's activations then stay in
    the cache and in memory the allocator reuses (128 R-Net crops per call: 2.8x faster
    per crop than 2048 on one thread, docs/performance.md).
    """

    min_face: float = 20.0
    factor: float = 0.709
    thresholds: Tuple[float, float, float] = (0.6, 0.7, 0.7)
    nms_scale: float = 0.5
    nms_pyramid: float = 0.7
    nms_rnet: float = 0.7
    nms_onet: float = 0.7
    device: str = "cpu"
    channel_order: str = "RGB"
    mean: float = 127.5
    scale: float = 1.0 / 128.0
    num_threads: Optional[int] = None
    channels_last: bool = True
    batch_size: int = 128

    def __post_init__(self):
        self.thresholds = tuple(float(t) for t in self.thresholds)
        if len(self.thresholds) != 3:
            raise DetectorConfigError(f"thresholds must be 3 numbers (P-Net, R-Net, O-Net), got {self.thresholds}")
        if not 0 < self.factor < 1:
            raise DetectorConfigError(f"factor must lie in (0, 1), got {self.factor}")
        if self.min_face < CELL:
            raise DetectorConfigError(f"min_face must be >= {CELL} (P-Net's window), got {self.min_face}")
        if self.channel_order not in ("RGB", "BGR"):
            raise DetectorConfigError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["thresholds"] = list(self.thresholds)
        return d


@dataclass
class Detections:
    """Faces in one image: ``boxes`` float32 (N, 4), ``scores`` float32 (N,),
    ``landmarks`` float32 (N, 5, 2) or ``None`` when the last stage run has none."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.boxes)

    def to_list(self) -> List[dict]:
        """JSON-ready faces: ``{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x5]}``."""
        faces = []
        for i in range(len(self)):
            face = {"box": [round(float(v), 2) for v in self.boxes[i]], "score": round(float(self.scores[i]), 5)}
            if self.landmarks is not None:
                face["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks[i]]
            faces.append(face)
        return faces


@dataclass
class Candidates:
    """What survives one stage: the next stage's input.

    ``crops`` int64 (N, 4): the square, integer boxes the next stage crops (zero
    padded where they leave the image): mining writes exactly these. ``boxes`` float32
    (N, 4): the calibrated boxes before squaring. ``scores`` float32 (N,). ``landmarks``
    float32 (N, 5, 2) when the stage predicts them.
    """

    crops: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    landmarks: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.crops)

    def as_detections(self) -> Detections:
        return Detections(self.boxes, self.scores, self.landmarks)


# --------------------------------------------------------------------------- geometry

def pyramid_scales(height: int, width: int, min_face: float = 20.0, factor: float = 0.709) -> List[float]:
    """Scales at which a face of ``min_face`` px and up fills P-Net's 12 px window."""
    scale = CELL / float(min_face)
    side = min(height, width) * scale
    scales = []
    while side >= CELL:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def pnet_cell_boxes(rows: np.ndarray, cols: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Image boxes of P-Net output cells: cell (i, j) sees level pixels
    ``[2j, 2j + 12) x [2i, 2i + 12)``; ``sx, sy`` map image to level pixels."""
    x1 = cols * STRIDE / sx
    y1 = rows * STRIDE / sy
    return np.stack([x1, y1, x1 + CELL / sx, y1 + CELL / sy], axis=1)


def integer_squares(boxes) -> np.ndarray:
    """Square integer crop boxes (int64) with the boxes' centres; side ``round(max(w, h))``, >= 1."""
    sq = square_boxes(boxes)
    side = np.maximum(np.rint(sq[:, 2] - sq[:, 0]), 1.0)
    x1 = np.rint(sq[:, 0])
    y1 = np.rint(sq[:, 1])
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1).astype(np.int64)


def _overlaps_image(crops: np.ndarray, width: int, height: int) -> np.ndarray:
    return (crops[:, 2] > 0) & (crops[:, 3] > 0) & (crops[:, 0] < width) & (crops[:, 1] < height)


def match_faces(detected, truth, iou_threshold: float = 0.5) -> np.ndarray:
    """One-to-one greedy matching: True for each ground-truth box that is matched.

    Pairs are taken by descending IoU; each detection and each face is used at most
    once; a pair counts when its IoU is >= ``iou_threshold``.
    """
    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
    matched = np.zeros(len(truth), dtype=bool)
    detected = np.asarray(detected, dtype=np.float64).reshape(-1, 4)
    if not len(truth) or not len(detected):
        return matched
    iou = iou_matrix(detected, truth)
    det_idx, gt_idx = np.nonzero(iou >= iou_threshold)
    order = np.argsort(-iou[det_idx, gt_idx], kind="stable")
    used = np.zeros(len(detected), dtype=bool)
    for d, g in zip(det_idx[order], gt_idx[order]):
        if not used[d] and not matched[g]:
            used[d] = matched[g] = True
    return matched


# --------------------------------------------------------------------------- detector

#: P-Net levels are zero-padded to a multiple of this (even, >= 14 as the torch.export
#: contract needs; cells reaching into the padding are dropped). Recurring shapes let
#: oneDNN reuse its compiled convolutions: a new shape costs about 1 to 2 ms per level.
LEVEL_MULTIPLE = 16


def _padded_side(side: int) -> int:
    return max(LEVEL_MULTIPLE, -(-side // LEVEL_MULTIPLE) * LEVEL_MULTIPLE)


def _bucket(n: int) -> int:
    """Crop batches are zero-padded up to sizes with at most 1/8 overhead (8 per
    octave), so that R-Net / O-Net batch shapes recur, for the same reason."""
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step


def _empty_candidates() -> Candidates:
    return Candidates(np.zeros((0, 4), np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def _candidates(boxes: np.ndarray, scores: np.ndarray, width: int, height: int, landmarks=None) -> Candidates:
    crops = integer_squares(boxes) if len(boxes) else np.zeros((0, 4), np.int64)
    keep = _overlaps_image(crops, width, height)
    lm = None if landmarks is None else landmarks[keep].astype(np.float32)
    return Candidates(crops[keep], boxes[keep].astype(np.float32), scores[keep].astype(np.float32), lm)


def _prepare(model, device: str, channels_last: bool):
    if isinstance(model, torch.nn.Module) and not isinstance(model, torch.jit.ScriptModule):
        model = model.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
    return model


class Detector:
    """The cascade as far as the given stages: P-Net, then R-Net and O-Net if given.

    ``pnet``, ``rnet``, ``onet``: anything :func:`load_stage` accepts (a checkpoint
    path, ``"facenet"``, a :class:`LoadedStage`, an ``nn.Module``).
    """

    def __init__(self, pnet, rnet=None, onet=None, config: Optional[DetectorConfig] = None):
        self.config = config or DetectorConfig()
        if onet is not None and rnet is None:
            raise DetectorConfigError("an O-Net needs an R-Net: the cascade runs P-Net, R-Net, O-Net in order")
        if self.config.num_threads:
            torch.set_num_threads(int(self.config.num_threads))
        self.stages: List[LoadedStage] = [
            load_stage(spec, name) for spec, name in ((pnet, "pnet"), (rnet, "rnet"), (onet, "onet")) if spec is not None
        ]
        cl = self.config.channels_last and self.config.device == "cpu"
        self._models = [_prepare(s.model, self.config.device, cl) for s in self.stages]
        self._memory_format = torch.channels_last if cl else torch.contiguous_format
        self.last_timings: dict = {}

    def to_dict(self) -> dict:
        """Config and checkpoints (format, source, sha256) for a manifest."""
        return {"config": self.config.to_dict(), "stages": [s.to_dict() for s in self.stages]}

    # -- public API -------------------------------------------------------------------

    def detect(self, image: np.ndarray) -> Detections:
        """Faces in an RGB uint8 ``(H, W, 3)`` image, from the last stage given.

        Seconds spent per stage are left in ``self.last_timings`` (keys ``pnet``,
        ``rnet``, ``onet``).
        """
        image = self._validated(image)
        self.last_timings = {}
        with torch.inference_mode():
            cands = self._timed("pnet", self._pnet, image)
            if len(self._models) == 1:
                return cands.as_detections()
            cands = self._timed("rnet", self._refine, image, cands, 1)
            if len(self._models) == 2:
                return cands.as_detections()
            return self._timed("onet", self._output, image, cands)

    def _timed(self, name: str, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        self.last_timings[name] = time.perf_counter() - start
        return out

    def propose(self, image: np.ndarray, upto: str = "pnet", pnet: Optional[Candidates] = None) -> Candidates:
        """All candidates that survive P-Net (``upto="pnet"``) or R-Net (``"rnet"``),
        with the square integer crops the next stage would see. ``pnet``: this image's
        P-Net candidates computed earlier (with this P-Net and config), used instead of
        running P-Net again."""
        if upto not in ("pnet", "rnet"):
            raise DetectorConfigError(f"upto must be 'pnet' or 'rnet', got {upto!r}")
        if upto == "rnet" and len(self._models) < 2:
            raise DetectorConfigError("propose(upto='rnet') needs a detector built with an R-Net")
        image = self._validated(image)
        self.last_timings = {}
        with torch.inference_mode():
            cands = self._timed("pnet", self._pnet, image) if pnet is None else pnet
            return self._timed("rnet", self._refine, image, cands, 1) if upto == "rnet" else cands

    # -- stages -----------------------------------------------------------------------

    def _validated(self, image: np.ndarray) -> np.ndarray:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            found = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {found}")
        if self.config.channel_order == "BGR":
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image)

    def _tensor(self, nhwc: np.ndarray) -> torch.Tensor:
        """Normalised float NCHW tensor on the device from NHWC pixels."""
        x = torch.from_numpy(np.ascontiguousarray(nhwc, dtype=np.float32)).to(self.config.device)
        x = x.sub_(self.config.mean).mul_(self.config.scale).permute(0, 3, 1, 2)
        return x.contiguous(memory_format=self._memory_format)

    def _pnet(self, image: np.ndarray) -> Candidates:
        cfg = self.config
        h, w = image.shape[:2]
        boxes, scores, offsets = [], [], []
        for scale in pyramid_scales(h, w, cfg.min_face, cfg.factor):
            b, s, o = self._pnet_level(image, scale)
            keep = nms(b, s, cfg.nms_scale)
            boxes.append(b[keep]), scores.append(s[keep]), offsets.append(o[keep])
        if not boxes or not sum(len(s) for s in scores):
            return _empty_candidates()
        boxes, scores, offsets = (np.concatenate(a) for a in (boxes, scores, offsets))
        keep = nms(boxes, scores, cfg.nms_pyramid)
        calibrated = decode_offsets(boxes[keep], offsets[keep])
        return _candidates(calibrated, scores[keep], w, h)

    def _pnet_level(self, image: np.ndarray, scale: float):
        """Cell boxes, scores and offsets of one pyramid level above P-Net's threshold."""
        h, w = image.shape[:2]
        lw, lh = max(CELL, int(round(w * scale))), max(CELL, int(round(h * scale)))
        level = cv2.resize(image, (lw, lh), interpolation=cv2.INTER_AREA)
        pw, ph = _padded_side(lw), _padded_side(lh)
        if (pw, ph) != (lw, lh):
            level = cv2.copyMakeBorder(level, 0, ph - lh, 0, pw - lw, cv2.BORDER_CONSTANT, value=0)
        out = self._models[0](self._tensor(level[None]))
        prob = out[-1][0, : (lh - CELL) // STRIDE + 1, : (lw - CELL) // STRIDE + 1]
        rows, cols = torch.nonzero(prob >= self.config.thresholds[0], as_tuple=True)
        scores = prob[rows, cols].cpu().numpy().astype(np.float64)
        offsets = out[0][0, :, rows, cols].T.cpu().numpy().astype(np.float64)
        rows, cols = rows.cpu().numpy(), cols.cpu().numpy()
        return pnet_cell_boxes(rows, cols, lw / w, lh / h), scores, offsets

    def _run_crops(self, image: np.ndarray, crops: np.ndarray, stage: int):
        """Run R-Net (stage 1) or O-Net (stage 2) on the crops: numpy outputs."""
        size = 24 if stage == 1 else 48
        per_call = max(1, self.config.batch_size * 24 * 24 // (size * size))
        outs, cut = [], ImageCutter(image).cut(crops, size)
        for start in range(0, len(crops), per_call):
            patches = cut[start : start + per_call]
            n = len(patches)
            patches = np.concatenate([patches, np.zeros((_bucket(n) - n,) + patches.shape[1:], np.uint8)])
            outs.append([o[:n].float().cpu().numpy() for o in self._models[stage](self._tensor(patches))])
        return [np.concatenate(parts).astype(np.float64) for parts in zip(*outs)]

    def _scored(self, image: np.ndarray, cands: Candidates, stage: int):
        """Crops, offsets, scores and landmarks (or None) above the stage's threshold."""
        out = self._run_crops(image, cands.crops, stage)
        keep = out[-1] > self.config.thresholds[stage]
        crops = cands.crops[keep].astype(np.float64)
        landmarks = denormalise_from_crops(out[1][keep], crops) if len(out) == 3 else None
        return crops, out[0][keep], out[-1][keep], landmarks

    def _refine(self, image: np.ndarray, cands: Candidates, stage: int) -> Candidates:
        if not len(cands):
            return cands
        crops, offsets, scores, landmarks = self._scored(image, cands, stage)
        keep = nms(crops, scores, self.config.nms_rnet)
        lm = None if landmarks is None else landmarks[keep]
        h, w = image.shape[:2]
        return _candidates(decode_offsets(crops[keep], offsets[keep]), scores[keep], w, h, lm)

    def _output(self, image: np.ndarray, cands: Candidates) -> Detections:
        if not len(cands):
            return Detections(cands.boxes, cands.scores, np.zeros((0, 5, 2), np.float32))
        crops, offsets, scores, landmarks = self._scored(image, cands, stage=2)
        boxes = decode_offsets(crops, offsets)
        keep = nms(boxes, scores, self.config.nms_onet, mode="min")
        lm = None if landmarks is None else landmarks[keep].astype(np.float32)
        return Detections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32), lm)


# --------------------------------------------------------------------------- drawing

def draw_detections(image_rgb: np.ndarray, detections: Detections) -> np.ndarray:
    """A copy of the image with boxes (green) and scores drawn, each landmark in its colour
    (:data:`mtcnn_data.core.landmarks.LANDMARK_COLOURS`, as ``inspect`` draws them), and
    the landmark legend below when there are landmarks."""
    out = np.ascontiguousarray(image_rgb).copy()
    thickness = max(1, round(max(out.shape[:2]) / 500))
    for i, box in enumerate(np.asarray(detections.boxes)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), (0, 255, 0), thickness)
        label = f"{float(detections.scores[i]):.2f}"
        cv2.putText(out, label, (x1, max(0, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1)
        if detections.landmarks is not None:
            for (x, y), colour in zip(detections.landmarks[i], LANDMARK_COLOURS):
                cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, colour, -1)
    if detections.landmarks is not None:
        out = np.concatenate([out, landmark_legend(out.shape[1])], axis=0)
    return out


_CACHE: dict = {}


def cached_detector(pnet, rnet=None, onet=None, config: Optional[DetectorConfig] = None) -> Detector:
    """One :class:`Detector` per process for each set of checkpoints (paths or ``"facenet"``)
    and settings, built on first use: what worker processes call for every item they are handed."""
    config = config or DetectorConfig()
    key = (pnet, rnet, onet, tuple(sorted((k, repr(v)) for k, v in config.to_dict().items())))
    if key not in _CACHE:
        _CACHE[key] = Detector(pnet, rnet, onet, config)
    return _CACHE[key]
