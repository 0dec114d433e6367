"""Run recipes: named sets of option defaults kept in ``manifests/recipes/NAME.json``.

A recipe maps command names to ``{option name: value}`` (option names as Click
spells the parameters, e.g. ``negatives_per_image``); ``mtcnn-data --recipe NAME
COMMAND ...`` takes those as the command's defaults, and options given on the
command line still win. The manifest of a run records the command line and every
resulting setting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from ..errors import MtcnnDataError
from ..io.files import manifests_dir

META_KEYS = ("recipe", "description")


def recipe_names():
    return sorted(p.stem for p in (manifests_dir() / "recipes").glob("*.json"))


def load_recipe(name_or_path: str, commands: Dict[str, object]) -> Dict[str, dict]:
    """The recipe's per-command defaults, checked against the commands' options.

    ``commands`` maps command names to Click commands. Raises MtcnnDataError naming
    the file and the key at fault.
    """
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        res = manifests_dir() / "recipes" / f"{name_or_path}.json"
        if not res.is_file():
            raise MtcnnDataError(
                f"no recipe {name_or_path!r}: expected a JSON file or one of {', '.join(recipe_names())} "
                "(manifests/recipes/)"
            )
        text, where = res.read_text(encoding="utf-8"), f"manifests/recipes/{name_or_path}.json"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MtcnnDataError(f"{where}: not valid JSON ({exc})") from exc
    return {cmd: _checked(where, cmd, opts, commands) for cmd, opts in data.items() if cmd not in META_KEYS}


def _checked(where: str, cmd: str, opts, commands) -> dict:
    if cmd not in commands:
        raise MtcnnDataError(f"{where}: unknown command {cmd!r}; expected one of {', '.join(commands)}")
    if not isinstance(opts, dict):
        raise MtcnnDataError(f"{where}: {cmd!r} must map option names to values, found {type(opts).__name__}")
    known = {p.name for p in commands[cmd].params}
    unknown = sorted(set(opts) - known)
    if unknown:
        raise MtcnnDataError(f"{where}: {cmd}: unknown option(s) {', '.join(unknown)}; "
                             f"expected names among {', '.join(sorted(known))}")
    return opts
