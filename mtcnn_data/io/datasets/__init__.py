"""The dataset registry: one :class:`DatasetKind` per annotation format, and
:func:`resolve_dataset`, which finds a kind's files and image folder from its root.

Coordinates of every record: ``x1, y1, x2, y2`` with exclusive ``x2, y2`` (see
:mod:`mtcnn_data`). Each format module declares its kinds (folder tree, splits, file
and image paths under the root, reader) and :data:`REGISTRY` lists them; the layout
errors, the CLI's dataset options and splits, the sources of gen-pnet and mine and
the release figures of the annotation report are derived from it. Registered kinds
and their trees (the official releases, unpacked)::

    WIDER FACE ("wider"; "wider_flat" reads a flat MTCNN list given as annotations=)
    ROOT/
    ├── wider_face_split/
    │   ├── wider_face_train_bbx_gt.txt
    │   └── wider_face_val_bbx_gt.txt
    ├── WIDER_train/images/<event>/*.jpg
    └── WIDER_val/images/<event>/*.jpg

    CelebA ("celeba", or "celeba_aligned")
    ROOT/
    ├── Anno/
    │   ├── list_bbox_celeba.txt
    │   ├── list_landmarks_celeba.txt
    │   └── list_landmarks_align_celeba.txt
    ├── Eval/list_eval_partition.txt        (needed for split=train|val|test)
    ├── img_celeba/*.jpg                    (in the wild)
    └── img_align_celeba/*.jpg              (aligned, 178x218)

    LFW_NET ("lfw_net")
    ROOT/
    ├── trainImageList.txt
    ├── testImageList.txt
    ├── lfw_5590/*.jpg
    └── net_7876/*.jpg

    RetinaFace labels of WIDER FACE ("retinaface")
    ROOT/
    ├── train/label.txt                     (boxes + 5 landmarks)
    ├── val/label.txt                       (boxes only)
    ├── train/images/<event>/*.jpg          (or WIDER_train/images/: a WIDER FACE root)
    └── val/images/<event>/*.jpg            (or WIDER_val/images/)

Explicit paths (``annotations=``, ``images=``, ``bbox=``, ``landmarks=``,
``partition=``) override the layout for non-standard folders.

A new annotation format is one module (its reader and its ``KINDS``) plus its line in
:data:`REGISTRY` below, and a fake-tree builder in ``tests/fakedata.py`` for the
contract test that runs over every registered kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Tuple

from ...core.filtering import FilterConfig
from ...errors import DatasetError, LayoutError
from ..images import image_size
from ..records import ImageRecord
from . import celeba, lfw_net, retinaface, wider
from .kind import DatasetKind

__all__ = ["REGISTRY", "KINDS", "TREES", "DatasetKind", "Dataset", "resolve_dataset", "landmark_sets",
           "variants_of", "kind_for", "figures_name"]

#: kind -> its description, in the order the CLI lists them.
REGISTRY: Dict[str, DatasetKind] = {
    entry.kind: entry for entry in (*wider.KINDS, *lfw_net.KINDS, *celeba.KINDS, *retinaface.KINDS)
}
KINDS = tuple(REGISTRY)
#: kind -> the folder tree a LayoutError draws.
TREES = {kind: entry.tree for kind, entry in REGISTRY.items()}
_ROLES = ("annotations", "images", "bbox", "landmarks", "partition")


def landmark_sets() -> Tuple[DatasetKind, ...]:
    """The base kinds (no variant) that gen-pnet and mine read landmark samples from."""
    return tuple(e for e in REGISTRY.values() if e.role == "landmarks" and e.variant is None)


def variants_of(option: str) -> Tuple[DatasetKind, ...]:
    """The kinds selected by a flag next to ``option`` (``celeba`` -> ``celeba_aligned``)."""
    return tuple(e for e in REGISTRY.values() if e.option == option and e.variant is not None)


def kind_for(option: str, variant: Optional[str] = None) -> DatasetKind:
    """The kind named by a root option and, optionally, one of its variant flags."""
    return next(e for e in REGISTRY.values() if e.option == option and e.variant == variant)


def figures_name(dataset: str) -> Optional[str]:
    """The release-figures file (``manifests/<name>.json``) of a dataset name, if one is kept."""
    return next((e.figures for e in REGISTRY.values() if e.dataset == dataset), None)


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
        if probe_image_sizes and REGISTRY[self.kind].probes_sizes:
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
    entry = _entry(kind)
    split = split or entry.splits[0]
    if split not in entry.splits:
        raise DatasetError(f"{entry.title} has no split {split!r}; expected one of {', '.join(entry.splits)}")
    paths = {k: Path(v) for k, v in explicit_paths.items() if v is not None}
    unknown = set(paths) - set(_ROLES)
    if unknown:
        raise TypeError(f"unknown explicit path(s) {sorted(unknown)}")
    root = Path(root) if root is not None else None
    if root is not None and not root.is_dir():
        raise _layout_error(kind, root, "dataset root folder")
    files = _annotation_files(entry, root, split, paths)
    for role, path in files.items():
        if not path.is_file():
            raise _layout_error(kind, path, f"{role} file")
    images = _image_folder(entry, root, split, paths, files)
    if require_images and not images.is_dir():
        raise _layout_error(kind, images, "image folder")
    reader = partial(entry.reader, files, split, filters)
    return Dataset(entry.dataset, kind, split, files, images, filters, reader)


def _entry(kind: str) -> DatasetKind:
    if kind not in REGISTRY:
        raise DatasetError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")
    return REGISTRY[kind]


def _layout_error(kind: str, path: Path, what: str) -> LayoutError:
    return LayoutError(
        f"{what} not found: {os.fspath(path)}\n"
        f"Expected this layout (pass explicit file options for a different one):\n{TREES[kind]}"
    )


def _annotation_files(entry: DatasetKind, root: Optional[Path], split: str, paths) -> Dict[str, Path]:
    """Role -> path: explicit paths first, else the entry's path under the root; an optional
    file (for this split) is kept only where it exists."""
    files = {}
    for role, relative in entry.files.items():
        if split in entry.optional_files.get(role, ()):
            path = paths.get(role) or (root / relative.format(split=split) if root else None)
            if path is not None and path.is_file():
                files[role] = path
            continue
        files[role] = _in_root(root, paths, role, relative.format(split=split))
    return files


def _image_folder(entry: DatasetKind, root: Optional[Path], split: str, paths, files) -> Path:
    """The explicit folder, else the first of the entry's candidates present (or the first)."""
    if "images" in paths:
        return paths["images"]
    candidates = [c.format(split=split) for c in entry.images]
    if root is None:
        if candidates == [""]:
            return next(iter(files.values())).parent
        raise LayoutError("no dataset root given and no explicit images path; pass ROOT or --images")
    folders = [root / c for c in candidates]
    return next((f for f in folders if f.is_dir()), folders[0])


def _in_root(root: Optional[Path], paths: Dict[str, Path], role: str, relative: str) -> Path:
    if role in paths:
        return paths[role]
    if root is None:
        raise LayoutError(f"no dataset root given and no explicit {role} path; pass ROOT or --{role}")
    return root / relative
