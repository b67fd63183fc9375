"""Deploy-time values: CDK tokens in ``Features(environment=...)`` reach the instance exactly, and
tokens anywhere a literal is needed fail synth with the field and the fix.

The CloudFormation side is evaluated here in Python (``Fn::Join``, ``Fn::Base64`` and ``Ref``
with the values a deployment would give), so the sandbox boots the very script CloudFormation
would hand to SageMaker.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Mapping

import pytest

from cdk_apps import new_app, only, template  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

from notebook_lifecycle import (
    Autostop,
    Binary,
    Bundle,
    BundleError,
    DeployValue,
    Features,
    LifecycleConfig,
    NotebookInstance,
    StartupScripts,
)
from notebook_lifecycle.cdk import bundle_cache_info, clear_bundle_cache
from notebook_lifecycle.testing import readable_template
from notebook_lifecycle.unbundle import read_bundles
from conftest import summary_rows

LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
SCRIPTS = StartupScripts.from_files({"10-hello.sh": '#!/bin/bash\necho "bucket is $DATA_BUCKET"\n'})
HOSTILE = "it's \"quoted\" $(touch /tmp/canary) `touch /tmp/canary` \\ ${HOME}\nsecond line; touch /tmp/canary #'"


def _stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Values")


def evaluate(node: Any, refs: Mapping[str, str]) -> Any:
    """CloudFormation's evaluation of the intrinsics used here: Ref, Fn::Join, Fn::Base64."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [evaluate(x, refs) for x in node]
    assert isinstance(node, dict) and len(node) == 1, node
    (fn, arg), = node.items()
    if fn == "Ref":
        return refs[arg]
    if fn == "Fn::Base64":
        return base64.b64encode(evaluate(arg, refs).encode()).decode()
    if fn == "Fn::Join":
        sep, items = arg
        return sep.join(evaluate(items, refs))
    raise AssertionError(f"unexpected intrinsic {fn}")


def _bucket_stack(value_count: int = 1) -> tuple[cdk.Stack, list[s3.Bucket], dict[str, Any]]:
    stack = _stack()
    buckets = [s3.Bucket(stack, f"Data{i}") for i in range(value_count)]
    env: dict[str, Any] = {"TEAM": "analytics"}
    env.update({("DATA_BUCKET" if i == 0 else f"BUCKET_{i}"): b.bucket_name for i, b in enumerate(buckets)})
    return stack, buckets, env


def test_a_token_value_becomes_base64_of_a_join_with_each_value_base64() -> None:
    stack, buckets, env = _bucket_stack()
    lcc = LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, features=Features(environment=env))
    content = only(template(stack), LCC)[1]["Properties"]["OnStart"][0]["Content"]
    logical = stack.resolve(buckets[0].node.default_child.logical_id)
    join = content["Fn::Base64"]["Fn::Join"]
    assert join[0] == ""
    slots = [p for p in join[1] if not isinstance(p, str)]
    assert slots == [{"Fn::Base64": {"Ref": logical}}]
    assert list(lcc.deploy_values) == ["DATA_BUCKET"]
    # the literal text around the slot is the bundle's own script
    bundle = lcc.bundle
    assert [p for p in join[1] if isinstance(p, str)] == [p for p in bundle.content_parts() if isinstance(p, str)]
    assert bundle.deploy_values == (DeployValue("DATA_BUCKET"),)
    # what CloudFormation makes of it is what the bundle renders with that value
    script = base64.b64decode(evaluate(content, {logical: "my-bucket-123"})).decode()
    assert script == bundle.script_with("on-start", {"DATA_BUCKET": "my-bucket-123"})
    assert f"echo '{base64.b64encode(b'my-bucket-123').decode()}'>/startup/" in script


def test_without_tokens_the_content_is_the_literal_of_before() -> None:
    stack = _stack()
    features = Features(environment={"TEAM": "analytics"}, autostop=Autostop(30))
    LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, features=features)
    content = only(template(stack), LCC)[1]["Properties"]["OnStart"][0]["Content"]
    assert isinstance(content, str)
    assert content == Bundle(SCRIPTS, features=features).on_start_content


def test_inspect_readable_template_and_unbundle_show_named_placeholders() -> None:
    stack, buckets, env = _bucket_stack(2)
    LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, features=Features(environment=env))
    tpl = template(stack)
    found = read_bundles(json.dumps(tpl))
    assert len(found) == 1
    assert "echo '<deploy-time value DATA_BUCKET>'>/startup/.notebook-lifecycle/features/DATA_BUCKET.b64" in found[0].script
    refs = {name: expr for name, expr in found[0].deploy_values.items()}
    assert set(refs) == {"DATA_BUCKET", "BUCKET_1"}
    assert refs["DATA_BUCKET"] == {"Ref": stack.resolve(buckets[0].node.default_child.logical_id)}
    view = readable_template(tpl)
    content = only(view, LCC)[1]["Properties"]["OnStart"][0]["Content"]
    assert content["deploy_time_values"] == refs
    assert content["files"][".notebook-lifecycle/features/environment.conf"] == (
        "NL_DEPLOY_VALUES='BUCKET_1 DATA_BUCKET'\n"
    )
    assert "TEAM='analytics'" in content["files"][".notebook-lifecycle/features/profile.sh"]


def test_cli_inspect_lists_the_deploy_time_values(tmp_path, capsys) -> None:
    from notebook_lifecycle.cli import main

    stack, _, env = _bucket_stack()
    LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, features=Features(environment=env))
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template(stack)))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "deploy-time value DATA_BUCKET" in out


def test_size_report_counts_each_value_at_its_bound_and_says_so() -> None:
    features = Features(environment={"DATA_BUCKET": DeployValue()})
    bundle = Bundle(SCRIPTS, features=features)
    small = Bundle(SCRIPTS, features=Features(environment={"DATA_BUCKET": DeployValue(max_length=63)}))
    report = bundle.size_report()
    text = str(report)
    assert "(deploy-time value DATA_BUCKET)" in text and "counted at their bound" in text
    (value,) = report.main.values
    assert (value.path, value.raw_bytes) == ("DATA_BUCKET", 256)
    # the bound is the exact content length of a value of 256 bytes
    script = bundle.script_with("on-start", {"DATA_BUCKET": "x" * 256})
    assert report.total == len(base64.b64encode(script.encode()))
    assert small.size_report().total < report.total
    print(text)  # the size report, for the record (pytest -s)


def test_a_value_bound_over_the_limit_fails_the_size_check_naming_it() -> None:
    big = Features(environment={f"V{i}": DeployValue(max_length=4096) for i in range(3)})
    with pytest.raises(BundleError, match=r"counting the deploy-time values V0 at 4096 bytes"):
        Bundle(SCRIPTS, features=big)
    stack = _stack()
    LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, delivery="inline", features=Features(environment={
        f"V{i}": cdk.Fn.ref("AWS::StackName") for i in range(40)
    }))
    with pytest.raises(Exception, match=r"counting the deploy-time values V0 at 256 bytes"):
        template(stack)


def test_the_content_of_a_hook_with_values_exists_only_at_deploy_time() -> None:
    bundle = Bundle(SCRIPTS, features=Features(environment={"DATA_BUCKET": DeployValue()}))
    with pytest.raises(BundleError, match="exists only at deploy time"):
        bundle.on_start_content
    with pytest.raises(BundleError, match="no value given for the deploy-time value DATA_BUCKET"):
        bundle.script_with("on-start", {})
    with pytest.raises(BundleError, match=r"DeployValue named 'OTHER'; name it 'DATA_BUCKET'"):
        Features(environment={"DATA_BUCKET": DeployValue("OTHER")})


def test_many_notebooks_with_different_buckets_share_one_bundle() -> None:
    clear_bundle_cache()
    stack = _stack()
    for i in range(3):
        bucket = s3.Bucket(stack, f"Bucket{i}")
        NotebookInstance(stack, f"Nb{i}", on_start=SCRIPTS, features=Features(environment={"DATA_BUCKET": bucket.bucket_name}))
    tpl = template(stack)
    info = bundle_cache_info()
    assert (info.builds, info.hits) == (1, 2)
    contents = [r["Properties"]["OnStart"][0]["Content"] for r in tpl["Resources"].values() if r["Type"] == LCC]
    refs = {json.dumps([p for p in c["Fn::Base64"]["Fn::Join"][1] if not isinstance(p, str)]) for c in contents}
    assert len(contents) == 3 and len(refs) == 3


# -- tokens where a literal is needed ------------------------------------------------------------


def test_a_token_in_a_script_names_the_file_the_line_and_the_fix() -> None:
    stack = _stack()
    bucket = s3.Bucket(stack, "Data")
    scripts = StartupScripts.from_files({
        "10-ok.sh": "#!/bin/bash\necho fine\n",
        "20-sync.sh": f"#!/bin/bash\nset -e\naws s3 sync s3://{bucket.bucket_name}/conf ~/conf\n",
    })
    with pytest.raises(ValueError) as err:
        NotebookInstance(stack, "Notebook", on_start=scripts)
    message = str(err.value)
    assert "on_start: 20-sync.sh line 3 holds a CDK token" in message
    assert "Features(environment={'NAME': value})" in message and "$NAME" in message
    assert "10-ok.sh" not in message
    assert stack.node.try_find_child("Notebook") is None or not template(stack).get("Resources", {}).get(LCC)


def test_tokens_in_every_literal_field_are_listed_with_the_fix() -> None:
    stack = _stack()
    number = cdk.CfnParameter(stack, "Minutes", type="Number").value_as_number
    name = cdk.Fn.ref("AWS::StackName")
    features = Features(persist_dirs=(name,), binaries=(Binary(name, f"https://{name}.example.com/x"),))
    with pytest.raises(ValueError) as err:
        LifecycleConfig(
            stack, "Lcc", on_start=SCRIPTS, features=features,
            install_dir=name, deadline_seconds=number, compression=name,  # type: ignore[arg-type]
        )
    message = str(err.value)
    for field in ("install_dir", "deadline_seconds", "compression", "features.persist_dirs[0]",
                  "features.binaries[${Token[", "].url"):
        assert field in message, field
    assert message.count("deploy-time values (CDK tokens) are not supported here") == 3  # the features' fields
    assert message.count("is a CDK token (a deploy-time value), but") == 3  # the bundle options
    with pytest.raises(BundleError, match=r"autostop.idle_minutes: .* deploy-time values \(CDK tokens\) are not supported here"):
        Autostop(idle_minutes=number)
    with pytest.raises(BundleError, match=r"environment\[PORT\]: .* aws_cdk.Token.as_string"):
        Features(environment={"PORT": number})
    # the fix the message gives works
    stack2 = _stack()
    port = cdk.CfnParameter(stack2, "Port", type="Number").value_as_number
    LifecycleConfig(stack2, "Lcc", on_start=SCRIPTS, features=Features(environment={"PORT": cdk.Token.as_string(port)}))
    content = only(template(stack2), LCC)[1]["Properties"]["OnStart"][0]["Content"]
    assert {"Fn::Base64": {"Ref": "Port"}} in content["Fn::Base64"]["Fn::Join"][1]


# -- on the instance ------------------------------------------------------------------------------


def test_a_hostile_deploy_time_value_arrives_literally_and_runs_nothing(make_emulator) -> None:
    stack, buckets, env = _bucket_stack()
    env["EMPTY"] = cdk.Fn.select(1, cdk.Fn.split(",", "a,"))  # resolves to ""
    lcc = LifecycleConfig(stack, "Lcc", on_start=SCRIPTS, features=Features(environment=env), deadline_seconds=60)
    content = only(template(stack), LCC)[1]["Properties"]["OnStart"][0]["Content"]
    logical = stack.resolve(buckets[0].node.default_child.logical_id)

    def resolve_select(node: Any) -> Any:  # Fn::Select/Fn::Split of the EMPTY value, as CloudFormation would
        if isinstance(node, dict) and "Fn::Select" in node:
            index, (fn, (sep, text)) = node["Fn::Select"][0], next(iter(node["Fn::Select"][1].items()))
            return text.split(sep)[int(index)]
        if isinstance(node, dict):
            return {k: resolve_select(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve_select(x) for x in node]
        return node

    script = base64.b64decode(evaluate(resolve_select(content), {logical: HOSTILE})).decode()
    assert script == lcc.bundle.script_with("on-start", {"DATA_BUCKET": HOSTILE, "EMPTY": ""})

    emu = make_emulator()
    result = emu.run(script, after=[
        "sudo -i -u ec2-user printenv DATA_BUCKET",
        "sudo -i -u ec2-user printenv EMPTY; echo rc=$?",
        "sudo -i -u ec2-user printenv TEAM",
        "ls /tmp/canary 2>&1; true",
    ])
    assert not result.failed, result.summary()
    rows = summary_rows(result.output)
    assert rows and all(status == "ok" for _, status in rows.values()), result.output
    out = result.after_outputs
    assert out[0] == HOSTILE + "\n"
    assert out[1] == "\nrc=0\n"
    assert out[2] == "analytics\n"
    assert "No such file or directory" in out[3]
    assert 'bucket is it\'s "quoted"' in result.output  # the user's script saw it too, through the login profile
