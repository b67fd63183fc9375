"""The :class:`NotebookInstance` construct, its defaults, limits and warnings."""

from __future__ import annotations

import json
from typing import Any, List, Optional, Sequence, cast

import jsii
from aws_cdk import Annotations, ArnFormat, Resource, Stack, Stage
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ..features import NOTEBOOK_INSTANCE, Features
from ..scripts import StartupScripts
from ._iam import _Arns, _is_immutable_role, _sagemaker_principal, _Statement
from ._naming import _path, generated_name
from ._policy import NotebookInstancePolicy, _NotebookRole, _OrderAfterRolePolicies
from ._props_check import MAX_ADDITIONAL_CODE_REPOSITORIES as MAX_ADDITIONAL_CODE_REPOSITORIES
from ._props_check import MAX_CODE_REPOSITORY_LENGTH as MAX_CODE_REPOSITORY_LENGTH
from ._props_check import MAX_SECURITY_GROUPS as MAX_SECURITY_GROUPS
from ._props_check import MAX_VOLUME_SIZE_IN_GB as MAX_VOLUME_SIZE_IN_GB
from ._props_check import MIN_VOLUME_SIZE_IN_GB as MIN_VOLUME_SIZE_IN_GB
from ._props_check import _check_props
from ._tokens import _unresolved
from ._validation import _name_problem, _raise_all
from .lifecycle_config import LifecycleConfig, own_lifecycle_config
from .props import (
    DEFAULT_INSTANCE_TYPE,
    INotebookInstance,
    DEFAULT_PLATFORM_IDENTIFIER,
    DEFAULT_VOLUME_SIZE_IN_GB,
    NotebookInstanceProps,
    _construct_deepcopy,
    accepts_props,
)


#: Where SageMaker sends lifecycle-script output and the Jupyter log.
LIFECYCLE_LOG_GROUP = "/aws/sagemaker/NotebookInstances"
_HOOK_STREAMS = (("on-start", "LifecycleConfigOnStart"), ("on-create", "LifecycleConfigOnCreate"))
_JUPYTER_STREAM = "jupyter.log"


#: Warning ids (``Annotations.add_warning_v2``); acknowledge one with
#: ``Annotations.of(notebook).acknowledge_warning(id, reason)``.
WARN_AUTOSTOP_ENDPOINT = "notebook-lifecycle:autostopNeedsSageMakerApiEndpoint"
WARN_IMMUTABLE_ROLE = "notebook-lifecycle:immutableRole"
WARN_PLATFORM_RETIRED = "notebook-lifecycle:platformRetired"
WARN_S3_DELIVERY_ENDPOINT = "notebook-lifecycle:s3DeliveryNeedsGatewayEndpoint"


_RETIRED_PLATFORMS = {
    "notebook-al1-v1": "Amazon Linux (AL1) reached end of life on 2024-03-31: "
    "AL1 notebook instances can no longer be created or restarted",
    "notebook-al2-v1": "it runs Amazon Linux 2 with JupyterLab 1, which cannot be created or restarted since 2025-06-30",
    "notebook-al2-v2": "it runs Amazon Linux 2 with JupyterLab 3, which cannot be created or restarted since 2025-06-30",
    "notebook-al2-v3": "it runs Amazon Linux 2, whose support ended on 2026-06-30: "
    "AL2 notebook instances cannot be created or restarted since 2026-07-01",
}


_CONNECT_ACTIONS = ("sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker:DescribeNotebookInstance")
_START_STOP_ACTIONS = (
    "sagemaker:StartNotebookInstance",
    "sagemaker:StopNotebookInstance",
    "sagemaker:DescribeNotebookInstance",
)


class _Grants:
    """``grant_*`` of a notebook instance: on its own ARN only, as ``iam.Grant``s."""

    def _arn_for_grants(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Grant ``actions`` on this instance's ARN (built from its literal name, never ``Ref``,
        so granting to the instance's own role cannot create a dependency cycle)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self._arn_for_grants()]
        )

    def grant_connect(self, grantee: iam.IGrantable) -> iam.Grant:
        """Open the notebook: ``sagemaker:CreatePresignedNotebookInstanceUrl`` and
        ``sagemaker:DescribeNotebookInstance`` on this instance's ARN only."""
        return self.grant(grantee, *_CONNECT_ACTIONS)

    def grant_start_stop(self, grantee: iam.IGrantable) -> iam.Grant:
        """``sagemaker:StartNotebookInstance``, ``sagemaker:StopNotebookInstance`` and
        ``sagemaker:DescribeNotebookInstance`` on this instance's ARN only."""
        return self.grant(grantee, *_START_STOP_ACTIONS)


class _ImportedNotebookInstance(Resource, _Grants):
    """A notebook instance made elsewhere, known by its name (:meth:`NotebookInstance.from_notebook_instance_name`)."""

    def __init__(self, scope: Construct, id: str, name: str) -> None:
        super().__init__(scope, id)
        self._name = name
        # SageMaker lowercases the name in the instance's ARN
        self._arn = Stack.of(scope).format_arn(
            service="sagemaker",
            resource="notebook-instance",
            resource_name=name.lower(),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    @property
    def notebook_instance_name(self) -> str:
        """The name given."""
        return self._name

    @property
    def notebook_instance_arn(self) -> str:
        """``arn:<partition>:sagemaker:<region>:<account>:notebook-instance/<name, lowercased>`` in the scope's stack."""
        return self._arn

    def _arn_for_grants(self) -> str:
        return self._arn

    __deepcopy__ = _construct_deepcopy


AUTOSTOP_ENDPOINT_MESSAGE = (
    "autostop is on but direct_internet_access=False: the instance can call the SageMaker API "
    "(to stop itself) only through an interface VPC endpoint com.amazonaws.<region>.sagemaker.api "
    "with private DNS enabled whose security group allows HTTPS from the notebook, or through a "
    "NAT gateway; without one autostop cannot stop the instance. Add the endpoint (and "
    "com.amazonaws.<region>.logs for the lifecycle logs), then acknowledge this warning"
)


def s3_endpoint_message(hooks: Sequence[str]) -> str:
    """The warning for a payload delivered through S3 to an instance without direct internet access."""
    return (
        f"the lifecycle payload ({', '.join(hooks)}) is delivered through S3 but "
        "direct_internet_access=False: the instance reaches S3 only through a gateway VPC endpoint "
        "com.amazonaws.<region>.s3 in the route tables of its subnet (or a NAT gateway); without one the "
        "fetch fails and the start runs the copy kept on the volume, if any. Add the endpoint "
        "(ec2.GatewayVpcEndpoint with ec2.GatewayVpcEndpointAwsService.S3), then acknowledge this warning"
    )


def _stops_itself(lc: LifecycleConfig) -> bool:
    """Whether the configuration's features call StopNotebookInstance (autostop)."""
    return any(
        g.resource == NOTEBOOK_INSTANCE and "sagemaker:StopNotebookInstance" in g.actions for g in lc.iam_grants
    )


_NAMES_ATTR = "_notebook_lifecycle_instance_names"
_NAMES_OF_STAGE_ATTR = "_notebook_lifecycle_instance_names_of_stage"


def _claim_name(scope: Construct, path: str, name: str, arns: _Arns) -> None:
    """Two notebook instances with the same literal name in one stage and environment cannot both exist."""
    claimed = getattr(scope, _NAMES_OF_STAGE_ATTR, None)  # cached on the scope: one request per scope
    if claimed is None:
        stage = Stage.of(scope)
        holder: Any = stage if stage is not None else scope.node.root
        claimed = getattr(holder, _NAMES_ATTR, None)
        if claimed is None:
            claimed = {}
            setattr(holder, _NAMES_ATTR, claimed)
        setattr(scope, _NAMES_OF_STAGE_ATTR, claimed)
    key = (arns.literal_account, arns.literal_region, name.lower())
    other = claimed.get(key)
    if other is not None:
        raise ValueError(
            f"NotebookInstance {path}: notebook_instance_name: {name!r} is already the name of {other} "
            "in the same app and environment; SageMaker names are unique per account and region (and "
            "case-insensitive), so the second deploy would fail. Give one of them another name, or omit "
            "notebook_instance_name to get a generated one"
        )
    claimed[key] = path


class _NotebookInstanceMembers:
    """What :class:`NotebookInstance` offers besides the two members Node calls back (``grant_principal``,
    ``connections``, declared on the class itself). It comes after ``Resource`` in the method resolution
    order, as ``_Grants`` does: jsii looks for overrides of its members on the subclass's own members only
    (it stops at the first jsii class), and that look-up, which costs per member and per jsii interface,
    runs for every notebook made."""

    _role: iam.IRole
    _lifecycle_config: Optional[LifecycleConfig]
    _policy: Optional[NotebookInstancePolicy]
    _name: str
    _resource: sagemaker.CfnNotebookInstance
    _scope_for_arns: Construct
    _statements_list: List[_Statement]
    _payload_hooks: set
    _direct_internet_access: bool
    _warned_endpoints: set

    @classmethod
    def from_notebook_instance_name(cls, scope: Construct, id: str, name: str) -> "INotebookInstance":
        """A notebook instance made elsewhere (another app, the console), by its name, to grant on.

        Its ARN is built in the stack of ``scope`` (``Stack.format_arn``) with the name lowercased,
        as SageMaker writes it. ``name`` must be a literal string.
        """
        problem = _name_problem("name", name)
        if problem is None and _unresolved(name):
            problem = (
                "name: must be a literal string, not a token: SageMaker lowercases the name in the "
                "instance's ARN, which cannot be done to a token; pass the literal name"
            )
        if problem:
            _raise_all(_path(scope, id), "NotebookInstance.from_notebook_instance_name", [problem])
        return _ImportedNotebookInstance(scope, id, name)

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
        # Resource forms per action, from the Service Authorization Reference, "Actions, resources, and
        # condition keys for Amazon CloudWatch Logs" (docs.aws.amazon.com/service-authorization/latest/
        # reference/list_amazoncloudwatchlogs.html): CreateLogGroup and DescribeLogStreams take a log-group
        # (log-group:NAME), CreateLogStream and PutLogEvents a log-stream (log-group:NAME:log-stream:STREAM).
        # The CloudWatch Logs API Reference (LogGroup.arn) adds that IAM policies name a group as
        # log-group:NAME:* "for most API actions": the group actions are evaluated against
        # log-group:NAME:log-stream: (an empty stream), as AccessDenied messages show (for example
        # hashicorp/terraform-provider-aws#8804). Both exact forms are granted: no wildcard.
        statements = [
            _Statement(
                "WriteLifecycleLogGroup",
                ("logs:CreateLogGroup", "logs:DescribeLogStreams"),
                (arns.make("logs", group), arns.make("logs", f"{group}:log-stream:")),
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
            hooks = lifecycle_config.s3_hooks
            if hooks:
                # S3 delivery: read the payload objects, each on its exact ARN (the asset bucket's
                # default encryption needs no more: see docs/constructs.md)
                statements.append(
                    _Statement(
                        "FetchLifecyclePayload",
                        ("s3:GetObject",),
                        tuple(
                            (lifecycle_config.payload_object_arn(h), lifecycle_config.payload_object_shown(h))
                            for h in hooks
                        ),
                    )
                )
        return statements

    def _warn_endpoints(self) -> None:
        """The endpoint warnings of an instance without direct internet access, each added once: at
        construction, and again after an Aspect (``NotebookGovernance``) changed the lifecycle configuration."""
        lc = self._lifecycle_config
        if lc is None or self._direct_internet_access:
            return
        warned = self._warned_endpoints
        if WARN_AUTOSTOP_ENDPOINT not in warned and _stops_itself(lc):
            warned.add(WARN_AUTOSTOP_ENDPOINT)
            Annotations.of(cast(Construct, self)).add_warning_v2(WARN_AUTOSTOP_ENDPOINT, AUTOSTOP_ENDPOINT_MESSAGE)
        if WARN_S3_DELIVERY_ENDPOINT not in warned and lc.s3_hooks:
            warned.add(WARN_S3_DELIVERY_ENDPOINT)
            Annotations.of(cast(Construct, self)).add_warning_v2(
                WARN_S3_DELIVERY_ENDPOINT, s3_endpoint_message(lc.s3_hooks)
            )

    def _grant_payload_fetch(self, sid: str) -> None:
        """After an Aspect changed the lifecycle configuration: ``s3:GetObject`` on payload objects of hooks
        that went to S3 since (the statement made at construction follows a changed payload by itself)."""
        lc = self._lifecycle_config
        if lc is None:
            return
        new = [h for h in lc.s3_hooks if h not in self._payload_hooks]
        if new:
            self._payload_hooks.update(new)
            self.add_to_role_policy(
                iam.PolicyStatement(
                    sid=sid, actions=["s3:GetObject"], resources=[lc.payload_object_arn(h) for h in new]
                )
            )
        self._warn_endpoints()

    # -- public surface -----------------------------------------------------------------------
    @property
    def role(self) -> iam.IRole:
        """The execution role (created or given)."""
        return self._role

    @property
    def lifecycle_config(self) -> Optional[LifecycleConfig]:
        """The lifecycle configuration in use, or ``None``."""
        return self._lifecycle_config

    @property
    def policy(self) -> Optional[NotebookInstancePolicy]:
        """The customer-managed policy holding this instance's permissions (``None`` for an immutable role):
        a :class:`NotebookInstancePolicy`, whose ``node.default_child`` is the ``iam.CfnManagedPolicy``."""
        return self._policy

    @property
    def notebook_instance_name(self) -> str:
        """The instance's name (the literal given or generated)."""
        return self._name

    @property
    def notebook_instance_arn(self) -> str:
        """The instance's ARN (``Ref``, which CloudFormation resolves to the ARN)."""
        return self._resource.ref

    def _arn_for_grants(self) -> str:
        return _Arns.of(self._scope_for_arns).make("sagemaker", f"notebook-instance/{self._name.lower()}")[0]

    @property
    def policy_statements(self) -> List[dict]:
        """The statements this library grants the role, readable (``${AWS::Region}`` etc. when env-agnostic)."""
        return [s.readable() for s in self._statements_list]

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> bool:
        """Add a statement to this instance's managed policy.

        Returns ``False`` (and adds a warning) when the role is immutable.
        """
        if self._policy is None:
            Annotations.of(cast(Construct, self)).add_warning_v2(
                WARN_IMMUTABLE_ROLE,
                f"role {self._role.node.path} is immutable; grant by hand: "
                + json.dumps(statement.to_statement_json(), default=str, separators=(",", ":")),
            )
            return False
        self._policy.add_statements(statement)
        return True


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class NotebookInstance(Resource, _NotebookInstanceMembers, _Grants):
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
      ``sagemaker:DescribeNotebookInstance`` and ``sagemaker:StopNotebookInstance``),
      plus, for S3 delivery, ``s3:GetObject`` on each payload object's ARN.
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
    install_dir, deadline_seconds, compression, delivery
        Passed to the bundle, as for :class:`LifecycleConfig`. Default: ``/startup``,
        240, ``"xz"``, ``"auto"``. Not with a shared ``lifecycle_config``. With S3
        delivery and ``direct_internet_access=False`` the instance gets a warning
        (``notebook-lifecycle:s3DeliveryNeedsGatewayEndpoint``): its subnet's route
        tables need the S3 gateway endpoint ``com.amazonaws.<region>.s3``.

    Raises
    ------
    ValueError
        Invalid props (every problem listed, each naming the field and the fix).
    BundleError
        Bad scripts, features or bundle options.
    """

    __deepcopy__ = _construct_deepcopy

    @accepts_props(NotebookInstanceProps)
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
        delivery: Optional[str] = None,
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
                    "delivery": delivery,
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
                role=role,
                kms_key=kms_key,
                direct_internet_access=direct_internet_access,
                root_access=root_access,
                default_code_repository=default_code_repository,
                additional_code_repositories=additional_code_repositories,
        )
        if problems:
            _raise_all(_path(scope, id), "NotebookInstance", problems)
        if notebook_instance_name is not None:
            _claim_name(scope, _path(scope, id), notebook_instance_name, _Arns.of(scope))
        super().__init__(scope, id, physical_name=notebook_instance_name)
        name = notebook_instance_name if notebook_instance_name is not None else generated_name(self)

        # lifecycle configuration: shared, created here, or none
        if lifecycle_config is None:
            lifecycle_config = own_lifecycle_config(
                self, on_start=on_start, on_create=on_create, features=features,
                lifecycle_config_name=lifecycle_config_name, install_dir=install_dir,
                deadline_seconds=deadline_seconds, compression=compression, delivery=delivery,
            )
        self._lifecycle_config = lifecycle_config

        self._name = name

        # the role and what it needs
        if role is None:
            role = _NotebookRole(
                self,
                "Role",
                assumed_by=_sagemaker_principal(),
                description=f"Execution role of the SageMaker notebook instance {name}",
            )
        self._role = role
        self._scope_for_arns = scope
        statements = self._statements(scope, name, lifecycle_config)
        self._payload_hooks = set(lifecycle_config.s3_hooks) if lifecycle_config is not None else set()
        self._warned_endpoints: set = set()
        self._statements_list = statements
        self._immutable_role = _is_immutable_role(role)
        self._policy: Optional[NotebookInstancePolicy] = None
        if self._immutable_role:
            Annotations.of(self).add_warning_v2(
                WARN_IMMUTABLE_ROLE,
                f"role {role.node.path} is immutable, so notebook-lifecycle cannot add the permissions this "
                "notebook instance needs; grant them by hand (for example as a customer-managed policy "
                "attached to the role): " + json.dumps([s.readable() for s in statements], separators=(",", ":")),
            )
        else:
            self._policy = NotebookInstancePolicy(
                self,
                "Policy",
                description=f"What the SageMaker notebook instance {name} needs (notebook-lifecycle)",
                statements=[s.statement_json(_Arns.of(scope).sort_policies) for s in statements],
                role=role,
            )

        # warnings
        self._direct_internet_access = direct_internet_access
        self._warn_endpoints()
        if isinstance(platform_identifier, str) and platform_identifier in _RETIRED_PLATFORMS:
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
        # Ordered grants: the instance depends on its managed policy and, once the app is complete,
        # on every child of the role except the role resource itself (which RoleArn already orders).
        # Grants made later (`bucket.grant_read(notebook)`, `role.add_to_principal_policy`) land in the
        # role's default policy, a child of the role (for an imported role, a `Policy` child of it),
        # so they exist before the instance first boots. aws-cdk-lib has no public accessor for the
        # default policy; the role's children (`node.children`) are public.
        if self._policy is not None:
            _OrderAfterRolePolicies._depend_on(self._resource, self._policy._resource)
            if isinstance(role, _NotebookRole):
                role._order_after_policies(scope, self._resource)
            else:
                _OrderAfterRolePolicies.add(scope, self._resource, role)
        self._security_groups = security_groups
        self._connections: Optional[ec2.Connections] = None

    # -- members Node calls back (jsii overrides) ------------------------------------------
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
