"""The ``notebook-lifecycle`` command: build lifecycle scripts, read them back.

Subcommands (each is one ``_add_<name>`` function registered in :data:`.main._COMMANDS`)::

    notebook-lifecycle build DIR [options]   folder (+ feature flags) -> on-start.sh
    notebook-lifecycle inspect FILE          what a script, its base64 or a template holds
    notebook-lifecycle unpack FILE -o DIR    the files of every bundle found, on disk
    notebook-lifecycle run-local TARGET      boot it in the local notebook-instance emulator
    notebook-lifecycle status [NAME...]      notebook instances and their lifecycle configurations (AWS)
    notebook-lifecycle logs NAME             lifecycle logs from CloudWatch (AWS)
    notebook-lifecycle pull CONFIG DIR       a deployed lifecycle configuration into a folder (AWS)
    notebook-lifecycle diff CONFIG DIR       deployed against what DIR builds (AWS)

Every error exits 2 with one line on stderr (``notebook-lifecycle: error: ...``)
and writes nothing. Standard library only, no CDK here; the AWS commands import
boto3 (the ``aws`` extra) when they run (``_aws.py``).
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
