"""Telling CDK tokens from literal values without a round trip to Node."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Token


# aws-cdk-lib core/lib/private/encoding.ts, unresolved(): a string is a token when it holds "${Token[<key>]}"
_STRING_TOKEN_RE = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}")


def _unresolved(value: Any) -> bool:
    """``Token.is_unresolved`` without a round trip to Node for strings, ints and bools.

    Strings are matched against CDK's token markers (the same test CDK makes);
    Python ints and bools are never tokens (number tokens are special floats).
    """
    if isinstance(value, str):
        return _STRING_TOKEN_RE.search(value) is not None
    if isinstance(value, (bool, int)):
        return False
    return Token.is_unresolved(value)
