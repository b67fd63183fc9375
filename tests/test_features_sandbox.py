"""Every feature flag, for real: the generated on-start runs in the notebook-instance emulator.

Each test boots the same instance (state folder) at least twice, so what survives a
restart on the volume is checked together with what the fresh root volume gets
again. "Runs twice in one boot" is checked by re-running the hook from an ``after``
snippet (``bash /tmp/OnStart_*``, the file SageMaker would run). Profiles: al2023
(systemd, no cron) and al2 (systemd and cron); the scheduler tests pick systemd, cron
and neither explicitly.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest

from conftest import marked, summary_rows
from servers import free_port, moto_server
from notebook_lifecycle import Bundle, BundleError, StartupScripts
from notebook_lifecycle.features import Autostop, Binary, Features

HOME = "/home/ec2-user"
VOL = f"{HOME}/SageMaker"
RERUN = "bash /tmp/OnStart_* >/dev/null 2>&1; echo rerun=$?"
PLATFORMS = ["al2023", "al2"]


def bundle_of(features: Features, scripts: StartupScripts | None = None) -> Bundle:
    return Bundle(scripts, features=features, deadline_seconds=60)


def boot(emu, bundle: Bundle, after=()):
    result = emu.run(bundle.on_start_script, after=list(after))
    assert not result.failed, result.summary()
    rows = summary_rows(result.output)
    assert rows and all(status == "ok" for _, status in rows.values()), result.output
    assert all(code == 0 for code in result.after_codes), "\n---\n".join(result.after_outputs) + str(result.after_codes)
    return result


def as_login(var: str) -> str:
    """A login shell of ec2-user (as `su -l`, how the platform starts Jupyter) printing $var exactly."""
    return f"sudo -u ec2-user -H bash -lc 'printf %s \"${var}\"'"


# -- environment and bin_dir ----------------------------------------------------------------------
NASTY = {
    "NL_QUOTES": "a'b\"c$(touch /tmp/x)",
    "NL_NEWLINE": "line one\nline two",
    "NL_BACKTICK": "`touch /tmp/y` and ${HOME} and $PATH and \\n and \\",
    "NL_EMPTY": "",
    "NL_SPACES": "  leading and trailing  ",
    "NL_UNICODE": "héllo ☃ — ünïcode",
    "NL_TRAILING_NL": "ends with newline\n",
    "NL_SEMICOLON": "x; touch /tmp/z; #",
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_environment_arrives_literally_and_runs_nothing(make_emulator, platform):
    emu = make_emulator(platform=platform)
    bundle = bundle_of(Features(environment=NASTY))
    names = sorted(NASTY)
    after = [as_login(n) for n in names]
    after += [f"sudo -i -u ec2-user printenv {n}" for n in names]
    after += [f"su -l ec2-user -c 'printf %s \"${names[0]}\"'",
              "ls /tmp/x /tmp/y /tmp/z 2>&1 | sort; true",
              "stat -c '%U:%G %a' /etc/profile.d/zz-notebook-lifecycle.sh",
              "md5sum </etc/profile.d/zz-notebook-lifecycle.sh",
              RERUN,
              "md5sum </etc/profile.d/zz-notebook-lifecycle.sh; ls -a /etc/profile.d | grep -c notebook-lifecycle"]
    digests = set()
    for _ in range(2):  # a restart: the root volume is fresh, the profile is written again
        result = boot(emu, bundle, after)
        out = result.after_outputs
        n = len(names)
        assert dict(zip(names, out[:n])) == {k: NASTY[k] for k in names}
        assert dict(zip(names, out[n:2 * n])) == {k: NASTY[k] + "\n" for k in names}
        assert out[2 * n] == NASTY[names[0]]
        assert "No such file or directory" in out[2 * n + 1] and out[2 * n + 1].count("cannot access") == 3
        assert out[2 * n + 2] == "root:root 644\n"
        assert out[2 * n + 4] == "rerun=0\n"
        assert out[2 * n + 5] == out[2 * n + 3] + "1\n"  # same file, still one, after running again
        digests.add(out[2 * n + 3])
        assert marked(result, "feature:environment")[0].startswith("wrote /etc/profile.d/zz-notebook-lifecycle.sh (8 exports)")
        # no bin dir asked for: none made
        assert not (emu.volume / ".bin").exists()
    assert len(digests) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bin_dir_is_ec2_users_and_on_path_everywhere(make_emulator, platform):
    emu = make_emulator(platform=platform)
    bundle = bundle_of(Features(bin_dir=True, environment={"NL_X": "1"}))
    after = [
        "stat -c '%U:%G %F' " + VOL + "/.bin",
        "sudo -u ec2-user -H bash -lc 'echo \"$PATH\"'",
        # a login shell inside a login shell reads the profile twice: still one entry
        "sudo -u ec2-user -H bash -lc 'bash -lc \"echo \\$PATH\"'",
        "sudo -i -u ec2-user bash -c 'command -v nl-hello && nl-hello'",
        "su -l ec2-user -c nl-hello",
    ]
    result = boot(emu, bundle, after[:3])
    assert result.after_outputs[0] == "ec2-user:ec2-user directory\n"
    for path in result.after_outputs[1:3]:
        assert path.split(":")[0] == f"{VOL}/.bin" and path.count(f"{VOL}/.bin") == 1, path
    # a tool put there persists and is found on the next start
    tool = emu.volume / ".bin" / "nl-hello"
    tool.write_text("#!/bin/sh\necho hello from the bin dir\n")
    tool.chmod(0o755)
    os.chown(tool, emu.ec2_uid, emu.ec2_uid)
    result = boot(emu, bundle, after)
    assert result.after_outputs[3] == f"{VOL}/.bin/nl-hello\nhello from the bin dir\n"
    assert result.after_outputs[4] == "hello from the bin dir\n"
    assert [str(c) for c in result.calls_to("systemctl")][-1] == "systemctl --no-block try-restart jupyter-server.service"


def test_bin_dir_made_by_root_is_handed_over_and_a_planted_link_is_not_followed(make_emulator):
    emu = make_emulator()
    bundle = bundle_of(Features(bin_dir=True))
    (emu.volume / ".bin").mkdir(parents=True)  # made by root (say, by an older version)
    result = boot(emu, bundle, ["stat -c '%U' " + VOL + "/.bin"])
    assert result.after_outputs == ["ec2-user\n"]
    assert any(line.startswith(f"changed ownership of '{VOL}/.bin'") for line in marked(result, "feature:environment"))
    # ec2-user replaces the folder with a link to /etc: root must not chown /etc
    (emu.volume / ".bin").rmdir()
    (emu.volume / ".bin").symlink_to("/etc")
    os.lchown(emu.volume / ".bin", emu.ec2_uid, emu.ec2_uid)
    result = boot(emu, bundle, ["stat -c '%U:%G' /etc /etc/passwd", "stat -c '%U %F' " + VOL + "/.bin"])
    assert result.after_outputs == ["root:root\nroot:root\n", "ec2-user symbolic link\n"]


ROOT_PATH_WRITABLE = (  # each folder on the PATH of a root login shell that ec2-user could write
    "for d in $(bash -lc 'echo \"$PATH\"' | tr : ' '); do sudo -u ec2-user test -w \"$d\" && echo \"writable: $d\"; "
    "done; echo checked")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bin_dir_never_reaches_roots_path(make_emulator, platform):
    emu = make_emulator(platform=platform)
    bundle = bundle_of(Features(bin_dir=True, environment={"NL_X": "1"}))
    boot(emu, bundle)
    # ec2-user plants an `ls` in the folder it owns, which is on its own PATH
    planted = emu.volume / ".bin" / "ls"
    planted.write_text("#!/bin/sh\nid -un >>/tmp/planted-ls-ran-as\nexec /bin/ls \"$@\"\n")
    planted.chmod(0o755)
    os.chown(planted, emu.ec2_uid, emu.ec2_uid)
    result = boot(emu, bundle, [
        "bash -lc 'echo \"$PATH\"'",
        "su -l root -c 'echo \"$PATH\"'",
        ROOT_PATH_WRITABLE,
        "bash -lc 'ls / >/dev/null; echo \"$NL_X\"'; sudo -i ls / >/dev/null; su -l root -c 'ls / >/dev/null'; "
        "cat /tmp/planted-ls-ran-as 2>/dev/null; echo done",
        "sudo -u ec2-user -H bash -lc 'command -v ls; ls / >/dev/null'; cat /tmp/planted-ls-ran-as",
    ])
    login, su, writable, root_ran, user_ran = result.after_outputs
    for path in (login, su):
        assert ".bin" not in path and "/home/ec2-user" not in path, path
    assert writable == "checked\n"
    assert root_ran == "1\ndone\n"  # root's login shells ran the system ls, and got the environment
    assert user_ran == f"{VOL}/.bin/ls\nec2-user\n"  # the plant is real: ec2-user's own shell finds it


# -- persist_dirs ---------------------------------------------------------------------------------
IMAGE_HOME = (  # what a fresh image puts in ec2-user's home at every boot (setup runs before the hook)
    "install -d -o ec2-user -g ec2-user -m 755 /home/ec2-user/.config/app /home/ec2-user/.ssh && "
    "echo image-default >/home/ec2-user/.config/app/settings && echo image >/home/ec2-user/.config/from-image && "
    "chown -R ec2-user:ec2-user /home/ec2-user/.config"
)
FIRST_KEYS = (
    " && cd /home/ec2-user/.ssh && echo PRIVATE >id_ed25519 && echo PUBLIC >id_ed25519.pub && echo KEYS >authorized_keys"
    " && echo 'Host *' >config && chmod 644 id_ed25519 config && chown ec2-user:ec2-user * "
)
LIST = f"cd {VOL}/.persist && find . -printf '%p %y %u %m\\n' | sort"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_persist_dirs_survive_restarts_with_safe_modes(make_emulator, tmp_path, platform):
    state = tmp_path / "instance"
    bundle = bundle_of(Features(persist_dirs=(".config", ".ssh", ".local/share/nl")))
    after = [
        f"for d in .config .ssh .local/share/nl; do printf '%s -> %s %s\\n' $d \"$(readlink {HOME}/$d)\" "
        f"\"$(stat -c %U {HOME}/$d)\"; done",
        LIST,
        f"cat {HOME}/.config/app/settings",
        RERUN,
        LIST,
    ]
    first = make_emulator(platform=platform, state_dir=state, setup=IMAGE_HOME + FIRST_KEYS)
    result = boot(first, bundle, after)
    links, listing, settings, rerun, listing2 = result.after_outputs
    assert links == "".join(f"{d} -> {VOL}/.persist/{d} ec2-user\n" for d in (".config", ".ssh", ".local/share/nl"))
    rows = listing.splitlines()
    assert ". d ec2-user 700" in rows
    assert "./.ssh d ec2-user 700" in rows
    assert "./.ssh/id_ed25519 f ec2-user 600" in rows and "./.ssh/config f ec2-user 600" in rows
    assert "./.ssh/authorized_keys f ec2-user 600" in rows and "./.ssh/id_ed25519.pub f ec2-user 644" in rows
    assert "./.config/app/settings f ec2-user 644" in rows and "./.local/share/nl d ec2-user 755" in rows
    assert all(" ec2-user " in row for row in rows)
    assert settings == "image-default\n" and rerun == "rerun=0\n" and listing2 == listing

    # The user changes a setting; then restarts: the fresh image brings its defaults again.
    (state / "SageMaker/.persist/.config/app/settings").write_text("changed by the user\n")
    (state / "SageMaker/.persist/.config/from-image").unlink()
    second = make_emulator(platform=platform, state_dir=state, setup=IMAGE_HOME)
    for _ in range(2):
        result = boot(second, bundle, after)
        links2, listing3, settings2, rerun2, listing4 = result.after_outputs
        assert links2 == links and rerun2 == "rerun=0\n"
        assert settings2 == "changed by the user\n"  # the persisted copy wins
        assert "./.config/from-image f ec2-user 644" in listing3  # new names from the image are added
        assert listing4 == listing3
        assert [r for r in listing3.splitlines() if ".ssh" in r] == [r for r in rows if ".ssh" in r]


def test_persist_dirs_never_act_as_root_on_planted_links(make_emulator):
    # no binds: a bind under /root would make /root passable (a+x) inside, and /root's mode is checked here
    emu = make_emulator(binds=())
    bundle = bundle_of(Features(persist_dirs=(".ssh",)))
    # ec2-user points the persisted .ssh at /root: the chmod runs as ec2-user and cannot touch it
    (emu.volume / ".persist").mkdir(parents=True)
    (emu.volume / ".persist" / ".ssh").symlink_to("/root")
    for p in (emu.volume / ".persist", emu.volume / ".persist" / ".ssh"):
        os.lchown(p, emu.ec2_uid, emu.ec2_uid)
    result = boot(emu, bundle, ["stat -c '%U %a' /root", f"readlink {HOME}/.ssh"])
    assert result.after_outputs == [f"root {oct(os.stat('/root').st_mode & 0o777)[2:]}\n", f"{VOL}/.persist/.ssh\n"]
    assert summary_rows(result.output)["feature:persist-dirs"] == ("ec2-user", "ok")


def test_persist_dirs_replace_a_link_elsewhere_and_leave_files_alone(make_emulator):
    setup = ("install -d -o ec2-user -g ec2-user /tmp/elsewhere && ln -s /tmp/elsewhere /home/ec2-user/.config && "
             "echo file >/home/ec2-user/.ssh && install -d -o ec2-user -g ec2-user -m 700 " + VOL + "/.persist && "
             "echo file >" + VOL + "/.persist/.cache && chown -h ec2-user:ec2-user /home/ec2-user/.config "
             "/home/ec2-user/.ssh " + VOL + "/.persist/.cache")
    emu = make_emulator(setup=setup)
    bundle = bundle_of(Features(persist_dirs=(".config", ".ssh", ".cache")))
    result = boot(emu, bundle, [f"readlink {HOME}/.config; cat {HOME}/.ssh; test -e {HOME}/.cache || echo no-cache",
                                RERUN, f"readlink {HOME}/.config; cat {HOME}/.ssh"])
    assert result.after_outputs == [f"{VOL}/.persist/.config\nfile\nno-cache\n", "rerun=0\n",
                                    f"{VOL}/.persist/.config\nfile\n"]
    log = marked(result, "feature:persist-dirs")
    assert f"{HOME}/.config -> {VOL}/.persist/.config" in log
    assert f"{HOME}/.ssh or {VOL}/.persist/.ssh is not a folder; left alone" in log
    assert f"{HOME}/.cache or {VOL}/.persist/.cache is not a folder; left alone" in log


# -- persistent_conda -----------------------------------------------------------------------------
def fake_conda_env(emu, name: str, with_ipykernel: bool) -> Path:
    """A venv on the volume, standing in for `conda create -n NAME` (ipykernel from this project's venv)."""
    env = emu.volume / ".conda" / "envs" / name
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    (env / "conda-meta").mkdir()
    if with_ipykernel:
        ver = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
        site = Path(sys.prefix) / "lib" / ver / "site-packages"
        assert (site / "ipykernel").is_dir(), f"no ipykernel in {site}"
        (env / "lib" / ver / "site-packages" / "project-venv.pth").write_text(f"{site}\n")
    subprocess.run(["chown", "-R", f"{emu.ec2_uid}:{emu.ec2_uid}", str(emu.volume / ".conda")], check=True)
    return env


CONDARC = f"{HOME}/.condarc"
KERNELS = f"{HOME}/.local/share/jupyter/kernels"


@pytest.mark.parametrize("platform, image_condarc", [
    ("al2023", ""),
    ("al2", "channels:\n  - defaults\nenvs_dirs:\n  - /home/ec2-user/anaconda3/envs\nauto_activate_base: false\n"),
    ("al2023", "channels: [defaults]\nauto_activate_base: false"),  # no envs_dirs, no newline at the end
])
def test_persistent_conda_registers_kernels_and_keeps_condarc_tidy(make_emulator, platform, image_condarc):
    if not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("needs /usr/bin/python3 to fake a conda environment")
    setup = ""
    if image_condarc:
        setup = (f"printf %s {json.dumps(image_condarc)} >{CONDARC} && chown ec2-user:ec2-user {CONDARC}")
    emu = make_emulator(platform=platform, setup=setup)
    # first start: no environments yet
    bundle = bundle_of(Features(persistent_conda=True))
    result = boot(emu, bundle, [f"cat {CONDARC}", f"stat -c '%U %F' {VOL}/.conda/envs"])
    condarc, owner = result.after_outputs
    assert owner == "ec2-user directory\n"
    assert condarc.count(f"- {VOL}/.conda/envs\n") == 1
    lines = condarc.splitlines()
    assert lines[lines.index("envs_dirs:") + 1] == f"  - {VOL}/.conda/envs"  # first: new envs land there
    if image_condarc:
        assert "channels:" in condarc and "auto_activate_base: false" in condarc
        assert lines.count("  - /home/ec2-user/anaconda3/envs") == 1
    else:
        assert condarc == f"envs_dirs:\n  - {VOL}/.conda/envs\n  - {HOME}/anaconda3/envs\n"

    fake_conda_env(emu, "Data-Sci", with_ipykernel=True)
    fake_conda_env(emu, "bare", with_ipykernel=False)
    kernelspecs = (f"sudo -u ec2-user -H {VOL}/.conda/envs/Data-Sci/bin/python -c "
                   "'from jupyter_client.kernelspec import KernelSpecManager as M; "
                   "import json; print(json.dumps(M().get_all_specs(), sort_keys=True))'")
    after = [f"cat {CONDARC}", f"cat {KERNELS}/conda-env-data-sci/kernel.json", f"ls {KERNELS}", kernelspecs,
             RERUN, f"cat {CONDARC}; ls {KERNELS}"]
    for _ in range(2):  # two more restarts with the environments in place
        result = boot(emu, bundle, after)
        condarc2, kernel, listing, specs, rerun, again = result.after_outputs
        assert condarc2 == condarc  # the image's file edited the same way, no line added twice
        spec = json.loads(kernel)
        assert spec["display_name"] == "Data-Sci (conda, persistent)"
        assert spec["argv"][0] == f"{VOL}/.conda/envs/Data-Sci/bin/python"
        assert listing == "conda-env-data-sci\n"  # the environment without ipykernel got no kernel
        assert "conda-env-data-sci" in json.loads(specs)
        assert rerun == "rerun=0\n" and again == condarc + listing
        log = marked(result, "feature:persistent-conda")
        assert "Data-Sci: kernel conda-env-data-sci" in log
        assert any(line.startswith("bare: no ipykernel; skipped") for line in log)
        assert log[-1] == f"2 environment(s) in {VOL}/.conda/envs"


# -- stop_ssm_agent -------------------------------------------------------------------------------
SSM = "amazon-ssm-agent.service"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_stop_ssm_agent_with_systemd(make_emulator, platform):
    emu = make_emulator(platform=platform)
    bundle = bundle_of(Features(stop_ssm_agent=True))
    for _ in range(2):  # at every start, since the root volume (and the unit state) is reset
        result = boot(emu, bundle, [f"systemctl is-active {SSM}; systemctl is-enabled {SSM}; true", RERUN])
        calls = [str(c) for c in result.calls_to("systemctl")]
        assert calls == [f"systemctl is-active --quiet {SSM}", f"systemctl stop {SSM}",
                         f"systemctl is-enabled --quiet {SSM}", f"systemctl disable {SSM}"]
        assert result.after_outputs == ["inactive\ndisabled\n", "rerun=0\n"]
        assert marked(result, "feature:stop-ssm-agent") == [f"stopped {SSM}", f"disabled {SSM}"]


def test_stop_ssm_agent_absent_or_without_systemd(make_emulator):
    bundle = bundle_of(Features(stop_ssm_agent=True))
    absent = boot(make_emulator(units=("jupyter-server",)), bundle)
    assert [str(c) for c in absent.calls_to("systemctl")] == [
        f"systemctl is-active --quiet {SSM}", f"systemctl is-enabled --quiet {SSM}"]
    assert marked(absent, "feature:stop-ssm-agent") == [f"{SSM} is not running"]

    # without systemd (upstart's initctl present or not: AL1, upstart's only user, can no longer start)
    # nothing is called, and the log says so
    for upstart in (False, True):
        nothing = boot(make_emulator(platform="al2", systemd=False, cron=False, upstart=upstart), bundle)
        assert nothing.calls == []
        assert marked(nothing, "feature:stop-ssm-agent") == [f"no systemd: {SSM} not stopped"]


# -- binaries -------------------------------------------------------------------------------------
class Recorder(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet; the paths are recorded instead
        pass

    def do_GET(self):
        self.server.paths.append(self.path)
        super().do_GET()


@pytest.fixture
def web(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Recorder, directory=str(root)))
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", server.paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("platform, hide", [("al2023", ()), ("al2", ("curl",))])
def test_binaries_download_check_and_persist(make_emulator, web, platform, hide):
    root, url, paths = web
    tool = b"#!/bin/sh\necho tool works\n"
    (root / "tool").write_bytes(tool)
    (root / "other").write_bytes(b"#!/bin/sh\necho other\n")
    good = hashlib.sha256(tool).hexdigest()
    other = hashlib.sha256(b"#!/bin/sh\necho other\n").hexdigest()
    bundle = bundle_of(Features(binaries=(
        Binary("good", f"{url}/tool", good.upper()),
        Binary("other", f"{url}/other", other),
        Binary("badsum", f"{url}/tool", "0" * 64),
        Binary("missing", f"{url}/no-such-file", good),
        Binary("unreachable", f"http://127.0.0.1:{free_port()}/x", good),
    )))
    emu = make_emulator(platform=platform, hide=hide, forward=[int(url.rsplit(':', 1)[1])])
    after = [f"cd {VOL}/.bin && find . -printf '%p %u %m\\n' | sort", "sudo -u ec2-user -H bash -lc good"]
    result = boot(emu, bundle, after)
    assert result.after_outputs == [
        ". ec2-user 755\n./good ec2-user 755\n./other ec2-user 755\n", "tool works\n"]
    log = marked(result, "feature:binaries")
    assert ("no curl: python3 downloads" in log) == ("curl" in hide)  # the fallback says so
    assert f"good: installed from {url}/tool ({len(tool)} bytes)" in log
    assert any(line.startswith(f"ERROR badsum: sha256 mismatch (expected {'0' * 64}, got {good})")
               for line in log)
    assert f"ERROR missing: download from {url}/no-such-file failed; not installed" in log
    assert any(line.startswith("ERROR unreachable: download") for line in log)
    assert sorted(paths) == ["/no-such-file", "/other", "/tool", "/tool"]

    paths.clear()
    result = boot(emu, bundle, after + [RERUN])
    assert result.after_outputs[:2] == [
        ". ec2-user 755\n./good ec2-user 755\n./other ec2-user 755\n", "tool works\n"]
    assert "good: present; not downloaded" in marked(result, "feature:binaries")
    # present ones are not fetched again, missing ones are tried again (twice: start and re-run)
    assert sorted(paths) == ["/no-such-file"] * 2 + ["/tool"] * 2


BROKEN_SHA256SUM = "for f in $(type -ap sha256sum); do printf '#!/bin/sh\\necho broken >&2\\nexit 1\\n' >\"$f\"; done"


@pytest.mark.parametrize("how", ["missing", "failing", "silent"])
def test_binaries_fail_closed_when_the_sha256_cannot_be_checked(make_emulator, web, how):
    root, url, paths = web
    tool = b"#!/bin/sh\necho tool works\n"
    (root / "tool").write_bytes(tool)
    bundle = bundle_of(Features(binaries=(Binary("good", f"{url}/tool", hashlib.sha256(tool).hexdigest()),)))
    emu = make_emulator(hide=("sha256sum",) if how == "missing" else (),
                        stubs=("sha256sum",) if how == "silent" else (),  # succeeds and prints nothing
                        setup=BROKEN_SHA256SUM if how == "failing" else "",
                        forward=[int(url.rsplit(':', 1)[1])])
    result = boot(emu, bundle, [f"ls -A {VOL}/.bin; echo end"])
    assert paths == ["/tool"]  # it was downloaded...
    assert result.after_outputs == ["end\n"]  # ...and not installed, not even as a temporary file
    log = marked(result, "feature:binaries")
    if how == "silent":
        assert any(line.startswith("ERROR good: sha256 mismatch") for line in log), log
    else:
        assert any(line.startswith("ERROR good: cannot check the sha256 (") for line in log), log
        assert any(("broken" if how == "failing" else "sha256sum") in line for line in log), log


def test_binaries_without_a_sha256_install_over_https_only(make_emulator, web):
    """http:// without sha256 never reaches an instance (a synth-time error); the '-' (no sum) path
    of binaries.sh, used by https:// entries, is run here over the local http server by hand."""
    root, url, _ = web
    data = b"#!/bin/sh\necho other\n"
    (root / "other").write_bytes(data)
    with pytest.raises(BundleError, match=r"binaries\[other\]\.url: .* is plain http://"):
        Binary("other", f"{url}/other")
    bundle = bundle_of(Features(binaries=(Binary("other", f"{url}/other", hashlib.sha256(data).hexdigest()),)))
    emu = make_emulator(forward=[int(url.rsplit(':', 1)[1])])
    tsv = "/startup/.notebook-lifecycle/features/binaries.tsv"
    result = boot(emu, bundle, [
        f"rm {VOL}/.bin/other; printf 'other\\t{url}/other\\t-\\n' >{tsv}; "
        f"sudo -u ec2-user bash /startup/.notebook-lifecycle/features/binaries.sh; sudo -u ec2-user -H bash -lc other"])
    assert result.after_outputs == [f"other: installed from {url}/other ({len(data)} bytes)\nother\n"]


# -- autostop scheduling --------------------------------------------------------------------------
AUTOSTOP_RUN = "/usr/bin/python3 /startup/.notebook-lifecycle/features/autostop.py --quiet"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_autostop_systemd_timer(make_emulator, platform):
    emu = make_emulator(platform=platform)
    bundle = bundle_of(Features(autostop=Autostop(idle_minutes=45, ignore_connections=True)))
    unit = "/etc/systemd/system/notebook-lifecycle-autostop"
    after = [
        f"cat {unit}.service {unit}.timer; stat -c '%U %a' {unit}.service {unit}.timer",
        "cat /var/lib/notebook-lifecycle/autostop.json",
        # the first check, run by the step itself: it started the idle clock and logged what it found
        f"tail -qn 1 /var/log/jupyter.log {VOL}/.lifecycle/logs/autostop.log",
        RERUN,
        f"md5sum {unit}.service {unit}.timer; cat /var/lib/notebook-lifecycle/autostop.json",
        # what the timer runs, run now: Jupyter is not there, so it says so and does not stop
        f"$(sed -n 's/^ExecStart=//p' {unit}.service); tail -n 1 /var/log/jupyter.log; "
        f"tail -n 1 {VOL}/.lifecycle/logs/autostop.log",
        "test -e /etc/cron.d/notebook-lifecycle-autostop && echo cron || echo no-cron",
    ]
    for _ in range(2):
        result = boot(emu, bundle, after)
        units, state, first, rerun, digest, ran, cron = result.after_outputs
        assert f"ExecStart={AUTOSTOP_RUN} --idle-seconds 2700 --ignore-connections\n" in units
        assert [line.split(" autostop: ")[1] for line in first.splitlines()] == 2 * [
            first.splitlines()[0].split(" autostop: ")[1]] and "cannot read https://localhost:8443/api/kernels" in first
        assert first.endswith("; not stopping\n")
        assert "OnCalendar=*:0/5\n" in units and "WantedBy=timers.target\n" in units
        assert units.endswith("root 644\nroot 644\n")
        assert json.loads(state)["last_activity"].endswith("Z")
        assert rerun == "rerun=0\n"
        s1, t1 = (f"{unit}.service", f"{unit}.timer")
        assert digest.split("\n")[2] == state.strip()  # the idle clock was not reset by running again
        assert s1 in digest and t1 in digest
        assert ran.count("cannot read https://localhost:8443/api/kernels") == 2 and ran.count("not stopping") == 2
        assert cron == "no-cron\n"
        assert [str(c) for c in result.calls_to("systemctl")] == [
            "systemctl daemon-reload", "systemctl enable notebook-lifecycle-autostop.timer",
            "systemctl restart notebook-lifecycle-autostop.timer"]


def test_autostop_cron_entry(make_emulator):
    # an AL2-like machine where cron runs and systemd does not (setup starts the real cron daemon
    # unless the emulator already runs one)
    emu = make_emulator(platform="al2", systemd=False, cron=True, setup="pgrep -x cron >/dev/null || cron")
    bundle = bundle_of(Features(autostop=Autostop(idle_minutes=60)))
    tab = "/etc/cron.d/notebook-lifecycle-autostop"
    after = [f"cat {tab}; stat -c '%U %a' {tab}; ls -a /etc/cron.d | grep -c autostop",
             RERUN,
             f"md5sum <{tab}; ls -a /etc/cron.d | grep -c autostop",
             # what cron runs, run now, as cron would (sh, no profile): logs and does not stop
             f"sh -c \"$(sed 's/^[^r]*root //' {tab})\"; tail -n 1 {VOL}/.lifecycle/logs/autostop.log"]
    digests = set()
    for _ in range(2):
        result = boot(emu, bundle, after)
        entry, rerun, digest, ran = result.after_outputs
        assert entry == (f"*/5 * * * * root {AUTOSTOP_RUN} --idle-seconds 3600 "
                         ">/dev/null 2>>/var/log/jupyter.log\nroot 644\n1\n")
        assert rerun == "rerun=0\n" and digest.endswith("1\n")
        digests.add(digest)
        assert "cannot read https://localhost:8443/api/kernels" in ran and ran.rstrip().endswith("not stopping")
        assert result.calls == []
    assert len(digests) == 1
    assert ("no systemd, cron runs: /etc/cron.d/notebook-lifecycle-autostop: every 5 minutes, stopping after 60 idle "
            "minutes") in marked(result, "feature:autostop")


def test_autostop_detached_loop_has_no_duplicates(make_emulator):
    emu = make_emulator(systemd=False, cron=False, linger=0.5)
    bundle = bundle_of(Features(autostop=Autostop(idle_minutes=5)))
    checked = "grep -c 'cannot read https://localhost:8443/api/kernels.*not stopping' /var/log/jupyter.log"

    def count(k: int) -> str:
        # each loop logs its first check at once: wait (bounded) until the k-th loop has, so that no loop is
        # replaced before it checked, however loaded the machine; then count the loops and name the live one
        return (f"for _ in $(seq 100); do [ \"$({checked} 2>/dev/null)\" -ge {k} ] 2>/dev/null && break; sleep 0.2; done; "
                "pgrep -f '[a]utostop-loop' | wc -l; cat /run/notebook-lifecycle-autostop.pid")

    after = [count(1), RERUN, count(2), RERUN, count(3),
             "ls /etc/cron.d /etc/systemd/system/notebook-lifecycle-autostop.timer; true", checked]
    for _ in range(2):
        result = boot(emu, bundle, after)
        first, _, second, _, third, other, checks = result.after_outputs
        pids = []
        for out in (first, second, third):
            n, pid = out.split()
            assert n == "1", out
            pids.append(pid)
        assert len(set(pids)) == 3  # each run replaced the previous loop
        assert "No such file or directory" in other
        assert any("a detached loop" in line for line in marked(result, "feature:autostop"))
        # each loop checked at once and logged it (Jupyter is absent here)
        assert int(checks) >= 3
        assert result.output_held_by == []


def test_autostop_falls_back_to_the_loop_when_no_cron_daemon_runs(make_emulator):
    # cron installed, its daemon not running (stopped by its pid if the emulator started one)
    emu = make_emulator(platform="al2", systemd=False, cron=True, linger=0.5,
                        setup="if [ -s /run/crond.pid ]; then kill \"$(cat /run/crond.pid)\"; sleep 0.2; fi")
    result = boot(emu, bundle_of(Features(autostop=Autostop())),
                  ["ls /etc/cron.d | grep -c autostop; pgrep -f '[a]utostop-loop' | wc -l"])
    assert result.after_outputs == ["0\n1\n"]


# -- everything together ------------------------------------------------------------------------
SNAPSHOT = [
    f"cd {HOME} && find . -path ./SageMaker/.lifecycle -prune -o -path ./SageMaker/lost+found -prune -o "
    "-printf '%p %y %u %m %l\\n' | sort",
    "md5sum /etc/profile.d/zz-notebook-lifecycle.sh /etc/systemd/system/notebook-lifecycle-autostop.* "
    f"{HOME}/.condarc",
    "cat /var/lib/notebook-lifecycle/autostop.json",
]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_all_features_together_are_idempotent(make_emulator, web, platform):
    root, url, _ = web
    (root / "tool").write_bytes(b"#!/bin/sh\necho ok\n")
    sha = hashlib.sha256(b"#!/bin/sh\necho ok\n").hexdigest()
    features = Features(
        autostop=Autostop(idle_minutes=30), persistent_conda=True, stop_ssm_agent=True,
        persist_dirs=(".config", ".ssh"), bin_dir=True, environment={"NL_ALL": "x'y"},
        binaries=(Binary("tool", f"{url}/tool", sha),),
    )
    user = StartupScripts.from_files({"10-user.sh": "#!/bin/bash\necho \"user step: $NL_ALL $(command -v tool)\"\n"})
    bundle = bundle_of(features, user)
    assert bundle.feature_names == ("stop-ssm-agent", "environment", "persist-dirs", "persistent-conda",
                                    "binaries", "autostop")
    emu = make_emulator(platform=platform, forward=[int(url.rsplit(':', 1)[1])])
    first = boot(emu, bundle, SNAPSHOT)
    # feature steps run before the user's, which sees the environment and the bin dir
    assert marked(first, "10-user.sh") == [f"user step: x'y {VOL}/.bin/tool"]
    assert list(summary_rows(first.output))[-1] == "10-user.sh"
    second = boot(emu, bundle, SNAPSHOT + [RERUN] + SNAPSHOT)
    listing, digests, state = second.after_outputs[:3]
    assert second.after_outputs[3] == "rerun=0\n"
    assert second.after_outputs[4:] == [listing, digests, state]  # the same boot, run again: same state
    assert first.after_outputs[0] == listing  # and a restart gives the same home and volume
    assert first.after_outputs[1] == digests
    third = boot(emu, bundle, SNAPSHOT)
    assert third.after_outputs[:2] == [listing, digests]


# -- autostop on the instance, end to end ---------------------------------------------------------
@pytest.fixture
def moto(tmp_path):
    """A moto server on the host (the sandbox reaches it through `forward`) with one InService notebook instance."""
    boto3 = pytest.importorskip("boto3")
    with moto_server() as url:
        sm = boto3.client("sagemaker", region_name="eu-west-1", endpoint_url=url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        sm.create_notebook_instance(NotebookInstanceName="idle-nb", InstanceType="ml.t3.medium",
                                    RoleArn="arn:aws:iam::123456789012:role/notebook")
        arn = sm.describe_notebook_instance(NotebookInstanceName="idle-nb")["NotebookInstanceArn"]
        yield url, sm, {"ResourceArn": arn, "ResourceName": "idle-nb"}


def test_autostop_stops_an_idle_instance_with_ec2_users_boto3(make_emulator, moto, web):
    """The scheduled command, run in the instance as root: an idle Jupyter (a static one here), the
    default interpreter search finds the conda JupyterSystemEnv Python (ec2-user's, with boto3)
    and runs it as ec2-user, and moto sees StopNotebookInstance."""
    url, sm, meta = moto
    root, jupyter, paths = web
    (root / "api").mkdir()
    for name in ("kernels", "sessions", "terminals"):
        (root / "api" / name).write_text("[]")
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    conda = f"{HOME}/anaconda3/envs/JupyterSystemEnv/bin"
    # a stand-in for conda's Python: records who runs it, then runs Python with this project's boto3
    wrapper = f'#!/bin/sh\nid -un >>/tmp/python-ran-as\nPYTHONPATH={site} exec /usr/bin/python3 -S "$@"\n'
    setup = (f"install -d -o ec2-user -g ec2-user {conda} && printf %s {shlex.quote(wrapper)} >{conda}/python && "
             f"chown ec2-user:ec2-user {conda}/python && chmod 755 {conda}/python")
    emu = make_emulator(metadata=meta, setup=setup,
                        forward=[int(url.rsplit(':', 1)[1]), int(jupyter.rsplit(':', 1)[1])])
    bundle = bundle_of(Features(autostop=Autostop(idle_minutes=1)))
    env = (f"AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
           f"NL_AUTOSTOP_JUPYTER_URL={jupyter}")
    unit = "/etc/systemd/system/notebook-lifecycle-autostop.service"
    run = f"env {env} $(sed -n 's/^ExecStart=//p' {unit})"
    result = boot(emu, bundle, [
        run + "; tail -n 1 /var/log/jupyter.log",  # just started: not idle yet
        "echo '{\"last_activity\": \"2020-01-01T00:00:00Z\"}' >/var/lib/notebook-lifecycle/autostop.json",
        run + f"; tail -n 2 {VOL}/.lifecycle/logs/autostop.log; cat /tmp/python-ran-as",
        f"stat -c '%U %a' {VOL}/.lifecycle/logs/autostop.log /var/log/jupyter.log",
    ])
    first, _, second, owners = result.after_outputs
    assert "not idle long enough (0 kernel(s), 0 session(s), 0 terminal(s))" in first
    assert "stopping idle-nb" in second
    assert f"StopNotebookInstance idle-nb (eu-west-1): requested [{conda}/python]" in second
    assert second.endswith("ec2-user\n")  # boto3 ran as ec2-user, not root
    assert owners == "root 644\nroot 644\n"
    assert sm.describe_notebook_instance(NotebookInstanceName="idle-nb")["NotebookInstanceStatus"] == "Stopped"
