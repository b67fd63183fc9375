"""Checks shared by the constructs: names, tokens in features, the content-size validation."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import jsii
from constructs import IValidation

from ..bundle import Bundle
from ..features import Features
from ._naming import _NAME_RE, NAME_MAX_LENGTH
from ._tokens import _unresolved


def _name_problem(field: str, value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"{field}: expected a string, got {type(value).__name__}; give a name such as 'my-notebook'"
    if _unresolved(value):
        return None
    if len(value) > NAME_MAX_LENGTH:
        return (
            f"{field}: {value!r} is {len(value)} characters, the limit is {NAME_MAX_LENGTH}; "
            "shorten it (or omit it to get a generated name)"
        )
    if not _NAME_RE.match(value):
        return (
            f"{field}: {value!r} is not a valid name: use letters, digits and '-' only, starting and ending "
            "with a letter or digit (no '_', '.' or spaces)"
        )
    return None


def _token_problems(features: Any) -> List[str]:
    """Tokens cannot go into a bundle: it is rendered (and base64-encoded) at synth time."""
    if not isinstance(features, Features):
        return []
    values = [(f"environment[{k}]", v) for k, v in features.environment.items()]
    values += [(f"binaries[{b.name}].url", b.url) for b in features.binaries]
    return [
        f"features.{field}: {value!r} holds a CDK token, but the bundle is rendered into the template at synth "
        "time and cannot resolve tokens; pass a literal value (for example from the stack's env or context)"
        for field, value in values
        if _unresolved(value)
    ]


def _raise_all(path: str, what: str, problems: Sequence[str]) -> None:
    if problems:
        if len(problems) == 1:
            raise ValueError(f"{what} {path}: {problems[0]}")
        raise ValueError(f"{what} {path}: invalid props:\n" + "\n".join(f"- {p}" for p in problems))


@jsii.implements(IValidation)
class _ContentSizeValidation:
    """Reports lifecycle hooks over SageMaker's 16,384-character limit, naming the costliest files."""

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle

    def validate(self) -> List[str]:
        return list(self._bundle.size_errors())
