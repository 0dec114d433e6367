"""One description per data command: every setting that shapes what a run writes.

:class:`GenPnetConfig` and :class:`MineConfig` are frozen dataclasses whose field names
are the command-line option names (``min_size`` is ``--min-size``). The manifest's
``settings`` section and the resume fingerprint are both :meth:`DataConfig.settings`,
so an option added here is recorded and checked on ``--resume`` without another list
to keep. Options that change how a run goes but never its bytes (workers, backend,
resume, ...) are :class:`mtcnn_data.engine.run.RunOptions`, listed in :data:`RUN_OPTIONS`.
Every value is validated when the object is made and refused with an
:class:`~mtcnn_data.errors.OptionError` that names the option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional, Tuple

from ..core.filtering import FilterConfig
from ..core.schema import DEFAULT_RATIO
from ..errors import OptionError
from ..io.datasets import REGISTRY, landmark_sets

#: the options of gen-pnet / mine that never change the output (RunOptions).
RUN_OPTIONS = ("workers", "backend", "scheduler", "address", "resume", "overwrite", "skip_missing", "unit_size", "reuse")
#: Recall-oriented thresholds for mining (P-Net, R-Net, O-Net), as the common MTCNN
#: hard-example code uses: keep most faces, and many hard negatives, in the candidates.
MINING_THRESHOLDS = (0.3, 0.1, 0.7)
#: The allowed values of the fields with a fixed set; each dataset's splits (WIDER's ``split``,
#: each landmark set's ``<kind>_split``) as the dataset registry declares them.
_CHOICES = {"split": REGISTRY["wider"].splits, **{e.split_option: e.splits for e in landmark_sets()},
            "compression": ("gzip", "lzf", "none"), "stage": ("rnet", "onet")}


def option_name(name: str) -> str:
    """``min_size`` -> ``--min-size``."""
    return "--" + name.replace("_", "-")


def _number(low=None, above=None, integer=False, optional=False, high=None):
    """Field metadata: a finite number (an int when ``integer``), ``>= low``, ``> above``, ``<= high``."""
    return {"number": {"low": low, "above": above, "integer": integer, "optional": optional, "high": high}}


def _path():
    return {"path": True}


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Sources, filters and output settings shared by gen-pnet and mine."""

    # sources
    wider: Optional[str] = field(default=None, metadata=_path())
    split: str = "train"
    wider_annotations: Optional[str] = field(default=None, metadata=_path())
    wider_images: Optional[str] = field(default=None, metadata=_path())
    wider_flat: bool = False
    lfw_net: Optional[str] = field(default=None, metadata=_path())
    lfw_split: str = "train"
    celeba: Optional[str] = field(default=None, metadata=_path())
    celeba_split: str = "train"
    celeba_aligned: bool = False
    retinaface: Optional[str] = field(default=None, metadata=_path())
    retinaface_split: str = "train"
    max_images: Optional[int] = field(default=None, metadata=_number(low=1, integer=True, optional=True))
    # filters
    min_size: float = field(default=0.0, metadata=_number(low=0))
    keep_invalid: bool = False
    max_blur: Optional[int] = field(default=None, metadata=_number(low=0, high=2, integer=True, optional=True))
    max_occlusion: Optional[int] = field(default=None, metadata=_number(low=0, high=2, integer=True, optional=True))
    drop_atypical_pose: bool = False
    # output
    ratio: Tuple[int, int, int, int] = DEFAULT_RATIO
    limit: Optional[int] = field(default=None, metadata=_number(low=1, integer=True, optional=True))
    seed: int = field(default=0, metadata=_number(low=0, integer=True))
    shard_mb: float = field(default=64.0, metadata=_number(above=0))
    compression: str = "gzip"
    max_pixels: int = field(default=100_000_000, metadata=_number(low=1, integer=True))

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if "number" in f.metadata:
                _check_number(f.name, value, **f.metadata["number"])
            if f.name in _CHOICES and value not in _CHOICES[f.name]:
                raise OptionError(f"{option_name(f.name)} must be one of {', '.join(_CHOICES[f.name])}, got {value!r}")
        object.__setattr__(self, "ratio", check_ratio(self.ratio))
        self._check_companions()

    def _check_companions(self):
        """Options that only mean something next to another one."""
        needs = {"wider_images": ("wider", "wider_annotations"), "wider_flat": ("wider", "wider_annotations"),
                 "celeba_aligned": ("celeba",)}
        for name, partners in needs.items():
            if getattr(self, name) and not any(getattr(self, p) for p in partners):
                given = " or ".join(option_name(p) for p in partners)
                raise OptionError(f"{option_name(name)} applies to a dataset given with {given}; add it, or drop {option_name(name)}")

    @classmethod
    def from_options(cls, options: dict) -> "DataConfig":
        """The config of a command's keyword arguments; its fields are popped from ``options``."""
        return cls(**{f.name: options.pop(f.name) for f in fields(cls) if f.name in options})

    def settings(self) -> dict:
        """Every field as JSON gives it back (paths made absolute): the manifest's
        ``settings`` and the resume fingerprint."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("path") and value is not None:
                value = str(Path(value).resolve())
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def filters(self) -> FilterConfig:
        return FilterConfig(drop_invalid=not self.keep_invalid, min_size=float(self.min_size), max_blur=self.max_blur,
                            max_occlusion=self.max_occlusion, drop_atypical_pose=self.drop_atypical_pose)

    def source_options(self):
        from .sources import SourceOptions

        names = [f.name for f in fields(SourceOptions) if f.name != "filters"]
        return SourceOptions(filters=self.filters(), **{n: getattr(self, n) for n in names})

    def sources(self):
        """The resolved sources (each dataset's layout checked now)."""
        from .sources import build_sources

        return build_sources(self.source_options())

    @property
    def uses_sample(self) -> bool:
        """No source given: the bundled sample dataset is used."""
        return self.source_options().empty

    @property
    def compression_filter(self) -> Optional[str]:
        return None if self.compression == "none" else self.compression


@dataclass(frozen=True, kw_only=True)
class GenPnetConfig(DataConfig):
    """Everything that shapes a ``gen-pnet`` run's output."""

    negatives_per_image: int = field(default=50, metadata=_number(low=0, integer=True))
    near_negatives_per_face: int = field(default=5, metadata=_number(low=0, integer=True))
    jitter_per_face: int = field(default=20, metadata=_number(low=0, integer=True))
    min_face: float = field(default=20.0, metadata=_number(low=0))
    landmark_attempts: int = field(default=10, metadata=_number(low=0, integer=True))
    rotate_degrees: float = field(default=5.0, metadata=_number(low=0, high=180))


@dataclass(frozen=True, kw_only=True)
class MineConfig(DataConfig):
    """Everything that shapes a ``mine`` run's output (checkpoint contents: their sha256
    in the manifest's detector section, also part of the fingerprint)."""

    stage: str
    pnet: str
    rnet: Optional[str] = None
    min_face: float = field(default=20.0, metadata=_number(low=12))
    factor: float = field(default=0.709, metadata=_number(above=0, high=0.99))
    thresholds: Tuple[float, float, float] = MINING_THRESHOLDS
    max_negatives_per_image: int = field(default=50, metadata=_number(low=0, integer=True))
    landmark_attempts: int = field(default=10, metadata=_number(low=0, integer=True))
    rotate_degrees: float = field(default=5.0, metadata=_number(low=0, high=180))
    device: str = "cpu"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "thresholds", check_thresholds(self.thresholds))
        if self.stage == "onet" and not self.rnet:
            raise OptionError("--stage onet mines with P-Net then R-Net: give --rnet CKPT as well (or --rnet facenet)")
        check_device(self.device)


def _check_number(name, value, low=None, above=None, integer=False, optional=False, high=None):
    if value is None and optional:
        return
    expected = _expected(low, above, high, integer)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        raise OptionError(f"{option_name(name)} expects {expected}, got {value!r}")
    if not math.isfinite(value) or (low is not None and value < low) or (above is not None and value <= above) \
            or (high is not None and value > high):
        raise OptionError(f"{option_name(name)} expects {expected}, got {value!r}")


def _expected(low, above, high, integer):
    kind = "an integer" if integer else "a finite number"
    bounds = [f">= {low}" if low is not None else None, f"> {above}" if above is not None else None,
              f"<= {high}" if high is not None else None]
    return " ".join([kind, " and ".join(b for b in bounds if b)]).strip()


def check_ratio(ratio) -> tuple:
    """Four non-negative integer shares NEG:POS:PART:LANDMARK, not all zero."""
    parts = tuple(ratio)
    if len(parts) != 4 or any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in parts):
        raise OptionError(f"--ratio expects four non-negative integers NEG:POS:PART:LANDMARK such as 3:1:1:2, "
                          f"got {':'.join(map(str, parts))}")
    if sum(parts) == 0:
        raise OptionError("--ratio 0:0:0:0 selects nothing: give at least one class a share, e.g. 3:1:1:2 "
                          "(or 1:1:1:0 for no landmark samples)")
    return parts


def check_thresholds(thresholds) -> tuple:
    """Three probabilities P,R,O in [0, 1]."""
    parts = tuple(float(t) for t in thresholds)
    if len(parts) != 3 or not all(0 <= t <= 1 for t in parts):  # NaN fails the comparison too
        raise OptionError(f"--thresholds expects three probabilities P,R,O in [0, 1] such as 0.3,0.1,0.7, "
                          f"got {','.join(map(str, parts))}")
    return parts


def check_device(device: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``, and one this torch can use (torch imported only for cuda)."""
    kind, _, index = str(device).partition(":")
    if kind not in ("cpu", "cuda") or (kind == "cpu" and index) or (index and not index.isdigit()):
        raise OptionError(f"--device expects cpu, cuda or cuda:N, got {device!r}")
    if kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise OptionError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA device; use --device cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise OptionError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here "
                              f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    return device
