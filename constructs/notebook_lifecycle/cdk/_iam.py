"""IAM pieces: the SageMaker principal, immutable roles, statements and ARNs kept as plain data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct



def _is_immutable_role(role: iam.IRole) -> bool:
    """True for ``Role.from_role_arn(..., mutable=False)``, cross-account imports and ``without_policy_updates()``.

    CDK wraps such roles in a private ``ImmutableRole`` that silently drops
    policy changes; it sits next to the role it wraps (``MutableRole<id>`` for
    imports, the original id for ``without_policy_updates``).
    """
    if isinstance(role, iam.Role):
        return False
    node = role.node
    scope = node.scope
    if scope is None:
        return False
    if scope.node.try_find_child(f"MutableRole{node.id}") is not None:
        return True
    prefix = "ImmutableRole"
    return node.id.startswith(prefix) and scope.node.try_find_child(node.id[len(prefix):]) is not None


_PRINCIPAL: Optional[iam.ServicePrincipal] = None


def _sagemaker_principal() -> iam.ServicePrincipal:
    """One ``ServicePrincipal('sagemaker.amazonaws.com')`` per process (it is plain data, safe to share)."""
    global _PRINCIPAL
    if _PRINCIPAL is None:
        _PRINCIPAL = iam.ServicePrincipal("sagemaker.amazonaws.com")
    return _PRINCIPAL


@dataclass(frozen=True)
class _Statement:
    """One IAM statement, kept as plain data: rendered for CloudFormation and, readably, in warnings."""

    sid: str
    actions: Tuple[str, ...]
    resources: Tuple[Tuple[str, str], ...]  # (value for the template, value shown to people)

    def statement_json(self) -> dict:
        resources = [value for value, _ in self.resources]
        return {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": resources if len(resources) > 1 else resources[0],
        }

    def readable(self) -> dict:
        resources = [shown for _, shown in self.resources]
        return {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions) if len(self.actions) > 1 else self.actions[0],
            "Resource": resources if len(resources) > 1 else resources[0],
        }


_PARTITION_RE = re.compile(r"^aws(-[a-z]+)*$")


class _Arns:
    """ARNs in the notebook's own stack: template values (tokens when env-agnostic) and readable forms."""

    _ATTR = "_notebook_lifecycle_arns"

    @classmethod
    def of(cls, scope: Construct) -> "_Arns":
        """The ARNs of the stack of ``scope``; cached on the scope (read from Node once)."""
        found = getattr(scope, cls._ATTR, None)
        if found is None:
            found = cls(Stack.of(scope))
            try:
                setattr(scope, cls._ATTR, found)
            except AttributeError:  # pragma: no cover - a proxy that refuses attributes
                pass
        return found

    def __init__(self, stack: Stack) -> None:
        # `Stack.environment` is "aws://<account>/<region>", with "unknown-account"/"unknown-region" where
        # the stack's account or region is not a concrete value (CDK's public, documented form): one
        # request tells both what is literal and its value.
        account, region = stack.environment[len("aws://"):].split("/", 1)
        #: the literal account and region, or None when the stack is agnostic of them
        self.literal_account = None if account == "unknown-account" else account
        self.literal_region = None if region == "unknown-region" else region
        self.account = (account, account) if self.literal_account else (stack.account, "${AWS::AccountId}")
        self.region = (region, region) if self.literal_region else (stack.region, "${AWS::Region}")
        # `Stack.partition` is a partition name or the AWS::Partition pseudo parameter
        partition = stack.partition
        self.partition = (partition, partition if _PARTITION_RE.match(partition) else "${AWS::Partition}")

    def make(self, service: str, resource: str) -> Tuple[str, str]:
        (p, shown_p), (r, shown_r), (a, shown_a) = self.partition, self.region, self.account
        return f"arn:{p}:{service}:{r}:{a}:{resource}", f"arn:{shown_p}:{service}:{shown_r}:{shown_a}:{resource}"
