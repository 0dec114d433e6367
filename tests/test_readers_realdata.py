"""Readers on the real files in ../shared/realdata (skipped when absent), against the official figures."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fakedata import make_celeba
from mtcnn_data.core.boxes import areas
from mtcnn_data.errors import AnnotationError
from mtcnn_data.io.datasets.celeba import read_partition
from mtcnn_data.io.datasets import resolve_dataset
from mtcnn_data.io.images import image_size
from mtcnn_data.io.datasets.lfw_net import read_lfw_net
from mtcnn_data.io.datasets.wider import read_mtcnn_flat, read_wider
from mtcnn_data.tools.annotations import collect_stats, expected_figures

pytestmark = pytest.mark.realdata

VARIANTS = "widerface/variants/"
TRUNCATED = VARIANTS + "wider_face_train_bbx_gt.truncated_2486img@SihanWang-bdd3114.txt"

#: first rows of the official list_landmarks_align_celeba.txt (public, as quoted in many CelebA write-ups).
ALIGNED_LANDMARKS = {
    "000001.jpg": [69, 109, 106, 113, 77, 142, 73, 152, 108, 154],
    "000002.jpg": [69, 110, 107, 112, 81, 135, 70, 151, 108, 153],
    "000003.jpg": [76, 112, 104, 106, 108, 128, 74, 156, 98, 158],
    "000004.jpg": [72, 113, 108, 108, 101, 138, 71, 155, 101, 151],
    "000005.jpg": [66, 114, 112, 112, 86, 119, 71, 147, 104, 150],
    "000006.jpg": [71, 111, 106, 110, 94, 131, 74, 154, 102, 153],
    "000007.jpg": [70, 112, 108, 111, 85, 135, 72, 152, 104, 152],
    "000008.jpg": [71, 110, 106, 111, 84, 137, 73, 155, 104, 153],
}


@pytest.mark.parametrize("split", ["train", "val"])
def test_wider_official_figures(realdata, split):
    ds = resolve_dataset("wider", realdata / "widerface", split=split, require_images=False)
    stats = collect_stats(ds.records())
    expected = {"train": dict(images=12880, faces=159420, empty_images=4, degenerate=27, invalid=2399),
                "val": dict(images=3226, faces=39704, empty_images=4, degenerate=7, invalid=585)}[split]
    assert expected_figures("wider", split) == expected
    assert {k: stats.figures()[k] for k in expected} == expected
    assert stats.dropped["degenerate"] == expected["degenerate"]
    assert stats.dropped["degenerate"] + stats.dropped["invalid"] == stats.faces - stats.kept


def test_wider_train_quirks_and_sizes(realdata):
    recs = {r.path: r for r in read_wider(realdata / "widerface/wider_face_split/wider_face_train_bbx_gt.txt")}
    for empty in ("0--Parade/0_Parade_Parade_0_452.jpg", "46--Jockey/46_Jockey_Jockey_46_576.jpg"):
        assert recs[empty].num_faces == 0
    assert recs["2--Demonstration/2_Demonstration_Demonstrators_2_371.jpg"].num_faces == 1968
    first = recs["0--Parade/0_Parade_marchingband_1_849.jpg"]
    assert first.boxes.tolist() == [[449, 330, 571, 479]] and first.line == 1
    stats = collect_stats(recs.values())
    at_least = np.cumsum(stats.sizes_all[::-1])[::-1]  # faces with min(w,h) >= each bin edge
    assert at_least[1:4].tolist() == [100_810, 63_103, 27_307]  # >= 12, 20, 40 px (realdata README)


def test_wider_val_images_exist_for_the_five_events(realdata):
    ds = resolve_dataset("wider", realdata / "widerface", split="val")
    present = [r for r in ds.records() if ds.image_path(r).is_file()]
    assert len(present) == 394
    assert all(image_size(ds.image_path(r))[0] == 1024 for r in present[:20])


@pytest.mark.parametrize(
    "name, images, faces, empty",
    [
        ("wider_face_val_bbx_gt.subset_1062img_noEOL@SihanWang-bdd3114.txt", 1062, 21891, 1),
        ("wider_face_val_bbx_gt.subset_1062img_blanklines@SihanWang-bdd3114.txt", 1062, 21891, 1),
        ("wider_face_train_bbx_gt.7col_modified@bleakie.txt", 12880, 159420, 4),
    ],
)
def test_wider_variants_parse(realdata, name, images, faces, empty):
    stats = collect_stats(read_wider(realdata / VARIANTS / name))
    assert (stats.images, stats.faces, stats.empty_images) == (images, faces, empty)
    if "7col" in name:
        assert (stats.degenerate, stats.invalid) == (27, 2399)


def test_wider_variant_subset_equals_official_prefix(realdata):
    official = read_wider(realdata / "widerface/wider_face_split/wider_face_val_bbx_gt.txt")
    subset = read_wider(realdata / VARIANTS / "wider_face_val_bbx_gt.subset_1062img_noEOL@SihanWang-bdd3114.txt")
    for a, b in zip(subset, official):
        assert a.path == b.path and np.array_equal(a.boxes, b.boxes)


def test_wider_truncated_variant_fails_with_file_and_line(realdata):
    path = realdata / TRUNCATED
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:47996: expected box line 90 of the 214 promised "
                                                        "for '17--Ceremony/17_Ceremony_Ceremony_17_717.jpg'")):
        list(read_wider(path))


def test_wider_flat_variant_is_exclusive_and_close_to_official(realdata):
    flat = list(read_mtcnn_flat(realdata / VARIANTS / "wider_origin_anno.mtcnn_format@kuaikuaikim-dface.txt"))
    official = {r.path: r for r in read_wider(realdata / "widerface/wider_face_split/wider_face_train_bbx_gt.txt")}
    assert len(flat) == 12880 and sum(r.num_faces for r in flat) == 159420
    assert sum(r.num_faces == 0 for r in flat) == 4
    a = np.concatenate([r.boxes for r in flat])
    b = np.concatenate([official[r.path].boxes for r in flat])
    width_diff = (a[:, 2] - a[:, 0]) - (b[:, 2] - b[:, 0])
    assert np.median(width_diff) == 0 and (width_diff == 0).mean() > 0.7  # exclusive, not inclusive (-1)
    assert np.median(np.abs(a - b), axis=0).tolist() == [0, 0, 0, 0] and np.abs(a - b).mean() < 1.5


def test_lfw_net_train_list(realdata):
    recs = list(read_lfw_net(realdata / "lfw_net/trainImageList.txt"))
    assert len(recs) == 10000 and all(r.num_faces == 1 for r in recs)
    assert all("\\" not in r.path for r in recs)
    lm = np.concatenate([r.landmarks for r in recs])
    boxes = np.concatenate([r.boxes for r in recs])
    inside = ((lm[..., 0] >= boxes[:, None, 0]) & (lm[..., 0] <= boxes[:, None, 2])
              & (lm[..., 1] >= boxes[:, None, 1]) & (lm[..., 1] <= boxes[:, None, 3]))
    assert inside.all()
    assert all(r.keep.all() for r in recs)
    assert recs[0].path == "lfw_5590/Aaron_Eckhart_0001.jpg" and recs[0].boxes.tolist() == [[84, 92, 161, 169]]


def test_lfw_net_forward_slash_variant_and_images(realdata):
    back = list(read_lfw_net(realdata / "lfw_net/trainImageList.txt"))
    fwd = list(read_lfw_net(realdata / "lfw_net/variants/trainImageList.fwdslash@AITTSMD-d8a947f.txt"))
    assert [r.path for r in fwd] == [r.path for r in back]
    ds = resolve_dataset("lfw_net", realdata / "lfw_net", split="test")
    net = [r for r in ds.records() if r.path.startswith("net_7876/")]
    assert len(list(ds.records())) == 3466 and net and all(ds.image_path(r).is_file() for r in net[:50])


def test_celeba_partition_counts(realdata):
    partition = read_partition(realdata / "celeba/Eval/list_eval_partition.txt")
    counts = np.bincount(list(partition.values()))
    assert len(partition) == 202_599 and counts.tolist() == [162_770, 19_867, 19_962]
    assert expected_figures("celeba", "all") == {"images": 202_599, "partition.train": 162_770,
                                                 "partition.val": 19_867, "partition.test": 19_962}


def test_celeba_aligned_boxes_on_real_images(realdata, tmp_path):
    folder = realdata / "celeba/img_align_celeba"
    ids = sorted(p.name for p in folder.glob("*.jpg"))
    assert len(ids) == 32
    template = np.mean([ALIGNED_LANDMARKS[i] for i in ALIGNED_LANDMARKS], axis=0)  # the alignment's target
    entries = [(i, 178, 218, (0, 0, 0, 0), np.reshape(ALIGNED_LANDMARKS.get(i, template), (5, 2)), None)
               for i in ids]
    files = make_celeba(tmp_path, entries, write_images=False, aligned=True)
    ds = resolve_dataset("celeba_aligned", None, landmarks=files["landmarks"], images=folder,
                         partition=realdata / "celeba/Eval/list_eval_partition.txt", split="train")
    recs = list(ds.records())
    assert len(recs) == 32  # all 32 are in the train partition
    for rec in recs:
        assert image_size(ds.image_path(rec)) == (178, 218)
        x1, y1, x2, y2 = rec.boxes[0]
        assert rec.keep.all() and x2 - x1 == pytest.approx(y2 - y1)
        clipped = np.array([[max(x1, 0), max(y1, 0), min(x2, 178), min(y2, 218)]])
        assert areas(clipped)[0] >= 0.9 * areas(rec.boxes)[0]
        assert 0.45 < (x2 - x1) / 178 < 0.7
