#!/usr/bin/env python3
"""Example app: one self-stopping SageMaker notebook instance built from ``assets/on-start``.

``make synth`` (``cdk synth`` from the repository root) writes
``cdk.out/NotebookLifecycleExample.template.json``. The stack is
environment-agnostic: synthesizing it needs no AWS credentials.

What it shows:

* ``assets/on-start/*.sh`` run at every start, in name order: ``10-tune-os.sh``
  as root (listed in ``as_root``), ``20-git-and-jupyter.sh`` as ec2-user;
* features: stop after 60 idle minutes, conda environments kept on the
  volume, the SSM agent stopped, ``~/.config`` and ``~/.ssh`` kept on the
  volume, ``~/SageMaker/.bin`` on PATH, and two environment variables;
* the role the construct creates holds only what that needs (see docs/constructs.md).

A locked-down variant (private subnet, KMS key, no direct internet, no root)
is in ``tests/cdk_apps/locked_down.py``.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from notebook_lifecycle import Autostop, Features, NotebookInstance, StartupScripts

HERE = Path(__file__).resolve().parent
STACK_NAME = "NotebookLifecycleExample"


class ExampleStack(cdk.Stack):
    """One notebook instance, its lifecycle configuration and its role."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        self.notebook = NotebookInstance(
            self,
            "Notebook",
            on_start=StartupScripts.from_directory(HERE / "assets" / "on-start", as_root=["10-tune-os.sh"]),
            features=Features(
                autostop=Autostop(idle_minutes=60),
                persistent_conda=True,
                stop_ssm_agent=True,
                persist_dirs=(".config", ".ssh"),
                bin_dir=True,
                environment={
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                    "MLFLOW_TRACKING_URI": "file:///home/ec2-user/SageMaker/mlruns",
                },
            ),
            instance_type="ml.t3.medium",
            volume_size_in_gb=20,
        )
        cdk.CfnOutput(self, "NotebookInstanceName", value=self.notebook.notebook_instance_name)
        cdk.CfnOutput(
            self, "LifecycleConfigName", value=self.notebook.lifecycle_config.lifecycle_config_name  # type: ignore[union-attr]
        )


def build(app: cdk.App) -> ExampleStack:
    stack = ExampleStack(
        app,
        STACK_NAME,
        description="notebook-lifecycle example: a self-stopping SageMaker notebook instance",
    )
    cdk.Tags.of(stack).add("project", "notebook-lifecycle-example")
    return stack


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
