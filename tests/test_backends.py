"""--backend dask and --backend ray: the same bytes as a local run, and nothing lost
when a worker or the whole run is killed.

Skipped with the reason when dask.distributed or Ray cannot be imported here
(install them with ``pip install "mtcnn-data[dask]"`` / ``"mtcnn-data[ray]"``).
"""

import importlib
import logging
import os
import signal

import pytest

from mtcnn_data.engine import backends
from mtcnn_data.engine.parallel import run_parallel
from fakedata import KillOnce, gen, kill_one_worker_in_plan, shard_bytes, stop_then_resume

RUN = ("--unit-size", "4", "--shard-mb", "0.05")
IN_FLIGHT = 2 * 2 + 2  # units submitted at once to 2 worker threads (backends._windowed)


def importable(module: str, extra: str):
    """``None`` when ``module`` imports, else the skip reason naming the package extra
    (setup.cfg ``extras_require``: ``dask``, ``ray``) that installs it. .ci/run installs
    both, so in CI these tests run (or CI fails); elsewhere they skip with this reason."""
    try:
        importlib.import_module(module)
        return None
    except Exception as exc:  # an ImportError, or a broken install that fails on import
        return f"{module} cannot be imported here ({type(exc).__name__}: {exc}); pip install \"mtcnn-data[{extra}]\""


DASK_MISSING, RAY_MISSING = importable("distributed", "dask"), importable("ray", "ray")
if os.environ.get("MTCNN_DATA_REQUIRE_ENGINES") and (DASK_MISSING or RAY_MISSING):  # set by .ci/run
    raise RuntimeError(f"MTCNN_DATA_REQUIRE_ENGINES is set but an engine is missing: {DASK_MISSING or RAY_MISSING}")
needs_dask = pytest.mark.skipif(DASK_MISSING is not None, reason=str(DASK_MISSING))
needs_ray = pytest.mark.skipif(RAY_MISSING is not None, reason=str(RAY_MISSING))


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    res = gen(dataset, out, *RUN)
    assert res.exit_code == 0, res.output
    return shard_bytes(out)


@pytest.fixture(scope="module")
def cluster():
    """A dask.distributed cluster of 2 worker processes (1 thread each), as `dask scheduler`
    plus two `dask worker` would give."""
    import distributed  # only reached by tests marked needs_dask
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as lc:
        yield lc


@pytest.fixture(autouse=True)
def close_engines():
    yield
    backends.shutdown()


# ---------------------------------------------------------------- names and errors


def test_backend_names_round_trip():
    assert backends.backend_name("local") == "loky"
    assert backends.backend_name("dask", "tcp://h:8786") == "dask@tcp://h:8786"
    assert backends.parse_backend("dask@tcp://h:8786") == ("dask", "tcp://h:8786")
    assert backends.parse_backend("ray") == ("ray", None)
    with pytest.raises(backends.BackendError, match="needs --backend dask or --backend ray"):
        backends.backend_name("local", "tcp://h:8786")


def test_cli_refuses_an_address_for_another_backend(dataset, tmp_path):
    res = gen(dataset, tmp_path / "o", "--scheduler", "tcp://127.0.0.1:1")
    assert res.exit_code != 0 and "add --backend dask" in res.output
    assert not (tmp_path / "o").exists()


def test_missing_engine_names_the_pip_command(monkeypatch, dataset, tmp_path):
    real_import, real_find = importlib.import_module, importlib.util.find_spec

    def no_ray_import(name, *a, **k):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", no_ray_import)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real_find(name, *a))
    res = gen(dataset, tmp_path / "o", "--backend", "ray")
    assert isinstance(res.exception, backends.BackendError)
    assert 'pip install "mtcnn-data[ray]"' in str(res.exception)
    assert not (tmp_path / "o").exists()  # refused before anything is written


@needs_dask
def test_unreachable_scheduler_says_how_to_start_one(monkeypatch):
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(backends.BackendError, match="cannot reach the dask scheduler at tcp://127.0.0.1:9.*dask scheduler"):
        run_parallel(abs, [1, 2], 2, backend="dask@tcp://127.0.0.1:9")


# ---------------------------------------------------------------- same bytes


def engine_options(request, engine: str) -> tuple:
    if engine == "dask-scheduler":
        return ("--backend", "dask", "--scheduler", request.getfixturevalue("cluster").scheduler_address)
    return ("--backend", engine.split("-")[0], "--workers", "2")


@pytest.mark.parametrize("engine", [
    pytest.param("dask-scheduler", marks=needs_dask),
    pytest.param("dask-local", marks=[needs_dask, pytest.mark.slow]),
    pytest.param("ray", marks=[needs_ray, pytest.mark.slow]),
])
def test_cluster_gives_the_local_bytes(dataset, tmp_path, reference, request, engine):
    out = tmp_path / "out"
    res = gen(dataset, out, *RUN, *engine_options(request, engine))
    assert res.exit_code == 0, res.output
    assert shard_bytes(out) == reference


@needs_dask
def test_input_errors_come_back_from_dask_workers_unretried(cluster, tmp_path):
    from mtcnn_data.io.images import read_rgb

    with pytest.raises(Exception, match=r"nope\.jpg: cannot read the file") as err:
        run_parallel(read_rgb, [str(tmp_path / "nope.jpg")], 2, backend=f"dask@{cluster.scheduler_address}")
    assert type(err.value).__name__ == "ImageError"


# ---------------------------------------------------------------- nothing lost


@needs_dask
@pytest.mark.slow
def test_dask_worker_killed_mid_unit_costs_only_that_unit(dataset, tmp_path, monkeypatch, reference, cluster):
    state = tmp_path / "state"
    kill_one_worker_in_plan(monkeypatch, victim=3, state=state)
    out = tmp_path / "out"
    res = gen(dataset, out, *RUN, "--backend", "dask", "--scheduler", cluster.scheduler_address)
    assert res.exit_code == 0, res.output
    assert (state / "killed").exists(), "no worker was killed"
    runs = KillOnce.runs(state)
    assert set(runs) == set(range(10)) and runs[3] == 2
    # besides the victim, Dask recomputes only units whose results were still on the dead worker
    assert sum(runs.values()) - 10 <= 1 + IN_FLIGHT
    assert shard_bytes(out) == reference


@needs_dask
@pytest.mark.slow
def test_dask_run_killed_with_sigkill_resumes_to_identical_shards(dataset, tmp_path, reference):
    slow = ("--unit-size", "1", "--shard-mb", "0.05", "--backend", "dask", "--workers", "2")
    stop_then_resume(dataset, tmp_path / "out", signal.SIGKILL, slow, reference)


def _worker_state(_):
    import os
    import signal as sig

    from joblib.externals.loky import process_executor

    return os.getpid(), process_executor._MAX_MEMORY_LEAK_SIZE, sig.getsignal(sig.SIGINT)


def test_local_workers_ignore_ctrl_c_and_tolerate_loaded_models():
    """Workers leave SIGINT to the main process, and loky's 300 MB leak heuristic (which
    restarted mining workers once torch and the networks were loaded) is relaxed."""
    seen = []
    run_parallel(_worker_state, range(8), workers=2, on_result=seen.append)
    assert len(seen) == 8
    for _, leak_limit, handler in seen:
        assert leak_limit >= 4 << 30
        assert handler == signal.SIG_IGN
