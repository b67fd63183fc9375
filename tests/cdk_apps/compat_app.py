"""A small app that touches every aws-cdk-lib API the constructs use; run by tests/test_cdk_versions.py
with other aws-cdk-lib versions (it prints a JSON summary of the synthesized template)."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import pathlib
import sys
import tempfile

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from notebook_lifecycle import Autostop, Features, StartupScripts
from notebook_lifecycle.cdk import INotebookInstance, LifecycleConfig, NotebookInstance, NotebookInstanceProps


def main() -> None:
    outdir = tempfile.mkdtemp(prefix="compat-")
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, "Compat", env=cdk.Environment(account="123456789012", region="us-east-1"))
    scripts = StartupScripts.from_files({"10-a.sh": "#!/bin/bash\necho a\n"})
    features = Features(autostop=Autostop(idle_minutes=30))
    shared = LifecycleConfig(stack, "Shared", on_start=scripts, features=features)
    subnet = ec2.Subnet.from_subnet_attributes(stack, "Sn", subnet_id="subnet-0123456789abcdef0", availability_zone="us-east-1a")
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    props = NotebookInstanceProps(lifecycle_config=shared, subnet=subnet, security_groups=[group])
    a = NotebookInstance(stack, "A", **dataclasses.asdict(props))
    b = NotebookInstance(stack, "B", props=props.replace(notebook_instance_name="Team-B"))
    locked = iam.Role.from_role_arn(stack, "Locked", "arn:aws:iam::123456789012:role/locked", mutable=False)
    c = NotebookInstance(stack, "C", on_start=scripts, role=locked)
    imported = NotebookInstance.from_notebook_instance_name(stack, "Imported", "Other")
    s3.Bucket(stack, "Data").grant_read(a)
    b.grant_start_stop(a)
    imported.grant_connect(a)
    assert all(isinstance(x, INotebookInstance) for x in (a, b, c, imported))
    try:
        NotebookInstance(stack, "Dup", on_start=scripts, notebook_instance_name="team-b")
        raise SystemExit("duplicate name not caught")
    except ValueError:
        pass
    assembly = app.synth()
    tpl = json.loads(open(assembly.get_stack_by_name("Compat").template_full_path).read())
    nbs = {k: v for k, v in tpl["Resources"].items() if v["Type"] == "AWS::SageMaker::NotebookInstance"}
    json.dump(
        {
            "aws_cdk": importlib.metadata.version("aws-cdk-lib"),
            "types": sorted(v["Type"] for v in tpl["Resources"].values()),
            "names": sorted(v["Properties"]["NotebookInstanceName"] for v in nbs.values()),
            "depends_on": {k: sorted(v.get("DependsOn", [])) for k, v in nbs.items()},
            "policies": sorted(k for k, v in tpl["Resources"].items() if v["Type"] == "AWS::IAM::Policy"),
            "immutable_warning": any(
                "notebook-lifecycle:immutableRole" in p.read_text() for p in pathlib.Path(outdir).glob("*.json")
            ),
            "template": tpl,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
