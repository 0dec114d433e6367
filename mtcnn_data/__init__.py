"""mtcnn-data: training data for MTCNN face detectors.

Coordinate convention (the only one used in this package, see docs/conventions.md):
continuous pixel coordinates, origin at the top-left corner of the top-left pixel,
x to the right, y down; pixel (i, j) covers [i, i+1) x [j, j+1). A box is
``(x1, y1, x2, y2)`` with ``x2`` and ``y2`` exclusive, so ``w = x2 - x1`` and
``h = y2 - y1`` (no "+1"). A WIDER box ``x y w h`` is ``(x, y, x + w, y + h)``.
Landmarks are points ``(x, y)`` in the same frame, ordered left eye, right eye,
nose, left mouth corner, right mouth corner, where "left" means image-left.
"""

__version__ = "0.3.0"

__all__ = ["__version__"]

#: Public names imported on first use, so ``import mtcnn_data`` stays light (no h5py, no torch).
_LAZY = {
    "open_shards": "mtcnn_data.io.reader",
    "ShardReader": "mtcnn_data.io.reader",
    "ShardDataset": "mtcnn_data.io.torch_dataset",
    "RatioBatchSampler": "mtcnn_data.io.torch_dataset",
    # producing data (docs/api.md)
    "gen_pnet": "mtcnn_data.api",
    "mine": "mtcnn_data.api",
    "verify": "mtcnn_data.tools.verify",
    "GenPnetConfig": "mtcnn_data.jobs.config",
    "MineConfig": "mtcnn_data.jobs.config",
    "RunOptions": "mtcnn_data.engine.run",
    # the pieces the examples need
    "build_model": "mtcnn_data.detect.models",
    "write_wider_subset": "mtcnn_data.io.datasets.wider",
    "MtcnnDataError": "mtcnn_data.errors",
    "OptionError": "mtcnn_data.errors",
}
__all__ += list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mtcnn_data' has no attribute {name!r}")
