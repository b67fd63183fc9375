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

Delivery. With --delivery s3, or auto when the inline script would exceed 16,384
characters, the payload (the compressed tarball) is written next to the script as
KEY's file name (default SHA256.tar.xz) and the script is a small fetcher that
downloads s3://BUCKET/KEY with the instance role's credentials and unpacks it only
if its sha256 matches. Upload the payload to that key yourself (the command is
printed); the role needs s3:GetObject on arn:aws:s3:::BUCKET/KEY. --s3-bucket is
needed for S3 delivery. Build prints what it left out of DIR (excluded files).
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
    errors = bundle.size_errors()
    if errors:
        raise BundleError(errors[0])
    outputs: list[tuple[Optional[Path], Optional[str]]] = []
    payloads: list[tuple[Path, bytes, str]] = []
    for hook, path in (("on-start", on_start_path), ("on-create", on_create_path)):
        if hook not in bundle.hooks or (hook == "on-create" and path is None):
            continue
        if bundle.delivery_of(hook) == "s3":
            script, payload_path, key = _s3_script(args, bundle, hook, path)
            outputs.append((path, script))
            payloads.append((payload_path, bundle.payload(hook) or b"", key))
        else:
            outputs.append((path, bundle.script(hook)))
    written = [(path, text) for path, text in outputs if text is not None]
    _write_all(written)
    for payload_path, data, _ in payloads:
        _write_bytes(payload_path, data)
    if not args.quiet:
        report = sys.stderr if on_start_path is None else sys.stdout
        print(bundle.size_report(), file=report)
        for hook in bundle.hooks:
            if bundle.delivery == "auto":
                print(bundle.delivery_reason(hook), file=report)
        for scripts in (bundle.on_start, bundle.on_create):
            for e in (scripts.excluded if scripts is not None else ()):
                print(f"left out {e.path} (exclude pattern {e.pattern})", file=report)
        for path, _ in written:
            print(f"wrote {path or '<stdout>'}", file=report)
        for payload_path, data, key in payloads:
            print(f"wrote {payload_path} ({len(data)} bytes); upload it: aws s3 cp {payload_path} "
                  f"s3://{args.s3_bucket}/{key}", file=report)
    return 0


def _s3_script(args: argparse.Namespace, bundle: Any, hook: str, path: Optional[Path]) -> tuple[str, Path, str]:
    """The S3 fetcher script of ``hook``, the payload's file (next to the script) and the object key."""
    why = "--delivery s3"
    if args.delivery != "s3":
        size = next(h for h in bundle.size_report().hooks if h.hook == hook)
        worst = ", ".join(f"{f.path} (~{f.approx_chars})" for f in size.costliest(3))
        why = (
            f"the inline script is {size.inline_total} characters after base64, over SageMaker's limit of "
            f"{size.limit} by {size.inline_total - size.limit}; the costliest files are {worst}"
        )
    if not args.s3_bucket:
        raise BundleError(
            f"--s3-bucket: {hook} goes through S3 ({why}); give the bucket you will upload the payload to "
            "(--s3-bucket NAME), or --delivery inline with a smaller folder"
        )
    if path is None:
        raise BundleError(f"-o: {hook} goes through S3 ({why}), and its payload is written next to the script; "
                          "give a file path instead of '-'")
    ext = "xz" if bundle.compression == "xz" else "gz"
    key = args.s3_key or f"{bundle.payload_sha256(hook)}.tar.{ext}"
    if hook == "on-create" and args.s3_key:
        key = f"{args.s3_key}.on-create"
    from ..delivery import s3_script_parts

    parts = s3_script_parts(bundle, hook, key=key, bucket=args.s3_bucket, region=args.s3_region)
    if len(parts) != 1:
        raise BundleError(f"{hook}: the script holds deploy-time values; build cannot fill them in")
    return str(parts[0]), path.with_name(key.rsplit("/", 1)[-1]), key


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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
