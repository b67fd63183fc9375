"""Props types, props=, **asdict(props), the INotebookInstance protocol and import by name."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json

import pytest

from cdk_apps import only, template  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from notebook_lifecycle import Autostop, Binary, Features, LifecycleConfig, NotebookInstance, StartupScripts
from notebook_lifecycle.cdk import INotebookInstance, LifecycleConfigProps, NotebookInstanceProps

NB = "AWS::SageMaker::NotebookInstance"
SCRIPTS = StartupScripts.from_files({"10-a.sh": "#!/bin/bash\necho a\n"})
FEATURES = Features(
    autostop=Autostop(idle_minutes=30),
    persist_dirs=(".config",),
    environment={"TEAM": "analytics"},
    binaries=(Binary("yq", "https://example.com/yq", "0" * 64),),
)


def _keyword_params(cls: type) -> dict:
    params = inspect.signature(cls.__init__).parameters
    return {n: p.default for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "props"}


@pytest.mark.parametrize(("construct", "props"), [(NotebookInstance, NotebookInstanceProps), (LifecycleConfig, LifecycleConfigProps)])
def test_props_fields_are_the_keyword_arguments_with_the_same_defaults(construct: type, props: type) -> None:
    fields = {f.name: f.default for f in dataclasses.fields(props)}
    assert fields == _keyword_params(construct)
    assert "props" in inspect.signature(construct.__init__).parameters
    with pytest.raises(dataclasses.FrozenInstanceError):
        props().on_start = SCRIPTS  # type: ignore[misc]


def _network(stack: cdk.Stack) -> tuple:
    subnet = ec2.Subnet.from_subnet_attributes(
        stack, "Subnet", subnet_id="subnet-0123456789abcdef0", availability_zone="us-east-1a"
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    return subnet, group


def _templates_of_three_ways(make_props) -> list:  # noqa: ANN001
    out = []
    for way in ("keywords", "props", "asdict"):
        stack = cdk.Stack(cdk.App(), "Test")
        props = make_props(stack)
        if way == "keywords":
            NotebookInstance(stack, "Nb", **props.to_kwargs())
        elif way == "props":
            NotebookInstance(stack, "Nb", props=props)
        else:
            NotebookInstance(stack, "Nb", **dataclasses.asdict(props))
        out.append(json.dumps(template(stack), sort_keys=True))
    return out


def test_keywords_props_and_asdict_give_the_same_template_with_imported_constructs_and_features() -> None:
    def make(stack: cdk.Stack) -> NotebookInstanceProps:
        subnet, group = _network(stack)
        return NotebookInstanceProps(
            on_start=SCRIPTS,
            features=FEATURES,
            role=iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:role/team"),
            subnet=subnet,
            security_groups=[group],
            kms_key=kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            direct_internet_access=False,
            volume_size_in_gb=20,
            notebook_instance_name="team-nb",
            additional_code_repositories=["https://github.com/o/r.git"],
        )

    keywords, props, asdict = _templates_of_three_ways(make)
    assert keywords == props == asdict
    assert "team-nb" in keywords and "sg-0123456789abcdef0" in keywords


def test_asdict_keeps_a_shared_lifecycle_config_and_a_created_role_as_the_same_constructs() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    lcc = LifecycleConfig(stack, "Shared", props=LifecycleConfigProps(on_start=SCRIPTS, features=FEATURES))
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    props = NotebookInstanceProps(lifecycle_config=lcc, role=role)
    kwargs = dataclasses.asdict(props)
    assert kwargs["lifecycle_config"] is lcc
    assert copy.deepcopy(lcc) is lcc
    a = NotebookInstance(stack, "A", **kwargs)
    b = NotebookInstance(stack, "B", props=props)
    assert a.lifecycle_config is lcc and b.lifecycle_config is lcc
    assert lcc.bundle.features == FEATURES
    tpl = template(stack)
    assert len([r for r in tpl["Resources"].values() if r["Type"] == "AWS::SageMaker::NotebookInstanceLifecycleConfig"]) == 1


def test_asdict_of_lifecycle_config_props_rebuilds_features() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    props = LifecycleConfigProps(on_start=SCRIPTS, features=FEATURES, compression="gzip")
    a = LifecycleConfig(stack, "A", **dataclasses.asdict(props))
    b = LifecycleConfig(stack, "B", props=props)
    assert a.bundle.features == FEATURES
    assert a.bundle.on_start_content == b.bundle.on_start_content


def test_props_and_keywords_together_is_an_error_naming_both() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    with pytest.raises(TypeError, match=r"pass either props= or keyword arguments, not both \(props and instance_type\)"):
        NotebookInstance(stack, "Nb", props=NotebookInstanceProps(on_start=SCRIPTS), instance_type="ml.t3.large")
    with pytest.raises(TypeError, match=r"props: expected LifecycleConfigProps\(\.\.\.\), got NotebookInstanceProps"):
        LifecycleConfig(stack, "Lc", props=NotebookInstanceProps())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unknown argument\(s\) instance_typo"):
        NotebookInstance(stack, "Nb2", instance_typo="ml.t3.large")
    assert stack.node.try_find_child("Nb") is None and stack.node.try_find_child("Lc") is None


def test_props_replace_derives_variants() -> None:
    base = NotebookInstanceProps(on_start=SCRIPTS, instance_type="ml.t3.large")
    variant = base.replace(notebook_instance_name="nb-2")
    assert variant.instance_type == "ml.t3.large" and variant.notebook_instance_name == "nb-2"
    assert base.notebook_instance_name is None


def test_construct_and_imported_instance_satisfy_the_protocol() -> None:
    stack = cdk.Stack(cdk.App(), "Test", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    nb = NotebookInstance(stack, "Nb", on_start=SCRIPTS)
    imported = NotebookInstance.from_notebook_instance_name(stack, "Imported", "Team-Notebook")
    for instance in (nb, imported):
        assert isinstance(instance, INotebookInstance)
        assert instance.stack is stack
    assert not isinstance(object(), INotebookInstance)
    assert imported.notebook_instance_name == "Team-Notebook"
    assert stack.resolve(imported.notebook_instance_arn) == {  # lowercased, as SageMaker writes it
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:eu-west-1:123456789012:notebook-instance/team-notebook"]]
    }


def test_imported_arn_in_an_env_agnostic_stack_uses_pseudo_parameters() -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    imported = NotebookInstance.from_notebook_instance_name(stack, "Imported", "nb")
    assert stack.resolve(imported.notebook_instance_arn) == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
                          {"Ref": "AWS::AccountId"}, ":notebook-instance/nb"]]
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_name", r"name: 'bad_name' is not a valid name"),
        (None, r"name: expected a string"),
        ("token", r"name: must be a literal string, not a token"),
    ],
)
def test_import_by_name_checks_the_name(name: object, expected: str) -> None:
    stack = cdk.Stack(cdk.App(), "Test")
    if name == "token":
        name = cdk.Fn.ref("AWS::StackName")
    with pytest.raises(ValueError, match=r"NotebookInstance.from_notebook_instance_name Test/Imported: " + expected):
        NotebookInstance.from_notebook_instance_name(stack, "Imported", name)  # type: ignore[arg-type]


def test_two_notebooks_with_the_same_literal_name_fail_naming_both_paths() -> None:
    app = cdk.App()
    first = cdk.Stack(app, "First")
    second = cdk.Stack(app, "Second")
    NotebookInstance(first, "Nb", on_start=SCRIPTS, notebook_instance_name="shared-name")
    with pytest.raises(ValueError, match=r"Second/Nb: notebook_instance_name: 'Shared-Name' is already the name of First/Nb"):
        NotebookInstance(second, "Nb", on_start=SCRIPTS, notebook_instance_name="Shared-Name")
    # other environments, or other stages, may reuse a name
    env_a = cdk.Stack(app, "EnvA", env=cdk.Environment(account="111111111111", region="us-east-1"))
    env_b = cdk.Stack(app, "EnvB", env=cdk.Environment(account="222222222222", region="us-east-1"))
    NotebookInstance(env_a, "Nb", on_start=SCRIPTS, notebook_instance_name="shared-name")
    NotebookInstance(env_b, "Nb", on_start=SCRIPTS, notebook_instance_name="shared-name")
    NotebookInstance(cdk.Stack(cdk.Stage(app, "Beta"), "S"), "Nb", on_start=SCRIPTS, notebook_instance_name="shared-name")
    # generated names never collide
    NotebookInstance(first, "Other", on_start=SCRIPTS)
    NotebookInstance(second, "Other", on_start=SCRIPTS)
