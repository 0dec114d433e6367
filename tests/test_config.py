"""The config description of each data command drives the manifest and the resume check.

Generated from the dataclass fields: every data-shaping option is changed in turn and
``--resume`` must refuse naming it; a finished manifest records every setting. A new
field is covered without editing this file (a new *path* field needs an entry in
``path_alternatives``, and the test says so)."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields, replace

import click
import numpy as np
import pytest

from fakedata import landmarks_in_box, make_celeba, make_lfw_net, make_retinaface, make_wider
from mtcnn_data.cli.main import COMMANDS, LazyGroup
from mtcnn_data.engine.run import RunOptions
from mtcnn_data.errors import ImageError, OptionError, OutputError
from mtcnn_data.jobs.config import _CHOICES, RUN_OPTIONS, GenPnetConfig, MineConfig, option_name
from mtcnn_data.jobs.gen_pnet import gen_pnet_config
from mtcnn_data.jobs.mine import mine_config

QUIET = RunOptions(log=lambda msg: None)


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """WIDER (train + val, with RetinaFace labels), LFW_NET (train + test) and CelebA (partitioned,
    also aligned), and copies."""
    base = tmp_path_factory.mktemp("sources")
    rng = np.random.default_rng(3)
    faces = [(f"0--e/i{i}.jpg", 200, 160, [(20 + 3 * i, 20, 60, 70)]) for i in range(6)]
    for split in ("train", "val"):
        make_wider(base / "wider", split, faces)
        labels = [(rel, [(x, y, w, h, landmarks_in_box(x, y, x + w, y + h), 0.9) for x, y, w, h in boxes])
                  for rel, _, _, boxes in faces]
        make_retinaface(base / "wider" / split / "label.txt", labels, landmarks=split == "train")
    lfw = [(f"net_7876\\f{i}.jpg", 120, 140, (20, 100, 30, 120), landmarks_in_box(20, 30, 100, 120)) for i in range(4)]
    for split in ("train", "test"):
        make_lfw_net(base / "lfw", split, lfw)
    celeb = [(f"{i:06d}.jpg", 120, 140, (20, 30, 80, 90), landmarks_in_box(20, 30, 100, 120) + rng.uniform(-1, 1, (5, 2)),
              i % 3) for i in range(1, 7)]
    make_celeba(base / "celeba", celeb)
    make_celeba(base / "celeba", celeb, aligned=True)
    for name in ("wider", "lfw", "celeba"):
        shutil.copytree(base / name, base / f"{name}2")
    return base


def path_alternatives(roots) -> dict:
    return {"wider": roots / "wider2", "wider_annotations": roots / "wider/wider_face_split/wider_face_train_bbx_gt.txt",
            "wider_images": roots / "wider/WIDER_train/images", "lfw_net": roots / "lfw2", "celeba": roots / "celeba2",
            "retinaface": roots / "wider2"}


def alternative(config, f, paths: dict):
    """A valid value of field ``f`` other than ``config``'s."""
    value = getattr(config, f.name)
    if f.metadata.get("path"):
        if f.name not in paths:
            pytest.fail(f"new path option {option_name(f.name)}: add an alternative to path_alternatives")
        return str(paths[f.name])
    if f.name in _CHOICES:
        return next(c for c in _CHOICES[f.name] if c != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, tuple):
        return (*value[:-1], value[-1] / 2 if isinstance(value[-1], float) else value[-1] + 1)
    rule = f.metadata.get("number")
    if rule is None:
        pytest.fail(f"no rule to vary {option_name(f.name)} = {value!r}: give its field number metadata or a case here")
    if value is None:
        return rule["low"] if rule["low"] is not None else 1
    new = value + 1
    if rule["high"] is not None and new > rule["high"]:
        new = value / 2
    return type(value)(new)


def base_gen(roots) -> GenPnetConfig:
    return GenPnetConfig(wider=str(roots / "wider"), lfw_net=str(roots / "lfw"), celeba=str(roots / "celeba"),
                         celeba_split="all")


def started_but_unfinished(out, start):
    """Leave ``out`` as a killed run leaves it: ``.incomplete/run.json`` written, planning stopped."""
    with pytest.raises(ImageError):
        start(out)
    assert (out / ".incomplete" / "run.json").is_file()


def test_every_option_of_the_data_commands_is_a_setting_or_a_run_option():
    group = LazyGroup()
    for name, config_class in (("gen-pnet", GenPnetConfig), ("mine", MineConfig)):
        cmd = group.get_command(click.Context(group), name)
        params = {p.name for p in cmd.params} - {"help", "out"}
        settings = {f.name for f in fields(config_class)}
        assert params - set(RUN_OPTIONS) == settings, name
        assert name in COMMANDS


def test_resume_refuses_every_changed_gen_pnet_setting_and_names_it(roots, tmp_path):
    data = tmp_path / "data"
    for name in ("wider", "lfw", "celeba"):
        shutil.copytree(roots / name, data / name)
    (data / "wider/WIDER_train/images/0--e/i5.jpg").unlink()  # planning stops here: the run stays unfinished
    config = base_gen(data)
    out = tmp_path / "out"
    started_but_unfinished(out, lambda o: gen_pnet_config(o, config, QUIET))
    paths = {**path_alternatives(roots), "wider_annotations": data / "wider/wider_face_split/wider_face_train_bbx_gt.txt",
             "wider_images": data / "wider/WIDER_train/images"}
    tried = []
    for f in fields(GenPnetConfig):
        changed = replace(config, **{f.name: alternative(config, f, paths)})
        with pytest.raises((OutputError, OptionError)) as err:
            gen_pnet_config(out, changed, replace(QUIET, resume=True))
        message = str(err.value)
        assert option_name(f.name) in message, message
        if isinstance(err.value, OutputError):
            assert f"was {config.settings()[f.name]!r}, now {changed.settings()[f.name]!r}" in message, message
        tried.append(f.name)
    assert len(tried) == len(fields(GenPnetConfig))
    gen_pnet_config(out, config, replace(QUIET, resume=True, skip_missing=True))  # the same settings continue


def test_the_manifest_records_every_setting_filter_and_split(roots, tmp_path):
    config = replace(base_gen(roots), min_size=25.0, max_blur=1, lfw_split="test", celeba_split="val", max_images=5)
    manifest = gen_pnet_config(tmp_path / "out", config, QUIET)
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["settings"] == manifest["settings"] == json.loads(json.dumps(config.settings()))
    assert set(on_disk["settings"]) == {f.name for f in fields(GenPnetConfig)}
    filters = on_disk["config"]["filters"]
    assert filters["min_size"] == 25.0 and filters["max_blur"] == 1 and filters["drop_outside_image"] is True
    assert {i["dataset"]: i["split"] for i in on_disk["inputs"]} == {"wider": "train", "lfw_net": "test", "celeba": "val"}
    assert all(i["images_used"] <= 5 for i in on_disk["inputs"])
    for entry in on_disk["inputs"]:
        assert entry["boxes"]["total"] == entry["boxes"]["kept"] + sum(entry["boxes"]["dropped"].values())


def test_resume_refuses_every_changed_mine_setting_and_names_it(roots, tmp_path):
    from mtcnn_data.detect.checkpoints import facenet_path

    data = tmp_path / "wider"
    shutil.copytree(roots / "wider", data)
    (data / "WIDER_train/images/0--e/i0.jpg").unlink()
    config = MineConfig(stage="rnet", pnet="facenet", wider=str(data))
    out = tmp_path / "out"
    started_but_unfinished(out, lambda o: mine_config(o, config, QUIET, threads=1))
    own = {"stage": dict(stage="onet", rnet="facenet"), "pnet": dict(pnet=str(facenet_path("pnet"))),
           "rnet": dict(rnet="facenet"), "device": dict(device="cuda")}
    shared = {f.name for f in fields(GenPnetConfig)} & {f.name for f in fields(MineConfig)}
    for f in fields(MineConfig):
        if f.name in shared and f.name not in ("min_face", "landmark_attempts", "rotate_degrees"):
            continue  # the settings shared with gen-pnet are covered above
        change = own.get(f.name) or {f.name: alternative(config, f, {})}
        with pytest.raises((OutputError, OptionError)) as err:
            mine_config(out, replace(config, **change), replace(QUIET, resume=True), threads=1)
        assert option_name(f.name) in str(err.value), str(err.value)
