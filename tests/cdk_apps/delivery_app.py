"""A notebook instance whose on-start folder (``$NOTEBOOK_LIFECYCLE_FOLDER``) is delivered with ``"auto"``.

The CDK CLI runs it (``cdk deploy --app "python tests/cdk_apps/delivery_app.py"``) in test_cdk_cli.py:
a 200 KB folder goes through S3, so ``cdk deploy`` publishes the payload as a file asset.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "constructs"))

from notebook_lifecycle import NotebookInstance, StartupScripts  # noqa: E402

STACK_NAME = "NotebookLifecycleDelivery"


def build(app: cdk.App, folder: str) -> cdk.Stack:
    stack = cdk.Stack(app, STACK_NAME, description="notebook-lifecycle: S3 delivery of a large folder")
    NotebookInstance(stack, "Notebook", on_start=StartupScripts.from_directory(folder))
    return stack


if __name__ == "__main__":
    cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"
    app = cdk.App(context=json.loads(cdk_json.read_text())["context"])
    build(app, os.environ["NOTEBOOK_LIFECYCLE_FOLDER"])
    app.synth()
