"""What a dataset kind is: the description each format module registers (:class:`DatasetKind`).

Every annotation format module (``wider.py``, ``celeba.py``, ``lfw_net.py``,
``retinaface.py``) declares its kinds as :class:`DatasetKind` values; the package's
``REGISTRY`` (:mod:`mtcnn_data.io.datasets`) lists them, and everything else (layout
resolution, the folder tree a LayoutError draws, the splits the CLI offers, the
landmark-set options of gen-pnet and mine, the release figures the annotation report
compares with, the contract test) is derived from it.

Paths in ``files`` and ``images`` are relative to the dataset root and may hold
``{split}``, replaced by the split read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, Optional, Tuple

from ..records import ImageRecord

__all__ = ["DatasetKind"]

#: ``reader(files, split, filters, size_of) -> records``; ``files`` maps role -> path.
Reader = Callable[..., Iterator[ImageRecord]]


@dataclass(frozen=True)
class DatasetKind:
    """One registered dataset kind.

    Attributes:
        kind: the registry key (``"wider"``, ``"celeba_aligned"``, ...).
        dataset: the short name records carry (``ImageRecord.dataset``).
        title: a human name for messages (``"WIDER FACE"``).
        tree: the expected folder tree, drawn by layout errors and the docs.
        splits: the splits it has; the first is the default of :func:`resolve_dataset`.
        files: annotation file role -> path under the root (``{split}`` allowed).
        images: candidate image folders under the root, the first present wins
            (``""`` is the root itself); record paths are relative to it.
        reader: reads the resolved ``files`` (see :data:`Reader`).
        role: ``"faces"`` (positives, parts, negatives) or ``"landmarks"``.
        option: the CLI option stem that names its root (``"lfw_net"`` -> ``--lfw-net``).
        variant: for a second kind under the same option: the flag that selects it
            (``"aligned"`` -> ``--celeba-aligned``), ``None`` for the base kind.
        optional_files: role -> the splits for which that file may be absent (it is
            then not passed to the reader).
        probes_sizes: the reader takes ``size_of`` (image sizes for the outside-image filter).
        figures: name of the release-figures file in ``manifests/`` (``None``: none kept).
        source_split: the split gen-pnet and mine read by default.
        help: one line for ``--help``.
    """

    kind: str
    dataset: str
    title: str
    tree: str
    splits: Tuple[str, ...]
    files: Dict[str, str]
    images: Tuple[str, ...]
    reader: Reader
    role: str
    option: str
    variant: Optional[str] = None
    optional_files: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    probes_sizes: bool = False
    figures: Optional[str] = None
    source_split: Optional[str] = None
    help: str = ""

    @property
    def split_option(self) -> str:
        """The name of the split option of gen-pnet / mine (``lfw_split``, ``celeba_split``)."""
        return f"{self.option.split('_')[0]}_split"

    @property
    def variant_option(self) -> Optional[str]:
        return f"{self.option}_{self.variant}" if self.variant else None
