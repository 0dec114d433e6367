"""Random candidate crops for P-Net data and for landmark samples (pure).

Every function takes a ``numpy.random.Generator`` made by :func:`image_rng` from
the run's seed and the image's identity, so an image's candidates do not depend on
which worker handles it or in which order.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from .boxes import encode_offsets, flip_offsets, heights, pair_ious, widths
from .labelling import DISCARD, IoUBands, label_crops
from .landmarks import flip_normalised, normalise_to_crops
from .schema import (
    AUG_FLIP,
    AUG_NONE,
    AUG_ROT_NEG,
    AUG_ROT_POS,
    CANDIDATE_DTYPE,
    LANDMARK,
    NEGATIVE,
    rotation_degrees,
)

_U64_MAX = np.iinfo(np.uint64).max


def image_rng(seed: int, identity: str) -> np.random.Generator:
    """A generator determined by the run seed and an image identity string
    (``"<dataset>/<relative path>"``), independent of process and order."""
    digest = hashlib.sha256(identity.encode("utf-8")).digest()
    words = np.frombuffer(digest[:16], dtype="<u4").tolist()
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words]))


@dataclass(frozen=True)
class PNetSampling:
    """The paper's recipe as the common MTCNN code implements it (all configurable).

    * ``negatives_per_image`` random squares of side U[``crop_size``, min(W, H) / 2)
      anywhere inside the image are kept if negative (up to ``negative_draws`` drawn);
    * per face: ``near_negatives_per_face`` squares of the same sizes placed to
      overlap the face, and ``jitter_per_face`` squares of side
      U[0.8 min(w, h), 1.25 max(w, h)] with the centre moved by up to
      ``shift`` w and ``shift`` h; both labelled by the IoU bands;
    * faces with ``max(w, h) < min_face`` give no near-face crops (as the common code).
    """

    crop_size: int = 12
    negatives_per_image: int = 50
    negative_draws: int = 200
    near_negatives_per_face: int = 5
    jitter_per_face: int = 20
    min_face: float = 20.0
    size_low: float = 0.8
    size_high: float = 1.25
    shift: float = 0.2
    bands: IoUBands = IoUBands()

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class LandmarkSampling:
    """Landmark samples: ``attempts`` jittered squares per face (sizes and shifts as
    :class:`PNetSampling`), kept when IoU with the face >= ``min_iou`` and every
    landmark is inside the crop. Each kept crop adds, each with probability
    ``p_augment``: a flipped copy; a copy rotated by +``angle`` degrees (and, with
    probability 1/2, its flip); a copy rotated by -``angle`` (likewise)."""

    crop_size: int = 12
    attempts: int = 10
    min_iou: float = 0.65
    size_low: float = 0.8
    size_high: float = 1.25
    shift: float = 0.2
    angle: float = 5.0
    p_augment: float = 0.5

    def to_dict(self):
        return asdict(self)


def random_keys(rng, n):
    return rng.integers(0, _U64_MAX, size=n, dtype=np.uint64, endpoint=True)


def _candidates(crops, labels, iou, bbox, landmarks=None, augment=None, keys=None):
    out = np.zeros(len(crops), dtype=CANDIDATE_DTYPE)
    out["crop"] = crops
    out["label"] = labels
    out["iou"] = iou
    out["bbox"] = bbox
    if landmarks is not None:
        out["landmarks"] = landmarks
    if augment is not None:
        out["augment"] = augment
    out["key"] = keys
    return out


def _random_squares(rng, n, width, height, low):
    high = max(low + 1, min(width, height) // 2)
    side = rng.integers(low, high, size=n)
    x = rng.integers(0, np.maximum(width - side, 0) + 1)
    y = rng.integers(0, np.maximum(height - side, 0) + 1)
    return np.stack([x, y, x + side, y + side], axis=1)


def _near_face_squares(rng, faces, per_face, width, height, low):
    faces = np.repeat(faces, per_face, axis=0)
    n = len(faces)
    high = max(low + 1, min(width, height) // 2)
    side = rng.integers(low, high, size=n)
    fx, fy = np.floor(faces[:, 0]).astype(np.int64), np.floor(faces[:, 1]).astype(np.int64)
    fw = np.maximum(np.ceil(widths(faces)).astype(np.int64), 1)
    fh = np.maximum(np.ceil(heights(faces)).astype(np.int64), 1)
    dx = rng.integers(np.maximum(-side, -fx), fw)
    dy = rng.integers(np.maximum(-side, -fy), fh)
    x, y = fx + dx, fy + dy
    return np.stack([x, y, x + side, y + side], axis=1)


def jittered_squares(rng, faces, per_face, size_low, size_high, shift, min_side):
    """Squares around each face: side U[low*min(w,h), high*max(w,h)] (at least
    ``min_side``), centre shifted by U(-shift, shift) * (w, h); integer boxes."""
    faces = np.repeat(np.asarray(faces, dtype=np.float64).reshape(-1, 4), per_face, axis=0)
    n = len(faces)
    draws = rng.random(n), rng.uniform(-shift, shift, n), rng.uniform(-shift, shift, n)
    return _jittered(faces, *draws, size_low, size_high, min_side)


def _jittered(faces, side_u, shift_x, shift_y, size_low, size_high, min_side):
    """:func:`jittered_squares` of faces (one row per square) from its three draws."""
    w, h = widths(faces), heights(faces)
    lo = np.maximum(np.floor(size_low * np.minimum(w, h)), min_side)
    hi = np.maximum(np.ceil(size_high * np.maximum(w, h)), lo + 1)
    side = np.floor(lo + side_u * (hi - lo)).astype(np.int64)
    cx = (faces[:, 0] + faces[:, 2]) / 2 + shift_x * w
    cy = (faces[:, 1] + faces[:, 3]) / 2 + shift_y * h
    x = np.floor(cx - side / 2).astype(np.int64)
    y = np.floor(cy - side / 2).astype(np.int64)
    return np.stack([x, y, x + side, y + side], axis=1)


def pnet_candidates(rng, width, height, faces, keep=None, cfg: PNetSampling = PNetSampling()):
    """Labelled candidate crops for one WIDER-style image (structured array of
    :data:`CANDIDATE_DTYPE`, ``image`` left 0 for the caller to set).

    ``faces`` (M,4) are all the image's annotated faces, ``keep`` (M,) bool those
    that may give positives, parts and near-face crops (all when ``None``); the
    others still count against negatives."""
    faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
    keep = np.ones(len(faces), bool) if keep is None else np.asarray(keep, bool).reshape(-1)
    parts = []
    rand = _random_squares(rng, cfg.negative_draws, width, height, cfg.crop_size)
    labels, iou, bbox = label_crops(rand, faces, keep, cfg.bands)
    negative = np.flatnonzero(labels == NEGATIVE)[: cfg.negatives_per_image]
    parts.append(_candidates(rand[negative], labels[negative], iou[negative], bbox[negative], keys=random_keys(rng, len(negative))))
    target = faces[keep]
    big = target[np.maximum(widths(target), heights(target)) >= cfg.min_face]
    if len(big):
        near = _near_face_squares(rng, big, cfg.near_negatives_per_face, width, height, cfg.crop_size)
        jit = jittered_squares(rng, big, cfg.jitter_per_face, cfg.size_low, cfg.size_high, cfg.shift, cfg.crop_size)
        crops = np.concatenate([near, jit])
        labels, iou, bbox = label_crops(crops, faces, keep, cfg.bands)
        ok = labels != DISCARD
        parts.append(_candidates(crops[ok], labels[ok], iou[ok], bbox[ok], keys=random_keys(rng, int(ok.sum()))))
    return np.concatenate(parts)


def landmark_candidates(rng, faces, landmarks, cfg: LandmarkSampling = LandmarkSampling()):
    """Landmark samples for one image's annotated faces (boxes (K,4), points (K,5,2))."""
    return landmark_candidates_of_images([rng], [faces], [landmarks], cfg)[0]


def landmark_candidates_of_images(rngs, faces, landmarks, cfg: LandmarkSampling = LandmarkSampling()) -> list:
    """:func:`landmark_candidates` of many images, each drawing from its own generator
    (``rngs[i]``, as :func:`image_rng` makes them): the same arrays as image by image,
    with the arithmetic done once over all the images' faces (a landmark set's unit is
    thousands of one-face images)."""
    if not len(faces):
        return []
    faces = [np.asarray(f, dtype=np.float64).reshape(-1, 4) for f in faces]
    points = [np.asarray(p, dtype=np.float64).reshape(-1, 5, 2) for p in landmarks]
    per_image = np.array([len(f) * cfg.attempts for f in faces], np.int64)
    draws = [np.concatenate(d) for d in zip(*(_landmark_draws(rng, len(f), cfg) for rng, f in zip(rngs, faces)))]
    face = np.repeat(_concat_rows(faces, (0, 4)), cfg.attempts, axis=0)  # one row per attempted crop
    crops = _jittered(face, *draws[:3], cfg.size_low, cfg.size_high, cfg.crop_size)
    iou = pair_ious(crops, face, *(np.arange(len(crops)),) * 2)
    mask = _variant_mask(draws[3].reshape(-1, 5), cfg.p_augment) & (iou >= cfg.min_iou)[:, None]
    crop_idx, var_idx = np.nonzero(mask)
    codes = _VARIANTS[var_idx]
    pts = np.repeat(_concat_rows(points, (0, 5, 2)), cfg.attempts, axis=0)[crop_idx]
    bbox, lm = augment_geometry_many(crops[crop_idx], face[crop_idx], pts, codes, cfg.angle)
    inside = np.flatnonzero(np.all((lm >= 0) & (lm < 1), axis=1))
    out = np.zeros(len(inside), dtype=CANDIDATE_DTYPE)
    out["crop"] = crops[crop_idx[inside]]
    out["label"] = LANDMARK
    out["iou"] = iou[crop_idx[inside]]
    out["augment"] = codes[inside]
    out["bbox"] = bbox[inside]
    out["landmarks"] = lm[inside]
    image = np.repeat(np.arange(len(faces)), per_image)[crop_idx[inside]]
    parts = np.split(out, np.cumsum(np.bincount(image, minlength=len(faces)))[:-1])
    for rng, part in zip(rngs, parts):
        part["key"] = random_keys(rng, len(part))
    return parts


def _landmark_draws(rng, num_faces, cfg):
    """One image's random numbers for its landmark crops, in the generator's order: per
    face, the three draws of :func:`jittered_squares` and five coins per attempt."""
    n = cfg.attempts
    out = [[], [], [], []]
    for _ in range(num_faces):
        for part, values in zip(out, (rng.random(n), rng.uniform(-cfg.shift, cfg.shift, n),
                                      rng.uniform(-cfg.shift, cfg.shift, n), rng.random((n, 5)).ravel())):
            part.append(values)
    return [np.concatenate(p) if p else np.zeros(0) for p in out]


def _concat_rows(arrays, empty_shape):
    return np.concatenate(arrays) if arrays else np.zeros(empty_shape)


#: Variant codes in the order they are tried for each accepted crop, and which of
#: the five coin draws (p_augment, or 1/2 for "flip the rotated copy") enables each.
_VARIANTS = np.array([AUG_NONE, AUG_FLIP, AUG_ROT_POS, AUG_ROT_POS | AUG_FLIP, AUG_ROT_NEG, AUG_ROT_NEG | AUG_FLIP])


def _variant_mask(coins, p):
    """(A, 6) which variants each crop gets: base always; flip; +rot (and its flip); -rot (and its flip)."""
    flip, rot_p, rot_p_flip, rot_n, rot_n_flip = (coins[:, i] for i in range(5))
    return np.stack([np.ones(len(coins), bool), flip < p, rot_p < p, (rot_p < p) & (rot_p_flip < 0.5),
                     rot_n < p, (rot_n < p) & (rot_n_flip < 0.5)], axis=1)


def augment_geometry_many(crops, faces, points, codes, angle: float):
    """Vectorised :func:`augment_geometry`: crops (M,4) of faces (M,4 or 4,) with their
    points (M,5,2 or 5,2) under ``codes`` (M,): ((M,4), (M,10))."""
    crops = np.asarray(crops, dtype=np.float64).reshape(-1, 4)
    codes = np.asarray(codes)
    degrees = rotation_degrees(codes, angle)
    pts = np.broadcast_to(np.asarray(points, dtype=np.float64).reshape(-1, 5, 2), (len(crops), 5, 2))
    centre = np.stack([(crops[:, 0] + crops[:, 2]) / 2, (crops[:, 1] + crops[:, 3]) / 2], axis=1)[:, None, :]
    a = np.deg2rad(degrees)[:, None]
    cos, sin = np.cos(a), np.sin(a)
    d = pts - centre
    # the same rotation as rotation_matrix(): x' = cos*dx + sin*dy, y' = -sin*dx + cos*dy
    rotated = np.stack([cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1]], axis=-1) + centre
    lm = normalise_to_crops(rotated, crops)
    bbox = encode_offsets(crops, np.broadcast_to(np.asarray(faces, dtype=np.float64).reshape(-1, 4), crops.shape))
    flip = (codes & AUG_FLIP).astype(bool)
    lm[flip] = flip_normalised(lm[flip])
    bbox[flip] = flip_offsets(bbox[flip])
    return bbox, lm


def augment_geometry(crop, face, points, augment: int, angle: float):
    """Targets of one landmark sample under an ``augment`` code: ``(bbox (4,), landmarks (10,))``.

    Rotation turns the points about the crop centre; the box target stays that of
    the unrotated face (a rotated face has no axis-aligned box); flip mirrors both.
    """
    bbox, lm = augment_geometry_many(np.asarray(crop)[None], face, points, np.array([int(augment)]), angle)
    return bbox[0], lm[0]
