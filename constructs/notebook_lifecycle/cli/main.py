"""The parser, :func:`main` and the registry of subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional, Sequence

from .. import __version__
from ..errors import BundleError
from ._common import PROG, Handler, _Parser
from .build import _add_build
from .diff import _add_diff
from .inspect import _add_inspect
from .logs import _add_logs
from .pull import _add_pull
from .run_local import _add_run_local
from .status import _add_status
from .unpack import _add_unpack


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 differs / not found where a command says, 2 error)."""
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


_EPILOG = """\
examples:
  notebook-lifecycle build startup/ --as-root 10-packages.sh --autostop-idle-minutes 60
  notebook-lifecycle inspect cdk.out/MyStack.template.json
  notebook-lifecycle unpack on-start.sh -o review/
  notebook-lifecycle run-local startup/ --as-root 10-packages.sh --restarts 2
  notebook-lifecycle status --region eu-west-1
  notebook-lifecycle logs my-notebook --hook on-start --since 1h
  notebook-lifecycle pull my-config adopted/
  notebook-lifecycle diff my-config startup/ --as-root 10-packages.sh
"""


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Turn a folder of startup scripts (plus feature flags) into one SageMaker "
        "notebook-instance lifecycle script, read such scripts back, and compare them with what an "
        "AWS account runs.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


#: Every subcommand: a function that adds its parser (and handler) to the subparsers.
_COMMANDS: list[Callable[[Any], None]] = [
    _add_build, _add_inspect, _add_unpack, _add_run_local,
    _add_status, _add_logs, _add_pull, _add_diff,
]  # fmt: skip
