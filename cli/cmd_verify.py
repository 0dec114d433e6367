"""``mtcnn-data verify``."""

from __future__ import annotations

import sys

import click


@click.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def verify(folder):
    """Check the shards in FOLDER against FOLDER/manifest.json.

    Checksums, schema, value ranges, labels consistent with iou, class counts
    and the exact ratio. Exits 1 with a report of every fault.
    """
    from ..tools.verify import verify as run

    report = run(folder)
    click.echo(report.text())
    sys.exit(0 if report.ok else 1)
