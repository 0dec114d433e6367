"""The work units handed to the workers."""

import pickle

import numpy as np

from fakedata import landmarks_in_box, make_lfw_net, make_wider
from mtcnn_data.io.datasets import resolve_dataset
from mtcnn_data.engine.units import chunk_units


def _units(tmp_path):
    make_wider(tmp_path / "w", "train", [
        ("0--A/a.jpg", 64, 48, [(4, 4, 20, 20, 0, 0, 0, 0, 0, 0), (30, 10, 2, 2, 0, 0, 0, 1, 0, 0)]),
        ("0--A/b.jpg", 64, 48, []),
        ("0--A/c.jpg", 64, 48, [(10, 12, 30, 30)]),
    ])
    make_lfw_net(tmp_path / "l", "train", [
        ("net_1\\a.jpg", 60, 60, (10, 50, 8, 52), landmarks_in_box(10, 8, 50, 52)),
        ("net_1\\b.jpg", 60, 60, (12, 48, 10, 50), landmarks_in_box(12, 10, 48, 50)),
    ])
    wider = resolve_dataset("wider", tmp_path / "w", "train")
    lfw = resolve_dataset("lfw_net", tmp_path / "l", "train")
    sources = [("faces", "faces", wider.image_root, wider.records()), ("marks", "landmarks", lfw.image_root, lfw.records())]
    return list(chunk_units(sources, 2))


def test_a_unit_reaches_the_worker_with_everything_planning_reads(tmp_path):
    units = _units(tmp_path)
    assert [len(u.records) for u in units] == [2, 1, 2]
    for unit in units:
        back = pickle.loads(pickle.dumps(unit))
        assert (back.index, back.dataset, back.kind, back.image_root) == (unit.index, unit.dataset, unit.kind, unit.image_root)
        for sent, got in zip(unit.records, back.records, strict=True):
            assert (got.path, got.source, got.line, got.dataset) == (sent.path, sent.source, sent.line, sent.dataset)
            for name in ("boxes", "keep", "drop_reason"):
                a, b = getattr(sent, name), getattr(got, name)
                assert a.dtype == b.dtype and np.array_equal(a, b), name
            assert (got.landmarks is None) == (sent.landmarks is None)
            if sent.landmarks is not None:
                assert got.landmarks.dtype == sent.landmarks.dtype and np.array_equal(got.landmarks, sent.landmarks)
    invalid = units[0].records[0]
    assert invalid.keep.tolist() == [True, False]  # the reader's filter ran before the unit left
    assert pickle.loads(pickle.dumps(units[0])).records[0].keep.tolist() == [True, False]


def test_a_unit_travels_without_the_per_box_attributes(tmp_path):
    unit = _units(tmp_path)[0]
    assert unit.records[0].attributes  # WIDER's blur, invalid, ... in the driver
    assert pickle.loads(pickle.dumps(unit)).records[0].attributes == {}
