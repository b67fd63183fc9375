"""Whether this machine can host the sandbox (Linux, root, namespaces, overlayfs, sudo), and the emulator's errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Optional, Tuple

#: ``PATH`` for the emulator's own commands and for ``setup``/``after`` snippets.
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
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


class EmulatorUnavailable(RuntimeError):
    """This machine cannot run the emulator (not Linux, not root, no namespaces/overlay, no sudo)."""


class EmulatorError(RuntimeError):
    """The sandbox itself broke (for example the ``setup`` snippet failed); not a verdict on the script."""


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


