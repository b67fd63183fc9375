"""A throwaway notebook instance on this machine: run a lifecycle script as SageMaker would.

:class:`Emulator` runs an on-start (or on-create) script as ``root``, with cwd
``/``, executed by ``/bin/bash``, in a disposable copy of this machine's root
filesystem dressed up as a SageMaker notebook instance:

* an overlay (``lowerdir=/``, upper layer on a tmpfs) inside private mount,
  PID, UTS, IPC and network namespaces. Nothing outside the state folder is
  written: the user ``ec2-user``, ``/startup``, ``/etc/profile.d`` edits... all
  vanish when the run ends, and the PID namespace takes every process that is
  still running (detached or not) with it;
* its own network: only a loopback interface, so ports (8443...) are the
  sandbox's own; ``forward=(port, ...)`` makes the host's ``127.0.0.1:port``
  reachable at the same address inside (for test servers such as moto);
* a minimal ``/dev`` (``null``, ``zero``, ``full``, ``random``, ``urandom``,
  ``tty``, its own ``pts``/``ptmx``, ``shm``, ``fd``/``stdin``/``stdout``/``stderr``
  links), not the host's; a read-only ``/proc/sys``; ``/bin/sh`` is bash, as on
  Amazon Linux;
* ``ec2-user`` (``useradd -m``, passwordless sudo unless ``root_access=False``)
  and ``/home/ec2-user/SageMaker``, bind-mounted from ``<state_dir>/SageMaker``
  on the host: it survives from one run to the next, everything else is fresh.
  A run is therefore one boot; running again with the same state folder is a
  restart;
* ``/opt/ml/metadata/resource-metadata.json``,
  ``/etc/opt/ml/sagemaker-notebook-instance-config.json`` and an
  ``/etc/os-release`` for the platform profile (``al2023`` or ``al2``);
* recording stubs, installed over the real paths, for what cannot run here:
  ``systemctl`` (with a small, stateful unit table), ``systemd-run``,
  ``amazon-ssm-agent``, ``yum``/``dnf``, optionally the upstart verbs
  (``initctl``, ``start``, ``stop``, ``status``, ``restart``) and any command
  named in ``stubs``. Every call is returned in :attr:`RunResult.calls`.
  ``reboot``, ``shutdown``, ``poweroff``, ``halt``, ``init``/``telinit`` and
  ``systemctl reboot`` (poweroff, halt...) are stubs too: a script that calls
  them fails the verdict, since a real instance would restart in the middle of
  the hook.

After the hooks return, the emulator waits (up to ``drain`` seconds) for the
runner's background continuation (the steps after a deadline, background
steps) and keeps the persistent log in :attr:`RunResult.log`.

The script runs like SageMaker runs it: written to
``/tmp/OnStart_<yyyy-mm-dd-hh-mm><random>`` and executed by ``/bin/bash``
(its ``#!`` line is honoured; without one bash runs it), stdin ``/dev/null``,
an environment holding only ``PATH=/sbin:bin:/usr/sbin:/usr/bin`` (the value
the API reference documents, typo included: the most pessimistic one) plus
``env``, umask 022, killed after ``timeout`` seconds (300 like the platform).

It needs Linux, root, the ``unshare``/overlayfs machinery and ``ip``, plus ``sudo``
(the runner starts ec2-user steps with it). Elsewhere, :class:`EmulatorUnavailable`
says so in one line. Only the standard library is used.

Limits: the sandbox is this machine's userland (Debian's bash, python3, tar...),
not Amazon Linux's; only the root filesystem is overlaid, so a host whose
``/usr`` is a separate mount is not supported; ``apt``/``apt-get`` are hidden and
``yum``/``dnf`` only record their calls; no cron daemon or Jupyter runs (their
units merely answer ``active``). It is a test bench, not a security boundary:
the kernel, ``/sys`` (read-only) and the host folders in ``binds`` are shared.

Example::

    emu = Emulator(tmp_path / "state", platform="al2", hide=("xz",))
    result = emu.run(bundle.on_start_script, after=["stat -c '%U %a' /startup"])
    assert not result.failed, result.summary()
    assert result.after_outputs[0] == "root 755\\n"
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "Emulator",
    "EmulatorError",
    "EmulatorUnavailable",
    "RunResult",
    "StubCall",
    "PLATFORMS",
    "PLATFORM_LIMIT_SECONDS",
    "DEFAULT_METADATA",
    "HOOK_PATH",
    "unavailable_reason",
]

#: SageMaker fails a lifecycle hook that runs longer than this.
PLATFORM_LIMIT_SECONDS = 300
#: The only environment variable the hook gets (besides ``env``): the API reference's value, typo and all.
HOOK_PATH = "/sbin:bin:/usr/sbin:/usr/bin"
#: ``PATH`` for the emulator's own commands and for ``setup``/``after`` snippets.
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_METADATA = {
    "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/emulated",
    "ResourceName": "emulated",
}
PLATFORMS = ("al2023", "al2")
HOOKS = ("on-start", "on-create")
UNAVAILABLE = (
    "the notebook emulator needs Linux and root (it uses mount namespaces); run it as root on Linux"
)
NO_SUDO = (
    "the notebook emulator needs sudo (the runner starts ec2-user steps with `sudo -i -u ec2-user`), "
    "and sudo is not installed; install it: apt-get install sudo"
)
NO_CRON = (
    "cron=True needs the crontab command on this machine, and it is not installed; "
    "install it (apt-get install cron) or pass cron=False"
)

_BOX = "/run/notebook-emulator"  # inside the sandbox: stubs, unit table, call log
_PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
              "/usr/local/games", "/usr/games")
_AFTER_TIMEOUT = 120  # seconds the ``setup`` snippet and each ``after`` snippet may take
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STUB_NAME_RE = re.compile(r"^(/[A-Za-z0-9._+-]+)*/?[A-Za-z0-9._+-]+$")

_OS_RELEASE = {
    "al2023": (
        'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'
        'PLATFORM_ID="platform:al2023"\nPRETTY_NAME="Amazon Linux 2023.6.20250107"\nANSI_COLOR="0;33"\n'
        'CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"\nHOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"\n'
        'DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"\nSUPPORT_URL="https://aws.amazon.com/premiumsupport/"\n'
        'BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"\nVENDOR_NAME="AWS"\n'
        'VENDOR_URL="https://aws.amazon.com/"\nSUPPORT_END="2029-06-30"\n',
        "Amazon Linux release 2023.6.20250107 (Amazon Linux)\n",
    ),
    "al2": (
        'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n'
        'PRETTY_NAME="Amazon Linux 2"\nANSI_COLOR="0;33"\nCPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"\n'
        'HOME_URL="https://amazonlinux.com/"\nSUPPORT_END="2026-06-30"\n',
        "Amazon Linux release 2 (Karoo)\n",
    ),
}
# Units every profile knows (all active and enabled); crond is added when cron is on.
_DEFAULT_UNITS = ("amazon-ssm-agent", "jupyter-server", "amazon-cloudwatch-agent", "sshd")
_CRON_COMMANDS = ("crontab", "crond", "cron")
_APT_COMMANDS = ("apt", "apt-get", "apt-cache")
# what restarts or stops a machine: recorded, and a failure cause (stub name -> where it goes)
_POWER_COMMANDS = {"reboot": "/usr/sbin/reboot", "shutdown": "/usr/sbin/shutdown", "poweroff": "/usr/sbin/poweroff",
                   "halt": "/usr/sbin/halt", "init": "/usr/sbin/init", "telinit": "/usr/sbin/telinit"}
_POWER_VERBS = ("reboot", "poweroff", "halt", "kexec", "soft-reboot", "emergency", "rescue")
_FORWARD = Path(__file__).with_name("forward.py")


class EmulatorUnavailable(RuntimeError):
    """This machine cannot run the emulator (not Linux, not root, no namespaces/overlay, no sudo)."""


class EmulatorError(RuntimeError):
    """The sandbox itself broke (for example the ``setup`` snippet failed); not a verdict on the script."""


@dataclass(frozen=True)
class StubCall:
    """One call of a recording stub: the command name, its arguments and the calling user."""

    cmd: str
    args: Tuple[str, ...]
    user: str = "root"

    def __str__(self) -> str:
        return " ".join(shlex.quote(a) for a in (self.cmd,) + self.args)


@dataclass(frozen=True)
class RunResult:
    """What one lifecycle hook did in the emulator.

    ``exit_code`` is ``None`` when the hook was killed at the timeout.
    ``output`` is the hook's combined stdout and stderr (what CloudWatch would
    get), including what background processes wrote to it before the sandbox
    ended. ``calls`` are the stub calls made from the start of this hook until
    the ``after`` snippets began. ``output_held_by`` lists the processes that
    still held the hook's stdout/stderr open when it returned (a platform that
    reads the log until end-of-file would wait for them). ``earlier`` holds the
    hooks that ran before this one in the same boot (on-create, for
    :meth:`Emulator.start`).
    """

    hook: str
    exit_code: Optional[int]
    seconds: float
    output: str
    after_outputs: List[str] = field(default_factory=list)
    after_codes: List[int] = field(default_factory=list)
    calls: List[StubCall] = field(default_factory=list)
    timed_out: bool = False
    timeout: float = PLATFORM_LIMIT_SECONDS
    output_held_by: List[str] = field(default_factory=list)
    setup_output: str = ""
    platform: str = "al2023"
    earlier: Tuple["RunResult", ...] = ()
    log: str = ""
    drained: Optional[bool] = None

    @property
    def reboot(self) -> Optional[StubCall]:
        """The first call that would restart or stop the machine (``reboot``, ``init 6``...), if any."""
        for c in self.calls:
            if c.cmd in ("reboot", "poweroff", "halt") or (c.cmd == "shutdown" and "-c" not in c.args):
                return c
            if c.cmd in ("init", "telinit") and c.args[:1] and c.args[0] in ("0", "6"):
                return c
            if c.cmd == "systemctl" and any(a in _POWER_VERBS for a in c.args if not a.startswith("-")):
                return c
        return None

    @property
    def late_summary(self) -> List[str]:
        """The runner's final summary table (and total line) from the log, when the log holds more
        than one (a continuation after the deadline or for background steps wrote it); else ``[]``."""
        return summary_table(self.log, self.hook, at_least=2)

    @property
    def failed(self) -> bool:
        """What SageMaker would conclude: a non-zero exit or more than 5 minutes fails the start."""
        return (self.timed_out or self.exit_code != 0 or self.seconds > PLATFORM_LIMIT_SECONDS
                or self.reboot is not None)

    @property
    def reason(self) -> Optional[str]:
        """Why the hook failed, in a few words (``None`` when it did not)."""
        if self.timed_out:
            return f"timed out after {self.timeout:g} s"
        if self.exit_code != 0:
            return f"exit code {self.exit_code}"
        if self.seconds > PLATFORM_LIMIT_SECONDS:
            return f"took {self.seconds:.1f} s, over the platform's limit of {PLATFORM_LIMIT_SECONDS} s"
        if self.reboot is not None:
            return f"the script ran `{self.reboot}`: a real instance would restart in the middle of the hook"
        return None

    def calls_to(self, cmd: str) -> List[StubCall]:
        """The recorded calls of one stub (``"systemctl"``, ``"amazon-ssm-agent"``...)."""
        return [c for c in self.calls if c.cmd == cmd]

    def summary(self, *, tail: int = 20) -> str:
        """A few lines for people: verdict, time, stub calls, warnings; the output's tail when it failed."""
        lines = [r.summary(tail=tail) for r in self.earlier]
        verdict = f"FAILED ({self.reason})" if self.failed else "ok"
        code = "killed" if self.exit_code is None else f"exit {self.exit_code}"
        lines.append(
            f"{self.hook} ({self.platform}): {verdict}: {code} after {self.seconds:.2f} s "
            f"(platform limit {PLATFORM_LIMIT_SECONDS} s)"
        )
        if self.calls:
            lines.append(f"  {len(self.calls)} stubbed call(s):")
            lines.extend(f"    {c}" + ("" if c.user == "root" else f"  (as {c.user})") for c in self.calls)
        late = self.late_summary
        if late:
            lines.append("  after the hook returned, the runner went on; its final summary:")
            lines.extend(f"    {row}" for row in late)
        if self.drained is False:
            lines.append("  warning: the runner's continuation was still running when the emulator stopped waiting")
        if self.output_held_by:
            lines.append("  warning: still holding the hook's output open when it returned: "
                         + "; ".join(self.output_held_by))
        if self.failed and tail > 0:
            out = self.output.rstrip("\n").splitlines()[-tail:]
            if out:
                lines.append(f"  last {len(out)} line(s) of output:")
                lines.extend(f"    | {line}" for line in out)
        return "\n".join(lines)


_probe_cache: Optional[Tuple[bool, str]] = None


def unavailable_reason() -> Optional[str]:
    """``None`` when :class:`Emulator` can run here, else the one-line reason (for ``pytest.skip``)."""
    try:
        _require_machine()
    except EmulatorUnavailable as exc:
        return str(exc)
    return None


def _require_machine() -> None:
    global _probe_cache
    if not sys.platform.startswith("linux") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise EmulatorUnavailable(UNAVAILABLE)
    for tool in ("unshare", "chroot", "timeout", "useradd", "ip", "pgrep", "mknod"):
        if not shutil.which(tool, path=SANDBOX_PATH):
            raise EmulatorUnavailable(f"{UNAVAILABLE} (`{tool}` is missing)")
    if not shutil.which("sudo", path=SANDBOX_PATH):
        raise EmulatorUnavailable(NO_SUDO)
    try:
        with open("/proc/filesystems", encoding="ascii") as fh:
            kinds = fh.read().split()
    except OSError:
        kinds = []
    if "overlay" not in kinds:
        subprocess.run(["modprobe", "overlay"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if _probe_cache is None:
        try:
            probe = subprocess.run(
                ["unshare", "--mount", "--pid", "--fork", "--uts", "--ipc", "--net", "--propagation", "private",
                 "--mount-proc", "true"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False,
            )
            _probe_cache = (probe.returncode == 0, probe.stdout.decode(errors="replace").strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            _probe_cache = (False, str(exc))
    ok, detail = _probe_cache
    if not ok:
        raise EmulatorUnavailable(f"{UNAVAILABLE} (unshare failed: {detail or 'no message'})")


def _free_id() -> int:
    """The first uid >= 1000 that is free as both uid and gid on this machine (ec2-user's id)."""
    import grp  # Unix only: imported here so that the module imports anywhere
    import pwd

    used_u = {p.pw_uid for p in pwd.getpwall()}
    used_g = {g.gr_gid for g in grp.getgrall()}
    n = 1000
    while n in used_u or n in used_g:
        n += 1
    return n


class Emulator:
    """A notebook instance that boots in a sandbox on this machine; see the module docstring.

    :param state_dir: host folder that keeps the instance's volume across runs:
        ``<state_dir>/SageMaker`` is ``/home/ec2-user/SageMaker``. Created when missing.
    :param platform: ``"al2023"`` (systemd, no cron) or ``"al2"`` (systemd, cron).
    :param systemd: override the profile: ``False`` removes ``systemctl`` and ``/run/systemd/system``.
    :param cron: override the profile: ``False`` hides ``crontab``/``crond``/``cron`` and ``/etc/cron*``;
        ``True`` keeps this machine's ``crontab`` (needs the Debian ``cron`` package).
    :param hide: command names made absent inside (every copy on the PATH dirs), e.g. ``("xz",)``.
    :param setup: bash run as root inside the sandbox before the hook (fake conda envs, files...);
        a non-zero exit raises :class:`EmulatorError`.
    :param metadata: ``ResourceArn``/``ResourceName`` for ``resource-metadata.json``
        (a name alone also names the default ARN).
    :param env: extra environment variables for the hook (``PATH`` replaces the default).
    :param timeout: seconds before the hook is killed (300, like SageMaker).
    :param linger: seconds the sandbox stays up after the hooks return, so that background
        work can go on before ``after`` snippets run and everything is torn down.
    :param units: systemd units the ``systemctl`` stub knows: names (active and enabled) or a
        mapping name -> ``"active"``/``"inactive"``. Default: amazon-ssm-agent, jupyter-server,
        amazon-cloudwatch-agent, sshd, plus crond with cron.
    :param upstart: install ``initctl``/``start``/``stop``/``status``/``restart`` stubs (AL1 only;
        AL2 and AL2023 have none, and scripts that call them fail there: keep ``False`` to see it).
    :param stubs: more commands to replace with recording stubs that succeed: bare names
        (every copy on PATH is replaced) or absolute paths.
    :param root_access: ``ec2-user`` may ``sudo`` without a password (the notebook's RootAccess).
    :param umask: the hook's umask.
    :param binds: host folders made visible, read-only, at the same path inside (the sandbox
        has its own ``/tmp`` and ``/home``, and sees only the root filesystem of the host); their
        parent folders are made passable (``a+x``) inside, so ``ec2-user`` reaches them even from
        a 0700 folder such as ``/root``.
    :param forward: host TCP ports (on ``127.0.0.1``) reachable at the same address inside.
    :param drain: seconds to wait, after the hooks return, for the runner's continuation
        (the steps after a deadline, background steps); 0 does not wait.
    :param scratch: where the per-run scratch folder goes (default: the system temp dir); it
        is deleted after every run.
    :raises EmulatorUnavailable: not Linux/root, no namespaces or overlayfs, no sudo
        (or no crontab with ``cron=True``).
    """

    def __init__(
        self,
        state_dir: Union[str, "os.PathLike[str]"],
        *,
        platform: str = "al2023",
        systemd: Optional[bool] = None,
        cron: Optional[bool] = None,
        hide: Iterable[str] = (),
        setup: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = PLATFORM_LIMIT_SECONDS,
        linger: float = 0,
        units: Union[Iterable[str], Mapping[str, str], None] = None,
        upstart: bool = False,
        stubs: Iterable[str] = (),
        root_access: bool = True,
        umask: int = 0o022,
        scratch: Union[str, "os.PathLike[str]", None] = None,
        binds: Iterable[Union[str, "os.PathLike[str]"]] = (),
        forward: Iterable[int] = (),
        drain: float = 60,
    ) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"platform: {platform!r} is not one of {', '.join(PLATFORMS)}")
        if isinstance(hide, str) or isinstance(stubs, str):
            raise ValueError("hide and stubs take a list of command names, not a single string: hide=(\"xz\",)")
        self.platform = platform
        self.systemd = True if systemd is None else bool(systemd)
        self.cron = (platform == "al2") if cron is None else bool(cron)
        self.hide = tuple(hide)
        for name in self.hide:
            if not name or "/" in name or not _STUB_NAME_RE.match(name):
                raise ValueError(f"hide: {name!r} is not a command name")
        self.stubs = tuple(stubs)
        for name in self.stubs:
            if not _STUB_NAME_RE.match(name) or (("/" in name) and not name.startswith("/")):
                raise ValueError(f"stubs: {name!r} must be a command name or an absolute path")
        self.setup = setup
        meta = dict(metadata or {})
        if "ResourceName" in meta and "ResourceArn" not in meta:
            meta["ResourceArn"] = DEFAULT_METADATA["ResourceArn"].rsplit("/", 1)[0] + "/" + meta["ResourceName"]
        self.metadata = {**DEFAULT_METADATA, **meta}
        self.env = dict(env or {})
        for key, value in self.env.items():
            if not _ENV_NAME_RE.match(key) or "\0" in str(value):
                raise ValueError(f"env: {key!r} is not a valid variable name (or its value holds a NUL byte)")
        if not timeout > 0:
            raise ValueError(f"timeout: {timeout!r} must be a positive number of seconds")
        if linger < 0:
            raise ValueError(f"linger: {linger!r} must not be negative")
        self.timeout = float(timeout)
        self.linger = float(linger)
        if units is None:
            table = {u: "active" for u in _DEFAULT_UNITS}
            if self.cron:
                table["crond"] = "active"
        elif isinstance(units, Mapping):
            table = {str(k): str(v) for k, v in units.items()}
        else:
            table = {str(u): "active" for u in units}
        for name, state in table.items():
            if not _STUB_NAME_RE.match(name) or "/" in name or state not in ("active", "inactive"):
                raise ValueError(f"units: {name!r} -> {state!r}: give unit names and 'active' or 'inactive'")
        self.units = {(n if "." in n else n + ".service"): s for n, s in table.items()}
        self.upstart = bool(upstart)
        self.root_access = bool(root_access)
        self.umask = int(umask)
        self.scratch = None if scratch is None else Path(scratch)
        self.binds = tuple(str(Path(b).resolve()) for b in binds)
        for b in self.binds:
            if not Path(b).is_dir() or b == "/":
                raise ValueError(f"binds: {b!r} must be an existing folder other than /")
        self.forward = tuple(forward)
        for port in self.forward:
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ValueError(f"forward: {port!r} is not a TCP port number")
        if drain < 0:
            raise ValueError(f"drain: {drain!r} must not be negative")
        self.drain = float(drain)
        _require_machine()
        if self.cron and not shutil.which("crontab", path=SANDBOX_PATH):
            raise EmulatorUnavailable(NO_CRON)
        self.state_dir = Path(state_dir).absolute()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.volume.mkdir(exist_ok=True)
        self.ec2_uid = _free_id()

    # -- public ---------------------------------------------------------------------------
    @property
    def volume(self) -> Path:
        """The host folder mounted at ``/home/ec2-user/SageMaker``."""
        return self.state_dir / "SageMaker"

    def run(self, script: Union[str, bytes], hook: str = "on-start", *, after: Sequence[str] = ()) -> RunResult:
        """Boot once and run ``script`` as the ``hook`` lifecycle script; then ``after`` snippets as root.

        ``script`` is the decoded lifecycle script (``bundle.on_start_script``), as text or
        bytes (bytes are written as they are: CRLF line endings fail as they do on SageMaker).

        ``after`` snippets run in the same sandbox once the hook has returned
        and ``linger`` has passed; their combined output is in
        :attr:`RunResult.after_outputs` (exit codes in ``after_codes``).
        """
        if hook not in HOOKS:
            raise ValueError(f"hook: {hook!r} is not one of {', '.join(HOOKS)}")
        return self._boot([(hook, script)], after)

    def start(
        self,
        on_start: Any = None,
        on_create: Union[str, bytes, None] = None,
        *,
        after: Sequence[str] = (),
    ) -> RunResult:
        """A first boot: on-create, then (if it succeeded) on-start, in the same sandbox.

        ``on_start`` may be a script or a :class:`~notebook_lifecycle.Bundle`
        (its hooks are used). Returns the last hook that ran: the on-start
        result with the on-create one in ``earlier``, or the on-create result
        alone when it failed (SageMaker then does not run on-start).
        """
        if on_start is not None and not isinstance(on_start, str) and hasattr(on_start, "script"):
            bundle = on_start
            on_start = bundle.script("on-start")
            on_create = on_create if on_create is not None else bundle.script("on-create")
        hooks = [(h, s) for h, s in (("on-create", on_create), ("on-start", on_start)) if s is not None]
        if not hooks:
            raise ValueError("start: give an on-start or an on-create script (or a Bundle)")
        return self._boot(hooks, after)

    # -- the boot ---------------------------------------------------------------------------
    def _boot(self, hooks: Sequence[Tuple[str, Union[str, bytes]]], after: Sequence[str]) -> RunResult:
        if isinstance(after, str):
            raise ValueError("after takes a list of bash snippets, not a single string: after=[\"id\"]")
        for hook, script in hooks:
            if not isinstance(script, (str, bytes)):
                raise ValueError(f"{hook}: the script must be str or bytes, got {type(script).__name__}")
        self.volume.mkdir(parents=True, exist_ok=True)
        if self.scratch is not None:
            self.scratch.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="nb-emulator-", dir=self.scratch))
        try:
            return self._boot_in(scratch, hooks, list(after))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _boot_in(self, s: Path, hooks: Sequence[Tuple[str, Union[str, bytes]]], after: List[str]) -> RunResult:
        (s / "m").mkdir()
        (s / "t").mkdir()
        box = s / "box"
        (box / "stubs").mkdir(parents=True)
        os.chmod(s, 0o700)
        self._write_box(box)
        for i, (_hook, script) in enumerate(hooks):
            data = script if isinstance(script, bytes) else script.encode("utf-8", "surrogateescape")
            (s / f"hook.{i}").write_bytes(data)
        for j, snippet in enumerate(after):
            (s / f"after.{j}").write_text(snippet, encoding="utf-8")
        hook_env = {"PATH": HOOK_PATH, **self.env}
        conf = {
            "VOLUME": str(self.volume),
            "TIMEOUT": f"{self.timeout:g}",
            "LINGER": f"{self.linger:g}",
            "UMASK": f"{self.umask:04o}",
            "NHOOKS": str(len(hooks)),
            "NAFTER": str(len(after)),
            "AFTER_TIMEOUT": str(_AFTER_TIMEOUT),
            "SETUP": self.setup,
            "CRON": "1" if self.cron else "0",
            "DRAIN": str(int(-(-self.drain // 1))),
            "PYTHON": sys.executable,
            "FWD": str(_FORWARD),
        }
        lines = [f"{k}={shlex.quote(v)}" for k, v in conf.items()]
        lines.append("HOOK_NAMES=(" + " ".join(shlex.quote(h) for h, _ in hooks) + ")")
        lines.append("BINDS=(" + " ".join(shlex.quote(b) for b in self.binds) + ")")
        lines.append("FORWARD=(" + " ".join(str(p) for p in self.forward) + ")")
        lines.append("HOOK_ENV=(" + " ".join(shlex.quote(f"{k}={v}") for k, v in hook_env.items()) + ")")
        (s / "conf.sh").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (s / "init.sh").write_text(_INIT_SH, encoding="utf-8")

        budget = ((self.timeout + 10) * len(hooks) + self.linger + self.drain
                  + (_AFTER_TIMEOUT + 5) * (len(after) + 1) + 60)
        cmd = ["unshare", "--mount", "--pid", "--fork", "--uts", "--ipc", "--net", "--propagation", "private",
               "--mount-proc", "--kill-child=SIGKILL", "/bin/bash", str(s / "init.sh"), str(s)]
        relay = self._forward_out(s)
        try:
            return self._run_box(s, cmd, budget, hooks, after)
        finally:
            if relay is not None:
                relay.kill()
                relay.wait()

    def _forward_out(self, s: Path) -> Optional["subprocess.Popen[bytes]"]:
        """The host half of ``forward``: Unix sockets in the scratch folder, relayed to the host's ports."""
        if not self.forward:
            return None
        (s / "fwd").mkdir()
        relay = subprocess.Popen([sys.executable, str(_FORWARD), "out", str(s / "fwd"), *map(str, self.forward)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):
            if (s / "fwd" / "ready-out").exists() or relay.poll() is not None:
                break
            time.sleep(0.05)
        if not (s / "fwd" / "ready-out").exists():
            relay.kill()
            _, err = relay.communicate()
            raise EmulatorError(f"cannot forward ports {self.forward}: {err.decode(errors='replace').strip()}")
        return relay

    def _run_box(self, s: Path, cmd: List[str], budget: float, hooks: Sequence[Tuple[str, Union[str, bytes]]],
                 after: List[str]) -> RunResult:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd="/", env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"})
        try:
            diag, _ = proc.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise EmulatorError(f"the sandbox did not finish within {budget:.0f} s and was killed") from None
        finally:
            if proc.poll() is None:  # interrupted (KeyboardInterrupt...): take the namespace down with us
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        text = diag.decode("utf-8", "replace")
        error = _read(s / "error")
        if proc.returncode in (71, 72):
            raise EmulatorUnavailable(f"{UNAVAILABLE} ({error.strip() or text.strip()})")
        if proc.returncode == 74:
            raise EmulatorError(
                f"the setup snippet failed (exit {_read(s / 'setup.rc').strip()}):\n{_read(s / 'setup.out')}"
            )
        if proc.returncode != 0 or not (s / "done").exists():
            raise EmulatorError(
                f"the sandbox failed (status {proc.returncode}): {error.strip() or text.strip() or 'no message'}"
            )
        return self._collect(s, hooks, len(after))

    def _collect(self, s: Path, hooks: Sequence[Tuple[str, Any]], n_after: int) -> RunResult:
        calls = []
        for raw in (s / "calls.jsonl").read_bytes().splitlines() if (s / "calls.jsonl").exists() else []:
            try:
                item = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                continue
            calls.append(StubCall(str(item.get("cmd", "?")), tuple(str(a) for a in item.get("args", ())),
                                  str(item.get("user", "root"))))
        marks = [int(x) for x in _read(s / "marks").split()]  # call count at each hook start, then at the end
        after_outputs = [_read(s / f"after.{j}.out") for j in range(n_after)]
        after_codes = [int(_read(s / f"after.{j}.rc").strip() or -1) for j in range(n_after)]
        setup_output = _read(s / "setup.out")
        drain = _read(s / "drain").strip()
        drained = {"done": True, "running": False}.get(drain)
        results: List[RunResult] = []
        for i, (hook, _) in enumerate(hooks):
            res = s / f"res.{i}"
            if not res.exists():
                break
            rc, nanos = (int(x) for x in _read(res).split())
            seconds = nanos / 1e9
            timed_out = rc == 137 and seconds >= self.timeout - 0.05
            held = [line for line in _read(s / f"held.{i}").splitlines() if line.strip()]
            lo, hi = marks[i], marks[i + 1] if i + 1 < len(marks) else len(calls)
            last = not (s / f"res.{i + 1}").exists()
            results.append(RunResult(
                hook=hook,
                exit_code=None if timed_out else rc,
                seconds=seconds,
                output=_read(s / f"out.{i}"),
                after_outputs=after_outputs if last else [],
                after_codes=after_codes if last else [],
                calls=calls[lo:hi],
                timed_out=timed_out,
                timeout=self.timeout,
                output_held_by=held,
                setup_output=setup_output,
                platform=self.platform,
                earlier=tuple(results),
                log=_read(s / f"log.{i}"),
                drained=drained if last else None,
            ))
        if not results:
            raise EmulatorError("the sandbox ran no hook: " + (_read(s / "error").strip() or "no message"))
        return results[-1]

    # -- what goes into the sandbox -----------------------------------------------------------
    def _write_box(self, box: Path) -> None:
        os_release, system_release = _OS_RELEASE[self.platform]
        (box / "os-release").write_text(os_release, encoding="utf-8")
        (box / "system-release").write_text(system_release, encoding="utf-8")
        (box / "resource-metadata.json").write_text(json.dumps(self.metadata, indent=2) + "\n", encoding="utf-8")
        region = self.metadata["ResourceArn"].split(":")[3] if self.metadata["ResourceArn"].count(":") >= 5 else ""
        nbi = {"notebook_uri": f"{self.metadata['ResourceName']}.notebook.{region}.sagemaker.aws", "csrf_check": True}
        (box / "nbi-config.json").write_text(json.dumps(nbi) + "\n", encoding="utf-8")
        (box / "units").mkdir()
        for unit, state in self.units.items():
            (box / "units" / unit).write_text(f"{state} enabled\n", encoding="ascii")

        # (stub name, where it goes, whether every other copy on the PATH dirs is removed first)
        installs: List[Tuple[str, str, bool]] = []
        if self.systemd:
            installs += [("systemctl", "/usr/bin/systemctl", True), ("systemd-run", "/usr/bin/systemd-run", True)]
        installs.append(("amazon-ssm-agent", "/usr/bin/amazon-ssm-agent", True))
        pkg = ("yum",) if self.platform == "al2" else ("dnf", "yum")
        installs += [(p, f"/usr/bin/{p}", True) for p in pkg]
        installs += [(n, target, True) for n, target in _POWER_COMMANDS.items()]
        if self.upstart:
            installs += [(v, f"/sbin/{v}", True) for v in ("initctl", "start", "stop", "status", "restart")]
        for extra in self.stubs:
            if extra.startswith("/"):
                installs.append((extra.rsplit("/", 1)[-1], extra, False))
            else:
                installs.append((extra, f"/usr/bin/{extra}", True))
        bodies = {"systemctl": _SYSTEMCTL, "systemd-run": _SYSTEMD_RUN, "amazon-ssm-agent": _SSM,
                  "initctl": _UPSTART, "start": _UPSTART, "stop": _UPSTART, "status": _UPSTART,
                  "restart": _UPSTART}
        for name, _target, _all in installs:
            (box / "stubs" / name).write_text(_stub(name, bodies.get(name, _GENERIC)), encoding="utf-8")

        hide = list(_APT_COMMANDS)
        if not self.systemd:
            hide += ["systemctl", "systemd-run"]
        if not self.cron:
            hide += list(_CRON_COMMANDS)
        q = shlex.quote
        prep = [
            "set -eu",
            "umask 022",
            f"B={_BOX}",
            f"P={q(' '.join(_PATH_DIRS))}",
            "hide() { local n d; for n; do for d in $P; do rm -f \"$d/$n\"; done; done; }",
            "mkdir -p /run/lock /run/user && chmod 1777 /run/lock",
            ": >$B/calls.jsonl && chmod 666 $B/calls.jsonl",
            "chmod 755 $B/units && chmod 644 $B/units/* 2>/dev/null || true",
            "rm -f /etc/os-release /usr/lib/os-release /etc/system-release",
            "cp $B/os-release /usr/lib/os-release && ln -s ../usr/lib/os-release /etc/os-release",
            "cp $B/system-release /etc/system-release",
            "mkdir -p /opt/ml/metadata /etc/opt/ml",
            "cp $B/resource-metadata.json /opt/ml/metadata/resource-metadata.json",
            "cp $B/nbi-config.json /etc/opt/ml/sagemaker-notebook-instance-config.json",
            "hide " + " ".join(q(h) for h in hide),
            # /bin/sh is bash on Amazon Linux (dash on Debian): `#!/bin/sh` scripts with bash syntax work there
            "ln -sfn bash /bin/sh",
        ]
        if self.systemd:
            prep.append("mkdir -p /run/systemd/system")
        if self.cron:
            prep.append("[ -e /usr/sbin/crond ] || ln -s cron /usr/sbin/crond")
        else:
            prep.append("rm -rf /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly "
                        "/etc/cron.yearly /etc/crontab /var/spool/cron")
        for name, target, everywhere in installs:
            if everywhere:
                prep.append(f"hide {q(name)}")
            prep.append(f"mkdir -p {q(os.path.dirname(target))} && rm -f {q(target)} && "
                        f"cp $B/stubs/{q(name)} {q(target)} && chmod 755 {q(target)}")
        prep += [
            f"useradd -m -u {self.ec2_uid} -U -s /bin/bash -c 'EC2 Default User' ec2-user",
            "mkdir -m 755 /home/ec2-user/SageMaker",
        ]
        if self.root_access:
            prep.append("printf 'ec2-user ALL=(ALL) NOPASSWD:ALL\\n' >/etc/sudoers.d/90-cloud-init-users && "
                        "chmod 440 /etc/sudoers.d/90-cloud-init-users")
        (box / "prepare.sh").write_text("\n".join(prep) + "\n", encoding="utf-8")
        # the user's `hide` comes last: it wins over stubs, and prepare.sh still has every tool
        (box / "volume.sh").write_text(
            "set -eu\nchown ec2-user:ec2-user /home/ec2-user/SageMaker\n"
            "[ -e /home/ec2-user/SageMaker/lost+found ] || mkdir -m 700 /home/ec2-user/SageMaker/lost+found\n"
            f"for n in {' '.join(q(h) for h in self.hide)}; do for d in {' '.join(_PATH_DIRS)}; do "
            "rm -f \"$d/$n\"; done; done\n",
            encoding="utf-8",
        )

    def __repr__(self) -> str:
        return (f"Emulator(state_dir={str(self.state_dir)!r}, platform={self.platform!r}, systemd={self.systemd}, "
                f"cron={self.cron}, hide={self.hide!r})")


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------------------------
# Shell parts: real files next to this module (shellcheck lints them, tests/test_on_instance_lint.py).
# Everything that writes inside the sandbox does so *inside* the chroot (`inbox ...`), so that a
# symlink planted by a script can never lead a write onto the host.


def _shell(name: str) -> str:
    return (resources.files(__package__) / name).read_text(encoding="utf-8")


_INIT_SH = _shell("init.sh")
# Shared head of every stub: append {"cmd":..., "args":[...], "user":...} to the call log.
_STUB_HEAD = _shell("stub-head.sh")
_GENERIC = _shell("stub-generic.sh")
_SSM = _shell("stub-ssm.sh")
_UPSTART = _shell("stub-upstart.sh")
_SYSTEMD_RUN = _shell("stub-systemd-run.sh")
_SYSTEMCTL = _shell("stub-systemctl.sh")


def _stub(name: str, body: str) -> str:
    return _STUB_HEAD.replace("@NAME@", shlex.quote(name)) + body


def summary_table(text: str, hook: str, *, at_least: int = 1) -> List[str]:
    """The rows of the last summary table the runner wrote for ``hook`` in ``text`` (header first, up to
    its total line), when ``text`` holds at least ``at_least`` of them; else ``[]``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line == f"notebook-lifecycle summary ({hook})"]
    if not starts or len(starts) < at_least:
        return []
    rows = []
    for line in lines[starts[-1] + 1:]:
        if not line.strip():
            break
        rows.append(line)
        if line.startswith("total "):
            break
    return rows
