"""Construct paths and generated names (``Names.unique_resource_name``)."""

from __future__ import annotations

import re

from aws_cdk import Names
from constructs import Construct


#: Longest notebook instance and lifecycle configuration name SageMaker accepts.
NAME_MAX_LENGTH = 63
_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def generated_name(construct: Construct) -> str:
    """The name a construct gets when none is given: deterministic, lowercase, at most 63 characters.

    Built by ``Names.unique_resource_name`` from the stack name and the
    construct path (readable part plus an 8-digit hash of the path), then
    lowercased, so it is unique per stack and construct path, matches
    ``^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`` and is already what SageMaker shows in ARNs.
    """
    raw = Names.unique_resource_name(
        construct, max_length=NAME_MAX_LENGTH, separator="-", allowed_special_characters="-"
    )
    name = re.sub(r"[^a-z0-9-]", "", raw.lower()).strip("-")
    if not _NAME_RE.match(name) or len(name) > NAME_MAX_LENGTH:  # pragma: no cover - defensive
        raise ValueError(f"{construct.node.path}: cannot generate a valid name from {raw!r}; pass a name")
    return name


def _path(scope: Construct, id: str) -> str:
    parent = scope.node.path
    return f"{parent}/{id}" if parent else id
