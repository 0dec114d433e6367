"""A regular (non-editable) install carries everything the commands read at run time."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
                         capture_output=True, text=True)
    if run.returncode and "No module named" in run.stderr and "setuptools" in run.stderr:
        pytest.skip("setuptools is not installed in this environment: cannot build the wheel without a download")
    assert run.returncode == 0, run.stderr
    return zipfile.ZipFile(next(out.glob("mtcnn_data-*.whl")))


def test_wheel_has_the_official_figures_and_the_sample(wheel):
    names = set(wheel.namelist())
    for name in ("wider_face", "lfw_net", "celeba"):
        assert f"mtcnn_data/manifests/{name}.json" in names
    assert "mtcnn_data/manifests/recipes/paper.json" in names
    assert "mtcnn_data/data/sample/widerface/wider_face_split/wider_face_train_bbx_gt.txt" in names
    assert "mtcnn_data/data/sample/celeba/Anno/list_landmarks_celeba.txt" in names
    assert sum(n.startswith("mtcnn_data/data/sample/") and n.endswith(".jpg") for n in names) >= 10
    for package in ("cli", "core", "io", "io/datasets", "engine", "jobs", "tools", "detect", "data"):
        assert f"mtcnn_data/{package}/__init__.py" in names


def test_wheel_has_no_top_level_cli_or_tests(wheel):
    tops = {n.split("/")[0] for n in wheel.namelist()}
    assert tops <= {"mtcnn_data", next(t for t in tops if t.endswith(".dist-info"))}
