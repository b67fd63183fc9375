"""The composition example (tests/cdk_apps/composition.py), end to end.

* the template: three notebooks share one lifecycle configuration whose content carries the
  bucket name as a deploy-time value; the hand-written ``CfnNotebookInstance`` runs a new
  configuration (its previous on-start first, then the governed features) and its role gets
  the features' IAM on its ARN; the grant is in place before the notebook starts;
* cfn-lint passes; the five cdk-nag packs find nothing in what the library creates;
* the real CDK CLI synthesizes it, deploys it to a moto server and destroys it, and the
  deployed lifecycle configuration carries the real bucket name, base64-encoded.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from cdk_apps import REPO, new_app, resources_of  # noqa: I001  (sets PATH for jsii first)
from cdk_apps.composition import LEGACY_NAME, NOTEBOOKS, STACK_NAME, build

from nag import PACKS, nag_findings

from notebook_lifecycle.testing import readable_template
from notebook_lifecycle.unbundle import read_bundles
from servers import moto_server

BIN = Path(sys.executable).parent
CDK = REPO / "node_modules" / ".bin" / "cdk"
APP = f"{sys.executable} tests/cdk_apps/composition.py"
LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
NB = "AWS::SageMaker::NotebookInstance"
# What the library creates here: the shared configuration, the three notebooks (role, managed policy,
# instance), and what NotebookGovernance adds to the hand-written notebook. Not the notebooks' role
# default policy: it holds the app's own grant (bucket.grant_read), which cdk-nag judges on its own.
OWN = re.compile(
    rf"^{STACK_NAME}/(TeamLifecycle|Analyst|Engineer|Scientist|LegacyLifecycleGoverned|LegacyNotebook/GovernancePolicy)/"
)
NOT_OWN = re.compile(r"/Role/DefaultPolicy/")


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = new_app(outdir=str(tmp_path_factory.mktemp("composition")))
    build(app)
    assembly = app.synth()
    path = Path(assembly.get_stack_by_name(STACK_NAME).template_full_path)
    return {"path": path, "template": json.loads(path.read_text())}


def _content(tpl: dict[str, Any], logical_prefix: str) -> Any:
    (res,) = [r for k, r in resources_of(tpl, LCC).items() if k.startswith(logical_prefix)]
    return res["Properties"]["OnStart"][0]["Content"]


def test_three_notebooks_share_one_configuration_with_the_bucket_as_a_deploy_time_value(synthesized) -> None:
    tpl = synthesized["template"]
    (bucket_id,) = resources_of(tpl, "AWS::S3::Bucket")
    team_lc = next(k for k in resources_of(tpl, LCC) if k.startswith("TeamLifecycle"))
    notebooks = {r["Properties"]["NotebookInstanceName"]: r for r in resources_of(tpl, NB).values()}
    assert set(notebooks) == {*NOTEBOOKS, LEGACY_NAME}
    for name in NOTEBOOKS:
        assert notebooks[name]["Properties"]["LifecycleConfigName"] == {
            "Fn::GetAtt": [team_lc, "NotebookInstanceLifecycleConfigName"]
        }
    content = _content(tpl, "TeamLifecycle")
    slots = [p for p in content["Fn::Base64"]["Fn::Join"][1] if not isinstance(p, str)]
    assert slots == [{"Fn::Base64": {"Ref": bucket_id}}]
    view = _content(readable_template(tpl), "TeamLifecycle")
    assert view["deploy_time_values"] == {"DATA_BUCKET": {"Ref": bucket_id}}
    # the governance Aspect added autostop and the SSM agent stop to the shared configuration
    assert [e["name"] for e in view["plan"]] == [
        "feature:stop-ssm-agent", "feature:environment", "feature:persist-dirs", "feature:autostop", "10-data-bucket.sh",
    ]
    # the grant is ordered: the analyst's instance waits for the role's default policy
    (grant_id,) = resources_of(tpl, "AWS::IAM::Policy")
    assert grant_id in notebooks["analyst"]["DependsOn"]


def test_the_hand_written_notebook_runs_its_previous_script_first_and_its_role_is_granted(synthesized) -> None:
    tpl = synthesized["template"]
    legacy = next(r for r in resources_of(tpl, NB).values() if r["Properties"]["NotebookInstanceName"] == LEGACY_NAME)
    governed = legacy["Properties"]["LifecycleConfigName"]["Fn::GetAtt"][0]
    assert governed.startswith("LegacyLifecycleGoverned")
    (found,) = [b for b in read_bundles(json.dumps(tpl)) if b.label.startswith(governed)]
    assert [e.name for e in found.plan] == ["previous-on-start.sh", "feature:stop-ssm-agent", "feature:autostop"]
    previous = base64.b64decode(resources_of(tpl, LCC)["LegacyLifecycle"]["Properties"]["OnStart"][0]["Content"]).decode()
    assert found.text("previous-on-start.sh") == previous
    policy_id, policy = next(
        (k, r) for k, r in resources_of(tpl, "AWS::IAM::ManagedPolicy").items() if k.startswith("LegacyNotebookGovernancePolicy")
    )
    assert policy["Properties"]["Roles"] == [{"Ref": next(k for k in resources_of(tpl, "AWS::IAM::Role") if k.startswith("LegacyRole"))}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"]
    assert statement["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
                          {"Ref": "AWS::AccountId"}, f":notebook-instance/{LEGACY_NAME}"]]
    }
    assert policy_id in legacy["DependsOn"]


def test_cfn_lint_passes(synthesized) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(synthesized["path"])],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_cdk_nag_finds_nothing_in_what_the_library_creates(pack: str, tmp_path: Path) -> None:
    findings = nag_findings(build, pack, tmp_path)
    assert [(rule, path) for rule, path in findings if OWN.match(path) and not NOT_OWN.search(path)] == []
    assert findings, f"{pack} reported nothing at all: did it run?"  # the app's VPC/bucket are flagged by every pack


# -- the real CDK CLI ----------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PATH=os.pathsep.join([str(CDK.parent), str(BIN), env.get("PATH", "")]),
        CDK_DISABLE_VERSION_CHECK="true", CDK_DISABLE_CLI_TELEMETRY="true", AWS_EC2_METADATA_DISABLED="true",
        NODE_NO_WARNINGS="1", CI="true", **extra,
    )
    return env


def _cdk(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(CDK), *args, "--app", APP, "--no-notices"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"cdk {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (tmp_path_factory.mktemp("moto") / "moto.log").open("w") as log:
        with moto_server(host="127.0.0.1", log=log, env=_env()) as endpoint:
            yield endpoint


@pytest.mark.cdkcli
def test_cdk_cli_synth_deploy_and_destroy_on_moto(moto_endpoint: str, tmp_path: Path) -> None:
    import boto3

    if not CDK.exists():  # pragma: no cover
        pytest.skip(f"the pinned CDK CLI is not installed ({CDK}); run `make node`")
    outdir = tmp_path / "cdk.out"
    _cdk("synth", "--quiet", "-o", str(outdir), env=_env())
    tpl = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    assert len(resources_of(tpl, NB)) == 4

    region, account = "us-east-1", "123456789012"
    env = _env(AWS_ENDPOINT_URL=moto_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION=region, AWS_DEFAULT_REGION=region)
    _cdk("bootstrap", f"aws://{account}/{region}", "-o", str(outdir), env=env)
    _cdk("deploy", STACK_NAME, "--require-approval", "never", "-o", str(outdir), env=env)

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    cfn = session.client("cloudformation", endpoint_url=moto_endpoint)
    sm = session.client("sagemaker", endpoint_url=moto_endpoint)
    iam = session.client("iam", endpoint_url=moto_endpoint)
    assert cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    resources = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    bucket_name = next(physical[k] for k in physical if k.startswith("Data") and "Policy" not in k)

    # the shared configuration, as SageMaker holds it: the real bucket name, carried as base64
    team = next(k for k in physical if k.startswith("TeamLifecycle"))
    config = sm.describe_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=physical[team].rsplit("/", 1)[-1]
    )
    script = base64.b64decode(config["OnStart"][0]["Content"]).decode()
    assert f"echo '{base64.b64encode(bucket_name.encode()).decode()}'>/startup/.notebook-lifecycle/features/DATA_BUCKET.b64\n" in script
    (found,) = read_bundles(script)
    assert found.deploy_values == {"DATA_BUCKET": bucket_name}
    assert len(sm.list_notebook_instances()["NotebookInstances"]) == 4

    # moto's CloudFormation deletes an AWS::IAM::ManagedPolicy without detaching it (real
    # CloudFormation detaches it), so deleting a role would fail: detach them for moto.
    for r in resources:
        if r["ResourceType"] == "AWS::IAM::Role":
            for p in iam.list_attached_role_policies(RoleName=r["PhysicalResourceId"])["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=r["PhysicalResourceId"], PolicyArn=p["PolicyArn"])
    # moto's CloudFormation can try the VPC before what is inside it is gone ("has dependencies"); real
    # CloudFormation waits. A second destroy deletes what remains (and must succeed).
    try:
        _cdk("destroy", STACK_NAME, "--force", "-o", str(outdir), env=env)
    except AssertionError as exc:
        assert "has dependencies and cannot be deleted" in str(exc), exc
        _cdk("destroy", STACK_NAME, "--force", "-o", str(outdir), env=env)
    assert [s for s in cfn.list_stacks()["StackSummaries"]
            if s["StackName"] == STACK_NAME and s["StackStatus"] != "DELETE_COMPLETE"] == []
    assert sm.list_notebook_instances()["NotebookInstances"] == []
