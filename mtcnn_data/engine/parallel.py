"""Running work units in parallel with a progress bar: local processes, Dask or Ray.

Workers are limited to one thread each for OpenCV, torch and BLAS: with one worker
process per core, nested thread pools only fight for the same cores (measured
several times slower on a 2-core machine).

Where units run is :mod:`.backends`' business; here the results are consumed in
completion order, errors raised by a unit are raised in the driver, a full disk
becomes an error that says so, and a local worker process that dies costs only
the units it had not finished (the pool is restarted for them).
"""

from __future__ import annotations

import itertools
import os
from typing import Callable, Iterable, Iterator

from joblib import Parallel, delayed, parallel_config

from .backends import (RETRIES, BackendError, Failure, Task, disk_full_error, engine_for, is_disk_full, limit_threads,
                       parse_backend)


def run_parallel(fn: Callable, items: Iterable, workers: int = 1, progress=None, on_result=None, backend: str = "loky"):
    """Apply ``fn`` to every item on ``workers`` processes (or the cluster ``backend``
    names, see :mod:`.backends`); results come back in any order and are handed to
    ``on_result`` (and counted on ``progress``). ``items`` is consumed lazily, as
    workers become free: a generator that parses annotations overlaps with the work."""
    try:
        for result in _results(Task(fn, os.getcwd()), items, workers, backend):
            if isinstance(result, Failure):
                raise result.exception()
            _handle(result, progress, on_result)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(exc) from exc
        raise


def _results(task: Task, items: Iterable, workers: int, backend: str) -> Iterator:
    kind, _ = parse_backend(backend)
    if kind != "loky":
        return engine_for(backend, workers).map_unordered(task, items)
    if workers <= 1:
        return (task.fn(item) for item in _limited(items))
    return _loky_unordered(task, items, workers)


def _limited(items: Iterable) -> Iterator:
    limit_threads()
    yield from items


def _loky_unordered(task: Task, items: Iterable, workers: int) -> Iterator:
    """Local worker processes; when one dies, the units not yet finished run again."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    rest = iter(items)
    first = next(rest, _END)
    if first is _END:
        return
    pending: dict = {}  # handed to the pool, not finished
    queue, numbers = itertools.chain([first], rest), itertools.count()
    for attempt in range(RETRIES + 1):
        try:
            for i, result in _loky_pass(task, _tracked(queue, numbers, pending), workers):
                del pending[i]
                yield result
            return
        except TerminatedWorkerError as exc:
            if attempt == RETRIES:
                raise BackendError(
                    f"a local worker process died {RETRIES + 1} times ({str(exc).splitlines()[0]}); "
                    f"{len(pending)} unit(s) unfinished. A worker killed again and again is usually out of "
                    "memory: use fewer --workers or a smaller --unit-size. Finished units are kept; rerun "
                    "with --resume to continue."
                ) from exc
            queue = itertools.chain(list(pending.values()), queue)
            pending.clear()


_END = object()


def _tracked(queue: Iterator, numbers: Iterator, pending: dict) -> Iterator:
    """Number the items as the pool takes them and remember them until they finish."""
    for i, item in zip(numbers, queue):
        pending[i] = item
        yield i, item


def _loky_pass(task: Task, numbered: Iterable, workers: int) -> Iterator:
    with parallel_config(backend="loky", inner_max_num_threads=1, initializer=_ignore_sigint):
        _start_pool_ignoring_sigint(workers)
        par = Parallel(n_jobs=workers, return_as="generator_unordered", pre_dispatch="2*n_jobs", batch_size=1)
        yield from par(delayed(_numbered)(task, i, item) for i, item in numbered)


def _ignore_sigint():
    """Worker start-up. Workers leave Ctrl-C to the main process, which stops the pool and
    reports once (otherwise every worker prints its own KeyboardInterrupt traceback).

    And loky's leak check (with psutil installed) retires a worker whose memory grew by
    300 MB since its first task, which was our pool warm-up: a mining worker loading torch
    and three networks looks like a leak, is restarted mid-run and loads them all again
    (with a warning). Memory here is bounded by design (``--unit-size``, ``--shard-mb``),
    so the check is relaxed to growth beyond 4 GB."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from joblib.externals.loky import process_executor

        process_executor._MAX_MEMORY_LEAK_SIZE = max(process_executor._MAX_MEMORY_LEAK_SIZE, 4 << 30)
    except (ImportError, AttributeError):  # a joblib without the check: nothing to relax
        pass


def _start_pool_ignoring_sigint(workers: int) -> None:
    """Start (or reuse) the worker pool while SIGINT is ignored: the disposition survives
    fork and exec, so a Ctrl-C cannot catch a worker half-started (before its initializer
    runs) and make it print a traceback. The main process gets Ctrl-C again at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or _pool_is_running(workers):
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        Parallel(n_jobs=workers)(delayed(_noop)() for _ in range(workers))
    finally:
        signal.signal(signal.SIGINT, previous)


def _pool_is_running(workers: int) -> bool:
    """Whether loky's reusable pool already has ``workers`` live processes (then nothing
    starts, and the warm-up round trip, about 12 ms per phase, is skipped). Reads loky's
    internals; anything unexpected answers False, which only costs the warm-up."""
    try:
        from joblib.externals.loky import reusable_executor

        pool = reusable_executor._executor
        return (
            pool is not None
            and pool._max_workers == workers
            and not pool._flags.broken
            and not pool._flags.shutdown
            and len(pool._processes) == workers
            and all(p.is_alive() for p in pool._processes.values())
        )
    except Exception:  # noqa: BLE001 - a loky without these attributes: warm up as before
        return False


def _noop():
    return None


def _numbered(task: Task, i: int, item):
    return i, task(item)


def _handle(result, progress, on_result):
    if on_result is not None:
        on_result(result)
    if progress is not None:
        progress.update(1)
