"""``notebook-lifecycle unpack``: the files of every bundle found, written into a folder."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from ..errors import BundleError
from ..unbundle import FoundBundle
from ._common import _bundles_in, _command, _os_errors


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
