"""``mtcnn-data mine``."""

from __future__ import annotations

import os
import sys

import click

from .options import filter_options, parse_thresholds, output_options, run_kwargs, run_options, source_kwargs, source_options


@click.command("mine")
@click.option("--stage", type=click.Choice(["rnet", "onet"]), required=True, help="The stage to make data for.")
@click.option("--pnet", required=True, help="P-Net checkpoint (state_dict, torch.export, TorchScript) or 'facenet'.")
@click.option("--rnet", help="R-Net checkpoint (needed for --stage onet) or 'facenet'.")
@output_options
@source_options
@filter_options
@click.option("--min-face", type=float, default=20.0, show_default=True, help="Smallest face the pyramid looks for.")
@click.option("--factor", type=float, default=0.709, show_default=True, help="Pyramid scale factor.")
@click.option("--thresholds", default="0.3,0.1,0.7", show_default=True, callback=parse_thresholds,
              help="P-Net,R-Net,O-Net face thresholds; recall-oriented defaults for mining.")
@click.option("--max-negatives-per-image", type=click.IntRange(0), default=50, show_default=True)
@click.option("--landmark-attempts", type=click.IntRange(0), default=10, show_default=True)
@click.option("--rotate-degrees", type=float, default=5.0, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--reuse", type=click.Path(file_okay=False), help="--stage onet: a finished `mine --stage rnet` --out "
              "whose kept P-Net candidates stand in for rerunning P-Net (same P-Net, settings and images, else refused).")
@run_options
def mine(**kw):
    """Mine R-Net (24x24) or O-Net (48x48) training data with trained earlier stage(s).

    P-Net (and R-Net for --stage onet) runs over the --wider images; every surviving
    candidate is cropped as the next stage sees it, labelled by IoU with all faces,
    and balanced with landmark samples from --lfw-net/--celeba.
    """
    from ..core.sampling import LandmarkSampling
    from ..jobs.mine import STAGE_SIZES, MineSettings
    from ..jobs.mine import mine as run
    from ..jobs.sources import build_sources
    from .cmd_gen import summary

    sources_opts = source_kwargs(kw)
    run_opts = run_kwargs(kw)
    if sources_opts.empty:
        click.echo("No --wider/--lfw-net/--celeba given: using the bundled sample dataset.", err=True)
    detector = {"min_face": kw["min_face"], "factor": kw["factor"], "thresholds": kw["thresholds"], "device": kw["device"]}
    threads = max(1, (os.cpu_count() or 1) // run_opts.workers)
    settings = MineSettings(
        stage=kw["stage"], pnet=kw["pnet"], rnet=kw["rnet"], detector=detector,
        max_negatives_per_image=kw["max_negatives_per_image"], threads=threads,
        landmarks=LandmarkSampling(crop_size=STAGE_SIZES[kw["stage"]], attempts=kw["landmark_attempts"],
                                   angle=kw["rotate_degrees"]),
    )
    compression = None if kw["compression"] == "none" else kw["compression"]
    manifest = run(kw["out"], build_sources(sources_opts), settings, seed=kw["seed"], ratio=kw["ratio"],
                   limit=kw["limit"], shard_mb=kw["shard_mb"], compression=compression, max_pixels=kw["max_pixels"],
                   run=run_opts, command=["mtcnn-data", *sys.argv[1:]], reuse_dir=kw["reuse"])
    click.echo(summary(manifest, kw["out"]))
