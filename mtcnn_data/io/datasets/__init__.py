"""Find a dataset's annotation files and image folder from its root: :func:`resolve_dataset`.

Coordinates of every record: ``x1, y1, x2, y2`` with exclusive ``x2, y2`` (see
:mod:`mtcnn_data`). Expected layouts (the official releases, unpacked)::

    WIDER FACE (kind "wider"; "wider_flat" reads a flat MTCNN list given as annotations=)
    ROOT/
    ├── wider_face_split/
    │   ├── wider_face_train_bbx_gt.txt
    │   └── wider_face_val_bbx_gt.txt
    ├── WIDER_train/images/<event>/*.jpg
    └── WIDER_val/images/<event>/*.jpg

    CelebA (kind "celeba", or "celeba_aligned")
    ROOT/
    ├── Anno/
    │   ├── list_bbox_celeba.txt
    │   ├── list_landmarks_celeba.txt
    │   └── list_landmarks_align_celeba.txt
    ├── Eval/list_eval_partition.txt        (needed for split=train|val|test)
    ├── img_celeba/*.jpg                    (in the wild)
    └── img_align_celeba/*.jpg              (aligned, 178x218)

    LFW_NET (kind "lfw_net")
    ROOT/
    ├── trainImageList.txt
    ├── testImageList.txt
    ├── lfw_5590/*.jpg
    └── net_7876/*.jpg

Explicit paths (``annotations=``, ``images=``, ``bbox=``, ``landmarks=``,
``partition=``) override the layout for non-standard folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional

from ...core.filtering import FilterConfig
from ...errors import LayoutError, OptionError
from .celeba import read_celeba, read_celeba_aligned
from ..images import image_size
from .lfw_net import read_lfw_net
from ..records import ImageRecord
from .wider import read_mtcnn_flat, read_wider

__all__ = ["KINDS", "TREES", "Dataset", "resolve_dataset"]

#: kind -> the folder tree a LayoutError draws.
TREES = {
    "wider": """ROOT/
├── wider_face_split/
│   ├── wider_face_train_bbx_gt.txt
│   └── wider_face_val_bbx_gt.txt
├── WIDER_train/images/<event>/*.jpg
└── WIDER_val/images/<event>/*.jpg""",
    "celeba": """ROOT/
├── Anno/
│   ├── list_bbox_celeba.txt
│   ├── list_landmarks_celeba.txt
│   └── list_landmarks_align_celeba.txt
├── Eval/list_eval_partition.txt   (for --split train|val|test)
├── img_celeba/*.jpg               (in the wild)
└── img_align_celeba/*.jpg         (aligned)""",
    "lfw_net": """ROOT/
├── trainImageList.txt
├── testImageList.txt
├── lfw_5590/*.jpg
└── net_7876/*.jpg""",
}
TREES["wider_flat"] = TREES["wider"]
TREES["celeba_aligned"] = TREES["celeba"]

KINDS = tuple(TREES)
_SPLITS = {
    "wider": ("train", "val"),
    "wider_flat": ("train", "val"),
    "lfw_net": ("train", "test"),
    "celeba": ("all", "train", "val", "test"),
    "celeba_aligned": ("all", "train", "val", "test"),
}


@dataclass
class Dataset:
    """A resolved dataset: where its files are and how to read them.

    Attributes:
        name: ``"wider"``, ``"celeba"``, ``"lfw_net"``, ...
        kind: the ``kind`` it was resolved from (``"celeba_aligned"`` ...).
        split: the split read.
        annotation_files: role (``"annotations"``, ``"bbox"``, ``"landmarks"``,
            ``"partition"``) -> path.
        image_root: folder that record paths are relative to.
        filters: the :class:`FilterConfig` the readers apply.
    """

    name: str
    kind: str
    split: Optional[str]
    annotation_files: Dict[str, Path]
    image_root: Path
    filters: FilterConfig = field(default_factory=FilterConfig)
    _reader: Callable[..., Iterator[ImageRecord]] = field(default=None, repr=False)

    def records(self, probe_image_sizes: bool = False) -> Iterator[ImageRecord]:
        """Stream the records. ``probe_image_sizes`` reads each image header so that the
        outside-image filter applies (WIDER, LFW_NET); counting does not need it."""
        if probe_image_sizes and self.kind in ("wider", "wider_flat", "lfw_net"):
            return self._reader(size_of=self._size_of)
        return self._reader()

    def image_path(self, record: ImageRecord) -> Path:
        return self.image_root / record.path

    def _size_of(self, relpath: str):
        return image_size(self.image_root / relpath)


def resolve_dataset(
    kind: str,
    root=None,
    split: Optional[str] = None,
    filters: FilterConfig = FilterConfig(),
    require_images: bool = True,
    **explicit_paths,
) -> Dataset:
    """The :class:`Dataset` of ``kind`` under ``root`` (see the module docstring's trees).

    Args:
        kind: one of :data:`KINDS`.
        root: the dataset's root folder (may be ``None`` when every path is explicit).
        split: WIDER ``train|val`` (default train); LFW_NET ``train|test`` (default
            train); CelebA ``all|train|val|test`` (default all).
        filters: applied by the readers to set ``keep`` / ``drop_reason``.
        require_images: raise LayoutError when the image folder is missing (set
            False to only count annotations).
        explicit_paths: ``annotations``, ``images``, ``bbox``, ``landmarks``,
            ``partition``: override the layout (``None`` values are ignored).
    """
    if kind not in _SPLITS:
        raise OptionError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")
    split = split or _SPLITS[kind][0]
    if split not in _SPLITS[kind]:
        raise OptionError(f"--split {split}: {_name(kind)} has the splits {', '.join(_SPLITS[kind])}")
    paths = {k: Path(v) for k, v in explicit_paths.items() if v is not None}
    unknown = set(paths) - {"annotations", "images", "bbox", "landmarks", "partition"}
    if unknown:
        raise TypeError(f"unknown explicit path(s) {sorted(unknown)}")
    root = Path(root) if root is not None else None
    if root is not None and not root.is_dir():
        raise _layout_error(kind, root, "dataset root folder")
    files, images = _LAYOUTS[kind](root, split, paths)
    for role, path in files.items():
        if not path.is_file():
            raise _layout_error(kind, path, f"{role} file")
    if require_images and not images.is_dir():
        raise _layout_error(kind, images, "image folder")
    return Dataset(_name(kind), kind, split, files, images, filters, _reader_for(kind, files, split, filters))


def _name(kind: str) -> str:
    return {"wider_flat": "wider", "celeba_aligned": "celeba"}.get(kind, kind)


def _layout_error(kind: str, path: Path, what: str) -> LayoutError:
    return LayoutError(
        f"{what} not found: {os.fspath(path)}\n"
        f"Expected this layout (pass explicit file options for a different one):\n{TREES[kind]}"
    )


def _in_root(root: Optional[Path], paths: Dict[str, Path], role: str, relative: str) -> Path:
    if role in paths:
        return paths[role]
    if root is None:
        raise LayoutError(f"no dataset root given and no explicit {role} path; pass ROOT or --{role}")
    return root / relative


def _wider_layout(root, split, paths):
    files = {"annotations": _in_root(root, paths, "annotations", f"wider_face_split/wider_face_{split}_bbx_gt.txt")}
    return files, _in_root(root, paths, "images", f"WIDER_{split}/images")


def _celeba_layout(root, split, paths, aligned: bool):
    files = {}
    if aligned:
        files["landmarks"] = _in_root(root, paths, "landmarks", "Anno/list_landmarks_align_celeba.txt")
    else:
        files["bbox"] = _in_root(root, paths, "bbox", "Anno/list_bbox_celeba.txt")
        files["landmarks"] = _in_root(root, paths, "landmarks", "Anno/list_landmarks_celeba.txt")
    partition = paths.get("partition") or (root / "Eval/list_eval_partition.txt" if root else None)
    if partition is not None and (split != "all" or partition.is_file()):
        files["partition"] = partition
    images = _in_root(root, paths, "images", "img_align_celeba" if aligned else "img_celeba")
    return files, images


def _lfw_layout(root, split, paths):
    name = "trainImageList.txt" if split == "train" else "testImageList.txt"
    files = {"annotations": _in_root(root, paths, "annotations", name)}
    images = paths.get("images") or root or files["annotations"].parent
    return files, images


_LAYOUTS = {
    "wider": _wider_layout,
    "wider_flat": _wider_layout,
    "celeba": partial(_celeba_layout, aligned=False),
    "celeba_aligned": partial(_celeba_layout, aligned=True),
    "lfw_net": _lfw_layout,
}


def _reader_for(kind, files, split, filters):
    if kind == "wider":
        return partial(read_wider, files["annotations"], filters)
    if kind == "wider_flat":
        return partial(read_mtcnn_flat, files["annotations"], filters)
    if kind == "lfw_net":
        return partial(read_lfw_net, files["annotations"], filters)
    celeba_split = None if split == "all" else split
    if kind == "celeba":
        return partial(read_celeba, files["bbox"], files["landmarks"], files.get("partition"), celeba_split, filters)
    return partial(read_celeba_aligned, files["landmarks"], files.get("partition"), celeba_split, filters)
