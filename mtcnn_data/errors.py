"""Errors with messages that say what happened, what was expected, and what to do."""

from __future__ import annotations


class MtcnnDataError(Exception):
    """Base class of every error this package raises on bad input or bad state."""


class AnnotationError(MtcnnDataError, ValueError):
    """A malformed annotation file: ``FILE:LINE: expected ..., found ...``."""

    def __init__(self, path, line: int, expected: str, found: str, hint: str = ""):
        self.path = str(path)
        self.line = line
        self.expected = expected
        self.found = found
        msg = f"{self.path}:{line}: expected {expected}, found {found}"
        if hint:
            msg += f"\n  {hint}"
        super().__init__(msg)


class LayoutError(MtcnnDataError, FileNotFoundError):
    """A dataset root, list or image folder is missing or not where the layout puts it."""


class DatasetError(MtcnnDataError, ValueError):
    """A dataset kind or split that the registry does not have."""


class ImageError(MtcnnDataError):
    """An image cannot be read, is refused (too large), or does not match its annotation."""


class OutputError(MtcnnDataError):
    """The output directory is in a state that the run must not overwrite silently."""


class OptionError(MtcnnDataError, ValueError):
    """A setting (command-line option or API argument) out of range or in conflict:
    the message names the option, what it expects and the value found."""


class EvaluationError(MtcnnDataError, ValueError):
    """Detections and ground truth that cannot be scored together (unknown images, none
    of the annotated images, an optional dependency missing)."""


class ReuseError(MtcnnDataError):
    """``mine --reuse DIR``: DIR's kept P-Net candidates cannot stand in for this run's P-Net."""
