"""The :class:`NotebookGovernance` Aspect: features every notebook instance of an app gets."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import jsii
from aws_cdk import Annotations, ArnFormat, IAspect, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct, IValidation

from ..errors import BundleError
from ..features import NOTEBOOK_INSTANCE, Features
from ..scripts import StartupScripts
from .lifecycle_config import LifecycleConfig
from .notebook_instance import (
    AUTOSTOP_ENDPOINT_MESSAGE,
    WARN_AUTOSTOP_ENDPOINT,
    WARN_S3_DELIVERY_ENDPOINT,
    NotebookInstance,
    _stops_itself,
    s3_endpoint_message,
)

__all__ = ["NotebookGovernance", "merge_features", "PREVIOUS_ON_START", "PREVIOUS_ON_CREATE"]

#: File name, in the new lifecycle configuration of a plain ``CfnNotebookInstance``, of its previous scripts.
PREVIOUS_ON_START = "previous-on-start.sh"
PREVIOUS_ON_CREATE = "previous-on-create.sh"
_SID = "NotebookGovernance"


def merge_features(explicit: Optional[Features], extra: Features) -> Features:
    """``explicit`` with every feature it does not set taken from ``extra``; explicit settings win.

    * ``autostop``: the explicit one when set, otherwise ``extra``'s;
    * ``persistent_conda``, ``stop_ssm_agent``, ``bin_dir``: on when either turns it on (a flag
      that is off counts as not set);
    * ``persist_dirs``: the explicit list when not empty, otherwise ``extra``'s;
    * ``environment`` and ``binaries``: merged by name; an explicit variable or binary wins.
    """
    if explicit is None:
        return extra
    env = dict(extra.environment)
    env.update(explicit.environment)
    binaries = {b.name: b for b in extra.binaries}
    binaries.update({b.name: b for b in explicit.binaries})
    return Features(
        autostop=explicit.autostop if explicit.autostop is not None else extra.autostop,
        persistent_conda=explicit.persistent_conda or extra.persistent_conda,
        stop_ssm_agent=explicit.stop_ssm_agent or extra.stop_ssm_agent,
        persist_dirs=explicit.persist_dirs or extra.persist_dirs,
        bin_dir=explicit.bin_dir or extra.bin_dir,
        environment=env,
        binaries=tuple(binaries[n] for n in sorted(binaries)),
    )


@jsii.implements(IAspect)
class NotebookGovernance:
    """An Aspect that gives every notebook instance under its scope the listed features.

    Apply it to an app (or a stage or stack)::

        Aspects.of(app).add(NotebookGovernance(features=Features(autostop=Autostop(idle_minutes=60))),
                            priority=AspectPriority.MUTATING)

    * A :class:`NotebookInstance` of this library gets each feature it does not set
      itself (explicit settings win; see :func:`merge_features`), in its lifecycle
      configuration (a shared one included, which then changes for every notebook that
      uses it), and the IAM those features need on its own ARN, in its own managed
      policy (which the instance depends on). One without a lifecycle configuration
      gets a new one (id ``GovernanceLifecycleConfig``).
    * A plain ``CfnNotebookInstance`` gets a new lifecycle configuration (id
      ``<previous id>Governed`` next to its previous one, or ``GovernanceLifecycleConfig``
      under the instance) whose first step runs its previous on-start script unchanged
      (as root, as ``previous-on-start.sh``; its on-create script is kept as
      ``previous-on-create.sh``), followed by the features. That needs the previous
      lifecycle configuration in this app with literal content. If it is a
      :class:`LifecycleConfig`, the features are merged into it instead. Its role, when
      it is in the app, gets the IAM the features need on that instance's ARN (a managed
      policy ``GovernancePolicy`` under the instance; with a literal instance name the
      instance depends on it).
    * Anything it cannot resolve (a lifecycle configuration or a role outside the app,
      content that is not literal) fails synth with a message naming the instance and
      what to do.

    Declare it ``AspectPriority.MUTATING`` (aws-cdk-lib 2.172 and later) so that
    validation Aspects see its result. Visiting twice changes nothing more.

    :param features: the features every notebook instance gets.
    """

    def __init__(self, *, features: Features) -> None:
        if not isinstance(features, Features):
            raise BundleError(f"NotebookGovernance: features: expected Features(...), got {type(features).__name__}")
        self.features = features
        self._done: Dict[str, bool] = {}
        self._lookups: Dict[str, "_StackLookup"] = {}

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, NotebookInstance):
            self._once(node, self._govern_notebook)
        elif isinstance(node, sagemaker.CfnNotebookInstance) and not isinstance(node.node.scope, NotebookInstance):
            self._once(node, self._govern_cfn)

    def _once(self, node: Any, action: Any) -> None:
        path = node.node.path
        if path not in self._done:
            self._done[path] = True
            action(node)

    # -- NotebookInstance ----------------------------------------------------------------------
    def _govern_notebook(self, nb: NotebookInstance) -> None:
        lc = nb.lifecycle_config
        cfn = nb.node.default_child
        new_hook = False
        if lc is None:
            lc = _child(nb, "GovernanceLifecycleConfig") or LifecycleConfig(
                nb, "GovernanceLifecycleConfig", features=self.features
            )
            cfn.lifecycle_config_name = lc.lifecycle_config_name_attr  # type: ignore[union-attr]
            nb._lifecycle_config = lc  # notebook.lifecycle_config names the configuration in use
            new_hook = True
        else:
            had_start = "on-start" in lc.bundle.hooks
            _add(lc, self.features, nb.node.path)
            new_hook = not had_start and "on-start" in lc.bundle.hooks
        stack = Stack.of(nb)
        name = nb.notebook_instance_name
        granted = set()
        for s in nb.policy_statements:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            if s.get("Sid") == "NotebookInstanceSelf":
                granted.update(actions)
        nb._grant_payload_fetch(f"{_SID}Payload")
        missing = sorted(_actions(lc) - granted)
        if missing:
            arn = stack.format_arn(service="sagemaker", resource="notebook-instance", resource_name=name.lower())
            nb.add_to_role_policy(iam.PolicyStatement(sid=_SID, actions=missing, resources=[arn]))
        if new_hook:  # the on-start log stream was not granted: the instance had no on-start hook
            streams = sorted({f"{name}/LifecycleConfigOnStart", f"{name.lower()}/LifecycleConfigOnStart"})
            nb.add_to_role_policy(
                iam.PolicyStatement(
                    sid=f"{_SID}Logs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[
                        stack.format_arn(
                            service="logs", resource="log-group", arn_format=ArnFormat.COLON_RESOURCE_NAME,
                            resource_name=f"/aws/sagemaker/NotebookInstances:log-stream:{s}",
                        )
                        for s in streams
                    ],
                )
            )

    # -- CfnNotebookInstance -------------------------------------------------------------------
    def _govern_cfn(self, cfn: sagemaker.CfnNotebookInstance) -> None:
        path = cfn.node.path
        stack = Stack.of(cfn)
        lookup = self._lookup(stack)
        current = cfn.lifecycle_config_name
        lc: Optional[LifecycleConfig] = None
        if current is None:
            lc = _child(cfn, "GovernanceLifecycleConfig") or LifecycleConfig(
                cfn, "GovernanceLifecycleConfig", features=self.features
            )
        else:
            previous = lookup.lifecycle_config(current)
            if previous is None:
                return _fail(
                    cfn,
                    f"NotebookGovernance: notebook instance {path}: its lifecycle configuration "
                    f"{_shown(stack, current)} is not defined in this app, so its on-start script cannot run "
                    "before the governed features. Define that lifecycle configuration in this app "
                    "(CfnNotebookInstanceLifecycleConfig with literal Content), or build the notebook with "
                    "notebook_lifecycle.NotebookInstance",
                )
            owner = previous.node.scope
            if isinstance(owner, LifecycleConfig):
                lc = owner
                _add(lc, self.features, path)
            else:
                lc = self._wrap(cfn, previous)
                if lc is None:
                    return None
        cfn.lifecycle_config_name = lc.lifecycle_config_name_attr
        if cfn.direct_internet_access == "Disabled":
            if _stops_itself(lc):
                Annotations.of(cfn).add_warning_v2(WARN_AUTOSTOP_ENDPOINT, AUTOSTOP_ENDPOINT_MESSAGE)
            if lc.s3_hooks:
                Annotations.of(cfn).add_warning_v2(WARN_S3_DELIVERY_ENDPOINT, s3_endpoint_message(lc.s3_hooks))
        actions = sorted(_actions(lc))
        payloads = [lc.payload_object_arn(h) for h in lc.s3_hooks]
        if not actions and not payloads:
            return None
        role = lookup.role(cfn.role_arn)
        if role is None:
            return _fail(
                cfn,
                f"NotebookGovernance: notebook instance {path}: its role {_shown(stack, cfn.role_arn)} is not "
                f"defined in this app, so the features' permissions ({', '.join(actions)} on this instance's "
                "ARN) cannot be granted. Define the role in this app, or grant them by hand and leave the "
                "features that need them out of NotebookGovernance",
            )
        name = cfn.notebook_instance_name
        literal_name = isinstance(name, str) and not Token.is_unresolved(name)
        arn = (
            stack.format_arn(service="sagemaker", resource="notebook-instance", resource_name=name.lower())  # type: ignore[union-attr]
            if literal_name
            else cfn.attr_notebook_instance_arn
        )
        policy = _child(cfn, "GovernancePolicy") or iam.CfnManagedPolicy(
            cfn,
            "GovernancePolicy",
            description=f"What the features NotebookGovernance gives {path} need (notebook-lifecycle)",
            roles=[role.ref],
            policy_document={
                "Version": "2012-10-17",
                "Statement": (
                    [{"Sid": _SID, "Effect": "Allow", "Action": actions, "Resource": arn}] if actions else []
                ) + (
                    [{"Sid": f"{_SID}Payload", "Effect": "Allow", "Action": "s3:GetObject", "Resource": payloads}]
                    if payloads else []
                ),
            },
        )
        if literal_name:  # the ARN does not depend on the instance: the instance can wait for the policy
            cfn.node.add_dependency(policy)
        return None

    def _wrap(
        self, cfn: sagemaker.CfnNotebookInstance, previous: sagemaker.CfnNotebookInstanceLifecycleConfig
    ) -> Optional[LifecycleConfig]:
        """A new LifecycleConfig that runs ``previous``'s scripts first, then the features (one per previous)."""
        scope, id = previous.node.scope, f"{previous.node.id}Governed"
        assert scope is not None  # a CfnResource always has a parent
        found = _child(scope, id)
        if found is not None:
            return found
        scripts: Dict[str, Optional[StartupScripts]] = {}
        for hook, value, fname in (("OnStart", previous.on_start, PREVIOUS_ON_START),
                                   ("OnCreate", previous.on_create, PREVIOUS_ON_CREATE)):
            text, problem = _literal_script(previous, value)
            if problem:
                _fail(
                    cfn,
                    f"NotebookGovernance: notebook instance {cfn.node.path}: the {hook} of its lifecycle "
                    f"configuration {previous.node.path} {problem}, so it cannot run unchanged before the governed "
                    "features. Give it literal base64 Content, or build the notebook with "
                    "notebook_lifecycle.NotebookInstance",
                )
                return None
            scripts[hook] = (
                StartupScripts.from_files({fname: text}, as_root=[fname]) if text is not None else None
            )
        lc = LifecycleConfig(scope, id, on_start=scripts["OnStart"], on_create=scripts["OnCreate"], features=self.features)
        lc._run_scripts_first()
        return lc

    def _lookup(self, stack: Stack) -> "_StackLookup":
        key = stack.node.path
        if key not in self._lookups:
            self._lookups[key] = _StackLookup(stack)
        return self._lookups[key]


class _StackLookup:
    """Lifecycle configurations and roles of one stack, by logical id and by literal name."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._configs: Dict[str, sagemaker.CfnNotebookInstanceLifecycleConfig] = {}
        self._config_names: Dict[str, sagemaker.CfnNotebookInstanceLifecycleConfig] = {}
        self._roles: Dict[str, iam.CfnRole] = {}
        for c in stack.node.find_all():
            if isinstance(c, sagemaker.CfnNotebookInstanceLifecycleConfig):
                self._configs[stack.resolve(c.logical_id)] = c
                name = c.notebook_instance_lifecycle_config_name
                if isinstance(name, str) and not Token.is_unresolved(name):
                    self._config_names[name] = c
            elif isinstance(c, iam.CfnRole):
                self._roles[stack.resolve(c.logical_id)] = c

    def _target(self, value: Any) -> Optional[str]:
        resolved = self._stack.resolve(value)
        if isinstance(resolved, dict) and len(resolved) == 1:
            (fn, arg), = resolved.items()
            if fn == "Ref" and isinstance(arg, str):
                return arg
            if fn == "Fn::GetAtt" and isinstance(arg, list) and arg:
                return arg[0]
        return None

    def lifecycle_config(self, value: str) -> Optional[sagemaker.CfnNotebookInstanceLifecycleConfig]:
        if not Token.is_unresolved(value):
            return self._config_names.get(value)
        target = self._target(value)
        return self._configs.get(target) if target else None

    def role(self, value: str) -> Optional[iam.CfnRole]:
        if not Token.is_unresolved(value):
            return None  # a literal ARN: the role is not defined here
        target = self._target(value)
        return self._roles.get(target) if target else None


@jsii.implements(IValidation)
class _Problem:
    def __init__(self, message: str) -> None:
        self._message = message

    def validate(self) -> List[str]:
        return [self._message]


def _fail(node: Construct, message: str) -> None:
    node.node.add_validation(_Problem(message))


def _child(scope: IConstruct, id: str) -> Any:
    return scope.node.try_find_child(id)


def _add(lc: LifecycleConfig, features: Features, where: str) -> None:
    try:
        lc._add_features(features, merge_features)
    except BundleError as exc:
        raise BundleError(f"NotebookGovernance: notebook instance {where}: {exc}") from None


def _actions(lc: LifecycleConfig) -> set:
    return {a for g in lc.iam_grants if g.resource == NOTEBOOK_INSTANCE for a in g.actions}


def _shown(stack: Stack, value: Any) -> str:
    return json.dumps(stack.resolve(value)) if Token.is_unresolved(value) else repr(value)


def _literal_script(
    previous: sagemaker.CfnNotebookInstanceLifecycleConfig, hooks: Any
) -> Tuple[Optional[str], Optional[str]]:
    """(script text, None), (None, None) when there is no such hook, or (None, what is wrong)."""
    if hooks is None:
        return None, None
    if Token.is_unresolved(hooks) or not isinstance(hooks, Sequence):
        return None, "is not a literal list"
    if len(hooks) == 0:
        return None, None
    if len(hooks) > 1:
        return None, "has more than one script"
    hook = hooks[0]
    content = hook.get("content") if isinstance(hook, dict) else getattr(hook, "content", None)
    if not isinstance(content, str) or Token.is_unresolved(content):
        return None, "is not literal base64 Content"
    try:
        return base64.b64decode(content, validate=True).decode("utf-8"), None
    except (binascii.Error, ValueError):
        return None, "is not base64 of UTF-8 text"
