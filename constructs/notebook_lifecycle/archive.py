"""Deterministic tarballs and the codecs the on-instance decoder understands.

The same files always give the same tar bytes: entries sorted by path, mtime 0,
uid/gid 0, no user or group names, modes normalized to 0755/0644, GNU format
(no PAX records). Compression is deterministic for one zlib/liblzma build; a
different build may emit other (equally valid) bytes, so tests of content
compare unpacked files, not compressed bytes.

Codecs:

``xz`` (the default)
    Raw LZMA in the ``.lzma`` ("alone") container (13 bytes of header). The
    inline bundle compresses :func:`records` (not a tar) and carries them as
    :func:`base95_encode` text; the system ``python3``, present on every notebook
    platform, decodes, decompresses and writes the files with its standard
    library. (:func:`pack` still makes a tar: S3 delivery unpacks it with ``tar``,
    and :func:`text_encode` still gives base85 for the S3 fetcher's line.)
``gzip``
    gzip of a tar, carried as base64: needs only coreutils ``base64``, ``tar`` and
    ``gzip`` on the instance. Header without name or time.

Every payload byte is paid twice: once by the text encoding inside the script,
once by the base64 of the whole script (SageMaker's ``Content``).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import itertools
import lzma
import re
import tarfile
from typing import Iterable, Optional, Sequence

from .errors import BundleError
from .scripts import PackedFile

__all__ = [
    "CODECS",
    "pack",
    "tar_bytes",
    "compress",
    "decompress",
    "detect_codec",
    "unpack",
    "text_encode",
    "text_decode",
    "records",
    "is_records",
    "WRITER",
    "inline_records",
    "records_of",
    "read_records",
    "base95_encode",
    "base95_decode",
    "inline_payload",
    "inline_text",
    "unpack_any",
]

CODECS = ("xz", "gzip")

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
# LZMA1 settings tried for the densest result: (lc, lp, pb) and optionally (nice_len, match finder).
# Text favours pb=0; on bundles of scripts a shorter nice_len with bt3 often saves a few bytes more.
_LZMA_SETTINGS: tuple[tuple[int, ...], ...] = (
    (3, 0, 0), (3, 0, 2), (4, 0, 0), (1, 0, 0), (3, 0, 0, 96, lzma.MF_BT3), (3, 0, 0, 64, lzma.MF_BT3),
)


def tar_bytes(files: Iterable[PackedFile]) -> bytes:
    """An uncompressed, deterministic tar of ``files`` (sorted by path)."""
    buf = io.BytesIO()
    tar = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
    for f in sorted(files, key=lambda f: f.path):
        info = tarfile.TarInfo(f.path)
        info.size = len(f.data)
        info.mode = f.mode
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        tar.addfile(info, io.BytesIO(f.data))
    end = tar.offset
    tar.close()
    # Keep the two zero blocks that end the archive, drop the padding to a 10 KiB record.
    return buf.getvalue()[: end + 2 * tarfile.BLOCKSIZE]


def _lzma(data: bytes, lc: int, lp: int, pb: int, nice_len: int = 273, mf: int = lzma.MF_BT4) -> bytes:
    dict_size = 4096
    while dict_size < len(data) and dict_size < (1 << 26):
        dict_size <<= 1
    filters = [
        {
            "id": lzma.FILTER_LZMA1,
            "preset": 9 | lzma.PRESET_EXTREME,
            "dict_size": dict_size,
            "lc": lc,
            "lp": lp,
            "pb": pb,
            "nice_len": nice_len,
            "mf": mf,
        }
    ]
    return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=filters)


def compress(data: bytes, codec: str) -> bytes:
    """Compress ``data`` deterministically with ``codec`` (``xz`` or ``gzip``)."""
    if codec == "xz":
        # A few LZMA1 parameter sets; the smallest output wins (ties: first in the list).
        return min((_lzma(data, *s) for s in _LZMA_SETTINGS), key=len)
    if codec == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
            gz.write(data)
        return out.getvalue()
    raise BundleError(f"compression: {codec!r} is not supported; use one of {', '.join(CODECS)}")


def detect_codec(data: bytes) -> str:
    if data.startswith(_GZIP_MAGIC):
        return "gzip"
    if data.startswith(_XZ_MAGIC):
        return "xz"
    if data[257:262] == b"ustar":
        return "tar"
    if data[:1] and data[0] < 225:  # an LZMA "alone" properties byte: (pb*5+lp)*9+lc
        return "xz"
    return "tar"


def decompress(data: bytes) -> bytes:
    """Undo :func:`compress` for any codec (or return a plain tar unchanged)."""
    codec = detect_codec(data)
    try:
        if codec == "gzip":
            return gzip.decompress(data)
        if codec == "xz":
            return lzma.decompress(data)
    except (OSError, lzma.LZMAError, EOFError) as exc:
        raise BundleError(f"the payload is not a valid {codec} stream ({exc})") from None
    return data


def text_encode(data: bytes, codec: str) -> str:
    """The payload as it is written into the script: base85 for ``xz``, base64 for ``gzip``."""
    return (base64.b85encode(data) if codec == "xz" else base64.b64encode(data)).decode("ascii")


def text_decode(text: str, codec: str) -> bytes:
    """Undo :func:`text_encode`; raises :class:`BundleError` for damaged text."""
    try:
        if codec == "xz":
            return base64.b85decode("".join(text.split()))
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        name = "base85" if codec == "xz" else "base64"
        raise BundleError(f"the payload is not valid {name} ({exc})") from None


def pack(files: Iterable[PackedFile], codec: str) -> bytes:
    """Deterministic tar of ``files``, compressed with ``codec``."""
    return compress(tar_bytes(files), codec)


def unpack(data: bytes) -> list[PackedFile]:
    """Read the files of a (possibly compressed) tarball made by :func:`pack`."""
    raw = decompress(data)
    out: list[PackedFile] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                assert fh is not None
                out.append(PackedFile(member.name, fh.read(), bool(member.mode & 0o111)))
    except tarfile.TarError as exc:
        raise BundleError(f"the payload is not a valid tar archive ({exc})") from None
    return sorted(out, key=lambda f: f.path)


# -- the inline bundle's own framing and text (xz codec) ---------------------------------------
#
# ``records``: a separator SEP of three distinct control bytes (never \n) that occurs in no file,
# then per file, sorted by path: a line ``MODE PATH`` (octal mode) and the file's bytes, each record
# followed by the next SEP. So the payload is SEP + SEP.join(records), and SEP = its first three
# bytes. Three distinct bytes cannot overlap themselves, names hold no control characters (scripts.py)
# and a record starts with a digit: the only SEPs in the payload are the separators. Against tar it
# saves each file's 512-byte header and padding, against "MODE SIZE PATH" lines the sizes' digits.
# The decoder in bundle.py writes the files with python3; read_records here is its reference reader.
#
# The inline payload (xz) is WRITER, a NUL byte, then the records: the decoder decompresses, splits at
# the first NUL (WRITER has none) and runs WRITER with ``d`` = the records. So the loop that writes the
# files travels compressed (about 0.6 characters a byte) instead of as plain text in the decoder (4/3).
# WRITER splits the records at the separator (their first 3 bytes), reads the line "MODE PATH", refuses
# a path that is absolute or has a ".." or empty name (the bundler never makes one), makes the path's
# folders (makedirs then rmdir of the path itself: folders that exist already are fine; the path itself
# never exists, paths are unique) and writes the file with its mode, below the current directory.
WRITER = b"""import os
for r in d.split(d[:3])[1:]:
 h,r=r.split(b"\\n",1);m,p=h.split(b" ",1)
 if{b"",b".."}&{*p.split(b"/")}:exit(p)
 os.makedirs(p);os.rmdir(p);open(p,"wb").write(r);os.chmod(p,int(m,8))"""

_CONTROL = [b for b in range(1, 32) if b != 10]
_RECORD_HEAD_RE = re.compile(rb"([0-7]{3,4}) ([^\n]+)\n")


def _separator(files: Sequence[PackedFile]) -> bytes:
    for sep in itertools.permutations(_CONTROL, 3):
        s = bytes(sep)
        if not any(s in f.data for f in files):
            return s
    for sep in itertools.permutations(range(256), 3):  # only a huge binary file holds all of the above
        s = bytes(sep)
        if 10 not in s and s[0] not in b"01234567" and not any(s in f.data for f in files):
            return s
    raise BundleError("no separator for the records: the files hold every 3-byte sequence")  # pragma: no cover


def records(files: Iterable[PackedFile], *, keep_order: bool = False) -> bytes:
    """The files as ``records`` (see above): deterministic, sorted by path (``keep_order``: as given)."""
    files = list(files) if keep_order else sorted(files, key=lambda f: f.path)
    sep = _separator(files)
    return sep + b"".join(f"{f.mode:o} {f.path}\n".encode() + f.data + sep for f in files)[: -len(sep) or None]


def inline_records(files: Iterable[PackedFile]) -> bytes:
    """What the inline payload (xz) compresses: :data:`WRITER`, a NUL byte, then :func:`records`."""
    return WRITER + b"\0" + records(files)


def records_of(raw: bytes) -> bytes:
    """The records of a decompressed inline payload: without its writer (payloads before 0.1.0's
    leaner decoder have none), or ``raw`` as it is."""
    return raw.split(b"\0", 1)[1] if raw.startswith(b"import os\n") and b"\0" in raw else raw


def is_records(raw: bytes) -> bool:
    """Whether ``raw`` starts as :func:`records` do (a tar starts with a name; gzip and LZMA elsewhere)."""
    return len(raw) >= 4 and len(set(raw[:3])) == 3 and 10 not in raw[:3] and raw[3:4].isdigit() \
        and raw[257:262] != b"ustar"


def read_records(raw: bytes) -> list[PackedFile]:
    """Undo :func:`records`; raises :class:`BundleError` when ``raw`` is not records."""
    if not is_records(raw):
        raise BundleError("the payload is not a valid records archive (no separator at the start)")
    out: list[PackedFile] = []
    for n, rec in enumerate(raw.split(raw[:3])[1:], start=1):
        m = _RECORD_HEAD_RE.match(rec)
        if m is None:
            raise BundleError(f"the payload is not a valid records archive (record {n} has no 'MODE PATH' line)")
        path = m[2].decode("utf-8", "surrogateescape")
        out.append(PackedFile(path, rec[m.end():], bool(int(m[1], 8) & 0o111)))
    return sorted(out, key=lambda f: f.path)


# base95: the data as one big-endian number written in the 95 printable ASCII characters
# (space to '~', digit value = code - 32), most significant first, without leading zero
# digits. 9 bytes take 11 characters (base85: 11.25; base64: 12). Every character is safe
# in a quoted heredoc line, and a line of them is never the terminator (one character, 'P')
# as long as it is longer than one character. The decoder restores leading zero bytes
# from the length it carries; LZMA's first byte (its properties) is never zero here.
_B95 = bytes(range(32, 127))


def base95_encode(data: bytes) -> str:
    n, out = int.from_bytes(data, "big"), bytearray()
    step = 95**16
    while n:
        n, r = divmod(n, step)
        for _ in range(16):
            r, d = divmod(r, 95)
            out.append(_B95[d])
    text = bytes(reversed(out)).lstrip(b" ").decode("ascii")
    return text or " "


def base95_decode(text: str, length: Optional[int] = None) -> bytes:
    """Undo :func:`base95_encode` (``length``: bytes to restore, default the fewest that hold it)."""
    n = 0
    for c in text:
        v = ord(c) - 32
        if not 0 <= v < 95:
            raise BundleError(f"the payload is not valid base95 (character {c!r})")
        n = n * 95 + v
    if length is None:
        length = (n.bit_length() + 7) // 8
    try:
        return n.to_bytes(length, "big")
    except OverflowError:
        raise BundleError(f"the payload is not valid base95 (it holds more than {length} bytes)") from None


def inline_payload(files: Iterable[PackedFile], codec: str) -> bytes:
    """The compressed payload of an inline bundle: LZMA of :func:`inline_records` (xz), or :func:`pack` (gzip)."""
    if codec == "xz":
        return compress(inline_records(files), "xz")
    return pack(files, codec)


def inline_text(files: Iterable[PackedFile], codec: str) -> str:
    """The heredoc line of an inline bundle: base95 (xz) or base64 (gzip) of :func:`inline_payload`."""
    payload = inline_payload(files, codec)
    return base95_encode(payload) if codec == "xz" else text_encode(payload, codec)


def unpack_any(data: bytes) -> list[PackedFile]:
    """The files of a compressed tar (:func:`pack`) or of compressed :func:`records`."""
    raw = records_of(decompress(data))
    return read_records(raw) if is_records(raw) else unpack(raw)
