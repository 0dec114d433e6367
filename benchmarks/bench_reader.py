"""Can the shard reader keep a CPU P-Net training step fed?

Measures, on a shard folder (P-Net, 12 x 12):

* reader: ``ShardReader.iter_batches`` in one process (numpy batches);
* loader: ``DataLoader(ShardDataset, sampler=RatioBatchSampler, batch_size=None,
  num_workers=2)`` at steady state (persistent workers, the first batch not timed);
* naive: ``DataLoader(ShardDataset, batch_size=B, shuffle=True, num_workers=2)`` for
  comparison (uniform random rows: one gzip chunk per sample);
* step: forward + backward + Adam step of P-Net on a batch of B 12 x 12 crops
  (multi-task loss), with 1 and 2 torch threads;

and prints loader samples/s divided by step samples/s: above 1 the reader keeps up.

    python benchmarks/bench_reader.py /tmp/real-pnet [--batch-size 384] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from mtcnn_data import RatioBatchSampler, ShardDataset, open_shards
from mtcnn_data.detect.models import build_model
from mtcnn_data.detect.training import multitask_loss


def rate_reader(folder, batch_size: int) -> float:
    with open_shards(folder) as reader:
        start, n = time.perf_counter(), 0
        for batch in reader.iter_batches(batch_size, shuffle=True):
            n += len(batch["labels"])
        return n / (time.perf_counter() - start)


def rate_loader(loader, epochs: int, max_batches: int | None = None) -> float:
    """Samples/s over ``epochs`` epochs, from the end of the first batch."""
    n, start = 0, None
    for _ in range(epochs):
        for i, batch in enumerate(loader):
            if start is None:
                start = time.perf_counter()
                continue
            n += len(batch["label"])
            if max_batches and i >= max_batches:
                break
    return n / (time.perf_counter() - start)


def step_seconds(batch_size: int, threads: int, repeats: int = 30) -> float:
    """Median seconds of one P-Net training step on random data."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model("pnet")
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, 3, 12, 12)
    batch = {"label": torch.randint(-2, 2, (batch_size,)), "bbox": torch.randn(batch_size, 4) * 0.1,
             "landmarks": torch.rand(batch_size, 10)}
    times = []
    for i in range(repeats + 5):
        start = time.perf_counter()
        loss = multitask_loss(model.logits(x), batch)["total"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if i >= 5:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="P-Net shard folder (gen-pnet output)")
    parser.add_argument("--batch-size", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    b = args.batch_size
    print(f"{args.folder}: {len(open_shards(args.folder)):,} samples; cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}")

    reader = rate_reader(args.folder, b)
    ds = ShardDataset(args.folder)
    fast = DataLoader(ds, sampler=RatioBatchSampler(ds, b), batch_size=None, num_workers=args.workers,
                      persistent_workers=args.workers > 0)
    loader = rate_loader(fast, args.epochs)
    naive = rate_loader(DataLoader(ds, batch_size=b, shuffle=True, num_workers=args.workers), 1, max_batches=20)
    steps = {t: step_seconds(b, t) for t in (1, 2)}

    print(f"reader.iter_batches (1 process):                 {reader:>10,.0f} samples/s")
    print(f"DataLoader + RatioBatchSampler ({args.workers} workers):     {loader:>10,.0f} samples/s")
    print(f"DataLoader batch_size={b} shuffle ({args.workers} workers):  {naive:>10,.0f} samples/s")
    for t, s in steps.items():
        print(f"P-Net train step, batch {b}, {t} thread(s):       {s * 1e3:>10.1f} ms = {b / s:,.0f} samples/s "
              f"-> loader/step ratio {loader * s / b:.1f}")


if __name__ == "__main__":
    main()
