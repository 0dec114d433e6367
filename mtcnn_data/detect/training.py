"""Reference trainer for P-Net, R-Net and O-Net on mtcnn-data shards (docs/training.md).

The loss is the paper's multi-task loss (Zhang et al. 2016, section 2.3):

* face classification: cross-entropy on negatives and positives only, with online
  hard sample mining (the top 70% of those losses in each mini-batch are kept);
* box regression: mean squared error of the 4 offsets, on positives and parts;
* landmark regression: mean squared error of the 10 coordinates, on landmark samples;

weighted det/box/landmark 1/0.5/0.5 for P-Net and R-Net, 1/0.5/1 for O-Net. Adam.
The checkpoint is a plain ``state_dict`` in this package's layer names, which
:func:`mtcnn_data.detect.checkpoints.load_stage` reads directly.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

from ..core.schema import LANDMARK, NEGATIVE, PART, POSITIVE
from .models import INPUT_SIZE, STAGES, MtcnnNet, build_model
from ..errors import MtcnnDataError

__all__ = [
    "TASK_WEIGHTS", "OHEM_KEEP", "SCHEDULES", "TrainConfig", "TrainError", "classification_loss", "masked_mse",
    "multitask_loss", "flatten_outputs", "train", "save_checkpoint",
]

#: (det, box, landmark) loss weights per stage, from the paper.
TASK_WEIGHTS = {"pnet": (1.0, 0.5, 0.5), "rnet": (1.0, 0.5, 0.5), "onet": (1.0, 0.5, 1.0)}
#: Learning-rate schedules: ``constant``, or ``cosine`` (from ``lr`` down to 0 over all batches).
SCHEDULES = ("cosine", "constant")
#: Fraction of the classification losses kept by online hard sample mining.
OHEM_KEEP = 0.7


class TrainError(MtcnnDataError):
    """Training cannot start: data and stage do not fit, or a setting is impossible."""


# ---------------------------------------------------------------------- loss

def _zero(like: torch.Tensor) -> torch.Tensor:
    """A zero that keeps the graph (a batch without samples of one task)."""
    return like.sum() * 0.0


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, keep: float = OHEM_KEEP) -> torch.Tensor:
    """Cross-entropy on negatives and positives; the mean of the hardest ``keep`` fraction.

    ``logits`` (N, 2), ``labels`` (N,) with the shard codes. Parts and landmark samples
    do not count. ``keep=1`` disables mining.
    """
    mask = (labels == NEGATIVE) | (labels == POSITIVE)
    if not bool(mask.any()):
        return _zero(logits)
    losses = F.cross_entropy(logits[mask], labels[mask].long(), reduction="none")
    k = max(1, int(keep * losses.numel() + 1e-6))
    return torch.topk(losses, k, sorted=False).values.mean()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the rows selected by ``mask`` (0 with the graph kept if none)."""
    if not bool(mask.any()):
        return _zero(pred)
    return F.mse_loss(pred[mask], target[mask])


def flatten_outputs(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """``(N, C)`` from a crop network's ``(N, C)`` or P-Net's ``(N, C, 1, 1)`` on 12 x 12 crops."""
    if t is None or t.dim() == 2:
        return t
    if t.dim() == 4 and t.shape[2:] == (1, 1):
        return t.reshape(t.shape[0], t.shape[1])
    raise TrainError(f"expected network outputs (N, C) or (N, C, 1, 1), got {tuple(t.shape)}; "
                     "P-Net trains on 12 x 12 crops, where its output map is 1 x 1")


def multitask_loss(outputs, batch: Dict[str, torch.Tensor], weights=TASK_WEIGHTS["pnet"],
                   keep: float = OHEM_KEEP) -> Dict[str, torch.Tensor]:
    """The weighted sum of the three task losses, and each of them.

    ``outputs``: ``MtcnnNet.logits(x)`` = ``(box, landmarks or None, face logits)``;
    ``batch``: ``label``, ``bbox``, ``landmarks`` tensors. Returns ``total``, ``cls``,
    ``box``, ``landmark`` (unweighted), and ``correct`` / ``counted`` for accuracy on
    negatives and positives.
    """
    box, lm, logits = (flatten_outputs(o) for o in outputs)
    labels = batch["label"]
    cls = classification_loss(logits, labels, keep)
    box_loss = masked_mse(box, batch["bbox"], (labels == POSITIVE) | (labels == PART))
    lm_loss = masked_mse(lm, batch["landmarks"], labels == LANDMARK) if lm is not None else _zero(box)
    w_det, w_box, w_lm = weights
    scored = (labels == NEGATIVE) | (labels == POSITIVE)
    correct = (logits.argmax(dim=1) == labels)[scored].sum()
    return {
        "total": w_det * cls + w_box * box_loss + w_lm * lm_loss,
        "cls": cls, "box": box_loss, "landmark": lm_loss,
        "correct": correct.detach(), "counted": scored.sum().detach(),
    }


# ---------------------------------------------------------------------- checkpoint

def save_checkpoint(model: MtcnnNet, path) -> Path:
    """``model.state_dict()`` (CPU tensors) written atomically to ``path``."""
    from ..io.files import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


# ---------------------------------------------------------------------- loop

@dataclass
class TrainConfig:
    stage: str
    data: str
    out: str
    epochs: int = 10
    batch_size: int = 384
    lr: float = 1e-3
    schedule: str = "cosine"  # one of SCHEDULES
    device: str = "cpu"
    seed: int = 0
    workers: int = 0
    threads: int = 2
    ohem_keep: float = OHEM_KEEP
    weights: tuple = field(default=None)  # None: TASK_WEIGHTS[stage]

    def resolved_weights(self) -> tuple:
        return tuple(self.weights) if self.weights is not None else TASK_WEIGHTS[self.stage]


def _check_config(cfg: TrainConfig, crop_size: int) -> None:
    if cfg.stage not in STAGES:
        raise TrainError(f"stage must be one of {', '.join(STAGES)}, got {cfg.stage!r}")
    if crop_size != INPUT_SIZE[cfg.stage]:
        raise TrainError(
            f"{cfg.data} holds {crop_size}x{crop_size} crops but {cfg.stage} trains on "
            f"{INPUT_SIZE[cfg.stage]}x{INPUT_SIZE[cfg.stage]}; pass the folder made for {cfg.stage} "
            f"(gen-pnet for pnet, mine --stage {cfg.stage} otherwise)"
        )
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainError(f"--device {cfg.device} asked for, but torch {torch.__version__} sees no CUDA device; use --device cpu")
    if cfg.schedule not in SCHEDULES:
        raise TrainError(f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
    if not 0 < cfg.ohem_keep <= 1:
        raise TrainError(f"ohem_keep must be in (0, 1], got {cfg.ohem_keep}")


def _loader(cfg: TrainConfig):
    from torch.utils.data import DataLoader

    from ..io.torch_dataset import RatioBatchSampler, ShardDataset

    dataset = ShardDataset(cfg.data)
    _check_config(cfg, dataset.crop_size)
    sampler = RatioBatchSampler(dataset, cfg.batch_size, seed=cfg.seed)
    loader = DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=cfg.workers,
                        pin_memory=cfg.device.startswith("cuda"), persistent_workers=cfg.workers > 0)
    return dataset, sampler, loader


def _scheduler(optimiser, cfg: TrainConfig, batches_per_epoch: int):
    """The rate, stepped once per batch: cosine from ``lr`` to 0 over the run, or ``lr`` throughout."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(cfg.epochs * batches_per_epoch, 1))
    return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)


def _run_epoch(model, loader, optimiser, scheduler, cfg: TrainConfig, device) -> Dict[str, float]:
    model.train()
    sums = dict.fromkeys(("total", "cls", "box", "landmark"), 0.0)
    correct = counted = batches = samples = 0
    start = time.perf_counter()
    lr = optimiser.param_groups[0]["lr"]
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        losses = multitask_loss(model.logits(batch["image"]), batch, cfg.resolved_weights(), cfg.ohem_keep)
        optimiser.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimiser.step()
        scheduler.step()
        for k in sums:
            sums[k] += losses[k].detach().item()
        correct += int(losses["correct"])
        counted += int(losses["counted"])
        batches += 1
        samples += len(batch["label"])
    seconds = time.perf_counter() - start
    stats = {k: v / max(batches, 1) for k, v in sums.items()}
    stats.update(accuracy=correct / counted if counted else math.nan, batches=batches, samples=samples,
                 seconds=seconds, samples_per_s=samples / seconds if seconds > 0 else math.nan, lr=lr)
    return stats


def format_epoch(epoch: int, epochs: int, s: Dict[str, float]) -> str:
    return (f"epoch {epoch}/{epochs}: loss {s['total']:.4f} (cls {s['cls']:.4f}, box {s['box']:.4f}, "
            f"landmark {s['landmark']:.4f}), accuracy {s['accuracy']:.3f}, {s['samples']:,} samples "
            f"in {s['seconds']:.1f} s ({s['samples_per_s']:,.0f}/s)")


def train(cfg: TrainConfig, log: Callable[[str], None] = print) -> Dict:
    """Train ``cfg.stage`` on ``cfg.data``; write ``cfg.out`` (state_dict) and ``cfg.out + '.json'``.

    Returns the summary written to the JSON file: config and per-epoch statistics.
    """
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise TrainError(f"epochs, batch size and learning rate must be positive; got {cfg.epochs}, {cfg.batch_size}, {cfg.lr}")
    if cfg.device == "cpu" and cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    dataset, sampler, loader = _loader(cfg)
    device = torch.device(cfg.device)
    model = build_model(cfg.stage).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = _scheduler(optimiser, cfg, len(sampler))
    log(f"training {cfg.stage} on {dataset!r}: {len(sampler)} batches of {cfg.batch_size} "
        f"({dict(zip(('negative', 'positive', 'part', 'landmark'), sampler.per_class.tolist()))}) per epoch, "
        f"weights det/box/landmark {'/'.join(f'{w:g}' for w in cfg.resolved_weights())}, "
        f"lr {cfg.lr:g} ({cfg.schedule}), device {device}")
    history: List[Dict[str, float]] = []
    for epoch in range(cfg.epochs):
        sampler.set_epoch(epoch)
        history.append(_run_epoch(model, loader, optimiser, scheduler, cfg, device))
        log(format_epoch(epoch + 1, cfg.epochs, history[-1]))
    path = save_checkpoint(model, cfg.out)
    summary = {"checkpoint": str(path), "stage": cfg.stage, "config": asdict(cfg), "history": history,
               "manifest_totals": dataset.reader.manifest.get("totals")}
    _write_json(Path(str(path) + ".json"), summary)
    log(f"wrote {path} (state_dict; load with load_stage({str(path)!r}, {cfg.stage!r})) and {path}.json")
    return summary


def _write_json(path: Path, obj) -> None:
    from ..io.files import atomic_write_json

    atomic_write_json(path, json.loads(json.dumps(obj, default=str)))
