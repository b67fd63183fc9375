"""Startup scripts: a folder (or a mapping) of files and the plan to run them.

This module is pure Python and knows nothing of CDK. It reads everything
eagerly, so every problem with the input surfaces here, at synth time, as a
:class:`~notebook_lifecycle.errors.BundleError` that names the file and the fix.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence, Union

from .errors import BundleError

__all__ = ["StartupScripts", "PackedFile", "Step", "Excluded", "ROOT", "EC2_USER", "RESERVED_DIR", "DEFAULT_EXCLUDE"]

ROOT = "root"
EC2_USER = "ec2-user"

#: Directory inside the install dir that holds the runner and feature files.
RESERVED_DIR = ".notebook-lifecycle"

#: What :meth:`StartupScripts.from_directory` leaves out unless told otherwise (``exclude`` adds to it):
#: version control, caches, notebook checkpoints, compiled Python, OS litter and editor backups.
DEFAULT_EXCLUDE = (
    ".git/", ".hg/", ".svn/", "__pycache__/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/",
    ".ipynb_checkpoints/", "*.pyc", "*.pyo", ".DS_Store", "._*", "Thumbs.db", "desktop.ini",
    "*~", "*.swp", "*.swo", "*.swx", "#*#", ".#*",
)

_BOM = b"\xef\xbb\xbf"
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


@dataclass(frozen=True)
class Excluded:
    """A file or folder :meth:`StartupScripts.from_directory` left out, and the pattern that did it.

    ``path`` is relative to the folder; a folder's path ends with ``/`` (nothing under it was read).
    """

    path: str
    pattern: str


class _Pattern:
    """One exclude pattern; see :meth:`StartupScripts.from_directory` for the syntax."""

    def __init__(self, text: object, field: str) -> None:
        if not isinstance(text, str) or not text.strip("/") or any(ord(c) < 32 for c in text) or "\\" in text:
            raise BundleError(
                f"{field}: {text!r} is not a pattern; give a glob such as '*.log', 'data/', or 'tests/**/*.csv'"
            )
        body = text.rstrip("/")
        self.text = text
        self.dir_only = text.endswith("/")
        anchored = "/" in body
        body = body.lstrip("/")
        if ".." in body.split("/"):
            raise BundleError(f"{field}: {text!r} must stay inside the folder; remove the '..'")
        regex = _glob_regex(body)
        self._re = re.compile(regex if anchored else "(?:.*/)?" + regex)

    def matches(self, rel: str, is_dir: bool) -> bool:
        return (is_dir or not self.dir_only) and self._re.fullmatch(rel) is not None


def _glob_regex(body: str) -> str:
    parts = body.split("/")
    out = []
    for i, seg in enumerate(parts):
        last = i == len(parts) - 1
        if seg == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(seg) + ("" if last else "/"))
    return "".join(out)


def _segment_regex(seg: str) -> str:
    out = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < len(seg) and seg[j] == "!":
                j += 1
            if j < len(seg) and seg[j] == "]":
                j += 1
            j = seg.find("]", j)
            if j < 0:
                out.append(re.escape(c))
            else:
                inner = seg[i + 1 : j]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


# -- secrets ---------------------------------------------------------------------------
# File names (lower-cased) that hold secrets by convention, and what they are.
_SECRET_NAMES = (
    (".env", "an environment file"),
    (".env.*", "an environment file"),
    ("id_rsa*", "an SSH private key"),
    ("id_dsa*", "an SSH private key"),
    ("id_ecdsa*", "an SSH private key"),
    ("id_ed25519*", "an SSH private key"),
    ("*.pem", "a PEM file with a private key"),
    ("*.key", "a private key file"),
    ("*.p12", "a PKCS#12 key store"),
    ("*.pfx", "a PKCS#12 key store"),
    ("*.jks", "a Java key store"),
    ("*.keystore", "a key store"),
    ("*.ppk", "a PuTTY private key"),
    ("credentials", "an AWS credentials file"),
    (".netrc", "a .netrc file (passwords)"),
    ("_netrc", "a .netrc file (passwords)"),
    (".pgpass", "a PostgreSQL password file"),
    (".git-credentials", "a git credentials file"),
    (".pypirc", "a PyPI credentials file"),
)
# Names that match the above but are public or placeholders by convention.
_NOT_SECRET_SUFFIXES = (".pub", ".example", ".sample", ".template", ".dist")
_PRIVATE_KEY_RE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_AWS_SECRET_RE = re.compile(
    rb"(?i)secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
)


def _secret_reason(rel: str, data: bytes) -> Union[str, None]:
    """Why ``rel`` looks like a secret (``None`` when it does not)."""
    if _PRIVATE_KEY_RE.search(data):
        return "it holds a private key block (-----BEGIN ... PRIVATE KEY-----)"
    if _AWS_SECRET_RE.search(data):
        return "it assigns an AWS secret access key"
    name = rel.rsplit("/", 1)[-1].lower()
    if name.endswith(_NOT_SECRET_SUFFIXES):
        return None
    for pattern, what in _SECRET_NAMES:
        if fnmatch.fnmatchcase(name, pattern):
            if pattern == "*.pem" and b"CERTIFICATE-----" in data:
                return None  # certificates only (a CA bundle): public
            return f"its name says it is {what}"
    return None


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

    def __init__(
        self, files: Sequence[PackedFile], steps: Sequence[Step], source: str, excluded: Sequence[Excluded] = ()
    ) -> None:
        self._files = tuple(sorted(files, key=lambda f: f.path))
        self._steps = tuple(steps)
        self._source = source
        self._excluded = tuple(sorted(excluded, key=lambda e: e.path))

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_directory(
        cls,
        path: Union[str, "os.PathLike[str]"],
        *,
        as_root: Iterable[str] = (),
        background: Iterable[str] = (),
        run: Union[Sequence[str], None] = None,
        exclude: Iterable[str] = (),
        allow_secrets: Iterable[str] = (),
    ) -> "StartupScripts":
        """Read every regular file under ``path`` (recursively), except what is excluded.

        ``exclude`` adds glob patterns to :data:`DEFAULT_EXCLUDE` (version control
        folders, caches, ``.ipynb_checkpoints``, ``*.pyc``, ``.DS_Store``, editor
        backups...). A pattern is matched against the path relative to the
        folder, with ``/`` between folders:

        * ``*`` matches any characters except ``/``, ``?`` one character,
          ``[abc]``/``[!abc]`` one of (or none of) a set;
        * ``**`` as a whole path segment matches any number of folders
          (``data/**/*.csv``);
        * a pattern without ``/`` matches a name at any depth (``*.log``); one
          with a ``/`` matches from the folder's top (``docs/notes.md``; a leading
          ``/`` anchors a bare name: ``/TODO``);
        * a trailing ``/`` matches folders only, and everything in them (``data/``).

        What was left out is in :attr:`excluded`. A file that looks like a secret
        is an error unless listed in ``allow_secrets`` (see :meth:`from_files`). Symlinks are followed when they point
        inside the folder (a link to a sibling folder packs its files again at the
        link's path); one that points outside, or a loop, is an error.
        """
        root = Path(path)
        label = str(path)
        if not root.exists():
            raise BundleError(f"{label}: no such folder; create it or pass the folder that holds your startup scripts")
        if not root.is_dir():
            raise BundleError(f"{label}: not a folder; pass the folder that holds your startup scripts")
        if isinstance(exclude, str):
            raise BundleError(f"exclude takes a list of patterns, not a single string; write exclude=({exclude!r},)")
        user = [_Pattern(p, "exclude") for p in exclude]
        patterns = [_Pattern(p, "DEFAULT_EXCLUDE") for p in DEFAULT_EXCLUDE] + user
        files, excluded = _read_tree(root, label, patterns)
        return cls._build(
            files, as_root=as_root, background=background, run=run, source=label,
            allow_secrets=allow_secrets, excluded=excluded, user_patterns=tuple(p.text for p in user),
        )  # fmt: skip

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
        allow_secrets: Iterable[str] = (),
    ) -> "StartupScripts":
        """Build from a mapping of relative path to content (``str`` is UTF-8 encoded).

        Every file is checked for secrets: a name such as ``.env``, ``id_rsa``,
        ``*.pem`` (unless it holds certificates only), ``*.key``, ``*.p12``,
        ``credentials``, ``.netrc`` or ``.pgpass``, or content holding a private
        key block or an AWS secret access key assignment, is an error naming the
        file. List a file in ``allow_secrets`` to pack it knowingly.
        """
        exe = {_normalize_rel(n, "executable") for n in executable}
        raw: dict[str, tuple[bytes, bool]] = {}
        for name, content in files.items():
            rel = _normalize_rel(name, f"{source}: file")
            for part in PurePosixPath(rel).parts:
                _check_name(part, f"{source}/{rel}")
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            raw[rel] = (data, rel in exe)
        return cls._build(raw, as_root=as_root, background=background, run=run, source=source,
                          allow_secrets=allow_secrets)

    @classmethod
    def _build(
        cls,
        raw: Mapping[str, tuple[bytes, bool]],
        *,
        as_root: Iterable[str],
        background: Iterable[str],
        run: Union[Sequence[str], None],
        source: str,
        allow_secrets: Iterable[str] = (),
        excluded: Sequence[Excluded] = (),
        user_patterns: Sequence[str] = (),
    ) -> "StartupScripts":
        if any(isinstance(v, str) for v in (as_root, background, run, allow_secrets)):
            raise BundleError(
                "as_root, background, run and allow_secrets take a list of file names, not a single string; "
                "write as_root=(\"stop-ssm.sh\",)"
            )
        files: dict[str, PackedFile] = {}
        for rel in sorted(raw):
            if rel == RESERVED_DIR or rel.startswith(RESERVED_DIR + "/"):
                raise BundleError(
                    f"{source}/{rel}: the folder name {RESERVED_DIR!r} is reserved for the runner; rename it"
                )
            data, exe = raw[rel]
            if data.startswith(_BOM + b"#!"):
                data = data[len(_BOM):]  # the shebang counts only at the very first byte
            data = _normalize_text(data, f"{source}/{rel}")
            files[rel] = PackedFile(rel, data, exe or data.startswith(b"#!"))

        names = set(files)
        left_out = {e.path: e.pattern for e in excluded}

        def resolve(items: Iterable[str], field: str) -> list[str]:
            out: list[str] = []
            for item in items:
                rel = _normalize_rel(item, field)
                if rel not in names:
                    why = _why_excluded(rel, left_out)
                    if why:
                        raise BundleError(
                            f"{field}: {item!r} is left out of {source} by the exclude pattern {why!r}; "
                            "narrow the pattern, or do not list the file"
                        )
                    hint = _closest(rel, names)
                    raise BundleError(
                        f"{field}: {item!r} is not a file in {source}"
                        + (f"; did you mean {hint!r}?" if hint else "; check the spelling")
                    )
                out.append(rel)
            return out

        allowed = set(resolve(allow_secrets, "allow_secrets"))
        flagged = {rel: why for rel in sorted(files) if (why := _secret_reason(rel, files[rel].data))}
        for rel in sorted(allowed - set(flagged)):
            raise BundleError(
                f"allow_secrets: {rel!r} does not look like a secret; remove it from allow_secrets"
            )
        unexpected = [rel for rel in flagged if rel not in allowed]
        if unexpected:
            listing = "; ".join(f"{source}/{rel}: {flagged[rel]}" for rel in unexpected)
            culprits = repr(tuple(unexpected))
            raise BundleError(
                f"{listing}. Whatever is packed ends up in the lifecycle configuration (or its S3 asset), "
                f"readable by anyone who can describe it. Leave the file out (exclude={culprits}) and fetch the "
                "secret at start from AWS Secrets Manager or SSM Parameter Store; or, if it is not a secret, "
                f"pack it knowingly with allow_secrets={culprits}"
            )

        roots = resolve(as_root, "as_root")
        backgrounds = resolve(background, "background")
        if run is None:
            order = sorted(n for n in names if "/" not in n and n.endswith(".sh"))
            hidden = [e for e in excluded if "/" not in e.path and e.path.endswith(".sh") and e.pattern in user_patterns]
            if not order and hidden:
                patterns = ", ".join(repr(p) for p in dict.fromkeys(e.pattern for e in hidden))
                raise BundleError(
                    f"{source}: nothing to run: the exclude patterns {patterns} leave out every top-level *.sh "
                    f"file ({', '.join(e.path for e in hidden)}); narrow exclude=(...) or list the files to run (run)"
                )
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
            data = packed.data[len(_BOM):] if packed.data.startswith(_BOM) else packed.data
            if not packed.executable or data is not packed.data:
                files[rel] = PackedFile(rel, data, True)  # a BOM would break a script's first line
        return cls(list(files.values()), steps, source, excluded)

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
    def excluded(self) -> tuple[Excluded, ...]:
        """What :meth:`from_directory` left out (path and pattern), sorted by path; empty for :meth:`from_files`."""
        return self._excluded

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


def _why_excluded(rel: str, left_out: Mapping[str, str]) -> Union[str, None]:
    """The pattern that left ``rel`` (or a folder above it) out, if one did."""
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        key = "/".join(parts[:i]) + ("" if i == len(parts) else "/")
        if key in left_out:
            return left_out[key]
    return None


def _read_tree(
    root: Path, label: str, patterns: Sequence[_Pattern]
) -> tuple[dict[str, tuple[bytes, bool]], list[Excluded]]:
    real_root = os.path.realpath(root)
    out: dict[str, tuple[bytes, bool]] = {}
    excluded: list[Excluded] = []

    def inside(real: str) -> bool:
        return real == real_root or real.startswith(real_root + os.sep)

    def left_out(rel: str, is_dir: bool) -> bool:
        for pattern in patterns:
            if pattern.matches(rel, is_dir):
                excluded.append(Excluded(rel + "/" if is_dir else rel, pattern.text))
                return True
        return False

    def walk(directory: str, rel_dir: str, above: tuple[str, ...]) -> None:
        # ``above``: the real paths of the folders being walked; meeting one again is a loop.
        # A folder reached twice by different routes (a symlink to a sibling) is not.
        real_dir = os.path.realpath(directory)
        if real_dir in above:
            raise BundleError(f"{label}/{rel_dir}: a symlink loop leads back here; remove the loop")
        above = above + (real_dir,)
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
                if not left_out(rel, True):
                    walk(full, rel, above)
            elif stat.S_ISREG(st.st_mode):
                if left_out(rel, False):
                    continue
                try:
                    with open(full, "rb") as fh:
                        data = fh.read()
                except OSError as exc:
                    raise BundleError(f"{where}: cannot read ({exc.strerror}); fix its permissions") from None
                out[rel] = (data, bool(st.st_mode & 0o111))
            elif not left_out(rel, False):
                raise BundleError(f"{where}: not a regular file (a socket, pipe or device); remove it from the folder")

    walk(str(root), "", ())
    return out, excluded
