"""AWS CDK constructs: :class:`LifecycleConfig` and :class:`NotebookInstance`.

``LifecycleConfig`` renders startup scripts and feature flags (a
:class:`~notebook_lifecycle.bundle.Bundle`) into an
``AWS::SageMaker::NotebookInstanceLifecycleConfig`` whose ``Content`` is the
bundle's base64 text, as a literal. ``NotebookInstance`` adds the notebook
instance, wired to that lifecycle config, and an execution role that holds
exactly what the enabled features need.

Importing this module imports ``aws_cdk`` (and starts Node through jsii);
``import notebook_lifecycle`` alone does not.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable, List, Optional, Sequence, Tuple

import jsii
from aws_cdk import Annotations, Names, Resource, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IValidation

from .bundle import DEFAULT_DEADLINE_SECONDS, Bundle
from .errors import BundleError
from .features import NOTEBOOK_INSTANCE, Features, IamGrant
from .scripts import StartupScripts

__all__ = [
    "LifecycleConfig",
    "NotebookInstance",
    "BundleCacheInfo",
    "bundle_cache_info",
    "clear_bundle_cache",
    "generated_name",
    "DEFAULT_INSTANCE_TYPE",
    "DEFAULT_PLATFORM_IDENTIFIER",
    "DEFAULT_VOLUME_SIZE_IN_GB",
    "LIFECYCLE_LOG_GROUP",
    "NAME_MAX_LENGTH",
    "WARN_AUTOSTOP_ENDPOINT",
    "WARN_IMMUTABLE_ROLE",
    "WARN_PLATFORM_RETIRED",
]

DEFAULT_INSTANCE_TYPE = "ml.t3.medium"
DEFAULT_PLATFORM_IDENTIFIER = "notebook-al2023-v1"
DEFAULT_VOLUME_SIZE_IN_GB = 5
MIN_VOLUME_SIZE_IN_GB = 5
MAX_VOLUME_SIZE_IN_GB = 16384
MAX_SECURITY_GROUPS = 5
MAX_ADDITIONAL_CODE_REPOSITORIES = 3
MAX_CODE_REPOSITORY_LENGTH = 1024

#: Longest notebook instance and lifecycle configuration name SageMaker accepts.
NAME_MAX_LENGTH = 63
_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_PLATFORM_RE = re.compile(r"^notebook-[a-z0-9]+-v[0-9]+$")
_PLATFORM_MAX_LENGTH = 20

#: Where SageMaker sends lifecycle-script output and the Jupyter log.
LIFECYCLE_LOG_GROUP = "/aws/sagemaker/NotebookInstances"
_HOOK_STREAMS = (("on-start", "LifecycleConfigOnStart"), ("on-create", "LifecycleConfigOnCreate"))
_JUPYTER_STREAM = "jupyter.log"

#: Warning ids (``Annotations.add_warning_v2``); acknowledge one with
#: ``Annotations.of(notebook).acknowledge_warning(id, reason)``.
WARN_AUTOSTOP_ENDPOINT = "notebook-lifecycle:autostopNeedsSageMakerApiEndpoint"
WARN_IMMUTABLE_ROLE = "notebook-lifecycle:immutableRole"
WARN_PLATFORM_RETIRED = "notebook-lifecycle:platformRetired"

_RETIRED_PLATFORMS = {
    "notebook-al1-v1": "Amazon Linux (AL1) reached end of life on 2024-03-31: "
    "AL1 notebook instances can no longer be created or restarted",
    "notebook-al2-v1": "it runs Amazon Linux 2 with JupyterLab 1, which cannot be created or restarted since 2025-06-30",
    "notebook-al2-v2": "it runs Amazon Linux 2 with JupyterLab 3, which cannot be created or restarted since 2025-06-30",
    "notebook-al2-v3": "it runs Amazon Linux 2, whose support ended on 2026-06-30: "
    "AL2 notebook instances cannot be created or restarted since 2026-07-01",
}


# -- the bundle cache -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleCacheInfo:
    """How often a :class:`~notebook_lifecycle.bundle.Bundle` was built, and reused, in this process."""

    builds: int
    hits: int
    size: int


class _BundleCache:
    """Bundles keyed by their inputs' fingerprints: equal inputs are rendered once per process."""

    def __init__(self, maxsize: int = 256) -> None:
        self._maxsize = maxsize
        self._items: "OrderedDict[Hashable, Bundle]" = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0
        self.hits = 0

    @staticmethod
    def key(
        on_start: Any, on_create: Any, features: Any, install_dir: Any, deadline_seconds: Any, compression: Any
    ) -> Optional[Hashable]:
        for scripts in (on_start, on_create):
            if scripts is not None and not isinstance(scripts, StartupScripts):
                return None  # let Bundle report the bad input
        if features is not None and not isinstance(features, Features):
            return None
        key = (
            on_start.fingerprint() if on_start is not None else None,
            on_create.fingerprint() if on_create is not None else None,
            features,
            install_dir,
            deadline_seconds,
            compression,
        )
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(
        self,
        on_start: Optional[StartupScripts],
        on_create: Optional[StartupScripts],
        features: Optional[Features],
        install_dir: str,
        deadline_seconds: int,
        compression: str,
    ) -> Bundle:
        key = self.key(on_start, on_create, features, install_dir, deadline_seconds, compression)
        if key is not None:
            with self._lock:
                found = self._items.get(key)
                if found is not None:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return found
        bundle = Bundle(
            on_start,
            on_create,
            features,
            install_dir=install_dir,
            deadline_seconds=deadline_seconds,
            compression=compression,
            check_size=False,
        )
        with self._lock:
            self.builds += 1
            if key is not None:
                self._items[key] = bundle
                while len(self._items) > self._maxsize:
                    self._items.popitem(last=False)
        return bundle

    def info(self) -> BundleCacheInfo:
        with self._lock:
            return BundleCacheInfo(self.builds, self.hits, len(self._items))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.builds = 0
            self.hits = 0


_CACHE = _BundleCache()


def bundle_cache_info() -> BundleCacheInfo:
    """Bundles built and reused by the constructs since the last :func:`clear_bundle_cache`."""
    return _CACHE.info()


def clear_bundle_cache() -> None:
    """Forget every cached bundle and reset the counters."""
    _CACHE.clear()


# -- helpers --------------------------------------------------------------------------------------


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


def _generated_name_for(scope: Construct, *ids: str) -> str:
    """:func:`generated_name` of the construct that ``ids`` will name below ``scope``, without Node."""
    raw = _unique_resource_name(_name_components(scope) + ids)
    name = re.sub(r"[^a-z0-9-]", "", raw.lower()).strip("-")
    if not _NAME_RE.match(name) or len(name) > NAME_MAX_LENGTH:  # pragma: no cover - defensive
        raise ValueError(f"{_path(scope, ids[0])}: cannot generate a valid name from {raw!r}; pass a name")
    return name


def _name_problem(field: str, value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"{field}: expected a string, got {type(value).__name__}"
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


def _path(scope: Construct, id: str) -> str:
    parent = scope.node.path
    return f"{parent}/{id}" if parent else id


def _raise_all(path: str, what: str, problems: Sequence[str]) -> None:
    if problems:
        if len(problems) == 1:
            raise ValueError(f"{what} {path}: {problems[0]}")
        raise ValueError(f"{what} {path}: invalid props:\n" + "\n".join(f"- {p}" for p in problems))


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


@jsii.implements(IValidation)
class _ContentSizeValidation:
    """Reports lifecycle hooks over SageMaker's 16,384-character limit, naming the costliest files."""

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle

    def validate(self) -> List[str]:
        return list(self._bundle.size_errors())


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


class _Arns:
    """ARNs in the notebook's own stack: template values (tokens when env-agnostic) and readable forms."""

    _ATTR = "_notebook_lifecycle_arns"

    @classmethod
    def of(cls, scope: Construct) -> "_Arns":
        """The ARNs of the stack of ``scope``; cached on the scope (partition, region, account read once)."""
        found = getattr(scope, cls._ATTR, None)
        if found is None:
            found = cls(Stack.of(scope))
            try:
                setattr(scope, cls._ATTR, found)
            except AttributeError:  # pragma: no cover - a proxy that refuses attributes
                pass
        return found

    def __init__(self, stack: Stack) -> None:
        def pick(value: str, pseudo: str) -> Tuple[str, str]:
            return value, (pseudo if _unresolved(value) else value)

        self.partition = pick(stack.partition, "${AWS::Partition}")
        self.region = pick(stack.region, "${AWS::Region}")
        self.account = pick(stack.account, "${AWS::AccountId}")

    def make(self, service: str, resource: str) -> Tuple[str, str]:
        (p, shown_p), (r, shown_r), (a, shown_a) = self.partition, self.region, self.account
        return f"arn:{p}:{service}:{r}:{a}:{resource}", f"arn:{shown_p}:{service}:{shown_r}:{shown_a}:{resource}"


# -- LifecycleConfig ------------------------------------------------------------------------------


class LifecycleConfig(Resource):
    """A notebook-instance lifecycle configuration built from startup scripts and feature flags.

    Emits one ``AWS::SageMaker::NotebookInstanceLifecycleConfig`` (construct id
    ``Resource``, reachable as ``node.default_child``) whose ``OnStart`` and
    ``OnCreate`` ``Content`` is the bundle's base64 text as a literal string.
    The bundle is rendered once per distinct input in a process (see
    :func:`bundle_cache_info`), so many notebooks can share one set of scripts
    cheaply. Pass the same ``LifecycleConfig`` to several
    :class:`NotebookInstance` constructs to share one resource.

    Changes to the scripts update the lifecycle configuration in place; running
    instances pick them up at their next start.

    Parameters
    ----------
    scope, id
        The construct scope and id.
    on_start : StartupScripts, optional
        Scripts run at every start (and at creation, after ``on_create``).
        Default: none (only the features' steps run).
    on_create : StartupScripts, optional
        Scripts run once, when the instance is created. Default: no on-create hook.
    features : Features, optional
        Feature flags; their steps run before the on-start scripts. Default: none.
    lifecycle_config_name : str, optional
        Name of the lifecycle configuration (at most 63 letters, digits and
        ``-``). Changing it replaces the resource. Default: generated from the
        stack name and the construct path (lowercase, with a hash).
    install_dir : str
        Root-owned folder the on-start bundle unpacks into. Default: ``/startup``.
    deadline_seconds : int
        Time the foreground steps of a hook may take together (1 to 280).
        Default: 240.
    compression : str
        ``"xz"`` (densest) or ``"gzip"``. Default: ``"xz"``.

    Raises
    ------
    BundleError
        Bad scripts, features or options (the message names the field and the fix).
    ValueError
        An invalid ``lifecycle_config_name``.

    Hooks over SageMaker's limit of 16,384 characters fail validation at synth
    time, with the costliest files named.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        on_start: Optional[StartupScripts] = None,
        on_create: Optional[StartupScripts] = None,
        features: Optional[Features] = None,
        lifecycle_config_name: Optional[str] = None,
        install_dir: str = "/startup",
        deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
        compression: str = "xz",
    ) -> None:
        problems = _token_problems(features)
        if lifecycle_config_name is not None:
            problems += [p for p in [_name_problem("lifecycle_config_name", lifecycle_config_name)] if p]
        if problems:
            _raise_all(_path(scope, id), "LifecycleConfig", problems)
        name = lifecycle_config_name if lifecycle_config_name is not None else _generated_name_for(scope, id)
        super().__init__(scope, id, physical_name=name)
        try:
            bundle = _CACHE.get(on_start, on_create, features, install_dir, deadline_seconds, compression)
        except BundleError as exc:
            raise BundleError(f"LifecycleConfig {self.node.path}: {exc}") from None
        self._bundle = bundle
        self._name = name

        on_start_content = bundle.on_start_content
        on_create_content = bundle.on_create_content
        Hook = sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty
        self._resource = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "Resource",
            notebook_instance_lifecycle_config_name=name,
            on_start=[Hook(content=on_start_content)] if on_start_content is not None else None,
            on_create=[Hook(content=on_create_content)] if on_create_content is not None else None,
        )
        self.node.add_validation(_ContentSizeValidation(bundle))
        self._name_attr: Optional[str] = None

    @property
    def bundle(self) -> Bundle:
        """The rendered scripts: ``on_start_content``, ``size_report()``, ``iam_grants``, ..."""
        return self._bundle

    @property
    def lifecycle_config_name(self) -> str:
        """The lifecycle configuration's name (the literal given or generated)."""
        return self._name

    @property
    def lifecycle_config_arn(self) -> str:
        """The lifecycle configuration's ARN (``Ref``)."""
        return self._resource.ref

    @property
    def lifecycle_config_name_attr(self) -> str:
        """``Fn::GetAtt NotebookInstanceLifecycleConfigName``: the name, with a dependency on the resource."""
        if self._name_attr is None:
            self._name_attr = self._resource.attr_notebook_instance_lifecycle_config_name
        return self._name_attr

    @property
    def iam_grants(self) -> Tuple[IamGrant, ...]:
        """What the enabled features need from the role of each notebook that uses this configuration."""
        return self._bundle.iam_grants


# -- NotebookInstance -----------------------------------------------------------------------------


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class NotebookInstance(Resource):
    """A SageMaker notebook instance with its lifecycle configuration and a least-privilege role.

    Emits:

    * ``AWS::SageMaker::NotebookInstance`` (construct id ``Resource``, the
      ``node.default_child``), always with ``PlatformIdentifier`` and IMDSv2
      (``MinimumInstanceMetadataServiceVersion: "2"``), wired to its lifecycle
      configuration by name;
    * a :class:`LifecycleConfig` (id ``LifecycleConfig``) built from
      ``on_start``/``on_create``/``features``, unless ``lifecycle_config`` is
      given (shared) or there is nothing to run;
    * an ``AWS::IAM::Role`` (id ``Role``) assumed by ``sagemaker.amazonaws.com``,
      unless ``role`` is given;
    * an ``AWS::IAM::ManagedPolicy`` (id ``Policy``) attached to the role, with
      explicit ARNs only: writing this instance's lifecycle and Jupyter logs,
      plus what the enabled features need on this instance's own ARN (autostop:
      ``sagemaker:DescribeNotebookInstance`` and ``sagemaker:StopNotebookInstance``).
      The instance depends on it, so the permissions exist at first boot.

    Parameters
    ----------
    scope, id
        The construct scope and id.
    on_start, on_create, features
        As for :class:`LifecycleConfig`. Default: none.
    lifecycle_config : LifecycleConfig, optional
        A lifecycle configuration to share (instead of ``on_start``, ``on_create``
        and ``features``). Default: one is created when scripts or features are given.
    instance_type : str
        Default: ``"ml.t3.medium"``. Changing it stops and restarts the instance.
    volume_size_in_gb : int
        Size of the ML storage volume (``/home/ec2-user/SageMaker``), 5 to 16384.
        Default: 5. It can only grow; changing it restarts the instance.
    platform_identifier : str
        Default: ``"notebook-al2023-v1"``. Changing it replaces the instance
        (a new, empty volume). AL1/AL2 identifiers get a warning.
    notebook_instance_name : str, optional
        At most 63 letters, digits and ``-``; a literal string. Changing it
        replaces the instance. Default: generated from the stack name and the
        construct path (lowercase, with a hash).
    role : iam.IRole, optional
        Execution role. Its policy gets the statements above (a managed policy
        is attached); an immutable role gets a warning that lists them.
        Default: a new role.
    subnet : ec2.ISubnet, optional
        Subnet for the instance's network interface; needs ``security_groups``.
        Default: none (SageMaker-managed network).
    security_groups : sequence of ec2.ISecurityGroup, optional
        One to five security groups, with ``subnet``. Default: none.
    direct_internet_access : bool
        ``False`` needs ``subnet``; the VPC must then provide the endpoints or
        NAT the instance needs. Changing it replaces the instance. Default: ``True``.
    root_access : bool
        Whether notebook users get root (lifecycle scripts always run as root).
        Default: ``True``.
    kms_key : kms.IKey, optional
        Key that encrypts the ML storage volume. Changing it replaces the
        instance. Default: an AWS-owned key.
    default_code_repository : str, optional
        Git repository (URL or SageMaker repository name) cloned as the default
        folder. Default: none.
    additional_code_repositories : sequence of str, optional
        Up to three more repositories. Default: none.
    lifecycle_config_name : str, optional
        Name of the lifecycle configuration created here. Default: generated.
    install_dir, deadline_seconds, compression
        Passed to the bundle, as for :class:`LifecycleConfig`. Default: ``/startup``,
        240, ``"xz"``. Not with a shared ``lifecycle_config``.

    Raises
    ------
    ValueError
        Invalid props (every problem listed, each naming the field and the fix).
    BundleError
        Bad scripts, features or bundle options.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        on_start: Optional[StartupScripts] = None,
        on_create: Optional[StartupScripts] = None,
        features: Optional[Features] = None,
        lifecycle_config: Optional[LifecycleConfig] = None,
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        volume_size_in_gb: int = DEFAULT_VOLUME_SIZE_IN_GB,
        platform_identifier: str = DEFAULT_PLATFORM_IDENTIFIER,
        notebook_instance_name: Optional[str] = None,
        role: Optional[iam.IRole] = None,
        subnet: Optional[ec2.ISubnet] = None,
        security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
        direct_internet_access: bool = True,
        root_access: bool = True,
        kms_key: Optional[kms.IKey] = None,
        default_code_repository: Optional[str] = None,
        additional_code_repositories: Optional[Sequence[str]] = None,
        lifecycle_config_name: Optional[str] = None,
        install_dir: Optional[str] = None,
        deadline_seconds: Optional[int] = None,
        compression: Optional[str] = None,
    ) -> None:
        security_groups = list(security_groups) if security_groups is not None else []
        additional_code_repositories = (
            list(additional_code_repositories) if additional_code_repositories is not None else []
        )
        problems = _check_props(
                bundle_options={
                    "lifecycle_config_name": lifecycle_config_name,
                    "install_dir": install_dir,
                    "deadline_seconds": deadline_seconds,
                    "compression": compression,
                },
                on_start=on_start,
                on_create=on_create,
                features=features,
                lifecycle_config=lifecycle_config,
                instance_type=instance_type,
                volume_size_in_gb=volume_size_in_gb,
                platform_identifier=platform_identifier,
                notebook_instance_name=notebook_instance_name,
                subnet=subnet,
                security_groups=security_groups,
                direct_internet_access=direct_internet_access,
                root_access=root_access,
                default_code_repository=default_code_repository,
                additional_code_repositories=additional_code_repositories,
        )
        if problems:
            _raise_all(_path(scope, id), "NotebookInstance", problems)
        name = notebook_instance_name if notebook_instance_name is not None else _generated_name_for(scope, id)
        super().__init__(scope, id, physical_name=name)
        components = _name_components(scope) + (id,)
        try:  # children name themselves from this, without asking Node for the path again
            setattr(self, _NAME_COMPONENTS_ATTR, components)
        except AttributeError:  # pragma: no cover
            pass

        # lifecycle configuration: shared, created here, or none
        if lifecycle_config is None and (on_start is not None or on_create is not None or features is not None):
            lifecycle_config = LifecycleConfig(
                self,
                "LifecycleConfig",
                on_start=on_start,
                on_create=on_create,
                features=features,
                lifecycle_config_name=lifecycle_config_name,
                install_dir=install_dir if install_dir is not None else "/startup",
                deadline_seconds=deadline_seconds if deadline_seconds is not None else DEFAULT_DEADLINE_SECONDS,
                compression=compression if compression is not None else "xz",
            )
        self._lifecycle_config = lifecycle_config

        self._name = name

        # the role and what it needs
        if role is None:
            role = iam.Role(
                self,
                "Role",
                assumed_by=_sagemaker_principal(),
                description=f"Execution role of the SageMaker notebook instance {name}",
            )
        self._role = role
        statements = self._statements(scope, name, lifecycle_config)
        self._statements_list = statements
        self._immutable_role = _is_immutable_role(role)
        self._policy: Optional[iam.ManagedPolicy] = None
        if self._immutable_role:
            Annotations.of(self).add_warning_v2(
                WARN_IMMUTABLE_ROLE,
                f"role {role.node.path} is immutable, so notebook-lifecycle cannot add the permissions this "
                "notebook instance needs; grant them by hand (for example as a customer-managed policy "
                "attached to the role): " + json.dumps([s.readable() for s in statements], separators=(",", ":")),
            )
        else:
            self._policy = iam.ManagedPolicy(
                self,
                "Policy",
                description=f"What the SageMaker notebook instance {name} needs (notebook-lifecycle)",
                document=iam.PolicyDocument.from_json(
                    {"Version": "2012-10-17", "Statement": [s.statement_json() for s in statements]}
                ),
                roles=[role],
            )

        # warnings
        if lifecycle_config is not None and not direct_internet_access:
            if any(g.resource == NOTEBOOK_INSTANCE and "sagemaker:StopNotebookInstance" in g.actions
                   for g in lifecycle_config.iam_grants):
                Annotations.of(self).add_warning_v2(
                    WARN_AUTOSTOP_ENDPOINT,
                    "autostop is on but direct_internet_access=False: the instance can call the SageMaker API "
                    "(to stop itself) only through an interface VPC endpoint com.amazonaws.<region>.sagemaker.api "
                    "with private DNS enabled whose security group allows HTTPS from the notebook, or through a "
                    "NAT gateway; without one autostop cannot stop the instance. Add the endpoint (and "
                    "com.amazonaws.<region>.logs for the lifecycle logs), then acknowledge this warning",
                )
        if not _unresolved(platform_identifier) and platform_identifier in _RETIRED_PLATFORMS:
            Annotations.of(self).add_warning_v2(
                WARN_PLATFORM_RETIRED,
                f"platform_identifier {platform_identifier!r}: {_RETIRED_PLATFORMS[platform_identifier]}; "
                f"use {DEFAULT_PLATFORM_IDENTIFIER!r} (the default; changing it replaces the instance and its volume)",
            )

        # the notebook instance
        self._resource = sagemaker.CfnNotebookInstance(
            self,
            "Resource",
            notebook_instance_name=name,
            instance_type=instance_type,
            role_arn=role.role_arn,
            platform_identifier=platform_identifier,
            volume_size_in_gb=volume_size_in_gb,
            direct_internet_access="Enabled" if direct_internet_access else "Disabled",
            root_access="Enabled" if root_access else "Disabled",
            instance_metadata_service_configuration=sagemaker.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
                minimum_instance_metadata_service_version="2"
            ),
            lifecycle_config_name=(
                lifecycle_config.lifecycle_config_name_attr if lifecycle_config is not None else None
            ),
            subnet_id=subnet.subnet_id if subnet is not None else None,
            security_group_ids=[sg.security_group_id for sg in security_groups] or None,
            kms_key_id=kms_key.key_arn if kms_key is not None else None,
            default_code_repository=default_code_repository,
            additional_code_repositories=additional_code_repositories or None,
        )
        if self._policy is not None:
            self._resource.node.add_dependency(self._policy)
        self._security_groups = security_groups
        self._connections: Optional[ec2.Connections] = None

    # -- statements ---------------------------------------------------------------------------
    @staticmethod
    def _statements(scope: Construct, name: str, lifecycle_config: Optional[LifecycleConfig]) -> List[_Statement]:
        arns = _Arns.of(scope)
        group = f"log-group:{LIFECYCLE_LOG_GROUP}"
        hooks = lifecycle_config.bundle.hooks if lifecycle_config is not None else ()
        stream_names = [stream for hook, stream in _HOOK_STREAMS if hook in hooks] + [_JUPYTER_STREAM]
        # SageMaker lowercases the name in ARNs; the log streams are named after the name as given
        # (both forms are granted when they differ, in case the agent lowercases too).
        instances = [name] if name == name.lower() else [name, name.lower()]
        statements = [
            _Statement(
                "WriteLifecycleLogGroup",
                ("logs:CreateLogGroup", "logs:DescribeLogStreams"),
                (arns.make("logs", group),),
            ),
            _Statement(
                "WriteLifecycleLogStreams",
                ("logs:CreateLogStream", "logs:PutLogEvents"),
                tuple(arns.make("logs", f"{group}:log-stream:{n}/{s}") for n in instances for s in stream_names),
            ),
        ]
        if lifecycle_config is not None:
            actions: List[str] = []
            for grant in lifecycle_config.iam_grants:
                if grant.resource != NOTEBOOK_INSTANCE:  # pragma: no cover - only kind the core emits today
                    raise ValueError(f"unknown IAM resource kind {grant.resource!r} in the bundle's grants")
                actions.extend(a for a in grant.actions if a not in actions)
            if actions:
                statements.append(
                    _Statement(
                        "NotebookInstanceSelf",
                        tuple(sorted(actions)),
                        (arns.make("sagemaker", f"notebook-instance/{name.lower()}"),),
                    )
                )
        return statements

    # -- public surface -----------------------------------------------------------------------
    @property
    def role(self) -> iam.IRole:
        """The execution role (created or given)."""
        return self._role

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The principal to grant to (the execution role): ``bucket.grant_read(notebook)``."""
        return self._role

    @property
    def connections(self) -> ec2.Connections:
        """The security groups of the instance (empty without ``subnet``)."""
        if self._connections is None:
            self._connections = ec2.Connections(security_groups=self._security_groups)
        return self._connections

    @property
    def lifecycle_config(self) -> Optional[LifecycleConfig]:
        """The lifecycle configuration in use, or ``None``."""
        return self._lifecycle_config

    @property
    def policy(self) -> Optional[iam.ManagedPolicy]:
        """The customer-managed policy holding this instance's permissions (``None`` for an immutable role)."""
        return self._policy

    @property
    def notebook_instance_name(self) -> str:
        """The instance's name (the literal given or generated)."""
        return self._name

    @property
    def notebook_instance_arn(self) -> str:
        """The instance's ARN (``Ref``, which CloudFormation resolves to the ARN)."""
        return self._resource.ref

    @property
    def policy_statements(self) -> List[dict]:
        """The statements this library grants the role, readable (``${AWS::Region}`` etc. when env-agnostic)."""
        return [s.readable() for s in self._statements_list]

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> bool:
        """Add a statement to this instance's managed policy.

        Returns ``False`` (and adds a warning) when the role is immutable.
        """
        if self._policy is None:
            Annotations.of(self).add_warning_v2(
                WARN_IMMUTABLE_ROLE,
                f"role {self._role.node.path} is immutable; grant by hand: "
                + json.dumps(statement.to_statement_json(), default=str, separators=(",", ":")),
            )
            return False
        self._policy.add_statements(statement)
        return True


def _check_props(
    *,
    bundle_options: dict,
    on_start: Any,
    on_create: Any,
    features: Any,
    lifecycle_config: Any,
    instance_type: Any,
    volume_size_in_gb: Any,
    platform_identifier: Any,
    notebook_instance_name: Any,
    subnet: Any,
    security_groups: List[Any],
    direct_internet_access: Any,
    root_access: Any,
    default_code_repository: Any,
    additional_code_repositories: List[Any],
) -> List[str]:
    """Every problem with the props of a NotebookInstance (an empty list when they are fine)."""
    problems: List[str] = []
    if lifecycle_config is not None:
        if not isinstance(lifecycle_config, LifecycleConfig):
            problems.append(
                f"lifecycle_config: expected a LifecycleConfig, got {type(lifecycle_config).__name__}"
            )
        if on_start is not None or on_create is not None or features is not None:
            problems.append(
                "lifecycle_config: pass either lifecycle_config (shared) or on_start/on_create/features, not both"
            )
        given = [k for k, v in bundle_options.items() if v is not None]
        if given:
            problems.append(
                f"{', '.join(given)}: only for the lifecycle configuration created here; with a shared "
                "lifecycle_config, pass them to its LifecycleConfig(...)"
            )
    if not isinstance(instance_type, str) or not instance_type:
        problems.append(f"instance_type: expected a string such as 'ml.t3.medium', got {instance_type!r}")
    elif not _unresolved(instance_type) and not instance_type.startswith("ml."):
        problems.append(f"instance_type: {instance_type!r} is not a SageMaker instance type; use one such as 'ml.t3.medium'")
    if isinstance(volume_size_in_gb, bool) or not isinstance(volume_size_in_gb, (int, float)):
        problems.append(f"volume_size_in_gb: expected a whole number of GiB, got {volume_size_in_gb!r}")
    elif not _unresolved(volume_size_in_gb) and (
        volume_size_in_gb != int(volume_size_in_gb)
        or not MIN_VOLUME_SIZE_IN_GB <= volume_size_in_gb <= MAX_VOLUME_SIZE_IN_GB
    ):
        problems.append(
            f"volume_size_in_gb: must be a whole number from {MIN_VOLUME_SIZE_IN_GB} to {MAX_VOLUME_SIZE_IN_GB} "
            f"(GiB), but {volume_size_in_gb!r} was given"
        )
    if not isinstance(platform_identifier, str):
        problems.append(f"platform_identifier: expected a string such as {DEFAULT_PLATFORM_IDENTIFIER!r}")
    elif not _unresolved(platform_identifier) and (
        len(platform_identifier) > _PLATFORM_MAX_LENGTH or not _PLATFORM_RE.match(platform_identifier)
    ):
        problems.append(
            f"platform_identifier: {platform_identifier!r} is not a platform identifier; "
            f"use {DEFAULT_PLATFORM_IDENTIFIER!r} (the default)"
        )
    if notebook_instance_name is not None:
        problem = _name_problem("notebook_instance_name", notebook_instance_name)
        if problem:
            problems.append(problem)
        elif _unresolved(notebook_instance_name):
            problems.append(
                "notebook_instance_name: must be a literal string, not a token: the IAM policy names the "
                "instance's ARN at synth time; omit it to get a generated name"
            )
    for flag, value in (("direct_internet_access", direct_internet_access), ("root_access", root_access)):
        if not isinstance(value, bool):
            problems.append(f"{flag}: expected True or False, got {value!r}")
    if direct_internet_access is False and subnet is None:
        problems.append(
            "direct_internet_access=False needs a subnet: pass subnet=... (a private subnet whose VPC has the "
            "endpoints or the NAT gateway the instance needs) and security_groups=[...]"
        )
    if subnet is not None and not security_groups:
        problems.append(
            "subnet is given without security_groups: SageMaker requires at least one security group for an "
            "instance in a subnet; pass security_groups=[ec2.SecurityGroup(...)] (same VPC as the subnet)"
        )
    if security_groups and subnet is None:
        problems.append("security_groups are given without a subnet: pass subnet=... (a subnet of the groups' VPC)")
    if len(security_groups) > MAX_SECURITY_GROUPS:
        problems.append(
            f"security_groups: {len(security_groups)} given, SageMaker allows at most {MAX_SECURITY_GROUPS}; "
            "merge rules into fewer groups"
        )
    repos: List[Tuple[str, Any]] = []
    if default_code_repository is not None:
        repos.append(("default_code_repository", default_code_repository))
    if len(additional_code_repositories) > MAX_ADDITIONAL_CODE_REPOSITORIES:
        problems.append(
            f"additional_code_repositories: {len(additional_code_repositories)} given, SageMaker allows at most "
            f"{MAX_ADDITIONAL_CODE_REPOSITORIES}; clone the others from a lifecycle script or a notebook"
        )
    repos.extend((f"additional_code_repositories[{i}]", r) for i, r in enumerate(additional_code_repositories))
    for field, repo in repos:
        if isinstance(repo, str) and repo == "":
            problems.append(f"{field}: empty; give a git URL (https://...) or a SageMaker code repository name")
        elif not isinstance(repo, str):
            problems.append(f"{field}: expected a string (a git URL or a SageMaker code repository name)")
        elif not _unresolved(repo) and len(repo) > MAX_CODE_REPOSITORY_LENGTH:
            problems.append(f"{field}: {len(repo)} characters, the limit is {MAX_CODE_REPOSITORY_LENGTH}")
    return problems
