"""The contract every registered dataset kind keeps (torchvision style: one test run per
registry entry and split, on a fake tree built where the entry says its files are)."""

from __future__ import annotations

import numpy as np
import pytest

from fakedata import FAKE_WRITERS
from mtcnn_data.errors import DatasetError, LayoutError
from mtcnn_data.io.datasets import REGISTRY, resolve_dataset
from mtcnn_data.io.records import ImageRecord

CASES = [(kind, split) for kind, entry in REGISTRY.items() for split in entry.splits]


def build_tree(root, entry, split):
    """Write the entry's files where its description puts them; returns (files, images, expected)."""
    files = {role: root / relative.format(split=split) for role, relative in entry.files.items()}
    images = root / entry.images[0].format(split=split)
    return files, images, FAKE_WRITERS[entry.kind](files, images, split)


def test_every_registered_kind_has_a_fake_tree():
    assert sorted(FAKE_WRITERS) == sorted(REGISTRY), "add a writer to tests/fakedata.FAKE_WRITERS for a new kind"


@pytest.mark.parametrize("kind, split", CASES)
def test_registered_kind_reads_its_fake_tree(tmp_path, kind, split):
    entry = REGISTRY[kind]
    files, images, expected = build_tree(tmp_path, entry, split)
    ds = resolve_dataset(kind, tmp_path, split)
    assert ds.kind == kind and ds.name == entry.dataset and ds.split == split
    assert ds.annotation_files == files and ds.image_root == images
    records = list(ds.records(probe_image_sizes=True))
    assert [r.path for r in records] == [e[0] for e in expected]
    for record, (_, boxes, landmarks) in zip(records, expected):
        check_record(record, entry, boxes, landmarks)
        assert ds.image_path(record).is_file()


def check_record(record: ImageRecord, entry, boxes, landmarks):
    n = record.num_faces
    assert record.boxes.dtype == np.float32 and record.boxes.shape == (n, 4)
    assert record.dataset == entry.dataset and record.line >= 1 and record.source
    assert record.keep.shape == record.drop_reason.shape == (n,)
    if boxes is not None:
        np.testing.assert_array_equal(record.boxes, boxes)
    if landmarks is None:
        assert record.landmarks is None or entry.role == "faces"
    else:
        np.testing.assert_allclose(record.landmarks, landmarks, atol=1e-4)
    assert record.keep.all(), record.drop_reason


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_registered_kind_draws_its_tree_when_files_are_missing(tmp_path, kind):
    with pytest.raises(LayoutError) as info:
        resolve_dataset(kind, tmp_path)
    assert "not found" in str(info.value) and REGISTRY[kind].tree in str(info.value)


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_registered_kind_refuses_a_split_it_does_not_have(tmp_path, kind):
    with pytest.raises(DatasetError, match="has no split 'nosuch'; expected one of " + ", ".join(REGISTRY[kind].splits)):
        resolve_dataset(kind, tmp_path, "nosuch")


def test_unknown_kind_names_the_registered_ones():
    with pytest.raises(DatasetError, match="expected one of " + ", ".join(REGISTRY)):
        resolve_dataset("nosuch")
