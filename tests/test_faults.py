"""The fault catalogue: broken startup scripts (and hostile surroundings) against the real runner.

Each test boots a sandboxed notebook instance (tests/conftest.py) with one kind of fault and
checks what docs/faults.md says the runner does about it: the start still succeeds (the hook
exits 0 in time) and the log says what happened. The ``fixed`` ones failed before the
hardening of issue #10; the others were handled from the start and stay pinned here.
"""

from __future__ import annotations

import re

import pytest

from conftest import marked, summary_rows

from notebook_lifecycle import Features

LOGS = "/home/ec2-user/SageMaker/.lifecycle/logs"
OK = "#!/bin/bash\necho ok-ran\n"


def run(make_emulator, make_bundle, files, *, emu=None, after=(), **options):
    bundle = make_bundle(files, **options)
    result = make_emulator(**(emu or {})).run(bundle.on_start_script, after=list(after))
    assert result.exit_code == 0, result.summary()
    return result


def final(result):
    """{step: (user, status)} from the last summary of the persistent log (the continuation's, if any)."""
    return summary_rows(result.log)


# -- fixed by #10 -------------------------------------------------------------------------------------


def test_root_step_that_kills_its_parent(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-kill.sh": "#!/bin/bash\nkill -9 $PPID\nsleep 1\n", "20-next.sh": OK},
                 as_root=["10-kill.sh", "20-next.sh"])
    assert not result.failed, result.summary()
    assert summary_rows(result.output) == {"10-kill.sh": ("root", "orphaned"), "20-next.sh": ("root", "ok")}
    assert marked(result, "20-next.sh") == ["ok-ran"]


def test_order_holds_after_the_deadline(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {
        "20-install.sh": "#!/bin/bash\nsleep 4\ntouch /tmp/ready\n",
        "30-configure.sh": "#!/bin/bash\ntest -e /tmp/ready && echo configured\n",
    }, as_root=["20-install.sh", "30-configure.sh"], deadline_seconds=2)
    assert not result.failed and result.seconds < 4, result.summary()
    assert summary_rows(result.output) == {"20-install.sh": ("root", "detached")}
    assert final(result) == {"20-install.sh": ("root", "ok"), "30-configure.sh": ("root", "ok")}
    assert "configured" in result.log and result.drained is True


def test_hanging_steps_after_the_deadline_are_detached_one_by_one(make_emulator, make_bundle):
    hang = "#!/bin/bash\nexec sleep 60\n"
    result = run(make_emulator, make_bundle, {"10-hang.sh": hang, "20-hang.sh": hang, "30-last.sh": OK},
                 as_root=["30-last.sh"], deadline_seconds=1, emu={"env": {"NL_STEP_LIMIT": "2"}})
    assert final(result) == {"10-hang.sh": ("ec2-user", "detached"), "20-hang.sh": ("ec2-user", "detached"),
                             "30-last.sh": ("root", "ok")}
    assert "<== 20-hang.sh: detached after " in result.log
    assert re.search(r"\ntotal \d+\.\d{3}s \(deadline 1s, platform limit 300s\): the final summary$", result.log.rstrip())


def test_background_steps_exit_status_is_logged_before_the_final_summary(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-bg.sh": "#!/bin/bash\nsleep 1\necho bg-out\nexit 3\n", "20-fg.sh": OK},
                 background=["10-bg.sh"])
    assert summary_rows(result.output)["10-bg.sh"] == ("ec2-user", "started")
    assert final(result) == {"10-bg.sh": ("ec2-user", "failed(3)"), "20-fg.sh": ("ec2-user", "ok")}
    log = result.log.splitlines()
    assert log.index("[10-bg.sh] bg-out") < max(i for i, line in enumerate(log) if "summary (on-start)" in line)


def test_wall_clock_step_during_the_start(make_emulator, make_bundle):
    # `date` jumps an hour back after its first call, as a first NTP sync can; the runner must not care
    setup = ("mv /usr/bin/date /usr/bin/date.real && printf '%s\\n' '#!/bin/bash' "
             "'n=$(cat /run/dn 2>/dev/null || echo 0); echo $((n + 1)) >/run/dn' "
             "'[ $n = 0 ] && exec date.real \"$@\"' "
             "'exec date.real -d @$(($(date.real +%s) - 3600)) \"$@\"' >/usr/bin/date && chmod 755 /usr/bin/date")
    result = run(make_emulator, make_bundle, {"10-slow.sh": "#!/bin/bash\nsleep 8\n", "20-x.sh": OK},
                 deadline_seconds=2, emu={"setup": setup, "timeout": 30})
    assert not result.failed and result.seconds < 6, result.summary()
    assert summary_rows(result.output) == {"10-slow.sh": ("ec2-user", "detached")}
    assert not re.search(r"(after |\s)-\d+\.\d", result.log)  # no negative durations


def test_output_flood_is_capped_in_the_log_and_cloudwatch(make_emulator, make_bundle):
    flood = "#!/bin/bash\necho first-line\nhead -c 5000000 /dev/zero | tr '\\0' x\necho\necho last-line\n"
    result = run(make_emulator, make_bundle, {"10-flood.sh": flood, "20-next.sh": OK})
    for text in (result.output, result.log):
        assert len(text) < 1_200_000
        out = marked(text, "10-flood.sh")
        assert out[0] == "first-line" and out[-1] == "last-line"
        assert any(re.fullmatch(r"notebook-lifecycle: \d+ bytes of output cut here \(1048576 kept\)", line)
                   for line in out)
    assert summary_rows(result.output)["20-next.sh"] == ("ec2-user", "ok")


def test_background_flood_is_capped_in_lines(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-bg.sh": "#!/bin/bash\nseq 50000\n", "20-fg.sh": OK},
                 background=["10-bg.sh"])
    lines = marked(result.log, "10-bg.sh")
    assert lines[:2] == ["1", "2"] and lines[-1] == "20000" and len(lines) == 20000
    assert "notebook-lifecycle: more output cut" in result.log.splitlines()
    assert final(result)["10-bg.sh"] == ("ec2-user", "ok")


def test_full_volume_keeps_the_cloudwatch_copy(make_emulator, make_bundle):
    lc = "/home/ec2-user/SageMaker/.lifecycle"
    setup = (f"mkdir -p {lc} && mount -t tmpfs -o size=64k,mode=755 full {lc} && mkdir -m 755 {lc}/logs && "
             f"(cat /dev/zero >{lc}/logs/fill 2>/dev/null; true)")
    result = run(make_emulator, make_bundle, {"10-a.sh": OK}, emu={"setup": setup})
    assert re.search(r"; log /tmp/notebook-lifecycle-\w+\.log$", result.output, re.M)
    assert marked(result, "10-a.sh") == ["ok-ran"]
    assert summary_rows(result.output) == {"10-a.sh": ("ec2-user", "ok")}


def test_summary_is_aligned_for_long_and_multibyte_names(make_emulator, make_bundle):
    long = "a-very-long-step-name-that-goes-past-forty-characters.sh"
    result = run(make_emulator, make_bundle, {long: OK, "ünïcödé.sh": OK, "b.sh": OK})
    lines = result.output.splitlines()
    head = lines.index("notebook-lifecycle summary (on-start)")
    table = lines[head + 1:head + 5]
    assert len({line.index(" ec2-user ") if "ec2-user" in line else line.index(" USER ") for line in table}) == 1
    assert len({len(line) for line in table[1:]}) == 1  # characters, not bytes


def test_moved_aside_folders_do_not_pile_up(make_emulator, make_bundle):
    bundle = make_bundle({"a.sh": OK})
    emu = make_emulator()
    plant = "rm -rf /home/ec2-user/SageMaker/.lifecycle && sudo -u ec2-user mkdir /home/ec2-user/SageMaker/.lifecycle"
    for _ in range(3):
        result = emu.run(bundle.on_start_script, after=[plant])
        assert not result.failed
    moved = [p.name for p in emu.volume.iterdir() if ".moved-" in p.name]
    assert len(moved) == 1, moved


def _facts(result) -> str:
    facts = [line for line in result.output.splitlines() if line.startswith("notebook-lifecycle: facts: ")]
    assert len(facts) == 1 and result.output.splitlines()[1] == facts[0]
    return facts[0]


def test_facts_line_says_what_is_missing(make_emulator, make_bundle):
    feature = {"features": Features(stop_ssm_agent=True)}
    facts = _facts(run(make_emulator, make_bundle, {"a.sh": OK}, compression="gzip",
                       emu={"hide": ("python3", "runuser"), "systemd": False}, **feature))
    for part in ("no python3", "no /usr/sbin/runuser", "no systemd", "no crontab", "no jupyter unit",
                 "port 8443 free"):
        assert part in facts, facts
    full = _facts(run(make_emulator, make_bundle, {"a.sh": OK}, **feature))
    assert re.search(r"facts: bash [\d.]+\S*, /usr/bin/python3, /usr/lib\S*/_lzma\S*, /usr/sbin/runuser, "
                     r"/run/systemd/system, ", full)


def test_without_features_the_facts_line_says_what_the_runner_relies_on(make_emulator, make_bundle):
    facts = _facts(run(make_emulator, make_bundle, {"a.sh": OK}))
    assert re.fullmatch(r"notebook-lifecycle: facts: bash [\d.]+\S*, /usr/bin/python3, /usr/lib\S*/_lzma\S*", facts)


def test_decoder_names_what_it_needs(make_emulator, make_bundle):
    bundle = make_bundle({"a.sh": OK})
    result = make_emulator(hide=("python3",)).run(bundle.on_start_script)
    assert result.exit_code == 0
    assert "python3: command not found" in result.output
    assert "notebook-lifecycle: cannot unpack, needs python3 lzma" in result.output


@pytest.mark.parametrize("command", ["reboot", "shutdown -r now", "init 6", "systemctl reboot", "telinit 0",
                                     "poweroff"])
def test_reboot_in_a_script_fails_the_verdict(make_emulator, make_bundle, command):
    result = run(make_emulator, make_bundle, {"10-reboot.sh": f"#!/bin/bash\n{command}\n"}, as_root=["10-reboot.sh"])
    assert result.failed and "a real instance would restart in the middle of the hook" in result.reason
    assert str(result.reboot) == command


def test_bin_sh_scripts_with_bash_syntax(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"a.sh": "#!/bin/sh\nx=(1 2 3)\n[[ ${#x[@]} == 3 ]] && echo bashism-ok\n"},
                 executable=["a.sh"])
    assert marked(result, "a.sh") == ["bashism-ok"]


# -- handled from the start ----------------------------------------------------------------------------


def test_failing_step(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-fail.sh": "#!/bin/bash\nset -e\nfalse\n", "20-next.sh": OK})
    assert summary_rows(result.output) == {"10-fail.sh": ("ec2-user", "failed(1)"), "20-next.sh": ("ec2-user", "ok")}


def test_stdin_reader(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-read.sh": "#!/bin/bash\ncat\nread -r x || echo eof\n", "20-n.sh": OK})
    assert marked(result, "10-read.sh") == ["eof"]
    assert summary_rows(result.output)["20-n.sh"] == ("ec2-user", "ok")


def test_stray_background_child_keeps_no_output_open(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-stray.sh": "#!/bin/bash\nsleep 30 &\necho left\n", "20-n.sh": OK},
                 as_root=["10-stray.sh"], emu={"drain": 0})
    assert not result.failed and result.seconds < 5, result.summary()
    assert result.output_held_by == []
    assert summary_rows(result.output) == {"10-stray.sh": ("root", "ok"), "20-n.sh": ("ec2-user", "ok")}


def test_step_that_kills_its_process_group(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-k.sh": "#!/bin/bash\nkill -9 0\n", "20-n.sh": OK},
                 as_root=["10-k.sh"])
    assert not result.failed
    assert summary_rows(result.output)["20-n.sh"] == ("ec2-user", "ok")


def test_hanging_step_at_the_deadline(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-hang.sh": "#!/bin/bash\nexec sleep 60\n"}, deadline_seconds=2,
                 emu={"env": {"NL_STEP_LIMIT": "1"}})
    assert not result.failed and result.seconds < 5
    assert summary_rows(result.output) == {"10-hang.sh": ("ec2-user", "detached")}


def test_symlink_planted_for_the_log_folder(make_emulator, make_bundle):
    emu = make_emulator()
    (emu.volume / ".lifecycle").symlink_to("/etc")
    result = emu.run(make_bundle({"a.sh": OK}).on_start_script, after=["ls /etc | grep -c '^on-start-' || true",
                                                                       "stat -c '%U %a %F' /home/ec2-user/SageMaker/.lifecycle"])
    assert not result.failed
    assert result.after_outputs == ["0\n", "root 755 directory\n"]
    assert [p.name for p in emu.volume.iterdir() if p.is_symlink()] == [".lifecycle.moved-" + p.name.rsplit("-", 1)[1]
                                                                         for p in emu.volume.iterdir() if p.is_symlink()]


def test_hostile_file_names(make_emulator, make_bundle):
    names = ["$(touch pwned).sh", "a;b`id`.sh", "it's \"quoted\".sh", "-n.sh", "tab\\t.sh"]
    names = [n.replace("\\t", "_") for n in names]
    result = run(make_emulator, make_bundle, {n: OK for n in names}, after=["ls / /root | grep -c pwned || true"])
    assert summary_rows(result.output) == {n: ("ec2-user", "ok") for n in names}
    assert result.after_outputs == ["0\n"]


def test_step_that_removes_the_install_dir(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-rm.sh": "#!/bin/bash\nrm -rf /startup\n", "20-n.sh": OK},
                 as_root=["10-rm.sh"])
    assert not result.failed
    rows = summary_rows(result.output)
    # the runner reads its plan through an open file: it goes on; the user step's file is gone
    assert rows == {"10-rm.sh": ("root", "ok"), "20-n.sh": ("ec2-user", "failed(127)")}


def test_step_that_closes_its_output(make_emulator, make_bundle):
    result = run(make_emulator, make_bundle, {"10-c.sh": "#!/bin/bash\nexec >&- 2>&-\necho gone\n", "20-n.sh": OK})
    assert summary_rows(result.output) == {"10-c.sh": ("ec2-user", "failed(1)"), "20-n.sh": ("ec2-user", "ok")}
