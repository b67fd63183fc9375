"""Telling CDK tokens from literal values with aws-cdk-lib's own ``Token.is_unresolved``."""

from __future__ import annotations

from typing import Any, Iterable

from aws_cdk import Token


def _unresolved(value: Any) -> bool:
    """``Token.is_unresolved(value)``; ``None``, ``bool`` and ``int`` answer ``False`` without asking Node
    (CDK carries tokens in strings, in lists and in numbers that cross jsii as floats: never in a
    Python ``int``, ``bool`` or ``None``)."""
    if value is None or isinstance(value, (bool, int)):
        return False
    return bool(Token.is_unresolved(value))


def _any_unresolved(strings: Iterable[Any]) -> bool:
    """Whether any of ``strings`` holds a token, in one call to Node.

    ``Token.is_unresolved`` of a string is true when the string holds a token anywhere, so the
    strings joined answer for all of them; the non-strings are asked one by one.
    """
    texts = []
    for value in strings:
        if isinstance(value, str):
            texts.append(value)
        elif _unresolved(value):
            return True
    return bool(texts) and bool(Token.is_unresolved("\n".join(texts)))
