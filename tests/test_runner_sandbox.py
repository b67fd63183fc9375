"""Real bundles, run by the notebook-instance emulator: the decoder and the runner (run.sh), for real.

Each test builds a Bundle from StartupScripts, boots a sandboxed notebook instance,
runs ``bundle.on_start_script`` (or both hooks) and inspects the live filesystem
with ``after`` snippets. See tests/conftest.py for the fixtures.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from conftest import marked, summary_rows
from notebook_lifecycle import Bundle, StartupScripts

LOGS = "/home/ec2-user/SageMaker/.lifecycle/logs"
WHO = '#!/bin/bash\necho "user=$(id -un) home=$HOME cwd=$PWD profile=${FROM_PROFILE-no} leak=${LEAK-no}"\n'


def wait_for(path: str, seconds: int = 10) -> str:
    """An ``after`` snippet that waits until ``path`` exists (and says whether it did)."""
    return (f"for _ in $(seq {seconds * 10}); do [ -e {path} ] && break; sleep 0.1; done; "
            f"[ -e {path} ] && echo present || echo missing")


def latest_log(result) -> str:
    match = re.search(r"; log (\S+)$", result.output, re.M)
    assert match, result.output
    return match.group(1)


def test_each_step_runs_as_its_user_with_its_home_and_cwd(make_emulator, make_bundle):
    emu = make_emulator(setup="echo 'export FROM_PROFILE=yes' >/etc/profile.d/zz-probe.sh", env={"LEAK": "x"})
    bundle = make_bundle({"10-root.sh": WHO, "20-user.sh": WHO}, as_root=["10-root.sh"])
    result = emu.run(bundle.on_start_script)
    assert not result.failed, result.summary()
    assert marked(result, "10-root.sh") == ["user=root home=/root cwd=/ profile=no leak=x"]
    # ec2-user steps go through a login shell: profile.d is read, the hook's environment is not passed on
    assert marked(result, "20-user.sh") == ["user=ec2-user home=/home/ec2-user cwd=/home/ec2-user profile=yes leak=no"]
    assert summary_rows(result.output) == {"10-root.sh": ("root", "ok"), "20-user.sh": ("ec2-user", "ok")}
    assert result.output_held_by == []


def test_failing_hanging_and_stdin_reading_steps_do_not_stop_the_start(make_emulator, make_bundle, host_snapshot):
    bundle = make_bundle(
        {
            "10-stdin.sh": "#!/bin/bash\nif read -r line; then echo \"ate [$line]\"; else echo \"eof rc=$?\"; fi\n"
                           "cat; echo cat-done\n",
            "20-fail.sh": "#!/bin/bash\necho failing\nexit 7\n",
            "30-hang.sh": "#!/bin/bash\necho hanging\nexec sleep 60\n",
            "40-next.sh": "#!/bin/bash\ntouch /tmp/next-ran\necho next\n",
            "50-last.sh": "touch /tmp/last-ran\n",  # no shebang: bash runs it
        },
        as_root=["40-next.sh", "50-last.sh"],
        deadline_seconds=3,
    )
    # after the deadline each step waits for the one before it, here up to 2 s
    emu = make_emulator(env={"NL_STEP_LIMIT": "2"})
    result = emu.run(bundle.on_start_script, after=[
        wait_for("/tmp/last-ran"),
        "test -e /tmp/next-ran && echo next-ran",
        "pgrep -f 30-hang.sh >/dev/null && echo still-hanging",
        f"cat {LOGS}/*.log",
    ])
    assert result.exit_code == 0 and not result.failed, result.summary()
    assert 3 <= result.seconds < 5, f"the start took {result.seconds:.1f} s with a 3 s deadline"
    assert marked(result, "10-stdin.sh") == ["eof rc=1", "cat-done"]
    assert marked(result, "20-fail.sh") == ["failing"]
    assert summary_rows(result.output) == {
        "10-stdin.sh": ("ec2-user", "ok"),
        "20-fail.sh": ("ec2-user", "failed(7)"),
        "30-hang.sh": ("ec2-user", "detached"),
    }
    assert "notebook-lifecycle: 3s deadline: steps 4+ go on in the background" in result.output
    present, next_ran, hanging, log = result.after_outputs
    assert (present, next_ran, hanging) == ("present\n", "next-ran\n", "still-hanging\n")
    # the continuation appends its own summary to the same persistent log
    assert summary_rows(log) == {
        "10-stdin.sh": ("ec2-user", "ok"),
        "20-fail.sh": ("ec2-user", "failed(7)"),
        "30-hang.sh": ("ec2-user", "detached"),
        "40-next.sh": ("root", "ok"),
        "50-last.sh": ("root", "ok"),
    }
    assert result.output_held_by == []  # nothing left running holds the hook's (CloudWatch) output
    host_snapshot.assert_unchanged()  # the detached step and the continuation died with the sandbox


def test_install_dir_is_root_owned_and_ec2_user_cannot_change_it(make_emulator, make_bundle):
    bundle = make_bundle(
        {"a.sh": "#!/bin/bash\ntrue\n", "sub/dir/b.sh": "#!/bin/bash\ntrue\n", "sub/data.txt": "data\n"},
        run=["a.sh", "sub/dir/b.sh"],
    )
    attempts = [
        "echo x >>/startup/a.sh", "touch /startup/new", "rm -f /startup/a.sh", "mv /startup/a.sh /startup/z.sh",
        "touch /startup/sub/dir/new", "echo x >>/startup/sub/data.txt", "echo x >>/startup/.notebook-lifecycle/plan",
        "rm -f /startup/.notebook-lifecycle/run.sh", "mkdir /startup/sub/evil",
    ]
    probe = "n=0; " + "; ".join(f"sudo -u ec2-user bash -c {q(a)} 2>/dev/null && n=$((n+1))" for a in attempts) \
        + "; echo succeeded=$n"
    result = make_emulator().run(bundle.on_start_script, after=[
        "stat -c '%U %G %a' /startup",
        "find /startup \\( ! -user root -o ! -group root -o -perm /022 \\) -printf '%M %u %p\\n'",
        "find /startup -type d -printf '%m %P\\n' | sort",
        "sha256sum /startup/a.sh /startup/sub/data.txt /startup/.notebook-lifecycle/plan | sha256sum",
        probe,
        "sha256sum /startup/a.sh /startup/sub/data.txt /startup/.notebook-lifecycle/plan | sha256sum",
    ])
    assert not result.failed, result.summary()
    owner, writable, dirs, before, tried, after = result.after_outputs
    assert owner == "root root 755\n"
    assert writable == ""
    assert dirs == "755 \n755 .notebook-lifecycle\n755 sub\n755 sub/dir\n"
    assert tried == "succeeded=0\n"
    assert before == after


def q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_persistent_log_is_readable_by_ec2_user_and_ends_with_the_summary(make_emulator, make_bundle):
    bundle = make_bundle({"10-a.sh": "#!/bin/bash\necho a\n", "20-b.sh": "#!/bin/bash\nexit 1\n"},
                         as_root=["20-b.sh"])
    result = make_emulator().run(bundle.on_start_script, after=[
        f"stat -c '%U %a' /home/ec2-user/SageMaker/.lifecycle {LOGS}; ls {LOGS}",
        f"for f in {LOGS}/*.log; do stat -c '%U %a' \"$f\"; sudo -u ec2-user cat \"$f\"; done",
    ])
    assert not result.failed, result.summary()
    log = latest_log(result)
    assert re.fullmatch(re.escape(LOGS) + r"/on-start-\d{8}T\d{6}Z-\d+\.log", log), log
    dirs, log_text = result.after_outputs
    assert dirs == f"root 755\nroot 755\n{log.rsplit('/', 1)[1]}\n"
    first, _, rest = log_text.partition("\n")
    assert first == "root 644"
    lines = rest.rstrip("\n").splitlines()
    assert lines[lines.index("==> 10-a.sh (ec2-user, fg)") + 1] == "a"
    assert lines[-5] == "notebook-lifecycle summary (on-start)"
    assert lines[-4].split() == ["STEP", "USER", "STATUS", "SECONDS"]
    assert re.fullmatch(r"10-a\.sh\s+ec2-user\s+ok\s+\d+\.\d{3}", lines[-3])
    assert re.fullmatch(r"20-b\.sh\s+root\s+failed\(1\)\s+\d+\.\d{3}", lines[-2])
    assert re.fullmatch(r"total \d+\.\d{3}s \(deadline 20s, platform limit 300s\)", lines[-1])
    # what the hook printed (CloudWatch) is the same text as the persistent log
    assert result.output == rest


def test_at_most_ten_logs_are_kept(make_emulator, make_bundle):
    bundle = make_bundle({"a.sh": "#!/bin/bash\ntrue\n"})
    emu = make_emulator()
    for _ in range(11):
        assert not emu.run(bundle.on_start_script).failed
    last = emu.run(bundle.on_start_script, after=[f"ls {LOGS}"])
    names = last.after_outputs[0].split()
    assert len(names) == 10, names
    assert all(re.fullmatch(r"on-start-\d{8}T\d{6}Z-\d+\.log", n) for n in names), names
    assert latest_log(last).rsplit("/", 1)[1] in names
    assert sorted(p.name for p in (emu.volume / ".lifecycle" / "logs").iterdir()) == sorted(names)


def test_restart_gives_the_same_state(make_emulator, make_bundle):
    bundle = make_bundle(
        {"10-a.sh": "#!/bin/bash\necho a >>~/SageMaker/runs.txt\n", "20-b.sh": "exit 2\n", "x/y.sh": "echo y\n",
         "x/data.bin": b"\x00\x01binary"},
        run=["10-a.sh", "20-b.sh", "x/y.sh"], as_root=["x/y.sh"],
    )
    emu = make_emulator()
    probe = ["find /startup -printf '%M %u %g %s %P\\n' | sort",
             "cat /home/ec2-user/SageMaker/runs.txt; stat -c %U /home/ec2-user/SageMaker/runs.txt"]
    first = emu.run(bundle.on_start_script, after=probe)
    second = emu.run(bundle.on_start_script, after=probe)
    assert not first.failed and not second.failed
    assert first.after_outputs[0] == second.after_outputs[0]
    assert "-rw-r--r-- root root 8 x/data.bin" in first.after_outputs[0]
    assert summary_rows(first.output) == summary_rows(second.output) == {
        "10-a.sh": ("ec2-user", "ok"), "20-b.sh": ("ec2-user", "failed(2)"), "x/y.sh": ("root", "ok"),
    }
    assert first.after_outputs[1] == "a\nec2-user\n"
    assert second.after_outputs[1] == "a\na\nec2-user\n"  # the volume persisted, and only it


def test_background_steps_are_started_and_not_waited_for(make_emulator, make_bundle):
    bundle = make_bundle(
        {"10-bg.sh": "#!/bin/bash\nsleep 2\ntouch /tmp/bg-done\necho bg-finished\n",
         "20-fg.sh": "#!/bin/bash\necho fg\n"},
        background=["10-bg.sh"],
    )
    result = make_emulator(drain=0).run(bundle.on_start_script, after=[
        "test -e /tmp/bg-done && echo done || echo pending; pgrep -f 10-bg.sh >/dev/null && echo running",
        wait_for("/tmp/bg-done") + "; stat -c %U /tmp/bg-done",
        f"sleep 0.2; cat {LOGS}/*.log",
    ])
    assert not result.failed, result.summary()
    assert result.seconds < 1.5, result.summary()
    assert summary_rows(result.output) == {"10-bg.sh": ("ec2-user", "started"), "20-fg.sh": ("ec2-user", "ok")}
    assert marked(result, "20-fg.sh") == ["fg"]
    pending, done, log = result.after_outputs
    assert pending == "pending\nrunning\n"
    assert done == "present\nec2-user\n"
    assert "[10-bg.sh] bg-finished" in log.splitlines()  # its output still reaches the persistent log
    assert result.output_held_by == []


@pytest.mark.parametrize(
    "compression, hide",
    [("xz", ()), ("xz", ("xz",)), ("gzip", ()), ("gzip", ("python3", "xz"))],
    ids=["xz", "xz-without-the-xz-binary", "gzip", "gzip-without-python3-or-xz"],
)
def test_decoder_paths_unpack_every_file_exactly(make_emulator, compression, hide):
    scripts = StartupScripts.from_files(
        {"run me.sh": "#!/bin/bash\necho hello\n", "lib/data.json": '{"k": "v"}\n', "bin/tool": b"\x7fELF\x00\x01\x02",
         "lib/ünï códe.txt": "ok\n"},
        run=["run me.sh"], executable=["bin/tool"],
    )
    bundle = Bundle(scripts, deadline_seconds=20, compression=compression)
    result = make_emulator(hide=hide).run(bundle.on_start_script, after=[
        "for c in python3 xz; do command -v $c >/dev/null && echo $c; done",
        "cd /startup && find . -path ./.notebook-lifecycle -prune -o -type f -printf '%m %P\\n' | sort",
        "cd /startup && find . -path ./.notebook-lifecycle -prune -o -type f -print0 | sort -z | xargs -0 sha256sum",
    ])
    assert not result.failed, result.summary()
    assert marked(result, "run me.sh") == ["hello"]
    present, modes, sums = result.after_outputs
    assert present.split() == [c for c in ("python3", "xz") if c not in hide]
    expected = sorted(scripts.files, key=lambda f: f.path)
    assert modes.splitlines() == sorted(f"{f.mode:o} {f.path}" for f in expected)
    got = {line.split("  ", 1)[1][2:]: line.split()[0] for line in sums.splitlines()}
    assert got == {f.path: hashlib.sha256(f.data).hexdigest() for f in expected}


def test_without_any_decompressor_the_start_still_returns_0(make_emulator, make_bundle):
    bundle = make_bundle({"a.sh": "#!/bin/bash\necho ran\n"})
    result = make_emulator(hide=("xz", "python3")).run(bundle.on_start_script)
    assert result.exit_code == 0
    assert "notebook-lifecycle: cannot unpack, needs python3 lzma" in result.output
    assert "python3: command not found" in result.output  # the shell names the missing tool
    assert "ran" not in result.output


def test_from_directory_no_shebang_subfolder_spaces_and_names(make_emulator, tmp_path):
    src = tmp_path / "scripts"
    (src / "tools").mkdir(parents=True)
    (src / "01 first step.sh").write_text("arr=(x y z)\n[[ ${#arr[@]} -eq 3 ]] && echo \"bash arrays, $(id -un)\"\n")
    (src / "tools" / "setup env.sh").write_text("#!/bin/bash\ncd \"$(dirname \"$0\")\" && cat 'my data.txt'\n")
    (src / "tools" / "my data.txt").write_text("sibling file read\n")
    (src / "02-it's ok.sh").write_text("#!/bin/bash\necho quote fine\n")
    (src / "notes.md").write_text("not run\n")
    scripts = StartupScripts.from_directory(src, as_root=["tools/setup env.sh"],
                                            run=["01 first step.sh", "tools/setup env.sh", "02-it's ok.sh"])
    result = make_emulator().run(Bundle(scripts, deadline_seconds=20).on_start_script,
                                 after=["test -e '/startup/notes.md' && echo packed"])
    assert not result.failed, result.summary()
    assert marked(result, "01 first step.sh") == ["bash arrays, ec2-user"]
    assert marked(result, "tools/setup env.sh") == ["sibling file read"]
    assert marked(result, "02-it's ok.sh") == ["quote fine"]
    assert summary_rows(result.output) == {
        "01 first step.sh": ("ec2-user", "ok"), "tools/setup env.sh": ("root", "ok"), "02-it's ok.sh": ("ec2-user", "ok"),
    }
    assert result.after_outputs == ["packed\n"]


def test_on_create_bundle_uses_its_own_install_dir(make_emulator, host_snapshot):
    on_start = StartupScripts.from_files({"start.sh": "#!/bin/bash\ncat /etc/created; echo started\n"})
    on_create = StartupScripts.from_files({"create.sh": "#!/bin/bash\necho made >/etc/created\necho created\n"},
                                          as_root=["create.sh"])
    bundle = Bundle(on_start, on_create=on_create, deadline_seconds=20)
    emu = make_emulator()
    first = emu.start(bundle, after=[
        "stat -c '%n %U %a' /startup-on-create /startup",
        "test -e /startup-on-create/create.sh && test ! -e /startup/create.sh && echo separate",
        f"ls {LOGS} | sed 's/-[0-9].*//' | sort",
    ])
    (created,) = first.earlier
    assert created.hook == "on-create" and not created.failed, created.summary()
    assert "log /home/ec2-user/SageMaker/.lifecycle/logs/on-create-" in created.output
    assert marked(created, "create.sh") == ["created"]
    assert summary_rows(created.output, "on-create") == {"create.sh": ("root", "ok")}
    assert first.hook == "on-start" and not first.failed, first.summary()
    assert marked(first, "start.sh") == ["made", "started"]  # on-create ran first, in the same boot
    assert first.after_outputs == ["/startup-on-create root 755\n/startup root 755\n", "separate\n",
                                   "on-create\non-start\n"]
    restart = emu.run(bundle.on_start_script, after=["test -e /startup-on-create && echo there || echo gone"])
    assert restart.after_outputs == ["gone\n"]
    assert summary_rows(restart.output) == {"start.sh": ("ec2-user", "ok")}
    host_snapshot.assert_unchanged()


# -- regressions: bugs the sandbox found in the first runner and decoder --------------------------------


def test_dollar_in_a_file_name_runs_as_ec2_user(make_emulator, make_bundle):
    bundle = make_bundle({"cost$HOME.sh": "#!/bin/bash\necho dollar ok\n"})
    result = make_emulator().run(bundle.on_start_script)
    assert summary_rows(result.output) == {"cost$HOME.sh": ("ec2-user", "ok")}


def test_install_dir_is_safe_whatever_the_hooks_umask(make_emulator, make_bundle):
    bundle = make_bundle({"a.sh": "#!/bin/bash\ntrue\n", "sub/b.sh": "#!/bin/bash\ntrue\n"},
                         run=["a.sh", "sub/b.sh"])
    result = make_emulator(umask=0).run(bundle.on_start_script,
                                        after=["find /startup -perm /022 -printf '%m %P\\n'"])
    assert not result.failed
    assert result.after_outputs == [""]


def test_every_line_a_step_prints_is_logged_before_the_summary(make_emulator, make_bundle):
    lines = 50000
    bundle = make_bundle({"a.sh": f"#!/bin/bash\nseq {lines}\n", "b.sh": f"#!/bin/bash\nseq {lines}\n"},
                         as_root=["b.sh"])
    result = make_emulator().run(bundle.on_start_script, after=[f"sleep 0.5; cat {LOGS}/*.log"])
    assert not result.failed, result.summary()
    for text in (result.output, result.after_outputs[0]):  # CloudWatch, then the persistent log
        assert marked(text, "a.sh") == marked(text, "b.sh") == [str(n) for n in range(1, lines + 1)]
        out = text.splitlines()
        assert out.index("50000") < out.index(next(x for x in out if x.startswith("<== a.sh: ")))
        assert out[-1].startswith("total ")
