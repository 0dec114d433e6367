"""Click options shared by the data commands (gen-pnet, mine)."""

from __future__ import annotations

import functools

import click


def _stack(*decorators):
    def apply(fn):
        for d in reversed(decorators):
            fn = d(fn)
        return fn

    return apply


def parse_ratio(ctx, param, value):
    from mtcnn_data.jobs.config import check_ratio

    return _checked(check_ratio, _numbers(value, ":", int, "four non-negative integers NEG:POS:PART:LANDMARK such as 3:1:1:2"))


def parse_thresholds(ctx, param, value):
    from mtcnn_data.jobs.config import check_thresholds

    return _checked(check_thresholds, _numbers(value, ",", float, "three probabilities P,R,O such as 0.3,0.1,0.7"))


def parse_device(ctx, param, value):
    from mtcnn_data.jobs.config import check_device

    return _checked(check_device, value)


def _numbers(value, sep, kind, expected):
    """``value`` split at ``sep`` into numbers of ``kind``."""
    try:
        return tuple(kind(v) for v in value.split(sep))
    except ValueError:
        raise click.BadParameter(f"expected {expected}, got {value!r}") from None


def _checked(check, value):
    """``check(value)``, its OptionError as Click's own message for the option."""
    from mtcnn_data.errors import OptionError

    try:
        return check(value)
    except OptionError as exc:
        raise click.BadParameter(str(exc).split(" ", 1)[1] if str(exc).startswith("--") else str(exc)) from None


class FiniteFloat(click.ParamType):
    """A finite float (NaN and infinities refused, which click.FloatRange lets through)
    above ``above`` when given."""

    name = "number"

    def __init__(self, above=None):
        self.above = above

    def convert(self, value, param, ctx):
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"expected a number, got {value!r}", param, ctx)
        if not math.isfinite(number) or (self.above is not None and number <= self.above):
            bound = f" > {self.above}" if self.above is not None else ""
            self.fail(f"expected a finite number{bound}, got {value!r}", param, ctx)
        return number


def device_option(help_text="Where the networks run: cpu, cuda or cuda:N (refused when this torch sees no CUDA device)."):
    """``--device``, the one definition detect and mine share."""
    return click.option("--device", default="cpu", show_default=True, callback=parse_device, help=help_text)


def landmark_set_options():
    """``--ROOT``, ``--ROOT-split`` and each variant flag of every landmark kind in the
    dataset registry (LFW_NET, CelebA, ...), in registry order."""
    from ..io.datasets import landmark_sets, variants_of
    from ..jobs.config import option_name as _flag

    for entry in landmark_sets():
        yield click.option(_flag(entry.option), type=click.Path(file_okay=False), help=entry.help)
        yield click.option(_flag(entry.split_option), type=click.Choice(entry.splits), default=entry.source_split,
                           show_default=True, help=f"{entry.title} split.")
        for variant in variants_of(entry.option):
            yield click.option(_flag(variant.variant_option), is_flag=True, help=variant.help)


source_options = _stack(
    click.option("--wider", type=click.Path(file_okay=False), help="WIDER FACE root (wider_face_split/, WIDER_<split>/images/)."),
    click.option("--split", type=click.Choice(["train", "val"]), default="train", show_default=True, help="WIDER split."),
    click.option("--wider-annotations", type=click.Path(dir_okay=False), help="WIDER annotation file, for a non-standard layout."),
    click.option("--wider-images", type=click.Path(file_okay=False), help="WIDER image folder, for a non-standard layout."),
    click.option("--wider-flat", is_flag=True, help="The WIDER annotations are the flat MTCNN list (path x1 y1 x2 y2 ...)."),
    *landmark_set_options(),
    click.option("--max-images", type=click.IntRange(1), help="Only the first N images of each dataset, in annotation "
                 "order (a quick trial run; recorded in the manifest)."),
)

filter_options = _stack(
    click.option("--min-size", type=click.FloatRange(0), default=0.0, show_default=True, help="Drop faces with min(w,h) below this, pixels."),
    click.option("--keep-invalid", is_flag=True, help="Keep WIDER boxes flagged invalid=1 (dropped by default)."),
    click.option("--max-blur", type=click.IntRange(0, 2), help="Drop WIDER faces blurrier than this (0 clear, 1 normal, 2 heavy)."),
    click.option("--max-occlusion", type=click.IntRange(0, 2), help="Drop WIDER faces more occluded than this (0 none, 1 partial, 2 heavy)."),
    click.option("--drop-atypical-pose", is_flag=True, help="Drop WIDER faces flagged atypical pose."),
)

output_options = _stack(
    click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder for shards and manifest.json."),
    click.option("--ratio", default="3:1:1:2", show_default=True, callback=parse_ratio, help="NEG:POS:PART:LANDMARK mix of the output."),
    click.option("--limit", type=click.IntRange(1), help="At most this many samples in all (the ratio is kept)."),
    click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of every random choice."),
    click.option("--shard-mb", type=click.FloatRange(0, min_open=True), default=64.0, show_default=True, help="Uncompressed size bound of one shard, MiB."),
    click.option("--compression", type=click.Choice(["gzip", "lzf", "none"]), default="gzip", show_default=True,
                 help="HDF5 filter of the shards' datasets (images are stored plainly: they do not compress)."),
    click.option("--max-pixels", type=click.IntRange(1), default=100_000_000, show_default=True, help="Refuse images larger than this before decoding."),
)

worker_options = _stack(
    click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Worker processes."),
    click.option("--backend", type=click.Choice(["local", "dask", "ray"]), default="local", show_default=True,
                 help="Where workers run: local processes, a Dask cluster or a Ray cluster (docs/cluster.md)."),
    click.option("--scheduler", metavar="ADDRESS", help="--backend dask: join this scheduler (tcp://host:8786) "
                 "instead of starting a local cluster of --workers processes."),
    click.option("--address", metavar="ADDRESS", help="--backend ray: join this Ray cluster (auto, host:6379, "
                 "ray://host:10001) instead of starting Ray here with --workers CPUs."),
)

run_options = _stack(
    worker_options,
    click.option("--resume", is_flag=True, help="Continue an unfinished run in --out."),
    click.option("--overwrite", is_flag=True, help="Replace a previous run in --out."),
    click.option("--skip-missing", is_flag=True, help="Continue without missing or unreadable images (listed in the manifest)."),
    click.option("--unit-size", type=click.IntRange(1), default=64, show_default=True, help="Images per work unit."),
)


def split_options(config_class, kw: dict):
    """``(config, run_options)`` of a data command's keyword arguments; an option that is
    neither a field of ``config_class`` nor a run option is a programming error."""
    from mtcnn_data.jobs.config import RUN_OPTIONS

    out = kw.pop("out")
    config = config_class.from_options(kw)
    run = run_kwargs(kw)
    if kw:
        raise TypeError(f"options {sorted(kw)} are neither settings of {config_class.__name__} nor in RUN_OPTIONS {RUN_OPTIONS}")
    if config.uses_sample:
        click.echo("No --wider/--lfw-net/--celeba/--retinaface given: using the bundled sample dataset.", err=True)
    return out, config, run


def run_kwargs(kw: dict):
    from ..engine.run import RunOptions

    return RunOptions(workers=kw.pop("workers"), backend=pop_backend(kw),
                      resume=kw.pop("resume"), overwrite=kw.pop("overwrite"),
                      skip_missing=kw.pop("skip_missing"), unit_size=kw.pop("unit_size"), reuse=kw.pop("reuse", None),
                      log=functools.partial(click.echo, err=True))


def pop_backend(kw: dict) -> str:
    """The backend string of :data:`worker_options` (popped from ``kw``): ``loky``,
    ``dask[@SCHEDULER]`` or ``ray[@ADDRESS]``."""
    return _backend(kw.pop("backend"), kw.pop("scheduler"), kw.pop("address"))


def _backend(kind: str, scheduler, address) -> str:
    from ..engine.backends import backend_name, check_available

    if scheduler and kind != "dask":
        raise click.BadParameter("--scheduler is the address of a dask scheduler; add --backend dask", param_hint="--scheduler")
    if address and kind != "ray":
        raise click.BadParameter("--address is the address of a Ray cluster; add --backend ray", param_hint="--address")
    check_available(kind)
    return backend_name(kind, scheduler or address)
