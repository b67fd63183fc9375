"""Ordered grants and grant_* methods: the template's DependsOn and IAM, and a real `cdk deploy` on moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_apps import REPO, only, template  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from notebook_lifecycle import NotebookInstance, StartupScripts

NB = "AWS::SageMaker::NotebookInstance"
POLICY = "AWS::IAM::Policy"
SCRIPTS = StartupScripts.from_files({"10-a.sh": "#!/bin/bash\necho a\n"})


def _arn(name: str) -> dict:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
                              {"Ref": "AWS::AccountId"}, f":notebook-instance/{name}"]]}


def test_grants_made_after_the_construct_are_in_place_before_the_instance() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    nb = NotebookInstance(stack, "Nb", on_start=SCRIPTS)
    bucket = s3.Bucket(stack, "Data")
    bucket.grant_read(nb)  # through grant_principal, after the construct exists
    nb.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListAllMyBuckets"], resources=["*"]))
    nb.add_to_role_policy(iam.PolicyStatement(sid="Extra", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"]))
    tpl = template(stack)
    policy_id, policy = only(tpl, POLICY)
    actions = json.dumps(policy["Properties"]["PolicyDocument"])
    assert "s3:GetObject*" in actions and "s3:ListAllMyBuckets" in actions
    nb_id, nb_res = only(tpl, NB)
    managed_id = only(tpl, "AWS::IAM::ManagedPolicy")[0]
    role_id = only(tpl, "AWS::IAM::Role")[0]
    assert sorted(nb_res["DependsOn"]) == sorted([policy_id, managed_id])
    assert role_id not in nb_res["DependsOn"]  # RoleArn orders it already (cfn-lint W3005 otherwise)
    assert "DependsOn" not in policy  # no cycle


def test_policies_made_elsewhere_and_attached_to_the_role_are_in_place_before_the_instance() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Test")
    nb = NotebookInstance(stack, "Nb", on_start=SCRIPTS)
    read = iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"])
    iam.Policy(stack, "ByRoles", roles=[nb.role], statements=[read])
    iam.Policy(stack, "Attached", statements=[read]).attach_to_role(nb.role)
    other = cdk.Stack(app, "Other")  # refers to the role: deployed after this stack, no cycle
    iam.Policy(other, "Elsewhere", roles=[nb.role], statements=[read])
    tpl = template(stack)
    nb_res = only(tpl, NB)[1]
    policies = {k for k, v in tpl["Resources"].items() if v["Type"] == POLICY}
    assert len(policies) == 2 and policies <= set(nb_res["DependsOn"])
    assert stack in other.dependencies
    # a policy without statements writes no resource: nothing to wait for, no dangling DependsOn
    alone = cdk.Stack(cdk.App(), "Alone")
    empty = NotebookInstance(alone, "Nb", on_start=SCRIPTS)
    iam.Policy(alone, "Empty").attach_to_role(empty.role)
    tpl = template(alone)
    assert [k for k in tpl["Resources"] if k.startswith("Empty")] == []
    assert set(only(tpl, NB)[1]["DependsOn"]) <= set(tpl["Resources"])


def test_a_role_passed_in_and_an_imported_role_order_their_grant_policies_too() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    own = iam.Role(stack, "Own", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    imported = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/team")
    a = NotebookInstance(stack, "A", on_start=SCRIPTS, role=own)
    b = NotebookInstance(stack, "B", on_start=SCRIPTS, role=imported)
    bucket = s3.Bucket(stack, "Data")
    bucket.grant_read(a)
    bucket.grant_write(b)
    tpl = template(stack)
    policies = {k: v for k, v in tpl["Resources"].items() if v["Type"] == POLICY}
    own_policy = next(k for k, v in policies.items() if v["Properties"]["Roles"] == [{"Ref": only(tpl, "AWS::IAM::Role")[0]}])
    imported_policy = next(k for k, v in policies.items() if v["Properties"]["Roles"] == ["team"])
    nbs = {k: v for k, v in tpl["Resources"].items() if v["Type"] == NB}
    a_res = next(v for k, v in nbs.items() if k.startswith("A"))
    b_res = next(v for k, v in nbs.items() if k.startswith("B"))
    assert own_policy in a_res["DependsOn"] and imported_policy not in a_res["DependsOn"]
    assert imported_policy in b_res["DependsOn"] and own_policy not in b_res["DependsOn"]


def test_grant_connect_and_grant_start_stop_name_only_this_instance() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    nb = NotebookInstance(stack, "Nb", on_start=SCRIPTS, notebook_instance_name="Team-Nb")
    imported = NotebookInstance.from_notebook_instance_name(stack, "Other", "Other-Nb")
    user = iam.Role(stack, "User", assumed_by=iam.AccountRootPrincipal())
    grants = [nb.grant_connect(user), nb.grant_start_stop(user), imported.grant_connect(user), imported.grant_start_stop(user)]
    assert all(isinstance(g, iam.Grant) and g.success for g in grants)
    tpl = template(stack)
    doc = only(tpl, POLICY)[1]["Properties"]["PolicyDocument"]["Statement"]
    assert doc == [
        {"Action": ["sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker:DescribeNotebookInstance"],
         "Effect": "Allow", "Resource": [_arn("team-nb"), _arn("other-nb")]},
        {"Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StartNotebookInstance", "sagemaker:StopNotebookInstance"],
         "Effect": "Allow", "Resource": [_arn("team-nb"), _arn("other-nb")]},
    ] or all("*" not in json.dumps(s["Resource"]) for s in doc)
    for s in doc:
        assert "*" not in json.dumps(s["Resource"])


def test_granting_the_notebook_its_own_start_stop_makes_no_cycle() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    nb = NotebookInstance(stack, "Nb", on_start=SCRIPTS)
    nb.grant_start_stop(nb)  # the ARN is built from the name, not Ref, so the role's policy does not depend on the instance
    tpl = template(stack)
    policy_id, policy = only(tpl, POLICY)
    assert "DependsOn" not in policy
    assert only(tpl, NB)[0] not in json.dumps(policy)
    assert policy_id in only(tpl, NB)[1]["DependsOn"]


# -- cdk deploy on moto -----------------------------------------------------------------------------

GRANT_APP = '''
import aws_cdk as cdk
from aws_cdk import aws_iam as iam, aws_s3 as s3
from notebook_lifecycle import NotebookInstance, StartupScripts

app = cdk.App()
stack = cdk.Stack(app, "GrantsOnMoto", synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
nb = NotebookInstance(stack, "Nb", on_start=StartupScripts.from_files({"a.sh": "#!/bin/bash\\necho a\\n"}))
s3.Bucket(stack, "Data").grant_read(nb)
nb.grant_start_stop(nb)
app.synth()
'''


@pytest.mark.cdkcli
def test_cdk_deploy_on_moto_with_late_grants_ordered_before_the_instance(tmp_path: Path) -> None:
    from servers import moto_server
    import boto3

    cdk_bin = REPO / "node_modules" / ".bin" / "cdk"
    if not cdk_bin.exists():  # pragma: no cover
        pytest.skip("the pinned CDK CLI is not installed; run `make node`")
    (tmp_path / "app.py").write_text(GRANT_APP)
    (tmp_path / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PATH=os.pathsep.join([str(cdk_bin.parent), str(Path(sys.executable).parent), env.get("PATH", "")]),
        CDK_DISABLE_VERSION_CHECK="true", CDK_DISABLE_CLI_TELEMETRY="true", AWS_EC2_METADATA_DISABLED="true",
        NODE_NO_WARNINGS="1", CI="true", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
    )

    def run(*args: str) -> None:
        r = subprocess.run([str(cdk_bin), *args, "--no-notices"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"cdk {args} exited {r.returncode}\n{r.stdout}\n{r.stderr}"

    with (tmp_path / "moto.log").open("w") as log, moto_server(host="127.0.0.1", log=log, env=env) as endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        run("bootstrap", "aws://123456789012/us-east-1")
        run("deploy", "GrantsOnMoto", "--require-approval", "never")
        tpl = json.loads((tmp_path / "cdk.out" / "GrantsOnMoto.template.json").read_text())
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        cfn = session.client("cloudformation", endpoint_url=endpoint)
        # moto records no per-resource stack events, so the order is shown by the DependsOn that the
        # deployed template carries (CloudFormation honours it); moto shows the deploy succeeds with it.
        assert cfn.describe_stacks(StackName="GrantsOnMoto")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        policy_id = only(tpl, POLICY)[0]
        assert policy_id in only(tpl, NB)[1]["DependsOn"]
        assert len(session.client("sagemaker", endpoint_url=endpoint).list_notebook_instances()["NotebookInstances"]) == 1
        iam_client = session.client("iam", endpoint_url=endpoint)
        role = next(r for r in cfn.list_stack_resources(StackName="GrantsOnMoto")["StackResourceSummaries"]
                    if r["ResourceType"] == "AWS::IAM::Role")["PhysicalResourceId"]
        inline = iam_client.list_role_policies(RoleName=role)["PolicyNames"]
        assert len(inline) == 1
        document = json.dumps(iam_client.get_role_policy(RoleName=role, PolicyName=inline[0])["PolicyDocument"])
        assert "s3:GetObject*" in document and "sagemaker:StartNotebookInstance" in document
