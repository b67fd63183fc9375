"""unbundle: reading what the bundler emitted (scripts, base64, templates) back into files and a plan."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import textwrap

import pytest

from notebook_lifecycle import CONTENT_LIMIT, Bundle, BundleError, StartupScripts, __version__, archive
from notebook_lifecycle.scripts import PackedFile
from notebook_lifecycle.unbundle import (
    LIFECYCLE_CONFIG_TYPE,
    FoundBundle,
    PlanEntry,
    read_bundles,
    read_script,
    readable_template,
)

BINARY = bytes(range(256)) * 2
RUNNER = ".notebook-lifecycle/run.sh"
PLAN = ".notebook-lifecycle/plan"


def make_scripts(**overrides: object) -> StartupScripts:
    files: dict[str, object] = {
        "10-root.sh": "#!/bin/bash\nyum install -y htop\n",
        "20-user.sh": "pip install --user black\n",
        "30-server.sh": "#!/bin/bash\nnohup python3 lib/serve.py &\n",
        "lib/serve.py": "print('serving')\n",
        "lib/blob.bin": BINARY,
    }
    files.update(overrides)
    return StartupScripts.from_files(files, as_root=("10-root.sh",), background=("30-server.sh",))  # type: ignore[arg-type]


@pytest.fixture
def bundle() -> Bundle:
    return Bundle(make_scripts(), StartupScripts.from_files({"setup.sh": "echo once\n"}), deadline_seconds=200)


def lifecycle_config(on_start: str | None = None, on_create: str | None = None) -> dict:
    props: dict = {}
    if on_start is not None:
        props["OnStart"] = [{"Content": on_start}]
    if on_create is not None:
        props["OnCreate"] = [{"Content": on_create}]
    return {"Type": LIFECYCLE_CONFIG_TYPE, "Properties": props}


def template_of(bundle: Bundle, other: Bundle) -> dict:
    foreign = base64.b64encode(b"#!/bin/bash\necho written by hand\n").decode()
    return {
        "Resources": {
            "Role1234": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/"}},
            "ConfigB": lifecycle_config(other.on_start_content),
            "ConfigA": lifecycle_config(bundle.on_start_content, bundle.on_create_content),
            "HandWritten": lifecycle_config(foreign),
            "FromToken": lifecycle_config({"Fn::Join": ["", ["#!/bin/bash\n", {"Ref": "AWS::Region"}]]}),  # type: ignore[arg-type]
        }
    }


# -- one script ------------------------------------------------------------------------------


def test_script_reads_back_files_plan_and_settings(bundle):
    [found] = read_bundles(bundle.on_start_script)
    assert found.label == "on-start" and found.hook == "on-start"
    assert found.install_dir == "/startup"
    assert found.deadline_seconds == 200
    assert found.version == __version__
    assert found.compression == "xz"
    assert found.script == bundle.on_start_script
    assert found.content == bundle.on_start_content
    assert found.content_length == len(bundle.on_start_content)
    assert found.headroom == CONTENT_LIMIT - len(bundle.on_start_content)
    assert found.user_files == make_scripts().files
    assert [e.step for e in found.plan] == list(bundle.plan("on-start"))
    assert [(e.name, e.user, e.mode, e.how) for e in found.plan] == [
        ("10-root.sh", "root", "fg", "exec"),
        ("20-user.sh", "ec2-user", "fg", "bash"),
        ("30-server.sh", "ec2-user", "bg", "exec"),
    ]
    assert {f.path for f in found.files} - {f.path for f in found.user_files} == {PLAN, RUNNER}


def test_on_create_script_unpacks_into_its_own_dir(bundle):
    [found] = read_bundles(bundle.on_create_script)
    assert (found.hook, found.label, found.install_dir) == ("on-create", "on-create", "/startup-on-create")
    assert found.text("setup.sh") == "echo once\n"
    assert [e.path for e in found.plan] == ["setup.sh"]


def test_text_and_file_accessors(bundle):
    [found] = read_bundles(bundle.on_start_script)
    assert found.text("lib/serve.py") == "print('serving')\n"
    assert found.file("lib/blob.bin").data == BINARY
    assert found.file("10-root.sh").mode == 0o755
    assert found.file("lib/serve.py").mode == 0o644
    with pytest.raises(KeyError, match="nope.sh"):
        found.file("nope.sh")


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda b: b.on_start_content, id="base64-str"),
        pytest.param(lambda b: b.on_start_content.encode(), id="base64-bytes"),
        pytest.param(lambda b: "\n".join(textwrap.wrap(b.on_start_content, 76)) + "\n", id="base64-wrapped"),
        pytest.param(lambda b: b.on_start_script.encode(), id="script-bytes"),
        pytest.param(lambda b: "\ufeff" + b.on_start_script, id="script-with-bom"),
    ],
)
def test_every_form_of_one_script_reads_the_same(bundle, form):
    assert read_bundles(form(bundle)) == read_bundles(bundle.on_start_script)


def test_label_names_a_lone_script(bundle):
    [found] = read_bundles(bundle.on_start_script, label="dev-notebook")
    assert found.label == "dev-notebook" and found.hook == "on-start"


@pytest.mark.parametrize("compression", ["xz", "gzip"])
def test_both_codecs_and_custom_settings(compression):
    b = Bundle(make_scripts(), install_dir="/opt-startup", deadline_seconds=30, compression=compression)
    [found] = read_bundles(b.on_start_content)
    assert (found.compression, found.install_dir, found.deadline_seconds) == (compression, "/opt-startup", 30)
    assert found.user_files == make_scripts().files


def test_plan_entry_as_step_and_dict():
    entry = PlanEntry("feature:autostop", "root", "bg", "exec", ".notebook-lifecycle/features/autostop.sh")
    assert entry.background and entry.step.shebang and entry.step.background
    assert entry.as_dict() == {
        "name": "feature:autostop",
        "user": "root",
        "mode": "bg",
        "how": "exec",
        "path": ".notebook-lifecycle/features/autostop.sh",
    }
    assert not PlanEntry("a.sh", "ec2-user", "fg", "bash", "a.sh").step.shebang


# -- templates and API answers -----------------------------------------------------------------


def test_template_gives_every_config_labelled_and_skips_foreign_ones(bundle):
    other = Bundle(StartupScripts.from_files({"only.sh": "echo other\n"}), compression="gzip")
    found = read_bundles(json.dumps(template_of(bundle, other), indent=1))
    assert [f.label for f in found] == ["ConfigA/on-start", "ConfigA/on-create", "ConfigB/on-start"]
    assert [f.hook for f in found] == ["on-start", "on-create", "on-start"]
    assert found[0].user_files == make_scripts().files
    assert found[2].text("only.sh") == "echo other\n" and found[2].compression == "gzip"
    assert [f.content_length for f in found] == [
        len(bundle.on_start_content),
        len(bundle.on_create_content),
        len(other.on_start_content),
    ]


def test_template_with_fn_base64_and_several_entries(bundle):
    config = lifecycle_config()
    config["Properties"]["OnStart"] = [{"Content": {"Fn::Base64": bundle.on_start_script}}, {"Content": bundle.on_start_content}]
    found = read_bundles(json.dumps({"Resources": {"Cfg": config}}))
    assert [f.label for f in found] == ["Cfg/on-start[0]", "Cfg/on-start[1]"]
    assert found[0].files == found[1].files


def test_sagemaker_api_answer(bundle):
    answer = {
        "NotebookInstanceLifecycleConfigName": "dev-config",
        "OnStart": [{"Content": bundle.on_start_content}],
        "OnCreate": [{"Content": bundle.on_create_content}],
    }
    assert [f.label for f in read_bundles(json.dumps(answer))] == ["dev-config/on-start", "dev-config/on-create"]


# -- bad input -------------------------------------------------------------------------------


def swap_payload(script: str, files: list[PackedFile]) -> str:
    """The script with its payload replaced by one holding ``files`` (as the bundler writes it)."""
    head, rest = script.split("<<'P'", 1)
    first, _payload, tail = rest.split("\n", 2)
    return f"{head}<<'P'{first}\n{archive.inline_text(files, 'xz')}\n{tail}"


def other_files(bundle: Bundle, *, plan: bytes | None) -> list[PackedFile]:
    [found] = read_bundles(bundle.on_start_script)
    files = [f for f in found.files if f.path != PLAN]
    return files + ([PackedFile(PLAN, plan, False)] if plan is not None else [])


BAD_INPUTS = {
    "empty": ("  \n", "empty input"),
    "garbage": ("hello world", "neither a lifecycle script"),
    "yaml": ("AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n", "YAML template"),
    "not-json": ("{not json", "not valid JSON (line 1"),
    "json-list": ("[1, 2]", "expected an object"),
    "json-no-resources": ('{"Outputs": {}}', "no 'Resources'"),
    "template-without-config": ('{"Resources": {"R": {"Type": "AWS::S3::Bucket"}}}', "no AWS::SageMaker::NotebookInstanceLifecycleConfig"),
    "bad-content": (json.dumps({"Resources": {"C": lifecycle_config("%%%")}}), "C/on-start: Content is not base64"),
    "foreign-script": ("#!/bin/bash\necho hi\n", "not a notebook-lifecycle script"),
    "base64-of-not-a-script": (base64.b64encode(b"just words").decode(), "something other than a script"),
    "not-utf8": (b"\xff\xfe\x00garbage", "not UTF-8"),
}


@pytest.mark.parametrize("data,message", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_clear_line(data, message):
    with pytest.raises(BundleError) as err:
        read_bundles(data)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_damaged_scripts(bundle):
    script = bundle.on_start_script
    lines = script.split("\n")
    payload_line = next(i for i, line in enumerate(lines) if "<<'P'" in line) + 1
    cases = {
        "truncated": (script[: len(script) // 2], "does not exec the runner"),
        "no closing P": (script.replace("\nP\n", "\n"), "no closing 'P' line"),
        "bad text encoding": (script.replace(lines[payload_line], lines[payload_line][:-3] + "\t.."), "the payload is not valid base95"),
        "bad stream": (
            script.replace(lines[payload_line], archive.text_encode(b"\x5d" + b"\x00" * 40, "xz")),
            "the script is damaged",
        ),
        "no plan": (swap_payload(script, other_files(bundle, plan=None)), "has no .notebook-lifecycle/plan"),
        "bad plan line": (swap_payload(script, other_files(bundle, plan=b"a.sh\troot\n")), "plan line 1 is not"),
        "plan names a missing file": (
            swap_payload(script, other_files(bundle, plan=b"x\troot\tfg\tbash\tmissing.sh\n")),
            "runs 'missing.sh', which is not in the payload",
        ),
    }
    for name, (damaged, message) in cases.items():
        with pytest.raises(BundleError) as err:
            read_script(damaged, label="cfg")
        assert str(err.value).startswith("cfg: "), name
        assert message in str(err.value), name
        assert "\n" not in str(err.value), name


def test_a_damaged_bundle_in_a_template_is_an_error_naming_it(bundle):
    damaged = base64.b64encode(bundle.on_start_script.replace("\nP\n", "\n").encode()).decode()
    template = {"Resources": {"Good": lifecycle_config(bundle.on_start_content), "Bad": lifecycle_config(damaged)}}
    with pytest.raises(BundleError, match=r"^Bad/on-start: the script is damaged"):
        read_bundles(json.dumps(template))
    with pytest.raises(BundleError, match=r"^Bad/on-start: "):
        readable_template(template)


# -- readable_template -----------------------------------------------------------------------


def test_readable_template_shows_files_plan_and_settings(bundle):
    other = Bundle(StartupScripts.from_files({"only.sh": "echo other\n"}))
    template = template_of(bundle, other)
    original = copy.deepcopy(template)
    readable = readable_template(template)

    assert template == original, "the input must not be changed"
    resources = readable["Resources"]
    assert resources["Role1234"] == original["Resources"]["Role1234"]
    assert resources["HandWritten"] == original["Resources"]["HandWritten"]
    assert resources["FromToken"] == original["Resources"]["FromToken"]

    content = resources["ConfigA"]["Properties"]["OnStart"][0]["Content"]
    runner = read_bundles(bundle.on_start_script)[0].file(RUNNER).data
    assert content == {
        "hook": "on-start",
        "install_dir": "/startup",
        "deadline_seconds": 200,
        "compression": "xz",
        "content_length": len(bundle.on_start_content),
        "plan": [
            {"name": "10-root.sh", "user": "root", "mode": "fg", "how": "exec", "path": "10-root.sh"},
            {"name": "20-user.sh", "user": "ec2-user", "mode": "fg", "how": "bash", "path": "20-user.sh"},
            {"name": "30-server.sh", "user": "ec2-user", "mode": "bg", "how": "exec", "path": "30-server.sh"},
        ],
        "executable": ["10-root.sh", "20-user.sh", "30-server.sh"],
        "files": {
            RUNNER: f"<runner {len(runner)} bytes sha256 {hashlib.sha256(runner).hexdigest()}>",
            "10-root.sh": "#!/bin/bash\nyum install -y htop\n",
            "20-user.sh": "pip install --user black\n",
            "30-server.sh": "#!/bin/bash\nnohup python3 lib/serve.py &\n",
            "lib/blob.bin": f"<binary {len(BINARY)} bytes sha256 {hashlib.sha256(BINARY).hexdigest()}>",
            "lib/serve.py": "print('serving')\n",
        },
    }
    create = resources["ConfigA"]["Properties"]["OnCreate"][0]["Content"]
    assert create["files"]["setup.sh"] == "echo once\n" and create["install_dir"] == "/startup-on-create"
    assert resources["ConfigB"]["Properties"]["OnStart"][0]["Content"]["files"]["only.sh"] == "echo other\n"
    json.dumps(readable)  # JSON-able, as snapshot serializers need


def test_readable_template_changes_only_where_a_script_changed(bundle):
    def readable_of(scripts: StartupScripts) -> dict:
        template = {"Resources": {"Cfg": lifecycle_config(Bundle(scripts).on_start_content)}}
        return readable_template(template)["Resources"]["Cfg"]["Properties"]["OnStart"][0]["Content"]

    before = readable_of(make_scripts())
    after = readable_of(make_scripts(**{"20-user.sh": "pip install --user ruff\n"}))
    changed = {key for key in before if before[key] != after[key]}
    assert changed <= {"files", "content_length"}
    assert {p for p in before["files"] if before["files"][p] != after["files"][p]} == {"20-user.sh"}
    assert "version" not in before, "a release alone must not change snapshots"


def test_readable_shows_invalid_utf8_as_binary():
    found = read_bundles(Bundle(make_scripts(**{"lib/latin1.txt": "caf\u00e9".encode("latin-1")})).on_start_script)[0]
    assert found.readable()["files"]["lib/latin1.txt"].startswith("<binary 4 bytes sha256 ")


def test_found_bundle_is_frozen(bundle):
    [found] = read_bundles(bundle.on_start_script)
    assert isinstance(found, FoundBundle)
    with pytest.raises(AttributeError):
        found.label = "x"  # type: ignore[misc]


def test_reads_bundles_in_the_earlier_tar_and_base85_format(bundle):
    # what the library wrote before the records + base95 payload: a tar, LZMA, base85, unpacked by tar
    [found] = read_bundles(bundle.on_start_script)
    d = found.install_dir
    old = (
        "#!/bin/bash\n"
        "# notebook-lifecycle 0.1.0 on-start\n"
        f"umask 022;set -o pipefail;rm -rf {d};mkdir {d}&&python3 -c 'import lzma,base64;open(1,\"wb\")"
        f".write(lzma.decompress(base64.b85decode(input())))'<<'P'|tar -xmf- -C {d}||"
        "{ echo notebook-lifecycle: cannot unpack, needs python3 lzma tar;exit 0;}\n"
        f"{archive.text_encode(archive.pack(found.files, 'xz'), 'xz')}\n"
        "P\n"
        f"exec /bin/bash {d}/.notebook-lifecycle/run.sh on-start {found.deadline_seconds}\n"
    )
    [again] = read_bundles(old)
    assert again.files == found.files and again.plan == found.plan and again.compression == "xz"


def test_reads_records_bundles_of_the_shape_before_the_leaner_decoder(bundle):
    # records + base95, as written before the leaner decoder: the hook on the header line, mkdir D&&cd D,
    # makedirs with exist_ok, `exec /bin/bash` of the runner, and a plan line with PATH on every step
    [found] = read_bundles(bundle.on_start_script)
    d = found.install_dir
    plan = "".join("\t".join((e.name, e.user, e.mode, e.how, e.path)) + "\n" for e in found.plan).encode()
    files = [f if f.path != ".notebook-lifecycle/plan" else PackedFile(f.path, plan, False) for f in found.files]
    payload = archive.compress(archive.records(files), "xz")
    old = (
        "#!/bin/bash\n"
        "# notebook-lifecycle 0.1.0 on-start\n"
        f"umask 022;rm -rf {d};mkdir {d}&&cd {d}&&python3 -c 'import lzma,os\n"
        "n=0\n"
        "for c in input():n=n*95+ord(c)-32\n"
        f'd=lzma.decompress(n.to_bytes({len(payload)},"big"))\n'
        "for r in d.split(d[:3])[1:]:\n"
        ' h,r=r.split(b"\\n",1);m,p=h.split(b" ",1)\n'
        ' if{b"",b".."}&{*p.split(b"/")}:exit(p)\n'
        ' os.makedirs(p,exist_ok=1);os.rmdir(p);open(p,"wb").write(r);os.chmod(p,int(m,8))\'<<\'P\'||'
        "{ echo notebook-lifecycle: cannot unpack, needs python3 lzma;exit 0;}\n"
        f"{archive.base95_encode(payload)}\n"
        "P\n"
        f"exec /bin/bash {d}/.notebook-lifecycle/run.sh on-start {found.deadline_seconds}\n"
    )
    [again] = read_bundles(old)
    assert plan.count(b"\t") == 4 * len(found.plan)  # every line has its PATH
    assert again.plan == found.plan and again.version == "0.1.0" and again.install_dir == d
    assert [f.path for f in again.files] == [f.path for f in found.files]
    assert again.deadline_seconds == found.deadline_seconds and again.compression == "xz"
