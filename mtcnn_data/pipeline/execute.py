"""Running work units in parallel (joblib) with a progress bar.

Workers are limited to one thread each for OpenCV, torch and BLAS: with one worker
process per core, nested thread pools only fight for the same cores (measured
several times slower on a 2-core machine).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterable

from joblib import Parallel, delayed, parallel_config


def limit_threads() -> None:
    """One thread per worker for the libraries that would spawn their own pools."""
    import cv2

    cv2.setNumThreads(1)
    if "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)


def _call(fn, item):
    limit_threads()
    return fn(item)


def run_parallel(fn: Callable, items: Iterable, workers: int = 1, progress=None, on_result=None, backend: str = "loky"):
    """Apply ``fn`` to every item on ``workers`` processes; results come back in any
    order and are handed to ``on_result`` (and counted on ``progress``)."""
    items = list(items) if not hasattr(items, "__len__") else items
    if workers <= 1:
        for item in items:
            _handle(_call(fn, item), progress, on_result)
        return
    with parallel_config(backend=backend, inner_max_num_threads=1):
        par = Parallel(n_jobs=workers, return_as="generator_unordered", pre_dispatch="2*n_jobs")
        for result in par(delayed(_call)(fn, item) for item in items):
            _handle(result, progress, on_result)


def _handle(result, progress, on_result):
    if on_result is not None:
        on_result(result)
    if progress is not None:
        progress.update(1)


def make_progress(total: int, desc: str, enabled=None):
    """A tqdm bar on a terminal, nothing (a no-op object) otherwise."""
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    return tqdm(total=total, desc=desc, disable=not enabled, unit="unit", dynamic_ncols=True)
