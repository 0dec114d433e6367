"""Where work units run: local processes (joblib loky), a Dask cluster, or a Ray cluster.

A backend is named by a string, as ``RunOptions.backend`` carries it:

- ``"loky"`` (``--backend local``): worker processes on this machine;
- ``"dask"``: a ``dask.distributed.LocalCluster`` of ``workers`` processes, one
  thread each; ``"dask@ADDRESS"`` joins the scheduler at ``ADDRESS`` instead;
- ``"ray"``: ``ray.init(num_cpus=workers)`` on this machine; ``"ray@ADDRESS"``
  joins the Ray cluster at ``ADDRESS`` (``auto``, ``ray://host:10001``, ...).

Every engine offers ``map_unordered(fn, items)``: results in completion order.
Units are independent and write their own files, so a unit whose worker dies is
simply run again: Dask reschedules it (``distributed.scheduler.allowed-failures``,
3 by default) and retries an exception twice (``retries=2``); Ray re-runs it up to
:data:`RETRIES` times (``max_retries``); the local pool is restarted for the units
that had not finished. Errors about the input (:class:`~mtcnn_data.errors.MtcnnDataError`)
are not retried: they come back as values and are raised here.

Dask and Ray are optional (``pip install "mtcnn-data[dask]"`` / ``"mtcnn-data[ray]"``)
and imported only when chosen. A started cluster is kept for the process (the
plan, cut and assemble phases share it) and closed by :func:`shutdown` or at exit.
"""

from __future__ import annotations

import atexit
import errno
import importlib
import importlib.util
import logging
import os
import pickle
import sys
from typing import Callable, Dict, Iterable, Iterator, Optional, Tuple

from ..errors import MtcnnDataError, OutputError

#: Extra runs of a unit whose worker died (or that raised an unexpected error).
RETRIES = 2
#: Seconds to wait for an existing scheduler / cluster to answer.
CONNECT_TIMEOUT_S = 20
KINDS = ("loky", "dask", "ray")
_ALIASES = {"local": "loky"}
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class BackendError(MtcnnDataError):
    """A backend is not installed, cannot be reached, or lost a unit too often."""


# ---------------------------------------------------------------- names


def backend_name(kind: str, address: Optional[str] = None) -> str:
    """The ``RunOptions.backend`` string of ``kind`` (local|loky|dask|ray) and an optional address."""
    kind = _ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise BackendError(f"unknown backend {kind!r}; expected one of local, dask, ray")
    if address and kind == "loky":
        raise BackendError("an address (--scheduler / --address) needs --backend dask or --backend ray")
    return f"{kind}@{address}" if address else kind


def parse_backend(name: str) -> Tuple[str, Optional[str]]:
    """``"dask@tcp://h:8786"`` -> ``("dask", "tcp://h:8786")``; ``"local"`` -> ``("loky", None)``."""
    kind, _, address = str(name).partition("@")
    kind = _ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise BackendError(f"unknown backend {name!r}; expected local (loky), dask[@ADDRESS] or ray[@ADDRESS]")
    return kind, address or None


# ---------------------------------------------------------------- what runs on a worker


class Failure:
    """An input or output error raised by a unit, carried back as a value (never retried)."""

    def __init__(self, exc: MtcnnDataError):
        self.exc = exc if _round_trips(exc) else MtcnnDataError(str(exc))

    def exception(self) -> MtcnnDataError:
        return self.exc


def _round_trips(exc: BaseException) -> bool:
    """Whether an exception survives pickling (one whose constructor takes more than
    a message does not)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return True
    except Exception:
        return False


def disk_full_error(exc: OSError) -> OutputError:
    where = f" writing {exc.filename}" if getattr(exc, "filename", None) else ""
    return OutputError(
        f"the disk is full ({exc.strerror or 'no space left on device'}{where}). Finished units are kept and "
        "nothing half-written is left: free some space (or move --out), then rerun the same command with "
        "--resume to continue."
    )


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL


class Task:
    """``fn`` as run on a worker: one thread per library, input errors returned as :class:`Failure`.

    ``cwd`` is the driver's working directory: relative paths in the units then
    mean the same on a worker of this machine or of a cluster sharing the path.
    """

    def __init__(self, fn: Callable, cwd: Optional[str] = None):
        self.fn, self.cwd = fn, cwd

    def __call__(self, item):
        limit_threads()
        if self.cwd and os.getcwd() != self.cwd and os.path.isdir(self.cwd):
            os.chdir(self.cwd)
        try:
            return self.fn(item)
        except MtcnnDataError as exc:
            return Failure(exc)
        except OSError as exc:
            if is_disk_full(exc):
                return Failure(disk_full_error(exc))
            raise


def limit_threads() -> None:
    """One thread per worker for the libraries that would spawn their own pools."""
    import cv2

    cv2.setNumThreads(1)
    if "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)


def _apply(task: Task, item):
    return task(item)


def _identity(x):
    return x


# ---------------------------------------------------------------- engines


def require(kind: str):
    """Import the optional engine of ``kind`` ("dask", "ray") or say how to install it."""
    module, what = _MODULES[kind]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(
            f"--backend {kind} needs {what}, which cannot be imported here ({exc}). "
            f'Install it with: pip install "mtcnn-data[{kind}]"'
        ) from exc


_MODULES = {"dask": ("distributed", "dask.distributed"), "ray": ("ray", "Ray")}


def check_available(kind: str) -> None:
    """Fail early, before any file is written, when ``kind``'s engine is not installed."""
    kind = _ALIASES.get(kind, kind)
    if kind in _MODULES and importlib.util.find_spec(_MODULES[kind][0]) is None:
        require(kind)


class DaskEngine:
    """Units as futures on a dask.distributed cluster, consumed as they complete."""

    name = "dask"

    def __init__(self, address: Optional[str], workers: int):
        self.distributed = require("dask")
        self.cluster = None if address else self._local_cluster(workers)
        self.client = self._connect(address or self.cluster)

    def _local_cluster(self, workers: int):
        return self.distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=logging.ERROR,
        )

    def _connect(self, target):
        try:
            return self.distributed.Client(target, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise BackendError(
                f"cannot reach the dask scheduler at {target} within {CONNECT_TIMEOUT_S} s ({exc}). "
                "Start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or leave out "
                "--scheduler to start a local cluster."
            ) from exc

    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def map_unordered(self, task: Task, items: Iterable) -> Iterator:
        fn = self.client.submit(_identity, task, pure=False)  # sent once; recomputed if its worker dies
        done = self.distributed.as_completed(loop=self.client.loop)
        submit = lambda item: done.add(self.client.submit(_apply, fn, item, pure=False, retries=RETRIES))  # noqa: E731
        try:
            yield from _windowed(items, 2 * self.slots() + 2, submit, lambda: self._next(done))
        finally:
            self.client.cancel(list(done.futures) + [fn])

    def _next(self, done):
        future = next(done)
        try:
            return future.result()
        except self.distributed.KilledWorker as exc:
            raise unit_lost_error("dask", exc) from exc
        finally:
            future.release()  # collected: a worker that dies later must not be asked to recompute it

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class RayEngine:
    """Units as Ray tasks (``max_retries``), consumed with ``ray.wait`` as they complete."""

    name = "ray"

    def __init__(self, address: Optional[str], workers: int):
        self.ray = require("ray")
        self.started = not self.ray.is_initialized()
        if self.started:
            self._init(address, workers)
        self.remote = self.ray.remote(max_retries=RETRIES, retry_exceptions=[OSError], num_cpus=1)(_apply)

    def _init(self, address, workers):
        kwargs = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        try:
            if address:
                self.ray.init(address=address, **kwargs)
            else:
                self.ray.init(num_cpus=workers, **kwargs)
        except ConnectionError as exc:
            raise BackendError(
                f"cannot reach the Ray cluster at {address} ({exc}). Start one with `ray start --head` "
                "(then `ray start --address HEAD:6379` on each machine) or leave out --address."
            ) from exc

    def slots(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def map_unordered(self, task: Task, items: Iterable) -> Iterator:
        fn = self.ray.put(task)
        pending = []
        submit = lambda item: pending.append(self.remote.remote(fn, item))  # noqa: E731
        try:
            yield from _windowed(items, 2 * self.slots() + 2, submit, lambda: self._next(pending))
        finally:
            for ref in pending:
                self.ray.cancel(ref, force=True)

    def _next(self, pending):
        (ready,), _ = self.ray.wait(pending, num_returns=1)
        pending.remove(ready)
        try:
            return self.ray.get(ready)
        except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as exc:
            raise unit_lost_error("ray", exc) from exc

    def close(self):
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()


def _windowed(items: Iterable, window: int, submit: Callable, next_result: Callable) -> Iterator:
    """Keep at most ``window`` units in flight; yield results as they complete."""
    it = iter(items)
    in_flight = 0
    for item in it:
        submit(item)
        in_flight += 1
        if in_flight >= window:
            break
    while in_flight:
        yield next_result()
        in_flight -= 1
        for item in it:
            submit(item)
            in_flight += 1
            break


def unit_lost_error(engine: str, exc: BaseException) -> BackendError:
    return BackendError(
        f"a work unit was lost: its {engine} worker died {RETRIES + 1} or more times while running it ({exc}). "
        "A worker that dies again and again on the same unit is usually out of memory: give the workers "
        "more memory or lower --unit-size. Finished units are kept; rerun with --resume to continue."
    )


# ---------------------------------------------------------------- sessions

_ENGINES: Dict[Tuple[str, Optional[str], int], object] = {}
_FACTORIES = {"dask": DaskEngine, "ray": RayEngine}


def engine_for(backend: str, workers: int):
    """The (cached) engine of a ``"dask[@ADDRESS]"`` or ``"ray[@ADDRESS]"`` backend."""
    kind, address = parse_backend(backend)
    if kind not in _FACTORIES:
        raise BackendError(f"{backend!r} is not a cluster backend")
    key = (kind, address, 0 if address else int(workers))
    if key not in _ENGINES:
        for other in [k for k in _ENGINES if k[0] == kind]:  # one Ray runtime per process
            _ENGINES.pop(other).close()
        _ENGINES[key] = _FACTORIES[kind](address, int(workers))
    return _ENGINES[key]


def shutdown() -> None:
    """Close every cluster or connection this process started."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        try:
            engine.close()
        except Exception:  # closing at exit must not mask the run's own outcome
            pass


atexit.register(shutdown)
