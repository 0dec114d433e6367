"""The output folder: refusing to clobber, resuming, atomic files, finishing.

Layout while a run is in progress (nothing in DIR itself is touched until the end)::

    DIR/
    └── .incomplete/
        ├── run.json           the configuration; --resume must match it
        ├── units/u000000.json image identities and sizes of one work unit
        ├── cand/u000000.npy   labelled candidates of the unit (no pixels)
        ├── selection.json     balanced selection: per-class cut-offs, slots
        ├── cut/u000000.npy    selected samples of the unit with pixels
        ├── shards/*.h5        finished shards
        └── candidates/        a job's kept by-products (mine --stage rnet: P-Net candidates)

At the end the shards and kept folders move into DIR, ``manifest.json`` is written last, and
``.incomplete/`` is removed: a DIR with a manifest is complete. Every file above is
written to a temporary name and moved into place with ``os.replace``, so a killed
run leaves only whole files, and ``--resume`` skips what exists.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import OutputError
from ..io.files import atomic_write_json, read_json

INCOMPLETE = ".incomplete"
MANIFEST = "manifest.json"
#: Folders a job may keep beside its shards (moved into DIR at the end).
KEPT = ("candidates",)


class WorkDir:
    """Paths of one run's output folder and its in-progress state."""

    def __init__(self, out):
        self.out = Path(out)
        self.root = self.out / INCOMPLETE

    def unit_meta(self, u: int) -> Path:
        return self.root / "units" / f"u{u:06d}.json"

    def candidates(self, u: int) -> Path:
        return self.root / "cand" / f"u{u:06d}.npy"

    def cut(self, u: int) -> Path:
        return self.root / "cut" / f"u{u:06d}.npy"

    def shard(self, name: str) -> Path:
        return self.root / "shards" / name

    def kept(self, name: str) -> Path:
        assert name in KEPT, name
        return self.root / name

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def selection_file(self) -> Path:
        return self.root / "selection.json"

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST

    def prepare(self, config: dict, resume: bool, overwrite: bool) -> bool:
        """Make the folder ready; returns True when resuming earlier work."""
        if resume and overwrite:
            raise OutputError("--resume and --overwrite contradict each other; choose one")
        if overwrite:
            self._clear_own_files()
        elif self.manifest.exists():
            if resume:
                raise OutputError(
                    f"{self.out} already holds a finished run ({MANIFEST} exists); nothing to resume. "
                    "Use --overwrite to replace it, or another --out."
                )
            raise OutputError(
                f"{self.out} already holds a finished run ({MANIFEST} exists). "
                "Use --overwrite to replace it, or choose another --out."
            )
        elif self.root.exists() and not resume:
            raise OutputError(
                f"{self.out} holds an unfinished run ({INCOMPLETE}/). "
                "Add --resume to continue it, or --overwrite to start again."
            )
        elif self.out.exists() and any(self.out.iterdir()) and not self.root.exists():
            raise OutputError(
                f"{self.out} is not empty and holds no mtcnn-data run; refusing to write into it. "
                "Choose an empty or new --out."
            )
        elif resume and not self.run_file.exists():
            raise OutputError(
                f"--resume: {self.out} holds no unfinished run to continue (no {INCOMPLETE}/run.json). "
                "Check --out for a typo, or drop --resume to start a new run there."
            )
        resuming = resume
        if resuming:
            _check_same_config(read_json(self.run_file), config, self.run_file)
        else:
            atomic_write_json(self.run_file, config)
        return resuming

    def _clear_own_files(self):
        if not self.out.exists():
            return
        foreign = [p.name for p in self.out.iterdir() if not _is_own(p)]
        if foreign:
            raise OutputError(
                f"--overwrite refuses: {self.out} holds files mtcnn-data did not write "
                f"({', '.join(sorted(foreign)[:5])}{', ...' if len(foreign) > 5 else ''}). "
                "Choose another --out or remove them yourself."
            )
        for p in self.out.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()

    def remove_temporary(self) -> None:
        """Delete temporary files a stopped worker left half-written (``.NAME.PID.tmp``);
        whole files stay for ``--resume``. Call only once no worker writes any more."""
        if self.root.exists():
            for p in self.root.rglob(".*.tmp"):
                p.unlink(missing_ok=True)

    def finish(self, shard_names, manifest: dict) -> None:
        """Move finished shards into DIR, write the manifest last, drop the work state."""
        for name in shard_names:
            os.replace(self.shard(name), self.out / name)
        for name in KEPT:
            if self.kept(name).exists():
                os.replace(self.kept(name), self.out / name)
        atomic_write_json(self.manifest, manifest, allow_nan=False)  # JSON has no NaN: a manifest never holds one
        shutil.rmtree(self.root)


def _is_own(p: Path) -> bool:
    return p.name in (MANIFEST, INCOMPLETE, *KEPT) or (p.suffix == ".h5" and p.name.startswith("shard-"))


_MISSING = object()


def _check_same_config(old: dict, new: dict, where) -> None:
    """Refuse a resume whose fingerprint differs, naming each setting that changed."""
    diff = differences(old, new)
    named = [d for d in diff if d[0].startswith("settings.")]
    diff = named or diff  # the rest of the fingerprint is derived from the settings
    if diff:
        details = "; ".join(f"{_setting(k)} was {_shown(a)}, now {_shown(b)}" for k, a, b in diff[:5])
        more = f" (and {len(diff) - 5} more)" if len(diff) > 5 else ""
        raise OutputError(
            f"--resume refuses: the run in {where.parent.parent} was started with other settings: {details}{more}. "
            "Give the original value(s) to continue that run, or start again: rerun without --resume "
            "into another --out, or with --overwrite."
        )


def differences(old, new, path=()) -> list:
    """``(dotted path, old, new)`` of every leaf where two JSON values differ (lists of
    numbers, such as ``ratio``, compared whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in differences(old.get(k, _MISSING), new.get(k, _MISSING), (*path, str(k)))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and all(isinstance(v, dict) for v in old):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, (*path, str(i)))]
    return [] if old == new else [(".".join(path), old, new)]


def _setting(path: str) -> str:
    """``settings.min_size`` -> ``--min-size``; other paths as they are."""
    head, _, name = path.partition(".")
    if head == "settings" and name and "." not in name:
        return "--" + name.replace("_", "-")
    return path


def _shown(value) -> str:
    return "(absent)" if value is _MISSING else repr(value)
