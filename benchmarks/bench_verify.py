"""How much does ``verify`` cost next to simply reading the shards' bytes?

On a finished shard folder, in the same run (files in the page cache, each figure the
median of ``--repeat`` runs):

* bytes: read every shard file, nothing else (the floor of any check);
* inflate: every stored chunk of every dataset read and zlib-inflated in one thread,
  nothing else (the floor of any check that decodes every chunk);
* h5py: every dataset of every shard read through h5py in one thread (HDF5 decodes);
* verify: ``mtcnn_data.verify`` (sha256, every chunk decoded, values of every row) with
  1 thread and with all CPUs;

and prints each as a RATIO to the bytes floor and to the inflate floor.

    python benchmarks/bench_verify.py /tmp/real-pnet [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from mtcnn_data.core.schema import FIELD_NAMES
from mtcnn_data.io.shards import ShardFile
from mtcnn_data.tools.verify import verify


def shard_paths(folder: Path) -> list:
    manifest = json.loads((folder / "manifest.json").read_text())
    return [folder / e["name"] for e in manifest["shards"]]


def read_bytes(paths) -> int:
    return sum(len(p.read_bytes()) for p in paths)


def read_h5py(paths) -> int:
    total = 0
    for p in paths:
        with ShardFile(p) as shard:
            total += sum(v.nbytes for v in shard.read(FIELD_NAMES).values())
    return total


def inflate_chunks(paths) -> int:
    import zlib

    total = 0
    for p in paths:
        with ShardFile(p) as shard:
            for name in FIELD_NAMES:
                ds = shard.datasets[name]
                size = shard.chunk_rows(name) * ds.dtype.itemsize * int(np.prod(ds.shape[1:]))
                for a, _ in shard.chunk_ranges(name):
                    total += len(zlib.decompress(ds.id.read_direct_chunk((a,) + (0,) * (ds.ndim - 1))[1], 15, size))
    return total


def run_verify(folder: Path, threads: int) -> None:
    report = verify(folder, threads=threads)
    if not report.ok:
        raise SystemExit(report.text())


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a finished gen-pnet or mine output folder")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paths = shard_paths(args.folder)
    size = read_bytes(paths)  # also warms the page cache
    raw = read_h5py(paths)
    cpus = os.cpu_count() or 1
    print(f"{args.folder}: {len(paths)} shard(s), {size / 2**20:.1f} MiB on disk, {raw / 2**20:.1f} MiB decoded; "
          f"cpus {cpus}, load average {os.getloadavg()[0]:.1f}")
    floor = median_seconds(lambda: read_bytes(paths), args.repeat)
    inflate = median_seconds(lambda: inflate_chunks(paths), args.repeat)
    rows = {"bytes (floor)": floor,
            "inflate, 1 thread": inflate,
            "h5py, 1 thread": median_seconds(lambda: read_h5py(paths), args.repeat),
            "verify, 1 thread": median_seconds(lambda: run_verify(args.folder, 1), args.repeat),
            f"verify, {cpus} threads": median_seconds(lambda: run_verify(args.folder, cpus), args.repeat)}
    for name, seconds in rows.items():
        print(f"{name:<22} {seconds * 1e3:>9.1f} ms  {seconds / floor:>6.1f}x the bytes floor  "
              f"{seconds / inflate:>5.2f}x the inflate floor")


if __name__ == "__main__":
    main()
