"""Progress bars: tqdm on a terminal, nothing (not even the import) elsewhere."""

from __future__ import annotations

import os
import sys


def make_progress(total, desc: str, enabled=None, unit: str = "unit"):
    """A tqdm bar counting ``unit``s on a terminal, a no-op stand-in otherwise (tqdm is not
    even imported)."""
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)


class _NoProgress:
    """What the runners call on a progress bar, doing nothing."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass
