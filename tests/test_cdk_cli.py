"""The real, pinned CDK CLI (node_modules/.bin/cdk) on the example app.

* ``cdk synth`` from the repository root, as ``make synth`` runs it (but into a
  temporary folder): exit 0, no warnings, the template holds the expected resources
  and the same lifecycle content as an in-process synthesis (so the bundle is
  byte-identical across processes).
* ``cdk bootstrap`` / ``cdk deploy`` / ``cdk destroy`` against a moto server that
  this module starts on localhost (dummy credentials, us-east-1), reading the
  lifecycle configuration back through boto3. moto's CloudFormation ignores resource
  names, so physical ids come from ``list_stack_resources``. The server is stopped
  in a finalizer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_apps import EXAMPLE_STACK, REPO, example_template, only  # noqa: I001
from servers import moto_clients, moto_env

pytestmark = pytest.mark.cdkcli

CDK = REPO / "node_modules" / ".bin" / "cdk"
VENV_BIN = Path(sys.executable).parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"

if not CDK.exists():  # pragma: no cover
    pytest.skip(f"the pinned CDK CLI is not installed ({CDK}); run `make node`", allow_module_level=True)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PATH=os.pathsep.join([str(CDK.parent), str(VENV_BIN), env.get("PATH", "")]),
        CDK_DISABLE_VERSION_CHECK="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
        AWS_EC2_METADATA_DISABLED="true",
        NODE_NO_WARNINGS="1",
        CI="true",
    )
    return env


def _cdk(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(CDK), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, f"cdk {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _deploy(stack: str, outdir: Path, env: dict[str, str], *app: str, timeout: float = 300) -> None:
    """``cdk bootstrap`` then ``cdk deploy`` of ``stack`` (``app``: ``--app`` and its command, if any)."""
    common = (*app, "--no-notices", "-o", str(outdir))
    _cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}", *common, env=env)
    _cdk("deploy", stack, "--require-approval", "never", *common, env=env, timeout=timeout)


# -- synth ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = _cdk("synth", "--no-notices", "--quiet", "-o", str(outdir), env=_base_env())
    return outdir, result


def test_cdk_synth_writes_the_example_template_without_warnings(
    synthesized: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    outdir, result = synthesized
    output = result.stdout + result.stderr
    assert "warning" not in output.lower(), output
    assert "feature flags" not in output, output
    path = outdir / f"{EXAMPLE_STACK}.template.json"
    assert path.is_file()
    tpl = json.loads(path.read_text())
    types = sorted(r["Type"] for r in tpl["Resources"].values() if r["Type"] != "AWS::CDK::Metadata")
    assert types == [
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Role",
        "AWS::SageMaker::NotebookInstance",
        "AWS::SageMaker::NotebookInstanceLifecycleConfig",
    ]
    content = only(tpl, LCC)[1]["Properties"]["OnStart"][0]["Content"]
    assert isinstance(content, str) and len(content) <= 16384
    # the CLI's process renders the very bytes an in-process synthesis does
    assert content == only(example_template(), LCC)[1]["Properties"]["OnStart"][0]["Content"]
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


# -- deploy to moto ------------------------------------------------------------------------------------


def test_cdk_deploy_to_moto_and_read_the_lifecycle_config_back(moto_endpoint: str, tmp_path: Path) -> None:
    env = moto_env(_base_env(), moto_endpoint, REGION)
    outdir = tmp_path / "cdk.out"
    _deploy(EXAMPLE_STACK, outdir, env)

    cfn, sm, iam = moto_clients(moto_endpoint, "cloudformation", "sagemaker", "iam", region=REGION)
    stack = cfn.describe_stacks(StackName=EXAMPLE_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    physical = {
        r["ResourceType"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=EXAMPLE_STACK)["StackResourceSummaries"]
    }

    deployed_tpl = json.loads((outdir / f"{EXAMPLE_STACK}.template.json").read_text())
    expected = only(deployed_tpl, LCC)[1]["Properties"]["OnStart"][0]["Content"]
    lcc_name = physical[LCC].rsplit("/", 1)[-1]  # moto's physical id is the ARN
    config = sm.describe_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName=lcc_name)
    assert config["OnStart"] == [{"Content": expected}]
    assert "OnCreate" not in config or config["OnCreate"] == []

    notebook_name = physical["AWS::SageMaker::NotebookInstance"].rsplit("/", 1)[-1]
    notebook = sm.describe_notebook_instance(NotebookInstanceName=notebook_name)
    assert notebook["InstanceType"] == "ml.t3.medium"
    role_name = physical["AWS::IAM::Role"]
    assert notebook["RoleArn"].endswith(f"/{role_name}")
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [physical["AWS::IAM::ManagedPolicy"]]

    # moto's CloudFormation deletes an AWS::IAM::ManagedPolicy without detaching it, so deleting the
    # role fails ("must detach all policies first"); real CloudFormation detaches it. Do it for moto.
    iam.detach_role_policy(RoleName=role_name, PolicyArn=physical["AWS::IAM::ManagedPolicy"])
    _cdk("destroy", EXAMPLE_STACK, "--force", "--no-notices", "-o", str(outdir), env=env)
    remaining = [
        s for s in cfn.list_stacks()["StackSummaries"]
        if s["StackName"] == EXAMPLE_STACK and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert remaining == []
    assert sm.list_notebook_instances()["NotebookInstances"] == []


def test_cdk_deploy_publishes_a_200_kb_folder_as_an_s3_asset_that_the_script_fetches(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """``delivery="auto"`` on a 200 KB folder: ``cdk deploy`` publishes the payload to the bootstrap
    bucket (moto), the deployed lifecycle script names that object and its sha256, the role may read
    exactly that object; and, where the emulator runs, the deployed script fetches it and runs every step."""
    import base64
    import hashlib

    from notebook_lifecycle.emulator import Emulator, unavailable_reason
    from notebook_lifecycle.unbundle import read_script
    from test_delivery import realistic_folder

    folder = realistic_folder(tmp_path / "setup")
    env = moto_env(_base_env(), moto_endpoint, REGION, NOTEBOOK_LIFECYCLE_FOLDER=str(folder))
    stack_name = "NotebookLifecycleDelivery"
    app = f"{VENV_BIN / 'python'} tests/cdk_apps/delivery_app.py"
    outdir = tmp_path / "cdk.out"
    _deploy(stack_name, outdir, env, "--app", app)

    cfn, sm, s3, iam = moto_clients(moto_endpoint, "cloudformation", "sagemaker", "s3", "iam", region=REGION)
    physical = {
        r["ResourceType"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    config = sm.describe_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=physical[LCC].rsplit("/", 1)[-1]
    )
    content = config["OnStart"][0]["Content"]
    assert len(content) <= 16384
    script = base64.b64decode(content).decode()
    bucket = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    found = read_script(script)
    assert found.s3 is not None and (found.s3.bucket, found.s3.region) == (bucket, REGION)
    body = s3.get_object(Bucket=bucket, Key=found.s3.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == found.s3.sha256 and len(body) == found.s3.size

    policy_arn = physical["AWS::IAM::ManagedPolicy"]
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    if isinstance(document, str):
        document = json.loads(document)
    fetch = [s for s in document["Statement"] if s.get("Sid") == "FetchLifecyclePayload"]
    assert fetch and fetch[0]["Action"] == "s3:GetObject"
    assert fetch[0]["Resource"] == f"arn:aws:s3:::{bucket}/{found.s3.key}"

    reason = unavailable_reason()
    if reason is None:  # the deployed script, run as root in the emulator, fetches from moto and runs the steps
        from conftest import HOST_PYTHON_DIRS, summary_rows

        emu = Emulator(tmp_path / "state", binds=HOST_PYTHON_DIRS, env={
            "AWS_ENDPOINT_URL_S3": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        }, forward=[int(moto_endpoint.rsplit(":", 1)[1])])  # the emulator has a network of its own
        result = emu.run(script)
        assert not result.failed, result.summary()
        assert f"fetched s3://{bucket}/{found.s3.key}" in result.output
        assert summary_rows(result.output) == {
            "10-conda-env.sh": ("ec2-user", "ok"), "20-jupyter.sh": ("ec2-user", "ok"),
        }, result.output

    iam.detach_role_policy(RoleName=physical["AWS::IAM::Role"], PolicyArn=policy_arn)
    _cdk("destroy", stack_name, "--app", app, "--force", "--no-notices", "-o", str(outdir), env=env)
