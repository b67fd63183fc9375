"""The IAM policy pieces of a :class:`NotebookInstance`: its customer-managed policy
(:class:`NotebookInstancePolicy`), the role it creates (:class:`_NotebookRole`) and the ordering of the
instance after every policy under its role (:class:`_OrderAfterRolePolicies`)."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, cast

import jsii
from aws_cdk import CfnResource, IAnyProducer, IResolveContext, Lazy, Resource, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct, IValidation


class _NotebookRole(iam.Role):
    """The role a :class:`NotebookInstance` creates: an ``iam.Role`` that tells, in Python, when a
    statement is first added to its principal policy (``bucket.grant_read(notebook)``,
    ``grant_principal`` grants, ``role.add_to_principal_policy``/``add_to_policy``: CDK calls
    ``add_to_principal_policy`` for all of them, which makes the default policy under the role, and at
    synth maybe overflow policies). Only then is the instance registered with
    :class:`_OrderAfterRolePolicies`: until something is added the role has no policy under it, and a
    notebook nobody grants to costs no validation and no requests to Node at synth."""

    _notebook_lifecycle_order: Optional[Tuple[Construct, CfnResource]] = None
    _notebook_lifecycle_has_policy = False
    _notebook_lifecycle_attached: Tuple[iam.Policy, ...] = ()

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self._notebook_lifecycle_has_a_policy()
        return super().add_to_principal_policy(statement)

    def attach_inline_policy(self, policy: iam.Policy) -> None:
        # an iam.Policy made anywhere in the app and attached to this role (`iam.Policy(..., roles=[role])`,
        # `policy.attach_to_role(role)`: CDK calls this for both)
        self._notebook_lifecycle_attached += (policy,)
        self._notebook_lifecycle_has_a_policy()
        super().attach_inline_policy(policy)

    def _notebook_lifecycle_has_a_policy(self) -> None:
        if not self._notebook_lifecycle_has_policy:
            self._notebook_lifecycle_has_policy = True
            if self._notebook_lifecycle_order is not None:
                scope, resource = self._notebook_lifecycle_order
                _OrderAfterRolePolicies.add(scope, resource, self)

    def _order_after_policies(self, scope: Construct, resource: CfnResource) -> None:
        """Order ``resource`` after the policies under this role, once it has any."""
        self._notebook_lifecycle_order = (scope, resource)
        if self._notebook_lifecycle_has_policy:
            _OrderAfterRolePolicies.add(scope, resource, self)


@jsii.implements(IValidation)
class _OrderAfterRolePolicies:
    """Makes a notebook's ``CfnNotebookInstance`` depend on every policy under its role, once the app
    is complete: it runs as a validation (after Aspects and prepare, before the templates are
    written) and adds ``DependsOn`` with the public ``CfnResource.add_dependency``. The role's own
    ``AWS::IAM::Role`` is left out: ``RoleArn`` orders it already (cfn-lint W3005 otherwise).
    (An Aspect would do the same, but any Aspect makes CDK walk the whole tree again at synth:
    several times the cost of the whole construct.) A role the notebook created is registered only
    once something is added to its principal policy (:class:`_NotebookRole`)."""

    _ATTR = "_notebook_lifecycle_order_after_role_policies"

    @classmethod
    def add(cls, scope: Construct, resource: CfnResource, role: iam.IRole) -> None:
        """One validation per scope (one callback at synth for all the notebooks made in it)."""
        found = getattr(scope, cls._ATTR, None)
        if found is None:
            found = cls()
            scope.node.add_validation(found)
            setattr(scope, cls._ATTR, found)
        found._pairs.append((resource, role))

    def __init__(self) -> None:
        self._pairs: List[Tuple[CfnResource, iam.IRole]] = []

    @staticmethod
    def _depend_on(resource: CfnResource, target: CfnResource) -> None:
        # `add_dependency` was renamed `add_resource_dependency` (newer aws-cdk-lib); same effect
        add = getattr(type(resource), "add_resource_dependency", None)
        if add is not None:
            add(resource, target)
        else:  # aws-cdk-lib 2.200 (tests/test_cdk_versions.py)
            resource.add_dependency(target)

    @staticmethod
    def _is_cfn_resource(construct: Any) -> bool:
        # jsii hands back an object of its own class (`iam.CfnPolicy`, ...) when Python knows it: no
        # request; anything else (a class private to a library) is asked of Node
        if isinstance(construct, CfnResource):
            return True
        if isinstance(construct, (Resource, Construct)) and getattr(type(construct), "__jsii_type__", None):
            return False  # a known, non-Cfn construct class
        return bool(CfnResource.is_cfn_resource(construct))

    def validate(self) -> List[str]:
        for resource, role in self._pairs:
            policies = [child for child in role.node.children if not self._is_cfn_resource(child)]  # not the role
            # policies made elsewhere and attached to a role the notebook created, in the notebook's stack (one
            # in another stack refers to the role, so that stack is deployed after this one: nothing to wait
            # for); one without statements writes no resource (iam.Policy's `force` aside)
            attached = getattr(role, "_notebook_lifecycle_attached", ())
            if attached:
                here = Stack.of(resource).node.path
                policies += [p for p in attached if not p.document.is_empty and Stack.of(p).node.path == here]
            for policy in policies:
                for construct in policy.node.find_all():
                    if self._is_cfn_resource(construct):
                        self._depend_on(resource, cast(CfnResource, construct))
        return []


class NotebookInstancePolicy(Construct):
    """The customer-managed policy of a :class:`NotebookInstance` (``notebook.policy``): an
    ``AWS::IAM::ManagedPolicy`` written as the L1 ``iam.CfnManagedPolicy`` (its ``node.default_child``,
    id ``Resource``) with the library's statements as a literal document.

    ``add_statements`` appends ``iam.PolicyStatement``s, rendered when the template is (so a statement
    changed after it was added is written as it is then). (The L2 ``iam.ManagedPolicy`` costs about as
    much again as the rest of the notebook at synth; the library's own statements need none of it.)
    """

    def __init__(self, scope: Construct, id: str, *, description: str, statements: List[dict], role: iam.IRole) -> None:
        super().__init__(scope, id)
        self._statements = statements
        self._added: List[iam.PolicyStatement] = []
        self._resource = iam.CfnManagedPolicy(
            self,
            "Resource",
            description=description,
            path="/",
            roles=[role.role_name],
            policy_document={"Statement": statements, "Version": "2012-10-17"},
        )

    @property
    def managed_policy_arn(self) -> str:
        """The policy's ARN (``Ref``)."""
        return self._resource.ref

    @property
    def statements(self) -> List[Any]:
        """The library's statements (JSON) and the ``iam.PolicyStatement``s added since."""
        return [*self._statements, *self._added]

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        """Add statements to the policy; each must be valid in an identity policy (resources, no principal)."""
        for statement in statements:
            errors = list(statement.validate_for_identity_policy())
            if errors:
                raise ValueError(f"{self.node.path}: {'; '.join(errors)}")
        if not self._added:  # from now on the document is rendered at synth time
            self._resource.policy_document = Lazy.uncached_any(_PolicyDocumentProducer(self))
        self._added.extend(statements)

    def _document(self) -> dict:
        return {
            "Statement": [*self._statements, *(s.to_statement_json() for s in self._added)],
            "Version": "2012-10-17",
        }


@jsii.implements(IAnyProducer)
class _PolicyDocumentProducer:
    def __init__(self, policy: NotebookInstancePolicy) -> None:
        self._policy = policy

    def produce(self, context: IResolveContext) -> Any:
        return self._policy._document()
