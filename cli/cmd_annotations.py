"""``mtcnn-data annotations``: parse a dataset's annotations, print counts, check them.

Thin layer: options -> :func:`mtcnn_data.io.datasets.resolve_dataset` ->
:mod:`mtcnn_data.tools.annotations`. Exit status 1 when a figure or an
md5 differs from the official release (``--no-fail`` reports but exits 0).
"""

from __future__ import annotations

import sys

import click

from ..core.filtering import FilterConfig
from ..io.datasets import REGISTRY, kind_for, resolve_dataset, variants_of
from ..tools import annotations as report

_PATH = click.Path(path_type=str)


def _dataset_options(fn):
    """``--ROOT`` per base kind and ``--VARIANT`` per variant of the dataset registry
    (``--wider``, ``--flat``, ``--lfw-net``, ``--celeba``, ``--aligned``, ...)."""
    for entry in reversed(tuple(REGISTRY.values())):
        if entry.variant:
            fn = click.option(f"--{entry.variant}", f"variant_{entry.variant}", is_flag=True,
                              help=f"{entry.title}: {entry.help}")(fn)
        else:
            fn = click.option(f"--{entry.option.replace('_', '-')}", f"root_{entry.option}", type=_PATH,
                              help=entry.help)(fn)
    return fn


def _split_help() -> str:
    bases = [e for e in REGISTRY.values() if e.variant is None]
    return "; ".join(f"{e.option.replace('_', '-')}: {'|'.join(e.splits)} (default {e.splits[0]})" for e in bases)


@click.command("annotations")
@_dataset_options
@click.option("--split", default=None, help=_split_help() + ".")
@click.option("--annotations", type=_PATH, help="Explicit list file (WIDER, LFW_NET, RetinaFace) instead of the layout's.")
@click.option("--bbox", type=_PATH, help="Explicit CelebA list_bbox_celeba.txt.")
@click.option("--landmarks", type=_PATH, help="Explicit CelebA landmark list.")
@click.option("--partition", type=_PATH, help="Explicit CelebA list_eval_partition.txt.")
@click.option("--min-size", type=click.FloatRange(0), default=0.0, show_default=True, help="Drop faces with min(w,h) below this.")
@click.option("--keep-invalid", is_flag=True, help="Keep WIDER boxes flagged invalid=1.")
@click.option("--max-blur", type=click.IntRange(0, 2), default=None, help="Drop WIDER boxes with blur above this (0-2).")
@click.option("--max-occlusion", type=click.IntRange(0, 2), default=None, help="Drop WIDER boxes with occlusion above this (0-2).")
@click.option("--drop-atypical-pose", is_flag=True, help="Drop WIDER boxes with pose=1.")
@click.option("--no-fail", is_flag=True, help="Report mismatches with the official figures but exit 0.")
def annotations(split, annotations, bbox, landmarks, partition,
                min_size, keep_invalid, max_blur, max_occlusion, drop_atypical_pose, no_fail, **datasets):
    """Parse a dataset's annotations (no image is decoded), print images, faces, empty
    images, dropped boxes by reason and a face-size histogram, and compare them with the
    official release (and, for CelebA, the md5 of the annotation files)."""
    kind, root = _pick_dataset(datasets, annotations, bbox, landmarks)
    filters = FilterConfig(drop_invalid=not keep_invalid, min_size=min_size, max_blur=max_blur,
                           max_occlusion=max_occlusion, drop_atypical_pose=drop_atypical_pose)
    dataset = resolve_dataset(kind, root, split=split, filters=filters, require_images=False,
                              annotations=annotations, bbox=bbox, landmarks=landmarks, partition=partition)
    text, ok = report.run_report(dataset)
    click.echo(text)
    if not ok and not no_fail:
        sys.exit(1)


def _pick_dataset(datasets: dict, annotations, bbox, landmarks):
    """``(kind, root)`` from the root options and variant flags."""
    roots = {e.option: datasets[f"root_{e.option}"] for e in REGISTRY.values() if e.variant is None}
    given = [(option, root) for option, root in roots.items() if root]
    names = ", ".join(f"--{o.replace('_', '-')}" for o in roots)
    if len(given) > 1:
        raise click.UsageError(f"give one of {names}")
    if not given:
        given = [_celeba_from_explicit(bbox, landmarks, datasets.get("variant_aligned"), annotations, names)]
    option, root = given[0]
    for variant in variants_of(option):
        if datasets[f"variant_{variant.variant}"]:
            return variant.kind, root
    return kind_for(option).kind, root


def _celeba_from_explicit(bbox, landmarks, aligned, annotations, names):
    if bbox or (landmarks and aligned):
        return "celeba", None
    if annotations:
        raise click.UsageError(f"with --annotations, also say which format: one of {names} ROOT")
    raise click.UsageError(f"give one of {names} ROOT")
