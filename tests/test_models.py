"""Networks, their contract, and checkpoint loading (state_dict, facenet, export, TorchScript)."""

from __future__ import annotations

import hashlib

import pytest

import torch
F = torch.nn.functional

from mtcnn_data.detect import checkpoints as ck
from mtcnn_data.detect.checkpoints import CheckpointError, from_facenet, load_stage, to_facenet
from mtcnn_data.detect.models import INPUT_SIZE, STAGES, build_model
from mtcnn_data.errors import MtcnnDataError


def _seeded(stage, landmarks=True):
    torch.manual_seed(0)
    model = build_model(stage, landmarks=landmarks).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def _input(stage, n=3, h=None, w=None):
    torch.manual_seed(1)
    side = INPUT_SIZE[stage]
    return torch.randn(n, 3, h or side, w or side)


def _close(a, b):
    return all(torch.allclose(x, y, atol=1e-5) for x, y in zip(a, b)) and len(a) == len(b)


# ----------------------------------------------------------------------------- shapes

def test_pnet_shapes_follow_the_cell_grid():
    box, lm, prob = build_model("pnet").eval()(torch.zeros(2, 3, 12 + 2 * 7, 12 + 2 * 4))
    assert box.shape == (2, 4, 8, 5) and lm.shape == (2, 10, 8, 5) and prob.shape == (2, 8, 5)


@pytest.mark.parametrize("stage", ["rnet", "onet"])
def test_crop_network_shapes(stage):
    box, lm, prob = build_model(stage).eval()(_input(stage, n=5))
    assert box.shape == (5, 4) and lm.shape == (5, 10) and prob.shape == (5,)
    assert torch.all((prob >= 0) & (prob <= 1))


@pytest.mark.parametrize("stage", STAGES)
def test_without_landmark_head_forward_is_a_pair_and_logits_are_two_class(stage):
    model = build_model(stage, landmarks=False).eval()
    out = model(_input(stage, n=2, h=24 if stage == "pnet" else None, w=24 if stage == "pnet" else None))
    assert len(out) == 2 and out[0].shape[1] == 4
    box, lm, logits = model.logits(_input(stage, n=2, h=24 if stage == "pnet" else None, w=24 if stage == "pnet" else None))
    assert lm is None and logits.shape[1] == 2


# ----------------------------------------------------------------------------- facenet map

def _facenet_forward(state, stage, x, permute=True):
    """facenet-pytorch's forward written out functionally (reference for the key map)."""
    def block(x, name, prelu, pool=None):
        x = F.prelu(F.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"]), state[f"{prelu}.weight"])
        return F.max_pool2d(x, pool[0], pool[1], ceil_mode=True) if pool else x

    if stage == "pnet":
        x = block(x, "conv1", "prelu1", (2, 2))
        x = block(block(x, "conv2", "prelu2"), "conv3", "prelu3")
        prob = torch.softmax(F.conv2d(x, state["conv4_1.weight"], state["conv4_1.bias"]), 1)[:, 1]
        return F.conv2d(x, state["conv4_2.weight"], state["conv4_2.bias"]), prob
    convs = [("conv1", "prelu1", (3, 2)), ("conv2", "prelu2", (3, 2))]
    convs += [("conv3", "prelu3", None)] if stage == "rnet" else [("conv3", "prelu3", (2, 2)), ("conv4", "prelu4", None)]
    for conv in convs:
        x = block(x, *conv)
    if permute:
        x = x.permute(0, 3, 2, 1)
    dense, prelu, heads = ("dense4", "prelu4", "dense5") if stage == "rnet" else ("dense5", "prelu5", "dense6")
    x = F.prelu(F.linear(x.reshape(len(x), -1), state[f"{dense}.weight"], state[f"{dense}.bias"]), state[f"{prelu}.weight"])
    out = [F.linear(x, state[f"{heads}_{k}.weight"], state[f"{heads}_{k}.bias"]) for k in (1, 2, 3) if f"{heads}_{k}.weight" in state]
    prob = torch.softmax(out[0], 1)[:, 1]
    if stage == "onet":
        lm = out[2]
        return out[1], torch.stack([lm[:, :5], lm[:, 5:]], 2).reshape(len(x), 10), prob
    return out[1], prob


@pytest.mark.parametrize("stage", STAGES)
def test_facenet_key_map_round_trip(stage):
    ours = _seeded(stage, landmarks=stage == "onet").state_dict()
    theirs = to_facenet(ours, stage)
    assert all("." in k and not k.startswith(("backbone", "face_head")) for k in theirs)
    back = from_facenet(theirs, stage)
    assert set(back) == set(ours) and all(torch.equal(back[k], ours[k]) for k in ours)


@pytest.mark.parametrize("stage", STAGES)
def test_facenet_weights_give_facenets_outputs(stage):
    model = _seeded(stage, landmarks=stage == "onet")
    theirs = to_facenet(model.state_dict(), stage)
    x = _input(stage, h=30 if stage == "pnet" else None, w=40 if stage == "pnet" else None)
    loaded = ck.model_from_state_dict(from_facenet(theirs, stage), stage)
    assert _close(loaded(x), _facenet_forward(theirs, stage, x))


@pytest.mark.parametrize("stage", ["rnet", "onet"])
def test_dense_layer_needs_the_permute(stage):
    theirs = to_facenet(_seeded(stage, landmarks=stage == "onet").state_dict(), stage)
    x = _input(stage)
    unpermuted = ck.model_from_state_dict(from_facenet(theirs, stage, permute=False), stage)
    assert not torch.allclose(unpermuted(x)[0], _facenet_forward(theirs, stage, x)[0], atol=1e-3)


def test_facenet_state_dict_file_is_recognised(tmp_path):
    path = tmp_path / "rnet.pt"
    torch.save(to_facenet(_seeded("rnet", landmarks=False).state_dict(), "rnet"), path)
    loaded = load_stage(path, "rnet")
    assert loaded.format == "facenet" and loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_facenet_spec_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(ck.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match="pip install --no-deps facenet-pytorch==2.6.0"):
        load_stage("facenet", "pnet")


# ----------------------------------------------------------------------------- state dicts

@pytest.mark.parametrize("wrap", [lambda s: s, lambda s: {"state_dict": s}, lambda s: {"model": s, "epoch": 3},
                                  lambda s: {"module." + k: v for k, v in s.items()}])
def test_own_state_dict_in_its_wrappers(tmp_path, wrap):
    model = _seeded("onet")
    path = tmp_path / "onet.pth"
    torch.save(wrap(model.state_dict()), path)
    loaded = load_stage(str(path), "onet")
    assert loaded.format == "state_dict" and loaded.source == str(path) and len(loaded.sha256) == 64
    x = _input("onet")
    assert _close(loaded.model(x), model(x))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(_seeded("rnet"), path)
    with pytest.raises(CheckpointError, match="refused") as info:
        load_stage(path, "rnet")
    assert isinstance(info.value, MtcnnDataError) and "state_dict" in str(info.value)


def test_checkpoint_of_another_stage_names_the_keys_and_shapes(tmp_path):
    path = tmp_path / "rnet.pth"
    torch.save(_seeded("rnet").state_dict(), path)
    with pytest.raises(CheckpointError) as info:
        load_stage(path, "onet")
    msg = str(info.value)
    assert "missing keys: backbone.act4.weight" in msg and "mismatched shapes" in msg
    assert "backbone.conv1.weight: checkpoint (28, 3, 3, 3), model (32, 3, 3, 3)" in msg


def test_unexpected_keys_are_named(tmp_path):
    state = dict(_seeded("pnet").state_dict(), extra_layer=torch.zeros(3))
    path = tmp_path / "p.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="unexpected keys: extra_layer"):
        load_stage(path, "pnet")


def test_missing_and_non_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_stage(tmp_path / "nope.pt", "pnet")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_stage(junk, "pnet")
    lst = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], lst)
    with pytest.raises(CheckpointError, match="expected a dict of tensors"):
        load_stage(lst, "pnet")


# ----------------------------------------------------------------------------- whole models

def _export(model, stage):
    from torch.export import Dim, export

    n = Dim("n", min=1, max=4096)
    if stage == "pnet":
        h, w = Dim("h", min=7, max=2048), Dim("w", min=7, max=2048)
        return export(model, (torch.zeros(2, 3, 40, 30),), dynamic_shapes={"x": {0: n, 2: 2 * h, 3: 2 * w}})
    return export(model, (_input(stage, n=2),), dynamic_shapes={"x": {0: n}})


@pytest.mark.parametrize("stage", STAGES)
def test_torch_export_round_trip(tmp_path, stage):
    model = _seeded(stage)
    path = tmp_path / f"{stage}.pt2"
    torch.export.save(_export(model, stage), str(path))
    loaded = load_stage(path, stage)
    assert loaded.format == "export"
    x = _input(stage, n=1, h=36 if stage == "pnet" else None, w=50 if stage == "pnet" else None)
    assert _close(loaded.model(x), model(x))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("stage", ["pnet", "onet"])
def test_torchscript_round_trip(tmp_path, stage):
    model = _seeded(stage)
    path = tmp_path / f"{stage}.ts"
    torch.jit.save(torch.jit.trace(model, _input(stage, n=2, h=24 if stage == "pnet" else None,
                                                 w=24 if stage == "pnet" else None)), str(path))
    loaded = load_stage(path, stage)
    assert loaded.format == "torchscript"
    x = _input(stage, n=4, h=30 if stage == "pnet" else None, w=44 if stage == "pnet" else None)
    assert _close(loaded.model(x), model(x))


def test_whole_model_of_the_wrong_stage_breaks_the_contract(tmp_path):
    path = tmp_path / "onet.pt2"
    torch.export.save(_export(_seeded("onet"), "onet"), str(path))
    with pytest.raises(CheckpointError):
        load_stage(path, "rnet")


def test_in_memory_module_is_accepted():
    loaded = load_stage(_seeded("rnet"), "rnet")
    assert loaded.format == "module" and loaded.sha256 is None
