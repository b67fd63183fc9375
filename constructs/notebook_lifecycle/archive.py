"""Deterministic tarballs and the codecs the on-instance decoder understands.

The same files always give the same tar bytes: entries sorted by path, mtime 0,
uid/gid 0, no user or group names, modes normalized to 0755/0644, GNU format
(no PAX records). Compression is deterministic for one zlib/liblzma build; a
different build may emit other (equally valid) bytes, so tests of content
compare unpacked files, not compressed bytes.

Codecs:

``xz`` (the default)
    Raw LZMA in the ``.lzma`` ("alone") container (13 bytes of header), carried
    in the script as base85 text (5 characters per 4 bytes instead of base64's
    4 per 3). The system ``python3``, present on every notebook platform,
    decodes both with its standard library; ``tar`` unpacks.
``gzip``
    gzip, carried as base64: needs only coreutils ``base64``, ``tar`` and
    ``gzip`` on the instance. Header without name or time.

Every payload byte is paid twice: once by the text encoding inside the script,
once by the base64 of the whole script (SageMaker's ``Content``).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import lzma
import tarfile
from typing import Iterable

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
]

CODECS = ("xz", "gzip")

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
# LZMA1 literal/position settings tried for the densest result (text favours pb=0).
_LZMA_SETTINGS = ((3, 0, 0), (3, 0, 2), (4, 0, 0), (1, 0, 0))


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


def _lzma(data: bytes, lc: int, lp: int, pb: int) -> bytes:
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
