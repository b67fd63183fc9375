"""S3 delivery: the small lifecycle script that fetches a hook's payload from S3.

When a bundle is too large for SageMaker's 16,384 characters, its payload (the
same deterministic compressed tarball an inline bundle carries) is stored as an
S3 object, and the lifecycle script only carries the fetcher
(``on_instance/fetch.py``, minified and compressed), the object's address, size
and sha256, and the runner call. Shape of the script::

    #!/bin/bash
    # notebook-lifecycle/s3 0.1.0 on-start
    b='cdk-hnb659fds-assets-123456789012-eu-west-1'
    r='eu-west-1'
    umask 022;rm -rf /startup;timeout -sKILL 75 python3 -c '...exec the fetcher...' on-start /startup "$b" KEY SHA256 SIZE xz "$r" 60 <<'P'||...
    <the fetcher: LZMA, base85>
    P
    f=/startup/.notebook-lifecycle/run.sh;[ -f $f ]&&exec /bin/bash $f on-start $((SECONDS<240?240-SECONDS:1));exit 0

Deploy-time values. The bucket (and the region) are assigned on lines of their
own, inside single quotes, and reach the fetcher as quoted shell words: render
with ``bucket=BUCKET_PLACEHOLDER`` (and ``region=REGION_PLACEHOLDER``), split the
script at the placeholder, and join the parts around the deploy-time value
(``Fn::Join`` then ``Fn::Base64``). A bucket name never holds a quote, and the
fetcher checks the name again before using it, so the value cannot change the
script. Without a region the fetcher finds it on the instance.

From a bundle. :func:`s3_script_parts` renders the script of one hook of a
:class:`~notebook_lifecycle.bundle.Bundle` (its payload's sha256 and size, its
install dir, deadline and codec) as literal text around slots: :data:`BUCKET`
and :data:`REGION` (raw text, filled in with the bucket's name and region) and
the bundle's deploy-time values (``echo '<base64>'>.../features/NAME.b64`` lines
between the fetch and the runner, as in an inline bundle).
:func:`choose` decides, for ``delivery="auto"``, which way a hook goes.

Time. ``deadline_seconds`` counts from the start of the hook: the runner gets
what the fetch left of it (the fetch itself is bounded by ``fetch_seconds``).

Pure Python; no CDK here.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Union

from . import archive
from ._version import __version__
from .bundle import CONTENT_LIMIT, RUNNER_PATH, VALUES_DIR, _check_deadline, _check_install_dir
from .deploy_values import DeployValue
from .errors import BundleError
from .shipped import shipped_file

if TYPE_CHECKING:  # pragma: no cover
    from .bundle import Bundle

__all__ = [
    "BUCKET_PLACEHOLDER",
    "REGION_PLACEHOLDER",
    "DEFAULT_FETCH_SECONDS",
    "render_s3_script",
    "fetcher_text",
    "content_length",
    "DELIVERIES",
    "S3Slot",
    "BUCKET",
    "REGION",
    "choose",
    "s3_script_parts",
    "bound_length",
    "check_delivery",
]

#: The ways a hook's payload reaches the instance (``delivery=``).
DELIVERIES = ("inline", "s3", "auto")
#: Counted for a bucket name the size report cannot know (S3's longest name).
BUCKET_BOUND = 63
#: Counted for a region the size report cannot know.
REGION_BOUND = 20
#: Counted for an object key the size report cannot know (an asset key: 64 hex digits and ``.xz``).
KEY_BOUND = 68

#: Stands for the bucket name in a rendered script until a deploy-time value replaces it.
BUCKET_PLACEHOLDER = "@NOTEBOOK_LIFECYCLE_BUCKET@"
#: Stands for the region in a rendered script until a deploy-time value replaces it.
REGION_PLACEHOLDER = "@NOTEBOOK_LIFECYCLE_REGION@"
#: How long the fetch may take at most (download, or the cached copy when S3 does not answer).
DEFAULT_FETCH_SECONDS = 60
MAX_FETCH_SECONDS = 120

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/=+-]{0,1023}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_HOOKS = ("on-start", "on-create")
# Decode and run the fetcher: its compressed text is the first line of stdin.
_RUN_FETCHER = "python3 -c 'import lzma,base64;exec(lzma.decompress(base64.b85decode(input())))'"


@lru_cache(maxsize=None)
def fetcher_text() -> str:
    """``on_instance/fetch.py`` as the script carries it: minified, LZMA-compressed, base85 (one line)."""
    return archive.text_encode(archive.compress(shipped_file("fetch.py"), "xz"), "xz")


def render_s3_script(
    *,
    bucket: str,
    key: str,
    sha256: str,
    size: int,
    hook: str = "on-start",
    install_dir: str = "/startup",
    deadline_seconds: int = 240,
    codec: str = "xz",
    region: Optional[str] = None,
    fetch_seconds: int = DEFAULT_FETCH_SECONDS,
) -> str:
    """The lifecycle script of ``hook`` that fetches its payload from ``s3://bucket/key``.

    :param bucket: the bucket's name, or :data:`BUCKET_PLACEHOLDER` (see the module docstring).
    :param key: the object's key (letters, digits and ``._/=+-``).
    :param sha256: hex sha256 of the object: nothing else is ever unpacked.
    :param size: the object's size in bytes.
    :param hook: ``"on-start"`` or ``"on-create"``.
    :param install_dir: where the payload is unpacked (as for :class:`~notebook_lifecycle.Bundle`).
    :param deadline_seconds: time the hook's foreground work may take, fetch included (1 to 280).
    :param codec: the payload's compression, ``"xz"`` or ``"gzip"`` (as ``Bundle(compression=...)``).
    :param region: the bucket's region, :data:`REGION_PLACEHOLDER`, or ``None`` to find it on the instance.
    :param fetch_seconds: time the fetch may take (5 to 120, less than ``deadline_seconds``).
    :raises BundleError: on any bad value, naming the field and the fix.
    """
    if bucket != BUCKET_PLACEHOLDER and (not isinstance(bucket, str) or not _BUCKET_RE.match(bucket)):
        raise BundleError(
            f"bucket: {bucket!r} is not an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-')"
        )
    if not isinstance(key, str) or not _KEY_RE.match(key) or ".." in key.split("/"):
        raise BundleError(f"key: {key!r} must be an S3 key of letters, digits and '._/=+-' (such as an asset's hash)")
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise BundleError(f"sha256: {sha256!r} must be 64 lower-case hex digits (hashlib.sha256(payload).hexdigest())")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise BundleError(f"size: {size!r} must be the payload's size in bytes (a positive whole number)")
    if hook not in _HOOKS:
        raise BundleError(f"hook: {hook!r} is not one of {', '.join(_HOOKS)}")
    install_dir = _check_install_dir(install_dir)
    deadline_seconds = _check_deadline(deadline_seconds)
    if codec not in archive.CODECS:
        raise BundleError(f"codec: {codec!r} is not supported; use one of {', '.join(archive.CODECS)}")
    if region is not None and region != REGION_PLACEHOLDER and (
        not isinstance(region, str) or not _REGION_RE.match(region)
    ):
        raise BundleError(f"region: {region!r} is not an AWS region name (such as 'eu-west-1'); or pass None")
    if (
        isinstance(fetch_seconds, bool)
        or not isinstance(fetch_seconds, int)
        or not 5 <= fetch_seconds <= MAX_FETCH_SECONDS
        or fetch_seconds >= deadline_seconds
    ):
        raise BundleError(
            f"fetch_seconds: {fetch_seconds!r} must be a whole number of seconds from 5 to {MAX_FETCH_SECONDS}, "
            f"less than deadline_seconds ({deadline_seconds})"
        )
    d = install_dir
    runner = f"{d}/{RUNNER_PATH}"
    # the fetcher stops itself at fetch_seconds; `timeout` is the backstop should it hang in C code (DNS)
    backstop = fetch_seconds + 15
    return (
        "#!/bin/bash\n"
        f"# notebook-lifecycle/s3 {__version__} {hook}\n"
        f"b='{bucket}'\n"
        f"r='{region or ''}'\n"
        f"umask 022;rm -rf {d};timeout -sKILL {backstop} {_RUN_FETCHER} {hook} {d} \"$b\" {key} {sha256} {size} "
        f"{codec} \"$r\" {fetch_seconds} <<'P'||echo notebook-lifecycle: the fetch ended with $?\n"
        f"{fetcher_text()}\n"
        "P\n"
        f"f={runner};[ -f $f ]&&exec /bin/bash $f {hook} "
        f"$((SECONDS<{deadline_seconds}?{deadline_seconds}-SECONDS:1));exit 0\n"
    )


def content_length(script: str) -> int:
    """Characters of ``script`` after base64: what counts against SageMaker's 16,384."""
    return len(base64.b64encode(script.encode()))


# -- from a bundle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Slot:
    """A slot in :func:`s3_script_parts` for raw text known at deploy time: ``"bucket"`` or ``"region"``."""

    name: str


#: The bucket's name goes here (inside single quotes; a bucket name holds no quote).
BUCKET = S3Slot("bucket")
#: The bucket's region goes here (inside single quotes).
REGION = S3Slot("region")

Part = Union[str, DeployValue, S3Slot]


def check_delivery(value: object, field: str = "delivery") -> str:
    """``value`` when it is one of :data:`DELIVERIES`; otherwise a :class:`BundleError` naming the field."""
    if not isinstance(value, str) or value not in DELIVERIES:
        raise BundleError(
            f"{field}: {value!r} is not a delivery; use one of {', '.join(repr(d) for d in DELIVERIES)} "
            "('auto', the default, is inline when the script fits in 16,384 characters, S3 otherwise)"
        )
    return value


def choose(delivery: str, inline_length: int) -> str:
    """``"inline"`` or ``"s3"``: the way a hook whose inline script is ``inline_length`` characters goes."""
    check_delivery(delivery)
    if delivery == "auto":
        return "inline" if inline_length <= CONTENT_LIMIT else "s3"
    return delivery


def s3_script_parts(
    bundle: "Bundle",
    hook: str,
    *,
    key: str,
    bucket: Union[str, S3Slot] = BUCKET,
    region: Union[str, S3Slot, None] = REGION,
    fetch_seconds: int = DEFAULT_FETCH_SECONDS,
) -> tuple[Part, ...]:
    """The S3 lifecycle script of ``hook`` of ``bundle`` as literal text around slots.

    Literal strings alternate with slots (:data:`BUCKET`, :data:`REGION`, the bundle's
    :class:`~notebook_lifecycle.deploy_values.DeployValue` s). ``bucket`` and ``region`` may be
    literal names instead (then they are part of the text); ``region=None`` lets the fetcher
    find it on the instance.

    :raises BundleError: for a hook the bundle does not have, or a bad key.
    """
    payload = bundle.payload(hook)
    if payload is None:
        raise BundleError(f"{hook}: the bundle has no such hook (it has {', '.join(bundle.hooks)})")
    script = render_s3_script(
        bucket=BUCKET_PLACEHOLDER if isinstance(bucket, S3Slot) else bucket,
        key=key,
        sha256=bundle.payload_sha256(hook) or "",
        size=len(payload),
        hook=hook,
        install_dir=bundle.install_dir if hook == "on-start" else bundle.install_dir + "-on-create",
        deadline_seconds=bundle.deadline_seconds,
        codec=bundle.compression,
        region=REGION_PLACEHOLDER if isinstance(region, S3Slot) else region,
        fetch_seconds=fetch_seconds,
    )
    # the bucket and the region are on the 3rd and 4th lines, before the fetcher's text
    lines = script.split("\n")
    head, rest = "\n".join(lines[:4]) + "\n", "\n".join(lines[4:])
    parts: list[Part] = []
    text = ""
    for piece in re.split(f"({re.escape(BUCKET_PLACEHOLDER)}|{re.escape(REGION_PLACEHOLDER)})", head):
        if piece == BUCKET_PLACEHOLDER:
            parts += [text, BUCKET]
            text = ""
        elif piece == REGION_PLACEHOLDER:
            parts += [text, REGION]
            text = ""
        else:
            text += piece
    values = bundle.deploy_values if hook == "on-start" else ()
    if values:
        d = bundle.install_dir
        at = rest.rindex("\nf=") + 1
        body, tail = rest[:at], rest[at:]
        text += body
        for v in values:
            parts += [text + "echo '", v]
            text = f"'>{d}/{VALUES_DIR}/{v.name}.b64\n"
        text += tail
    else:
        text += rest
    parts.append(text)
    return tuple(parts)


def bound_length(parts: tuple[Part, ...]) -> int:
    """Characters after base64 of a script given as parts, each slot at its bound."""
    n = 0
    for p in parts:
        if isinstance(p, str):
            n += len(p.encode())
        elif isinstance(p, S3Slot):
            n += BUCKET_BOUND if p is BUCKET or p.name == "bucket" else REGION_BOUND
        else:
            n += 4 * -(-p.max_length // 3)
    return 4 * -(-n // 3)
