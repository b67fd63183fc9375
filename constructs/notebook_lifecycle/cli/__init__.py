"""The ``notebook-lifecycle`` command: build lifecycle scripts, read them back.

Subcommands (each is one ``_add_<name>`` function registered in :data:`.main._COMMANDS`)::

    notebook-lifecycle build DIR [options]   folder (+ feature flags) -> on-start.sh
    notebook-lifecycle inspect FILE          what a script, its base64 or a template holds
    notebook-lifecycle unpack FILE -o DIR    the files of every bundle found, on disk
    notebook-lifecycle run-local TARGET      boot it in the local notebook-instance emulator

Every error exits 2 with one line on stderr (``notebook-lifecycle: error: ...``)
and writes nothing. Standard library only; no CDK here.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
