"""Startup scripts: a folder (or a mapping) of files and the plan to run them.

This module is pure Python and knows nothing of CDK. It reads everything
eagerly, so every problem with the input surfaces here, at synth time, as a
:class:`~notebook_lifecycle.errors.BundleError` that names the file and the fix.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence, Union

from .errors import BundleError

__all__ = ["StartupScripts", "PackedFile", "Step", "ROOT", "EC2_USER", "RESERVED_DIR"]

ROOT = "root"
EC2_USER = "ec2-user"

#: Directory inside the install dir that holds the runner and feature files.
RESERVED_DIR = ".notebook-lifecycle"

#: Directory names never packed (anywhere in the tree).
IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
#: File name patterns never packed: compiled Python, Finder litter and editor backups.
IGNORED_FILES = ("*.pyc", "*.pyo", ".DS_Store", "*~", ".*.swp", ".*.swo", ".*.swx", "#*#", ".#*")

_BINARY_SNIFF = 8192


@dataclass(frozen=True)
class PackedFile:
    """One file of the bundle: its path relative to the install dir, bytes and mode."""

    path: str
    data: bytes
    executable: bool

    @property
    def mode(self) -> int:
        return 0o755 if self.executable else 0o644


@dataclass(frozen=True)
class Step:
    """One entry of the run plan.

    ``path`` is relative to the install dir. ``user`` is ``"root"`` or
    ``"ec2-user"``. ``background`` steps are started detached and not waited
    for. ``shebang`` tells whether the file is executed directly (it has a
    ``#!`` line) or run by ``/bin/bash``.
    """

    name: str
    path: str
    user: str
    background: bool
    shebang: bool


SourceData = Union[str, bytes]


def _is_ignored_file(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_FILES)


def _check_name(name: str, where: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        raise BundleError(
            f"{where}: the file name {raw!r} is not valid UTF-8; rename it using UTF-8 characters only"
        ) from None
    bad = [c for c in name if ord(c) < 32 or ord(c) == 127]
    if bad:
        what = "a newline" if "\n" in bad else "a control character"
        raise BundleError(f"{where}: the file name {name!r} contains {what}; rename it")


def _normalize_text(data: bytes, where: str) -> bytes:
    """CRLF becomes LF in text files; a stray carriage return that remains is an error."""
    if b"\0" in data[:_BINARY_SNIFF]:
        return data  # binary: packed as is
    data = data.replace(b"\r\n", b"\n")
    pos = data.find(b"\r")
    if pos >= 0:
        line = data.count(b"\n", 0, pos) + 1
        raise BundleError(
            f"{where}: line {line} contains a carriage return (\\r) that is not part of a CRLF line ending; "
            f"remove it (for example: sed -i 's/\\r//g' {where!s})"
        )
    return data


def _normalize_rel(name: str, field: str) -> str:
    """'./a.sh' and 'a.sh' name the same file; reject absolute paths and '..'."""
    if not isinstance(name, str) or not name:
        raise BundleError(f"{field}: {name!r} is not a file name; give a path relative to the folder")
    posix = PurePosixPath(name.replace(os.sep, "/"))
    if posix.is_absolute() or ".." in posix.parts:
        raise BundleError(f"{field}: {name!r} must be a path relative to the folder, without '..'; give one such as 'a.sh'")
    rel = posix.as_posix()
    if rel == ".":
        raise BundleError(f"{field}: {name!r} is not a file name; give a path relative to the folder")
    return rel


class StartupScripts:
    """A snapshot of startup scripts plus the plan to run them.

    Build one with :meth:`from_directory` (a folder on disk) or
    :meth:`from_files` (a mapping, handy in code and tests). Every file is read
    when this object is created; later edits on disk are not seen.

    Without ``run``, the top-level ``*.sh`` files run in lexical order. With
    ``run``, exactly the listed files (any file of the tree) run, in that order.
    Every script runs as ``ec2-user`` unless named in ``as_root``; scripts
    named in ``background`` are started detached and not waited for.
    """

    def __init__(self, files: Sequence[PackedFile], steps: Sequence[Step], source: str) -> None:
        self._files = tuple(sorted(files, key=lambda f: f.path))
        self._steps = tuple(steps)
        self._source = source

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_directory(
        cls,
        path: Union[str, "os.PathLike[str]"],
        *,
        as_root: Iterable[str] = (),
        background: Iterable[str] = (),
        run: Union[Sequence[str], None] = None,
    ) -> "StartupScripts":
        """Read every regular file under ``path`` (recursively).

        ``.git``, ``__pycache__``, ``*.pyc``, ``.DS_Store`` and editor backups are
        left out. Symlinks are followed when they point inside the folder; one
        that points outside is an error.
        """
        root = Path(path)
        label = str(path)
        if not root.exists():
            raise BundleError(f"{label}: no such folder; create it or pass the folder that holds your startup scripts")
        if not root.is_dir():
            raise BundleError(f"{label}: not a folder; pass the folder that holds your startup scripts")
        files = _read_tree(root, label)
        return cls._build(files, as_root=as_root, background=background, run=run, source=label)

    @classmethod
    def from_files(
        cls,
        files: Mapping[str, SourceData],
        *,
        as_root: Iterable[str] = (),
        background: Iterable[str] = (),
        run: Union[Sequence[str], None] = None,
        executable: Iterable[str] = (),
        source: str = "<files>",
    ) -> "StartupScripts":
        """Build from a mapping of relative path to content (``str`` is UTF-8 encoded)."""
        exe = {_normalize_rel(n, "executable") for n in executable}
        raw: dict[str, tuple[bytes, bool]] = {}
        for name, content in files.items():
            rel = _normalize_rel(name, f"{source}: file")
            for part in PurePosixPath(rel).parts:
                _check_name(part, f"{source}/{rel}")
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            raw[rel] = (data, rel in exe)
        return cls._build(raw, as_root=as_root, background=background, run=run, source=source)

    @classmethod
    def _build(
        cls,
        raw: Mapping[str, tuple[bytes, bool]],
        *,
        as_root: Iterable[str],
        background: Iterable[str],
        run: Union[Sequence[str], None],
        source: str,
    ) -> "StartupScripts":
        if isinstance(as_root, str) or isinstance(background, str) or isinstance(run, str):
            raise BundleError(
                "as_root, background and run take a list of file names, not a single string; "
                "write as_root=(\"stop-ssm.sh\",)"
            )
        files: dict[str, PackedFile] = {}
        for rel in sorted(raw):
            if rel == RESERVED_DIR or rel.startswith(RESERVED_DIR + "/"):
                raise BundleError(
                    f"{source}/{rel}: the folder name {RESERVED_DIR!r} is reserved for the runner; rename it"
                )
            data, exe = raw[rel]
            data = _normalize_text(data, f"{source}/{rel}")
            files[rel] = PackedFile(rel, data, exe or data.startswith(b"#!"))

        names = set(files)

        def resolve(items: Iterable[str], field: str) -> list[str]:
            out: list[str] = []
            for item in items:
                rel = _normalize_rel(item, field)
                if rel not in names:
                    hint = _closest(rel, names)
                    raise BundleError(
                        f"{field}: {item!r} is not a file in {source}"
                        + (f"; did you mean {hint!r}?" if hint else "; check the spelling")
                    )
                out.append(rel)
            return out

        roots = resolve(as_root, "as_root")
        backgrounds = resolve(background, "background")
        if run is None:
            order = sorted(n for n in names if "/" not in n and n.endswith(".sh"))
            if not order:
                raise BundleError(
                    f"{source}: nothing to run: there is no top-level *.sh file; "
                    "add one, or list the files to run (run)"
                )
        else:
            order = resolve(run, "run")
            dupes = sorted({n for n in order if order.count(n) > 1})
            if dupes:
                raise BundleError(f"run: {dupes[0]!r} is listed more than once; list each file once")
            if not order:
                raise BundleError(f"run: the list is empty, so nothing would run from {source}; list at least one file")
        for field, chosen in (("as_root", roots), ("background", backgrounds)):
            for name in chosen:
                if name not in order:
                    raise BundleError(
                        f"{field}: {name!r} is in {source} but is not run; "
                        "list it among the files to run (run), or make it a top-level *.sh file"
                    )
        steps = []
        for rel in order:
            packed = files[rel]
            steps.append(
                Step(
                    name=rel,
                    path=rel,
                    user=ROOT if rel in roots else EC2_USER,
                    background=rel in backgrounds,
                    shebang=packed.data.startswith(b"#!"),
                )
            )
            if not packed.executable:
                files[rel] = PackedFile(rel, packed.data, True)
        return cls(list(files.values()), steps, source)

    # -- accessors ------------------------------------------------------------------------
    @property
    def files(self) -> tuple[PackedFile, ...]:
        """Every packed file, sorted by path."""
        return self._files

    @property
    def steps(self) -> tuple[Step, ...]:
        """The run plan, in order."""
        return self._steps

    @property
    def source(self) -> str:
        """Where the files came from (the folder given), for messages."""
        return self._source

    def fingerprint(self) -> str:
        """sha256 over paths, modes, content and the plan: equal inputs, equal fingerprint."""
        h = hashlib.sha256()
        for f in self._files:
            h.update(f"F\0{f.path}\0{f.mode:o}\0{len(f.data)}\0".encode())
            h.update(f.data)
        for s in self._steps:
            h.update(f"S\0{s.path}\0{s.user}\0{int(s.background)}\0".encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"StartupScripts(source={self._source!r}, files={len(self._files)}, steps={[s.path for s in self._steps]})"


def _closest(name: str, names: Iterable[str]) -> Union[str, None]:
    import difflib

    match = difflib.get_close_matches(name, sorted(names), n=1)
    return match[0] if match else None


def _read_tree(root: Path, label: str) -> dict[str, tuple[bytes, bool]]:
    real_root = os.path.realpath(root)
    out: dict[str, tuple[bytes, bool]] = {}
    seen_dirs: set[str] = set()

    def inside(real: str) -> bool:
        return real == real_root or real.startswith(real_root + os.sep)

    def walk(directory: str, rel_dir: str) -> None:
        real_dir = os.path.realpath(directory)
        if real_dir in seen_dirs:
            raise BundleError(f"{label}/{rel_dir}: a symlink loop leads back here; remove the loop")
        seen_dirs.add(real_dir)
        try:
            entries = sorted(os.listdir(directory))
        except OSError as exc:
            raise BundleError(f"{label}/{rel_dir}: cannot read the folder ({exc.strerror}); fix its permissions") from None
        for name in entries:
            full = os.path.join(directory, name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            where = f"{label}/{rel}"
            _check_name(name, where)
            st_l = os.lstat(full)
            if stat.S_ISLNK(st_l.st_mode):
                real = os.path.realpath(full)
                if not inside(real):
                    raise BundleError(
                        f"{where}: the symlink points outside the folder (to {os.readlink(full)}); "
                        "copy the file into the folder instead"
                    )
                if not os.path.exists(full):
                    raise BundleError(f"{where}: the symlink is broken (to {os.readlink(full)}); fix or remove it")
            try:
                st = os.stat(full)
            except OSError as exc:
                raise BundleError(f"{where}: cannot read ({exc.strerror}); fix its permissions") from None
            if stat.S_ISDIR(st.st_mode):
                if name in IGNORED_DIRS:
                    continue
                walk(full, rel)
            elif stat.S_ISREG(st.st_mode):
                if _is_ignored_file(name):
                    continue
                try:
                    with open(full, "rb") as fh:
                        data = fh.read()
                except OSError as exc:
                    raise BundleError(f"{where}: cannot read ({exc.strerror}); fix its permissions") from None
                out[rel] = (data, bool(st.st_mode & 0o111))
            else:
                raise BundleError(f"{where}: not a regular file (a socket, pipe or device); remove it from the folder")

    walk(str(root), "")
    return out
