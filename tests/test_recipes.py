"""--recipe: named option defaults from manifests/recipes, overridden by explicit options."""

import json

import pytest

from click.testing import CliRunner

from mtcnn_data.cli.main import cli, main


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def config_of(out):
    return json.loads((out / "manifest.json").read_text())["config"]["sampling"]


def test_paper_recipe_equals_the_defaults(tmp_path):
    assert run("--recipe", "paper", "gen-pnet", "--out", tmp_path / "a").exit_code == 0
    assert run("gen-pnet", "--out", tmp_path / "b").exit_code == 0
    a = sorted(p.read_bytes() for p in (tmp_path / "a").glob("*.h5"))
    assert a == sorted(p.read_bytes() for p in (tmp_path / "b").glob("*.h5"))


def test_own_recipe_sets_defaults_and_options_win(tmp_path):
    recipe = tmp_path / "mine.json"
    recipe.write_text(json.dumps({"recipe": "mine", "gen-pnet": {"negatives_per_image": 7, "jitter_per_face": 9}}))
    res = run("--recipe", recipe, "gen-pnet", "--out", tmp_path / "o", "--jitter-per-face", "11")
    assert res.exit_code == 0, res.output
    cfg = config_of(tmp_path / "o")
    assert cfg["negatives_per_image"] == 7 and cfg["jitter_per_face"] == 11


def test_bad_recipes_name_the_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"gen-pnet": {"negatives_per_imag": 7}}))
    with pytest.raises(SystemExit) as exc:
        main(["--recipe", str(bad), "gen-pnet", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "negatives_per_imag" in err and "negatives_per_image" in err
    with pytest.raises(SystemExit) as exc:
        main(["--recipe", "no-such-recipe", "gen-pnet", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "no recipe 'no-such-recipe'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
