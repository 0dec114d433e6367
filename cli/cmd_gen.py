"""``mtcnn-data gen-pnet``."""

from __future__ import annotations

import sys

import click

from .options import filter_options, output_options, run_kwargs, run_options, source_kwargs, source_options


@click.command("gen-pnet")
@output_options
@source_options
@filter_options
@click.option("--negatives-per-image", type=click.IntRange(0), default=50, show_default=True)
@click.option("--near-negatives-per-face", type=click.IntRange(0), default=5, show_default=True)
@click.option("--jitter-per-face", type=click.IntRange(0), default=20, show_default=True, help="Jittered crops per face (positives and parts).")
@click.option("--min-face", type=float, default=20.0, show_default=True, help="Faces with max(w,h) below this give no positives or parts.")
@click.option("--landmark-attempts", type=click.IntRange(0), default=10, show_default=True, help="Jittered crops per landmark face.")
@click.option("--rotate-degrees", type=float, default=5.0, show_default=True, help="Rotation of rotated landmark samples.")
@run_options
def gen_pnet(**kw):
    """Cut balanced P-Net training data (12x12 crops) into HDF5 shards in --out.

    Positives, parts and negatives come from --wider; landmark samples from
    --lfw-net, --celeba or --retinaface. With no source option the bundled sample dataset is
    used. Check the result with `mtcnn-data verify OUT`.
    """
    from ..core.sampling import LandmarkSampling, PNetSampling
    from ..jobs.gen_pnet import gen_pnet as run
    from ..jobs.sources import build_sources

    sources_opts = source_kwargs(kw)
    run_opts = run_kwargs(kw)
    if sources_opts.empty:
        click.echo("No --wider/--lfw-net/--celeba/--retinaface given: using the bundled sample dataset.", err=True)
    sources = build_sources(sources_opts)
    faces = PNetSampling(negatives_per_image=kw["negatives_per_image"], near_negatives_per_face=kw["near_negatives_per_face"],
                         jitter_per_face=kw["jitter_per_face"], min_face=kw["min_face"])
    landmarks = LandmarkSampling(attempts=kw["landmark_attempts"], angle=kw["rotate_degrees"])
    compression = None if kw["compression"] == "none" else kw["compression"]
    manifest = run(kw["out"], sources, seed=kw["seed"], ratio=kw["ratio"], limit=kw["limit"], faces=faces,
                   landmarks=landmarks, shard_mb=kw["shard_mb"], compression=compression,
                   max_pixels=kw["max_pixels"], run=run_opts, command=["mtcnn-data", *sys.argv[1:]])
    click.echo(summary(manifest, kw["out"]))


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
