"""P-Net, R-Net and O-Net (Zhang et al. 2016) in PyTorch, with this package's layer names.

Model contract (also for ``torch.export`` / TorchScript models from other trainers,
see docs/detector.md):

* input: float32 ``(N, 3, H, W)``, channels in the detector's configured order (RGB by
  default), normalised as ``(x - 127.5) / 128``. P-Net takes any ``H, W >= 12``;
  R-Net takes ``24 x 24``, O-Net ``48 x 48``.
* output: a tuple ``(box_offsets, landmarks, face_prob)``:

  - ``box_offsets``: ``(N, 4)`` (P-Net: ``(N, 4, H', W')``), the regression of the face
    box relative to the input crop: ``((gx1 - x1) / w, (gy1 - y1) / h, (gx2 - x2) / w,
    (gy2 - y2) / h)`` (:func:`mtcnn_data.core.boxes.encode_offsets`);
  - ``landmarks``: ``(N, 10)`` (P-Net: ``(N, 10, H', W')``), five points interleaved
    ``x1, y1, ..., x5, y5``, each ``((lx - x1) / w, (ly - y1) / h)``
    (:func:`mtcnn_data.core.landmarks.normalise_to_crops`); a model without a landmark
    head returns a 2-tuple ``(box_offsets, face_prob)`` instead;
  - ``face_prob``: ``(N,)`` (P-Net: ``(N, H', W')``), the softmax probability of "face".

For training, :meth:`MtcnnNet.logits` returns the raw two-class logits in place of the
probability.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Tuple

import torch
from torch import nn

__all__ = ["PNet", "RNet", "ONet", "MtcnnNet", "STAGES", "INPUT_SIZE", "build_model"]

#: Network input side per stage (P-Net: the cell size; it takes any size >= 12).
INPUT_SIZE = {"pnet": 12, "rnet": 24, "onet": 48}
STAGES = tuple(INPUT_SIZE)


def _conv_block(layers) -> "OrderedDict[str, nn.Module]":
    """``(name, in, out, kernel, pool)`` rows to conv/PReLU/max-pool modules."""
    modules: "OrderedDict[str, nn.Module]" = OrderedDict()
    for name, c_in, c_out, kernel, pool in layers:
        modules[f"conv{name}"] = nn.Conv2d(c_in, c_out, kernel_size=kernel)
        modules[f"act{name}"] = nn.PReLU(c_out)
        if pool:
            size, stride = pool
            modules[f"pool{name}"] = nn.MaxPool2d(size, stride, ceil_mode=True)
    return modules


class MtcnnNet(nn.Module):
    """Shared head logic: ``backbone`` features, then face / box / landmark heads."""

    stage: str = ""

    def __init__(self, backbone: nn.Module, head, width: int, landmarks: bool):
        super().__init__()
        self.backbone = backbone
        self.face_head = head(width, 2)
        self.box_head = head(width, 4)
        self.landmark_head = head(width, 10) if landmarks else None

    def logits(self, x: torch.Tensor):
        """``(box_offsets, landmarks or None, face logits (N, 2[, H', W']))`` for training."""
        features = self.backbone(x)
        lm = self.landmark_head(features) if self.landmark_head is not None else None
        return self.box_head(features), lm, self.face_head(features)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        box, lm, face = self.logits(x)
        prob = torch.softmax(face, dim=1)[:, 1]
        if lm is None:
            return box, prob
        return box, lm, prob


def _conv_head(width: int, out: int) -> nn.Module:
    return nn.Conv2d(width, out, kernel_size=1)


def _dense_head(width: int, out: int) -> nn.Module:
    return nn.Linear(width, out)


def _dense_tail(flat: int, width: int) -> "OrderedDict[str, nn.Module]":
    """Flatten (standard NCHW order) and the dense layer before the heads."""
    return OrderedDict(flatten=nn.Flatten(), fc=nn.Linear(flat, width), act_fc=nn.PReLU(width))


class PNet(MtcnnNet):
    """Proposal network: fully convolutional, a 12 x 12 window per output cell (stride 2)."""

    stage = "pnet"

    def __init__(self, landmarks: bool = True):
        body = _conv_block([(1, 3, 10, 3, (2, 2)), (2, 10, 16, 3, None), (3, 16, 32, 3, None)])
        super().__init__(nn.Sequential(body), _conv_head, 32, landmarks)


class RNet(MtcnnNet):
    """Refinement network on 24 x 24 crops."""

    stage = "rnet"

    def __init__(self, landmarks: bool = True):
        body = _conv_block([(1, 3, 28, 3, (3, 2)), (2, 28, 48, 3, (3, 2)), (3, 48, 64, 2, None)])
        body.update(_dense_tail(64 * 3 * 3, 128))
        super().__init__(nn.Sequential(body), _dense_head, 128, landmarks)


class ONet(MtcnnNet):
    """Output network on 48 x 48 crops."""

    stage = "onet"

    def __init__(self, landmarks: bool = True):
        body = _conv_block(
            [(1, 3, 32, 3, (3, 2)), (2, 32, 64, 3, (3, 2)), (3, 64, 64, 3, (2, 2)), (4, 64, 128, 2, None)]
        )
        body.update(_dense_tail(128 * 3 * 3, 256))
        super().__init__(nn.Sequential(body), _dense_head, 256, landmarks)


_CLASSES = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def build_model(stage: str, landmarks: bool = True) -> MtcnnNet:
    """A fresh (randomly initialised) network for ``stage`` ("pnet", "rnet", "onet")."""
    if stage not in _CLASSES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    return _CLASSES[stage](landmarks=landmarks)
