"""``notebook-lifecycle inspect``: what a script, its base64 or a template holds."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..unbundle import FoundBundle
from ._common import _bundles_in, _command


_INSPECT_DESCRIPTION = """\
Show what lifecycle scripts made by notebook-lifecycle hold: version, install
dir, deadline, files, run plan and size budget. An S3 lifecycle script (delivery
s3) shows what it fetches (bucket, key, sha256, size); its files and plan are
shown when the object is next to FILE (as KEY, which `build` writes, or
asset.KEY, which `cdk synth` stages) and its sha256 matches. FILE is an on-start/on-create
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
        "deploy_time_values": dict(b.deploy_values),
        "delivery": b.delivery,
        **({"s3": b.s3.as_dict()} if b.s3 is not None else {}),
    }


def _render(b: FoundBundle) -> str:
    budget = f"headroom {b.headroom}" if b.headroom >= 0 else f"OVER THE LIMIT by {-b.headroom}"
    lines = [
        f"{b.label}: notebook-lifecycle {b.version}, {b.hook}, {b.compression}",
        f"  install dir  {b.install_dir}",
        f"  deadline     {b.deadline_seconds} s",
        f"  size         {b.content_length} of {b.limit} characters ({budget})",
    ]
    if b.s3 is not None:
        s3 = b.s3
        lines += [
            f"  delivery     s3: fetches s3://{s3.bucket}/{s3.key}" + (f" ({s3.region})" if s3.region else ""),
            f"  object       {s3.size} bytes, sha256 {s3.sha256} (nothing else is unpacked)",
            f"  fetch        at most {s3.fetch_seconds} s",
        ]
        if s3.bucket_expression is not None:
            lines.append(f"  bucket       {json.dumps(s3.bucket_expression)}")
        if not b.files:
            lines.append("  files        not here: the payload is the S3 object (put it next to FILE as KEY or asset.KEY)")
    lines += [
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
    if b.deploy_values:  # filled in by CloudFormation; the size counts each at 256 bytes
        lines.append("  deploy-time values (size counted at 256 bytes each)")
        lines += [f"    <deploy-time value {n}>  {json.dumps(v)}" for n, v in b.deploy_values.items()]
    return "\n".join(lines)
