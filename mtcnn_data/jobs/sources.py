"""Turning dataset options into the sources of a job (and the bundled sample)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import List, Optional

from ..core.filtering import FilterConfig
from ..io.datasets import kind_for, landmark_sets, resolve_dataset, variants_of
from ..engine.run import Source


@dataclass
class SourceOptions:
    """Where the face boxes and the landmark samples come from.

    ``wider`` is a WIDER FACE root (or ``wider_annotations`` + ``wider_images``
    for another layout; ``wider_flat`` reads the flat MTCNN list format);
    ``lfw_net`` / ``celeba`` / ``retinaface`` are landmark-set roots, one field (and a ``*_split``)
    per landmark kind of the dataset registry. With none of them the bundled sample
    (WIDER-format boxes, CelebA-format landmarks) is used.
    ``max_images``: only the first N images of each dataset, in annotation order.
    """

    wider: Optional[str] = None
    split: str = "train"
    wider_annotations: Optional[str] = None
    wider_images: Optional[str] = None
    wider_flat: bool = False
    lfw_net: Optional[str] = None
    lfw_split: str = "train"
    celeba: Optional[str] = None
    celeba_split: str = "train"
    celeba_aligned: bool = False
    retinaface: Optional[str] = None
    retinaface_split: str = "train"
    max_images: Optional[int] = None
    filters: FilterConfig = field(default_factory=FilterConfig)

    @property
    def empty(self) -> bool:
        return not any([self.wider, self.wider_annotations] + [getattr(self, e.option) for e in landmark_sets()])


def build_sources(opts: SourceOptions) -> List[Source]:
    """Resolve every source named in ``opts`` (each checked for its layout now)."""
    if opts.empty:
        return [replace(s, max_images=opts.max_images) for s in sample_sources(opts.filters)]
    sources = []
    if opts.wider or opts.wider_annotations:
        kind = kind_for("wider", "flat" if opts.wider_flat else None).kind
        ds = resolve_dataset(kind, opts.wider, opts.split, opts.filters,
                             annotations=opts.wider_annotations, images=opts.wider_images)
        sources.append(Source("faces", ds))
    for entry in landmark_sets():
        root = getattr(opts, entry.option)
        if root:
            chosen = next((v for v in variants_of(entry.option) if getattr(opts, v.variant_option)), entry)
            ds = resolve_dataset(chosen.kind, root, getattr(opts, entry.split_option), opts.filters)
            sources.append(Source("landmarks", ds))
    return [replace(s, max_images=opts.max_images) for s in sources]


def sample_sources(filters: FilterConfig = FilterConfig()) -> List[Source]:
    """The bundled sample: WIDER-format faces and CelebA-format landmarks."""
    from ..data import sample_celeba_root, sample_wider_root

    return [
        Source("faces", resolve_dataset("wider", sample_wider_root(), "train", filters)),
        Source("landmarks", resolve_dataset("celeba", sample_celeba_root(), "train", filters)),
    ]
