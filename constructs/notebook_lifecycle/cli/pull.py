"""``notebook-lifecycle pull``: a deployed lifecycle configuration, back into a folder."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional

from ..bundle import DEFAULT_DEADLINE_SECONDS, PLAN_PATH
from ..errors import BundleError
from ..scripts import PackedFile
from ..unbundle import DeployedHook, FoundBundle, is_safe_relative_path, read_deployed_config, with_payload
from ._aws import Aws, add_aws_options, describe_lifecycle_config
from ._common import _command, _os_errors


_PULL_DESCRIPTION = """\
Download lifecycle configuration CONFIG (DescribeNotebookInstanceLifecycleConfig)
into the folder DIR, one set of files per hook (on-start, on-create):

  DIR/<hook>.sh     the script as deployed (always)
  DIR/<hook>/       built by notebook-lifecycle: the user's files, modes kept, a
                    folder `build` and `diff` take again (the printed command
                    rebuilds it); a hand-written script carrying inline tar | base64
                    payloads (echo "H4sI..." | base64 -d | tar xz -C /startup,
                    heredocs of base64): what they unpack to (DIR/<hook>/1/,
                    DIR/<hook>/2/, ... when there are several)
  DIR/<hook>.plan   built by notebook-lifecycle: the run plan (name, user, fg|bg, how, path)

A hand-written script without payload gives back the script alone. Nothing is
written outside DIR: an archive member with an absolute path or '..' is refused
(and nothing is written); links and special files in archives are skipped and
listed. DIR must be empty or missing unless --force, which replaces only what
pull writes. Needs boto3 (the aws extra). Exit status: 0 ok, 2 error.
"""


def _add_pull(sub: Any) -> None:
    p = _command(sub, "pull", _pull, "download a deployed lifecycle configuration into a folder", _PULL_DESCRIPTION)
    p.add_argument("config", metavar="CONFIG", help="lifecycle configuration name")
    p.add_argument("dir", metavar="DIR", help="folder to write into (created if missing; must be empty unless --force)")
    p.add_argument("--force", action="store_true", help="write into a folder that is not empty, replacing what pull writes")
    add_aws_options(p)


def _pull(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    _check_root(root, args.force)
    aws = Aws(args)
    config = describe_lifecycle_config(aws, args.config)
    hooks = read_deployed_config(config, label=args.config)
    if not hooks:
        raise BundleError(f"lifecycle configuration {args.config!r} has no on-start or on-create script; nothing to pull")
    outputs: dict[str, Optional[list[PackedFile]]] = {}  # relative path -> files of a folder (None: see texts)
    texts: dict[str, bytes] = {}
    report: list[str] = []
    for hook in hooks:
        report += _plan_hook(args.config, hook, root, outputs, texts, aws)
    _write(root, outputs, texts)
    for line in report:
        print(line)
    return 0


def _check_root(root: Path, force: bool) -> None:
    if root.exists() and not root.is_dir():
        raise BundleError(f"{root}: not a folder; give a folder to pull into")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise BundleError(f"{root}: the folder is not empty; give an empty or new folder, or pass --force")


def _fetch_payload(aws: Optional[Aws], b: FoundBundle) -> tuple[FoundBundle, str]:
    """The S3 script ``b`` with the files of the object it fetches (downloaded with these credentials and
    checked against its sha256), or ``b`` as it is and why not."""
    assert b.s3 is not None
    s3 = b.s3
    where = f"s3://{s3.bucket}/{s3.key}"
    if s3.bucket.startswith("<"):
        return b, f"it fetches {where}, a bucket known only at deploy time"
    if aws is None:
        return b, f"it fetches {where}; no AWS session to download it with"
    try:
        body = aws.call("s3", "get_object", Bucket=s3.bucket, Key=s3.key)["Body"].read()
        return with_payload(b, body), f"payload {where}"
    except BundleError as exc:
        return b, f"cannot use the payload {where}: {exc}"


def _plan_hook(config: str, hook: DeployedHook, root: Path, outputs: dict[str, Optional[list[PackedFile]]],
               texts: dict[str, bytes], aws: Optional[Aws] = None) -> list[str]:
    """Decide what one hook writes (into ``outputs`` / ``texts``); return the lines to report."""
    name = hook.hook.replace("[", "-").replace("]", "")
    where = f"{config}/{hook.hook}"
    if hook.script is None:
        texts[f"{name}.content"] = hook.content.encode()
        return [f"{where}: the content is not base64 of text; kept as {root / (name + '.content')}"]
    texts[f"{name}.sh"] = hook.script.encode()
    if hook.bundle is not None and hook.bundle.s3 is not None:
        b, note = _fetch_payload(aws, hook.bundle)
        if not b.files:
            return [f"{where}: notebook-lifecycle {b.version} S3 fetcher, script in {root / (name + '.sh')}; {note}"]
    if hook.bundle is not None:
        b = hook.bundle if hook.bundle.s3 is None else b
        files = list(b.user_files)
        _refuse_unsafe(where, "the bundle", (f.path for f in files))
        outputs[name] = files
        texts[f"{name}.plan"] = b.file(PLAN_PATH).data
        return [
            f"{where}: notebook-lifecycle {b.version} bundle, {len(files)} files in {root / name}, "
            f"plan in {root / (name + '.plan')}, script in {root / (name + '.sh')}",
            f"  rebuild: {_rebuild_command(b, root / name)}",
        ]
    lines = [f"{where}: hand-written script in {root / (name + '.sh')}"]
    several = len(hook.payloads) > 1
    for payload in hook.payloads:
        label = f"payload {payload.number} (line {payload.line}, {payload.kind})"
        _refuse_unsafe(where, label, (f.path for f in payload.files))
        folder = f"{name}/{payload.number}" if several else name
        outputs[folder] = list(payload.files)
        into = f", unpacked into {payload.target} on the instance" if payload.target else ""
        lines.append(f"  {label}{into}: {len(payload.files)} files in {root / folder}")
        lines += [f"    skipped {s}" for s in payload.skipped]
    if not hook.payloads:
        lines.append("  no inline payload found")
    return lines


def _refuse_unsafe(where: str, what: str, paths: Iterable[str]) -> None:
    for path in paths:
        if not is_safe_relative_path(path):
            raise BundleError(f"{where}: {what} holds {path!r}, a path outside its folder; "
                              "refusing to write it (nothing was written)")


def _rebuild_command(b: FoundBundle, folder: Path) -> str:
    """The `build` command that gives this bundle again (feature flags are only named)."""
    hook_flag = "" if b.hook == "on-start" else "on-create-"
    words = ["notebook-lifecycle", "build"]
    words += [str(folder)] if b.hook == "on-start" else ["--on-create", str(folder)]
    user = [e for e in b.plan if not e.path.startswith(".notebook-lifecycle/")]
    default_order = sorted(f.path for f in b.user_files if "/" not in f.path and f.path.endswith(".sh"))
    if [e.path for e in user] != default_order:
        for e in user:
            words += [f"--{hook_flag}run", e.name]
    words += [w for e in user if e.user == "root" for w in (f"--{hook_flag}as-root", e.name)]
    words += [w for e in user if e.background for w in (f"--{hook_flag}background", e.name)]
    if b.hook == "on-start":
        if b.install_dir != "/startup":
            words += ["--install-dir", b.install_dir]
        if b.deadline_seconds != DEFAULT_DEADLINE_SECONDS:
            words += ["--deadline", str(b.deadline_seconds)]
        if b.compression != "xz":
            words += ["--compression", b.compression]
    command = " ".join(shlex.quote(w) for w in words)
    features = [e.name.split(":", 1)[1] for e in b.plan if e.name.startswith("feature:")]
    if features:
        command += f"  (plus the flags of the features: {', '.join(dict.fromkeys(features))})"
    return command


def _write(root: Path, outputs: dict[str, Optional[list[PackedFile]]], texts: dict[str, bytes]) -> None:
    """Stage everything in a fresh folder inside ``root``, then move each piece into place."""
    with _os_errors("cannot write"):
        root.mkdir(parents=True, exist_ok=True)
        real_root = os.path.realpath(root)
        staging = Path(tempfile.mkdtemp(prefix=".notebook-lifecycle-pull-", dir=root))
        try:
            for rel, files in outputs.items():
                for f in files or ():
                    _write_file(staging / rel / f.path, f.data, f.mode)
            for rel, data in texts.items():
                _write_file(staging / rel, data, 0o755 if rel.endswith(".sh") else 0o644)
            tops = sorted({r.split("/")[0] for r in outputs} | set(texts))
            for rel in tops:
                final = root / rel
                if not os.path.realpath(final).startswith(real_root + os.sep):
                    raise BundleError(f"{final}: a symlink leads outside {root}; refusing to write there")
            for rel in tops:
                final = root / rel
                if final.is_symlink() or final.is_file():
                    final.unlink()
                elif final.exists():
                    shutil.rmtree(final)
                os.replace(staging / rel, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _write_file(target: Path, data: bytes, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(target, mode)
