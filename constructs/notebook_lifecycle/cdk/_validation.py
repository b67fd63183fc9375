"""Checks shared by the constructs: names, tokens in features, the content-size validation."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import jsii
from constructs import IValidation

from ..bundle import Bundle
from ..features import Features
from ._naming import _NAME_RE, NAME_MAX_LENGTH
from ._tokens import _unresolved

import re

# strings of this shape are literals (a CDK token always holds other characters): no need to ask Node
_NAME_SAFE = re.compile(r"^[A-Za-z0-9/._-]*$")


def _name_problem(field: str, value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"{field}: expected a string, got {type(value).__name__}; give a name such as 'my-notebook'"
    if len(value) <= NAME_MAX_LENGTH and _NAME_RE.match(value):
        return None  # a valid literal (a token never has this shape): no need to ask Node
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


def _has_member(obj: Any, member: str) -> bool:
    """Whether ``obj`` (a Python or jsii object) has ``member``, looked up on its class: no request to Node."""
    if hasattr(type(obj), member):
        return True
    delegates = getattr(obj, "__dict__", {}).get("_delegates") or ()  # a jsii interface proxy
    return any(hasattr(type(d), member) for d in delegates)


# (field, member every accepted value has, what to pass)
_CONSTRUCT_PROPS = {
    "role": ("role_arn", "an iam.IRole (iam.Role(...) or iam.Role.from_role_arn(...))"),
    "subnet": ("subnet_id", "an ec2.ISubnet (for example vpc.private_subnets[0] or ec2.Subnet.from_subnet_attributes(...))"),
    "kms_key": ("key_arn", "a kms.IKey (kms.Key(...) or kms.Key.from_key_arn(...))"),
}


def _type_problems(values: dict) -> List[str]:
    """Wrong types for the construct-valued props (a string ARN for ``role``, ...)."""
    problems = []
    for field, value in values.items():
        if value is None:
            continue
        if field == "security_groups":
            for i, group in enumerate(value):
                if not _has_member(group, "security_group_id"):
                    problems.append(
                        f"security_groups[{i}]: expected an ec2.ISecurityGroup, got {type(group).__name__}; pass "
                        "ec2.SecurityGroup(...) or ec2.SecurityGroup.from_security_group_id(...)"
                    )
            continue
        member, what = _CONSTRUCT_PROPS[field]
        if not _has_member(value, member):
            problems.append(f"{field}: expected {what}, got {type(value).__name__} {value!r:.60}")
    return problems


def _scripts_problems(values: dict) -> List[str]:
    from ..scripts import StartupScripts

    return [
        f"{field}: expected StartupScripts (StartupScripts.from_directory(...) or .from_files(...)), "
        f"got {type(value).__name__}"
        for field, value in values.items()
        if value is not None and not isinstance(value, StartupScripts)
    ]


def _literal_problems(values: dict) -> List[str]:
    """Fields that must be literal Python values (they go into the bundle, rendered at synth time):
    ``{field: (value, expected type(s), example)}``; a token gets a message that says so."""
    problems = []
    for field, (value, types, example) in values.items():
        if value is None:
            continue
        if isinstance(value, str) and str in types and _NAME_SAFE.match(value):
            continue  # a literal string
        right_type = isinstance(value, types) and (bool in types or not isinstance(value, bool))
        if _unresolved(value):
            problems.append(
                f"{field}: {value!r:.60} is a CDK token (a deploy-time value), but {field} must be known at "
                f"synth time; pass a literal such as {example}"
            )
        elif not right_type:
            fix = "; give one of them" if bool in types else f"; give one such as {example}"
            problems.append(f"{field}: expected {example}, got {type(value).__name__} {value!r:.60}{fix}")
    return problems
