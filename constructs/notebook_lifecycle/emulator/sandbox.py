"""The :class:`Emulator`: boots the sandbox, runs the hooks and collects what they did."""

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
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .machine import NO_CRON, SANDBOX_PATH, UNAVAILABLE, EmulatorError, EmulatorUnavailable, _free_id, _require_machine
from .profiles import (
    _APT_COMMANDS,
    _CRON_COMMANDS,
    _DEFAULT_UNITS,
    _OS_RELEASE,
    _PATH_DIRS,
    _POWER_COMMANDS,
    DEFAULT_METADATA,
    HOOK_PATH,
    HOOKS,
    PLATFORM_LIMIT_SECONDS,
    PLATFORMS,
)
from .result import RunResult, StubCall
from .shell import _GENERIC, _INIT_SH, _SSM, _SYSTEMCTL, _SYSTEMD_RUN, _UPSTART, _stub

_BOX = "/run/notebook-emulator"  # inside the sandbox: stubs, unit table, call log
_AFTER_TIMEOUT = 120  # seconds the ``setup`` snippet and each ``after`` snippet may take
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STUB_NAME_RE = re.compile(r"^(/[A-Za-z0-9._+-]+)*/?[A-Za-z0-9._+-]+$")
_FORWARD = Path(__file__).with_name("forward.py")


class Emulator:
    """A notebook instance that boots in a sandbox on this machine; see the package docstring.

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
