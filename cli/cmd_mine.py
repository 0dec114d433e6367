"""``mtcnn-data mine``."""

from __future__ import annotations

import sys

import click

from .options import device_option, filter_options, output_options, parse_thresholds, run_options, source_options, split_options


@click.command("mine")
@click.option("--stage", type=click.Choice(["rnet", "onet"]), required=True, help="The stage to make data for.")
@click.option("--pnet", required=True, help="P-Net checkpoint (state_dict, torch.export, TorchScript) or 'facenet'.")
@click.option("--rnet", help="R-Net checkpoint (needed for --stage onet) or 'facenet'.")
@output_options
@source_options
@filter_options
@click.option("--min-face", type=click.FloatRange(12), default=20.0, show_default=True, help="Smallest face the pyramid looks for, pixels.")
@click.option("--factor", type=click.FloatRange(0, 0.99, min_open=True), default=0.709, show_default=True, help="Pyramid scale factor.")
@click.option("--thresholds", default="0.3,0.1,0.7", show_default=True, callback=parse_thresholds,
              help="P-Net,R-Net,O-Net face thresholds; recall-oriented defaults for mining.")
@click.option("--max-negatives-per-image", type=click.IntRange(0), default=50, show_default=True,
              help="At most this many negative candidates kept per image (a random choice among the detector's).")
@click.option("--landmark-attempts", type=click.IntRange(0), default=10, show_default=True,
              help="Jittered crops tried per landmark face (kept when IoU >= 0.65 and all five points inside).")
@click.option("--rotate-degrees", type=click.FloatRange(0, 180), default=5.0, show_default=True,
              help="Angle of the rotated copies of landmark samples, degrees (0: none).")
@device_option()
@click.option("--reuse", type=click.Path(file_okay=False), help="--stage onet: a finished `mine --stage rnet` --out "
              "whose kept P-Net candidates stand in for rerunning P-Net (same P-Net, settings and images, else refused; "
              "the output is the same as without it).")
@run_options
def mine(**kw):
    """Mine R-Net (24x24) or O-Net (48x48) training data with trained earlier stage(s).

    P-Net (and R-Net for --stage onet) runs over the --wider images; every surviving
    candidate is cropped as the next stage sees it, labelled by IoU with all faces,
    and balanced with landmark samples from --lfw-net/--celeba/--retinaface.
    """
    from ..jobs.config import MineConfig
    from ..jobs.mine import mine_config
    from .cmd_gen import summary

    out, config, run = split_options(MineConfig, kw)
    manifest = mine_config(out, config, run, command=["mtcnn-data", *sys.argv[1:]])
    click.echo(summary(manifest, out))
