"""The NotebookGovernance Aspect: every notebook instance of an app gets the listed features."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cdk_apps import new_app, only, resources_of, template  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

import notebook_lifecycle
from notebook_lifecycle import Autostop, Features, LifecycleConfig, NotebookInstance, StartupScripts
from notebook_lifecycle.cdk import WARN_AUTOSTOP_ENDPOINT, NotebookGovernance, merge_features
from notebook_lifecycle.unbundle import read_bundles
from conftest import summary_rows

LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
NB = "AWS::SageMaker::NotebookInstance"
SCRIPTS = StartupScripts.from_files({"10-hello.sh": "#!/bin/bash\necho hello\n"})
ORG = Features(autostop=Autostop(idle_minutes=90), stop_ssm_agent=True, environment={"ORG": "acme", "TEAM": "org"})
PREVIOUS = "#!/bin/bash\n# the team's own on-start, kept byte for byte\necho previous >/tmp/previous-ran\n"


def _govern(stack: cdk.Stack, features: Features = ORG) -> NotebookGovernance:
    aspect = NotebookGovernance(features=features)
    cdk.Aspects.of(stack.node.root).add(aspect, priority=cdk.AspectPriority.MUTATING)
    return aspect


def _stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Gov", env=cdk.Environment(account="123456789012", region="eu-west-1"))


def _bundles(tpl: dict[str, Any]) -> dict[str, Any]:
    return {b.label: b for b in read_bundles(json.dumps(tpl))}


def _policy_statements(tpl: dict[str, Any], type_: str = "AWS::IAM::ManagedPolicy") -> list[dict[str, Any]]:
    return [s for r in resources_of(tpl, type_).values() for s in r["Properties"]["PolicyDocument"]["Statement"]]


def test_exported_lazily_like_the_other_constructs() -> None:
    assert notebook_lifecycle.NotebookGovernance is NotebookGovernance
    assert "NotebookGovernance" not in notebook_lifecycle.__all__


def test_merge_keeps_explicit_settings() -> None:
    explicit = Features(autostop=Autostop(idle_minutes=30), environment={"TEAM": "mine"}, persist_dirs=(".ssh",))
    merged = merge_features(explicit, ORG)
    assert merged.autostop == Autostop(idle_minutes=30)
    assert dict(merged.environment) == {"ORG": "acme", "TEAM": "mine"}
    assert merged.stop_ssm_agent and merged.persist_dirs == (".ssh",)
    assert merge_features(None, ORG) == ORG


def test_a_notebook_gets_missing_features_and_their_iam_on_its_own_arn() -> None:
    stack = _stack()
    NotebookInstance(stack, "Plain", on_start=SCRIPTS, notebook_instance_name="plain")
    NotebookInstance(
        stack, "Explicit", on_start=SCRIPTS, notebook_instance_name="explicit",
        features=Features(autostop=Autostop(idle_minutes=30), environment={"TEAM": "mine"}),
    )
    _govern(stack)
    tpl = template(stack)
    bundles = _bundles(tpl)
    assert len(bundles) == 2
    for b in bundles.values():
        assert [e.name for e in b.plan] == ["feature:stop-ssm-agent", "feature:environment", "feature:autostop", "10-hello.sh"]
    plain = next(b for label, b in bundles.items() if label.startswith("Plain"))
    explicit = next(b for label, b in bundles.items() if label.startswith("Explicit"))
    assert "NL_IDLE_MINUTES='90'" in plain.text(".notebook-lifecycle/features/autostop.conf")
    assert "NL_IDLE_MINUTES='30'" in explicit.text(".notebook-lifecycle/features/autostop.conf")  # explicit wins
    assert "export TEAM='mine'" in explicit.text(".notebook-lifecycle/features/profile.sh")
    assert "export ORG='acme'" in explicit.text(".notebook-lifecycle/features/profile.sh")
    # the plain notebook's policy gains Describe/Stop on its own ARN only; the explicit one had them
    statements = _policy_statements(tpl)
    gov = [s for s in statements if s.get("Sid") == "NotebookGovernance"]
    assert gov == [{
        "Sid": "NotebookGovernance", "Effect": "Allow",
        "Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
        "Resource": "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/plain",
    }]
    # in the policy the instance depends on
    (policy_id,) = [k for k, r in resources_of(tpl, "AWS::IAM::ManagedPolicy").items()
                    if any(s.get("Sid") == "NotebookGovernance" for s in r["Properties"]["PolicyDocument"]["Statement"])]
    plain_nb = next(r for r in resources_of(tpl, NB).values() if r["Properties"]["NotebookInstanceName"] == "plain")
    assert policy_id in plain_nb["DependsOn"]


def test_a_shared_config_changes_once_and_every_notebook_gets_the_iam() -> None:
    stack = _stack()
    lcc = LifecycleConfig(stack, "Shared", on_start=SCRIPTS)
    for name in ("alice", "bob"):
        NotebookInstance(stack, name.title(), lifecycle_config=lcc, notebook_instance_name=name)
    _govern(stack)
    tpl = template(stack)
    assert len(resources_of(tpl, LCC)) == 1
    assert lcc.features == ORG and "autostop" in lcc.bundle.feature_names
    gov = sorted(s["Resource"] for s in _policy_statements(tpl) if s.get("Sid") == "NotebookGovernance")
    assert gov == [f"arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/{n}" for n in ("alice", "bob")]


def test_a_notebook_without_a_config_gets_one_and_its_on_start_log_stream() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Bare", notebook_instance_name="bare")
    _govern(stack)
    tpl = template(stack)
    (_, lc), = resources_of(tpl, LCC).items()
    props = only(tpl, NB)[1]["Properties"]
    assert props["LifecycleConfigName"]["Fn::GetAtt"][1] == "NotebookInstanceLifecycleConfigName"
    assert nb.node.try_find_child("GovernanceLifecycleConfig") is not None
    assert nb.lifecycle_config is nb.node.find_child("GovernanceLifecycleConfig")  # the one in use
    logs = [s for s in _policy_statements(tpl) if s.get("Sid") == "NotebookGovernanceLogs"]
    assert logs[0]["Resource"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/NotebookInstances:log-stream:bare/LifecycleConfigOnStart"
    )


def _raw(stack: cdk.Stack, *, name: str | None = "raw-notebook", with_config: bool = True) -> sagemaker.CfnNotebookInstance:
    role = iam.Role(stack, "RawRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    previous = None
    if with_config:
        previous = sagemaker.CfnNotebookInstanceLifecycleConfig(
            stack, "TeamConfig",
            on_start=[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                content=base64.b64encode(PREVIOUS.encode()).decode())],
        )
    return sagemaker.CfnNotebookInstance(
        stack, "RawNotebook", instance_type="ml.t3.medium", role_arn=role.role_arn, notebook_instance_name=name,
        lifecycle_config_name=previous.attr_notebook_instance_lifecycle_config_name if previous else None,
    )


def test_a_raw_notebook_gets_a_config_that_runs_its_previous_script_first() -> None:
    stack = _stack()
    _raw(stack)
    _govern(stack)
    tpl = template(stack)
    configs = resources_of(tpl, LCC)
    assert len(configs) == 2  # the previous one stays (unused); the new one wraps it
    new_id = next(k for k in configs if k.startswith("TeamConfigGoverned"))
    props = only(tpl, NB)[1]
    assert props["Properties"]["LifecycleConfigName"] == {"Fn::GetAtt": [new_id, "NotebookInstanceLifecycleConfigName"]}
    (found,) = [b for b in read_bundles(json.dumps(tpl)) if b.label.startswith(new_id)]
    assert found.plan[0].name == "previous-on-start.sh" and found.plan[0].user == "root"
    assert [e.name for e in found.plan[1:]] == ["feature:stop-ssm-agent", "feature:environment", "feature:autostop"]
    assert found.text("previous-on-start.sh") == PREVIOUS  # unchanged
    # its role gets the IAM on the instance's ARN, and the instance waits for it
    (policy_id, policy), = resources_of(tpl, "AWS::IAM::ManagedPolicy").items()
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [{
        "Sid": "NotebookGovernance", "Effect": "Allow",
        "Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
        "Resource": "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/raw-notebook",
    }]
    assert policy["Properties"]["Roles"] == [{"Ref": stack.resolve(stack.node.find_child("RawRole").node.default_child.logical_id)}]
    assert policy_id in props["DependsOn"]


def test_a_raw_notebook_without_a_name_is_granted_on_its_getatt_arn() -> None:
    stack = _stack()
    _raw(stack, name=None, with_config=False)
    _govern(stack)
    tpl = template(stack)
    (_, policy), = resources_of(tpl, "AWS::IAM::ManagedPolicy").items()
    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] == {
        "Fn::GetAtt": ["RawNotebook", "NotebookInstanceArn"]
    }
    assert "DependsOn" not in only(tpl, NB)[1]  # the policy needs the instance's ARN: no cycle
    assert len(resources_of(tpl, LCC)) == 1


def test_a_raw_notebook_whose_config_is_our_lifecycle_config_gets_the_features_merged() -> None:
    stack = _stack()
    role = iam.Role(stack, "RawRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    lcc = LifecycleConfig(stack, "Ours", on_start=SCRIPTS)
    sagemaker.CfnNotebookInstance(stack, "Raw", instance_type="ml.t3.medium", role_arn=role.role_arn,
                                  notebook_instance_name="raw", lifecycle_config_name=lcc.lifecycle_config_name_attr)
    _govern(stack)
    tpl = template(stack)
    assert len(resources_of(tpl, LCC)) == 1 and "autostop" in lcc.bundle.feature_names


@pytest.mark.parametrize("case, message", [
    ("config-outside", r"Gov/RawNotebook: its lifecycle configuration 'team-config' is not defined in this app.*"
                       r"Define that lifecycle configuration in this app"),
    ("role-outside", r"Gov/RawNotebook: its role 'arn:aws:iam::123456789012:role/outside' is not defined in this app.*"
                     r"sagemaker:DescribeNotebookInstance, sagemaker:StopNotebookInstance"),
    ("token-content", r"Gov/RawNotebook: the OnStart of its lifecycle configuration Gov/TeamConfig is not literal "
                      r"base64 Content"),
])
def test_what_it_cannot_resolve_fails_synth_naming_the_instance(case: str, message: str, tmp_path) -> None:
    app = new_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Gov", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    role_arn = "arn:aws:iam::123456789012:role/outside"
    config_name: Any = "team-config"
    if case == "role-outside":
        config_name = None
    if case == "token-content":
        bucket = s3.Bucket(stack, "B")
        previous = sagemaker.CfnNotebookInstanceLifecycleConfig(stack, "TeamConfig", on_start=[
            sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                content=cdk.Fn.base64(bucket.bucket_name))])
        config_name = previous.attr_notebook_instance_lifecycle_config_name
    sagemaker.CfnNotebookInstance(stack, "RawNotebook", instance_type="ml.t3.medium", role_arn=role_arn,
                                  lifecycle_config_name=config_name)
    _govern(stack)
    with pytest.raises(Exception, match=message):
        app.synth()
    assert not (tmp_path / "Gov.template.json").exists()  # nothing written


def test_visiting_twice_changes_nothing_more() -> None:
    stack = _stack()
    NotebookInstance(stack, "Plain", on_start=SCRIPTS, notebook_instance_name="plain")
    _raw(stack)
    aspect = _govern(stack)
    first = template(stack)
    for c in stack.node.find_all():
        aspect.visit(c)
    assert template(stack) == first


def test_the_previous_script_runs_first_then_the_features(make_emulator) -> None:
    stack = _stack()
    _raw(stack)
    _govern(stack, Features(environment={"ORG": "acme"}))
    found = [b for b in read_bundles(json.dumps(template(stack))) if "Governed" in b.label][0]
    emu = make_emulator()
    result = emu.run(found.script, after=["cat /tmp/previous-ran", "sudo -i -u ec2-user printenv ORG"])
    assert not result.failed, result.summary()
    assert list(summary_rows(result.output)) == ["previous-on-start.sh", "feature:environment"]
    assert result.after_outputs == ["previous\n", "acme\n"]


def test_features_that_grow_an_inline_hook_over_the_limit_fail_synth_as_a_validation_error() -> None:
    # the content is written at construction; an Aspect that changes the inputs switches it to content
    # produced at synth, checked against the limit by a validation like content over it from the start
    import random
    import string

    rng = random.Random(11)
    blob = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20000))
    stack = _stack()
    lcc = LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, delivery="inline")
    NotebookInstance(stack, "Nb", lifecycle_config=lcc, notebook_instance_name="big")
    assert lcc.bundle.size_errors() == [] and lcc.node.validate() == []
    _govern(stack, Features(environment={"BIG": blob}))
    with pytest.raises(Exception, match=r"(?s)Validation failed.*Gov/Lcc.*over SageMaker's limit of 16384"):
        template(stack)


def _private(stack: cdk.Stack) -> dict[str, Any]:
    """What a NotebookInstance needs to run without direct internet access."""
    subnet = ec2.Subnet.from_subnet_attributes(
        stack, "Subnet", subnet_id="subnet-0123456789abcdef0", availability_zone="eu-west-1a",
        route_table_id="rtb-0123456789abcdef0",
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    return {"subnet": subnet, "security_groups": [group], "direct_internet_access": False}


def _endpoint_warnings(stack: cdk.Stack, path: str) -> list[Any]:
    found = Annotations.from_stack(stack).find_warning(
        path, Match.string_like_regexp(r"com\.amazonaws\.<region>\.sagemaker\.api")
    )
    return [w for w in found if WARN_AUTOSTOP_ENDPOINT in w.entry.data]


def test_autostop_given_by_governance_warns_about_the_sagemaker_api_endpoint_once() -> None:
    stack = _stack()
    network = _private(stack)
    NotebookInstance(stack, "Scripts", on_start=SCRIPTS, notebook_instance_name="scripts", **network)
    NotebookInstance(stack, "Bare", notebook_instance_name="bare", **network)
    NotebookInstance(  # warned at construction already: not twice
        stack, "Own", on_start=SCRIPTS, notebook_instance_name="own", features=Features(autostop=Autostop()), **network
    )
    NotebookInstance(stack, "Online", on_start=SCRIPTS, notebook_instance_name="online")  # direct internet: silent
    raw = _raw(stack)
    raw.direct_internet_access = "Disabled"
    _govern(stack)
    for path in ("/Gov/Scripts", "/Gov/Bare", "/Gov/Own", "/Gov/RawNotebook"):
        assert len(_endpoint_warnings(stack, path)) == 1, path
    assert _endpoint_warnings(stack, "/Gov/Online") == []


def test_governance_without_autostop_adds_no_endpoint_warning() -> None:
    stack = _stack()
    NotebookInstance(stack, "Scripts", on_start=SCRIPTS, notebook_instance_name="scripts", **_private(stack))
    _govern(stack, Features(stop_ssm_agent=True))
    assert _endpoint_warnings(stack, "*") == []
