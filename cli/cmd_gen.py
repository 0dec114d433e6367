"""``mtcnn-data gen-pnet``."""

from __future__ import annotations

import sys

import click

from .options import filter_options, output_options, run_options, source_options, split_options


@click.command("gen-pnet")
@output_options
@source_options
@filter_options
@click.option("--negatives-per-image", type=click.IntRange(0), default=50, show_default=True,
              help="Random negative crops per WIDER image (IoU < 0.3 with every face).")
@click.option("--near-negatives-per-face", type=click.IntRange(0), default=5, show_default=True,
              help="Negative crops per face placed near it (same size, IoU < 0.3): hard negatives.")
@click.option("--jitter-per-face", type=click.IntRange(0), default=20, show_default=True, help="Jittered crops per face (positives and parts).")
@click.option("--min-face", type=click.FloatRange(0), default=20.0, show_default=True, help="Faces with max(w,h) below this give no positives or parts.")
@click.option("--landmark-attempts", type=click.IntRange(0), default=10, show_default=True,
              help="Jittered crops tried per landmark face (kept when IoU >= 0.65 and all five points inside).")
@click.option("--rotate-degrees", type=click.FloatRange(0, 180), default=5.0, show_default=True,
              help="Angle of the rotated copies of landmark samples, degrees (0: none).")
@run_options
def gen_pnet(**kw):
    """Cut balanced P-Net training data (12x12 crops) into HDF5 shards in --out.

    Positives, parts and negatives come from --wider; landmark samples from
    --lfw-net, --celeba or --retinaface. With no source option the bundled sample dataset is
    used. Check the result with `mtcnn-data verify OUT`.
    """
    from ..jobs.config import GenPnetConfig
    from ..jobs.gen_pnet import gen_pnet_config

    out, config, run = split_options(GenPnetConfig, kw)
    manifest = gen_pnet_config(out, config, run, command=["mtcnn-data", *sys.argv[1:]])
    click.echo(summary(manifest, out))


def summary(manifest: dict, out) -> str:
    t = manifest["totals"]
    b = manifest["balance"]
    lines = [
        f"wrote {t['samples']:,} samples in {t['shards']} shard(s) to {out}",
        "  class      candidates       kept",
    ]
    for name in ("negative", "positive", "part", "landmark"):
        lines.append(f"  {name:<9}{b['candidates'][name]:>12,}{b['kept'][name]:>11,}")
    lines.append(f"  limited by: {b['limiting_class']}; {manifest['timings_s']['total']:.1f} s")
    return "\n".join(lines)
