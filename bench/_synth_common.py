"""What the synth benchmarks (``bench_synth.py``, ``bench_fleet.py``) share.

Importing it puts the pinned Node (``node_modules/.bin``) first on ``PATH``, before the
first ``aws_cdk`` import starts jsii. Then: the example app's context, the scripts and
features both bundle, one notebook written by hand with L1 classes the way the constructs
write it, and a timed in-process synthesis on the clocks of ``_clock``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import _clock

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
_NODE_BIN = REPO / "node_modules" / ".bin"
if _NODE_BIN.is_dir():  # jsii starts Node on the first aws_cdk import: use the pinned Node 22
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

SCRIPTS = {
    "10-tune-os.sh": "#!/bin/bash\nsysctl -q -w fs.inotify.max_user_watches=524288\n",
    "20-git.sh": "#!/bin/bash\ngit config --global init.defaultBranch main\n",
}


def context() -> dict:
    """The example app's feature flags (``cdk.json``)."""
    return json.loads((REPO / "cdk.json").read_text())["context"]


def inputs(**features: Any) -> tuple:
    """``(StartupScripts, Features)``: ``SCRIPTS`` (the first as root) and autostop after 60 idle
    minutes, plus ``features``. Fresh objects at every call."""
    from notebook_lifecycle import Autostop, Features, StartupScripts

    return (
        StartupScripts.from_files(SCRIPTS, as_root=["10-tune-os.sh"]),
        Features(autostop=Autostop(idle_minutes=60), **features),
    )


def notebook_by_hand(
    scope: Any, name: str, lifecycle_config_name: str, *, ids: tuple = ("Role", "Policy", "Resource"),
    description: str = "", retain: bool = False,
) -> Any:
    """What a ``NotebookInstance`` named ``name`` emits, with L1 classes only, in ``scope``: a ``CfnRole``
    SageMaker assumes, a ``CfnManagedPolicy`` with the same statements (``description``: its
    description, default "What the SageMaker notebook instance NAME needs") and a ``CfnNotebookInstance``
    that ``DependsOn`` the policy (retained with ``retain``). ``ids``: the three construct ids."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_sagemaker as sm

    stack = cdk.Stack.of(scope)
    role_id, policy_id, notebook_id = ids
    prefix = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/sagemaker/NotebookInstances"
    role = iam.CfnRole(
        scope,
        role_id,
        assume_role_policy_document={
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
            ],
            "Version": "2012-10-17",
        },
        description=f"Execution role of the SageMaker notebook instance {name}",
    )
    policy = iam.CfnManagedPolicy(
        scope,
        policy_id,
        description=description or f"What the SageMaker notebook instance {name} needs",
        path="/",
        roles=[role.ref],
        policy_document={
            "Statement": [
                {"Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"], "Effect": "Allow",
                 "Resource": prefix, "Sid": "WriteLifecycleLogGroup"},
                {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
                 "Resource": [f"{prefix}:log-stream:{name}/LifecycleConfigOnStart",
                              f"{prefix}:log-stream:{name}/jupyter.log"],
                 "Sid": "WriteLifecycleLogStreams"},
                {"Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                 "Effect": "Allow",
                 "Resource": f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:notebook-instance/{name}",
                 "Sid": "NotebookInstanceSelf"},
            ],
            "Version": "2012-10-17",
        },
    )
    notebook = sm.CfnNotebookInstance(
        scope,
        notebook_id,
        notebook_instance_name=name,
        instance_type="ml.t3.medium",
        role_arn=role.attr_arn,
        platform_identifier="notebook-al2023-v1",
        volume_size_in_gb=5,
        direct_internet_access="Enabled",
        root_access="Enabled",
        instance_metadata_service_configuration=sm.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
            minimum_instance_metadata_service_version="2"
        ),
        lifecycle_config_name=lifecycle_config_name,
    )
    if retain:
        notebook.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    notebook.node.add_dependency(policy)
    return notebook


def timed_synth(build: Callable, *args: Any, prefix: str = "bench-synth-") -> tuple:
    """Synthesize ``build(app, *args)`` in this process, in a temporary folder, after clearing the
    bundle cache (every run pays for its bundle, as a fresh ``cdk synth`` process would).

    Returns the ``_clock.Clock`` of the whole (tree construction plus ``app.synth()``), the clock of
    building the tree, and ``{template file name: its text}`` for every stack, in name order."""
    import aws_cdk as cdk

    from notebook_lifecycle.cdk import clear_bundle_cache

    clear_bundle_cache()
    with tempfile.TemporaryDirectory(prefix=prefix) as outdir:
        t0 = _clock.now()
        app = cdk.App(context=context(), outdir=outdir)
        build(app, *args)
        tree = _clock.now() - t0
        app.synth()
        elapsed = _clock.now() - t0
        templates = {p.name: p.read_text() for p in sorted(Path(outdir).glob("*.template.json"))}
    return elapsed, tree, templates


def resource_counts(template: dict) -> dict:
    """``{resource type: how many}`` of a template, sorted by type."""
    counts: dict = {}
    for res in template["Resources"].values():
        counts[res["Type"]] = counts.get(res["Type"], 0) + 1
    return dict(sorted(counts.items()))
