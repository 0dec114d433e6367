"""The Python API for producing data: lazy, public, and the same output as the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import mtcnn_data
from mtcnn_data.cli.main import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PRODUCING = ("gen_pnet", "mine", "verify", "GenPnetConfig", "MineConfig", "RunOptions", "OptionError")


def test_producing_names_load_lazily_without_torch():
    code = ("import sys, mtcnn_data; "
            f"[getattr(mtcnn_data, n) for n in {PRODUCING!r}]; "
            "print('torch' in sys.modules, 'h5py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
    assert set(PRODUCING) <= set(mtcnn_data.__all__)


def test_api_gen_pnet_writes_what_the_cli_writes(tmp_path):
    res = CliRunner().invoke(cli, ["gen-pnet", "--min-size", "12", "--seed", "3", "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    manifest = mtcnn_data.gen_pnet(tmp_path / "api", min_size=12, seed=3)
    assert manifest["settings"]["min_size"] == 12 and manifest["settings"]["seed"] == 3
    cli_shards = {p.name: p.read_bytes() for p in (tmp_path / "cli").glob("*.h5")}
    assert cli_shards and cli_shards == {p.name: p.read_bytes() for p in (tmp_path / "api").glob("*.h5")}
    assert mtcnn_data.verify(tmp_path / "api").ok


def test_api_refuses_bad_settings_with_the_option_named(tmp_path):
    with pytest.raises(mtcnn_data.OptionError, match="--min-size"):
        mtcnn_data.gen_pnet(tmp_path / "o", min_size=float("nan"))
    with pytest.raises(mtcnn_data.OptionError, match="not both"):
        mtcnn_data.gen_pnet(tmp_path / "o", mtcnn_data.GenPnetConfig(), seed=1)
    with pytest.raises(mtcnn_data.OptionError, match="--rnet"):
        mtcnn_data.mine(tmp_path / "o", stage="onet", pnet="facenet")
    assert not (tmp_path / "o").exists()


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mtcnn_data"):
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            yield from ((a.name, []) for a in node.names if a.name.startswith("mtcnn_data"))


def test_examples_use_only_the_public_api():
    examples = sorted(EXAMPLES.glob("*.py"))
    assert examples
    for path in examples:
        for module, names in _imports(path):
            assert module == "mtcnn_data", f"{path.name} imports {module}: use `from mtcnn_data import ...`"
            assert set(names) <= set(mtcnn_data.__all__), f"{path.name}: {set(names) - set(mtcnn_data.__all__)} not public"


def test_the_python_api_example_runs(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLES / "python_api.py"), str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "refused: --min-size" in run.stdout and "PASSED" in run.stdout
