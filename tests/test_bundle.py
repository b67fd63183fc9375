"""Bundle: deterministic rendering, the payload inside, size budget and bad input."""

from __future__ import annotations

import base64
import os
import random
import re
import subprocess
import sys
import tarfile
import io

import pytest

from notebook_lifecycle import CONTENT_LIMIT, Autostop, Bundle, BundleError, Features, StartupScripts
from notebook_lifecycle import archive
from notebook_lifecycle.shipped import minify_shell, on_instance_text, shell_blocks

PAYLOAD_RE = re.compile(r"<<'P'.*?\n(?P<text>[^\n]+)\nP\n", re.S)


def payload_of(script: str) -> bytes:
    match = PAYLOAD_RE.search(script)
    assert match, "no payload heredoc in the script"
    if "|tar " not in script:  # xz: base95 of LZMA'd records
        return archive.base95_decode(match.group("text"))
    return archive.text_decode(match.group("text"), "gzip")


def files_of(script: str) -> dict[str, tuple[bytes, int]]:
    raw = archive.decompress(payload_of(script))
    if "|tar " not in script:
        return {f.path: (f.data, f.mode) for f in archive.read_records(archive.records_of(raw))}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return {m.name: (tar.extractfile(m).read(), m.mode) for m in tar.getmembers()}


@pytest.fixture
def scripts(tmp_path):
    (tmp_path / "10-root.sh").write_text("#!/bin/bash\nsystemctl stop something || true\n")
    (tmp_path / "20-user.sh").write_text("git config --global user.name 'Data Scientist'\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "settings.json").write_text('{"theme": "dark"}\n')
    return StartupScripts.from_directory(tmp_path, as_root=("10-root.sh",))


def test_content_is_base64_of_script(scripts):
    bundle = Bundle(scripts)
    assert base64.b64decode(bundle.on_start_content).decode() == bundle.on_start_script
    assert bundle.on_start_script.startswith("#!/bin/bash\n")
    assert "\r" not in bundle.on_start_script
    assert bundle.on_create_script is None and bundle.on_create_content is None
    assert bundle.hooks == ("on-start",)


def test_payload_holds_files_plan_and_runner(scripts):
    files = files_of(Bundle(scripts).on_start_script)
    assert sorted(files) == [
        ".notebook-lifecycle/plan",
        ".notebook-lifecycle/run.sh",
        "10-root.sh",
        "20-user.sh",
        "lib/settings.json",
    ]
    assert files["10-root.sh"][1] == 0o755 and files["lib/settings.json"][1] == 0o644
    plan = files[".notebook-lifecycle/plan"][0].decode().splitlines()
    assert plan == [
        "10-root.sh\troot\tfg\texec",
        "20-user.sh\tec2-user\tfg\tbash",
    ]
    runner = files[".notebook-lifecycle/run.sh"][0].decode()
    # no background step, ASCII names, no feature: the runner without its "bg", "wide" and "feat" blocks
    assert runner == minify_shell(shell_blocks(on_instance_text("run.sh"), ("bg", "wide", "feat")))
    subprocess.run(["bash", "-n"], input=runner, text=True, check=True)


def test_records_are_sorted_and_exact(scripts):
    inline = archive.decompress(payload_of(Bundle(scripts).on_start_script))
    writer, raw = inline.split(b"\0", 1)  # the writer the decoder runs, then the records
    assert writer == archive.WRITER and archive.records_of(inline) == raw
    files = archive.read_records(raw)
    assert archive.records(files) == raw  # nothing but the separator, "MODE PATH" lines and the data
    sep = raw[:3]
    assert len(set(sep)) == 3 and all(b < 32 and b != 10 for b in sep)
    heads = [rec.split(b"\n", 1)[0].split(b" ", 1) for rec in raw.split(sep)[1:]]
    paths = [p.decode() for _, p in heads]
    assert paths == sorted(paths) == sorted(f.path for f in files)
    assert {m for m, _ in heads} <= {b"644", b"755"}


def test_records_separator_never_occurs_in_a_file():
    from notebook_lifecycle.scripts import PackedFile

    first = bytes([1, 2, 3])
    files = [PackedFile("a.bin", first + b"x" + bytes([1, 2, 4]), False), PackedFile("b.sh", b"echo\n", True)]
    raw = archive.records(files)
    assert raw[:3] not in (first, bytes([1, 2, 4])) and raw.count(raw[:3]) == 2
    assert archive.read_records(raw) == sorted(files, key=lambda f: f.path)
    assert archive.read_records(archive.records([PackedFile("e", b"", False)])) == [PackedFile("e", b"", False)]
    with pytest.raises(BundleError, match="not a valid records archive"):
        archive.read_records(b"hello")


def test_tar_is_deterministic_and_clean(scripts):
    raw = archive.decompress(payload_of(Bundle(scripts, compression="gzip").on_start_script))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert m.isreg() and m.mode in (0o644, 0o755)


def test_same_input_gives_identical_bytes_even_after_touching(tmp_path, scripts):
    first = Bundle(scripts).on_start_content
    for path in tmp_path.rglob("*"):
        os.utime(path, (123456, 123456))
    again = StartupScripts.from_directory(tmp_path, as_root=("10-root.sh",))
    assert Bundle(again).on_start_content == first
    assert Bundle(again).fingerprint() == Bundle(scripts).fingerprint()


def test_identical_bytes_across_processes(tmp_path, scripts):
    code = (
        "import sys; from notebook_lifecycle import Bundle, StartupScripts;"
        "s=StartupScripts.from_directory(sys.argv[1], as_root=('10-root.sh',));"
        "print(Bundle(s).on_start_content)"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2)
    }
    assert outs == {Bundle(scripts).on_start_content + "\n"}


@pytest.mark.parametrize("codec", ["xz", "gzip"])
def test_codecs_decode_to_the_same_files(scripts, codec):
    bundle = Bundle(scripts, compression=codec)
    assert files_of(bundle.on_start_script) == files_of(Bundle(scripts).on_start_script)
    expected = "n=n*95+ord(c)-32" if codec == "xz" else "base64 -d<<'P'|tar -xzmf-"
    assert expected in bundle.on_start_script


def test_xz_is_denser_than_gzip_for_text():
    rng = random.Random(7)
    words = ["conda", "install", "--yes", "pip", "echo", "sudo", "-u", "ec2-user", "if", "then", "fi", "$HOME", "/opt"]
    text = "\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(800)).encode()
    assert len(archive.compress(text, "xz")) < len(archive.compress(text, "gzip"))


def test_on_create_is_a_separate_hook_with_its_own_dir(scripts):
    create = StartupScripts.from_files({"setup.sh": "echo once\n"})
    bundle = Bundle(scripts, on_create=create)
    assert bundle.hooks == ("on-start", "on-create")
    assert "/startup-on-create/.notebook-lifecycle/run.sh on-create 240" in bundle.on_create_script
    assert "/startup/.notebook-lifecycle/run.sh on-start 240" in bundle.on_start_script
    assert sorted(files_of(bundle.on_create_script)) == [".notebook-lifecycle/plan", ".notebook-lifecycle/run.sh", "setup.sh"]
    assert len(bundle.size_report().hooks) == 2


def test_features_run_first_and_declare_iam(scripts):
    bundle = Bundle(scripts, features=Features(autostop=Autostop(idle_minutes=30), stop_ssm_agent=True))
    names = [s.name for s in bundle.plan()]
    assert names[-2:] == ["10-root.sh", "20-user.sh"]
    assert names[:-2] and all(n.startswith("feature:") for n in names[:-2])
    actions = {a for g in bundle.iam_grants for a in g.actions}
    assert actions == {"sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"}
    assert Bundle(scripts).iam_grants == ()


def test_features_alone_make_an_on_start():
    bundle = Bundle(features=Features(stop_ssm_agent=True))
    assert bundle.on_start_script is not None
    assert all(s.name.startswith("feature:") for s in bundle.plan())


def test_size_report(scripts):
    report = Bundle(scripts).size_report()
    assert report.limit == CONTENT_LIMIT == 16384
    assert report.total == len(Bundle(scripts).on_start_content)
    assert report.headroom == CONTENT_LIMIT - report.total
    assert {f.path for f in report.files} >= {"10-root.sh", "20-user.sh", "lib/settings.json"}
    assert all(f.approx_chars > 0 for f in report.files)
    text = str(report)
    assert f"{report.total} of 16384 characters (headroom {report.headroom})" in text
    assert "20-user.sh" in text


def test_oversize_names_costliest_files_and_headroom():
    rng = random.Random(1)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16000))
    scripts = StartupScripts.from_files({"big.sh": f"echo {noise}\n", "small.sh": "echo hi\n"})
    with pytest.raises(BundleError) as err:
        Bundle(scripts)
    message = str(err.value)
    assert "over SageMaker's limit of 16384" in message
    assert "costliest files are big.sh" in message
    lenient = Bundle(scripts, check_size=False)
    assert not lenient.size_report().fits
    assert lenient.size_errors() and lenient.size_errors()[0] == message


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"install_dir": "startup"}, r"install_dir: 'startup' must be one new folder directly under '/'"),
        ({"install_dir": "/"}, r"install_dir: '/' must be one new folder directly under '/'"),
        ({"install_dir": "/startup/"}, r"install_dir"),
        ({"install_dir": "/a b"}, r"install_dir"),
        ({"install_dir": "/a/../etc"}, r"install_dir"),
        ({"install_dir": "/home/ec2-user/startup"}, r"inside /home"),
        ({"install_dir": "/tmp/startup"}, r"inside /tmp"),
        ({"install_dir": "/etc"}, r"the system or the SageMaker platform owns"),
        ({"install_dir": "/opt"}, r"the system or the SageMaker platform owns"),
        ({"install_dir": "/opt/ml"}, r"inside /opt"),
        ({"deadline_seconds": 0}, r"deadline_seconds: 0 must be a whole number of seconds from 1 to 280"),
        ({"deadline_seconds": 281}, r"deadline_seconds: 281"),
        ({"deadline_seconds": 10.5}, r"deadline_seconds: 10\.5"),
        ({"compression": "zstd"}, r"compression: 'zstd' is not supported"),
    ],
)
def test_bad_bundle_settings(scripts, kwargs, message):
    with pytest.raises(BundleError, match=message):
        Bundle(scripts, **kwargs)


def test_custom_install_dir_and_deadline(scripts):
    bundle = Bundle(scripts, install_dir="/opt-startup", deadline_seconds=100)
    assert "rm -rf /opt-startup;mkdir $_&&" in bundle.on_start_script
    assert bundle.on_start_script.rstrip().endswith("/opt-startup/.notebook-lifecycle/run.sh on-start 100")


def test_nothing_to_run_and_wrong_types(scripts):
    with pytest.raises(BundleError, match="nothing to run"):
        Bundle()
    with pytest.raises(BundleError, match="on_start: expected StartupScripts"):
        Bundle("assets/on-start")  # type: ignore[arg-type]
    with pytest.raises(BundleError, match="features: expected Features"):
        Bundle(scripts, features={"autostop": 60})  # type: ignore[arg-type]


def test_decoder_needs_only_basic_tools(scripts):
    script = Bundle(scripts).on_start_script
    decoder = PAYLOAD_RE.sub("<<'P'\n...\nP\n", script)
    decoder = re.sub(r"python3 -c '[^']*'", "python3", decoder)
    decoder = re.sub(r"^#.*$", "", decoder, flags=re.M)
    commands = set(re.findall(r"(?:^|[;|&{]|then|else)\s*([a-z][a-z0-9]*)\b", decoder, re.M))
    assert commands <= {"umask", "set", "python3", "rm", "mkdir", "cd", "base64", "tar", "echo", "exit", "exec"}
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    gzip_script = Bundle(scripts, compression="gzip").on_start_script
    assert "python3" not in gzip_script.split("\n", 2)[2]  # gzip mode needs only coreutils, tar and gzip


def test_runner_leaves_out_what_the_plan_does_not_need(tmp_path):
    from notebook_lifecycle.shipped import shipped_file

    def runner(**options) -> bytes:
        scripts = StartupScripts.from_files({"a.sh": "echo a\n", "b.sh": "echo b\n"}, **options)
        return files_of(Bundle(scripts).on_start_script)[".notebook-lifecycle/run.sh"][0]

    assert runner() == shipped_file("run.sh", ("bg", "wide", "feat"))
    assert runner(background=["b.sh"]) == shipped_file("run.sh", ("wide", "feat"))
    wide = StartupScripts.from_files({"ünï.sh": "echo u\n"})
    assert files_of(Bundle(wide).on_start_script)[".notebook-lifecycle/run.sh"][0] == shipped_file(
        "run.sh", ("bg", "feat"))
    # every step with a #! line: no code to run one by bash
    exe = StartupScripts.from_files({"a.sh": "#!/bin/bash\necho a\n", "b.sh": "#!/bin/sh\necho b\n"})
    assert files_of(Bundle(exe).on_start_script)[".notebook-lifecycle/run.sh"][0] == shipped_file(
        "run.sh", ("bg", "wide", "bash", "feat"))
    # a feature: the facts the features rely on (runuser, scheduler, Jupyter's unit and port) are logged
    featured = files_of(Bundle(exe, features=Features(stop_ssm_agent=True)).on_start_script)
    assert featured[".notebook-lifecycle/run.sh"][0] == shipped_file("run.sh", ("bg", "wide", "bash"))


def test_the_types_the_public_api_returns_are_exported() -> None:
    import typing

    import notebook_lifecycle as nl

    def returned(owner: type, name: str) -> set:
        member = getattr(owner, name)
        hints = typing.get_type_hints(member.fget if isinstance(member, property) else member)
        found, todo = set(), [hints["return"]]
        while todo:
            t = todo.pop()
            todo.extend(typing.get_args(t))
            if isinstance(t, type) and t.__module__.startswith("notebook_lifecycle"):
                found.add(t)
        return found

    public = {getattr(nl, n) for n in nl.__all__}
    for owner, name in [(nl.Bundle, "size_report"), (nl.StartupScripts, "steps"), (nl.StartupScripts, "files"),
                        (nl.StartupScripts, "excluded"), (nl.SizeReport, "main")]:
        assert returned(owner, name) <= public, (owner.__name__, name)
    assert {t for f in typing.get_type_hints(nl.HookSize).values() for t in typing.get_args(f)} & {nl.FileCost}
