"""Every command with missing, conflicting and out-of-range options and bad paths:
each must exit non-zero with one ``Error:`` line and never a traceback.

The invocations are generated from the commands' own Click parameters (every numeric
option gets NaN, infinities, a negative number and text; every path option a path that
does not exist), plus the known conflicts of the trial list; a new option is swept
without editing this file."""

from __future__ import annotations

import click
import pytest

from mtcnn_data.cli.main import COMMANDS, LazyGroup, main
from mtcnn_data.cli.options import FiniteFloat

BAD_NUMBERS = ("nan", "inf", "-inf", "-1", "abc")


def _commands():
    group = LazyGroup()
    ctx = click.Context(group)
    return {name: group.get_command(ctx, name) for name in COMMANDS}


def _required(cmd, tmp, shards) -> list:
    """Arguments that satisfy the command's required parameters with harmless values
    (paths that do not exist, the first choice, a plain word)."""
    args, tail = [], []
    for p in cmd.params:
        if not p.required:
            continue
        value = str(shards) if p.name == "data" else _harmless(p, tmp)  # train: real shards, so a bad number must be caught
        (tail if isinstance(p, click.Argument) else args).extend([value] if isinstance(p, click.Argument) else [p.opts[0], value])
    return args + tail


def _harmless(p, tmp) -> str:
    if isinstance(p.type, click.Choice):
        return p.type.choices[0]
    if p.name == "out":
        return str(tmp / f"out-{p.name}")
    if isinstance(p.type, click.Path):
        return str(tmp / "does-not-exist" / p.name)
    return "does-not-exist"


def _numeric(p) -> bool:
    return isinstance(p, click.Option) and not p.is_flag and isinstance(
        p.type, (click.types.IntParamType, click.types.FloatParamType, FiniteFloat))


def invocations(tmp, shards) -> list:
    cmds = _commands()
    runs = []
    for name, cmd in cmds.items():
        base = _required(cmd, tmp, shards)
        if any(p.required for p in cmd.params):
            runs.append([name])  # required parameters missing
        for p in cmd.params:
            if _numeric(p):
                runs += [[name, *base, p.opts[0], bad] for bad in BAD_NUMBERS]
            elif isinstance(p, click.Option) and isinstance(p.type, click.Path) and p.name != "out":
                runs.append([name, *base, p.opts[0], str(tmp / "absent" / p.name)])
            elif isinstance(p, click.Option) and isinstance(p.type, click.Choice):
                runs.append([name, *base, p.opts[0], "no-such-choice"])
    out = str(tmp / "conflict-out")
    sample = str(tmp / "sample-out")
    runs += [
        ["mine", "--stage", "onet", "--pnet", "facenet", "--out", out],  # no --rnet
        ["mine", "--stage", "rnet", "--pnet", "facenet", "--device", "gpu", "--out", out],
        ["mine", "--stage", "rnet", "--pnet", "facenet", "--thresholds", "2,0,0", "--out", out],
        ["mine", "--stage", "rnet", "--pnet", "facenet", "--thresholds", "nan,0.1,0.7", "--out", out],
        ["mine", "--stage", "rnet", "--pnet", str(tmp / "no.pt"), "--out", out],
        ["detect", str(tmp), "--pnet", "facenet", "--device", "tpu"],
        ["gen-pnet", "--ratio", "0:0:0:0", "--out", out],
        ["gen-pnet", "--ratio", "1:2", "--out", out],
        ["gen-pnet", "--ratio", "1:-1:1:1", "--out", out],
        ["gen-pnet", "--resume", "--overwrite", "--out", out],
        ["gen-pnet", "--resume", "--out", str(tmp / "typo")],
        ["gen-pnet", "--scheduler", "tcp://x:1", "--out", out],
        ["gen-pnet", "--address", "auto", "--out", out],
        ["gen-pnet", "--wider", str(tmp / "nowhere"), "--out", out],
        ["gen-pnet", "--max-images", "0", "--out", out],
        ["gen-pnet", "--limit", "0", "--out", out],
        ["gen-pnet", "--shard-mb", "0", "--out", out],
        ["gen-pnet", "--out", sample], ["gen-pnet", "--out", sample],  # the second: a finished run is there
        ["annotations"],
        ["annotations", "--wider", str(tmp), "--celeba", str(tmp)],
        ["annotations", "--annotations", str(tmp / "x.txt")],
        ["no-such-command"],
    ]
    if not _cuda():
        runs += [["mine", "--stage", "rnet", "--pnet", "facenet", "--device", "cuda", "--out", out],
                 ["detect", str(tmp), "--pnet", "facenet", "--device", "cuda"]]
    return runs


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_sweep_of_bad_invocations_fails_cleanly(tmp_path, capsys, shards):
    runs = invocations(tmp_path, shards)
    failures = sweep(runs, capsys)
    print(f"CLI sweep: {len(runs)} invocations tried, {len(failures)} failed")
    assert not failures, "\n".join(failures)
    assert len(runs) > 100


@pytest.mark.realdata
def test_a_split_the_real_dataset_lacks_is_one_line(realdata, capsys):
    runs = [["annotations", "--lfw-net", str(realdata / "lfw_net"), "--split", "val"],
            ["gen-pnet", "--lfw-net", str(realdata / "lfw_net"), "--lfw-split", "val", "--out", "x"]]
    assert not sweep(runs, capsys)


def sweep(runs, capsys) -> list:
    """The invocations of ``runs`` that did not fail cleanly, with what happened."""
    failures = []
    sample_runs = 0
    for args in runs:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # reached the user as a traceback
            failures.append(f"{args}: traceback {type(exc).__name__}: {exc}")
            continue
        err = capsys.readouterr().err
        if args[-1].endswith("sample-out") and sample_runs == 0:  # the first run of the pair succeeds
            sample_runs += 1
            assert code == 0, err
            continue
        errors = [line for line in err.splitlines() if line.startswith("Error")]
        if code == 0 or "Traceback" in err or len(errors) != 1:
            failures.append(f"{args}: exit {code}, stderr {err!r}")
    return failures


def test_every_option_has_help_and_choices_show_their_default():
    for name, cmd in _commands().items():
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.help, f"{name} {p.opts[0]} has no --help text"
                default = p.get_default(click.Context(cmd), call=False)
                unset = default is None or type(default).__name__ == "Sentinel"  # click >= 8.3 marks "no default" so
                if not unset and not p.is_flag and not p.show_default:
                    assert "default" in p.help, f"{name} {p.opts[0]}: its default is not shown"
