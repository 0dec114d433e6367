"""Label and augmentation codes, and the in-memory candidate record (pure constants)."""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 1

#: Sample classes as stored in the shards' ``labels`` dataset.
NEGATIVE, POSITIVE, PART, LANDMARK = 0, 1, -1, -2
LABEL_CODES = {"negative": NEGATIVE, "positive": POSITIVE, "part": PART, "landmark": LANDMARK}
CLASS_NAMES = ("negative", "positive", "part", "landmark")
#: Order used for ratios and per-class arrays: negative, positive, part, landmark.
CLASS_ORDER = np.array([NEGATIVE, POSITIVE, PART, LANDMARK], dtype=np.int8)
DEFAULT_RATIO = (3, 1, 1, 2)

#: ``augment`` is a bit field: 0 none; bit 0 horizontal flip (applied last);
#: bit 1 rotation by +angle, bit 2 rotation by -angle (about the crop centre,
#: counter-clockwise on screen for +angle; angle in the manifest).
AUG_NONE, AUG_FLIP, AUG_ROT_POS, AUG_ROT_NEG = 0, 1, 2, 4
AUGMENT_CODES = {
    "none": 0,
    "flip": AUG_FLIP,
    "rotate+": AUG_ROT_POS,
    "rotate+,flip": AUG_ROT_POS | AUG_FLIP,
    "rotate-": AUG_ROT_NEG,
    "rotate-,flip": AUG_ROT_NEG | AUG_FLIP,
}

def rotation_degrees(augments, angle: float) -> np.ndarray:
    """Rotation of each ``augment`` code in degrees: ``+angle``, ``-angle`` or 0."""
    augments = np.asarray(augments)
    return np.where(augments & AUG_ROT_POS, angle, np.where(augments & AUG_ROT_NEG, -angle, 0.0))


#: One candidate sample before pixels are cut: everything but the image.
CANDIDATE_DTYPE = np.dtype(
    [
        ("image", np.int32),  # index of the source image within its work unit
        ("crop", np.int32, (4,)),  # integer crop box x1, y1, x2, y2 in source pixels
        ("label", np.int8),
        ("iou", np.float32),  # best IoU with the annotated faces
        ("augment", np.uint8),
        ("key", np.uint64),  # uniform random key: selection and nothing else
        ("bbox", np.float32, (4,)),
        ("landmarks", np.float32, (10,)),
    ]
)


def class_index(labels) -> np.ndarray:
    """Position of each label in :data:`CLASS_ORDER` (negative 0, positive 1, part 2, landmark 3)."""
    labels = np.asarray(labels)
    out = np.full(labels.shape, -1, dtype=np.int64)
    for i, code in enumerate(CLASS_ORDER):
        out[labels == code] = i
    return out
