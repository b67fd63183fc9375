"""The notebook-instance sandbox itself: isolation, stubs, verdicts, profiles, persistence.

These run raw lifecycle scripts (no bundle); tests/test_runner_sandbox.py runs real bundles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from notebook_lifecycle.emulator import (
    DEFAULT_METADATA,
    HOOK_PATH,
    NO_CRON,
    NO_SUDO,
    UNAVAILABLE,
    Emulator,
    EmulatorError,
    EmulatorUnavailable,
    StubCall,
)

SRC = str(Path(__file__).resolve().parents[1] / "constructs")


# -- isolation ------------------------------------------------------------------------------------

def test_host_is_left_untouched(make_emulator, host_snapshot, tmp_path):
    token = f"nbemu-{os.getpid()}-{time.monotonic_ns()}"
    emu = make_emulator(platform="al2", scratch=tmp_path / "scratch")
    script = f"""#!/bin/bash
set -e
useradd -m intruder
echo 'export EVIL=1' >/etc/profile.d/evil.sh
echo 'intruder ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/evil
mkdir -p /startup /opt/ml/x /etc/systemd/system
echo x >/etc/systemd/system/evil.service
rm -f /usr/bin/xz
echo changed >>/usr/bin/systemctl
echo '* * * * * /bin/true' | crontab -
hostname sandboxed-host
touch /root/{token} /tmp/{token} /dev/shm/{token} /var/tmp/{token}
# detached processes that would outlive a naive sandbox
setsid bash -c 'exec -a {token} sleep 300' </dev/null >/dev/null 2>&1 &
nohup bash -c 'exec -a {token} sleep 300' </dev/null >/dev/null 2>&1 &
echo done
"""
    result = emu.run(script, after=["id intruder >/dev/null && test -e /startup && echo inside-ok"])
    assert not result.failed, result.summary()
    assert result.after_outputs == ["inside-ok\n"]  # the changes were real, inside
    host_snapshot.assert_unchanged()
    for path in (f"/root/{token}", f"/tmp/{token}", f"/dev/shm/{token}", f"/var/tmp/{token}"):
        assert not os.path.exists(path), path
    assert not any(token in _cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit()), "a process survived"
    assert list((tmp_path / "scratch").iterdir()) == []  # the scratch folder was removed
    # only the state folder holds something: the instance's volume
    assert sorted(p.name for p in emu.state_dir.iterdir()) == ["SageMaker"]


def test_kernel_settings_stay_the_hosts(emulator):
    # sysctl is not namespaced: inside, /proc/sys is read-only, so a script cannot change the host's kernel
    before = Path("/proc/sys/fs/inotify/max_user_instances").read_text()
    wanted = str(int(before) + 7)
    result = emulator.run(f"#!/bin/bash\nsysctl -w fs.inotify.max_user_instances={wanted} && echo changed || echo refused\n")
    assert not result.failed, result.summary()
    assert "refused" in result.output and "changed" not in result.output.replace("max_user_instances", "")
    assert Path("/proc/sys/fs/inotify/max_user_instances").read_text() == before


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_network_is_its_own_and_forward_reaches_the_host(make_emulator):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"hello from the host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        fetch = (f"#!/bin/bash\n/usr/bin/python3 -c \"import urllib.request;"
                 f"print(urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=10).read().decode())\"\n")
        alone = make_emulator().run(fetch)
        forwarded = make_emulator(forward=[port]).run(fetch)
    finally:
        server.shutdown()
        server.server_close()
    assert alone.failed and "Connection refused" in alone.output  # the host's loopback is not the sandbox's
    assert not forwarded.failed, forwarded.summary()
    assert forwarded.output == "hello from the host\n"


def test_port_8443_is_the_sandboxs_even_when_the_host_uses_it(make_emulator):
    import socket

    host = socket.socket()
    host.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        host.bind(("0.0.0.0", 8443))
        host.listen(1)
    except OSError:
        host.close()
        host = None  # something on this machine has it already: the point holds all the more
    try:
        result = make_emulator().run(
            "#!/bin/bash\n/usr/bin/python3 -c \"import socket;s=socket.socket();s.bind(('0.0.0.0',8443));"
            "s.listen(1);c=socket.create_connection(('127.0.0.1',8443));print('listening on 8443')\"\n")
    finally:
        if host is not None:
            host.close()
    assert not result.failed, result.summary()
    assert result.output == "listening on 8443\n"


def test_dev_is_minimal_and_bin_sh_is_bash(emulator):
    result = emulator.run("#!/bin/bash\nls /dev | sort | tr '\\n' ' '; echo\n"
                          "echo x >/dev/full || echo full-refuses; head -c 4 /dev/urandom | wc -c\n"
                          "/bin/sh -c 'a=(1 2); echo sh-arrays ${#a[@]}'; test -e /dev/sda || echo no-disks\n")
    assert not result.failed, result.summary()
    lines = result.output.splitlines()
    assert lines[0].split() == sorted(["fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
                                       "stdout", "tty", "urandom", "zero"])
    assert lines[-4:] == ["full-refuses", "4", "sh-arrays 2", "no-disks"]


# -- how the hook runs --------------------------------------------------------------------------

def test_hook_runs_like_sagemaker_runs_it(make_emulator):
    emu = make_emulator(env={"EXTRA": "a b"})
    script = "#!/bin/bash\nid -un; pwd; echo \"$0\"; echo \"PATH=$PATH\"; echo \"HOME=${HOME-unset}\"; " \
             "echo \"EXTRA=$EXTRA\"; umask; read -r line; echo \"read=$? [$line]\"\n"
    result = emu.run(script)
    assert not result.failed, result.summary()
    user, cwd, argv0, path, home, extra, umask, read = result.output.splitlines()
    assert (user, cwd) == ("root", "/")
    assert re.fullmatch(r"/tmp/OnStart_\d{4}-\d\d-\d\d-\d\d-\d\d[a-z0-9]{8}", argv0), argv0
    assert path == f"PATH={HOOK_PATH}"
    assert home == "HOME=unset"
    assert extra == "EXTRA=a b"
    assert umask == "0022"
    assert read == "read=1 []"  # stdin is /dev/null


def test_script_without_shebang_runs_under_bash_and_on_create_is_named_so(emulator):
    result = emulator.run("arr=(a b c); [[ ${#arr[@]} == 3 ]] && echo \"bash ${BASH_VERSINFO[0]} $0\"\n",
                          hook="on-create")
    assert not result.failed, result.summary()
    assert re.fullmatch(r"bash \d+ /tmp/OnCreate_\S+\n", result.output), result.output
    assert result.hook == "on-create"


def test_crlf_script_fails_like_on_sagemaker(emulator):
    result = emulator.run(b"#!/bin/bash\r\necho hi\r\n")
    assert result.failed and result.exit_code in (126, 127)
    # SageMaker users find `/bin/bash^M: bad interpreter` in CloudWatch (lifecycle-config-samples#86, bash 4.2);
    # bash 5.2 words it "cannot execute: required file not found"
    assert re.fullmatch(r"/bin/bash: line 1: /tmp/OnStart_\S+: "
                        r"(/bin/bash\r: bad interpreter: No such file or directory|cannot execute: required file not found)\n",
                        result.output), repr(result.output)


def test_non_zero_exit_fails_the_start(emulator):
    result = emulator.run("#!/bin/bash\necho before\nexit 3\n")
    assert result.failed
    assert result.exit_code == 3
    assert "exit code 3" in result.reason
    assert result.output == "before\n"
    assert "FAILED" in result.summary() and "before" in result.summary()


def test_ok_hook_reports_no_failure(emulator):
    result = emulator.run("#!/bin/bash\necho fine\n")
    assert (result.failed, result.reason, result.exit_code, result.timed_out) == (False, None, 0, False)
    assert result.summary().startswith("on-start (al2023): ok: exit 0")


def test_timeout_fails_the_start_and_kills_the_hook(make_emulator):
    emu = make_emulator(timeout=1)
    started = time.monotonic()
    result = emu.run("#!/bin/bash\necho start\nsleep 30\necho never\n")
    assert time.monotonic() - started < 10
    assert result.failed and result.timed_out
    assert result.exit_code is None
    assert result.reason == "timed out after 1 s"
    assert 1 <= result.seconds < 5
    assert result.output == "start\n"


def test_overhead_is_below_one_second(emulator):
    best = min(_timed(emulator) for _ in range(2))
    assert best < 1.0, f"a trivial run took {best:.2f} s"


def _timed(emu: Emulator) -> float:
    started = time.monotonic()
    result = emu.run("#!/bin/bash\ntrue\n")
    assert not result.failed
    return time.monotonic() - started


def test_output_held_open_by_a_background_process_is_reported(emulator):
    leaky = emulator.run("#!/bin/bash\nsleep 5 &\necho bye\n")
    assert not leaky.failed
    assert len(leaky.output_held_by) == 1 and "sleep 5" in leaky.output_held_by[0]
    assert "warning" in leaky.summary()
    clean = emulator.run("#!/bin/bash\nnohup sleep 5 >/dev/null 2>&1 &\necho bye\n")
    assert clean.output_held_by == []


def test_linger_lets_background_work_finish_before_after(make_emulator):
    script = "#!/bin/bash\n(sleep 1; touch /tmp/late) >/dev/null 2>&1 &\n"
    probe = ["test -e /tmp/late && echo there || echo missing"]
    assert make_emulator(linger=0).run(script, after=probe).after_outputs == ["missing\n"]
    assert make_emulator(linger=2.5).run(script, after=probe).after_outputs == ["there\n"]


def test_after_snippets_report_output_and_exit_codes(emulator):
    result = emulator.run("#!/bin/bash\ntrue\n", after=["echo one; echo err >&2", "exit 4", "pwd; id -un"])
    assert result.after_outputs == ["one\nerr\n", "", "/\nroot\n"]
    assert result.after_codes == [0, 4, 0]


# -- the instance's furniture -----------------------------------------------------------------------

def test_ec2_user_volume_and_metadata(make_emulator):
    emu = make_emulator(metadata={"ResourceName": "nb-test"})
    result = emu.run(
        "#!/bin/bash\ntrue\n",
        after=[
            "getent passwd ec2-user | cut -d: -f6,7",
            "stat -c '%U %G %a' /home/ec2-user/SageMaker; stat -c '%U %a' /home/ec2-user/SageMaker/lost+found",
            "cat /opt/ml/metadata/resource-metadata.json",
            "test -s /etc/opt/ml/sagemaker-notebook-instance-config.json && echo marker",
            "sudo -i -u ec2-user bash -c 'id -un; echo $HOME; pwd; sudo -n true && echo sudo-ok'",
        ],
    )
    home, owners, meta, marker, login = result.after_outputs
    assert home == "/home/ec2-user:/bin/bash\n"
    assert owners == "ec2-user ec2-user 755\nroot 700\n"
    assert json.loads(meta) == {
        "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb-test",
        "ResourceName": "nb-test",
    }
    assert marker == "marker\n"
    assert login == "ec2-user\n/home/ec2-user\n/home/ec2-user\nsudo-ok\n"


def test_default_metadata_and_no_root_access(make_emulator):
    emu = make_emulator(root_access=False)
    result = emu.run("#!/bin/bash\ncat /opt/ml/metadata/resource-metadata.json\n",
                     after=["sudo -i -u ec2-user sudo -n true 2>/dev/null && echo sudo-ok || echo no-sudo"])
    assert json.loads(result.output) == DEFAULT_METADATA
    assert result.after_outputs == ["no-sudo\n"]


def test_setup_runs_before_the_hook_and_its_failure_is_an_error(make_emulator):
    setup = ("mkdir -p /home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin && "
             "ln -s /usr/bin/python3 /home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python && "
             "chown -R ec2-user:ec2-user /home/ec2-user/anaconda3")
    emu = make_emulator(setup=setup)
    result = emu.run("#!/bin/bash\n/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python -c 'print(6*7)'\n")
    assert result.output == "42\n"
    broken = make_emulator(setup="echo oops; exit 9")
    with pytest.raises(EmulatorError, match=r"setup snippet failed \(exit 9\)[\s\S]*oops"):
        broken.run("#!/bin/bash\ntrue\n")


# -- stubs ------------------------------------------------------------------------------------------

def test_stubs_record_calls_and_answer_like_systemd(make_emulator):
    emu = make_emulator(stubs=("aws",), units={"amazon-ssm-agent": "active", "jupyter-server": "active"})
    script = r"""#!/bin/bash
systemctl is-active amazon-ssm-agent; echo "rc=$?"
/usr/bin/systemctl stop amazon-ssm-agent; echo "rc=$?"
systemctl is-active amazon-ssm-agent; echo "rc=$?"
systemctl --no-block restart jupyter-server.service; echo "rc=$?"
systemctl is-enabled jupyter-server; echo "rc=$?"
systemctl list-unit-files jupyter-server.service | grep -c jupyter-server
systemctl status no-such-unit; echo "rc=$?"
systemctl start no-such-unit; echo "rc=$?"
printf '[Unit]\n[Timer]\nOnCalendar=*:0/5\n' >/etc/systemd/system/autostop.timer
systemctl daemon-reload; systemctl enable --now autostop.timer; echo "rc=$?"
systemctl is-active autostop.timer
sudo -u ec2-user systemctl restart jupyter-server; echo "rc=$?"
amazon-ssm-agent -version
aws s3 cp "a b" 'q"uote' $'new\nline' ünï; echo "rc=$?"
"""
    result = emu.run(script)
    assert not result.failed, result.summary()
    assert result.output.splitlines() == [
        "active", "rc=0",
        "rc=0",
        "inactive", "rc=3",
        "rc=0",
        "enabled", "rc=0",
        "1",
        "Unit no-such-unit.service could not be found.", "rc=4",
        "Failed to start no-such-unit.service: Unit no-such-unit.service not found.", "rc=5",
        "rc=0",
        "active",
        "Failed to restart jupyter-server.service: Access denied", "rc=1",
        "SSM Agent version: 3.3.1142.0",
        "rc=0",
    ]
    assert result.calls_to("systemctl")[1] == StubCall("systemctl", ("stop", "amazon-ssm-agent"))
    assert StubCall("systemctl", ("restart", "jupyter-server"), "ec2-user") in result.calls
    assert result.calls_to("aws") == [StubCall("aws", ("s3", "cp", "a b", 'q"uote', "new\nline", "ünï"))]
    assert result.calls_to("amazon-ssm-agent") == [StubCall("amazon-ssm-agent", ("-version",))]
    assert len(result.calls) == 14
    assert "systemctl stop amazon-ssm-agent" in result.summary()


def test_calls_of_on_create_and_on_start_are_kept_apart(emulator):
    result = emulator.start(
        on_start="#!/bin/bash\ncat /etc/created-by-on-create\nsystemctl restart jupyter-server\n",
        on_create="#!/bin/bash\necho yes >/etc/created-by-on-create\nsystemctl stop amazon-ssm-agent\n",
        after=["systemctl is-active amazon-ssm-agent"],
    )
    assert result.hook == "on-start" and not result.failed, result.summary()
    assert result.output == "yes\n"  # same boot: on-start sees what on-create did outside the volume
    (created,) = result.earlier
    assert created.hook == "on-create" and not created.failed
    assert created.calls == [StubCall("systemctl", ("stop", "amazon-ssm-agent"))]
    assert result.calls == [StubCall("systemctl", ("restart", "jupyter-server"))]  # `after` calls not counted
    assert result.after_outputs == ["inactive\n"]


def test_failed_on_create_stops_the_boot(emulator):
    result = emulator.start(on_start="#!/bin/bash\necho started\n", on_create="#!/bin/bash\nexit 2\n")
    assert result.hook == "on-create" and result.failed and result.reason == "exit code 2"
    assert result.earlier == ()


def test_upstart_commands_are_absent_unless_asked_for(make_emulator):
    script = "#!/bin/bash\ninitctl restart jupyter-server; echo \"rc=$?\"\n"
    absent = make_emulator().run(script)
    assert "initctl: command not found" in absent.output and "rc=127" in absent.output
    present = make_emulator(upstart=True).run(script + "status amazon-ssm-agent\n")
    assert present.calls == [StubCall("initctl", ("restart", "jupyter-server")),
                             StubCall("status", ("amazon-ssm-agent",))]
    assert "rc=0" in present.output


# -- platform profiles --------------------------------------------------------------------------------

PROBE = [
    ". /etc/os-release; echo \"$ID $VERSION_ID\"",
    "command -v crontab crond || echo no-cron",
    "test -d /run/systemd/system && echo systemd || echo no-systemd",
    "command -v systemctl || echo no-systemctl",
    "sudo -i -u ec2-user bash -c 'command -v crontab || echo no-cron'",
]


def test_al2023_profile_has_systemd_and_no_cron(make_emulator):
    out = make_emulator(platform="al2023").run("#!/bin/bash\ntrue\n", after=PROBE).after_outputs
    assert out == ["amzn 2023\n", "no-cron\n", "systemd\n", "/usr/bin/systemctl\n", "no-cron\n"]


def test_al2_profile_has_systemd_and_a_working_crontab(make_emulator):
    emu = make_emulator(platform="al2")
    script = "#!/bin/bash\n(crontab -l 2>/dev/null; echo '*/5 * * * * /usr/bin/true') | crontab -\n"
    result = emu.run(script, after=PROBE + ["crontab -l", "systemctl is-active crond"])
    assert not result.failed, result.summary()
    assert result.after_outputs == ["amzn 2\n", "/usr/bin/crontab\n/usr/sbin/crond\n", "systemd\n",
                                    "/usr/bin/systemctl\n", "/usr/bin/crontab\n", "*/5 * * * * /usr/bin/true\n",
                                    "active\n"]


def test_profile_overrides_and_hide(make_emulator):
    emu = make_emulator(platform="al2", systemd=False, cron=False, hide=("xz",))
    result = emu.run("#!/bin/bash\ntrue\n", after=PROBE + [
        "command -v xz || ls /usr/bin/xz /bin/xz 2>&1 | grep -c 'No such'",
        "sudo -i -u ec2-user bash -c 'command -v xz || echo no-xz'",
    ])
    assert result.after_outputs == ["amzn 2\n", "no-cron\n", "no-systemd\n", "no-systemctl\n", "no-cron\n", "2\n",
                                    "no-xz\n"]
    assert os.path.exists("/usr/bin/xz")  # hidden inside only


def test_hide_wins_over_stubs(make_emulator):
    result = make_emulator(hide=("amazon-ssm-agent",)).run("#!/bin/bash\namazon-ssm-agent -version; echo \"rc=$?\"\n")
    assert "amazon-ssm-agent: command not found" in result.output and "rc=127" in result.output
    assert result.calls == []


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="platform"):
        Emulator(tmp_path, platform="al1")
    with pytest.raises(ValueError, match="list of command names"):
        Emulator(tmp_path, hide="xz")
    with pytest.raises(ValueError, match="hide"):
        Emulator(tmp_path, hide=("../x",))


# -- persistence between runs ------------------------------------------------------------------------

def test_volume_survives_restarts_and_everything_else_resets(make_emulator):
    first = make_emulator()
    run1 = first.run(
        "#!/bin/bash\necho one >/etc/run1-marker\nsudo -u ec2-user bash -c 'echo kept >~ec2-user/SageMaker/keep.txt'\n"
        "echo 'export X=1' >/etc/profile.d/x.sh\nuseradd extra\n"
    )
    assert not run1.failed, run1.summary()
    again = make_emulator(state_dir=first.state_dir)  # a restart of the same instance
    result = again.run(
        "#!/bin/bash\ntrue\n",
        after=[
            "cat /home/ec2-user/SageMaker/keep.txt; stat -c %U /home/ec2-user/SageMaker/keep.txt",
            "ls /etc/run1-marker /etc/profile.d/x.sh 2>&1 | grep -c 'No such'; id extra 2>&1 | grep -c 'no such'",
        ],
    )
    assert result.after_outputs == ["kept\nec2-user\n", "2\n1\n"]
    assert (first.volume / "keep.txt").read_text() == "kept\n"


# -- where it cannot run ----------------------------------------------------------------------------------

def _python_inside(emu: Emulator, code: str, user: str = "root") -> str:
    runner = "" if user == "root" else f"runuser -u {user} -- "
    result = emu.run(f"#!/bin/bash\ncd / && {runner}env PYTHONPATH={SRC} /usr/bin/python3 -c {_q(code)} 2>&1\n")
    return result.output.strip()


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_not_root_says_so_in_one_line(emulator):
    code = ("from notebook_lifecycle.emulator import Emulator, EmulatorUnavailable\n"
            "import sys\n"
            "assert 'aws_cdk' not in sys.modules\n"
            "try:\n    Emulator('/tmp/state')\nexcept EmulatorUnavailable as exc:\n"
            "    print(isinstance(exc, RuntimeError), exc)\n")
    assert _python_inside(emulator, code, user="ec2-user") == f"True {UNAVAILABLE}"


def test_missing_sudo_or_cron_is_explained(make_emulator):
    no_sudo = make_emulator(hide=("sudo",))
    code = "from notebook_lifecycle.emulator import unavailable_reason\nprint(unavailable_reason())\n"
    assert _python_inside(no_sudo, code) == NO_SUDO
    assert "apt-get install sudo" in NO_SUDO
    no_cron = make_emulator(hide=("crontab",))
    code = ("from notebook_lifecycle.emulator import Emulator\n"
            "try:\n    Emulator('/tmp/state', platform='al2')\nexcept RuntimeError as exc:\n    print(exc)\n")
    assert _python_inside(no_cron, code) == NO_CRON


def test_module_imports_without_the_cdk():
    code = "import sys, notebook_lifecycle.emulator; print(any(m.startswith('aws_cdk') for m in sys.modules))"
    out = subprocess.run(["/usr/bin/python3", "-c", code], env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"


def test_unavailable_is_a_runtime_error():
    assert issubclass(EmulatorUnavailable, RuntimeError)
    assert UNAVAILABLE == ("the notebook emulator needs Linux and root (it uses mount namespaces); "
                           "run it as root on Linux")


def test_binds_under_a_0700_folder_are_reachable_for_ec2_user(make_emulator, tmp_path):
    # a checkout (or a Python) inside a folder only root may enter, such as /root or a `mktemp -d` folder;
    # /var/tmp, unlike /tmp, is seen through the overlay with its host modes
    import shutil
    import tempfile

    parent = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        assert parent.stat().st_mode & 0o777 == 0o700
        tool = parent / "checkout" / "bin" / "hello"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\necho hello from a 0700 parent\n")
        tool.chmod(0o755)
        result = make_emulator(binds=[parent / "checkout"]).run(
            f"#!/bin/bash\nsudo -u ec2-user {tool}\nstat -c %a {parent}\n")
    finally:
        shutil.rmtree(parent)
    assert not result.failed, result.summary()
    assert result.output == "hello from a 0700 parent\n711\n"  # passable inside only; the host's stays 0700
