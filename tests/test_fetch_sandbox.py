"""S3 delivery in the sandbox: the real generated lifecycle script, as root, against a moto S3 server.

The payload is a real ``Bundle``'s (its files read back with ``unbundle.read_script``
and packed again: the tarball is deterministic). The hook reaches the servers
through the environment that :func:`hook_env` builds; the sandbox has a network of
its own, so :func:`reach` also forwards the server's port into it (an unreachable
endpoint is left unforwarded: nothing listens there inside).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import threading
import time

import pytest

from conftest import summary_rows
from notebook_lifecycle import Bundle, StartupScripts, archive
from notebook_lifecycle.delivery import render_s3_script
from notebook_lifecycle.unbundle import read_script
from servers import free_port, moto_server

BUCKET = "nl-sandbox-assets"
REGION = "us-east-1"
CACHE = "SageMaker/.lifecycle/on-start.payload"  # under the emulator's state folder

SCRIPTS = {
    "10-root.sh": "#!/bin/bash\necho \"root step as $(id -un)\" >/root/ran-10\n",
    "20-user.sh": "echo \"user step as $(id -un)\" > ~/ran-20\n",
    "lib/data.txt": "packed data\n",
    "30-python.py": "#!/usr/bin/env python3\nopen('/home/ec2-user/ran-30', 'w').write(open('/startup/lib/data.txt').read())\n",
}
AFTER = ["cat /root/ran-10 /home/ec2-user/ran-20 /home/ec2-user/ran-30 2>&1; ls -A /startup 2>&1 | tr '\\n' ' '"]


def hook_env(endpoint: str) -> dict:
    """What the hook needs to reach the S3 stand-in at ``endpoint`` (an URL the sandbox can reach)."""
    return {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s" * 40}


def reach(endpoint: str, forward: bool = True) -> dict:
    """Emulator options for a hook that talks to ``endpoint``: its environment, and the port forwarded."""
    return {"env": hook_env(endpoint), "forward": [int(endpoint.rsplit(":", 1)[1])] if forward else []}


@pytest.fixture(scope="module")
def payload():
    bundle = Bundle(StartupScripts.from_files(SCRIPTS, as_root=("10-root.sh",), run=["10-root.sh", "20-user.sh",
                                                                                        "30-python.py"]),
                    deadline_seconds=60)
    files = read_script(bundle.on_start_script).files
    return archive.pack(files, "xz")


@pytest.fixture(scope="module")
def s3(payload):
    import boto3

    with moto_server() as url:
        client = boto3.client("s3", endpoint_url=url, region_name=REGION,
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s" * 40)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="good.tar.xz", Body=payload)
        middle = len(payload) // 2
        client.put_object(Bucket=BUCKET, Key="tampered.tar.xz",
                          Body=payload[:middle] + bytes([payload[middle] ^ 0x01]) + payload[middle + 1:])
        yield url


def script_for(payload: bytes, key: str = "good.tar.xz", fetch_seconds: int = 20) -> str:
    return render_s3_script(bucket=BUCKET, key=key, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
                            region=REGION, deadline_seconds=60, fetch_seconds=fetch_seconds)


def fetch_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("notebook-lifecycle: on-start: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def assert_ran_everything(result):
    assert not result.failed, result.summary()
    rows = summary_rows(result.output)
    assert rows == {"10-root.sh": ("root", "ok"), "20-user.sh": ("ec2-user", "ok"),
                    "30-python.py": ("ec2-user", "ok")}, result.output
    assert result.after_outputs[0].startswith("root step as root\nuser step as ec2-user\npacked data\n")


def assert_ran_nothing(result):
    assert not result.failed, result.summary()
    assert result.exit_code == 0
    assert "notebook-lifecycle summary" not in result.output
    assert "No such file" in result.after_outputs[0] and "root step" not in result.after_outputs[0]


def test_the_fetched_payload_runs_every_script(make_emulator, s3, payload):
    emu = make_emulator(**reach(s3))
    result = emu.run(script_for(payload), after=AFTER)
    assert_ran_everything(result)
    assert re.fullmatch(rf"notebook-lifecycle: on-start: fetched s3://{BUCKET}/good\.tar\.xz \({len(payload)} bytes, "
                        r"sha256 verified\) in \d+\.\d\d s", fetch_line(result))
    cached = emu.volume / ".lifecycle" / "on-start.payload"
    assert cached.read_bytes() == payload
    st = os.stat(cached.parent)
    assert (st.st_uid, oct(st.st_mode & 0o7777)) == (0, "0o755")


@pytest.mark.parametrize("case", ["tampered", "missing", "unreachable"])
def test_a_bad_object_or_endpoint_leaves_the_start_going_and_runs_nothing(make_emulator, s3, payload, case):
    key = {"tampered": "tampered.tar.xz", "missing": "missing.tar.xz"}.get(case, "good.tar.xz")
    endpoint = f"http://127.0.0.1:{free_port()}" if case == "unreachable" else s3
    emu = make_emulator(**reach(endpoint, forward=case != "unreachable"))
    result = emu.run(script_for(payload, key), after=AFTER)
    assert_ran_nothing(result)
    why = {"tampered": r"sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(changed\); not used",
           "missing": r"HTTP 404 NoSuchKey \(The specified key does not exist\.\)",
           "unreachable": r"Connection refused"}[case]
    assert re.fullmatch(rf"notebook-lifecycle: on-start: cannot fetch s3://{BUCKET}/{re.escape(key)}: "
                        rf"{re.escape(endpoint)}/{BUCKET}/{re.escape(key)}: {why}; "
                        r"no verified copy on the volume: no startup scripts run this time", fetch_line(result))


def test_a_stalled_endpoint_is_given_up_in_time(make_emulator, payload):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # accepts connections (the kernel does) and never answers
    try:
        emu = make_emulator(**reach(f"http://127.0.0.1:{listener.getsockname()[1]}"))
        result = emu.run(script_for(payload, fetch_seconds=5), after=AFTER)
    finally:
        listener.close()
    assert_ran_nothing(result)
    assert re.search(r"cannot fetch .*: timed out.*; no verified copy", fetch_line(result))
    assert result.seconds < 120  # 5 s of fetch; generous for a loaded machine


def test_a_restart_without_s3_runs_the_verified_copy(make_emulator, s3, payload):
    first = make_emulator(**reach(s3))
    assert_ran_everything(first.run(script_for(payload), after=AFTER))
    again = make_emulator(state_dir=first.state_dir, **reach(f"http://127.0.0.1:{free_port()}", forward=False))
    result = again.run(script_for(payload), after=AFTER)
    assert_ran_everything(result)
    assert fetch_line(result).endswith(": Connection refused; running the copy kept on the volume (sha256 verified)")


def test_a_copy_changed_on_the_volume_is_not_run(make_emulator, s3, payload):
    first = make_emulator(**reach(s3))
    assert_ran_everything(first.run(script_for(payload), after=AFTER))
    cache = first.state_dir / CACHE
    offline = reach(f"http://127.0.0.1:{free_port()}", forward=False)

    # 1. changed in place (as root could): same size, one byte off
    data = cache.read_bytes()
    cache.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    result = make_emulator(state_dir=first.state_dir, **offline).run(script_for(payload), after=AFTER)
    assert_ran_nothing(result)
    assert "the cached copy: sha256 " in result.output and "(changed); not used" in result.output

    # 2. ec2-user swaps the folder for one of its own holding the right bytes: not trusted, moved away
    folder = cache.parent
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "on-start.payload").write_bytes(payload)
    emu = make_emulator(state_dir=first.state_dir, **offline)
    os.chown(folder, emu.ec2_uid, emu.ec2_uid)
    os.chown(folder / "on-start.payload", emu.ec2_uid, emu.ec2_uid)
    result = emu.run(script_for(payload), after=AFTER)
    assert_ran_nothing(result)
    moved = [p for p in folder.parent.iterdir() if p.name.startswith(".lifecycle.moved-")]
    assert len(moved) == 1 and (moved[0] / "on-start.payload").exists()
    assert folder.stat().st_uid == 0

    # 3. ... or for a symlink to a folder holding them
    shutil.rmtree(folder)
    elsewhere = first.state_dir / "SageMaker" / "mine"
    elsewhere.mkdir()
    (elsewhere / "on-start.payload").write_bytes(payload)
    folder.symlink_to("mine")
    result = make_emulator(state_dir=first.state_dir, **offline).run(script_for(payload), after=AFTER)
    assert_ran_nothing(result)
    assert not folder.is_symlink() and (elsewhere / "on-start.payload").read_bytes() == payload
