"""Errors raised by notebook-lifecycle."""

from __future__ import annotations

__all__ = ["BundleError"]


class BundleError(ValueError):
    """Bad input found while building a bundle (that is, at synth time).

    The message names the culprit (a file, a field, a flag) and says how to fix
    it. Nothing is written when it is raised.
    """
