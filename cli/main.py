"""The ``mtcnn-data`` command: a thin Click layer over the library.

Subcommands live in their own modules and are imported only when run (or when
their help is shown), so ``mtcnn-data --help`` imports neither torch nor h5py.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import MtcnnDataError

#: command name -> (module under mtcnn_data.cli, attribute, one-line help)
COMMANDS = {
    "annotations": ("cmd_annotations", "annotations", "Parse a dataset's annotations, report counts and check them against the official release."),
    "gen-pnet": ("cmd_gen", "gen_pnet", "Cut balanced P-Net training data (12x12) into HDF5 shards."),
    "mine": ("cmd_mine", "mine", "Mine R-Net (24x24) or O-Net (48x48) data with a trained earlier stage."),
    "detect": ("cmd_detect", "detect", "Run the cascade on images; report boxes, scores and landmarks."),
    "evaluate": ("cmd_evaluate", "evaluate", "Recall and detections of trained stage(s) on WIDER-format annotations."),
    "verify": ("cmd_verify", "verify", "Check shards against their manifest; non-zero exit on any fault."),
    "inspect": ("cmd_inspect", "inspect", "Summarise shards; optionally draw a contact sheet PNG."),
    "train": ("cmd_train", "train", "Reference trainer: train P-Net, R-Net or O-Net on shards."),
}


INTERRUPTED = "Interrupted: finished work is kept; rerun the same command with --resume to continue."


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"mtcnn_data.cli.{module}"), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mtcnn-data")
@click.option("--recipe", metavar="NAME|FILE.json",
              help="Take option defaults from a run recipe (manifests/recipes/NAME.json, e.g. 'paper', or a JSON file); options given still win.")
@click.pass_context
def cli(ctx, recipe):
    """Training data for MTCNN face detectors (P-Net, R-Net, O-Net).

    Coordinates everywhere are x1,y1,x2,y2 in pixels with exclusive x2,y2
    (see docs/conventions.md).
    """
    if recipe:
        from .recipes import load_recipe

        group = ctx.command
        commands = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
        ctx.default_map = load_recipe(recipe, commands)


def main(argv=None):
    """Console entry point: library errors become a one-paragraph message and exit 2."""
    try:
        cli.main(args=argv, prog_name="mtcnn-data", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            click.echo(INTERRUPTED, err=True)
        else:
            click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except MtcnnDataError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo(INTERRUPTED, err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
