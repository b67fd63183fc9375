"""The operations commands (status, logs, pull, diff) against a real moto server.

The server holds three lifecycle configurations: one built by Bundle, one in the
article's style (an inline `tar czf - . | base64` payload), one hand-written; notebook
instances using them; and CloudWatch lifecycle log streams with events of known times.
The CLI runs in this process through main([...]) with AWS_ENDPOINT_URL and fake
credentials in the environment, and once as the installed console script.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path
from typing import Iterator

import boto3
import pytest

from notebook_lifecycle import Bundle, StartupScripts, __version__
from notebook_lifecycle import cli
from notebook_lifecycle.cli.logs import parse_since
from notebook_lifecycle.unbundle import content_fingerprint, find_inline_payloads

from servers import free_port, moto_server

EXE = Path(sysconfig.get_path("scripts")) / "notebook-lifecycle"
REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/notebook"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
OLD = NOW - dt.timedelta(days=3)  # outside --since 1h, inside --since 4d
RECENT = NOW - dt.timedelta(minutes=10)

# -- the account -------------------------------------------------------------------------------


def write_startup(folder: Path) -> Path:
    (folder / "lib").mkdir(parents=True)
    (folder / "10-root.sh").write_text("#!/bin/bash\nyum install -y htop\n")
    (folder / "20-user.sh").write_text("pip install --user black\necho done\n")
    (folder / "lib" / "helper.py").write_text("print('help')\n")
    (folder / "lib" / "blob.bin").write_bytes(bytes(range(256)))
    return folder


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if data.startswith(b"#!") else 0o644
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("./etc-link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(link)
    return buf.getvalue()


ARTICLE_FILES = {"./stop-ssm.sh": b"#!/bin/bash\nsystemctl stop amazon-ssm-agent\n", "./persist-config.sh": b"echo persist\n"}


def article_script(members: dict[str, bytes]) -> str:
    enc = base64.b64encode(tar_gz(members)).decode()
    return (
        "#!/bin/bash\nset -e\nmkdir -p /startup\n"
        f'echo "{enc}" | base64 -d | tar xzf - -C /startup\n'
        "sudo chown -R root: /startup\n/startup/stop-ssm.sh || :\n"
        "sudo -H -i -u ec2-user /startup/persist-config.sh || :\n"
    )


HAND_WRITTEN = "#!/bin/bash\nset -e\nsudo -u ec2-user -i <<'EOF'\npip install --user pandas\nEOF\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("account")
    startup = write_startup(tmp / "startup")
    bundle = Bundle(StartupScripts.from_directory(startup, as_root=["10-root.sh"]),
                    StartupScripts.from_files({"once.sh": "echo once\n"}))
    with moto_server() as url:
        creds = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION, endpoint_url=url)
        sm = boto3.client("sagemaker", **creds)
        logs = boto3.client("logs", **creds)
        sm.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName="nl-bundle",
            OnStart=[{"Content": bundle.on_start_content}], OnCreate=[{"Content": bundle.on_create_content}])
        sm.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName="article", OnStart=[{"Content": b64(article_script(ARTICLE_FILES))}])
        sm.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName="hand-written", OnStart=[{"Content": b64(HAND_WRITTEN)}])
        evil = article_script({"./ok.sh": b"echo ok\n", "../../escaped.sh": b"echo pwned\n"})
        sm.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName="evil", OnStart=[{"Content": b64(evil)}])
        for name, config in (("alice", "nl-bundle"), ("bob", "article"), ("carol", "hand-written"), ("dave", None)):
            extra = {"LifecycleConfigName": config} if config else {}
            sm.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE, **extra)
        sm.stop_notebook_instance(NotebookInstanceName="bob")
        group = "/aws/sagemaker/NotebookInstances"
        logs.create_log_group(logGroupName=group)
        streams = {
            "alice/LifecycleConfigOnCreate": [(OLD, "create: old line"), (RECENT - dt.timedelta(seconds=5), "create: recent")],
            "alice/LifecycleConfigOnStart": [(OLD + dt.timedelta(seconds=1), "start: old line"), (RECENT, "start: recent")],
            "alice/jupyter.log": [(RECENT, "jupyter noise")],
            "bob/LifecycleConfigOnStart": [(RECENT, "bob started")],
        }
        for stream, events in streams.items():
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": int(t.timestamp() * 1000), "message": m} for t, m in events])
        yield {"url": url, "startup": startup, "bundle": bundle}


@pytest.fixture
def aws_env(account: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Fake credentials, a region and the moto endpoint; no way to pick up real credentials."""
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(account["url"]))
    return account


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("notebook-lifecycle: error: "), lines[0]
    return lines[0]


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- status ------------------------------------------------------------------------------------


def test_status_table_shows_every_instance_and_what_its_config_is(aws_env, capsys) -> None:
    bundle = aws_env["bundle"]
    status, out, err = run(capsys, "status")
    assert status == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "STATE", "PLATFORM", "TYPE", "LIFECYCLE", "CONFIG", "BUNDLE", "FINGERPRINT"]
    by_name = {r.split()[0]: r.split() for r in rows}
    assert sorted(by_name) == ["alice", "bob", "carol", "dave"]
    assert by_name["alice"][3:] == ["ml.t3.medium", "nl-bundle", __version__, bundle.fingerprint()[:12]]
    assert by_name["bob"][1] == "Stopped"
    assert by_name["bob"][4:6] == ["article", "script+payload"]
    assert by_name["carol"][4:6] == ["hand-written", "script"]
    assert by_name["dave"][4:] == ["-", "-", "-"]
    # aligned: every column starts at the same offset on every line
    start = header.index("BUNDLE")
    assert all(r[start - 2 : start] == "  " for r in rows)


def test_status_json_names_and_full_fingerprint(aws_env, capsys) -> None:
    bundle = aws_env["bundle"]
    status, out, err = run(capsys, "status", "alice", "carol", "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert [d["name"] for d in doc] == ["alice", "carol"]
    alice, carol = doc
    assert alice["fingerprint"] == bundle.fingerprint()
    assert alice["hooks"] == {"on-start": "bundle", "on-create": "bundle"}
    assert alice["lifecycle_config"] == "nl-bundle" and alice["instance_type"] == "ml.t3.medium"
    assert carol["bundle"] == "script" and carol["version"] is None
    assert carol["fingerprint"] == content_fingerprint({"on-start": b64(HAND_WRITTEN)})


def test_status_of_a_missing_instance_exits_1_and_shows_the_others(aws_env, capsys) -> None:
    status, out, err = run(capsys, "status", "alice", "nobody")
    assert status == 1
    assert [line.split()[0] for line in out.splitlines()] == ["NAME", "alice"]
    assert "'nobody' not found in eu-west-1" in err and len(err.splitlines()) == 1


def test_status_pages_through_every_instance(aws_env, capsys) -> None:
    sm = boto3.client("sagemaker", aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-west-2", endpoint_url=str(aws_env["url"]))
    names = [f"nb-{i:03d}" for i in range(105)]  # more than one page (100)
    for name in names:
        sm.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE)
    status, out, err = run(capsys, "status", "--region", "us-west-2", "--json")
    assert status == 0, err
    assert [d["name"] for d in json.loads(out)] == names


# -- logs --------------------------------------------------------------------------------------


def test_logs_merge_both_hooks_in_time_order_with_the_stream(aws_env, capsys) -> None:
    status, out, err = run(capsys, "logs", "alice")
    assert status == 0, err
    lines = out.splitlines()
    assert [line.split("  ", 2)[1:] for line in lines] == [
        ["alice/LifecycleConfigOnCreate", "create: old line"],
        ["alice/LifecycleConfigOnStart", "start: old line"],
        ["alice/LifecycleConfigOnCreate", "create: recent"],
        ["alice/LifecycleConfigOnStart", "start: recent"],
    ]
    assert lines[0].startswith(OLD.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    assert "jupyter" not in out


def test_logs_one_hook_and_since(aws_env, capsys) -> None:
    status, out, _ = run(capsys, "logs", "alice", "--hook", "on-start", "--since", "1h")
    assert status == 0
    assert [line.split("  ", 2)[2] for line in out.splitlines()] == ["start: recent"]
    status, out, _ = run(capsys, "logs", "alice", "--hook", "on-create", "--since", "4d")
    assert [line.split("  ", 2)[2] for line in out.splitlines()] == ["create: old line", "create: recent"]
    since = (RECENT - dt.timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    status, out, _ = run(capsys, "logs", "alice", "--since", since)
    assert [line.split("  ", 2)[2] for line in out.splitlines()] == ["create: recent", "start: recent"]


def test_logs_of_a_stream_that_does_not_exist_exits_1_with_one_line(aws_env, capsys) -> None:
    status, out, err = run(capsys, "logs", "bob", "--hook", "on-create")
    assert status == 1 and out == ""
    assert len(err.splitlines()) == 1 and "bob/LifecycleConfigOnCreate" in err
    status, out, err = run(capsys, "logs", "carol")
    assert status == 1 and "carol/LifecycleConfigOnCreate or carol/LifecycleConfigOnStart" in err


def test_logs_without_the_log_group_exits_1(aws_env, capsys) -> None:
    status, _, err = run(capsys, "logs", "alice", "--region", "eu-central-1")
    assert status == 1
    assert "log group /aws/sagemaker/NotebookInstances does not exist in eu-central-1" in err


@pytest.mark.parametrize("since", ["yesterday", "1y", "-1h", "2024-13-01"])
def test_logs_bad_since_is_an_error_before_any_call(capsys, since: str) -> None:
    status, out, err = run(capsys, "logs", "alice", f"--since={since}")  # no AWS environment needed
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert f"--since {since!r}" in line and "30m, 1h or 2d" in line


def test_parse_since_forms() -> None:
    now = dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_since("30m", now) == dt.datetime(2024, 5, 2, 11, 30, tzinfo=dt.timezone.utc)
    assert parse_since("2d", now) == dt.datetime(2024, 4, 30, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_since("2024-05-01", now) == dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    assert parse_since("2024-05-01T10:00:00+02:00", now) == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


# -- pull --------------------------------------------------------------------------------------


def test_pull_a_bundle_gives_back_a_folder_that_diff_finds_equal(aws_env, tmp_path, capsys) -> None:
    startup: Path = aws_env["startup"]
    out_dir = tmp_path / "pulled"
    status, out, err = run(capsys, "pull", "nl-bundle", str(out_dir))
    assert status == 0, err
    assert tree(out_dir / "on-start") == tree(startup)
    assert os.access(out_dir / "on-start" / "10-root.sh", os.X_OK)
    assert (out_dir / "on-start.plan").read_text().splitlines()[-2:] == [
        "10-root.sh\troot\tfg\texec", "20-user.sh\tec2-user\tfg\tbash"]
    assert (out_dir / "on-start.sh").read_text() == aws_env["bundle"].on_start_script
    assert tree(out_dir / "on-create") == {"once.sh": b"echo once\n"}
    rebuild = next(line for line in out.splitlines() if "rebuild:" in line and "--as-root" in line)
    assert rebuild.split("rebuild: ")[1] == f"notebook-lifecycle build {out_dir / 'on-start'} --as-root 10-root.sh"
    # the pulled folder builds the same configuration again
    status, out, err = run(capsys, "diff", "nl-bundle", str(out_dir / "on-start"), "--as-root", "10-root.sh",
                           "--on-create", str(out_dir / "on-create"))
    assert status == 0, out + err
    assert out.strip() == f"nl-bundle is what {out_dir / 'on-start'} builds (fingerprint {aws_env['bundle'].fingerprint()[:12]})"


def test_pull_an_article_style_config_unpacks_its_payload(aws_env, tmp_path, capsys) -> None:
    out_dir = tmp_path / "adopted"
    status, out, err = run(capsys, "pull", "article", str(out_dir))
    assert status == 0, err
    assert (out_dir / "on-start.sh").read_text() == article_script(ARTICLE_FILES)
    assert tree(out_dir / "on-start") == {k[2:]: v for k, v in ARTICLE_FILES.items()}
    assert os.access(out_dir / "on-start" / "stop-ssm.sh", os.X_OK)
    assert "unpacked into /startup on the instance: 2 files" in out
    assert "skipped etc-link -> /etc (symlink)" in out
    assert not (out_dir / "on-start" / "etc-link").exists()


def test_pull_a_hand_written_script_gives_back_the_script(aws_env, tmp_path, capsys) -> None:
    out_dir = tmp_path / "hand"
    status, out, err = run(capsys, "pull", "hand-written", str(out_dir))
    assert status == 0, err
    assert tree(out_dir) == {"on-start.sh": HAND_WRITTEN.encode()}
    assert "no inline payload found" in out


def test_pull_refuses_path_traversal_and_writes_nothing(aws_env, tmp_path, capsys) -> None:
    out_dir = tmp_path / "a" / "b"
    status, out, err = run(capsys, "pull", "evil", str(out_dir))
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert "'../../escaped.sh'" in line and "evil/on-start" in line and "nothing was written" in line
    assert not out_dir.exists() or not any(out_dir.iterdir())
    assert not list(tmp_path.rglob("escaped.sh"))


def test_pull_refuses_a_folder_that_is_not_empty_unless_forced(aws_env, tmp_path, capsys) -> None:
    out_dir = tmp_path / "busy"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine\n")
    status, _, err = run(capsys, "pull", "hand-written", str(out_dir))
    assert status == 2 and "not empty" in one_error_line(err) and "--force" in err
    assert tree(out_dir) == {"keep.txt": b"mine\n"}
    status, _, err = run(capsys, "pull", "hand-written", str(out_dir), "--force")
    assert status == 0, err
    assert tree(out_dir) == {"keep.txt": b"mine\n", "on-start.sh": HAND_WRITTEN.encode()}


def test_pull_of_a_config_that_does_not_exist(aws_env, tmp_path, capsys) -> None:
    status, out, err = run(capsys, "pull", "nl-bundel", str(tmp_path / "x"))
    assert status == 2 and out == ""
    line = one_error_line(err)
    assert "'nl-bundel' does not exist in eu-west-1" in line and "check the name" in line
    assert not (tmp_path / "x").exists()


# -- diff --------------------------------------------------------------------------------------


def test_diff_after_a_one_line_change_shows_it_and_exits_1(aws_env, tmp_path, capsys) -> None:
    changed = write_startup(tmp_path / "changed")
    (changed / "20-user.sh").write_text("pip install --user black\necho changed\n")
    once = tmp_path / "once"
    once.mkdir()
    (once / "once.sh").write_text("echo once\n")
    status, out, err = run(capsys, "diff", "nl-bundle", str(changed), "--as-root", "10-root.sh", "--on-create", str(once))
    assert status == 1, err
    lines = out.splitlines()
    assert "--- deployed/on-start/20-user.sh" in lines and "+++ built/on-start/20-user.sh" in lines
    assert "-echo done" in lines and "+echo changed" in lines
    assert sum(1 for line in lines if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))) == 2
    assert lines[-1] == f"nl-bundle differs from what {changed} builds (1 difference)"


def test_diff_shows_plan_and_missing_hook(aws_env, capsys) -> None:
    startup = str(aws_env["startup"])
    status, out, _ = run(capsys, "diff", "nl-bundle", startup)  # no --as-root, no --on-create
    assert status == 1
    lines = out.splitlines()
    assert "-10-root.sh\troot\tfg\texec" in lines and "+10-root.sh\tec2-user\tfg\texec" in lines
    assert any(line.startswith("on-create: deployed (bundle), but the folder builds none") for line in lines)


def test_diff_against_a_hand_written_config_compares_script_text(aws_env, capsys) -> None:
    status, out, _ = run(capsys, "diff", "hand-written", str(aws_env["startup"]))
    assert status == 1
    assert "not built by notebook-lifecycle (script)" in out and "-pip install --user pandas" in out


# -- bad environment ---------------------------------------------------------------------------


def test_no_credentials_is_one_line_naming_the_fix(aws_env, monkeypatch, capsys) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    for args in (["status"], ["pull", "nl-bundle", "x"], ["logs", "alice"]):
        status, out, err = run(capsys, *args)
        assert status == 2 and out == ""
        line = one_error_line(err)
        assert "no AWS credentials" in line and "AWS_ACCESS_KEY_ID" in line and "--profile" in line


def test_unknown_region_no_region_unknown_profile(aws_env, monkeypatch, capsys) -> None:
    status, _, err = run(capsys, "status", "--region", "moon-1")
    assert status == 2 and "--region moon-1: not an AWS region" in one_error_line(err)
    status, _, err = run(capsys, "status", "--profile", "nope")
    assert status == 2 and "--profile nope" in one_error_line(err) and "aws configure list-profiles" in err
    monkeypatch.delenv("AWS_REGION")
    status, _, err = run(capsys, "status")
    assert status == 2 and "no AWS region: pass --region" in one_error_line(err)


def test_unreachable_endpoint(aws_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://localhost:{free_port()}")
    status, _, err = run(capsys, "pull", "nl-bundle", "x")
    line = one_error_line(err)
    assert status == 2 and "cannot reach sagemaker" in line and "AWS_ENDPOINT_URL" in line


def test_without_boto3_the_error_names_the_extra(aws_env, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now raises ImportError
    status, _, err = run(capsys, "status")
    assert status == 2 and "pip install 'notebook-lifecycle[aws]'" in one_error_line(err)


def test_build_and_inspect_do_not_import_boto3() -> None:
    code = ("import sys; from notebook_lifecycle.cli import main; main(['--help'])\n"
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


# -- the installed entry point -----------------------------------------------------------------


def test_console_script_status_json(aws_env, tmp_path) -> None:
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing; reinstall with: .venv/bin/pip install -q -e .")
    done = subprocess.run([str(EXE), "status", "alice", "--json"], capture_output=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["fingerprint"] == aws_env["bundle"].fingerprint()


@pytest.mark.timeout(300)
def test_console_script_logs_follow_prints_new_events_until_interrupted(aws_env, tmp_path) -> None:
    proc = subprocess.Popen([str(EXE), "logs", "bob", "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=tmp_path, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().rstrip("\n").endswith("  bob/LifecycleConfigOnStart  bob started")
        logs = boto3.client("logs", aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION, endpoint_url=str(aws_env["url"]))
        logs.put_log_events(logGroupName="/aws/sagemaker/NotebookInstances", logStreamName="bob/LifecycleConfigOnStart",
                            logEvents=[{"timestamp": int(dt.datetime.now().timestamp() * 1000), "message": "later"}])
        assert proc.stdout.readline().rstrip("\n").endswith("  bob/LifecycleConfigOnStart  later")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- inline payloads, without a server -----------------------------------------------------------


def test_inline_payload_forms() -> None:
    first = base64.b64encode(tar_gz({"./a.sh": b"echo a\n"})).decode()
    second = base64.b64encode(tar_gz({"./b.sh": b"echo b\n"})).decode()
    wrapped = "\n".join(second[i : i + 60] for i in range(0, len(second), 60))
    script = (
        "#!/bin/bash\n"
        f"enc='{first}'\n"
        'echo "$enc" | base64 --decode | tar -xz -C /opt/one\n'
        f"base64 -d <<'END' | tar xzf - --directory=/opt/two\n{wrapped}\nEND\n"
        f"cat <<-EOF | base64 -d > /etc/app.conf\n\t{b64('key = value, long enough to count')}\n\tEOF\n"
        'x=$(base64 -d <<< "c2hvcnQ=")\n'
        "echo ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789abcdefghijkl\n"
    )
    lines = script.split("\n")
    payloads = find_inline_payloads(script)
    assert [(p.number, p.kind, p.line, p.target) for p in payloads] == [
        (1, "tar.gz", 2, None),
        (2, "tar.gz", lines.index("base64 -d <<'END' | tar xzf - --directory=/opt/two") + 1, "/opt/two"),
        (3, "data", lines.index("cat <<-EOF | base64 -d > /etc/app.conf") + 1, None),
    ]
    assert [[f.path for f in p.files] for p in payloads] == [["a.sh"], ["b.sh"], ["payload-3"]]
    assert payloads[2].files[0].data == b"key = value, long enough to count"
    assert payloads[0].skipped == ("etc-link -> /etc (symlink)",)


# -- a server that checks credentials and permissions ------------------------------------------


def test_refused_credentials_and_access_denied(tmp_path, monkeypatch, capsys) -> None:
    """moto with IAM checks on (INITIAL_NO_AUTH_ACTION_COUNT): unknown keys are refused, a narrow policy denies."""
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}  # the three IAM calls below set up a user
    with moto_server(env=env) as url:
        iam = boto3.client("iam", aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1", endpoint_url=url)
        iam.create_user(UserName="narrow")
        key = iam.create_access_key(UserName="narrow")["AccessKey"]
        iam.put_user_policy(UserName="narrow", PolicyName="only-describe", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sagemaker:DescribeNotebookInstance", "Resource": "*"}]}))
        empty = tmp_path / "empty"
        empty.write_text("")
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        for name, value in (("AWS_CONFIG_FILE", str(empty)), ("AWS_SHARED_CREDENTIALS_FILE", str(empty)),
                            ("AWS_EC2_METADATA_DISABLED", "true"), ("AWS_REGION", REGION), ("AWS_ENDPOINT_URL", url),
                            ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000"), ("AWS_SECRET_ACCESS_KEY", "nope")):
            monkeypatch.setenv(name, value)
        status, _, err = run(capsys, "status")
        line = one_error_line(err)
        assert status == 2 and "AWS refused the credentials" in line and "--profile" in line
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        status, _, err = run(capsys, "status")
        line = one_error_line(err)
        assert status == 2 and "access denied to sagemaker:ListNotebookInstances in eu-west-1" in line
        assert "grant sagemaker:ListNotebookInstances" in line
