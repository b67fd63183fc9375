"""``notebook-lifecycle diff``: a deployed lifecycle configuration against what a folder builds."""

from __future__ import annotations

import argparse
import difflib
import hashlib
from typing import Any, Optional

from ..bundle import RUNNER_PATH
from ..scripts import PackedFile
from ..unbundle import DeployedHook, FoundBundle, content_fingerprint, read_deployed_config, read_script
from ._aws import Aws, add_aws_options, describe_lifecycle_config
from ._common import _add_bundle_options, _bundle_from, _command


_DIFF_DESCRIPTION = """\
Compare lifecycle configuration CONFIG as deployed with what DIR (and the same
options as `build`) would build, hook by hook and file by file: a unified diff
of each text file and of the run plan (deployed/<hook>/PATH against
built/<hook>/PATH), size and sha256 of binaries and of the runner, and the
version, install dir, deadline and compression when they differ. A deployed
script not built by notebook-lifecycle is compared as script text.
Byte-identical scripts are equal; so are scripts whose files, plan and settings
are all equal (compressors of other builds may emit other bytes).
Needs boto3 (the aws extra).
Exit status: 0 equal, 1 they differ, 2 error.
"""


def _add_diff(sub: Any) -> None:
    p = _command(sub, "diff", _diff, "compare a deployed lifecycle configuration with what a folder builds",
                 _DIFF_DESCRIPTION)
    p.add_argument("config", metavar="CONFIG", help="lifecycle configuration name")
    _add_bundle_options(p, output=False)
    add_aws_options(p)


def _diff(args: argparse.Namespace) -> int:
    bundle = _bundle_from(args)  # local errors first, before any AWS call
    built = {h: read_script(bundle.script(h) or "", label=h) for h in bundle.hooks}
    aws = Aws(args)
    deployed = {h.hook: h for h in read_deployed_config(describe_lifecycle_config(aws, args.config), label=args.config)}
    differences: list[list[str]] = []  # one entry per difference, as the lines that show it
    for hook in sorted(set(built) | set(deployed), key=lambda h: (h != "on-start", h)):
        d = deployed.get(hook)
        if d is not None and d.bundle is not None and d.bundle.s3 is not None and hook in built:
            # an S3 fetcher: the same payload (sha256) is the same bundle; otherwise compare the object's files
            if d.bundle.s3.sha256 == bundle.payload_sha256(hook):
                continue
            from .pull import _fetch_payload

            fetched, note = _fetch_payload(aws, d.bundle)
            if not fetched.files:
                differences.append([f"{hook}: the deployed S3 payload (sha256 {d.bundle.s3.sha256[:12]}) is not what "
                                    f"the folder builds (sha256 {(bundle.payload_sha256(hook) or '')[:12]}); {note}"])
                continue
            differences += _diff_bundles(hook, fetched, built[hook])
            continue
        differences += _diff_hook(hook, d, built.get(hook))
    for lines in differences:
        print("\n".join(lines))
    source = args.dir or "the features"
    if differences:
        count = len(differences)
        print(f"{args.config} differs from what {source} builds ({count} difference{'s' if count > 1 else ''})")
        return 1
    fingerprint = content_fingerprint({h: d.content for h, d in deployed.items()})
    print(f"{args.config} is what {source} builds (fingerprint {fingerprint[:12]})")
    return 0


def _diff_hook(hook: str, deployed: Optional[DeployedHook], built: Optional[FoundBundle]) -> list[list[str]]:
    if deployed is None:
        return [[f"{hook}: not deployed; the folder builds one ({len(built.files) if built else 0} files)"]]
    if built is None:
        return [[f"{hook}: deployed ({deployed.kind}), but the folder builds none"]]
    if deployed.content == built.content:
        return []
    if deployed.bundle is None:
        note = f"{hook}: the deployed script is not built by notebook-lifecycle ({deployed.kind}); comparing script text"
        return [[note, *_unified(deployed.script or deployed.content, built.script, f"deployed/{hook}.sh", f"built/{hook}.sh")]]
    return _diff_bundles(hook, deployed.bundle, built)


def _diff_bundles(hook: str, old: FoundBundle, new: FoundBundle) -> list[list[str]]:
    out = [[f"{hook}: {what} {a} -> {b}"] for what, a, b in (
        ("version", old.version, new.version),
        ("install dir", old.install_dir, new.install_dir),
        ("deadline", old.deadline_seconds, new.deadline_seconds),
        ("compression", old.compression, new.compression),
    ) if a != b]  # fmt: skip
    before = {f.path: f for f in old.files}
    after = {f.path: f for f in new.files}
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a is not None and b is not None and a.data == b.data:
            if a.mode != b.mode:
                out.append([f"{hook}/{path}: mode {a.mode:04o} -> {b.mode:04o}"])
            continue
        left, right = f"deployed/{hook}/{path}", f"built/{hook}/{path}"
        text_a, text_b = _text(a), _text(b)
        if path != RUNNER_PATH and text_a is not False and text_b is not False:
            lines = _unified(text_a or "", text_b or "", left if a else "/dev/null", right if b else "/dev/null")
        else:
            lines = [f"{hook}/{path}: {_summary(a)} -> {_summary(b)}"]
        if a is not None and b is not None and a.mode != b.mode:
            lines.append(f"{hook}/{path}: mode {a.mode:04o} -> {b.mode:04o}")
        out.append(lines)
    return out


def _text(f: Optional[PackedFile]) -> Any:
    """The file's text, None for no file, False for a binary."""
    if f is None:
        return None
    if b"\0" in f.data:
        return False
    try:
        return f.data.decode("utf-8")
    except UnicodeDecodeError:
        return False


def _summary(f: Optional[PackedFile]) -> str:
    if f is None:
        return "(none)"
    return f"{len(f.data)} bytes sha256 {hashlib.sha256(f.data).hexdigest()[:16]}"


def _unified(a: str, b: str, left: str, right: str) -> list[str]:
    return [line.rstrip("\n") for line in difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), fromfile=left, tofile=right, lineterm="\n")]
