"""The sandbox's shell parts: its PID 1 (``init.sh``) and the recording stubs, read from the real files
next to this module (shellcheck lints them, tests/test_on_instance_lint.py).

Everything that writes inside the sandbox does so *inside* the chroot (``inbox ...``), so that a
symlink planted by a script can never lead a write onto the host.
"""

from __future__ import annotations

import shlex
from importlib import resources


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
