"""The S3 fetcher (``on_instance/fetch.py``) and the script that carries it (``delivery.py``), on this machine.

The fetcher runs for real as a program (the system ``python3`` when there is one)
against a moto S3 server, a stand-in instance-metadata server that records what
it was asked, and servers that refuse or stall. Its SigV4 signature is checked
against botocore's. The sandbox tests (the whole lifecycle script as root in the
emulator) are in ``test_fetch_sandbox.py``.
"""

from __future__ import annotations

import ast
import base64
import datetime
import hashlib
import http.server
import importlib.util
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from notebook_lifecycle import BundleError, archive
from notebook_lifecycle.delivery import (
    BUCKET_PLACEHOLDER,
    REGION_PLACEHOLDER,
    content_length,
    fetcher_text,
    render_s3_script,
)
from notebook_lifecycle.shipped import minify_python, shipped_file
from servers import free_port, moto_server

ON_INSTANCE = Path(__file__).resolve().parent.parent / "constructs" / "notebook_lifecycle" / "on_instance"
FETCH = ON_INSTANCE / "fetch.py"
BIN = Path(sys.executable).parent
PYTHON3 = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
BUCKET = "nl-assets"
KEY = "0123abcd.tar.xz"
SHA = "ab" * 32


def load_fetch():
    spec = importlib.util.spec_from_file_location("nl_fetch", FETCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fetch = load_fetch()


def payload_of(files: dict, codec: str = "xz") -> bytes:
    from notebook_lifecycle.scripts import PackedFile

    return archive.pack([PackedFile(p, d.encode(), p.endswith(".sh")) for p, d in files.items()], codec)


def run_fetch(tmp_path, *, key=KEY, sha=None, size=None, payload=b"", env=(), deadline=10, codec="xz", region="us-east-1"):
    install = tmp_path / "install"
    base = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s" * 40}
    base.update(env)
    args = ["on-start", str(install), BUCKET, key, sha or hashlib.sha256(payload).hexdigest(),
            str(size if size is not None else len(payload)), codec, region, str(deadline)]
    started = time.monotonic()
    proc = subprocess.run([PYTHON3, str(FETCH), *args], env={k: v for k, v in base.items() if v is not None},
                          capture_output=True, text=True, timeout=180)
    return proc, install, time.monotonic() - started


@pytest.fixture(scope="module")
def s3():
    import boto3

    with moto_server() as url:
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s" * 40)
        client.create_bucket(Bucket=BUCKET)
        yield url, client


# -- signing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLE//token+with/slashes=="])
@pytest.mark.parametrize("url, host, path", [
    ("https://nl-assets.s3.eu-west-1.amazonaws.com/0123abcd.tar.xz", "nl-assets.s3.eu-west-1.amazonaws.com",
     "/0123abcd.tar.xz"),
    ("http://localhost:4566/nl-assets/dir/a%20b%2Bc.tar.gz", "localhost:4566", "/nl-assets/dir/a%20b%2Bc.tar.gz"),
])
def test_signature_is_the_one_botocore_computes(token, url, host, path):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(*creds), "s3", "eu-west-1").add_auth(request)
    when = datetime.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    ours = fetch.sign(host, path, "eu-west-1", creds, when)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")
    assert ours["x-amz-content-sha256"] == request.headers["X-Amz-Content-SHA256"]


def test_addressing(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    assert fetch.location("b-1", "k/x y.tar.xz", "eu-west-1") == (
        "https://b-1.s3.eu-west-1.amazonaws.com/k/x%20y.tar.xz", "b-1.s3.eu-west-1.amazonaws.com", "/k/x%20y.tar.xz")
    assert fetch.location("a.b", "k", "cn-north-1")[0] == "https://s3.cn-north-1.amazonaws.com.cn/a.b/k"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
    assert fetch.location("b-1", "k", "eu-west-1") == ("http://generic:1/b-1/k", "generic:1", "/b-1/k")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3only:2/prefix/")
    assert fetch.location("b-1", "k", "eu-west-1") == ("http://s3only:2/prefix/b-1/k", "s3only:2", "/prefix/b-1/k")


# -- the program against moto ------------------------------------------------------------------------------

def test_downloads_verifies_and_unpacks(s3, tmp_path):
    url, client = s3
    payload = payload_of({"a.sh": "echo a\n", "lib/x.txt": "data\n"})
    client.put_object(Bucket=BUCKET, Key=KEY, Body=payload)
    proc, install, _ = run_fetch(tmp_path, payload=payload, env={"AWS_ENDPOINT_URL_S3": url})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"notebook-lifecycle: on-start: fetched s3://{BUCKET}/{KEY} ({len(payload)} bytes, "
                           f"sha256 verified) in {proc.stdout.rsplit(' in ', 1)[1]}")
    assert (install / "a.sh").read_text() == "echo a\n" and (install / "lib/x.txt").read_text() == "data\n"
    assert stat.S_IMODE((install / "a.sh").stat().st_mode) == 0o755
    assert not (tmp_path / "install.new").exists()


def test_gzip_payload_and_generic_endpoint_variable(s3, tmp_path):
    url, client = s3
    payload = payload_of({"a.sh": "echo gz\n"}, "gzip")
    client.put_object(Bucket=BUCKET, Key="gz/p.tar.gz", Body=payload)
    proc, install, _ = run_fetch(tmp_path, key="gz/p.tar.gz", payload=payload, codec="gzip",
                                 env={"AWS_ENDPOINT_URL": url})
    assert "sha256 verified" in proc.stdout, proc.stdout + proc.stderr
    assert (install / "a.sh").read_text() == "echo gz\n"


@pytest.mark.parametrize("damage, why", [
    (lambda p: p[:len(p) // 2] + bytes([p[len(p) // 2] ^ 1]) + p[len(p) // 2 + 1:], r"sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(changed\); not used"),
    (lambda p: p[:-10], r"\d+ bytes, expected \d+ \(truncated or changed\); not used"),
    (lambda p: p + b"x", r"more than the expected \d+ bytes"),
])
def test_a_changed_object_is_never_unpacked(s3, tmp_path, damage, why):
    url, client = s3
    payload = payload_of({"a.sh": "echo a\n"})
    client.put_object(Bucket=BUCKET, Key="bad/" + KEY, Body=damage(payload))
    proc, install, _ = run_fetch(tmp_path, key="bad/" + KEY, payload=payload, env={"AWS_ENDPOINT_URL_S3": url})
    assert proc.returncode == 0 and proc.stderr == ""
    assert re.fullmatch(
        rf"notebook-lifecycle: on-start: cannot fetch s3://{BUCKET}/bad/{KEY}: {url}/{BUCKET}/bad/{KEY}: {why}; "
        r"no verified copy on the volume: no startup scripts run this time\n", proc.stdout), proc.stdout
    assert not install.exists()


def test_missing_object_and_refused_connection_name_what_where_why(s3, tmp_path):
    url, _ = s3
    proc, install, _ = run_fetch(tmp_path, key="nope.tar.xz", payload=b"x", env={"AWS_ENDPOINT_URL_S3": url})
    assert f"cannot fetch s3://{BUCKET}/nope.tar.xz: {url}/{BUCKET}/nope.tar.xz: HTTP 404 NoSuchKey" in proc.stdout
    dead = f"http://127.0.0.1:{free_port()}"
    proc, install, _ = run_fetch(tmp_path, payload=b"x", env={"AWS_ENDPOINT_URL_S3": dead})
    assert proc.returncode == 0
    assert f"cannot fetch s3://{BUCKET}/{KEY}: {dead}/{BUCKET}/{KEY}: Connection refused;" in proc.stdout, proc.stdout
    assert not install.exists()


class Staller:
    """A TCP server that accepts and then answers nothing (``stall``) or one byte every second (``trickle``)."""

    def __init__(self, mode):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.mode = mode
        self.requests = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        conns = []
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conns.append(conn)
            self.requests.append(conn.recv(65536).split(b"\r\n", 1)[0].decode())
            if self.mode == "trickle":
                threading.Thread(target=self.trickle, args=(conn,), daemon=True).start()
        for conn in conns:
            conn.close()

    def trickle(self, conn):
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not self.stop.is_set():
                conn.sendall(b"x")
                time.sleep(1)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("mode", ["stall", "trickle"])
def test_a_slow_endpoint_is_given_up_at_the_deadline(tmp_path, mode):
    server = Staller(mode)
    try:
        proc, install, seconds = run_fetch(tmp_path, payload=b"y" * 100000, deadline=4,
                                           env={"AWS_ENDPOINT_URL_S3": server.url})
    finally:
        server.close()
    assert proc.returncode == 0 and proc.stderr == ""
    assert server.requests == [f"GET /{BUCKET}/{KEY} HTTP/1.1"]
    assert re.search(rf"cannot fetch s3://{BUCKET}/{KEY}: .*timed out.*; no verified copy", proc.stdout), proc.stdout
    assert not install.exists()
    assert seconds < 60  # the deadline is 4 s; generous for a loaded machine


class FakeImds:
    """Instance metadata as IMDSv2 serves it (token first), with credentials moto accepts; records every request."""

    def __init__(self, role="BaseNotebookInstanceEc2InstanceRole", region="us-east-1"):
        calls = self.calls = []
        token = "tok-" + os.urandom(4).hex()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                calls.append(("PUT", self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
                self.reply(200, token.encode()) if self.path == "/latest/api/token" else self.reply(404, b"")

            def do_GET(self):
                calls.append(("GET", self.path, self.headers.get("X-aws-ec2-metadata-token")))
                if self.headers.get("X-aws-ec2-metadata-token") != token:
                    return self.reply(401, b"")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, role.encode())
                if self.path == base + role:
                    creds = {"Code": "Success", "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "r" * 40,
                             "Token": "session-token", "Expiration": "2099-01-01T00:00:00Z"}
                    return self.reply(200, json.dumps(creds).encode())
                if self.path == "/latest/meta-data/placement/region":
                    return self.reply(200, region.encode())
                self.reply(404, b"")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.token = token
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_credentials_and_region_come_from_imdsv2(s3, tmp_path):
    url, client = s3
    payload = payload_of({"a.sh": "echo imds\n"})
    client.put_object(Bucket=BUCKET, Key="imds/" + KEY, Body=payload)
    imds = FakeImds()
    try:
        proc, install, _ = run_fetch(
            tmp_path, key="imds/" + KEY, payload=payload, region="",
            env={"AWS_ENDPOINT_URL_S3": url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                 "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None})
    finally:
        imds.close()
    assert "sha256 verified" in proc.stdout, proc.stdout + proc.stderr
    base = "/latest/meta-data/iam/security-credentials/"
    # /opt/ml/metadata is absent here, so the region comes from IMDS too; every GET carries the token
    assert imds.calls[0] == ("PUT", "/latest/api/token", "300")
    assert sorted(imds.calls[1:]) == sorted([("GET", base, imds.token), ("GET", base + "BaseNotebookInstanceEc2InstanceRole", imds.token),
                                             ("GET", "/latest/meta-data/placement/region", imds.token)])
    assert (install / "a.sh").read_text() == "echo imds\n"


def test_without_credentials_it_says_so(tmp_path):
    proc, install, _ = run_fetch(tmp_path, payload=b"x", env={
        "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_EC2_METADATA_DISABLED": "true"})
    assert proc.returncode == 0
    assert "no credentials: AWS_EC2_METADATA_DISABLED is set" in proc.stdout
    dead = f"http://127.0.0.1:{free_port()}"
    proc, install, _ = run_fetch(tmp_path, payload=b"x", env={
        "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_EC2_METADATA_SERVICE_ENDPOINT": dead})
    assert "instance metadata (IMDSv2 token): Connection refused" in proc.stdout, proc.stdout


def test_bad_arguments_are_one_line_and_exit_0(tmp_path):
    proc = subprocess.run([PYTHON3, str(FETCH), "on-start", "/x", "Bad_Bucket;rm", KEY, SHA, "1", "xz", "", "5"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0
    assert proc.stdout.startswith("notebook-lifecycle: fetch failed: ValueError: bad arguments: bucket 'Bad_Bucket;rm'")


# -- the copy on the volume --------------------------------------------------------------------------------

def test_cache_folder_is_made_root_owned_and_odd_entries_are_moved_away(tmp_path):
    parent = tmp_path / "SageMaker"
    parent.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (parent / ".lifecycle").symlink_to(outside)
    fd = fetch.cache_dir(str(parent))
    try:
        st = os.fstat(fd)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o755) and stat.S_ISDIR(st.st_mode)
    finally:
        os.close(fd)
    assert (parent / ".lifecycle").is_dir() and not (parent / ".lifecycle").is_symlink()
    moved = [p for p in parent.iterdir() if p.name.startswith(".lifecycle.moved-")]
    assert len(moved) == 1 and moved[0].is_symlink() and list(outside.iterdir()) == []
    # a folder someone else owns (or with another mode) goes the same way
    shutil.rmtree(parent)
    (parent / ".lifecycle").mkdir(parents=True)
    os.chown(parent / ".lifecycle", 4321, 4321)
    fd = fetch.cache_dir(str(parent))
    os.close(fd)
    assert (parent / ".lifecycle").stat().st_uid == 0
    # a symlink higher up is not followed either: no cache then
    link = tmp_path / "via-link"
    link.symlink_to(parent)
    assert fetch.cache_dir(str(link)) is None
    assert fetch.cache_dir(str(tmp_path / "absent")) is None


def test_cached_copy_is_used_only_when_verified(tmp_path):
    parent = tmp_path / "SageMaker"
    parent.mkdir()
    data = b"payload bytes"
    sha = hashlib.sha256(data).hexdigest()
    fd = fetch.cache_dir(str(parent))
    try:
        fetch.keep(fd, "on-start", data)
        path = parent / ".lifecycle" / "on-start.payload"
        assert path.read_bytes() == data and stat.S_IMODE(path.stat().st_mode) == 0o644
        assert fetch.cached(fd, "on-start", len(data), sha) == data
        assert fetch.cached(fd, "on-create", len(data), sha) is None
        path.write_bytes(b"payload bytez")  # same size, other content
        assert fetch.cached(fd, "on-start", len(data), sha) is None
        path.unlink()
        (tmp_path / "elsewhere").write_bytes(data)
        path.symlink_to(tmp_path / "elsewhere")  # even a link to the right bytes
        assert fetch.cached(fd, "on-start", len(data), sha) is None
    finally:
        os.close(fd)


# -- static checks of the shipped program ------------------------------------------------------------------

def test_fetch_py_runs_on_python_3_9_with_the_standard_library_only():
    vermin = BIN / "vermin"
    if not vermin.exists():
        pytest.skip("vermin is not installed")
    proc = subprocess.run([str(vermin), "-t=3.9-", "--violations", "--no-tips", "--eval-annotations", str(FETCH)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tree = ast.parse(FETCH.read_text())
    modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert modules and modules <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)


def test_the_script_carries_the_minified_fetcher():
    shipped = shipped_file("fetch.py")
    assert shipped.decode() == minify_python(FETCH.read_text())
    assert archive.decompress(archive.text_decode(fetcher_text(), "xz")) == shipped
    compile(shipped, "fetch.py", "exec")


# -- the lifecycle script ------------------------------------------------------------------------------------

def render(**overrides):
    options = dict(bucket=BUCKET, key=KEY, sha256=SHA, size=1234)
    options.update(overrides)
    return render_s3_script(**options)


def test_script_shape_and_size():
    script = render(region="eu-west-1", deadline_seconds=200, fetch_seconds=30)
    lines = script.splitlines()
    assert lines[:4] == ["#!/bin/bash", "# notebook-lifecycle/s3 0.1.0 on-start", f"b='{BUCKET}'", "r='eu-west-1'"]
    assert lines[4].endswith(f" on-start /startup \"$b\" {KEY} {SHA} 1234 xz \"$r\" 30 <<'P'"
                             "||echo notebook-lifecycle: the fetch ended with $?")
    assert "timeout -sKILL 45 python3 -c" in lines[4]
    assert lines[5] == fetcher_text() and lines[6] == "P"
    assert lines[7] == ("f=/startup/.notebook-lifecycle/run.sh;[ -f $f ]&&exec /bin/bash $f on-start "
                        "$((SECONDS<200?200-SECONDS:1));exit 0")
    assert render() == render()  # deterministic
    assert content_length(script) == len(base64.b64encode(script.encode())) < 8000


def test_script_passes_shellcheck_and_bash_n(tmp_path):
    exe = BIN / "shellcheck"
    if not exe.exists():
        pytest.skip("shellcheck is not installed")
    path = tmp_path / "on-start.sh"
    path.write_text(render(hook="on-create", install_dir="/opt-setup", codec="gzip"))
    proc = subprocess.run([str(exe), "-s", "bash", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert subprocess.run(["bash", "-n", str(path)], timeout=60).returncode == 0


def test_placeholders_stand_alone_on_assignment_lines():
    script = render(bucket=BUCKET_PLACEHOLDER, region=REGION_PLACEHOLDER)
    before, after = script.split(BUCKET_PLACEHOLDER)
    assert before.endswith("\nb='") and after.startswith("'\n")
    assert script.count(REGION_PLACEHOLDER) == 1 and f"\nr='{REGION_PLACEHOLDER}'\n" in script
    # joined around a real name, it is the script rendered with that name
    assert before + BUCKET + after == render(region=REGION_PLACEHOLDER)


@pytest.mark.parametrize("overrides, message", [
    ({"bucket": "Bad_Bucket"}, r"bucket: 'Bad_Bucket' is not an S3 bucket name"),
    ({"bucket": "x'; rm -rf /; '"}, r"bucket: .* is not an S3 bucket name"),
    ({"key": "a b"}, r"key: 'a b' must be an S3 key"),
    ({"key": "../x"}, r"key: '\.\./x' must be an S3 key"),
    ({"sha256": "ABC"}, r"sha256: 'ABC' must be 64 lower-case hex digits"),
    ({"size": 0}, r"size: 0 must be the payload's size"),
    ({"hook": "on-stop"}, r"hook: 'on-stop' is not one of on-start, on-create"),
    ({"install_dir": "/home/x"}, r"install_dir: '/home/x' is not directly under '/'"),
    ({"deadline_seconds": 300}, r"deadline_seconds: 300 must be a whole number of seconds from 1 to 280"),
    ({"codec": "zstd"}, r"codec: 'zstd' is not supported; use one of xz, gzip"),
    ({"region": "Europe"}, r"region: 'Europe' is not an AWS region name"),
    ({"fetch_seconds": 200}, r"fetch_seconds: 200 must be a whole number of seconds from 5 to 120"),
    ({"fetch_seconds": 60, "deadline_seconds": 60}, r"fetch_seconds: 60 .* less than deadline_seconds \(60\)"),
])
def test_bad_values_name_the_field(overrides, message):
    with pytest.raises(BundleError, match=message):
        render(**overrides)
