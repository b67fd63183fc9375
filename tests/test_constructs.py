"""NotebookInstance and LifecycleConfig: every prop, the exact IAM policy, names, validations, warnings.

Fine-grained ``aws_cdk.assertions`` tests against real synthesis (jsii). Most
tests use a bare ``cdk.App()`` (what a library user gets without feature
flags); ``test_recommended_flags_*`` repeat the key checks with the example
app's cdk.json flags (strict built-in template validation included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdk_apps import REPO, new_app, only, resources_of, template  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk.assertions import Annotations, Match, Template
from constructs import Construct

from notebook_lifecycle import (
    Autostop,
    Binary,
    Bundle,
    BundleError,
    Features,
    LifecycleConfig,
    NotebookInstance,
    StartupScripts,
)
from notebook_lifecycle import cdk as nl_cdk
from notebook_lifecycle.cdk import (
    WARN_AUTOSTOP_ENDPOINT,
    WARN_IMMUTABLE_ROLE,
    WARN_PLATFORM_RETIRED,
    bundle_cache_info,
    clear_bundle_cache,
)

NB = "AWS::SageMaker::NotebookInstance"
LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
ROLE = "AWS::IAM::Role"
MP = "AWS::IAM::ManagedPolicy"

SUBNET_ID = "subnet-0123456789abcdef0"
VPC_ID = "vpc-0123456789abcdef0"
NAME_RE = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"

SCRIPTS = StartupScripts.from_files(
    {"10-root.sh": "#!/bin/bash\necho root\n", "20-user.sh": "#!/bin/bash\necho user\n"}, as_root=["10-root.sh"]
)
ON_CREATE = StartupScripts.from_files({"setup.sh": "#!/bin/bash\necho once\n"})
AUTOSTOP = Features(autostop=Autostop(idle_minutes=45))


def _stack(app: cdk.App | None = None, name: str = "Test", **kwargs: Any) -> cdk.Stack:
    return cdk.Stack(app or cdk.App(), name, **kwargs)


def _network(stack: cdk.Stack, n_groups: int = 1) -> tuple[ec2.ISubnet, list[ec2.ISecurityGroup]]:
    subnet = ec2.Subnet.from_subnet_attributes(stack, "Subnet", subnet_id=SUBNET_ID, availability_zone="us-east-1a", route_table_id="rtb-0123456789abcdef0")
    groups = [
        ec2.SecurityGroup.from_security_group_id(stack, f"Sg{i}", f"sg-0123456789abcdef{i}") for i in range(n_groups)
    ]
    return subnet, groups


def _join(*parts: Any) -> dict:
    return {"Fn::Join": ["", list(parts)]}


P, R, A = {"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}
GROUP = "log-group:/aws/sagemaker/NotebookInstances"


def _logs_arn(resource: str) -> dict:
    return _join("arn:", P, ":logs:", R, ":", A, f":{resource}")


def _expected_statements(name: str, streams: list[str], autostop: bool) -> list[dict]:
    statements = [
        {
            "Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            "Effect": "Allow",
            "Resource": [_logs_arn(GROUP), _logs_arn(f"{GROUP}:log-stream:")],  # the SAR's form and the evaluated one
            "Sid": "WriteLifecycleLogGroup",
        },
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": [_logs_arn(f"{GROUP}:log-stream:{s}") for s in streams]
            if len(streams) > 1
            else _logs_arn(f"{GROUP}:log-stream:{streams[0]}"),
            "Sid": "WriteLifecycleLogStreams",
        },
    ]
    if autostop:
        statements.append(
            {
                "Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                "Effect": "Allow",
                "Resource": _join("arn:", P, ":sagemaker:", R, ":", A, f":notebook-instance/{name.lower()}"),
                "Sid": "NotebookInstanceSelf",
            }
        )
    return statements


def _policy_document(tpl: dict) -> dict:
    return only(tpl, MP)[1]["Properties"]["PolicyDocument"]


def _synth_error(stack: cdk.Stack) -> str:
    with pytest.raises(Exception) as info:
        Template.from_stack(stack)
    return str(info.value)


# -- what is emitted ---------------------------------------------------------------------------------


def test_defaults_emit_notebook_lifecycle_config_role_and_policy() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS)
    tpl = template(stack)
    t = Template.from_json(tpl)
    for type_ in (NB, LCC, ROLE, MP):
        t.resource_count_is(type_, 1)
    assert len(tpl["Resources"]) == 4
    nb_id, nb_res = only(tpl, NB)
    lcc_id, _ = only(tpl, LCC)
    role_id, _ = only(tpl, ROLE)
    mp_id, _ = only(tpl, MP)
    assert nb_res["Properties"] == {
        "NotebookInstanceName": nb.notebook_instance_name,
        "InstanceType": "ml.t3.medium",
        "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]},
        "PlatformIdentifier": "notebook-al2023-v1",
        "VolumeSizeInGB": 5,
        "DirectInternetAccess": "Enabled",
        "RootAccess": "Enabled",
        "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
        "LifecycleConfigName": {"Fn::GetAtt": [lcc_id, "NotebookInstanceLifecycleConfigName"]},
    }
    # permissions exist before the first boot (the role is ordered by RoleArn; its default policy, when
    # something is granted, by DependsOn: tests/test_grants.py)
    assert nb_res["DependsOn"] == [mp_id]
    t.has_resource_properties(
        ROLE,
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": Match.absent(),
            "Policies": Match.absent(),
        },
    )
    t.has_resource_properties(MP, {"Roles": [{"Ref": role_id}]})
    assert nb.lifecycle_config is not None
    assert nb.policy is not None
    assert nb.node.default_child is not None


def test_lifecycle_content_is_the_bundle_base64_as_a_literal() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS, on_create=ON_CREATE, features=AUTOSTOP)
    tpl = template(stack)
    props = only(tpl, LCC)[1]["Properties"]
    expected = Bundle(SCRIPTS, ON_CREATE, AUTOSTOP, check_size=False)
    assert props["OnStart"] == [{"Content": expected.on_start_content}]
    assert props["OnCreate"] == [{"Content": expected.on_create_content}]
    assert isinstance(props["OnStart"][0]["Content"], str)
    assert "Fn::Base64" not in json.dumps(tpl)
    assert nb.lifecycle_config.bundle.fingerprint() == expected.fingerprint()
    assert props["NotebookInstanceLifecycleConfigName"] == nb.lifecycle_config.lifecycle_config_name


def test_on_create_only_has_no_on_start_hook_and_grants_its_log_stream() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_create=ON_CREATE)
    tpl = template(stack)
    props = only(tpl, LCC)[1]["Properties"]
    assert "OnStart" not in props and len(props["OnCreate"]) == 1
    name = nb.notebook_instance_name
    assert _policy_document(tpl)["Statement"] == _expected_statements(
        name, [f"{name}/LifecycleConfigOnCreate", f"{name}/jupyter.log"], autostop=False
    )


def test_without_scripts_or_features_there_is_no_lifecycle_config() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook")
    tpl = template(stack)
    Template.from_json(tpl).resource_count_is(LCC, 0)
    assert "LifecycleConfigName" not in only(tpl, NB)[1]["Properties"]
    assert nb.lifecycle_config is None
    assert _policy_document(tpl)["Statement"] == _expected_statements(
        nb.notebook_instance_name, [f"{nb.notebook_instance_name}/jupyter.log"], autostop=False
    )


def test_every_prop_reaches_the_template() -> None:
    stack = _stack()
    subnet, groups = _network(stack, 2)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    nb = NotebookInstance(
        stack,
        "Notebook",
        on_start=SCRIPTS,
        instance_type="ml.m5.xlarge",
        volume_size_in_gb=100,
        platform_identifier="notebook-al2023-v1",
        notebook_instance_name="team-a-notebook",
        subnet=subnet,
        security_groups=groups,
        direct_internet_access=False,
        root_access=False,
        kms_key=key,
        default_code_repository="https://github.com/example/analysis.git",
        additional_code_repositories=["https://github.com/example/a.git", "shared-utils"],
        lifecycle_config_name="team-a-lifecycle",
    )
    tpl = template(stack)
    key_id = only(tpl, "AWS::KMS::Key")[0]
    props = only(tpl, NB)[1]["Properties"]
    assert props["NotebookInstanceName"] == "team-a-notebook"
    assert props["InstanceType"] == "ml.m5.xlarge"
    assert props["VolumeSizeInGB"] == 100
    assert props["PlatformIdentifier"] == "notebook-al2023-v1"
    assert props["SubnetId"] == SUBNET_ID
    assert props["SecurityGroupIds"] == ["sg-0123456789abcdef0", "sg-0123456789abcdef1"]
    assert props["DirectInternetAccess"] == "Disabled"
    assert props["RootAccess"] == "Disabled"
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert props["DefaultCodeRepository"] == "https://github.com/example/analysis.git"
    assert props["AdditionalCodeRepositories"] == ["https://github.com/example/a.git", "shared-utils"]
    assert only(tpl, LCC)[1]["Properties"]["NotebookInstanceLifecycleConfigName"] == "team-a-lifecycle"
    assert nb.notebook_instance_name == "team-a-notebook"
    assert nb.lifecycle_config.lifecycle_config_name == "team-a-lifecycle"
    assert [sg.security_group_id for sg in nb.connections.security_groups] == [
        "sg-0123456789abcdef0",
        "sg-0123456789abcdef1",
    ]


def test_bundle_passthroughs_install_dir_deadline_and_compression() -> None:
    stack = _stack()
    nb = NotebookInstance(
        stack, "Notebook", on_start=SCRIPTS, install_dir="/opt-startup", deadline_seconds=120, compression="gzip"
    )
    bundle = nb.lifecycle_config.bundle
    assert (bundle.install_dir, bundle.deadline_seconds, bundle.compression) == ("/opt-startup", 120, "gzip")
    assert "exec /opt-startup/.notebook-lifecycle/run.sh on-start 120" in bundle.on_start_script
    content = only(template(stack), LCC)[1]["Properties"]["OnStart"][0]["Content"]
    assert content == Bundle(SCRIPTS, install_dir="/opt-startup", deadline_seconds=120, compression="gzip").on_start_content


def test_attributes() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS)
    resolved = stack.resolve(nb.notebook_instance_arn)
    assert resolved == {"Ref": only(template(stack), NB)[0]}
    assert stack.resolve(nb.lifecycle_config.lifecycle_config_arn) == {"Ref": only(template(stack), LCC)[0]}
    assert nb.grant_principal is nb.role
    assert isinstance(nb.role, iam.Role)
    assert nb.connections.security_groups == []
    assert nb.policy_statements[0]["Sid"] == "WriteLifecycleLogGroup"
    named = NotebookInstance(stack, "Named", on_start=SCRIPTS, notebook_instance_name="named", lifecycle_config_name="named-lc")
    assert named._physical_name == "named" and named.lifecycle_config._physical_name == "named-lc"


# -- IAM -------------------------------------------------------------------------------------------


def test_policy_document_without_autostop_is_exactly_the_log_streams() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS)
    name = nb.notebook_instance_name
    assert _policy_document(template(stack)) == {
        "Statement": _expected_statements(
            name, [f"{name}/LifecycleConfigOnStart", f"{name}/jupyter.log"], autostop=False
        ),
        "Version": "2012-10-17",
    }


def test_policy_document_with_autostop_adds_describe_and_stop_on_its_own_arn_only() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP)
    name = nb.notebook_instance_name
    doc = _policy_document(template(stack))
    assert doc == {
        "Statement": _expected_statements(name, [f"{name}/LifecycleConfigOnStart", f"{name}/jupyter.log"], autostop=True),
        "Version": "2012-10-17",
    }
    # no wildcard anywhere (cdk-nag IAM5)
    assert "*" not in json.dumps(doc)


def test_policy_uses_literal_arns_in_an_environment_stack() -> None:
    # @aws-cdk/core:enablePartitionLiterals (in cdk.json) makes the partition literal too
    stack = _stack(new_app(), env=cdk.Environment(account="123456789012", region="eu-west-1"))
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP, notebook_instance_name="nb1")
    statements = _policy_document(template(stack))["Statement"]
    assert statements[0]["Resource"] == ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/NotebookInstances",
                                         "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/NotebookInstances:log-stream:"]
    assert statements[2]["Resource"] == "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/nb1"


def test_mixed_case_name_is_lowercased_in_the_arn_and_both_stream_forms_are_granted() -> None:
    stack = _stack()
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP, notebook_instance_name="TeamA-Notebook")
    tpl = template(stack)
    assert only(tpl, NB)[1]["Properties"]["NotebookInstanceName"] == "TeamA-Notebook"
    statements = _policy_document(tpl)["Statement"]
    assert statements == _expected_statements(
        "TeamA-Notebook",
        [
            "TeamA-Notebook/LifecycleConfigOnStart",
            "TeamA-Notebook/jupyter.log",
            "teama-notebook/LifecycleConfigOnStart",
            "teama-notebook/jupyter.log",
        ],
        autostop=True,
    )
    assert statements[2]["Resource"]["Fn::Join"][1][-1] == ":notebook-instance/teama-notebook"


def test_role_passed_in_gets_the_managed_policy_and_no_role_is_created() -> None:
    stack = _stack()
    role = iam.Role(stack, "MyRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP, role=role)
    tpl = template(stack)
    Template.from_json(tpl).resource_count_is(ROLE, 1)
    role_id = only(tpl, ROLE)[0]
    assert role_id.startswith("MyRole")
    assert only(tpl, MP)[1]["Properties"]["Roles"] == [{"Ref": role_id}]
    assert only(tpl, NB)[1]["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert nb.role is role and nb.grant_principal is role
    assert len(_policy_document(tpl)["Statement"]) == 3


def test_imported_mutable_role_gets_the_managed_policy_attached_by_name() -> None:
    stack = _stack()
    role = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/team-notebooks")
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, role=role)
    tpl = template(stack)
    Template.from_json(tpl).resource_count_is(ROLE, 0)
    assert only(tpl, MP)[1]["Properties"]["Roles"] == ["team-notebooks"]
    assert only(tpl, NB)[1]["Properties"]["RoleArn"] == "arn:aws:iam::123456789012:role/team-notebooks"
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("immutable"))


@pytest.mark.parametrize("how", ["from_role_arn", "without_policy_updates", "other_account"])
def test_immutable_role_gets_a_warning_listing_the_statements_and_no_policy(how: str) -> None:
    stack = _stack(new_app(), env=cdk.Environment(account="123456789012", region="us-east-1"))
    if how == "from_role_arn":
        role = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/locked", mutable=False)
    elif how == "other_account":
        role = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::210987654321:role/locked")
    else:
        role = iam.Role(stack, "Real", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")).without_policy_updates()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP, role=role, notebook_instance_name="nb")
    tpl = template(stack)
    Template.from_json(tpl).resource_count_is(MP, 0)
    assert nb.policy is None
    assert "DependsOn" not in only(tpl, NB)[1]
    warnings = Annotations.from_stack(stack).find_warning("/Test/Notebook", Match.string_like_regexp("immutable"))
    assert len(warnings) == 1
    text = warnings[0].entry.data
    assert WARN_IMMUTABLE_ROLE in text
    listed = json.loads(text[text.index("[{"): text.rindex("}]") + 2])
    assert listed == nb.policy_statements
    assert {"Sid": "NotebookInstanceSelf", "Effect": "Allow",
            "Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
            "Resource": "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb"} in listed
    assert nb.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"])) is False


def test_add_to_role_policy_and_grants() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS)
    assert nb.add_to_role_policy(
        iam.PolicyStatement(sid="ReadData", actions=["s3:GetObject"], resources=["arn:aws:s3:::data-bucket/key"])
    )
    bucket = s3.Bucket(stack, "Bucket")
    bucket.grant_read(nb)  # IGrantable: lands on the role
    tpl = template(stack)
    assert _policy_document(tpl)["Statement"][-1]["Sid"] == "ReadData"
    role_id = only(tpl, ROLE)[0]
    Template.from_json(tpl).has_resource_properties("AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})


def test_no_dependency_cycle_and_policy_precedes_notebook() -> None:
    stack = _stack()
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP)
    tpl = template(stack)
    mp_id = only(tpl, MP)[0]
    assert "DependsOn" not in only(tpl, MP)[1]
    assert "Notebook" not in json.dumps(only(tpl, MP)[1]["Properties"]["PolicyDocument"]).replace("NotebookInstance", "")
    assert only(tpl, NB)[1]["DependsOn"] == [mp_id]


# -- tags, escape hatches ------------------------------------------------------------------------


def test_tags_propagate_to_notebook_lifecycle_config_and_role() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS)
    cdk.Tags.of(nb).add("team", "analytics")
    cdk.Tags.of(stack).add("cost-center", "42")
    tpl = template(stack)
    expected = [{"Key": "cost-center", "Value": "42"}, {"Key": "team", "Value": "analytics"}]
    for type_ in (NB, LCC, ROLE):
        assert only(tpl, type_)[1]["Properties"]["Tags"] == expected, type_


def test_escape_hatches_reach_the_l1_resources() -> None:
    stack = _stack()
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS)
    cfn = nb.node.default_child
    assert isinstance(cfn, sagemaker.CfnNotebookInstance)
    assert cfn.node.id == "Resource"
    cfn.add_property_override("AcceleratorTypes", ["ml.eia2.medium"])
    lcc_cfn = nb.lifecycle_config.node.default_child
    assert isinstance(lcc_cfn, sagemaker.CfnNotebookInstanceLifecycleConfig)
    assert lcc_cfn.node.id == "Resource"
    nb.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    tpl = template(stack)
    nb_res = only(tpl, NB)[1]
    assert nb_res["Properties"]["AcceleratorTypes"] == ["ml.eia2.medium"]
    assert nb_res["DeletionPolicy"] == "Retain"
    assert isinstance(nb.role.node.default_child, iam.CfnRole)
    assert isinstance(nb.policy.node.default_child, iam.CfnManagedPolicy)


# -- names -----------------------------------------------------------------------------------------


def test_generated_names_are_valid_lowercase_short_unique_and_deterministic() -> None:
    import re

    app = cdk.App()
    s1, s2 = _stack(app, "Analytics"), _stack(app, "Research")
    deep: Construct = s1
    for i in range(8):
        deep = Construct(deep, f"VeryLongConstructIdNumber{i}")
    notebooks = [
        NotebookInstance(s1, "Notebook", on_start=SCRIPTS),
        NotebookInstance(s2, "Notebook", on_start=SCRIPTS),
        NotebookInstance(s1, "Other_Notebook.1", on_start=SCRIPTS),
        NotebookInstance(deep, "Notebook", on_start=SCRIPTS),
    ]
    names = [nb.notebook_instance_name for nb in notebooks] + [nb.lifecycle_config.lifecycle_config_name for nb in notebooks]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.match(NAME_RE, name), name
        assert len(name) <= 63, name
        assert name == name.lower(), name
    assert notebooks[0].notebook_instance_name.startswith("analytics-notebook-")
    assert 60 <= len(notebooks[3].notebook_instance_name) <= 63  # truncated in the middle, hash kept
    # the same path in a fresh app gives the same names
    again = NotebookInstance(_stack(cdk.App(), "Analytics"), "Notebook", on_start=SCRIPTS)
    assert again.notebook_instance_name == notebooks[0].notebook_instance_name
    assert again.lifecycle_config.lifecycle_config_name == notebooks[0].lifecycle_config.lifecycle_config_name


def test_generated_names_are_names_unique_resource_name_lowercased() -> None:
    """Names come from aws-cdk-lib's ``Names.unique_resource_name`` (no copy of its code), in stages and nested stacks too."""
    import re

    app = cdk.App()
    stack = _stack(app, "Analytics")
    stage_stack = cdk.Stack(cdk.Stage(app, "Prod"), "Api", stack_name="prod-api-stack")
    nested = cdk.NestedStack(stage_stack, "Nested")
    scopes = [stack, stage_stack, nested, Construct(nested, "Team-A"), Construct(Construct(stage_stack, "A"), "A")]
    for i, scope in enumerate(scopes):
        nb = NotebookInstance(scope, f"Nb{i}", on_start=SCRIPTS)
        for construct, name in ((nb, nb.notebook_instance_name), (nb.lifecycle_config, nb.lifecycle_config.lifecycle_config_name)):
            raw = cdk.Names.unique_resource_name(construct, max_length=63, separator="-", allowed_special_characters="-")
            assert name == re.sub(r"[^a-z0-9-]", "", raw.lower()).strip("-"), construct.node.path
            assert re.match(NAME_RE, name) and len(name) <= 63, name
    assert NotebookInstance(stage_stack, "Named", on_start=SCRIPTS).notebook_instance_name.startswith("prod-api-stack-named-")


def test_building_twice_gives_a_byte_identical_template(tmp_path: Path) -> None:
    def build(outdir: Path) -> bytes:
        clear_bundle_cache()
        app = cdk.App(outdir=str(outdir))
        stack = _stack(app, "Same")
        subnet, groups = _network(stack)
        NotebookInstance(
            stack, "Notebook", on_start=SCRIPTS, on_create=ON_CREATE, features=AUTOSTOP,
            subnet=subnet, security_groups=groups,
        )
        assembly = app.synth()
        return Path(assembly.get_stack_by_name("Same").template_full_path).read_bytes()

    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    assert first == second
    assert bundle_cache_info().builds == 1


# -- sharing and the bundle cache ----------------------------------------------------------------


def test_shared_lifecycle_config_is_one_resource_built_once() -> None:
    clear_bundle_cache()
    stack = _stack()
    lcc = LifecycleConfig(stack, "Shared", on_start=SCRIPTS, features=AUTOSTOP)
    notebooks = [NotebookInstance(stack, f"Notebook{i}", lifecycle_config=lcc) for i in range(3)]
    tpl = template(stack)
    lcc_id, _ = only(tpl, LCC)
    assert bundle_cache_info().builds == 1
    nbs = resources_of(tpl, NB)
    assert len(nbs) == 3
    for res in nbs.values():
        assert res["Properties"]["LifecycleConfigName"] == {"Fn::GetAtt": [lcc_id, "NotebookInstanceLifecycleConfigName"]}
    # each role may stop only its own instance
    arns = sorted(
        stmt["Resource"]["Fn::Join"][1][-1]
        for mp in resources_of(tpl, MP).values()
        for stmt in mp["Properties"]["PolicyDocument"]["Statement"]
        if stmt["Sid"] == "NotebookInstanceSelf"
    )
    assert arns == sorted(f":notebook-instance/{nb.notebook_instance_name}" for nb in notebooks)
    assert all(nb.lifecycle_config is lcc for nb in notebooks)
    assert lcc.node.default_child.node.path == "Test/Shared/Resource"


def test_fifty_notebooks_given_the_same_scripts_build_the_bundle_once() -> None:
    clear_bundle_cache()
    stack = _stack()
    for i in range(50):
        # equal inputs, distinct objects: the cache is keyed by fingerprints, not identity
        scripts = StartupScripts.from_files(
            {"10-root.sh": "#!/bin/bash\necho root\n", "20-user.sh": "#!/bin/bash\necho user\n"}, as_root=["10-root.sh"]
        )
        NotebookInstance(stack, f"Notebook{i}", on_start=scripts, features=Features(autostop=Autostop(idle_minutes=45)))
    info = bundle_cache_info()
    assert (info.builds, info.hits) == (1, 49)
    tpl = template(stack)
    contents = {lcc["Properties"]["OnStart"][0]["Content"] for lcc in resources_of(tpl, LCC).values()}
    assert len(resources_of(tpl, LCC)) == 50 and len(contents) == 1


def test_different_inputs_build_different_bundles() -> None:
    clear_bundle_cache()
    stack = _stack()
    NotebookInstance(stack, "A", on_start=SCRIPTS)
    NotebookInstance(stack, "B", on_start=SCRIPTS, features=AUTOSTOP)
    NotebookInstance(stack, "C", on_start=SCRIPTS, deadline_seconds=100)
    NotebookInstance(stack, "D", on_start=SCRIPTS)
    assert bundle_cache_info().builds == 3


# -- validations (errors) ------------------------------------------------------------------------


def test_content_over_the_limit_with_inline_delivery_fails_synth_naming_the_costliest_files() -> None:
    import random
    import string

    rng = random.Random(7)
    blob = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20000))
    scripts = StartupScripts.from_files({"run.sh": "#!/bin/bash\necho hi\n", "data/blob.txt": blob})
    stack = _stack()
    NotebookInstance(stack, "Notebook", on_start=scripts, delivery="inline")  # construction itself succeeds
    message = _synth_error(stack)
    assert "Test/Notebook/LifecycleConfig" in message
    assert "over SageMaker's limit of 16384" in message
    assert "data/blob.txt" in message
    assert "delivery='auto' or 's3'" in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"notebook_instance_name": "my_notebook"}, r"notebook_instance_name: 'my_notebook' is not a valid name"),
        ({"notebook_instance_name": "-notebook"}, r"notebook_instance_name: '-notebook' is not a valid name"),
        ({"notebook_instance_name": "a" * 64}, r"notebook_instance_name: 'a{64}' is 64 characters, the limit is 63"),
        ({"lifecycle_config_name": "has space"}, r"lifecycle_config_name: 'has space' is not a valid name"),
        ({"volume_size_in_gb": 4}, r"volume_size_in_gb: must be a whole number from 5 to 16384 \(GiB\), but 4"),
        ({"volume_size_in_gb": 16385}, r"volume_size_in_gb: .*16385 was given"),
        ({"volume_size_in_gb": True}, r"volume_size_in_gb: expected a whole number"),
        ({"instance_type": "t3.medium"}, r"instance_type: 't3.medium' is not a SageMaker instance type"),
        ({"platform_identifier": "al2023"}, r"platform_identifier: 'al2023' is not a platform identifier"),
        ({"direct_internet_access": False}, r"direct_internet_access=False needs a subnet"),
        ({"root_access": "Disabled"}, r"root_access: expected True or False"),
        ({"additional_code_repositories": ["a", "b", "c", "d"]}, r"additional_code_repositories: 4 given.*at most 3"),
        ({"default_code_repository": ""}, r"default_code_repository: empty"),
    ],
)
def test_bad_props_raise_naming_the_field_and_the_fix(kwargs: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        NotebookInstance(_stack(), "Notebook", on_start=SCRIPTS, **kwargs)


def test_network_props_are_checked() -> None:
    stack = _stack()
    subnet, groups = _network(stack, 6)
    with pytest.raises(ValueError, match=r"subnet is given without security_groups: SageMaker requires"):
        NotebookInstance(stack, "A", on_start=SCRIPTS, subnet=subnet)
    with pytest.raises(ValueError, match=r"security_groups: 6 given, SageMaker allows at most 5"):
        NotebookInstance(stack, "B", on_start=SCRIPTS, subnet=subnet, security_groups=groups)
    with pytest.raises(ValueError, match=r"security_groups are given without a subnet"):
        NotebookInstance(stack, "C", on_start=SCRIPTS, security_groups=groups[:1])
    NotebookInstance(stack, "D", on_start=SCRIPTS, subnet=subnet, security_groups=groups[:5], direct_internet_access=False)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as info:
        NotebookInstance(
            _stack(), "Notebook", on_start=SCRIPTS, volume_size_in_gb=1, notebook_instance_name="bad_name",
            direct_internet_access=False,
        )
    message = str(info.value)
    assert message.startswith("NotebookInstance Test/Notebook: invalid props:")
    for field in ("volume_size_in_gb", "notebook_instance_name", "direct_internet_access=False"):
        assert field in message


def test_lifecycle_config_and_scripts_are_exclusive() -> None:
    stack = _stack()
    lcc = LifecycleConfig(stack, "Lcc", on_start=SCRIPTS)
    with pytest.raises(ValueError, match="pass either lifecycle_config .shared. or on_start/on_create/features"):
        NotebookInstance(stack, "Notebook", lifecycle_config=lcc, on_start=SCRIPTS)
    with pytest.raises(ValueError, match=r"deadline_seconds, compression: only for the lifecycle configuration created"):
        NotebookInstance(stack, "Other", lifecycle_config=lcc, deadline_seconds=60, compression="gzip")


def test_bad_feature_flags_surface_as_bundle_errors() -> None:
    with pytest.raises(BundleError, match=r"autostop.idle_minutes: 0 must be a whole number of minutes"):
        Features(autostop=Autostop(idle_minutes=0))
    with pytest.raises(BundleError, match=r"^LifecycleConfig Test/Notebook/LifecycleConfig: features: expected Features"):
        NotebookInstance(_stack(), "Notebook", on_start=SCRIPTS, features="autostop")  # type: ignore[arg-type]
    with pytest.raises(BundleError, match=r"Test/Lcc: nothing to run"):
        LifecycleConfig(_stack(), "Lcc")
    with pytest.raises(BundleError, match=r"deadline_seconds: 999"):
        NotebookInstance(_stack(), "Notebook", on_start=SCRIPTS, deadline_seconds=999)
    assert issubclass(BundleError, ValueError)


def test_tokens_cannot_go_into_the_bundle() -> None:
    stack = _stack()
    # environment values may be tokens (tests/test_deploy_values.py); other feature fields may not
    with pytest.raises(ValueError, match=r"features.binaries\[tool\].url: .* is a deploy-time value \(a CDK token\)"):
        NotebookInstance(
            stack, "Notebook", on_start=SCRIPTS,
            features=Features(binaries=(Binary("tool", f"https://{stack.region}.example.com/tool"),)),
        )
    with pytest.raises(ValueError, match=r"notebook_instance_name: must be a literal string, not a token"):
        NotebookInstance(stack, "Other", on_start=SCRIPTS, notebook_instance_name=cdk.Fn.ref("AWS::StackName"))


def test_a_token_volume_size_is_not_range_checked() -> None:
    stack = _stack()
    size = cdk.CfnParameter(stack, "Size", type="Number", default=10)
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, volume_size_in_gb=size.value_as_number)
    assert only(template(stack), NB)[1]["Properties"]["VolumeSizeInGB"] == {"Ref": "Size"}


# -- warnings ------------------------------------------------------------------------------------


def test_autostop_without_direct_internet_warns_about_the_sagemaker_api_endpoint() -> None:
    stack = _stack()
    subnet, groups = _network(stack)
    NotebookInstance(
        stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP, subnet=subnet, security_groups=groups,
        direct_internet_access=False,
    )
    warnings = Annotations.from_stack(stack).find_warning(
        "/Test/Notebook", Match.string_like_regexp(r"com\.amazonaws\.<region>\.sagemaker\.api")
    )
    assert len(warnings) == 1 and WARN_AUTOSTOP_ENDPOINT in warnings[0].entry.data
    assert "private DNS" in warnings[0].entry.data


def test_no_endpoint_warning_with_internet_or_without_autostop() -> None:
    stack = _stack()
    subnet, groups = _network(stack)
    NotebookInstance(stack, "A", on_start=SCRIPTS, features=AUTOSTOP)
    NotebookInstance(stack, "B", on_start=SCRIPTS, subnet=subnet, security_groups=groups, direct_internet_access=False)
    Annotations.from_stack(stack).has_no_warning("*", Match.any_value())


def test_acknowledged_warning_is_silent() -> None:
    stack = _stack()
    subnet, groups = _network(stack)
    nb = NotebookInstance(
        stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP, subnet=subnet, security_groups=groups,
        direct_internet_access=False,
    )
    cdk.Annotations.of(nb).acknowledge_warning(WARN_AUTOSTOP_ENDPOINT, "endpoint exists")
    Annotations.from_stack(stack).has_no_warning("*", Match.any_value())


@pytest.mark.parametrize("platform", ["notebook-al2-v3", "notebook-al2-v2", "notebook-al2-v1", "notebook-al1-v1"])
def test_retired_platforms_warn(platform: str) -> None:
    stack = _stack()
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, platform_identifier=platform)
    warnings = Annotations.from_stack(stack).find_warning("/Test/Notebook", Match.string_like_regexp(platform))
    assert len(warnings) == 1
    assert WARN_PLATFORM_RETIRED in warnings[0].entry.data
    assert "notebook-al2023-v1" in warnings[0].entry.data
    if platform == "notebook-al2-v3":
        assert "cannot be created or restarted since 2026-07-01" in warnings[0].entry.data
    assert only(template(stack), NB)[1]["Properties"]["PlatformIdentifier"] == platform


def test_default_setup_has_no_warnings_or_errors() -> None:
    stack = _stack()
    NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP)
    annotations = Annotations.from_stack(stack)
    annotations.has_no_warning("*", Match.any_value())
    annotations.has_no_error("*", Match.any_value())


# -- with the example app's feature flags ----------------------------------------------------------


def test_recommended_flags_give_the_same_policy_and_pass_strict_template_validation() -> None:
    stack = _stack(new_app())
    nb = NotebookInstance(stack, "Notebook", on_start=SCRIPTS, features=AUTOSTOP)
    tpl = template(stack)  # strict: @aws-cdk/core:validateAgainstDefaultRules is on
    name = nb.notebook_instance_name
    assert _policy_document(tpl)["Statement"] == _expected_statements(
        name, [f"{name}/LifecycleConfigOnStart", f"{name}/jupyter.log"], autostop=True
    )
    assert only(tpl, NB)[1]["Properties"]["InstanceMetadataServiceConfiguration"] == {
        "MinimumInstanceMetadataServiceVersion": "2"
    }


# -- packaging ---------------------------------------------------------------------------------------


def test_import_notebook_lifecycle_does_not_import_aws_cdk() -> None:
    code = (
        "import sys, notebook_lifecycle as nl\n"
        "assert 'aws_cdk' not in sys.modules and 'jsii' not in sys.modules, 'cdk imported eagerly'\n"
        "assert nl.NotebookInstance.__module__ == 'notebook_lifecycle.cdk.notebook_instance'\n"
        "assert 'aws_cdk' in sys.modules\n"
    )
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120, cwd=str(REPO))


@pytest.mark.parametrize("missing", ["aws_cdk", "jsii", "constructs"])
def test_without_the_cdk_extra_the_import_error_names_the_extra(missing: str) -> None:
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "import notebook_lifecycle as nl\n"
        "nl.Bundle  # the core works without the extra\n"
        "for get in (lambda: nl.NotebookInstance, lambda: __import__('notebook_lifecycle.cdk')):\n"
        "    try:\n"
        "        get()\n"
        "    except ImportError as exc:\n"
        "        print(exc)\n"
        "    else:\n"
        "        raise SystemExit('no ImportError')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "pip install 'notebook-lifecycle[cdk]'" in line and "No module named 'jsii'" not in line.split("(")[0]


def test_public_names() -> None:
    import notebook_lifecycle as nl

    assert nl.NotebookInstance is NotebookInstance and nl.LifecycleConfig is LifecycleConfig
    assert nl.NotebookInstanceProps is nl_cdk.NotebookInstanceProps and nl.INotebookInstance is nl_cdk.INotebookInstance
    assert set(nl_cdk.__all__) >= {"NotebookInstanceProps", "LifecycleConfigProps", "INotebookInstance"}
    assert set(nl_cdk.__all__) >= {"NotebookInstance", "LifecycleConfig", "bundle_cache_info"}


def test_token_detection_is_token_is_unresolved() -> None:
    from notebook_lifecycle.cdk._tokens import _any_unresolved, _unresolved

    stack = _stack()
    number = cdk.CfnParameter(stack, "N", type="Number").value_as_number
    values = [
        "plain", "", "arn:aws:s3:::b", stack.region, f"arn:{stack.partition}:x", cdk.Fn.ref("AWS::StackName"),
        "${Token[not closed", "Token[x]", 5, True, 16384, number, 12.5, None, ["a"], cdk.Fn.split(",", stack.region),
    ]
    for value in values:
        assert _unresolved(value) == cdk.Token.is_unresolved(value), value
        assert _any_unresolved(["plain", value, "x"]) == cdk.Token.is_unresolved(value), value
    assert not _any_unresolved([]) and not _any_unresolved(["a", "b", 3])


def test_make_synth_pins_the_aws_cdk_lib_of_the_dev_extra() -> None:
    import re
    import tomllib

    makefile = (REPO / "Makefile").read_text()
    pins = set(re.search(r"^CDK_PINS := (.+)$", makefile, re.M).group(1).split())
    dev = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"])
    assert pins and pins <= dev


def test_the_stack_environment_is_read_once_per_stack_and_each_scope_gets_its_own_arns() -> None:
    from notebook_lifecycle.cdk._iam import _Arns

    app = new_app()
    east = cdk.Stack(app, "East", env=cdk.Environment(account="111111111111", region="us-east-1"))
    west = cdk.Stack(app, "West", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    team_a, team_b = Construct(east, "TeamA"), Construct(east, "TeamB")
    nested = Construct(west, "Team")
    assert _Arns.of(team_a) is _Arns.of(team_b) is _Arns.of(east)
    assert _Arns.of(nested) is _Arns.of(west) and _Arns.of(west) is not _Arns.of(east)
    for scope in (team_a, team_b, nested):
        NotebookInstance(scope, "Notebook", on_start=SCRIPTS, notebook_instance_name=f"nb-{scope.node.id.lower()}")
    arns = {s["Sid"]: s["Resource"] for s in _policy_statements_of(template(west))}
    assert arns["WriteLifecycleLogGroup"][0].startswith("arn:aws:logs:eu-west-1:222222222222:log-group:")
    arns = {s["Sid"]: s["Resource"] for s in _policy_statements_of(template(east))}
    assert arns["WriteLifecycleLogGroup"][0].startswith("arn:aws:logs:us-east-1:111111111111:log-group:")


def _policy_statements_of(tpl: dict) -> list:
    return [s for r in resources_of(tpl, "AWS::IAM::ManagedPolicy").values()
            for s in r["Properties"]["PolicyDocument"]["Statement"]]
