"""Load one cascade stage from a checkpoint, without ever running pickled code.

Accepted (see docs/detector.md):

* a ``state_dict`` in this package's layer names (:mod:`mtcnn_data.detect.models`), saved
  with ``torch.save``, possibly wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``
  and possibly with DataParallel's ``module.`` prefix;
* a facenet-pytorch ``state_dict`` (``pnet.pt``, ``rnet.pt``, ``onet.pt``), converted by
  :func:`from_facenet`; the spec ``"facenet"`` names the files of an installed
  facenet-pytorch;
* a whole model saved with ``torch.export.save`` (``.pt2``) or, legacy, TorchScript
  (``torch.jit.save``), following the model contract of :mod:`.models`.

Pickles are read with ``torch.load(weights_only=True)``: a checkpoint that pickles
classes or functions is refused.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import torch

from ..io.files import file_sha256
from ..errors import MtcnnDataError
from .models import INPUT_SIZE, STAGES, MtcnnNet, build_model

__all__ = [
    "CheckpointError",
    "LoadedStage",
    "load_stage",
    "from_facenet",
    "to_facenet",
    "facenet_path",
    "file_sha256",
    "FACENET_INSTALL",
]

FACENET_INSTALL = "pip install --no-deps facenet-pytorch==2.6.0"


class CheckpointError(MtcnnDataError):
    """A checkpoint cannot be read, is refused, or does not fit the stage's network."""


@dataclass
class LoadedStage:
    """A ready-to-run stage: ``model(x)`` follows the contract of :mod:`.models`.

    ``format`` is one of ``"state_dict"``, ``"facenet"``, ``"export"``,
    ``"torchscript"``, ``"module"``; ``sha256`` is the checkpoint file's digest
    (``None`` for an in-memory module).
    """

    stage: str
    model: Callable
    format: str
    source: Optional[str] = None
    sha256: Optional[str] = None

    def to_dict(self) -> dict:
        return {"stage": self.stage, "format": self.format, "source": self.source, "sha256": self.sha256}


# --------------------------------------------------------------------------- facenet

def _facenet_convs(n: int) -> Dict[str, str]:
    return {name: f"backbone.{ours}{k}" for k in range(1, n + 1) for name, ours in ((f"conv{k}", "conv"), (f"prelu{k}", "act"))}


#: facenet-pytorch layer -> our layer, per stage.
_FACENET_LAYERS = {
    "pnet": {**_facenet_convs(3), "conv4_1": "face_head", "conv4_2": "box_head"},
    "rnet": {**_facenet_convs(3), "dense4": "backbone.fc", "prelu4": "backbone.act_fc",
             "dense5_1": "face_head", "dense5_2": "box_head"},
    "onet": {**_facenet_convs(4), "dense5": "backbone.fc", "prelu5": "backbone.act_fc",
             "dense6_1": "face_head", "dense6_2": "box_head", "dense6_3": "landmark_head"},
}

#: (channels, height, width) of the feature map that facenet flattens after
#: ``permute(0, 3, 2, 1)`` (that is, in W, H, C order) before its first dense layer.
_FLATTEN_SHAPE = {"rnet": (64, 3, 3), "onet": (128, 3, 3)}

#: facenet's O-Net landmark rows are x1..x5, y1..y5; ours are x1, y1, ..., x5, y5.
_LANDMARK_ROWS = [k // 2 + 5 * (k % 2) for k in range(10)]


def _rename(state: Dict[str, torch.Tensor], layers: Dict[str, str]) -> Dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        layer, _, param = key.rpartition(".")
        out[f"{layers.get(layer, layer)}.{param}"] = value
    return out


def _dense_whc_to_chw(weight: torch.Tensor, shape) -> torch.Tensor:
    c, h, w = shape
    return weight.reshape(-1, w, h, c).permute(0, 3, 2, 1).reshape(weight.shape[0], -1)


def _dense_chw_to_whc(weight: torch.Tensor, shape) -> torch.Tensor:
    c, h, w = shape
    return weight.reshape(-1, c, h, w).permute(0, 3, 2, 1).reshape(weight.shape[0], -1)


def from_facenet(state: Dict[str, torch.Tensor], stage: str, permute: bool = True) -> Dict[str, torch.Tensor]:
    """A facenet-pytorch ``state_dict`` in our layer names and layouts.

    The first dense layer's input columns are reordered from facenet's W, H, C flatten
    order to our standard C, H, W order (``permute=False`` skips that: only for tests
    that show it matters); O-Net's landmark rows are interleaved to x, y pairs.
    """
    out = _rename(state, _FACENET_LAYERS[stage])
    if stage in _FLATTEN_SHAPE and permute and "backbone.fc.weight" in out:
        out["backbone.fc.weight"] = _dense_whc_to_chw(out["backbone.fc.weight"], _FLATTEN_SHAPE[stage])
    for name in ("landmark_head.weight", "landmark_head.bias"):
        if stage == "onet" and name in out:
            out[name] = out[name][_LANDMARK_ROWS]
    return {k: v.contiguous() for k, v in out.items()}


def to_facenet(state: Dict[str, torch.Tensor], stage: str) -> Dict[str, torch.Tensor]:
    """Inverse of :func:`from_facenet` (our landmark heads on P-Net/R-Net are dropped)."""
    back = {ours: theirs for theirs, ours in _FACENET_LAYERS[stage].items()}
    state = {k: v for k, v in state.items() if k.rpartition(".")[0] in back}
    if stage in _FLATTEN_SHAPE:
        state = dict(state, **{"backbone.fc.weight": _dense_chw_to_whc(state["backbone.fc.weight"], _FLATTEN_SHAPE[stage])})
    if stage == "onet":
        inverse = [_LANDMARK_ROWS.index(k) for k in range(10)]
        state = dict(state, **{k: state[k][inverse] for k in ("landmark_head.weight", "landmark_head.bias")})
    return {k: v.contiguous() for k, v in _rename(state, back).items()}


def facenet_path(stage: str) -> Path:
    """Path of facenet-pytorch's weights for ``stage``, found without importing it."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or spec.origin is None:
        raise CheckpointError(
            f"the checkpoint 'facenet' needs the facenet-pytorch package, which is not installed; "
            f"run: {FACENET_INSTALL}"
        )
    path = Path(spec.origin).parent / "data" / f"{stage}.pt"
    if not path.is_file():
        raise CheckpointError(f"facenet-pytorch is installed but {path} is missing; reinstall: {FACENET_INSTALL}")
    return path


def _is_facenet(state: Dict[str, torch.Tensor], stage: str) -> bool:
    layers = {k.rpartition(".")[0] for k in state}
    return bool(layers) and layers <= set(_FACENET_LAYERS[stage])


# --------------------------------------------------------------------------- files

def _archive_kind(path: Path) -> str:
    """``"export"``, ``"torchscript"`` or ``"pickle"`` from the file's zip layout."""
    if not zipfile.is_zipfile(path):
        return "pickle"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(n.endswith("archive_format") or "/models/" in n for n in names):
        return "export"
    if any("/code/" in n or n.endswith("constants.pkl") for n in names):
        return "torchscript"
    return "pickle"


def _read_state_dict(path: Path) -> Dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        glob = [ln.strip() for ln in str(exc).splitlines() if "Unsupported global" in ln]
        if not glob:
            raise CheckpointError(
                f"{path}: not a readable torch checkpoint (expected a torch.save state_dict, a "
                f"torch.export .pt2 or TorchScript; unpickling failed)"
            ) from exc
        found = glob[0].split("Unsupported global:")[-1].split(" was not")[0].strip()
        raise CheckpointError(
            f"{path}: refused: the file pickles Python objects or code ({found}), e.g. a whole model "
            f"saved with torch.save(model); expected a state_dict, a torch.export .pt2 or TorchScript. "
            f"Save model.state_dict() instead."
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0]})") from exc
    return _unwrap(obj, path)


def _unwrap(obj, path) -> Dict[str, torch.Tensor]:
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{path}: expected a dict of tensors (a state_dict, or {{'state_dict': ...}} / "
            f"{{'model': ...}}), found {type(obj).__name__}"
        )
    return {k[7:] if k.startswith("module.") else k: v for k, v in obj.items()}


# --------------------------------------------------------------------------- fitting

def _fit_report(model: MtcnnNet, state: Dict[str, torch.Tensor]) -> str:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    parts = []
    if missing:
        parts.append("missing keys: " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected keys: " + ", ".join(unexpected))
    if shapes:
        parts.append("mismatched shapes: " + "; ".join(shapes))
    return "\n  ".join(parts)


def model_from_state_dict(state: Dict[str, torch.Tensor], stage: str, source: str = "state_dict") -> MtcnnNet:
    """Build the stage's network (with a landmark head iff the state has one) and load it."""
    model = build_model(stage, landmarks=any(k.startswith("landmark_head.") for k in state))
    report = _fit_report(model, state)
    if report:
        raise CheckpointError(
            f"{source}: the checkpoint does not fit the {stage} network:\n  {report}\n"
            f"Is it a checkpoint of another stage, or of a different architecture?"
        )
    model.load_state_dict(state)
    return model.eval()


def _load_file(path: Path, stage: str):
    kind = _archive_kind(path)
    if kind == "export":
        return torch.export.load(str(path)).module(), "export"
    if kind == "torchscript":
        with warnings.catch_warnings():  # legacy on purpose: accepted, not recommended
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval(), "torchscript"
    state = _read_state_dict(path)
    if _is_facenet(state, stage):
        return model_from_state_dict(from_facenet(state, stage), stage, str(path)), "facenet"
    return model_from_state_dict(state, stage, str(path)), "state_dict"


def _check_contract(model, stage: str, source: str) -> None:
    """Run a blank input through the model and check the output tuple's shapes."""
    size = 14 if stage == "pnet" else INPUT_SIZE[stage]
    try:
        with torch.inference_mode():
            out = model(torch.zeros(2, 3, size, size))
    except Exception as exc:  # any failure of a foreign model is a contract violation
        raise CheckpointError(
            f"{source}: the model fails on a {stage} input (2, 3, {size}, {size}): "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}; "
            f"is it a model of another stage? See the model contract in docs/detector.md"
        ) from exc
    n_box = out[0].shape[1] if isinstance(out, (tuple, list)) and out[0].dim() >= 2 else None
    if not isinstance(out, (tuple, list)) or len(out) not in (2, 3) or n_box != 4:
        found = [tuple(o.shape) for o in out] if isinstance(out, (tuple, list)) else type(out).__name__
        raise CheckpointError(
            f"{source}: the model does not follow the {stage} contract: expected a tuple "
            f"(box_offsets (N, 4{', H, W' if stage == 'pnet' else ''}), [landmarks,] face_prob) for "
            f"input (2, 3, {size}, {size}), got {found}; see docs/detector.md"
        )


def load_stage(spec, stage: str) -> LoadedStage:
    """Load ``stage`` ("pnet", "rnet", "onet") from ``spec``.

    ``spec`` is a checkpoint path, the string ``"facenet"``, a :class:`LoadedStage`
    (returned as is) or an ``nn.Module`` following the model contract.
    """
    if stage not in STAGES:
        raise CheckpointError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if isinstance(spec, LoadedStage):
        return spec
    if isinstance(spec, torch.nn.Module):
        _check_contract(spec.eval(), stage, type(spec).__name__)
        return LoadedStage(stage, spec, "module")
    path = facenet_path(stage) if str(spec) == "facenet" else Path(os.fspath(spec))
    if not path.is_file():
        raise CheckpointError(f"{stage} checkpoint {path} does not exist (expected a file, or 'facenet')")
    model, fmt = _load_file(path, stage)
    _check_contract(model, stage, str(path))
    return LoadedStage(stage, model, fmt, str(path), file_sha256(path))
