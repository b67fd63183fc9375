"""``notebook-lifecycle build``: a folder (plus feature flags) becomes on-start.sh."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Optional

from ..errors import BundleError
from ._common import _add_bundle_options, _bundle_from, _command, _same_place, _write_all


_BUILD_DESCRIPTION = """\
Bundle the startup scripts in DIR (and the enabled features) into one on-start
lifecycle script, and print its size budget (16,384 characters of base64).

Without --run, the top-level *.sh files of DIR run in lexical order; with --run,
exactly the files named, in that order. Scripts run as ec2-user unless named by
--as-root; --background scripts are started detached and not waited for.
Feature steps run before your scripts. Nothing is written when there is an error.
"""


def _add_build(sub: Any) -> None:
    p = _command(sub, "build", _build, "build the on-start (and on-create) lifecycle script", _BUILD_DESCRIPTION)
    _add_bundle_options(p, output=True)


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
