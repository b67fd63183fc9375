"""Delivery (#8): inline, S3 (the payload as a CDK asset, the script a fetcher) and auto, at synth level.

A realistic 200 KB folder is generated here from the bench corpus plus config files (nothing large is
committed). Checked: the template's Content (Fn::Base64 of Fn::Join around the asset bucket and region),
the asset in the cloud assembly (its sha256 is the one the script carries), s3:GetObject on exactly that
object's ARN, the info annotation of "auto", the gateway-endpoint warning, NotebookGovernance, the
readers (unbundle, readable_template, inspect), the CLI and bad input. The deploy through the real CDK
CLI on moto is in test_cdk_cli.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from pathlib import Path

import pytest

from cdk_apps import REPO, new_app  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_ec2 as ec2

from notebook_lifecycle import (
    CONTENT_LIMIT,
    Autostop,
    Bundle,
    BundleError,
    Features,
    LifecycleConfig,
    NotebookInstance,
    StartupScripts,
)
from notebook_lifecycle.cdk import WARN_S3_DELIVERY_ENDPOINT, LifecycleConfigProps, NotebookGovernance
from notebook_lifecycle.cli import main
from notebook_lifecycle.delivery import BUCKET, REGION, S3Slot
from notebook_lifecycle.unbundle import read_bundles, read_script, readable_template, with_payload

LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
CORPUS = REPO / "bench" / "corpus"


def realistic_folder(root: Path, size: int = 200_000) -> Path:
    """A setup folder of about ``size`` bytes: three scripts that run, the bench corpus as a library of
    helper scripts, a conda environment, pip and Jupyter config, and a lookup table."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "10-conda-env.sh").write_text(
        "#!/bin/bash\nset -euo pipefail\necho \"env file: $(wc -l < \"$(dirname \"$0\")/config/environment.yml\")\"\n"
    )
    (root / "20-jupyter.sh").write_text("cp config/jupyter_server_config.py ~/.jupyter/ 2>/dev/null || true\necho jupyter\n")
    (root / "30-table.py").write_text(
        "#!/usr/bin/env python3\nimport csv, os\n"
        "rows = list(csv.reader(open(os.path.join(os.path.dirname(__file__), 'data', 'lookup.csv'))))\n"
        "print('rows', len(rows))\n"
    )
    lib = root / "lib"
    lib.mkdir(exist_ok=True)
    for f in sorted(CORPUS.rglob("*")):
        if f.is_file():
            target = lib / f.relative_to(CORPUS)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    config = root / "config"
    config.mkdir(exist_ok=True)
    packages = ["numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "seaborn", "boto3", "sagemaker", "pyarrow",
                "polars", "duckdb", "jupyterlab", "ipywidgets", "xgboost", "lightgbm", "statsmodels", "sqlalchemy"]
    (config / "environment.yml").write_text(
        "name: team\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n"
        + "".join(f"  - {p}>=1.{i}\n" for i, p in enumerate(packages))
        + "  - pip:\n" + "".join(f"    - internal-lib-{i}==2.{i}.0\n" for i in range(60))
    )
    (config / "requirements.txt").write_text("".join(f"{p}=={i}.{i % 7}.{i % 3}\n" for i, p in enumerate(packages * 4)))
    (config / "jupyter_server_config.py").write_text(
        "c = get_config()  # noqa\n" + "".join(f"c.ServerApp.setting_{i} = {i}\n" for i in range(200))
    )
    rng = random.Random(8)
    data = root / "data"
    data.mkdir(exist_ok=True)
    rows = ["id,region,weight,score,label"]
    used = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    while used + sum(len(r) + 1 for r in rows) < size:
        rows.append(f"{len(rows)},{rng.choice(['eu', 'us', 'ap'])}-{rng.randint(1, 9)},"
                    f"{rng.random():.6f},{rng.gauss(0, 1):.5f},{rng.choice('ABCDEFGH')}")
    (data / "lookup.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return realistic_folder(tmp_path_factory.mktemp("folder") / "setup")


@pytest.fixture(scope="module")
def big_scripts(big_folder: Path) -> StartupScripts:
    return StartupScripts.from_directory(big_folder)


SMALL = StartupScripts.from_files({"10-hello.sh": "echo hello\n"})


def synth(build, tmp_path: Path):
    """(template, assembly dir, stack) of the stack ``build(stack)`` fills."""
    app = new_app(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Delivery")
    build(stack)
    assembly = app.synth()
    art = assembly.get_stack_by_name("Delivery")
    return json.loads(Path(art.template_full_path).read_text()), Path(assembly.directory), stack


def lcc(template: dict) -> dict:
    found = [r for r in template["Resources"].values() if r["Type"] == LCC]
    assert len(found) == 1
    return found[0]["Properties"]


def fill(content: dict, bucket: str, region: str) -> str:
    """CloudFormation's Fn::Base64 of Fn::Join, evaluated with the bucket and region given."""
    parts = content["Fn::Base64"]["Fn::Join"][1]
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif p == {"Ref": "AWS::Region"}:
            out.append(region)
        elif isinstance(p, dict) and "Fn::Sub" in p:
            out.append(bucket)
        else:  # pragma: no cover - the test would need to learn a new form
            raise AssertionError(f"unexpected part {p}")
    return "".join(out)


def asset_of(assembly: Path, key: str) -> bytes:
    manifest = json.loads((assembly / "Delivery.assets.json").read_text())
    for asset in manifest["files"].values():
        for dest in asset["destinations"].values():
            if dest["objectKey"] == key:
                return (assembly / asset["source"]["path"]).read_bytes()
    raise AssertionError(f"no asset with the key {key} in the manifest: {manifest}")


# -- the folder --------------------------------------------------------------------------------------


def test_the_generated_folder_is_200_kb_of_realistic_files_and_overflows_inline(big_folder, big_scripts):
    total = sum(f.stat().st_size for f in big_folder.rglob("*") if f.is_file())
    assert 195_000 <= total <= 205_000
    assert [s.name for s in big_scripts.steps] == ["10-conda-env.sh", "20-jupyter.sh"]
    with pytest.raises(BundleError, match=r"over SageMaker's limit of 16384 .*delivery='auto' or 's3'"):
        Bundle(big_scripts)


# -- pure core ---------------------------------------------------------------------------------------


def test_bundle_gives_the_payload_and_its_sha256_and_decides_auto(big_scripts):
    small = Bundle(SMALL, delivery="auto")
    assert small.delivery_of("on-start") == "inline"
    assert "delivered inline (it fits)" in small.delivery_reason("on-start")
    assert small.payload_sha256() == hashlib.sha256(small.payload()).hexdigest()
    # the payload is the tarball the inline script carries
    assert {f.path for f in read_script(small.on_start_script).files} == {
        f.path for f in with_payload(read_script(_s3_script(small)), small.payload()).files
    }
    big = Bundle(big_scripts, delivery="auto")
    assert big.delivery_of() == "s3" and big.size_errors() == []
    assert "over the limit, so the payload" in big.delivery_reason()
    assert Bundle(SMALL, delivery="s3").delivery_of() == "s3"
    assert Bundle(big_scripts, delivery="auto", features=Features(autostop=Autostop())).payload_sha256() != big.payload_sha256()


def _s3_script(bundle: Bundle, hook: str = "on-start") -> str:
    parts = bundle.s3_content_parts(hook, key="k.tar.xz", bucket="my-bucket", region="eu-west-1")
    assert len(parts) == 1
    return parts[0]


def test_the_size_report_shows_the_delivery_the_payload_and_the_fetcher(big_scripts):
    report = Bundle(big_scripts, delivery="auto").size_report()
    hook = report.main
    assert (report.delivery, hook.delivery) == ("s3", "s3")
    assert hook.total == hook.fetcher_chars and 5_000 < hook.fetcher_chars < 9_000 and hook.fits
    assert hook.inline_total > CONTENT_LIMIT and hook.payload_bytes > 10_000
    text = str(report)
    assert f"{hook.fetcher_chars} of 16384 characters" in text and ", delivery s3" in text
    assert f"the payload ({hook.payload_bytes} bytes) is an S3 object" in text
    inline = Bundle(SMALL).size_report().main
    assert inline.delivery == "inline" and inline.fetcher_chars == 0 and inline.total == inline.inline_total
    assert f"delivery inline (payload {inline.payload_bytes} bytes)" in str(Bundle(SMALL).size_report())


def test_s3_parts_put_the_bucket_and_region_in_slots_and_values_on_lines_of_their_own():
    from notebook_lifecycle import DeployValue

    bundle = Bundle(SMALL, delivery="s3", features=Features(environment={"DATA": DeployValue()}))
    parts = bundle.s3_content_parts(key="abc.tar.xz")
    slots = [p for p in parts if not isinstance(p, str)]
    assert slots[:2] == [BUCKET, REGION] and [getattr(p, "name", None) for p in slots[2:]] == ["DATA"]
    text = "".join(p if isinstance(p, str) else ("B" if isinstance(p, S3Slot) else "VkFMVUU=") for p in parts)
    assert "\nb='B'\nr='B'\n" in text
    assert "\necho 'VkFMVUU='>/startup/.notebook-lifecycle/features/DATA.b64\nf=/startup/" in text


# -- the constructs ----------------------------------------------------------------------------------


def test_auto_delivers_a_200_kb_folder_through_an_s3_asset_with_a_least_privilege_grant(big_scripts, tmp_path):
    nb_box = []
    template, assembly, stack = synth(lambda s: nb_box.append(NotebookInstance(s, "Nb", on_start=big_scripts)), tmp_path)
    content = lcc(template)["OnStart"][0]["Content"]
    join = content["Fn::Base64"]["Fn::Join"][1]
    assert join[1] == {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    assert join[3] == {"Ref": "AWS::Region"}
    script = fill(content, "cdk-hnb659fds-assets-123456789012-us-east-1", "us-east-1")
    assert len(base64.b64encode(script.encode())) < CONTENT_LIMIT
    found = read_script(script)
    assert found.delivery == "s3" and found.s3 is not None
    payload = asset_of(assembly, found.s3.key)
    assert hashlib.sha256(payload).hexdigest() == found.s3.sha256 and len(payload) == found.s3.size
    unpacked = with_payload(found, payload)
    assert "data/lookup.csv" in {f.path for f in unpacked.user_files}
    assert [e.name for e in unpacked.plan] == ["10-conda-env.sh", "20-jupyter.sh"]

    statements = next(r for r in template["Resources"].values()
                       if r["Type"] == "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]["Statement"]
    fetch = [s for s in statements if s.get("Sid") == "FetchLifecyclePayload"]
    assert fetch == [{
        "Sid": "FetchLifecyclePayload", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::",
                                       {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
                                       f"/{found.s3.key}"]]},
    }]
    assert not any("s3:" in json.dumps(s["Action"]) for s in statements if s.get("Sid") != "FetchLifecyclePayload")
    readable = nb_box[0].policy_statements
    assert {"Sid": "FetchLifecyclePayload", "Effect": "Allow", "Action": "s3:GetObject", "Resource":
            f"arn:${{AWS::Partition}}:s3:::cdk-hnb659fds-assets-${{AWS::AccountId}}-${{AWS::Region}}/{found.s3.key}"} \
        in readable

    infos = assertions.Annotations.from_stack(stack).find_info("*", assertions.Match.string_like_regexp(
        "on-start: delivered through S3: the inline script is \\d+ characters .*over the limit"))
    assert len(infos) == 1
    assert assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.any_value()) == []


def test_the_s3_template_is_deterministic(big_scripts, tmp_path):
    first, _, _ = synth(lambda s: NotebookInstance(s, "Nb", on_start=big_scripts), tmp_path / "a")
    second, _, _ = synth(lambda s: NotebookInstance(s, "Nb", on_start=big_scripts), tmp_path / "b")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_auto_keeps_a_small_folder_inline_and_says_so(tmp_path):
    template, assembly, stack = synth(lambda s: LifecycleConfig(s, "Lcc", on_start=SMALL), tmp_path)
    assert isinstance(lcc(template)["OnStart"][0]["Content"], str)
    assert not (assembly / "notebook-lifecycle-payloads").exists()
    infos = assertions.Annotations.from_stack(stack).find_info(
        "*", assertions.Match.string_like_regexp("on-start: delivered inline \\(it fits\\)"))
    assert len(infos) == 1


def test_explicit_delivery_s3_and_inline(big_scripts, tmp_path):
    template, _, stack = synth(lambda s: LifecycleConfig(s, "Lcc", on_start=SMALL, delivery="s3"), tmp_path / "s3")
    assert "Fn::Base64" in lcc(template)["OnStart"][0]["Content"]
    # no info for an explicit choice
    assert assertions.Annotations.from_stack(stack).find_info("*", assertions.Match.any_value()) == []
    template, _, _ = synth(lambda s: LifecycleConfig(s, "Lcc", on_start=SMALL, delivery="inline"), tmp_path / "in")
    assert isinstance(lcc(template)["OnStart"][0]["Content"], str)
    props = LifecycleConfigProps(on_start=SMALL, delivery="s3")
    template, _, _ = synth(lambda s: LifecycleConfig(s, "Lcc", props=props), tmp_path / "props")
    assert "Fn::Base64" in lcc(template)["OnStart"][0]["Content"]


def test_no_internet_with_s3_delivery_warns_about_the_gateway_endpoint(big_scripts, tmp_path):
    def build(stack):
        vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0,
                      subnet_configuration=[ec2.SubnetConfiguration(name="p", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
        sg = ec2.SecurityGroup(stack, "Sg", vpc=vpc)
        NotebookInstance(stack, "Private", on_start=big_scripts, subnet=vpc.isolated_subnets[0], security_groups=[sg],
                         direct_internet_access=False)
        NotebookInstance(stack, "PrivateInline", on_start=SMALL, subnet=vpc.isolated_subnets[0], security_groups=[sg],
                         direct_internet_access=False)
        NotebookInstance(stack, "Public", on_start=big_scripts)

    _, _, stack = synth(build, tmp_path)
    warnings = assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.string_like_regexp(
        "com\\.amazonaws\\.<region>\\.s3"))
    assert [w.id for w in warnings] == ["/Delivery/Private"]
    assert WARN_S3_DELIVERY_ENDPOINT in warnings[0].entry.data


def test_governance_that_pushes_a_config_over_the_limit_moves_it_to_s3_and_grants_the_object(tmp_path):
    rng = random.Random(3)
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(7_000))
    scripts = StartupScripts.from_files({"10-a.sh": "echo a\n", "data.txt": filler})
    assert Bundle(scripts).delivery_of() == "inline"

    def build(stack):
        NotebookInstance(stack, "Nb", on_start=scripts)
        cdk.Aspects.of(stack).add(NotebookGovernance(features=Features(autostop=Autostop(idle_minutes=30))),
                                  priority=cdk.AspectPriority.MUTATING)

    template, assembly, _ = synth(build, tmp_path)
    content = lcc(template)["OnStart"][0]["Content"]
    found = read_script(fill(content, "b-123", "us-east-1"))
    assert found.delivery == "s3"
    payload = with_payload(found, asset_of(assembly, found.s3.key))
    assert any(e.name.startswith("feature:autostop") for e in payload.plan)
    statements = [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"
                  for s in r["Properties"]["PolicyDocument"]["Statement"]]
    grants = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert len(grants) == 1 and grants[0]["Sid"] == "NotebookGovernancePayload"
    assert grants[0]["Resource"]["Fn::Join"][1][-1] == f"/{found.s3.key}"


# -- readers -----------------------------------------------------------------------------------------


def test_readable_template_and_read_bundles_show_what_the_fetcher_fetches(big_scripts, tmp_path):
    template, _, _ = synth(lambda s: LifecycleConfig(s, "Lcc", on_start=big_scripts), tmp_path)
    view = readable_template(template)
    content = lcc(view)["OnStart"][0]["Content"]
    assert content["delivery"] == "s3" and content["files"] == {} and content["plan"] == []
    s3 = content["s3"]
    assert s3["bucket"] == "<deploy-time value bucket>" and s3["region"] == "<deploy-time value region>"
    assert s3["bucket_expression"] == {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    assert re.fullmatch(r"[0-9a-f]{64}\.xz", s3["key"]) and re.fullmatch(r"[0-9a-f]{64}", s3["sha256"])
    found, = read_bundles(json.dumps(template))
    assert found.s3 is not None and found.s3.key == s3["key"]


def test_with_payload_refuses_another_object(big_scripts):
    bundle = Bundle(big_scripts, delivery="s3")
    found = read_script(_s3_script(bundle))
    with pytest.raises(BundleError, match="the payload is not the object the script fetches"):
        with_payload(found, bundle.payload()[:-1] + b"\0")
    with pytest.raises(BundleError, match="not an S3 lifecycle script"):
        with_payload(read_script(Bundle(SMALL).on_start_script), b"x")


def test_inspect_reads_the_cdk_out_template_with_the_staged_asset(big_scripts, tmp_path, capsys):
    template, assembly, _ = synth(lambda s: LifecycleConfig(s, "Lcc", on_start=big_scripts), tmp_path)
    assert main(["inspect", str(assembly / "Delivery.template.json")]) == 0
    out = capsys.readouterr().out
    assert "delivery     s3: fetches s3://<deploy-time value bucket>/" in out
    assert "data/lookup.csv" in out and "10-conda-env.sh" in out  # the staged asset, next to the template


# -- the CLI -----------------------------------------------------------------------------------------


def test_build_with_s3_delivery_writes_the_payload_and_a_fetcher(big_folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["build", str(big_folder), "-o", str(out / "on-start.sh"), "--s3-bucket", "team-bucket",
                 "--s3-region", "eu-west-1"]) == 0
    printed = capsys.readouterr().out
    script = (out / "on-start.sh").read_text()
    found = read_script(script)
    assert found.s3.bucket == "team-bucket" and found.s3.region == "eu-west-1"
    payload = (out / found.s3.key).read_bytes()
    assert found.s3.key == f"{hashlib.sha256(payload).hexdigest()}.tar.xz"
    assert f"aws s3 cp {out / found.s3.key} s3://team-bucket/{found.s3.key}" in printed
    assert "on-start: delivered through S3" in printed and ", delivery s3" in printed
    assert main(["inspect", str(out / "on-start.sh"), "--json"]) == 0
    info, = json.loads(capsys.readouterr().out)
    assert info["delivery"] == "s3" and info["s3"]["sha256"] == found.s3.sha256
    assert "data/lookup.csv" in {f["path"] for f in info["files"]}


def test_build_auto_without_a_bucket_names_the_flag_and_writes_nothing(big_folder, tmp_path, capsys):
    assert main(["build", str(big_folder), "-o", str(tmp_path / "on-start.sh")]) == 2
    err = capsys.readouterr().err
    assert "--s3-bucket:" in err and "over SageMaker's limit of 16384" in err and "--delivery inline" in err
    assert not (tmp_path / "on-start.sh").exists()
    assert main(["build", str(big_folder), "-o", "-", "--s3-bucket", "b-1"]) == 2
    assert "give a file path instead of '-'" in capsys.readouterr().err


def test_build_lists_what_it_left_out(tmp_path, capsys):
    folder = tmp_path / "s"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "10-a.sh").write_text("echo a\n")
    (folder / "notes.swp").write_text("x")
    assert main(["build", str(folder), "-o", str(tmp_path / "on-start.sh")]) == 0
    out = capsys.readouterr().out
    assert "left out __pycache__/ (exclude pattern __pycache__/)" in out
    assert "left out notes.swp (exclude pattern *.swp)" in out


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["S3", "bucket", "", 3])
def test_an_unknown_delivery_names_the_field_and_the_choices(value, tmp_path):
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Bad")
    with pytest.raises((ValueError, BundleError), match=r"delivery: .*'inline', 's3', 'auto'|delivery: expected"):
        LifecycleConfig(stack, "Lcc", on_start=SMALL, delivery=value)
    with pytest.raises((ValueError, BundleError), match=r"delivery: .*'inline', 's3', 'auto'|delivery: expected"):
        NotebookInstance(stack, "Nb", on_start=SMALL, delivery=value)
    with pytest.raises(BundleError, match=r"delivery: .*'inline', 's3', 'auto'"):
        Bundle(SMALL, delivery=value)


def test_delivery_with_a_shared_config_is_refused(tmp_path):
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Bad")
    shared = LifecycleConfig(stack, "Lcc", on_start=SMALL)
    with pytest.raises(ValueError, match="delivery: only for the lifecycle configuration created here"):
        NotebookInstance(stack, "Nb", lifecycle_config=shared, delivery="s3")


def test_s3_delivery_needs_literal_asset_keys(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Legacy", synthesizer=cdk.LegacyStackSynthesizer())
    with pytest.raises(ValueError, match=r"delivery: the on-start payload goes through S3, but this stack's "
                                         r"synthesizer gives the asset's object key only at deploy time.*"
                                         r"DefaultStackSynthesizer.*delivery='inline'"):
        LifecycleConfig(stack, "Lcc", on_start=SMALL, delivery="s3")
    LifecycleConfig(stack, "Inline", on_start=SMALL)  # auto stays inline: no asset, no problem


def test_too_many_deploy_time_values_overflow_even_the_fetcher(tmp_path):
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Big")
    LifecycleConfig(stack, "Lcc", on_start=SMALL, delivery="s3", features=Features(environment={
        f"V{i}": cdk.Fn.ref("AWS::StackName") for i in range(60)
    }))
    with pytest.raises(Exception, match=r"the S3 fetcher script is \d+ characters after base64, counting the "
                                        r"deploy-time value V0 at 256 bytes"):
        cdk.App.of(stack).synth()
