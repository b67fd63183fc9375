"""The parser, :func:`main` and the registry of subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional, Sequence

from .. import __version__
from ..errors import BundleError
from ._common import PROG, Handler, _Parser
from .build import _add_build
from .inspect import _add_inspect
from .run_local import _add_run_local
from .unpack import _add_unpack


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


#: Every subcommand: a function that adds its parser (and handler) to the subparsers.
_COMMANDS: list[Callable[[Any], None]] = [_add_build, _add_inspect, _add_unpack, _add_run_local]
