"""IAM pieces: the SageMaker principal, immutable roles, statements and ARNs kept as plain data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from aws_cdk import FeatureFlags, Stack
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

    def statement_json(self, sort: bool = False) -> dict:
        """The statement as ``iam.PolicyStatement`` renders it: keys in its order and, with ``sort``
        (``@aws-cdk/aws-iam:minimizePolicies``), actions and resources sorted as aws-cdk-lib sorts
        them after resolving (by their JSON). Within one statement every resource is built the same
        way (same literals, same tokens) and differs only in its literal tail, so sorting the readable
        forms gives the same order."""
        actions = sorted(self.actions) if sort else list(self.actions)
        pairs = sorted(self.resources, key=lambda pair: pair[1]) if sort else list(self.resources)
        resources = [value for value, _ in pairs]
        return {
            "Action": actions if len(actions) > 1 else actions[0],
            "Effect": "Allow",
            "Resource": resources if len(resources) > 1 else resources[0],
            "Sid": self.sid,
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
_MINIMIZE_POLICIES = "@aws-cdk/aws-iam:minimizePolicies"


class _Arns:
    """ARNs in the notebook's own stack: template values (tokens when env-agnostic) and readable forms."""

    _ATTR = "_notebook_lifecycle_arns"

    @classmethod
    def of(cls, scope: Construct) -> "_Arns":
        """The ARNs of the stack of ``scope``; cached on the scope and on the stack's Python object
        (jsii hands back the same object for the same stack), so they are read from Node once per
        stack, and each further scope costs one ``Stack.of``."""
        found = getattr(scope, cls._ATTR, None)
        if found is None:
            stack = Stack.of(scope)
            found = getattr(stack, cls._ATTR, None)
            if found is None:
                found = cls(stack)
                cls._keep(stack, found)
            cls._keep(scope, found)
        return found

    @classmethod
    def _keep(cls, holder: object, arns: "_Arns") -> None:
        try:
            setattr(holder, cls._ATTR, arns)
        except AttributeError:  # pragma: no cover - a proxy that refuses attributes
            pass

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
        self._stack = stack
        self._sort: Optional[bool] = None

    @property
    def sort_policies(self) -> bool:
        """Whether ``@aws-cdk/aws-iam:minimizePolicies`` is on in this stack (aws-cdk-lib then sorts
        the actions and resources of identity policies); asked of Node once per scope."""
        if self._sort is None:
            self._sort = bool(FeatureFlags.of(self._stack).is_enabled(_MINIMIZE_POLICIES))
        return self._sort

    def make(self, service: str, resource: str) -> Tuple[str, str]:
        (p, shown_p), (r, shown_r), (a, shown_a) = self.partition, self.region, self.account
        return f"arn:{p}:{service}:{r}:{a}:{resource}", f"arn:{shown_p}:{service}:{shown_r}:{shown_a}:{resource}"
