"""Shared by the commands: the parser class, error helpers, atomic writes, and the bundle options of build and run-local."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Optional, Sequence

from ..bundle import DEFAULT_DEADLINE_SECONDS, Bundle
from ..errors import BundleError
from ..features import Autostop, Binary, Features
from ..scripts import StartupScripts
from ..unbundle import FoundBundle, read_bundles, with_payload


PROG = "notebook-lifecycle"


Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        raise BundleError(f"{message} (see: {self.prog} --help)")


def _command(sub: Any, name: str, handler: Handler, summary: str, description: str = "") -> _Parser:
    parser: _Parser = sub.add_parser(
        name,
        help=summary,
        description=description or summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, command=name)
    return parser


# Core messages name the Python field; on the command line, name the flag instead.
_ON_START_FLAGS = {
    "as_root": "--as-root",
    "background": "--background",
    "run": "--run",
    "install_dir": "--install-dir",
    "deadline_seconds": "--deadline",
    "compression": "--compression",
    "delivery": "--delivery",
}
_ON_CREATE_FLAGS = {"as_root": "--on-create-as-root", "background": "--on-create-background", "run": "--on-create-run"}


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
        s3 = p.add_argument_group("delivery (how the payload reaches the instance)")
        s3.add_argument("--delivery", choices=("auto", "inline", "s3"), default="auto",
                        help="inline: in the script (over 16,384 characters is an error); s3: the payload is an "
                             "S3 object you upload, the script fetches it; auto (default): inline when it fits")
        s3.add_argument("--s3-bucket", metavar="NAME", help="bucket the payload is uploaded to (needed for S3 delivery)")
        s3.add_argument("--s3-key", metavar="KEY",
                        help="object key (default: the payload's SHA256.tar.xz / .tar.gz, written next to the script)")
        s3.add_argument("--s3-region", metavar="REGION", help="the bucket's region (default: the instance's)")

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
            delivery=getattr(args, "delivery", "inline"),
        )  # fmt: skip


def _scripts(
    folder: Optional[str], as_root: list[str], background: list[str], run: Optional[list[str]]
) -> Optional[StartupScripts]:
    if folder is None:
        return None
    return StartupScripts.from_directory(folder, as_root=as_root, background=background, run=run)


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
        found = read_bundles(data)
        if name != "-":
            found = [_with_local_payload(b, Path(name).parent) for b in found]
        return found


def _with_local_payload(b: FoundBundle, folder: Path) -> FoundBundle:
    """An S3 lifecycle script with its payload, when the object is in ``folder`` next to the script or
    template (``build --delivery s3`` writes ``KEY`` there; ``cdk synth`` stages ``asset.KEY``) and its
    sha256 is the one the script carries; otherwise as it is (what it fetches, no files)."""
    if b.s3 is None:
        return b
    name = b.s3.key.rsplit("/", 1)[-1]
    for candidate in (folder / name, folder / f"asset.{name}"):
        try:
            return with_payload(b, candidate.read_bytes())
        except (OSError, BundleError):
            continue
    return b


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
