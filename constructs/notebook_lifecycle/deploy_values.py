"""Deploy-time values: placeholders for values that exist only when CloudFormation deploys the stack.

A bucket name that the same app creates is not known when the bundle is
rendered (at synth time). :class:`DeployValue` stands in for such a value in
``Features(environment=...)``: the bundle leaves a named slot for it in the
plain-text part of the lifecycle script, and the CDK constructs fill the slot
with ``Fn::Base64`` of the value, so the script carries it as base64 and the
instance decodes it with ``base64 -d``. No quoting is needed at any step, so no
value, whatever its characters, can run a command.

The CDK constructs make these placeholders themselves from CDK tokens
(``Features(environment={"DATA_BUCKET": bucket.bucket_name})``); build one by
hand only when using :class:`~notebook_lifecycle.bundle.Bundle` without CDK.

Pure Python; no CDK here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BundleError

__all__ = ["DeployValue", "DEFAULT_MAX_LENGTH", "MAX_LENGTH", "placeholder"]

#: Bytes (UTF-8) a deploy-time value is assumed to take when the size check counts it.
DEFAULT_MAX_LENGTH = 256
#: The largest bound a :class:`DeployValue` may declare.
MAX_LENGTH = 4096

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def placeholder(name: str) -> str:
    """How a deploy-time value is shown where its text would be: ``<deploy-time value NAME>``."""
    return f"<deploy-time value {name}>"


@dataclass(frozen=True)
class DeployValue:
    """A value known only at deploy time, as a named placeholder in a bundle.

    :param name: the environment variable it sets; ``Features`` fills it in from
        the ``environment`` key when it is left empty.
    :param max_length: the longest value (UTF-8 bytes) it may take at deploy time;
        the size check counts the value at this length (default 256).
    """

    name: str = ""
    max_length: int = DEFAULT_MAX_LENGTH

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or (self.name and not _NAME_RE.fullmatch(self.name)):
            raise BundleError(f"DeployValue.name: {self.name!r} must be an environment variable name (or empty)")
        m = self.max_length
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= MAX_LENGTH:
            raise BundleError(
                f"DeployValue.max_length: {m!r} must be a whole number of bytes from 0 to {MAX_LENGTH} "
                "(deploy-time values (CDK tokens) are not supported here; pass a literal int)"
            )

    @property
    def placeholder(self) -> str:
        return placeholder(self.name)

    def __str__(self) -> str:
        return self.placeholder
