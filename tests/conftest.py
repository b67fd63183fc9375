"""Shared fixtures for the notebook-instance sandbox (``notebook_lifecycle.emulator``).

Fixtures (use them from any test module; they skip with the one-line reason
when the machine cannot run the emulator: not Linux, not root, no namespaces
or overlayfs, no sudo):

``make_emulator(**options) -> Emulator``
    Factory. Every call without ``state_dir`` gets a fresh state folder under
    ``tmp_path`` (a brand-new instance); pass ``state_dir=`` (or reuse
    ``emu.state_dir``) to restart the same instance. ``options`` are those of
    :class:`~notebook_lifecycle.emulator.Emulator` (``platform``, ``hide``,
    ``setup``, ``linger``, ``timeout``, ...)::

        def test_x(make_emulator):
            emu = make_emulator(platform="al2", hide=("xz",), linger=1)
            result = emu.run(bundle.on_start_script, after=["stat -c '%U %a' /startup"])
            assert not result.failed, result.summary()

``emulator -> Emulator``
    ``make_emulator()`` with the defaults (al2023, no linger).

``make_bundle(files, *, as_root=(), background=(), run=None, executable=(), **bundle_options) -> Bundle``
    ``Bundle(StartupScripts.from_files(files, ...), **bundle_options)``; defaults
    to ``deadline_seconds=20`` so that a hung step cannot stall a test for long.

``host_snapshot -> HostSnapshot``
    Fingerprint of what a sandboxed run must never change on this machine
    (account files, /etc/profile.d, /etc/os-release, the real systemctl,
    /startup, the crontab spool, the hostname...). ``host_snapshot.assert_unchanged()``
    compares the machine with the moment the fixture was created.

``moto_endpoint -> str`` (module scope)
    ``http://localhost:PORT`` of a moto server on 127.0.0.1 that the test module shares (its log in
    a temporary folder; started without this process's ``AWS_*``/``CDK_*`` variables). For the CDK
    CLI deploys; ``servers.moto_env`` and ``servers.moto_clients`` point the CLI and boto3 at it.

Helper functions (import them: ``from conftest import summary_rows``):
``summary_rows(text, hook="on-start")`` parses the runner's summary table of a log or output into
``{step: (user, status)}``; ``marked(result, tag)`` returns the lines a step printed
(the runner prefixes them with ``[step] ``).

Every test that boots a sandbox carries the ``sandbox`` marker (``-m "not sandbox"`` skips them).
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import pytest

from notebook_lifecycle import Bundle, StartupScripts
from notebook_lifecycle.emulator import Emulator, RunResult, unavailable_reason
from servers import moto_server

REPO_ROOT = Path(__file__).resolve().parent.parent


def _python_dirs() -> Tuple[str, ...]:
    """This checkout and the Python running the tests (its venv and base install), outermost only."""
    import sys

    dirs = sorted({str(REPO_ROOT), os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
    return tuple(d for d in dirs if not any(d != o and d.startswith(o + "/") for o in dirs))


HOST_PYTHON_DIRS = _python_dirs()

__all__ = ["HostSnapshot", "summary_rows", "marked"]

# What a run must leave exactly as it was on the host.
_HOST_FILES = (
    "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid",
    "/etc/os-release", "/usr/lib/os-release", "/etc/hostname", "/etc/hosts", "/etc/sudoers",
    "/usr/bin/systemctl", "/usr/bin/xz", "/usr/bin/crontab", "/etc/crontab",
)
_HOST_DIRS = ("/etc/profile.d", "/etc/sudoers.d", "/etc/systemd/system", "/var/spool/cron/crontabs", "/etc/cron.d",
              "/opt", "/home")
_HOST_ABSENT = ("/startup", "/startup-on-create", "/opt/ml", "/etc/opt/ml", "/home/ec2-user",
                "/run/notebook-emulator", "/run/systemd/system", "/usr/bin/amazon-ssm-agent", "/etc/system-release",
                "/etc/sudoers.d/90-cloud-init-users")


def _digest(path: str) -> str:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    if os.path.islink(path):
        return f"link:{os.readlink(path)}"
    with open(path, "rb") as fh:
        return f"{st.st_mode:o}:{st.st_uid}:{st.st_gid}:" + hashlib.sha256(fh.read()).hexdigest()


def _listing(path: str) -> Tuple[Tuple[str, str], ...]:
    if not os.path.isdir(path):
        return (("absent", ""),)
    out = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        out.append((name, _digest(full) if os.path.isfile(full) or os.path.islink(full) else "dir"))
    return tuple(out)


class HostSnapshot:
    """What the host looks like now; :meth:`assert_unchanged` checks that nothing moved."""

    def __init__(self) -> None:
        self.taken = self._take()

    @staticmethod
    def _take() -> Dict[str, Any]:
        state: Dict[str, Any] = {f: _digest(f) for f in _HOST_FILES}
        state.update({d + "/": _listing(d) for d in _HOST_DIRS})
        state.update({p + "?": os.path.lexists(p) for p in _HOST_ABSENT})
        state["hostname"] = socket.gethostname()
        state["ec2-user"] = any(line.startswith("ec2-user:") for line in Path("/etc/passwd").read_text().splitlines())
        return state

    def changes(self) -> List[str]:
        now = self._take()
        return [f"{key}: {self.taken[key]!r} -> {now[key]!r}" for key in self.taken if self.taken[key] != now[key]]

    def assert_unchanged(self) -> None:
        changed = self.changes()
        assert not changed, "the host changed:\n" + "\n".join(changed)


def summary_rows(text: str, hook: str = "on-start") -> Dict[str, Tuple[str, str]]:
    """``{step: (user, status)}`` from every runner summary table in ``text`` (later tables win)."""
    rows: Dict[str, Tuple[str, str]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != f"notebook-lifecycle summary ({hook})":
            continue
        for row in lines[i + 2:]:
            parts = row.rsplit(None, 3)
            if len(parts) != 4 or parts[1] not in ("root", "ec2-user"):
                break
            rows[parts[0].strip()] = (parts[1], parts[2])
    return rows


def marked(result_or_text: Union[RunResult, str], tag: str) -> List[str]:
    """Lines step ``tag`` printed.

    A foreground step's output stands between the runner's ``==> tag (`` and
    ``<== tag:`` lines; a background step's lines are prefixed ``[tag] ``.
    """
    text = result_or_text if isinstance(result_or_text, str) else result_or_text.output
    out: List[str] = []
    inside = False
    prefix = f"[{tag}] "
    for line in text.splitlines():
        if line.startswith(f"==> {tag} (") and line.endswith(", fg)"):
            inside = True
        elif line.startswith(f"<== {tag}: "):
            inside = False
        elif inside and not line.startswith("==> ") and not line.startswith("<== "):
            out.append(line)
        elif line.startswith(prefix):
            out.append(line[len(prefix):])
    return out


@pytest.fixture(scope="session")
def _emulator_available() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def make_emulator(_emulator_available: None, tmp_path: Path) -> Callable[..., Emulator]:
    counter = iter(range(1, 1_000_000))

    def make(**options: Any) -> Emulator:
        if "state_dir" not in options:
            options["state_dir"] = tmp_path / f"state-{next(counter)}"
        # Tests run this checkout's Python inside the sandbox; make it visible wherever the
        # checkout lives (under /tmp or /home the sandbox would hide it; another mount is not overlaid).
        options.setdefault("binds", HOST_PYTHON_DIRS)
        return Emulator(**options)

    return make


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def make_bundle() -> Callable[..., Bundle]:
    def make(
        files: Mapping[str, Union[str, bytes]],
        *,
        as_root: Iterable[str] = (),
        background: Iterable[str] = (),
        run: Optional[Sequence[str]] = None,
        executable: Iterable[str] = (),
        **bundle_options: Any,
    ) -> Bundle:
        scripts = StartupScripts.from_files(files, as_root=as_root, background=background, run=run,
                                            executable=executable)
        bundle_options.setdefault("deadline_seconds", 20)
        return Bundle(scripts, **bundle_options)

    return make


@pytest.fixture
def host_snapshot() -> HostSnapshot:
    return HostSnapshot()


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    with (tmp_path_factory.mktemp("moto") / "moto.log").open("w") as log:
        with moto_server(host="127.0.0.1", log=log, env=env) as endpoint:
            yield endpoint


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        if {"make_emulator", "emulator"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)
