"""The Python API for producing data: what ``mtcnn-data gen-pnet``, ``mine`` and ``verify`` do.

Import these from :mod:`mtcnn_data` (``from mtcnn_data import gen_pnet, GenPnetConfig``);
they load their modules (h5py, and torch for ``mine``) on first use. Settings are the
command-line options with underscores (``min_size`` for ``--min-size``), given as a
:class:`~mtcnn_data.jobs.config.GenPnetConfig` / :class:`~mtcnn_data.jobs.config.MineConfig`
or as keywords; how the run goes (workers, backend, resume, ...) is a
:class:`~mtcnn_data.engine.run.RunOptions`. Bad settings raise
:class:`~mtcnn_data.errors.OptionError` before any work.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["gen_pnet", "mine"]


def gen_pnet(out, config=None, *, run=None, **settings) -> dict:
    """Cut balanced P-Net data (12x12) into the folder ``out``; returns the manifest.

    ``gen_pnet("data/pnet", wider="/data/widerface", lfw_net="/data/lfw_net", min_size=12)``
    (with no source, the bundled sample dataset), or ``gen_pnet(out, GenPnetConfig(...))``.
    """
    from .jobs.config import GenPnetConfig
    from .jobs.gen_pnet import gen_pnet_config

    return gen_pnet_config(out, _config(GenPnetConfig, config, settings), _run(run))


def mine(out, config=None, *, run=None, **settings) -> dict:
    """Mine R-Net (24x24) or O-Net (48x48) data into ``out`` with trained earlier stage(s);
    returns the manifest: ``mine(out, stage="rnet", pnet="pnet.pt", wider="/data/widerface")``."""
    from .jobs.config import MineConfig
    from .jobs.mine import mine_config

    return mine_config(out, _config(MineConfig, config, settings), _run(run))


def _config(config_class, config, settings: dict):
    from .errors import OptionError

    if config is not None and settings:
        raise OptionError(f"give a {config_class.__name__} or keyword settings, not both "
                          f"(use dataclasses.replace(config, {', '.join(f'{k}=...' for k in settings)}))")
    if config is None:
        return config_class(**settings)
    if not isinstance(config, config_class):
        raise OptionError(f"expected a {config_class.__name__}, got {type(config).__name__}")
    return config


def _run(run: Optional[object]):
    from .engine.run import RunOptions

    return run if run is not None else RunOptions()
