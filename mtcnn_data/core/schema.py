"""The sample schema (every per-sample field of the shards), label and augmentation
codes, and the in-memory candidate record (pure constants).

:data:`SAMPLE_FIELDS` is the one definition of what a shard holds per sample: the cut
records, the assembly, the shard writer and reader, ``verify`` and ``inspect`` all
derive from it, so adding a field is a change here (and wherever its values come from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

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


#: Stands for the crop size in a field's shape.
CROP = "S"


@dataclass(frozen=True)
class Field:
    """One per-sample dataset of a shard.

    ``shape`` is per sample, with :data:`CROP` where the crop size goes. ``candidate``
    names the :data:`CANDIDATE_DTYPE` field the value is copied from when a sample is
    cut; ``None`` for values made later (``images`` by cutting, ``source`` by the
    assembly). ``rle``: deflated with zlib's run-length strategy (Z_RLE) instead of the
    default one (multi-byte fields are byte-shuffled first, as HDF5's shuffle filter does).
    ``filtered``: false for a field stored in chunks without the ``--compression`` filter
    (with a checksum): RGB crops of natural images keep 94-98 % of their bytes under
    deflate (Z_RLE, 12 to 48 px), which cost most of a run's deflating and every read an
    inflate.
    """

    name: str
    dtype: np.dtype
    shape: Tuple
    meaning: str
    candidate: Optional[str] = None
    rle: bool = False
    filtered: bool = True

    def sample_shape(self, crop_size: int) -> Tuple[int, ...]:
        return tuple(crop_size if d == CROP else d for d in self.shape)

    def describe(self, crop_size: int) -> dict:
        """JSON-ready ``{name, dtype, shape, meaning}`` (shape per sample, crop size filled in)."""
        return {"name": self.name, "dtype": self.dtype.str, "shape": list(self.sample_shape(crop_size)),
                "meaning": self.meaning}


#: Every per-sample dataset of a shard, in the order the shards store them.
SAMPLE_FIELDS: Tuple[Field, ...] = (
    Field("images", np.dtype(np.uint8), (CROP, CROP, 3), "RGB crop, NHWC", filtered=False),
    Field("labels", np.dtype(np.int8), (), "0 negative, 1 positive, -1 part, -2 landmark", "label", rle=True),
    Field("bbox", np.dtype(np.float32), (4,), "box target normalised to the crop; zeros for negatives", "bbox"),
    Field("landmarks", np.dtype(np.float32), (10,), "x1,y1,...,x5,y5 normalised to the crop; zeros unless landmark", "landmarks"),
    Field("iou", np.dtype(np.float32), (), "best IoU of the crop with the annotated faces", "iou"),
    Field("crop_box", np.dtype(np.float32), (4,), "x1,y1,x2,y2 of the crop in source-image pixels", "crop"),
    Field("source", np.dtype(np.int32), (), "index into source_paths"),
    Field("augment", np.dtype(np.uint8), (), "augmentation code (AUGMENT_CODES)", "augment", rle=True),
)
FIELD_NAMES: Tuple[str, ...] = tuple(f.name for f in SAMPLE_FIELDS)
FIELDS_BY_NAME: Dict[str, Field] = {f.name: f for f in SAMPLE_FIELDS}
#: Every field but the pixels: what summaries and value checks read.
METADATA_FIELDS: Tuple[str, ...] = tuple(n for n in FIELD_NAMES if n != "images")
#: Made by the assembly, not stored in the cut records.
ASSEMBLY_FIELDS = ("source",)


def sample_fields(crop_size: int) -> Dict[str, tuple]:
    """Field name -> (dtype, per-sample shape) for ``crop_size``, in storage order."""
    return {f.name: (f.dtype, f.sample_shape(crop_size)) for f in SAMPLE_FIELDS}


def schema_description(crop_size: int) -> dict:
    """The schema as every shard stores it (JSON attribute ``schema``)."""
    return {"version": SCHEMA_VERSION, "fields": [f.describe(crop_size) for f in SAMPLE_FIELDS]}


def schema_differences(stored: dict, crop_size: int) -> list:
    """How a stored :func:`schema_description` differs from this one in what a reader
    relies on (version, field names and order, dtypes, shapes; not the meanings' wording)."""
    from itertools import zip_longest

    def layout(desc):
        return [(f.get("name"), f.get("dtype"), list(f.get("shape", []))) for f in desc.get("fields", [])]

    out = [] if stored.get("version") == SCHEMA_VERSION else [f"version {stored.get('version')}, expected {SCHEMA_VERSION}"]
    for k, (want, found) in enumerate(zip_longest(layout(schema_description(crop_size)), layout(stored))):
        if want != found:
            out.append(f"field {k} is {_field_text(found)}, expected {_field_text(want)}")
    return out


def _field_text(field) -> str:
    return "absent" if field is None else f"{field[0]} {field[1]} {tuple(field[2])}"


def sample_bytes(crop_size: int) -> int:
    """Uncompressed bytes of one sample."""
    return sum(dt.itemsize * int(np.prod(shape)) for dt, shape in sample_fields(crop_size).values())


def empty_samples(crop_size: int, fields=FIELD_NAMES) -> Dict[str, np.ndarray]:
    """Zero-row arrays of ``fields``."""
    spec = sample_fields(crop_size)
    return {k: np.zeros((0,) + spec[k][1], dtype=spec[k][0]) for k in fields}


def cut_dtype(crop_size: int) -> np.dtype:
    """A cut record: its output ``slot``, its image ``src`` within the unit, and every field
    but those the assembly makes."""
    return np.dtype([("slot", np.int64), ("src", np.int32)]
                     + [(f.name, f.dtype, f.sample_shape(crop_size)) for f in SAMPLE_FIELDS if f.name not in ASSEMBLY_FIELDS])


def class_index(labels) -> np.ndarray:
    """Position of each label in :data:`CLASS_ORDER` (negative 0, positive 1, part 2, landmark 3)."""
    labels = np.asarray(labels)
    out = np.full(labels.shape, -1, dtype=np.int64)
    for i, code in enumerate(CLASS_ORDER):
        out[labels == code] = i
    return out
