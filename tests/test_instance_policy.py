"""The notebook's managed policy is an L1 `CfnManagedPolicy` written as aws-cdk-lib's L2 would write it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_apps import REPO, only, template  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from notebook_lifecycle import Autostop, Features, NotebookInstance, StartupScripts

MP = "AWS::IAM::ManagedPolicy"
NB = "AWS::SageMaker::NotebookInstance"
SCRIPTS = StartupScripts.from_files({"10-a.sh": "#!/bin/bash\necho a\n"})
CREATE = StartupScripts.from_files({"create.sh": "#!/bin/bash\necho c\n"})


def _context(minimize: bool) -> dict:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    context["@aws-cdk/aws-iam:minimizePolicies"] = minimize
    return context


@pytest.mark.parametrize("delivery", ["inline", "s3"])
@pytest.mark.parametrize("minimize", [True, False])
@pytest.mark.parametrize("env", [None, cdk.Environment(account="123456789012", region="eu-west-1")])
def test_the_document_is_what_the_l2_managed_policy_renders(minimize: bool, env: Any, delivery: str) -> None:
    """The same statements through `iam.ManagedPolicy` give the same `PolicyDocument` (sorted or not)."""
    app = cdk.App(context=_context(minimize))
    ours = cdk.Stack(app, "Ours", env=env)
    nb = NotebookInstance(
        ours, "Nb", on_start=SCRIPTS, on_create=CREATE, notebook_instance_name="Mixed-Case-Name",
        features=Features(autostop=Autostop(idle_minutes=30)), delivery=delivery,
    )
    l2 = cdk.Stack(app, "L2", env=env)
    iam.ManagedPolicy(
        l2, "Policy",
        document=iam.PolicyDocument.from_json({"Version": "2012-10-17",
                                               "Statement": [s.statement_json() for s in nb._statements_list]}),
        roles=[iam.Role(l2, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))],
    )
    (_, mine), = [(k, v) for k, v in template(ours)["Resources"].items() if v["Type"] == MP]
    (_, theirs), = [(k, v) for k, v in template(l2)["Resources"].items() if v["Type"] == MP]
    # same document, byte for byte (key order included)
    assert json.dumps(mine["Properties"]["PolicyDocument"]) == json.dumps(theirs["Properties"]["PolicyDocument"])
    streams = mine["Properties"]["PolicyDocument"]["Statement"][1]["Resource"]
    assert len(streams) == 6  # on-start, on-create and jupyter.log, for the name as given and lowercased
    if delivery == "s3":  # both payload objects, sorted as the L2 sorts them
        assert len(mine["Properties"]["PolicyDocument"]["Statement"][3]["Resource"]) == 2


def test_add_statements_is_rendered_at_synth_and_checked() -> None:
    stack = cdk.Stack(cdk.App(context=_context(True)), "Test")
    nb = NotebookInstance(stack, "Nb", on_start=SCRIPTS)
    assert isinstance(nb.policy.node.default_child, iam.CfnManagedPolicy)
    statement = iam.PolicyStatement(sid="Extra", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"])
    nb.policy.add_statements(statement)
    statement.add_actions("s3:ListBucket")  # changed after it was added: the template has it as it is at synth
    with pytest.raises(ValueError, match="Nb/Policy"):
        nb.policy.add_statements(iam.PolicyStatement(actions=["s3:GetObject"]))  # no resource
    _, policy = only(template(stack), MP)
    extra = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "Extra"]
    assert extra == [{"Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
                      "Resource": "arn:aws:s3:::b/k", "Sid": "Extra"}]
    own = len(nb.policy_statements)
    assert [s["Sid"] for s in nb.policy.statements[:own]] == [s["Sid"] for s in nb.policy_statements]
    assert nb.policy.statements[own:] == [statement]


def test_own_role_ordering_is_set_up_by_the_first_grant_only() -> None:
    """No grant: nothing to order after (and no synth-time walk); `add_to_policy` and grants after
    the notebook still land in a policy the instance depends on."""
    stack = cdk.Stack(cdk.App(context=_context(True)), "Test")
    quiet = NotebookInstance(stack, "Quiet", on_start=SCRIPTS)
    granted = NotebookInstance(stack, "Granted", on_start=SCRIPTS)
    assert not quiet.role._notebook_lifecycle_has_policy
    granted.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListAllMyBuckets"], resources=["*"]))
    s3.Bucket(stack, "Data").grant_read(granted)
    assert granted.role._notebook_lifecycle_has_policy and not quiet.role._notebook_lifecycle_has_policy
    tpl = template(stack)
    policies = [k for k, v in tpl["Resources"].items() if v["Type"] == "AWS::IAM::Policy"]
    assert len(policies) == 1 and policies[0].startswith("GrantedRoleDefaultPolicy")
    depends = {k: sorted(v.get("DependsOn", [])) for k, v in tpl["Resources"].items() if v["Type"] == NB}
    (quiet_id,) = [k for k in depends if k.startswith("Quiet")]
    (granted_id,) = [k for k in depends if k.startswith("Granted")]
    assert len(depends[quiet_id]) == 1 and depends[quiet_id][0].startswith("QuietPolicy")
    assert policies[0] in depends[granted_id] and len(depends[granted_id]) == 2
