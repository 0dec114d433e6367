"""``mtcnn-data annotations``: parse a dataset's annotations, print counts, check them.

Thin layer: options -> :func:`mtcnn_data.io.datasets.resolve_dataset` ->
:mod:`mtcnn_data.tools.annotations`. Exit status 1 when a figure or an
md5 differs from the official release (``--no-fail`` reports but exits 0).
"""

from __future__ import annotations

import sys

import click

from ..core.filtering import FilterConfig
from ..io.datasets import resolve_dataset
from ..tools import annotations as report

_PATH = click.Path(path_type=str)


@click.command("annotations")
@click.option("--wider", "wider_root", type=_PATH, help="WIDER FACE root (wider_face_split/, WIDER_train/ ...).")
@click.option("--celeba", "celeba_root", type=_PATH, help="CelebA root (Anno/, Eval/, img_celeba/ ...).")
@click.option("--lfw-net", "lfw_root", type=_PATH, help="LFW_NET root (trainImageList.txt, testImageList.txt).")
@click.option("--aligned", is_flag=True, help="CelebA: aligned landmarks, box derived from them.")
@click.option("--flat", is_flag=True, help="WIDER: --annotations is a flat 'path x1 y1 x2 y2 ...' list.")
@click.option("--split", default=None, help="wider: train|val; lfw-net: train|test; celeba: all|train|val|test "
              "[default: train for wider and lfw-net, all for celeba].")
@click.option("--annotations", type=_PATH, help="Explicit list file (WIDER, LFW_NET) instead of the layout's.")
@click.option("--bbox", type=_PATH, help="Explicit CelebA list_bbox_celeba.txt.")
@click.option("--landmarks", type=_PATH, help="Explicit CelebA landmark list.")
@click.option("--partition", type=_PATH, help="Explicit CelebA list_eval_partition.txt.")
@click.option("--min-size", type=click.FloatRange(0), default=0.0, show_default=True, help="Drop faces with min(w,h) below this.")
@click.option("--keep-invalid", is_flag=True, help="Keep WIDER boxes flagged invalid=1.")
@click.option("--max-blur", type=click.IntRange(0, 2), default=None, help="Drop WIDER boxes with blur above this (0-2).")
@click.option("--max-occlusion", type=click.IntRange(0, 2), default=None, help="Drop WIDER boxes with occlusion above this (0-2).")
@click.option("--drop-atypical-pose", is_flag=True, help="Drop WIDER boxes with pose=1.")
@click.option("--no-fail", is_flag=True, help="Report mismatches with the official figures but exit 0.")
def annotations(wider_root, celeba_root, lfw_root, aligned, flat, split, annotations, bbox, landmarks, partition,
                min_size, keep_invalid, max_blur, max_occlusion, drop_atypical_pose, no_fail):
    """Parse a dataset's annotations (no image is decoded), print images, faces, empty
    images, dropped boxes by reason and a face-size histogram, and compare them with the
    official release (and, for CelebA, the md5 of the annotation files)."""
    kind, root = _pick_dataset(wider_root, celeba_root, lfw_root, aligned, flat, annotations, bbox, landmarks)
    filters = FilterConfig(drop_invalid=not keep_invalid, min_size=min_size, max_blur=max_blur,
                           max_occlusion=max_occlusion, drop_atypical_pose=drop_atypical_pose)
    dataset = resolve_dataset(kind, root, split=split, filters=filters, require_images=False,
                              annotations=annotations, bbox=bbox, landmarks=landmarks, partition=partition)
    text, ok = report.run_report(dataset)
    click.echo(text)
    if not ok and not no_fail:
        sys.exit(1)


def _pick_dataset(wider_root, celeba_root, lfw_root, aligned, flat, annotations, bbox, landmarks):
    given = [(k, r) for k, r in (("wider", wider_root), ("celeba", celeba_root), ("lfw_net", lfw_root)) if r]
    if len(given) > 1:
        raise click.UsageError("give one of --wider, --celeba, --lfw-net")
    if not given:
        given = [_kind_from_explicit(annotations, bbox, landmarks, aligned)]
    kind, root = given[0]
    if kind == "celeba" and aligned:
        kind = "celeba_aligned"
    if kind == "wider" and flat:
        kind = "wider_flat"
    return kind, root


def _kind_from_explicit(annotations, bbox, landmarks, aligned):
    if bbox or (landmarks and aligned):
        return "celeba", None
    if annotations:
        raise click.UsageError("with --annotations, also say which format: --wider ROOT or --lfw-net ROOT")
    raise click.UsageError("give one of --wider ROOT, --celeba ROOT, --lfw-net ROOT")
