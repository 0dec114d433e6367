"""The reference trainer: loss masks, OHEM, and one short epoch that the detector can load."""

import json

import pytest
from click.testing import CliRunner

import torch

from mtcnn_data.cli.main import cli
from mtcnn_data.detect.checkpoints import load_stage
from mtcnn_data.detect.training import (
    TASK_WEIGHTS, TrainConfig, TrainError, classification_loss, flatten_outputs, masked_mse, multitask_loss, train,
)

F = torch.nn.functional
NEG, POS, PART, LM = 0, 1, -1, -2




def test_ohem_keeps_the_hardest_70_percent():
    torch.manual_seed(0)
    logits = torch.randn(20, 2)
    labels = torch.tensor([NEG, POS] * 10)
    every = F.cross_entropy(logits, labels, reduction="none")
    expected = torch.sort(every, descending=True).values[:14].mean()
    assert torch.allclose(classification_loss(logits, labels), expected)
    assert torch.allclose(classification_loss(logits, labels, keep=1.0), every.mean())


def test_classification_ignores_parts_and_landmark_samples():
    torch.manual_seed(1)
    logits = torch.randn(8, 2, requires_grad=True)
    labels = torch.tensor([NEG, POS, PART, LM, NEG, POS, PART, LM])
    loss = classification_loss(logits, labels, keep=1.0)
    loss.backward()
    assert torch.all(logits.grad[labels < 0] == 0) and torch.all(logits.grad[labels >= 0].abs().sum(1) > 0)
    scored = labels >= 0
    assert torch.allclose(loss, F.cross_entropy(logits[scored], labels[scored]))


def test_box_on_positives_and_parts_landmarks_on_landmark_samples():
    labels = torch.tensor([NEG, POS, PART, LM])
    box_pred, box_true = torch.zeros(4, 4), torch.tensor([[9.0] * 4, [1.0] * 4, [2.0] * 4, [9.0] * 4])
    assert masked_mse(box_pred, box_true, (labels == POS) | (labels == PART)).item() == pytest.approx((1 + 4) / 2)
    lm_pred, lm_true = torch.zeros(4, 10), torch.tensor([[9.0] * 10] * 3 + [[0.5] * 10])
    outputs = (box_pred, lm_pred, torch.zeros(4, 2))
    losses = multitask_loss(outputs, {"label": labels, "bbox": box_true, "landmarks": lm_true}, (1, 0.5, 0.5), keep=1.0)
    assert losses["box"].item() == pytest.approx(2.5)
    assert losses["landmark"].item() == pytest.approx(0.25)
    assert losses["cls"].item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    assert losses["total"].item() == pytest.approx(losses["cls"].item() + 0.5 * 2.5 + 0.5 * 0.25)
    assert int(losses["counted"]) == 2


def test_a_batch_without_a_task_gives_zero_with_a_graph():
    pred = torch.zeros(3, 4, requires_grad=True)
    loss = masked_mse(pred, torch.ones(3, 4), torch.zeros(3, dtype=torch.bool))
    assert loss.item() == 0 and loss.requires_grad


def test_pnet_outputs_are_flattened_and_larger_maps_refused():
    assert flatten_outputs(torch.zeros(5, 4, 1, 1)).shape == (5, 4)
    with pytest.raises(TrainError, match="1 x 1"):
        flatten_outputs(torch.zeros(5, 4, 2, 2))


def test_task_weights_are_the_papers():
    assert TASK_WEIGHTS == {"pnet": (1.0, 0.5, 0.5), "rnet": (1.0, 0.5, 0.5), "onet": (1.0, 0.5, 1.0)}


def test_one_epoch_writes_a_checkpoint_the_detector_loads(shards, tmp_path):
    out = tmp_path / "ckpt" / "pnet.pt"
    result = CliRunner().invoke(cli, ["train", "--stage", "pnet", "--data", str(shards), "--out", str(out),
                                      "--epochs", "1", "--batch-size", "70", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "epoch 1/1: loss" in result.output and "accuracy" in result.output
    state = torch.load(out, weights_only=True)
    assert all(k.split(".")[0] in ("backbone", "face_head", "box_head", "landmark_head") for k in state)
    stage = load_stage(out, "pnet")
    assert stage.format == "state_dict"
    box, lm, prob = stage.model(torch.zeros(1, 3, 30, 30))
    assert box.shape == (1, 4, 10, 10) and lm.shape == (1, 10, 10, 10) and prob.shape == (1, 10, 10)
    summary = json.loads((tmp_path / "ckpt" / "pnet.pt.json").read_text())
    assert summary["history"][0]["samples"] == 210 and summary["config"]["stage"] == "pnet"
    assert not list(out.parent.glob(".*.tmp"))


def test_training_lowers_the_loss(shards, tmp_path):
    cfg = TrainConfig(stage="pnet", data=str(shards), out=str(tmp_path / "p.pt"), epochs=6, batch_size=35, lr=3e-3, threads=1)
    history = train(cfg, log=lambda line: None)["history"]
    assert history[-1]["total"] < history[0]["total"]


def test_cosine_schedule_decays_the_rate_and_constant_keeps_it(shards, tmp_path):
    def rates(schedule):
        cfg = TrainConfig(stage="pnet", data=str(shards), out=str(tmp_path / f"{schedule}.pt"), epochs=4,
                          batch_size=35, lr=2e-3, schedule=schedule, threads=1)
        return [h["lr"] for h in train(cfg, log=lambda line: None)["history"]]

    cosine = rates("cosine")
    assert cosine[0] == pytest.approx(2e-3) and all(a > b for a, b in zip(cosine, cosine[1:]))
    assert cosine[2] == pytest.approx(1e-3)  # half-way through the batches: half the rate
    assert rates("constant") == [pytest.approx(2e-3)] * 4
    with pytest.raises(TrainError, match="schedule must be one of cosine, constant"):
        train(TrainConfig(stage="pnet", data=str(shards), out=str(tmp_path / "x.pt"), schedule="step"), log=lambda line: None)


def test_stage_and_crop_size_must_agree(shards, tmp_path):
    with pytest.raises(TrainError, match="12x12 crops but rnet trains on 24x24"):
        train(TrainConfig(stage="rnet", data=str(shards), out=str(tmp_path / "r.pt"), epochs=1), log=lambda line: None)
