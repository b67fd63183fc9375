"""Construct paths and generated names (``Names.unique_resource_name``, computed in Python)."""

from __future__ import annotations

import hashlib
import re
from typing import List, Sequence, Tuple

from aws_cdk import Names, Stack
from constructs import Construct

from ._tokens import _unresolved


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


_NAME_HASH_LEN = 8
_NAME_COMPONENTS_ATTR = "_notebook_lifecycle_name_components"


def _name_components(scope: Construct) -> Tuple[str, ...]:
    """What ``Names.unique_resource_name`` starts from for a child of ``scope``: the name of the
    innermost top-level stack, then the ids below it. Cached on the scope (read from Node once)."""
    found = getattr(scope, _NAME_COMPONENTS_ATTR, None)
    if found is not None:
        return found
    scopes = scope.node.scopes
    last = 0
    for i, c in enumerate(scopes):
        if Stack.is_stack(c) and not _unresolved(c.stack_name):
            last = i
    found = tuple(
        c.stack_name if (i == last and Stack.is_stack(c) and not _unresolved(c.stack_name)) else c.node.id
        for i, c in enumerate(scopes[last:], start=last)
    )
    try:
        setattr(scope, _NAME_COMPONENTS_ATTR, found)
    except AttributeError:  # pragma: no cover
        pass
    return found


def _unique_resource_name(components: Sequence[str], max_length: int = NAME_MAX_LENGTH) -> str:
    """``Names.unique_resource_name(c, max_length, separator="-", allowed_special_characters="-")``,
    computed in Python (aws-cdk-lib ``core/lib/private/unique-resource-name.ts``); checked against it in tests."""

    def clean(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9-]", "", s)

    components = [c for c in components if c != "Default"]
    if not components:  # pragma: no cover - a construct always has a path
        raise ValueError("cannot name a construct without a path")
    if len(components) == 1:
        top = clean(components[0])
        if len(top) <= max_length:
            return top
    path = "/".join(components).encode("utf-8")
    digest = hashlib.md5(path, usedforsecurity=False).hexdigest()[:_NAME_HASH_LEN].upper()
    deduped: List[str] = []
    for c in components:
        if not deduped or not deduped[-1].endswith(c):
            deduped.append(c)
    human = "-".join(x for x in (clean(c) for c in deduped if c != "Resource") if x) + "-"
    max_human = max_length - _NAME_HASH_LEN
    if len(human) > max_human:
        half = int(max_human / 2)
        human = human[:half] + (human[-half:] if half else "")
    return human + digest


def _generated_name_for(scope: Construct, *ids: str) -> str:
    """:func:`generated_name` of the construct that ``ids`` will name below ``scope``, without Node."""
    raw = _unique_resource_name(_name_components(scope) + ids)
    name = re.sub(r"[^a-z0-9-]", "", raw.lower()).strip("-")
    if not _NAME_RE.match(name) or len(name) > NAME_MAX_LENGTH:  # pragma: no cover - defensive
        raise ValueError(f"{_path(scope, ids[0])}: cannot generate a valid name from {raw!r}; pass a name")
    return name


def _path(scope: Construct, id: str) -> str:
    parent = scope.node.path
    return f"{parent}/{id}" if parent else id
