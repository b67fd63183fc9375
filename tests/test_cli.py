"""The notebook-lifecycle command: build, inspect, unpack; errors are one line, exit 2, and write nothing."""

from __future__ import annotations

import base64
import json
import os
import random
import string
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from notebook_lifecycle import CONTENT_LIMIT, Autostop, Binary, Bundle, Features, StartupScripts, __version__, archive
from notebook_lifecycle import cli
from notebook_lifecycle.scripts import PackedFile
from notebook_lifecycle.unbundle import LIFECYCLE_CONFIG_TYPE, read_bundles

EXE = Path(sysconfig.get_path("scripts")) / "notebook-lifecycle"
SHA = "ab" * 32
BINARY = bytes(range(256))


def console(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the installed console script, as a user would."""
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing; reinstall with: .venv/bin/pip install -q -e .")
    return subprocess.run([str(EXE), *args], cwd=cwd, input=stdin, capture_output=True, timeout=120)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """main([...]) in this process: (exit status, stdout, stderr)."""
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("notebook-lifecycle: error: "), lines[0]
    return lines[0]


@pytest.fixture
def startup(tmp_path: Path) -> Path:
    d = tmp_path / "startup"
    (d / "lib").mkdir(parents=True)
    (d / "10-root.sh").write_text("#!/bin/bash\nyum install -y htop\n")
    (d / "20-user.sh").write_text("pip install --user black\n")
    (d / "30-server.sh").write_text("#!/bin/bash\nnohup python3 lib/serve.py &\n")
    (d / "lib" / "serve.py").write_text("print('serving')\n")
    (d / "lib" / "tool").write_text("#!/bin/sh\necho tool\n")
    (d / "lib" / "tool").chmod(0o755)
    (d / "lib" / "blob.bin").write_bytes(BINARY)
    return d


def source_files(folder: Path) -> dict[str, tuple[bytes, bool]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), bool(p.stat().st_mode & 0o111))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def template_with_two_configs(tmp_path: Path, startup: Path) -> Path:
    first = Bundle(StartupScripts.from_directory(startup, as_root=["10-root.sh"]))
    second = Bundle(
        StartupScripts.from_files({"only.sh": "echo second\n"}),
        StartupScripts.from_files({"once.sh": "echo once\n"}),
        compression="gzip",
    )
    template = {
        "Resources": {
            "DevConfig": {"Type": LIFECYCLE_CONFIG_TYPE, "Properties": {"OnStart": [{"Content": first.on_start_content}]}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "TeamConfig": {
                "Type": LIFECYCLE_CONFIG_TYPE,
                "Properties": {
                    "OnStart": [{"Content": second.on_start_content}],
                    "OnCreate": [{"Content": second.on_create_content}],
                },
            },
        }
    }
    path = tmp_path / "Stack.template.json"
    path.write_text(json.dumps(template, indent=1))
    return path


# -- build -----------------------------------------------------------------------------------


def test_build_inspect_unpack_round_trip_through_the_console_script(tmp_path, startup):
    built = console("build", str(startup), "--as-root", "10-root.sh", "--background", "30-server.sh", "-o", "on-start.sh", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert b"of 16384 characters" in built.stdout and b"wrote on-start.sh" in built.stdout
    script = (tmp_path / "on-start.sh").read_text()
    assert script.startswith("#!/bin/bash\n")

    shown = console("inspect", "--json", "on-start.sh", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    [info] = json.loads(shown.stdout)
    expected = source_files(startup)
    user = {f["path"]: f for f in info["files"] if not f["path"].startswith(".notebook-lifecycle/")}
    assert {p: f["bytes"] for p, f in user.items()} == {p: len(data) for p, (data, _) in expected.items()}
    assert user["lib/tool"]["mode"] == "0755" and user["lib/serve.py"]["mode"] == "0644"
    assert [(s["name"], s["user"], s["mode"], s["how"]) for s in info["plan"]] == [
        ("10-root.sh", "root", "fg", "exec"),
        ("20-user.sh", "ec2-user", "fg", "bash"),
        ("30-server.sh", "ec2-user", "bg", "exec"),
    ]
    assert info["content_length"] == len(base64.b64encode(script.encode()))
    assert info["headroom"] == CONTENT_LIMIT - info["content_length"]

    unpacked = console("unpack", "on-start.sh", "-o", "review", cwd=tmp_path)
    assert unpacked.returncode == 0, unpacked.stderr
    out = tmp_path / "review" / "on-start"
    got = {p: v for p, v in source_files(out).items() if not p.startswith(".notebook-lifecycle/")}
    # scripts in the plan are made executable; everything else keeps its bit
    assert got == {p: (data, exe or p in {"10-root.sh", "20-user.sh", "30-server.sh"}) for p, (data, exe) in expected.items()}
    assert (out / ".notebook-lifecycle" / "plan").read_text().startswith("10-root.sh\troot\tfg\texec\n")
    assert os.access(out / ".notebook-lifecycle" / "run.sh", os.X_OK)


def test_build_is_deterministic_even_after_touching_files(tmp_path, startup, capsys):
    assert run(capsys, "build", str(startup), "-o", str(tmp_path / "a.sh"))[0] == 0
    assert run(capsys, "build", str(startup), "-o", str(tmp_path / "b.sh"))[0] == 0
    for path in startup.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert run(capsys, "build", str(startup), "-o", str(tmp_path / "c.sh"))[0] == 0
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.sh", "b.sh", "c.sh"))
    assert a == b == c
    (startup / "20-user.sh").write_text("pip install --user ruff\n")
    assert run(capsys, "build", str(startup), "-o", str(tmp_path / "d.sh"))[0] == 0
    assert (tmp_path / "d.sh").read_bytes() != a, "a changed script must change the output"


def test_build_writes_on_start_sh_in_the_current_folder_by_default(tmp_path, startup, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "build", str(startup))
    assert status == 0 and err == ""
    assert (tmp_path / "on-start.sh").read_text() == Bundle(StartupScripts.from_directory(startup)).on_start_script
    assert "on-start: " in out and "headroom" in out


def test_build_to_stdout_keeps_the_report_on_stderr(tmp_path, startup):
    result = console("build", str(startup), "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == Bundle(StartupScripts.from_directory(startup)).on_start_script
    assert b"of 16384 characters" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["startup"]


def test_quiet_build_prints_nothing(tmp_path, startup, capsys):
    assert run(capsys, "build", str(startup), "-q", "-o", str(tmp_path / "x.sh")) == (0, "", "")


def test_plan_and_settings_flags_reach_the_bundle(tmp_path, startup, capsys):
    status, _, _ = run(
        capsys, "build", str(startup), "-o", str(tmp_path / "s.sh"),
        "--run", "30-server.sh", "--run", "lib/serve.py", "--as-root", "lib/serve.py", "--background", "30-server.sh",
        "--install-dir", "/opt-startup", "--deadline", "90", "--compression", "gzip",
    )  # fmt: skip
    assert status == 0
    [found] = read_bundles((tmp_path / "s.sh").read_bytes())
    assert [(e.path, e.user, e.mode) for e in found.plan] == [("30-server.sh", "ec2-user", "bg"), ("lib/serve.py", "root", "fg")]
    assert (found.install_dir, found.deadline_seconds, found.compression) == ("/opt-startup", 90, "gzip")


def test_on_create_is_written_next_to_on_start(tmp_path, startup, capsys):
    once = tmp_path / "once"
    once.mkdir()
    (once / "install.sh").write_text("yum install -y tmux\n")
    (tmp_path / "out").mkdir()
    status, out, _ = run(capsys, "build", str(startup), "--on-create", str(once), "--on-create-as-root", "install.sh",
                         "-o", str(tmp_path / "out" / "start.sh"))  # fmt: skip
    assert status == 0 and "on-create: " in out
    [found] = read_bundles((tmp_path / "out" / "on-create.sh").read_text())
    assert found.hook == "on-create" and found.install_dir == "/startup-on-create"
    assert [(e.path, e.user) for e in found.plan] == [("install.sh", "root")]
    assert read_bundles((tmp_path / "out" / "start.sh").read_text())[0].hook == "on-start"

    status, _, _ = run(capsys, "build", str(startup), "--on-create", str(once), "-o", "-",
                       "--on-create-output", str(tmp_path / "create.sh"))  # fmt: skip
    assert status == 0 and read_bundles((tmp_path / "create.sh").read_text())[0].hook == "on-create"


def test_feature_flags_map_to_features(tmp_path, startup, capsys):
    status, _, err = run(
        capsys, "build", str(startup), "-o", str(tmp_path / "s.sh"),
        "--autostop-idle-minutes", "45", "--autostop-ignore-connections", "--persistent-conda", "--stop-ssm-agent",
        "--persist-dir", ".ssh", "--persist-dir", ".config/git", "--bin-dir",
        "--env", "TEAM=data science", "--env", "EMPTY=", "--env", "EQ=a=b",
        "--binary", "jq=https://example.com/jq-1.7", "--binary", f"yq=https://user@example.com/yq@{SHA}",
        "--binary", "uv=https://example.com/uv@0.4.1",
    )  # fmt: skip
    assert status == 0, err
    expected = Features(
        autostop=Autostop(45, ignore_connections=True),
        persistent_conda=True,
        stop_ssm_agent=True,
        persist_dirs=(".ssh", ".config/git"),
        bin_dir=True,
        environment={"TEAM": "data science", "EMPTY": "", "EQ": "a=b"},
        binaries=(
            Binary("jq", "https://example.com/jq-1.7"),
            Binary("yq", "https://user@example.com/yq", SHA),
            Binary("uv", "https://example.com/uv@0.4.1"),
        ),
    )
    # the command line builds exactly the bundle that the Python API builds with those Features
    assert (tmp_path / "s.sh").read_text() == Bundle(StartupScripts.from_directory(startup), features=expected).on_start_script
    assert run(capsys, "build", str(startup), "-o", str(tmp_path / "t.sh"))[0] == 0
    assert (tmp_path / "t.sh").read_text() == Bundle(StartupScripts.from_directory(startup)).on_start_script


def test_features_alone_build_a_script(tmp_path, capsys):
    status, _, err = run(capsys, "build", "--autostop-idle-minutes", "30", "--env", "A=1", "-o", str(tmp_path / "f.sh"))
    assert status == 0, err
    [found] = read_bundles((tmp_path / "f.sh").read_text())
    assert [e.name for e in found.plan] == ["feature:environment", "feature:autostop"]
    assert found.user_files == ()


# -- errors ----------------------------------------------------------------------------------

BUILD_ERRORS = {
    # name: (arguments after "build", text the one error line must contain)
    "missing folder": (["{tmp}/nope"], "nope: no such folder"),
    "not a folder": (["{tmp}/file.txt"], "file.txt: not a folder"),
    "nothing to run": (["{tmp}/docs"], "nothing to run"),
    "no folder and no feature": ([], "give DIR"),
    "unknown --as-root": (["{startup}", "--as-root", "10-rot.sh"], "--as-root: '10-rot.sh' is not a file"),
    "unknown --run": (["{startup}", "--run", "missing.sh"], "--run: 'missing.sh'"),
    "--background not run": (["{startup}", "--background", "lib/serve.py"], "--background: 'lib/serve.py'"),
    "autostop 0": (["{startup}", "--autostop-idle-minutes", "0"], "--autostop-idle-minutes 0: "),
    "autostop not a number": (["{startup}", "--autostop-idle-minutes", "soon"], "--autostop-idle-minutes: 'soon'"),
    "ignore connections alone": (["{startup}", "--autostop-ignore-connections"], "--autostop-ignore-connections"),
    "env bad name": (["{startup}", "--env", "1BAD=x"], "--env '1BAD=x': "),
    "env without =": (["{startup}", "--env", "NOVALUE"], "--env 'NOVALUE': write NAME=VALUE"),
    "env reserved": (["{startup}", "--env", "PATH=/x"], "--env 'PATH=/x': "),
    "env twice": (["{startup}", "--env", "A=1", "--env", "A=2"], "A is given twice"),
    "binary bad sha256": (["{startup}", "--binary", "jq=https://example.com/jq@123abc"], "--binary 'jq=https://example.com/jq@123abc': "),
    "binary bad url": (["{startup}", "--binary", "jq=ftp://example.com/jq"], "url"),
    "binary without =": (["{startup}", "--binary", "jq"], "--binary 'jq': write NAME=URL"),
    "persist dir absolute": (["{startup}", "--persist-dir", "/etc"], "--persist-dir '/etc': "),
    "persist dir twice": (["{startup}", "--persist-dir", ".ssh", "--persist-dir", ".ssh"], "--persist-dir"),
    "deadline too long": (["{startup}", "--deadline", "300"], "--deadline: 300"),
    "install dir in /tmp": (["{startup}", "--install-dir", "/tmp/startup"], "--install-dir: '/tmp/startup'"),
    "unknown codec": (["{startup}", "--compression", "zstd"], "--compression: invalid choice: 'zstd'"),
    "unknown option": (["{startup}", "--colour"], "unrecognized arguments: --colour"),
    "output inside the folder": (["{startup}", "-o", "{startup}/on-start.sh"], "inside"),
    "output folder missing": (["{startup}", "-o", "{tmp}/out/missing/x.sh"], "does not exist"),
    "on-create output to stdout": (["{startup}", "--on-create", "{startup}", "-o", "-"], "--on-create-output"),
}


@pytest.mark.parametrize("args,message", list(BUILD_ERRORS.values()), ids=list(BUILD_ERRORS))
def test_build_errors_are_one_line_exit_2_and_write_nothing(tmp_path, startup, capsys, args, message):
    (tmp_path / "file.txt").write_text("not a folder\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("# no scripts here\n")
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(tmp=tmp_path, startup=startup) for a in args]
    if "-o" not in argv:
        argv += ["-o", str(out / "on-start.sh")]
    before = source_files(startup)
    status, stdout, err = run(capsys, "build", *argv)
    assert status == 2
    assert message in one_error_line(err)
    assert stdout == ""
    assert list(out.iterdir()) == [], "nothing may be written on error"
    assert source_files(startup) == before


def test_oversize_names_the_costliest_file_and_the_excess(tmp_path, capsys):
    big = tmp_path / "big"
    big.mkdir()
    (big / "run.sh").write_text("cat data.txt\n")
    rng = random.Random(7)
    (big / "data.txt").write_text("".join(rng.choices(string.ascii_letters + string.digits, k=40_000)))
    total = len(Bundle(StartupScripts.from_directory(big), check_size=False).on_start_content)
    assert total > CONTENT_LIMIT

    status, stdout, err = run(capsys, "build", str(big), "-o", str(tmp_path / "on-start.sh"))
    line = one_error_line(err)
    assert status == 2 and stdout == ""
    assert f"{total} characters" in line and f"over SageMaker's limit of {CONTENT_LIMIT} by {total - CONTENT_LIMIT}" in line
    assert "the costliest files are data.txt" in line
    assert not (tmp_path / "on-start.sh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big"], "no temporary file left behind"


def test_errors_through_the_console_script(tmp_path):
    result = console("build", "nope", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == b""
    assert one_error_line(result.stderr.decode()) == (
        "notebook-lifecycle: error: nope: no such folder; create it or pass the folder that holds your startup scripts"
    )
    result = console("inspect", "-", cwd=tmp_path, stdin=b"echo hello\n")
    assert result.returncode == 2
    assert "<stdin>: neither a lifecycle script" in one_error_line(result.stderr.decode())
    assert list(tmp_path.iterdir()) == []


# -- inspect ---------------------------------------------------------------------------------


def test_inspect_a_script_shows_everything(tmp_path, startup, capsys):
    bundle = Bundle(StartupScripts.from_directory(startup, as_root=["10-root.sh"], background=["30-server.sh"]), deadline_seconds=120)
    script = tmp_path / "on-start.sh"
    script.write_text(bundle.on_start_script)
    status, out, err = run(capsys, "inspect", str(script))
    assert status == 0 and err == ""
    lines = out.splitlines()
    content_length = len(bundle.on_start_content)
    assert lines[:4] == [
        f"on-start: notebook-lifecycle {__version__}, on-start, xz",
        "  install dir  /startup",
        "  deadline     120 s",
        f"  size         {content_length} of 16384 characters (headroom {16384 - content_length})",
    ]
    assert "    0644      256  lib/blob.bin" in lines
    assert "    0755       20  lib/tool" in lines
    plan = lines[lines.index("  plan") + 1 :]
    assert plan[0].split() == ["#", "NAME", "USER", "RUNS", "HOW"]
    assert [row.split() for row in plan[1:]] == [
        ["1", "10-root.sh", "root", "foreground", "exec"],
        ["2", "20-user.sh", "ec2-user", "foreground", "bash"],
        ["3", "30-server.sh", "ec2-user", "background", "exec"],
    ]


def test_inspect_base64_content_and_stdin(tmp_path, startup, capsys):
    bundle = Bundle(StartupScripts.from_directory(startup))
    (tmp_path / "content.b64").write_text(bundle.on_start_content)
    (tmp_path / "on-start.sh").write_text(bundle.on_start_script)
    status, from_b64, _ = run(capsys, "inspect", str(tmp_path / "content.b64"))
    assert status == 0
    assert from_b64 == run(capsys, "inspect", str(tmp_path / "on-start.sh"))[1]
    piped = console("inspect", "-", cwd=tmp_path, stdin=bundle.on_start_content.encode())
    assert piped.returncode == 0 and piped.stdout.decode() == from_b64


def test_inspect_a_template_with_two_configs(tmp_path, startup, capsys):
    path = template_with_two_configs(tmp_path, startup)
    status, out, _ = run(capsys, "inspect", str(path))
    assert status == 0
    headers = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert headers == [
        f"DevConfig/on-start: notebook-lifecycle {__version__}, on-start, xz",
        f"TeamConfig/on-start: notebook-lifecycle {__version__}, on-start, gzip",
        f"TeamConfig/on-create: notebook-lifecycle {__version__}, on-create, gzip",
    ]
    assert "  install dir  /startup-on-create" in out
    status, out, _ = run(capsys, "inspect", "--json", str(path))
    data = json.loads(out)
    assert [(b["label"], b["install_dir"]) for b in data] == [
        ("DevConfig/on-start", "/startup"),
        ("TeamConfig/on-start", "/startup"),
        ("TeamConfig/on-create", "/startup-on-create"),
    ]
    assert data[1]["plan"] == [{"name": "only.sh", "user": "ec2-user", "mode": "fg", "how": "bash", "path": "only.sh"}]


def test_inspect_flags_a_script_over_the_limit(tmp_path, capsys):
    rng = random.Random(3)
    noise = "".join(rng.choices(string.ascii_letters, k=20_000))
    bundle = Bundle(StartupScripts.from_files({"a.sh": "true\n", "noise.txt": noise}), check_size=False)
    (tmp_path / "big.sh").write_text(bundle.on_start_script)
    status, out, _ = run(capsys, "inspect", str(tmp_path / "big.sh"))
    over = len(bundle.on_start_content) - CONTENT_LIMIT
    assert status == 0 and over > 0
    assert f"(OVER THE LIMIT by {over})" in out


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "nope.sh: cannot read"),
        (b"", "empty input"),
        (b"#!/bin/bash\necho mine\n", "not a notebook-lifecycle script"),
        (b'{"Resources": {}}', "no AWS::SageMaker::NotebookInstanceLifecycleConfig"),
    ],
    ids=["missing", "empty", "foreign", "no-config"],
)
def test_inspect_errors(tmp_path, capsys, content, message):
    path = tmp_path / "nope.sh"
    if content is not None:
        path.write_bytes(content)
    status, out, err = run(capsys, "inspect", str(path))
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert message in line and str(path) in line


def test_inspect_a_folder_is_an_error(tmp_path, capsys):
    status, _, err = run(capsys, "inspect", str(tmp_path))
    assert status == 2 and "is a folder" in one_error_line(err)


# -- unpack ----------------------------------------------------------------------------------


def test_unpack_a_template_into_one_folder_per_bundle(tmp_path, startup, capsys):
    path = template_with_two_configs(tmp_path, startup)
    status, out, _ = run(capsys, "unpack", str(path), "-o", str(tmp_path / "review"))
    assert status == 0
    review = tmp_path / "review"
    assert sorted(p.relative_to(review).as_posix() for p in review.glob("*/*")) == [
        "DevConfig/on-start", "TeamConfig/on-create", "TeamConfig/on-start",
    ]  # fmt: skip
    assert (review / "DevConfig/on-start/lib/serve.py").read_text() == "print('serving')\n"
    assert (review / "DevConfig/on-start/lib/blob.bin").read_bytes() == BINARY
    assert (review / "TeamConfig/on-create/once.sh").read_text() == "echo once\n"
    assert (review / "TeamConfig/on-start/.notebook-lifecycle/plan").read_text() == "only.sh\tec2-user\tfg\tbash\n"
    assert "TeamConfig/on-create: 3 files in " in out
    assert not [p for p in review.iterdir() if p.name.startswith(".")], "no staging folder left behind"


def test_unpack_refuses_to_overwrite_without_force(tmp_path, startup, capsys):
    bundle = Bundle(StartupScripts.from_directory(startup))
    (tmp_path / "s.sh").write_text(bundle.on_start_script)
    target = tmp_path / "review" / "on-start"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("old\n")
    status, _, err = run(capsys, "unpack", str(tmp_path / "s.sh"), "-o", str(tmp_path / "review"))
    assert status == 2 and "already exists; remove it or pass --force" in one_error_line(err)
    assert [p.name for p in target.iterdir()] == ["stale.txt"]
    assert run(capsys, "unpack", str(tmp_path / "s.sh"), "-o", str(tmp_path / "review"), "--force")[0] == 0
    assert not (target / "stale.txt").exists() and (target / "10-root.sh").exists()


def test_unpack_never_writes_outside_the_folder(tmp_path, startup, capsys):
    script = Bundle(StartupScripts.from_directory(startup)).on_start_script
    [found] = read_bundles(script)
    evil = list(found.files) + [PackedFile("../escaped.txt", b"gotcha\n", False)]
    head, rest = script.split("<<'P'", 1)
    first, _payload, tail = rest.split("\n", 2)
    (tmp_path / "evil.sh").write_text(f"{head}<<'P'{first}\n{archive.inline_text(evil, 'xz')}\n{tail}")
    review = tmp_path / "review"
    status, _, err = run(capsys, "unpack", str(tmp_path / "evil.sh"), "-o", str(review))
    assert status == 2 and "'../escaped.txt', a path outside the install dir" in one_error_line(err)
    assert not review.exists() and not (tmp_path / "escaped.txt").exists()

    # a symlinked bundle folder that leads elsewhere is refused as well
    (tmp_path / "s.sh").write_text(script)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    review.mkdir()
    (review / "on-start").symlink_to(elsewhere)
    status, _, err = run(capsys, "unpack", str(tmp_path / "s.sh"), "-o", str(review), "--force")
    assert status == 2 and "leads outside" in one_error_line(err)
    assert list(elsewhere.iterdir()) == []


def test_unpack_needs_an_output_folder(tmp_path, capsys):
    status, _, err = run(capsys, "unpack", "x.sh")
    assert status == 2 and "-o/--output" in one_error_line(err)


# -- help, version, imports ------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["build"], ["inspect"], ["unpack"]], ids=["top", "build", "inspect", "unpack"])
def test_help_exits_0(capsys, command):
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0
    assert out.startswith(f"usage: notebook-lifecycle {' '.join(command)}".rstrip())


def test_help_documents_the_binary_syntax_and_every_command(tmp_path, capsys):
    assert "NAME=URL[@SHA256]" in run(capsys, "build", "--help")[1]
    top = console("--help", cwd=tmp_path)
    assert top.returncode == 0
    assert all(name in top.stdout.decode() for name in ("build", "inspect", "unpack"))


def test_version(tmp_path):
    result = console("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.decode().strip() == f"notebook-lifecycle {__version__}"


def test_no_command_is_an_error(capsys):
    status, _, err = run(capsys)
    assert status == 2 and "COMMAND" in one_error_line(err)


def test_cli_and_unbundle_do_not_import_aws_cdk():
    code = (
        "import sys\n"
        "from notebook_lifecycle import cli, unbundle\n"
        "cli.main(['--version'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'constructs', 'jsii'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
