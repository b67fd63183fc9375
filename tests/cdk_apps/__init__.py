"""CDK apps and helpers shared by the construct, snapshot, compliance and CLI tests.

Everything here synthesizes in-process (jsii) and caches per process, so the
test modules share one example template and one locked-down template.
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "node_modules" / ".bin"

# jsii starts Node on the first aws_cdk import: use the pinned Node 22 when present.
if NODE_BIN.is_dir() and str(NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep)[:1]:
    os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402
from aws_cdk import assertions  # noqa: E402

EXAMPLE_STACK = "NotebookLifecycleExample"
LOCKED_DOWN_STACK = "NotebookLifecycleLockedDown"


@lru_cache(maxsize=1)
def recommended_context() -> dict[str, Any]:
    """The feature flags of the example app (cdk.json), as `cdk synth` passes them."""
    return dict(json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"])


def new_app(*, recommended: bool = True, outdir: Optional[str] = None, **kwargs: Any) -> cdk.App:
    context = dict(recommended_context()) if recommended else {}
    context.update(kwargs.pop("context", {}) or {})
    return cdk.App(context=context, outdir=outdir, **kwargs)


@lru_cache(maxsize=1)
def example_module() -> ModuleType:
    """The repository's app.py, imported without running its `__main__` block."""
    spec = importlib.util.spec_from_file_location("notebook_lifecycle_example_app", REPO / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_example(app: cdk.App) -> cdk.Stack:
    return example_module().build(app)


def build_locked_down(app: cdk.App) -> cdk.Stack:
    from .locked_down import build

    return build(app)


def build_locked_down_s3(app: cdk.App) -> cdk.Stack:
    """The locked-down setup with ``delivery="s3"`` (and the S3 gateway endpoint)."""
    from .locked_down import build_s3

    return build_s3(app)


def template(stack: cdk.Stack) -> dict[str, Any]:
    return assertions.Template.from_stack(stack).to_json()


@lru_cache(maxsize=None)
def _cached_template(name: str) -> str:
    builders: dict[str, Callable[[cdk.App], cdk.Stack]] = {
        "example": build_example,
        "locked_down": build_locked_down,
    }
    stack = builders[name](new_app())
    return json.dumps(template(stack))


def example_template() -> dict[str, Any]:
    """The example app's stack, synthesized once per process (a fresh copy each call)."""
    return json.loads(_cached_template("example"))


def locked_down_template() -> dict[str, Any]:
    """The locked-down stack, synthesized once per process (a fresh copy each call)."""
    return json.loads(_cached_template("locked_down"))


def resources_of(tpl: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl.get("Resources", {}).items() if v.get("Type") == type_}


def only(tpl: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources_of(tpl, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def build_variants(app: cdk.App) -> list[cdk.Stack]:
    """Stacks that exercise the construct's options (for cfn-lint and the cdk-nag IAM5 check)."""
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    from notebook_lifecycle import Autostop, Features, LifecycleConfig, NotebookInstance, StartupScripts
    from notebook_lifecycle.cdk import WARN_AUTOSTOP_ENDPOINT

    start = StartupScripts.from_files({"start.sh": "#!/bin/bash\necho start\n"})
    create = StartupScripts.from_files({"create.sh": "#!/bin/bash\necho create\n"})
    autostop = Features(autostop=Autostop(idle_minutes=30))
    stacks = []

    s = cdk.Stack(app, "VariantMinimal")
    NotebookInstance(s, "Notebook")
    stacks.append(s)

    s = cdk.Stack(app, "VariantOnCreateGzip")
    NotebookInstance(s, "Notebook", on_start=start, on_create=create, compression="gzip", deadline_seconds=100)
    stacks.append(s)

    s = cdk.Stack(app, "VariantShared")
    role = iam.Role(s, "TeamRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    lcc = LifecycleConfig(s, "Shared", on_start=start, features=autostop)
    NotebookInstance(s, "Alice", lifecycle_config=lcc, role=role, notebook_instance_name="Alice-Notebook")
    NotebookInstance(s, "Bob", lifecycle_config=lcc, role=role)
    stacks.append(s)

    s = cdk.Stack(app, "VariantImportedRoles")
    NotebookInstance(
        s, "Mutable", on_start=start, features=autostop,
        role=iam.Role.from_role_arn(s, "Team", "arn:aws:iam::123456789012:role/team-notebooks"),
    )
    NotebookInstance(
        s, "Immutable", on_start=start,
        role=iam.Role.from_role_arn(s, "Locked", "arn:aws:iam::123456789012:role/locked", mutable=False),
    )
    stacks.append(s)

    s = cdk.Stack(app, "VariantNetworked", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        s, "Vpc", vpc_id="vpc-0123456789abcdef0", vpc_cidr_block="10.0.0.0/16", availability_zones=["eu-west-1a"],
    )
    subnet = ec2.Subnet.from_subnet_attributes(
        s, "Subnet", subnet_id="subnet-0123456789abcdef0", availability_zone="eu-west-1a",
        route_table_id="rtb-0123456789abcdef0",
    )
    groups = [
        ec2.SecurityGroup(s, f"Sg{i}", vpc=vpc, allow_all_outbound=False, description=f"notebook group {i}")
        for i in range(2)
    ]
    nb = NotebookInstance(
        s, "Notebook", on_start=start, features=autostop, instance_type="ml.m5.xlarge", volume_size_in_gb=50,
        subnet=subnet, security_groups=groups, direct_internet_access=False, root_access=False,
        kms_key=kms.Key(s, "Key", enable_key_rotation=True),
        default_code_repository="https://github.com/example/analysis.git",
        additional_code_repositories=["https://github.com/example/tools.git"],
    )
    cdk.Annotations.of(nb).acknowledge_warning(WARN_AUTOSTOP_ENDPOINT, "test variant")
    stacks.append(s)
    return stacks
