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
    return _number_list(value, ":", int, 4, lambda p: min(p) >= 0 and sum(p) > 0,
                        "four non-negative integers NEG:POS:PART:LANDMARK such as 3:1:1:2")


def parse_thresholds(ctx, param, value):
    return _number_list(value, ",", float, 3, lambda p: all(0 <= v <= 1 for v in p),
                        "three probabilities P,R,O such as 0.3,0.1,0.7")


def _number_list(value, sep, kind, count, valid, expected):
    """``value`` split at ``sep`` into ``count`` numbers of ``kind`` that pass ``valid``."""
    try:
        parts = tuple(kind(v) for v in value.split(sep))
    except ValueError:
        parts = ()
    if len(parts) != count or not valid(parts):
        raise click.BadParameter(f"expected {expected}, got {value!r}")
    return parts


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def landmark_set_options():
    """``--ROOT``, ``--ROOT-split`` and each variant flag of every landmark kind in the
    dataset registry (LFW_NET, CelebA, ...), in registry order."""
    from ..io.datasets import landmark_sets, variants_of

    for entry in landmark_sets():
        yield click.option(_flag(entry.option), type=click.Path(file_okay=False), help=entry.help)
        yield click.option(_flag(entry.split_option), type=click.Choice(entry.splits), default=entry.source_split,
                           show_default=True, help=f"{entry.title} split.")
        for variant in variants_of(entry.option):
            yield click.option(_flag(variant.variant_option), is_flag=True, help=variant.help)


def landmark_set_names():
    """The SourceOptions fields :func:`landmark_set_options` fills."""
    from ..io.datasets import landmark_sets, variants_of

    for entry in landmark_sets():
        yield from (entry.option, entry.split_option, *(v.variant_option for v in variants_of(entry.option)))


source_options = _stack(
    click.option("--wider", type=click.Path(file_okay=False), help="WIDER FACE root (wider_face_split/, WIDER_<split>/images/)."),
    click.option("--split", type=click.Choice(["train", "val"]), default="train", show_default=True, help="WIDER split."),
    click.option("--wider-annotations", type=click.Path(dir_okay=False), help="WIDER annotation file, for a non-standard layout."),
    click.option("--wider-images", type=click.Path(file_okay=False), help="WIDER image folder, for a non-standard layout."),
    click.option("--wider-flat", is_flag=True, help="The WIDER annotations are the flat MTCNN list (path x1 y1 x2 y2 ...)."),
    *landmark_set_options(),
)

filter_options = _stack(
    click.option("--min-size", type=float, default=0.0, show_default=True, help="Drop faces with min(w,h) below this."),
    click.option("--keep-invalid", is_flag=True, help="Keep WIDER boxes flagged invalid=1 (dropped by default)."),
    click.option("--max-blur", type=click.IntRange(0, 2), help="Drop WIDER faces blurrier than this (0 clear, 1 normal, 2 heavy)."),
    click.option("--max-occlusion", type=click.IntRange(0, 2), help="Drop WIDER faces more occluded than this (0 none, 1 partial, 2 heavy)."),
    click.option("--drop-atypical-pose", is_flag=True, help="Drop WIDER faces flagged atypical pose."),
)

output_options = _stack(
    click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder for shards and manifest.json."),
    click.option("--ratio", default="3:1:1:2", show_default=True, callback=parse_ratio, help="NEG:POS:PART:LANDMARK mix of the output."),
    click.option("--limit", type=click.IntRange(1), help="At most this many samples in all (the ratio is kept)."),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice."),
    click.option("--shard-mb", type=float, default=64.0, show_default=True, help="Uncompressed size bound of one shard, MiB."),
    click.option("--compression", type=click.Choice(["gzip", "lzf", "none"]), default="gzip", show_default=True),
    click.option("--max-pixels", type=click.IntRange(1), default=100_000_000, show_default=True, help="Refuse images larger than this before decoding."),
)

run_options = _stack(
    click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Worker processes."),
    click.option("--backend", type=click.Choice(["local", "dask", "ray"]), default="local", show_default=True,
                 help="Where workers run: local processes, a Dask cluster or a Ray cluster (docs/cluster.md)."),
    click.option("--scheduler", metavar="ADDRESS", help="--backend dask: join this scheduler (tcp://host:8786) "
                 "instead of starting a local cluster of --workers processes."),
    click.option("--address", metavar="ADDRESS", help="--backend ray: join this Ray cluster (auto, host:6379, "
                 "ray://host:10001) instead of starting Ray here with --workers CPUs."),
    click.option("--resume", is_flag=True, help="Continue an unfinished run in --out."),
    click.option("--overwrite", is_flag=True, help="Replace a previous run in --out."),
    click.option("--skip-missing", is_flag=True, help="Continue without missing or unreadable images (listed in the manifest)."),
    click.option("--unit-size", type=click.IntRange(1), default=64, show_default=True, help="Images per work unit."),
)


def source_kwargs(kw: dict):
    """Pop the source and filter options from a command's kwargs into SourceOptions."""
    from ..core.filtering import FilterConfig
    from ..jobs.sources import SourceOptions

    filters = FilterConfig(
        drop_invalid=not kw.pop("keep_invalid"),
        min_size=kw.pop("min_size"),
        max_blur=kw.pop("max_blur"),
        max_occlusion=kw.pop("max_occlusion"),
        drop_atypical_pose=kw.pop("drop_atypical_pose"),
    )
    names = ("wider", "split", "wider_annotations", "wider_images", "wider_flat", *landmark_set_names())
    return SourceOptions(filters=filters, **{n: kw.pop(n) for n in names})


def run_kwargs(kw: dict):
    from ..engine.run import RunOptions

    return RunOptions(workers=kw.pop("workers"), backend=_backend(kw.pop("backend"), kw.pop("scheduler"), kw.pop("address")),
                      resume=kw.pop("resume"), overwrite=kw.pop("overwrite"),
                      skip_missing=kw.pop("skip_missing"), unit_size=kw.pop("unit_size"),
                      log=functools.partial(click.echo, err=True))


def _backend(kind: str, scheduler, address) -> str:
    """The RunOptions.backend string: ``loky``, ``dask[@SCHEDULER]`` or ``ray[@ADDRESS]``."""
    from ..engine.backends import backend_name, check_available

    if scheduler and kind != "dask":
        raise click.BadParameter("--scheduler is the address of a dask scheduler; add --backend dask", param_hint="--scheduler")
    if address and kind != "ray":
        raise click.BadParameter("--address is the address of a Ray cluster; add --backend ray", param_hint="--address")
    check_available(kind)
    return backend_name(kind, scheduler or address)
