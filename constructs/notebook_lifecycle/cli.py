"""The ``notebook-lifecycle`` command: build lifecycle scripts, read them back.

Subcommands (each is one ``_add_<name>`` function registered in :data:`_COMMANDS`)::

    notebook-lifecycle build DIR [options]   folder (+ feature flags) -> on-start.sh
    notebook-lifecycle inspect FILE          what a script, its base64 or a template holds
    notebook-lifecycle unpack FILE -o DIR    the files of every bundle found, on disk
    notebook-lifecycle run-local TARGET      boot it in the local notebook-instance emulator

Every error exits 2 with one line on stderr (``notebook-lifecycle: error: ...``)
and writes nothing. Standard library only; no CDK here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, NoReturn, Optional, Sequence

from . import __version__
from .bundle import DEFAULT_DEADLINE_SECONDS, Bundle
from .errors import BundleError
from .features import Autostop, Binary, Features
from .scripts import StartupScripts
from .unbundle import FoundBundle, read_bundles

__all__ = ["main"]

PROG = "notebook-lifecycle"

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        raise BundleError(f"{message} (see: {self.prog} --help)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler = args.handler
        return handler(args)
    except BundleError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0


# -- the parser ------------------------------------------------------------------------------

_EPILOG = """\
examples:
  notebook-lifecycle build startup/ --as-root 10-packages.sh --autostop-idle-minutes 60
  notebook-lifecycle inspect cdk.out/MyStack.template.json
  notebook-lifecycle unpack on-start.sh -o review/
  notebook-lifecycle run-local startup/ --as-root 10-packages.sh --restarts 2
"""


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Turn a folder of startup scripts (plus feature flags) into one SageMaker "
        "notebook-instance lifecycle script, and read such scripts back.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def _command(sub: Any, name: str, handler: Handler, summary: str, description: str = "") -> _Parser:
    parser: _Parser = sub.add_parser(
        name,
        help=summary,
        description=description or summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, command=name)
    return parser


# -- build -----------------------------------------------------------------------------------

_BUILD_DESCRIPTION = """\
Bundle the startup scripts in DIR (and the enabled features) into one on-start
lifecycle script, and print its size budget (16,384 characters of base64).

Without --run, the top-level *.sh files of DIR run in lexical order; with --run,
exactly the files named, in that order. Scripts run as ec2-user unless named by
--as-root; --background scripts are started detached and not waited for.
Feature steps run before your scripts. Nothing is written when there is an error.
"""

# Core messages name the Python field; on the command line, name the flag instead.
_ON_START_FLAGS = {
    "as_root": "--as-root",
    "background": "--background",
    "run": "--run",
    "install_dir": "--install-dir",
    "deadline_seconds": "--deadline",
    "compression": "--compression",
}
_ON_CREATE_FLAGS = {"as_root": "--on-create-as-root", "background": "--on-create-background", "run": "--on-create-run"}


def _add_build(sub: Any) -> None:
    p = _command(sub, "build", _build, "build the on-start (and on-create) lifecycle script", _BUILD_DESCRIPTION)
    _add_bundle_options(p, output=True)


def _add_bundle_options(p: _Parser, *, output: bool) -> None:
    """DIR, the plan, on-create, bundle settings and feature flags: shared by build and run-local."""
    p.add_argument("dir", metavar="DIR", nargs="?", help="folder of startup scripts (may be left out when a feature is enabled)")
    p.add_argument("--as-root", metavar="NAME", action="append", default=[], help="run NAME as root (repeatable)")
    p.add_argument("--background", metavar="NAME", action="append", default=[], help="start NAME detached, do not wait (repeatable)")
    p.add_argument("--run", metavar="NAME", action="append", default=None, help="run exactly these files, in this order (repeatable)")

    create = p.add_argument_group("on-create (runs once, when the instance is created)")
    create.add_argument("--on-create", metavar="DIR", help="folder of on-create scripts")
    create.add_argument("--on-create-as-root", metavar="NAME", action="append", default=[], help="as --as-root, for --on-create")
    create.add_argument("--on-create-background", metavar="NAME", action="append", default=[], help="as --background, for --on-create")
    create.add_argument("--on-create-run", metavar="NAME", action="append", default=None, help="as --run, for --on-create")
    if output:
        create.add_argument("--on-create-output", metavar="PATH", help="where to write it (default: on-create.sh next to -o)")

    out = p.add_argument_group("output" if output else "bundle")
    if output:
        out.add_argument("-o", "--output", metavar="PATH", default="on-start.sh", help="on-start script to write; '-' for stdout (default: on-start.sh)")
    out.add_argument("--install-dir", metavar="PATH", default="/startup", help="root-owned folder unpacked on the instance (default: /startup)")
    out.add_argument("--deadline", metavar="SECONDS", type=_int, default=DEFAULT_DEADLINE_SECONDS,
                     help=f"time the foreground steps may take, 1 to 280 (default: {DEFAULT_DEADLINE_SECONDS})")
    out.add_argument("--compression", choices=("xz", "gzip"), default="xz", help="payload codec (default: xz, the densest)")
    if output:
        out.add_argument("-q", "--quiet", action="store_true", help="do not print the size report")

    feat = p.add_argument_group("features (all off by default)")
    feat.add_argument("--autostop-idle-minutes", metavar="N", type=_int, help="stop the instance after N idle minutes")
    feat.add_argument("--autostop-ignore-connections", action="store_true",
                      help="with autostop: an open browser connection does not count as activity")
    feat.add_argument("--persistent-conda", action="store_true", help="conda environments live on the EBS volume")
    feat.add_argument("--stop-ssm-agent", action="store_true", help="stop and disable amazon-ssm-agent at every start")
    feat.add_argument("--persist-dir", metavar="DIR", action="append", default=[],
                      help="keep this folder of /home/ec2-user on the EBS volume, e.g. .ssh (repeatable)")
    feat.add_argument("--bin-dir", action="store_true", help="~/SageMaker/.bin exists and is on PATH")
    feat.add_argument("--env", metavar="NAME=VALUE", action="append", default=[],
                      help="export NAME to shells, terminals and kernels (repeatable)")
    feat.add_argument("--binary", metavar="NAME=URL[@SHA256]", action="append", default=[],
                      help="download URL into ~/SageMaker/.bin/NAME when missing; SHA256 (64 hex digits, after the "
                      "last '@') is checked (repeatable; turns on --bin-dir)")


def _build(args: argparse.Namespace) -> int:
    on_start_path, on_create_path = _build_outputs(args)
    for folder in (args.dir, args.on_create):
        for target in (on_start_path, on_create_path):
            _refuse_inside(target, folder)
    bundle = _bundle_from(args)
    outputs = [(on_start_path, bundle.on_start_script)]
    if on_create_path is not None:
        outputs.append((on_create_path, bundle.on_create_script))
    written = [(path, text) for path, text in outputs if text is not None]
    _write_all(written)
    if not args.quiet:
        report = sys.stderr if on_start_path is None else sys.stdout
        print(bundle.size_report(), file=report)
        for path, _ in written:
            print(f"wrote {path or '<stdout>'}", file=report)
    return 0


def _bundle_from(args: argparse.Namespace) -> Bundle:
    """The Bundle that the options of build / run-local describe."""
    features = _features(args)
    if args.dir is None and args.on_create is None and features is None:
        raise BundleError(f"{args.command}: give DIR, the folder of your startup scripts, or enable a feature (see --help)")
    with _flag_names(_ON_START_FLAGS):
        on_start = _scripts(args.dir, args.as_root, args.background, args.run)
    with _flag_names(_ON_CREATE_FLAGS):
        on_create = _scripts(args.on_create, args.on_create_as_root, args.on_create_background, args.on_create_run)
    with _flag_names(_ON_START_FLAGS):
        return Bundle(
            on_start, on_create, features,
            install_dir=args.install_dir, deadline_seconds=args.deadline, compression=args.compression,
        )  # fmt: skip


def _scripts(
    folder: Optional[str], as_root: list[str], background: list[str], run: Optional[list[str]]
) -> Optional[StartupScripts]:
    if folder is None:
        return None
    return StartupScripts.from_directory(folder, as_root=as_root, background=background, run=run)


def _build_outputs(args: argparse.Namespace) -> tuple[Optional[Path], Optional[Path]]:
    """(on-start path or None for stdout, on-create path or None when there is no on-create)."""
    on_start = None if args.output == "-" else Path(args.output)
    if args.on_create is None:
        if args.on_create_output is not None:
            raise BundleError("--on-create-output: there is no --on-create folder to build")
        return on_start, None
    if args.on_create_output is not None:
        on_create = Path(args.on_create_output)
    elif on_start is None:
        raise BundleError("--on-create: the on-start script goes to stdout (-o -); give --on-create-output PATH")
    else:
        on_create = on_start.with_name("on-create.sh")
    if on_start is not None and _same_place(on_start, on_create):
        raise BundleError(f"--on-create-output: {on_create} is also the on-start output; choose another path")
    return on_start, on_create


def _refuse_inside(target: Optional[Path], folder: Optional[str]) -> None:
    """An output inside the scripts folder would be packed (and run) by the next build."""
    if target is None or folder is None:
        return
    real_folder = os.path.realpath(folder)
    if os.path.realpath(target).startswith(real_folder + os.sep):
        raise BundleError(f"{target}: this output is inside {folder}, so the next build would pack it; write it elsewhere")


def _features(args: argparse.Namespace) -> Optional[Features]:
    """The Features the flags ask for (None when none is on); a bad value names its flag."""
    flags = (args.autostop_idle_minutes is not None, args.autostop_ignore_connections, args.persistent_conda,
             args.stop_ssm_agent, args.persist_dir, args.bin_dir, args.env, args.binary)
    if not any(flags):
        return None
    autostop = None
    if args.autostop_idle_minutes is not None:
        with _culprit(f"--autostop-idle-minutes {args.autostop_idle_minutes}"):
            autostop = Autostop(args.autostop_idle_minutes, args.autostop_ignore_connections)
    elif args.autostop_ignore_connections:
        raise BundleError("--autostop-ignore-connections: autostop is off; add --autostop-idle-minutes N")
    environment = _environment(args.env)
    binaries = tuple(_binary(spec) for spec in args.binary)
    for d in args.persist_dir:
        with _culprit(f"--persist-dir {d!r}"):
            Features(persist_dirs=(d,))
    with _culprit("--persist-dir"):
        return Features(
            autostop=autostop,
            persistent_conda=args.persistent_conda,
            stop_ssm_agent=args.stop_ssm_agent,
            persist_dirs=tuple(args.persist_dir),
            bin_dir=args.bin_dir,
            environment=environment,
            binaries=binaries,
        )


def _environment(specs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        with _culprit(f"--env {spec!r}"):
            if not sep:
                raise BundleError("write NAME=VALUE")
            if name in env:
                raise BundleError(f"{name} is given twice; give each variable once")
            Features(environment={name: value})
        env[name] = value
    return env


def _binary(spec: str) -> Binary:
    """NAME=URL[@SHA256]: the SHA256 is what follows the last '@', unless that holds '/', ':' or '.'.

    So ``https://user@host/tool`` and ``https://host/pkg@1.2.3`` are plain URLs.
    """
    with _culprit(f"--binary {spec!r}"):
        name, sep, rest = spec.partition("=")
        if not sep:
            raise BundleError("write NAME=URL or NAME=URL@SHA256")
        url, at, digest = rest.rpartition("@")
        if not at or any(c in digest for c in "/:."):
            url, digest = rest, ""
        return Binary(name, url, digest or None)


# -- inspect ---------------------------------------------------------------------------------

_INSPECT_DESCRIPTION = """\
Show what lifecycle scripts made by notebook-lifecycle hold: version, install
dir, deadline, files, run plan and size budget. FILE is an on-start/on-create
script, its base64 content (as CloudFormation or the SageMaker API hold it), a
synthesized CloudFormation template (JSON; every lifecycle configuration in it
is shown), or the JSON of `aws sagemaker describe-notebook-instance-lifecycle-config`.
'-' reads standard input.
"""


def _add_inspect(sub: Any) -> None:
    p = _command(sub, "inspect", _inspect, "show the files, run plan and size of lifecycle scripts", _INSPECT_DESCRIPTION)
    p.add_argument("file", metavar="FILE", help="script, base64 content or JSON template; '-' for stdin")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _inspect(args: argparse.Namespace) -> int:
    bundles = _bundles_in(args.file)
    if args.json:
        print(json.dumps([_describe(b) for b in bundles], indent=2))
    else:
        print("\n\n".join(_render(b) for b in bundles))
    return 0


def _describe(b: FoundBundle) -> dict[str, Any]:
    return {
        "label": b.label,
        "hook": b.hook,
        "version": b.version,
        "install_dir": b.install_dir,
        "deadline_seconds": b.deadline_seconds,
        "compression": b.compression,
        "content_length": b.content_length,
        "limit": b.limit,
        "headroom": b.headroom,
        "files": [{"path": f.path, "mode": f"{f.mode:04o}", "bytes": len(f.data)} for f in b.files],
        "plan": [e.as_dict() for e in b.plan],
    }


def _render(b: FoundBundle) -> str:
    budget = f"headroom {b.headroom}" if b.headroom >= 0 else f"OVER THE LIMIT by {-b.headroom}"
    lines = [
        f"{b.label}: notebook-lifecycle {b.version}, {b.hook}, {b.compression}",
        f"  install dir  {b.install_dir}",
        f"  deadline     {b.deadline_seconds} s",
        f"  size         {b.content_length} of {b.limit} characters ({budget})",
        "  files",
        f"    {'MODE':<5} {'BYTES':>7}  PATH",
    ]
    lines += [f"    {f.mode:04o}  {len(f.data):>7}  {f.path}" for f in b.files]
    width = max([len(e.name) for e in b.plan] + [4])
    lines += ["  plan", f"    {'#':>2}  {'NAME':<{width}}  {'USER':<8}  {'RUNS':<10}  HOW"]
    for i, e in enumerate(b.plan, start=1):
        runs = "background" if e.background else "foreground"
        where = f"  ({e.path})" if e.path != e.name else ""
        lines.append(f"    {i:>2}  {e.name:<{width}}  {e.user:<8}  {runs:<10}  {e.how}{where}")
    return "\n".join(lines)


# -- unpack ----------------------------------------------------------------------------------

_UNPACK_DESCRIPTION = """\
Write the files of every bundle found in FILE (see `inspect` for what FILE may
be) into DIR/<label>/: the user's files, the run plan and the runner, modes
kept, exactly as they land in the install dir on the instance. A label such as
MyConfig/on-start becomes the folder DIR/MyConfig/on-start. Nothing is written
outside DIR, and nothing at all when there is an error.
"""


def _add_unpack(sub: Any) -> None:
    p = _command(sub, "unpack", _unpack, "write the files of lifecycle scripts into a folder", _UNPACK_DESCRIPTION)
    p.add_argument("file", metavar="FILE", help="script, base64 content or JSON template; '-' for stdin")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="folder to write into (created if missing)")
    p.add_argument("--force", action="store_true", help="replace bundle folders that already exist in DIR")


def _unpack(args: argparse.Namespace) -> int:
    root = Path(args.output)
    targets = _unpack_targets(_bundles_in(args.file), root, replace=args.force)
    with _os_errors("cannot write"):
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".notebook-lifecycle-unpack-", dir=root))
        try:
            for rel, bundle in targets.items():
                _write_bundle(staging / rel, bundle)
            for rel in targets:  # all written: move them into place
                final = root / rel
                if final.exists():
                    shutil.rmtree(final)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for rel, bundle in targets.items():
        print(f"{bundle.label}: {len(bundle.files)} files in {root / rel}")
    return 0


def _unpack_targets(bundles: Sequence[FoundBundle], root: Path, *, replace: bool) -> dict[str, FoundBundle]:
    """Folder (relative to ``root``) of each bundle, checked: inside ``root``, one per bundle, free."""
    if root.exists() and not root.is_dir():
        raise BundleError(f"-o: {root} is not a folder")
    real_root = os.path.realpath(root)
    targets: dict[str, FoundBundle] = {}
    for b in bundles:
        rel = _safe_rel(b.label)
        if rel in targets:
            raise BundleError(f"{b.label} and {targets[rel].label} would both unpack into {rel}")
        for f in b.files:
            _check_member(f.path, b.label)
        final = root / rel
        if not os.path.realpath(final).startswith(real_root + os.sep):
            raise BundleError(f"{final}: a symlink leads outside {root}; refusing to write there")
        if final.exists() and not replace:
            raise BundleError(f"{final} already exists; remove it or pass --force")
        targets[rel] = b
    return targets


def _safe_rel(label: str) -> str:
    """A label as a relative folder: each part reduced to [A-Za-z0-9._-], never '.' or '..'."""
    parts = [re.sub(r"[^A-Za-z0-9._-]", "_", part) for part in label.split("/") if part]
    parts = ["_" if set(part) <= {"."} else part for part in parts]
    return "/".join(parts) or "_"


def _check_member(path: str, label: str) -> None:
    posix = PurePosixPath(path)
    if not path or posix.is_absolute() or ".." in posix.parts or "\\" in path:
        raise BundleError(f"{label}: the payload holds {path!r}, a path outside the install dir; refusing to write it")


def _write_bundle(folder: Path, bundle: FoundBundle) -> None:
    for f in bundle.files:
        target = folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), f.mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(f.data)
        os.chmod(target, f.mode)


# -- run-local -------------------------------------------------------------------------------

_RUN_LOCAL_DESCRIPTION = """\
Boot the on-start (and, on the first start, the on-create) script in the notebook-instance
emulator: a throwaway copy of this machine's root filesystem in a private mount namespace,
with a user ec2-user, /home/ec2-user/SageMaker kept between restarts, and recording stubs
for systemctl and the SSM agent. Prints each step's user, status and seconds, the total
against the 5-minute limit, and what would have failed on a real instance.

TARGET is a folder of startup scripts (built as `build` would, with the same options), an
on-start script (ours or hand-written), or a synthesized CloudFormation template. Needs
Linux and root.
Exit status: 0 every hook would have succeeded, 1 a hook would have failed the start, 2 error.
"""


def _add_run_local(sub: Any) -> None:
    p = _command(sub, "run-local", _run_local, "boot the lifecycle scripts in the local notebook emulator",
                 _RUN_LOCAL_DESCRIPTION)
    _add_bundle_options(p, output=False)
    emu = p.add_argument_group("emulator")
    emu.add_argument("--restarts", metavar="N", type=_int, default=1,
                     help="restarts after the first start (default: 1); only ~/SageMaker survives them")
    emu.add_argument("--state", metavar="DIR", help="keep the instance's volume (~/SageMaker) in DIR (default: a temporary folder)")
    emu.add_argument("--platform", choices=("al2023", "al2"), default="al2023",
                     help="al2023: systemd, no cron (default); al2: systemd and cron")
    emu.add_argument("--config", metavar="LOGICAL_ID", help="with a template holding several lifecycle configs: the one to run")


def _run_local(args: argparse.Namespace) -> int:
    from . import emulator  # the emulator is only needed here

    if args.restarts < 0:
        raise BundleError(f"--restarts: {args.restarts} must be 0 or more")
    on_start, on_create = _hooks_to_run(args)
    reason = emulator.unavailable_reason()
    if reason:
        raise BundleError(reason)
    with contextlib.ExitStack() as stack:
        state = args.state or stack.enter_context(tempfile.TemporaryDirectory(prefix="notebook-lifecycle-state-"))
        emu = emulator.Emulator(state, platform=args.platform)
        boots = [emu.start(on_start, on_create)]
        boots += [emu.run(on_start) for _ in range(args.restarts) if on_start is not None]
    failed = []
    for number, result in enumerate(boots, start=1):
        print(f"boot {number} ({'first start' if number == 1 else 'restart'}, {args.platform})")
        for hook in (*result.earlier, result):
            print(_describe_hook(hook))
            if hook.failed:
                failed.append(f"boot {number} {hook.hook}: {hook.reason}")
    if failed:
        print("a real instance would have FAILED to start: " + "; ".join(failed))
        return 1
    print("a real instance would have started: every hook exited 0 within the 300 s limit")
    return 0


def _hooks_to_run(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """(on-start, on-create) scripts from a folder, a script file or a template."""
    target = args.dir
    if target is None or Path(target).is_dir():
        bundle = _bundle_from(args)
        return bundle.on_start_script, bundle.on_create_script
    try:
        found = _bundles_in(target)
    except BundleError:
        # not one of ours: a hand-written lifecycle script runs as it is
        with _os_errors("cannot read"):
            text = Path(target).read_text(encoding="utf-8", errors="replace")
        if text.lstrip().startswith("{"):
            raise
        return text, None
    configs = sorted({b.label.rsplit("/", 1)[0] for b in found if "/" in b.label})
    if len(configs) > 1 or args.config:
        if args.config not in configs:
            raise BundleError(f"--config: give one of {', '.join(configs) or '(none)'} to choose the lifecycle config to run")
        found = [b for b in found if b.label.rsplit("/", 1)[0] == args.config]
    by_hook = {b.hook: b.script for b in found}
    return by_hook.get("on-start"), by_hook.get("on-create")


def _describe_hook(result: Any) -> str:
    verdict = f"FAILED: {result.reason}" if result.failed else "ok"
    lines = [f"  {result.hook}: {verdict}, {result.seconds:.2f} s of the 300 s limit"]
    table = _summary_table(result.output, result.hook)
    lines += [f"    {row}" for row in table] or ["    (no step summary: the runner did not finish; output tail below)"]
    failed_steps = [row.split()[0] for row in table[1:] if "failed(" in row]
    if failed_steps:
        lines.append(f"    failed steps (logged; they do not fail the start): {', '.join(failed_steps)}")
    lines += [f"    stubbed call: {call}" for call in result.calls]
    if result.failed or not table:
        lines += [f"    | {line}" for line in result.output.rstrip("\n").splitlines()[-15:]]
    return "\n".join(lines)


def _summary_table(output: str, hook: str) -> list[str]:
    """The rows of the runner's last summary table (header first), plus its total line."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line == f"notebook-lifecycle summary ({hook})"]
    if not starts:
        return []
    rows = []
    for line in lines[starts[-1] + 1 :]:
        if not line.strip():
            break
        rows.append(line)
        if line.startswith("total "):
            break
    return rows


#: Every subcommand: a function that adds its parser (and handler) to the subparsers.
_COMMANDS: list[Callable[[Any], None]] = [_add_build, _add_inspect, _add_unpack, _add_run_local]


# -- helpers ---------------------------------------------------------------------------------


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


@contextlib.contextmanager
def _culprit(prefix: str) -> Iterator[None]:
    """Prefix a BundleError raised inside with the flag (and value) that caused it."""
    try:
        yield
    except BundleError as exc:
        raise BundleError(f"{prefix}: {exc}") from None


@contextlib.contextmanager
def _flag_names(names: dict[str, str]) -> Iterator[None]:
    """Rename a leading 'field:' of a core message to the flag that sets it."""
    try:
        yield
    except BundleError as exc:
        message = str(exc)
        field, sep, rest = message.partition(":")
        if sep and field in names:
            message = f"{names[field]}:{rest}"
        raise BundleError(message) from None


@contextlib.contextmanager
def _os_errors(doing: str) -> Iterator[None]:
    """An OSError becomes a one-line BundleError naming the file."""
    try:
        yield
    except OSError as exc:
        raise BundleError(f"{exc.filename or '?'}: {doing} ({exc.strerror or exc})") from None


def _bundles_in(name: str) -> list[FoundBundle]:
    """The bundles in file ``name`` ('-': standard input); errors name the file."""
    where = "<stdin>" if name == "-" else name
    if name == "-":
        data = sys.stdin.buffer.read()
    elif Path(name).is_dir():
        raise BundleError(f"{name}: is a folder; give a script, its base64 or a template file (cdk.out/<Stack>.template.json)")
    else:
        with _os_errors("cannot read"):
            data = Path(name).read_bytes()
    with _culprit(where):
        return read_bundles(data)


def _same_place(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _write_all(outputs: Sequence[tuple[Optional[Path], str]]) -> None:
    """Write every output, or none: each goes to a temporary file first, renamed at the end.

    A ``None`` path means standard output.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in outputs:
            if path is None:
                continue
            if path.is_dir():
                raise BundleError(f"{path}: is a folder; give a file name for the script")
            if not path.parent.is_dir():
                raise BundleError(f"{path}: the folder {path.parent} does not exist; create it first")
            with _os_errors("cannot write"):
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                staged.append((tmp, path))
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
                os.chmod(tmp, 0o644)
        for path, text in outputs:
            if path is None:
                sys.stdout.write(text)
                sys.stdout.flush()
        with _os_errors("cannot write"):
            for tmp, path in staged:
                os.replace(tmp, path)
        staged.clear()
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
