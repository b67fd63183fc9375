"""`notebook-lifecycle run-local`: the emulator as a command, driven for real."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from notebook_lifecycle import Bundle, StartupScripts
from notebook_lifecycle.emulator import unavailable_reason

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(bool(unavailable_reason()), reason=unavailable_reason() or ""),
]


def cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notebook_lifecycle.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "startup"
    src.mkdir()
    (src / "10-root.sh").write_text("#!/bin/bash\necho \"root says $(id -un)\"\n")
    (src / "20-user.sh").write_text("echo \"$(id -un)\" >> ~/SageMaker/boots.txt\nexit 4\n")
    return src


def test_folder_with_features_across_restarts(folder, tmp_path):
    state = tmp_path / "state"
    done = cli("run-local", str(folder), "--as-root", "10-root.sh", "--stop-ssm-agent",
               "--restarts", "2", "--state", str(state))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert [line for line in out.splitlines() if line.startswith("boot ")] == [
        "boot 1 (first start, al2023)", "boot 2 (restart, al2023)", "boot 3 (restart, al2023)"
    ]
    assert out.count("feature:stop-ssm-agent                   root      ok") == 3
    assert out.count("20-user.sh                               ec2-user  failed(4)") == 3
    assert "failed steps (logged; they do not fail the start): 20-user.sh" in out
    assert "stubbed call: systemctl" in out
    assert out.rstrip().endswith("a real instance would have started: every hook exited 0 within the 300 s limit")
    # only the volume survived the restarts, and it is kept in --state
    assert (state / "SageMaker" / "boots.txt").read_text() == "ec2-user\n" * 3


def test_a_script_that_would_fail_the_instance(tmp_path):
    script = tmp_path / "on-start.sh"
    script.write_text("#!/bin/bash\necho about to fail\nexit 3\n")
    done = cli("run-local", str(script), "--restarts", "0")
    assert done.returncode == 1
    assert "on-start: FAILED: exit code 3" in done.stdout
    assert "| about to fail" in done.stdout
    assert "a real instance would have FAILED to start: boot 1 on-start: exit code 3" in done.stdout


def test_template_runs_on_create_then_on_start(tmp_path):
    bundle = Bundle(
        StartupScripts.from_files({"start.sh": "#!/bin/bash\ncat /etc/created-once 2>/dev/null || echo no-marker\n"}),
        on_create=StartupScripts.from_files({"create.sh": "#!/bin/bash\necho made > /etc/created-once\n"},
                                            as_root=["create.sh"]),
    )
    template = {
        "Resources": {
            "Lcc": {
                "Type": "AWS::SageMaker::NotebookInstanceLifecycleConfig",
                "Properties": {
                    "OnStart": [{"Content": bundle.on_start_content}],
                    "OnCreate": [{"Content": bundle.on_create_content}],
                },
            }
        }
    }
    path = tmp_path / "Stack.template.json"
    path.write_text(json.dumps(template))
    done = cli("run-local", str(path), "--platform", "al2")
    assert done.returncode == 0, done.stdout + done.stderr
    first, restart = done.stdout.split("boot 2 (restart, al2)")
    assert "on-create: ok" in first and "create.sh" in first
    assert "on-create" not in restart  # on-create runs once, at creation
    assert base64.b64decode(bundle.on_start_content).decode().startswith("#!/bin/bash")


def test_several_configs_need_a_choice(tmp_path):
    content = Bundle(StartupScripts.from_files({"a.sh": "true\n"})).on_start_content
    lcc = {"Type": "AWS::SageMaker::NotebookInstanceLifecycleConfig", "Properties": {"OnStart": [{"Content": content}]}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {"One": lcc, "Two": lcc}}))
    done = cli("run-local", str(path))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "notebook-lifecycle: error: --config: give one of One, Two to choose the lifecycle config to run"
    )
    assert cli("run-local", str(path), "--config", "Two", "--restarts", "0").returncode == 0


def test_bad_input_is_one_line(tmp_path):
    done = cli("run-local", str(tmp_path / "missing-folder"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    done = cli("run-local", "--stop-ssm-agent", "--restarts", "-1")
    assert done.returncode == 2 and "--restarts: -1 must be 0 or more" in done.stderr


def test_without_crontab_al2_is_one_line_exit_2(tmp_path, folder):
    # this machine has crontab; the CLI runs as it is, with `crontab` made absent for the emulator's check
    code = ("import shutil, sys\n"
            "which = shutil.which\n"
            "shutil.which = lambda name, *a, **k: None if name == 'crontab' else which(name, *a, **k)\n"
            "from notebook_lifecycle.cli import main\n"
            f"sys.exit(main(['run-local', {str(folder)!r}, '--platform', 'al2', '--restarts', '0']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("notebook-lifecycle: error: cron=True needs the crontab command")


def test_steps_after_the_deadline_and_reboots_are_reported(tmp_path):
    src = tmp_path / "startup"
    src.mkdir()
    (src / "10-slow.sh").write_text("#!/bin/bash\nsleep 3\ntouch /tmp/ready\n")
    (src / "20-next.sh").write_text("#!/bin/bash\ntest -e /tmp/ready\n")
    (src / "30-bad.sh").write_text("#!/bin/bash\nexit 5\n")
    done = cli("run-local", str(src), "--deadline", "1", "--restarts", "0", "--as-root", "10-slow.sh")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "10-slow.sh                               root      detached" in out  # at the hook's return
    assert "after the hook returned, the runner went on" in out
    late = out[out.index("after the hook returned"):]
    assert "10-slow.sh                               root      ok" in late
    assert "20-next.sh                               ec2-user  ok" in late  # it waited for 10-slow.sh
    assert "failed or detached after the hook returned: 30-bad.sh" in late
    (src / "40-reboot.sh").write_text("#!/bin/bash\nreboot\n")
    done = cli("run-local", str(src), "--restarts", "0", "--as-root", "40-reboot.sh")
    assert done.returncode == 1
    assert "FAILED: the script ran `reboot`: a real instance would restart in the middle of the hook" in done.stdout
