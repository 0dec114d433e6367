"""``mtcnn-data train``: a thin layer over :mod:`mtcnn_data.detect.training`."""

from __future__ import annotations

import click

from .options import FiniteFloat, device_option


@click.command("train")
@click.option("--stage", required=True, type=click.Choice(["pnet", "rnet", "onet"]), help="Network to train.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Shard folder (with manifest.json) of that stage.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Checkpoint to write (a state_dict; OUT.json gets the statistics).")
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True, help="Passes over the shards.")
@click.option("--batch-size", type=click.IntRange(1), default=384, show_default=True, help="Samples per batch, at the shards' class ratio.")
@click.option("--lr", type=FiniteFloat(above=0), default=1e-3, show_default=True, help="Adam learning rate (the start of the schedule).")
@click.option("--schedule", type=click.Choice(["cosine", "constant"]), default="cosine", show_default=True,
              help="Learning rate over the run: cosine decay from --lr to 0 across all batches, or constant.")
@device_option("Where training runs: cpu, cuda or cuda:N (refused when this torch sees no CUDA device).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the initial weights and the batch order.")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True, help="DataLoader worker processes (0: read in the training process).")
@click.option("--threads", type=click.IntRange(0), default=2, show_default=True, help="torch CPU threads (0: torch's default).")
def train(stage, data, out, epochs, batch_size, lr, schedule, device, seed, workers, threads):
    """Train a P-Net, R-Net or O-Net on shards with the paper's multi-task loss.

    Classification (cross-entropy, top 70% hardest kept) on negatives and
    positives, box regression on positives and parts, landmark regression on
    landmark samples; Adam with a cosine learning-rate decay. The checkpoint loads with the detector directly.
    """
    from ..detect.training import TrainConfig
    from ..detect.training import train as run

    run(TrainConfig(stage=stage, data=data, out=out, epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule,
                    device=device, seed=seed, workers=workers, threads=threads), log=click.echo)
