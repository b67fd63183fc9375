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

The package, one concept per module (``from notebook_lifecycle.emulator import X`` works for every
public name): :mod:`.sandbox` boots the sandbox and runs the hooks (:class:`Emulator`);
:mod:`.result` is what a hook did and the verdict (:class:`RunResult`, :class:`StubCall`,
:func:`summary_table`); :mod:`.machine` checks that this machine can host it
(:func:`unavailable_reason`) and holds the errors; :mod:`.profiles` the platform profiles and
limits; :mod:`.shell` reads the bash parts (``init.sh``, ``stub-*.sh``); ``forward.py`` relays
``forward`` ports.

Example::

    emu = Emulator(tmp_path / "state", platform="al2", hide=("xz",))
    result = emu.run(bundle.on_start_script, after=["stat -c '%U %a' /startup"])
    assert not result.failed, result.summary()
    assert result.after_outputs[0] == "root 755\\n"
"""

from .machine import NO_CRON as NO_CRON
from .machine import NO_SUDO as NO_SUDO
from .machine import SANDBOX_PATH as SANDBOX_PATH
from .machine import UNAVAILABLE as UNAVAILABLE
from .machine import EmulatorError, EmulatorUnavailable, unavailable_reason
from .profiles import HOOKS as HOOKS
from .profiles import DEFAULT_METADATA, HOOK_PATH, PLATFORM_LIMIT_SECONDS, PLATFORMS
from .result import RunResult, StubCall
from .result import summary_table as summary_table
from .sandbox import Emulator

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
