"""``mtcnn-data inspect``: a thin layer over :mod:`mtcnn_data.tools.inspect`."""

from __future__ import annotations

import json

import click


@click.command("inspect")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--png", "png", type=click.Path(dir_okay=False), help="Write a contact sheet per class and histograms to this PNG.")
@click.option("--per-class", type=click.IntRange(1), default=32, show_default=True, help="Crops per class on the contact sheet.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the crops shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON instead of text.")
def inspect(folder, png, per_class, seed, as_json):
    """Summarise the shards in FOLDER: counts per class, source dataset and
    augmentation, box/landmark target statistics, IoU histograms.

    With --png, draw crops of every class upscaled, with the decoded box target
    and the landmarks (image-left points warm, image-right points cool), and
    histograms of IoU and box offsets.
    """
    from ..tools.inspect import contact_sheet, format_summary, summarise, write_png
    from ..io.reader import open_shards

    with open_shards(folder) as reader:
        summary = summarise(reader)
        click.echo(json.dumps(summary, indent=1) if as_json else format_summary(summary))
        if png:
            write_png(png, contact_sheet(reader, summary, per_class=per_class, seed=seed))
            click.echo(f"wrote {png}", err=as_json)
