"""Produce, check and read training data from Python with the public API only.

    python examples/python_api.py [OUT]        (default: a temporary folder)

gen-pnet on the bundled sample dataset (pass ``wider=``/``lfw_net=``/``celeba=`` roots for
real data), a bad setting refused with the option named, verify, then reading
the shards.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import mtcnn_data
from mtcnn_data import GenPnetConfig, MtcnnDataError, RunOptions


def main(out: Path) -> None:
    config = GenPnetConfig(min_size=12, seed=1, max_images=5)
    manifest = mtcnn_data.gen_pnet(out / "pnet", config, run=RunOptions(workers=1))
    print(f"{manifest['totals']['samples']} samples; settings recorded: min_size={manifest['settings']['min_size']}")

    try:  # a bad setting is refused before any work, naming the option
        mtcnn_data.gen_pnet(out / "bad", min_size=float("nan"))
    except MtcnnDataError as exc:
        print(f"refused: {exc}")

    report = mtcnn_data.verify(out / "pnet")
    print(report.text())
    with mtcnn_data.open_shards(out / "pnet") as shards:
        print(f"{len(shards)} samples readable; first label {shards[0]['labels']}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
