"""autostop.py end to end: a real jupyter_server (HTTPS, self-signed) and a moto SageMaker.

The script under test is the one the bundle ships (minified by features.py). Each
test gets its own notebook instance in moto, created InService; the verdict is
read back from moto (DescribeNotebookInstance), and the decision from the log.
Both servers are started once per module and killed by their fixtures.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from notebook_lifecycle.shipped import on_instance_text, python_names, shipped_file
from servers import free_port, moto_server, stop_process

pytest.importorskip("jupyter_server")
pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")
websocket = pytest.importorskip("websocket")  # websocket-client, a jupyter_server dependency

VENV_BIN = Path(sys.executable).parent
PY = sys.executable
REGION = "eu-west-1"


# -- helpers ------------------------------------------------------------------------------------
def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def iso_ago(seconds: float) -> str:
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class JupyterServer:
    def __init__(self, root: Path, cert: Path, key: Path, token: str = "") -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.token = token
        self.runtime = root / "runtime"
        for d in ("runtime", "data", "config", "notebooks"):
            (root / d).mkdir(parents=True)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(self.runtime), JUPYTER_DATA_DIR=str(root / "data"),
                   JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_PLATFORM_DIRS="1")
        self.log = open(root / "server.log", "wb")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "jupyter-server"), "--ip=127.0.0.1", f"--port={self.port}", "--no-browser", "--allow-root",
             f"--ServerApp.token={token}", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             f"--certfile={cert}", f"--keyfile={key}", f"--ServerApp.root_dir={root / 'notebooks'}"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        wait_for(self._ready, 60, "jupyter_server to answer")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"jupyter_server exited: {(Path(self.log.name)).read_text()[-2000:]}")
        try:
            self.request("GET", "/api/status")
            return True
        except OSError:
            return False

    def request(self, method: str, path: str, body=None):
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=15, context=self.ctx) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    def websocket(self, path: str):
        header = [f"Authorization: token {self.token}"] if self.token else []
        return websocket.create_connection(self.url.replace("https", "wss") + path, header=header, timeout=30,
                                           sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False})

    def start_kernel(self) -> str:
        kid = self.request("POST", "/api/kernels", {"name": "python3"})["id"]
        return kid

    def kernel(self, kid: str) -> dict:
        return self.request("GET", f"/api/kernels/{kid}")

    def clear(self) -> None:
        for s in self.request("GET", "/api/sessions"):
            self.request("DELETE", f"/api/sessions/{s['id']}")
        for k in self.request("GET", "/api/kernels"):
            self.request("DELETE", f"/api/kernels/{k['id']}")
        for t in self.request("GET", "/api/terminals"):
            self.request("DELETE", f"/api/terminals/{t['name']}")

    def close(self) -> None:
        stop_process(self.proc)
        self.log.close()


def execute(ws, code: str) -> str:
    """Send an execute_request on a kernel's channels websocket; returns its msg_id."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3", "date": dt.datetime.now(dt.timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    return msg_id


def wait_reply(ws, msg_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("msg_type") == "execute_reply" and msg.get("parent_header", {}).get("msg_id") == msg_id:
            return
    raise AssertionError("no execute_reply")


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory, tls):
    server = JupyterServer(tmp_path_factory.mktemp("jupyter"), *tls)
    yield server
    server.close()


@pytest.fixture
def clean_jupyter(jupyter):
    jupyter.clear()
    yield jupyter
    jupyter.clear()


@pytest.fixture(scope="module")
def moto_url():
    with moto_server() as url:
        yield url


@pytest.fixture
def aws_env(moto_url):
    return {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def sagemaker(aws_env):
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=aws_env["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def instance(sagemaker, tmp_path):
    """A fresh InService notebook instance in moto, and the metadata file that names it."""
    name = "nb-" + uuid.uuid4().hex[:10]
    sagemaker.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium",
                                       RoleArn="arn:aws:iam::123456789012:role/notebook")
    arn = sagemaker.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceArn"]
    assert arn.split(":")[3] == REGION
    meta = tmp_path / "resource-metadata.json"
    meta.write_text(json.dumps({"ResourceArn": arn, "ResourceName": name}))
    return name, meta


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    """autostop.py as the bundle ships it (minified)."""
    path = tmp_path_factory.mktemp("shipped") / "autostop.py"
    path.write_bytes(shipped_file("features/autostop.py"))
    return path


class Autostop:
    """Runs the shipped autostop.py as root does on the instance, with paths pointing into tmp_path."""

    def __init__(self, script: Path, tmp: Path, meta: Path, env: dict, url: str, runtime: Path) -> None:
        self.script, self.tmp, self.meta, self.url, self.runtime = script, tmp, meta, url, runtime
        # the token files are looked for where Jupyter's own variable says (and in the home folders)
        self.env = dict(os.environ, **env, JUPYTER_RUNTIME_DIR=str(runtime))
        self.state = tmp / "state" / "autostop.json"
        self.logs = [tmp / "logs" / "jupyter.log", tmp / "logs" / "autostop.log"]
        (tmp / "logs").mkdir(exist_ok=True)

    def remember(self, seconds_ago: float) -> None:
        """Make the state file remember the last activity `seconds_ago`."""
        self.state.parent.mkdir(parents=True, exist_ok=True)
        self.state.write_text(json.dumps({"last_activity": iso_ago(seconds_ago)}))

    def run(self, *args: str, idle: float = 2, url: str = "") -> str:
        cmd = [PY, str(self.script), "--idle-seconds", str(int(idle)), "--jupyter-url", url or self.url,
               "--metadata", str(self.meta), "--state", str(self.state), "--logs", ":".join(map(str, self.logs)),
               "--pythons", PY, "--aws-user", "", *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", proc.stderr
        return proc.stdout


@pytest.fixture
def autostop(script, tmp_path, instance, aws_env, jupyter) -> Autostop:
    return Autostop(script, tmp_path, instance[1], aws_env, jupyter.url, jupyter.runtime)


def status(sagemaker, instance) -> str:
    return sagemaker.describe_notebook_instance(NotebookInstanceName=instance[0])["NotebookInstanceStatus"]


# -- the verdicts -------------------------------------------------------------------------------
def test_idle_server_gets_the_instance_stopped(clean_jupyter, autostop, sagemaker, instance):
    first = autostop.run(idle=2)  # no state yet: the idle clock starts now
    assert "not idle long enough (0 kernel(s), 0 session(s), 0 terminal(s))" in first
    assert status(sagemaker, instance) == "InService"
    time.sleep(2.5)
    second = autostop.run(idle=2)
    assert f"stopping {instance[0]}" in second
    assert f"StopNotebookInstance {instance[0]} ({REGION}): requested" in second
    assert status(sagemaker, instance) == "Stopped"
    # every decision reaches both logs, each line stamped in UTC
    for log in autostop.logs:
        lines = log.read_text().splitlines()
        assert len(lines) == 3
        assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ notebook-lifecycle autostop: ", x) for x in lines)
    third = autostop.run(idle=2)  # already stopped: asks, does not stop again
    assert f"{instance[0]} is Stopped; not stopping" in third


def test_idle_kernel_with_old_activity_counts_as_idle(clean_jupyter, autostop, sagemaker, instance):
    kid = clean_jupyter.start_kernel()
    autostop.remember(3600)
    out = autostop.run(idle=60)
    assert "not idle long enough (1 kernel(s)" in out  # the kernel was just started
    assert status(sagemaker, instance) == "InService"
    time.sleep(2.5)
    out = autostop.run(idle=2)
    assert "stopping" in out and status(sagemaker, instance) == "Stopped", out
    assert clean_jupyter.kernel(kid)["execution_state"] in ("starting", "idle")


def test_busy_kernel_keeps_it_running(clean_jupyter, autostop, sagemaker, instance):
    kid = clean_jupyter.start_kernel()
    ws = clean_jupyter.websocket(f"/api/kernels/{kid}/channels")
    try:
        execute(ws, "import time; time.sleep(60)")
        wait_for(lambda: clean_jupyter.kernel(kid)["execution_state"] == "busy", 60, "the kernel to be busy")
        autostop.remember(3600)
        time.sleep(1.5)
        out = autostop.run("--ignore-connections", idle=1)
        assert f"kernel {kid[:8]} is busy" in out
        assert status(sagemaker, instance) == "InService"
        # the busy kernel also refreshed the remembered activity
        state = json.loads(autostop.state.read_text())
        assert state["last_activity"] >= iso_ago(30)
    finally:
        clean_jupyter.request("POST", f"/api/kernels/{kid}/interrupt")
        ws.close()


def test_recently_used_terminal_keeps_it_running_until_it_ages(clean_jupyter, autostop, sagemaker, instance):
    name = clean_jupyter.request("POST", "/api/terminals")["name"]
    autostop.remember(3600)
    time.sleep(3)
    ws = clean_jupyter.websocket(f"/terminals/websocket/{name}")
    try:
        ws.send(json.dumps(["stdin", "echo used\r"]))
        wait_for(lambda: "used" in ws.recv(), 10, "the terminal to echo")
    finally:
        ws.close()
    out = autostop.run(idle=5)
    assert "not idle long enough (0 kernel(s), 0 session(s), 1 terminal(s))" in out
    assert status(sagemaker, instance) == "InService"
    time.sleep(5.5)
    out = autostop.run(idle=5)
    assert "stopping" in out and status(sagemaker, instance) == "Stopped", out


def test_open_connection_keeps_it_running_unless_ignored(clean_jupyter, autostop, sagemaker, instance):
    kid = clean_jupyter.start_kernel()
    ws = clean_jupyter.websocket(f"/api/kernels/{kid}/channels")
    try:
        wait_reply(ws, execute(ws, "1 + 1"))
        wait_for(lambda: clean_jupyter.kernel(kid)["execution_state"] == "idle", 30, "the kernel to be idle")
        assert clean_jupyter.kernel(kid)["connections"] == 1
        autostop.remember(3600)
        time.sleep(2.5)
        out = autostop.run(idle=2)
        assert f"kernel {kid[:8]} has 1 connection(s)" in out
        assert status(sagemaker, instance) == "InService"
        autostop.remember(3600)  # the connection counted as activity; forget it
        out = autostop.run("--ignore-connections", idle=2)
        assert "stopping" in out and status(sagemaker, instance) == "Stopped", out
    finally:
        ws.close()


def test_session_kernel_counts(clean_jupyter, autostop, sagemaker, instance):
    session = clean_jupyter.request("POST", "/api/sessions", {"path": "a.ipynb", "type": "notebook",
                                                              "kernel": {"name": "python3"}})
    autostop.remember(3600)
    out = autostop.run(idle=60)
    assert "(1 kernel(s), 1 session(s), 0 terminal(s))" in out
    assert "not idle long enough" in out and status(sagemaker, instance) == "InService"
    assert session["kernel"]["id"]


def test_unreachable_jupyter_never_stops(autostop, sagemaker, instance):
    autostop.remember(3600)
    out = autostop.run(idle=1, url=f"https://127.0.0.1:{free_port()}")
    assert "cannot read https://127.0.0.1:" in out and out.rstrip().endswith("; not stopping")
    assert status(sagemaker, instance) == "InService"
    out = autostop.run(idle=1, url="http://127.0.0.1:1/")  # plain HTTP, nothing there either
    assert "not stopping" in out and status(sagemaker, instance) == "InService"


def test_unreachable_api_is_logged_and_does_not_fail(clean_jupyter, autostop, sagemaker, instance):
    autostop.remember(3600)
    autostop.env["AWS_ENDPOINT_URL"] = f"http://localhost:{free_port()}"
    autostop.env["AWS_MAX_ATTEMPTS"] = "1"
    out = autostop.run(idle=1)
    assert f"cannot stop {instance[0]}: EndpointConnectionError" in out
    assert status(sagemaker, instance) == "InService"


def test_no_python_with_boto3_is_logged(clean_jupyter, autostop, sagemaker, instance, tmp_path):
    autostop.remember(3600)
    out = autostop.run("--pythons", f"{tmp_path}/missing/python:/usr/bin/python3" if not _has_boto3("/usr/bin/python3")
                       else f"{tmp_path}/missing/python", idle=1)
    assert f"cannot stop {instance[0]}: no Python with boto3" in out
    assert status(sagemaker, instance) == "InService"


def _has_boto3(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import boto3"], capture_output=True, timeout=60).returncode == 0
    except OSError:
        return False


def test_unusable_metadata_never_stops(clean_jupyter, autostop, sagemaker, instance):
    autostop.remember(3600)
    autostop.meta.write_text("{not json")
    out = autostop.run(idle=1)
    assert "is unusable" in out and "not stopping" in out
    assert status(sagemaker, instance) == "InService"


def test_dry_run_decides_but_does_not_stop(clean_jupyter, autostop, sagemaker, instance):
    autostop.remember(3600)
    out = autostop.run("--dry-run", idle=1)
    assert f"{instance[0]} is InService; not stopping (dry run)" in out
    assert status(sagemaker, instance) == "InService"


def test_flags_come_from_the_environment_when_1(clean_jupyter, autostop, sagemaker, instance):
    autostop.remember(3600)
    autostop.env.update(NL_AUTOSTOP_QUIET="0", NL_AUTOSTOP_DRY_RUN="1")  # quiet only with 1: still on stdout
    out = autostop.run(idle=1)
    assert f"{instance[0]} is InService; not stopping (dry run)" in out
    assert status(sagemaker, instance) == "InService"


def test_unknown_option_is_refused_before_any_check(script, tmp_path):
    state = tmp_path / "state" / "s.json"
    for argv, code in ((["--idle-minutes", "5"], 2), (["--state"], 2), (["--help"], 0)):
        proc = subprocess.run([PY, str(script), "--state", str(state), "--logs", str(tmp_path / "a.log"), *argv],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == code, (argv, proc)
        assert proc.stdout.startswith("usage: autostop.py") and "--idle-seconds" in proc.stdout
        assert not state.exists() and not (tmp_path / "a.log").exists()


# -- a server that demands a token ----------------------------------------------------------------
@pytest.fixture
def token_jupyter(tmp_path_factory, tls):
    server = JupyterServer(tmp_path_factory.mktemp("jupyter-token"), *tls, token="s3cret-" + uuid.uuid4().hex)
    yield server
    server.close()


def test_token_is_found_in_the_runtime_files(token_jupyter, script, tmp_path, instance, aws_env, sagemaker):
    files = list(token_jupyter.runtime.glob("jpserver-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["token"] == token_jupyter.token
    stop = Autostop(script, tmp_path, instance[1], aws_env, token_jupyter.url, token_jupyter.runtime)
    stop.remember(3600)
    out = stop.run(idle=1)
    assert f"Jupyter asks for a token; using the one in {files[0]}" in out
    assert "stopping" in out and status(sagemaker, instance) == "Stopped", out


def test_token_server_without_runtime_files_never_stops(token_jupyter, script, tmp_path, instance, aws_env, sagemaker):
    (tmp_path / "empty").mkdir()
    stop = Autostop(script, tmp_path, instance[1], aws_env, token_jupyter.url, tmp_path / "empty")
    stop.remember(3600)
    out = stop.run(idle=1)
    assert "/api/kernels answered HTTP 403; not stopping" in out
    assert status(sagemaker, instance) == "InService"


# -- pieces, without servers -----------------------------------------------------------------------
#: the shipped module's name for each renamed module-level name of the source (the minifier renames them)
NAMES = python_names(on_instance_text("features/autostop.py"))


def name(source_name: str) -> str:
    return NAMES.get(source_name, source_name)


@pytest.fixture(scope="module")
def module(script):
    spec = importlib.util.spec_from_file_location("autostop_shipped", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("text, expected", [
    ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00.000000"),
    ("2024-03-01T12:00:00.123456Z", "2024-03-01T12:00:00.123456"),
    ("2024-03-01T12:00:00.1Z", "2024-03-01T12:00:00.100000"),
    ("2024-03-01T12:00:00.123456789z", "2024-03-01T12:00:00.123456"),
    ("2024-03-01T12:00:00+00:00", "2024-03-01T12:00:00.000000"),
    ("2024-03-01T14:30:00+02:30", "2024-03-01T12:00:00.000000"),
    ("2024-03-01T07:00:00-0500", "2024-03-01T12:00:00.000000"),
    ("2024-03-01T12:00:00", "2024-03-01T12:00:00.000000"),
    ("2024-03-01 12:00:00,5", "2024-03-01T12:00:00.500000"),
    ("2024-03-01T12:00Z", "2024-03-01T12:00:00.000000"),
    ("2024-03-01", "2024-03-01T00:00:00.000000"),
    (" 2024-03-01T12:00:00Z\n", "2024-03-01T12:00:00.000000"),
])
def test_parse_time_is_utc_and_robust(module, text, expected):
    t = getattr(module, name("parse_time"))(text)
    assert t.utcoffset() == dt.timedelta(0)
    assert t.strftime("%Y-%m-%dT%H:%M:%S.%f") == expected


@pytest.mark.parametrize("text", [None, 5, "", "yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z",
                                  "2024-03-01T25:00:00Z", "2024-03-01T12:00:00Zjunk"])
def test_parse_time_rejects_garbage(module, text):
    assert getattr(module, name("parse_time"))(text) is None


def _token_search(module, monkeypatch, runtime: Path) -> list:
    """Run autostop's token search over `runtime` against a Jupyter that always answers 403;
    return the tokens it sent (one per runtime file it accepted)."""
    sent: list = []
    headers = getattr(module, name("H"))  # the headers of every request to Jupyter

    def request(url):
        sent.append(headers.get("Authorization", "").replace("token ", "") or None)
        return 403, None

    monkeypatch.setattr(module, name("request"), request)
    monkeypatch.setattr(module, name("log"), lambda msg: None)
    monkeypatch.setattr(module.glob, "glob", lambda pattern: sorted(
        str(p) for p in runtime.glob("*server-*.json")) if pattern.startswith(str(runtime)) else [])
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setitem(getattr(module, name("S")), "--jupyter-url", "https://127.0.0.1:1")
    headers.clear()
    with pytest.raises(RuntimeError, match="answered HTTP 403"):
        getattr(module, name("get"))("/api/kernels")
    headers.clear()
    return sent


def test_token_file_swapped_for_a_link_mid_check_is_never_followed(module, tmp_path, monkeypatch):
    """The race: ec2-user swaps a runtime file for a link to a root-only file between any check and
    the open. The swap is made to land exactly there, by hooking os.open; the link is not followed."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    planted = runtime / "jpserver-1.json"
    planted.write_text(json.dumps({"token": "from-the-runtime-file"}))
    secret = tmp_path / "root-only.json"
    secret.write_text(json.dumps({"token": "root-secret"}))
    secret.chmod(0o600)
    real_open = os.open

    def racing_open(path, flags, *a, **kw):
        if str(path).endswith("jpserver-1.json") and not planted.is_symlink():
            planted.unlink()
            planted.symlink_to(secret)
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", racing_open)
    assert _token_search(module, monkeypatch, runtime) == [None]  # only the token-less first request
    assert planted.is_symlink()  # the swap did happen


def test_token_links_fifos_and_hard_links_are_refused(module, tmp_path, monkeypatch):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"token": "root-secret"}))
    (runtime / "jpserver-1.json").symlink_to(secret)
    os.link(secret, runtime / "jpserver-2.json")  # a second name for another file
    os.mkfifo(runtime / "jpserver-3.json")  # would block a plain open
    (runtime / "nbserver-4.json").write_text(json.dumps({"token": "good"}))
    assert _token_search(module, monkeypatch, runtime) == [None, "good"]


def test_token_of_another_owner_is_refused(module, tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file away")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    f = runtime / "jpserver-1.json"
    f.write_text(json.dumps({"token": "someone-elses"}))
    os.chown(f, 4242, 4242)  # neither root nor the folder's owner
    assert _token_search(module, monkeypatch, runtime) == [None]
    os.chown(runtime, 4242, 4242)  # the folder's owner's own file: accepted
    assert _token_search(module, monkeypatch, runtime) == [None, "someone-elses"]


def test_log_refuses_a_symlinked_folder_as_root(script, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the symlink guard applies to root")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "logs").symlink_to(target)
    proc = subprocess.run([PY, str(script), "--jupyter-url", f"http://127.0.0.1:{free_port()}",
                           "--state", str(tmp_path / "state" / "s.json"), "--logs", str(tmp_path / "logs" / "a.log")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "cannot write" in proc.stderr and "not a root-only folder" in proc.stderr
    assert not (target / "a.log").exists()


@pytest.mark.parametrize("mode, gid", [(0o777, 0), (0o775, 1000)])
def test_log_refuses_a_folder_others_can_write(script, tmp_path, mode, gid):
    if os.geteuid() != 0:
        pytest.skip("the ownership guard applies to root")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, 0, gid)
    shared.chmod(mode)
    proc = subprocess.run([PY, str(script), "--jupyter-url", f"http://127.0.0.1:{free_port()}",
                           "--state", str(tmp_path / "state" / "s.json"), "--logs", str(shared / "a.log")],
                          capture_output=True, text=True, timeout=60)
    assert "not a root-only folder" in proc.stderr and not (shared / "a.log").exists()


def test_persistent_log_is_bounded(script, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    big = logs / "autostop.log"
    big.write_bytes(b"x" * (600 * 1024))
    cmd = [PY, str(script), "--jupyter-url", f"http://127.0.0.1:{free_port()}",
           "--state", str(tmp_path / "state" / "s.json"), "--logs", str(big), "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    assert (logs / "autostop.log.1").stat().st_size == 600 * 1024
    assert big.stat().st_size < 1024 and "not stopping" in big.read_text()
    big.write_bytes(b"y" * (600 * 1024))
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    assert (logs / "autostop.log.1").read_bytes()[:1] == b"y"  # one old generation only
    assert sorted(p.name for p in logs.iterdir()) == ["autostop.log", "autostop.log.1"]


def test_settings_come_from_the_environment(script, tmp_path):
    env = dict(os.environ, NL_AUTOSTOP_JUPYTER_URL=f"http://127.0.0.1:{free_port()}",
               NL_AUTOSTOP_STATE=str(tmp_path / "st" / "x.json"), NL_AUTOSTOP_LOGS=str(tmp_path / "env.log"),
               NL_AUTOSTOP_IDLE_SECONDS="5")
    proc = subprocess.run([PY, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "not stopping" in proc.stdout
    assert (tmp_path / "st" / "x.json").exists() and "not stopping" in (tmp_path / "env.log").read_text()


def test_shipped_file_is_minified_but_equivalent(script):
    source = Path(__file__).parent.parent / "constructs/notebook_lifecycle/on_instance/features/autostop.py"
    shipped = script.read_text()
    assert len(shipped) < len(source.read_text()) * 0.8
    assert '"""' not in shipped and "\n#" not in shipped
    proc = subprocess.run([PY, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--ignore-connections" in proc.stdout and "--idle-seconds" in proc.stdout


def test_log_accepts_a_root_group_writable_folder(script, tmp_path):
    """/var/log on some images is group-writable by root's group: still root's alone."""
    logs = tmp_path / "varlog"
    logs.mkdir()
    os.chown(logs, 0, 0)
    logs.chmod(0o775)
    proc = subprocess.run([PY, str(script), "--jupyter-url", f"http://127.0.0.1:{free_port()}", "--quiet",
                           "--state", str(tmp_path / "state" / "s.json"), "--logs", str(logs / "jupyter.log")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""
    assert "not stopping" in (logs / "jupyter.log").read_text()
