"""The real, pinned CDK CLI deploys a small NotebookFleet (3 users, nested stacks) to a moto server.

``cdk bootstrap`` then ``cdk deploy`` of ``tests/cdk_apps/fleet.py``: the nested stack
templates go to the bootstrap bucket as file assets and moto's CloudFormation creates
the nested stacks from them. The test reads back, through boto3, the nested stacks (and
the shared lifecycle configuration's name each receives), the notebooks, their roles and
policies, and the grant of the one principal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk_apps import REPO  # noqa: I001
from cdk_apps.fleet import STACK_NAME, USERS
from servers import moto_clients, moto_env
from test_cdk_cli import ACCOUNT, CDK, REGION, VENV_BIN, _base_env, _deploy

pytestmark = pytest.mark.cdkcli

APP = f"{VENV_BIN / 'python'} {REPO / 'tests' / 'cdk_apps' / 'fleet.py'}"


def test_cdk_deploy_a_three_user_fleet_to_moto(moto_endpoint: str, tmp_path: Path) -> None:
    assert CDK.exists()
    env = moto_env(_base_env(), moto_endpoint, REGION)
    _deploy(STACK_NAME, tmp_path / "cdk.out", env, "--app", APP)

    cfn, sm, iam = moto_clients(moto_endpoint, "cloudformation", "sagemaker", "iam", region=REGION)

    parent = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert parent["StackStatus"] == "CREATE_COMPLETE"
    parent_resources = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    nested_ids = [r["PhysicalResourceId"] for r in parent_resources if r["ResourceType"] == "AWS::CloudFormation::Stack"]
    lcc = [r for r in parent_resources if r["ResourceType"] == "AWS::SageMaker::NotebookInstanceLifecycleConfig"]
    assert len(lcc) == 1 and 1 <= len(nested_ids) <= len(USERS)
    lcc_name = lcc[0]["PhysicalResourceId"].rsplit("/", 1)[-1]

    # every notebook, in a nested stack, with its own role and policy, and the shared configuration
    notebooks = {}
    for nested in nested_ids:
        stack = cfn.describe_stacks(StackName=nested)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack
        # the parent passes the shared configuration's name to each nested stack
        (param,) = stack["Parameters"]
        assert param["ParameterValue"] == lcc_name
        template = cfn.get_template(StackName=nested)["TemplateBody"]
        template = template if isinstance(template, dict) else json.loads(template)
        roles = {r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=nested)["StackResourceSummaries"]
                 if r["ResourceType"] == "AWS::IAM::Role"}
        for r in cfn.list_stack_resources(StackName=nested)["StackResourceSummaries"]:
            if r["ResourceType"] != "AWS::SageMaker::NotebookInstance":
                continue
            # moto's CloudFormation ignores resource names: the name given is in the template
            name = template["Resources"][r["LogicalResourceId"]]["Properties"]["NotebookInstanceName"]
            nb = sm.describe_notebook_instance(NotebookInstanceName=r["PhysicalResourceId"].rsplit("/", 1)[-1])
            notebooks[name] = template["Resources"][r["LogicalResourceId"]]["Properties"]
            role_name = nb["RoleArn"].rsplit("/", 1)[-1]
            assert role_name in roles
            (attached,) = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
            text = json.dumps(doc["Document"])
            assert f"notebook-instance/{name}\"" in text
            assert all(f"team-{u}" not in text for u in USERS if f"team-{u}" != name)
    assert sorted(notebooks) == [f"team-{u}" for u in USERS]
    # moto's notebook keeps only InstanceType and RoleArn from CloudFormation: the rest is read from
    # the deployed nested templates (what CloudFormation was given)
    for props in notebooks.values():
        assert props["LifecycleConfigName"] == {"Ref": param["ParameterKey"]}
    assert notebooks["team-bob"]["VolumeSizeInGB"] == 10
    assert notebooks["team-alice"]["VolumeSizeInGB"] == 5

    # the one principal may open alice's notebook, and nothing else
    access = next(r for r in parent_resources if r["LogicalResourceId"].startswith("AliceAccess")
                  and r["ResourceType"] == "AWS::IAM::Role")
    (policy_name,) = iam.list_role_policies(RoleName=access["PhysicalResourceId"])["PolicyNames"]
    doc = iam.get_role_policy(RoleName=access["PhysicalResourceId"], PolicyName=policy_name)["PolicyDocument"]
    (statement,) = doc["Statement"]
    assert sorted(statement["Action"]) == [
        "sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker:DescribeNotebookInstance"
    ]
    assert statement["Resource"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/team-alice"
