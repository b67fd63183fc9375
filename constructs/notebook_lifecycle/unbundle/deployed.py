"""Read what a live account holds: deployed lifecycle configurations and hand-written scripts.

What ``notebook-lifecycle status / pull / diff`` read: the hooks of a lifecycle configuration as the
SageMaker API returns them (:func:`read_deployed_config`), and the inline base64 payloads of scripts
written by hand (:func:`find_inline_payloads`).

Pure standard library (plus the package's own pure-Python core); no CDK here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..errors import BundleError
from ..scripts import PackedFile
from .bundles import _HOOK_KEYS, FoundBundle, _b64_text, _entries, _is_ours, read_script


# -- deployed configurations and scripts not made by notebook-lifecycle ----------------------
#
# What `notebook-lifecycle status / pull / diff` read from a live account: the hooks of a
# lifecycle configuration as the SageMaker API returns them, and, in scripts written by hand,
# the inline `tar | base64` payloads of the well-known article
# (``echo "H4sI..." | base64 -d | tar xzf - -C /startup``, heredocs of base64, ``base64 --decode``).

#: Most bytes an inline payload may unpack to (a 16,384-character script cannot honestly hold more).
INLINE_PAYLOAD_LIMIT = 64 * 1024 * 1024

_B64_WORD_RE = re.compile(r"(?<![A-Za-z0-9+/=_.-])[A-Za-z0-9+/]{64,}={0,2}(?![A-Za-z0-9+/=_.-])")
_B64_QUOTED_RE = re.compile(r"""(["'])\s*([A-Za-z0-9+/]{4}[A-Za-z0-9+/=\s]{20,}?)\s*\1""")
_HEREDOC_RE = re.compile(r"""(?<!<)<<(-?)\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\2""")
_TARGET_RE = re.compile(r"""(?:\s-C\s*|\s--directory[=\s])\s*(["']?)([^\s"';|&)]+)\1""")


@dataclass(frozen=True)
class InlinePayload:
    """One base64 payload found in a lifecycle script that notebook-lifecycle did not write.

    :ivar number: 1, 2, ... in the order found in the script.
    :ivar kind: ``"tar"``, ``"tar.gz"``, ``"tar.bz2"``, ``"tar.xz"`` (an archive: see ``files``),
        ``"gzip"``, ``"bzip2"``, ``"xz"`` (one compressed file) or ``"data"`` (decoded as is).
    :ivar line: line of the script (1-based) where the payload starts.
    :ivar target: the folder the script unpacks it into (``tar -C DIR``), when the script says.
    :ivar files: the regular files of an archive (relative paths as stored, safe or not),
        or one file ``payload-<number>`` for a payload that is not an archive.
    :ivar skipped: archive members that are not regular files or folders (links, devices), as text.
    """

    number: int
    kind: str
    line: int
    target: Optional[str]
    files: tuple[PackedFile, ...]
    skipped: tuple[str, ...]

    def unsafe_paths(self) -> tuple[str, ...]:
        """Member paths that would land outside the folder they are unpacked into."""
        return tuple(f.path for f in self.files if not is_safe_relative_path(f.path))


@dataclass(frozen=True)
class DeployedHook:
    """One hook (``on-start`` or ``on-create``) of a lifecycle configuration as deployed.

    :ivar content: the base64 ``Content`` the API holds.
    :ivar script: the script it decodes to (``None`` when it is not base64 of UTF-8 text).
    :ivar bundle: the unpacked bundle when notebook-lifecycle wrote the script.
    :ivar payloads: inline payloads found in a script written by hand.
    """

    hook: str
    content: str
    script: Optional[str]
    bundle: Optional[FoundBundle]
    payloads: tuple[InlinePayload, ...]

    @property
    def kind(self) -> str:
        """``"bundle"``, ``"payload"`` (hand-written, with inline payloads), ``"script"`` or ``"binary"``."""
        if self.bundle is not None:
            return "bundle"
        if self.script is None:
            return "binary"
        return "payload" if self.payloads else "script"


def content_fingerprint(contents: Mapping[str, str]) -> str:
    """sha256 of the hooks' base64 contents (hook name -> content), as :meth:`Bundle.fingerprint` computes it.

    So the fingerprint of a deployed configuration equals ``Bundle.fingerprint()`` of the
    bundle that was deployed, and the same formula fingerprints any configuration.
    """
    h = hashlib.sha256()
    for name, content in sorted(contents.items()):
        h.update(f"{name}\0{content}\0".encode())
    return h.hexdigest()


def read_deployed_config(config: Mapping[str, Any], *, label: str = "") -> list[DeployedHook]:
    """The hooks of a ``DescribeNotebookInstanceLifecycleConfig`` answer, each read as far as it goes.

    A script made by notebook-lifecycle is unpacked (a damaged one raises :class:`BundleError`);
    any other script is searched for inline payloads.
    """
    name = label or str(config.get("NotebookInstanceLifecycleConfigName") or "lifecycle-config")
    hooks = []
    for key, hook in _HOOK_KEYS:
        for suffix, entry in _entries(config.get(key)):
            content = entry.get("Content")
            if not isinstance(content, str):
                continue
            where = f"{name}/{hook}{suffix}"
            script = _b64_text(content)
            bundle = read_script(script, label=where) if script is not None and _is_ours(script) else None
            payloads = find_inline_payloads(script) if script is not None and bundle is None else ()
            hooks.append(DeployedHook(f"{hook}{suffix}", content, script, bundle, tuple(payloads)))
    return hooks


def find_inline_payloads(script: str) -> list[InlinePayload]:
    """The base64 payloads a hand-written lifecycle script carries, decoded and, for archives, unpacked.

    Found: heredocs whose command decodes base64 (``base64 -d <<EOF``, ``cat <<EOF | base64 --decode``),
    quoted strings of base64 (``echo "H4sI..." | base64 -d``, ``enc='...'``) and long bare words of
    base64. A quoted string or heredoc counts on a line that mentions base64; a bare word anywhere when
    it decodes to a compressed stream or a tar archive. Nothing is written anywhere.

    :raises BundleError: when a payload unpacks to more than :data:`INLINE_PAYLOAD_LIMIT` bytes.
    """
    lines = script.split("\n")
    found: list[tuple[int, str, Optional[str], bool]] = []  # (line index, base64 text, target, says base64)
    in_heredoc: set[int] = set()
    i = 0
    while i < len(lines):
        match = _HEREDOC_RE.search(lines[i])
        if match is None:
            i += 1
            continue
        strip_tabs, delimiter = match.group(1) == "-", match.group(3)
        end = i + 1
        while end < len(lines) and (lines[end].lstrip("\t") if strip_tabs else lines[end]) != delimiter:
            end += 1
        body = lines[i + 1 : end]
        command = _command_around(lines, i)
        if "base64" in command and body and all(_is_b64_line(line) for line in body):
            found.append((i, "".join("".join(body).split()), _target(command), True))
        in_heredoc.update(range(i + 1, end + 1))
        i = end + 1
    for n, line in enumerate(lines):
        if n in in_heredoc:
            continue
        command = _command_around(lines, n)
        says_base64 = "base64" in command
        for match in _B64_QUOTED_RE.finditer(line):
            found.append((n, "".join(match.group(2).split()), _target(command), says_base64))
        for match in _B64_WORD_RE.finditer(line):
            found.append((n, match.group(0), _target(command), says_base64))
    payloads: list[InlinePayload] = []
    seen: set[str] = set()
    for n, blob, target, says_base64 in sorted(found, key=lambda f: f[0]):
        if blob in seen:
            continue
        data = _strict_b64(blob)
        if data is None:
            continue
        payload = _inline_payload(len(payloads) + 1, data, n + 1, target)
        if payload.kind == "data" and not (says_base64 and len(blob) >= 24):
            continue  # a word that merely looks like base64
        seen.add(blob)
        payloads.append(payload)
    return payloads


def is_safe_relative_path(path: str) -> bool:
    """A relative POSIX path with no ``..``, no backslash and no empty name: it stays inside its folder."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and "\\" not in path and ".." not in parts and "\0" not in path


def _command_around(lines: list[str], n: int) -> str:
    """Line ``n`` with the lines that backslash continuations join to it."""
    start = n
    while start > 0 and lines[start - 1].endswith("\\"):
        start -= 1
    stop = n
    while stop + 1 < len(lines) and lines[stop].endswith("\\"):
        stop += 1
    return "\n".join(lines[start : stop + 1])


def _is_b64_line(line: str) -> bool:
    return re.fullmatch(r"\s*[A-Za-z0-9+/]*={0,2}\s*", line) is not None


def _target(command: str) -> Optional[str]:
    match = _TARGET_RE.search(" " + command)
    return match.group(2) if match else None


def _strict_b64(blob: str) -> Optional[bytes]:
    if len(blob) % 4:
        return None
    try:
        return base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None


def _inline_payload(number: int, data: bytes, line: int, target: Optional[str]) -> InlinePayload:
    codec, raw = _decompress_capped(data)
    if raw[257:262] == b"ustar" or (codec and _looks_like_tar(raw)):
        files, skipped = _tar_members(raw, number)
        if files is not None:
            kind = "tar" if codec is None else f"tar.{ {'gzip': 'gz', 'bzip2': 'bz2', 'xz': 'xz'}[codec] }"
            return InlinePayload(number, kind, line, target, files, skipped)
    name = f"payload-{number}"
    return InlinePayload(number, codec or "data", line, target, (PackedFile(name, raw, False),), ())


def _looks_like_tar(raw: bytes) -> bool:
    return len(raw) >= 512 and len(raw) % 512 == 0


def _decompress_capped(data: bytes) -> tuple[Optional[str], bytes]:
    """(codec or None, the bytes), refusing anything that unpacks to more than the limit."""
    import bz2
    import lzma
    import zlib

    decompressor: Any
    if data.startswith(b"\x1f\x8b"):
        codec, decompressor = "gzip", zlib.decompressobj(wbits=47)
    elif data.startswith(b"BZh"):
        codec, decompressor = "bzip2", bz2.BZ2Decompressor()
    elif data.startswith(b"\xfd7zXZ\x00"):
        codec, decompressor = "xz", lzma.LZMADecompressor()
    else:
        return None, data
    try:
        raw = decompressor.decompress(data, INLINE_PAYLOAD_LIMIT + 1)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
        return None, data
    if len(raw) > INLINE_PAYLOAD_LIMIT:
        raise BundleError(f"an inline payload unpacks to more than {INLINE_PAYLOAD_LIMIT} bytes; refusing to read it")
    return codec, raw


def _tar_members(raw: bytes, number: int) -> tuple[Optional[tuple[PackedFile, ...]], tuple[str, ...]]:
    import io
    import tarfile

    files: dict[str, PackedFile] = {}  # a name stored twice: the last one wins, as tar does
    skipped: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar.getmembers():
                name = member.name[2:] if member.name.startswith("./") else member.name
                if member.isdir() or name in ("", "."):
                    continue
                if not member.isfile():
                    kind = "symlink" if member.issym() else "hard link" if member.islnk() else "special file"
                    arrow = f" -> {member.linkname}" if member.issym() or member.islnk() else ""
                    skipped.append(f"{name}{arrow} ({kind})")
                    continue
                fh = tar.extractfile(member)
                assert fh is not None
                files[name] = PackedFile(name, fh.read(), bool(member.mode & 0o111))
    except tarfile.TarError:
        return None, ()
    return tuple(files[n] for n in sorted(files)), tuple(skipped)
