"""The :class:`LifecycleConfig` construct."""

from __future__ import annotations

from typing import Optional, Tuple

from aws_cdk import Resource
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ..bundle import DEFAULT_DEADLINE_SECONDS, Bundle
from ..errors import BundleError
from ..features import Features, IamGrant
from ..scripts import StartupScripts
from ._cache import _CACHE
from ._naming import _path, generated_name
from .props import DEFAULT_COMPRESSION, DEFAULT_INSTALL_DIR, LifecycleConfigProps, _construct_deepcopy, accepts_props
from ._validation import _ContentSizeValidation, _name_problem, _raise_all, _token_problems


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

    __deepcopy__ = _construct_deepcopy

    @accepts_props(LifecycleConfigProps)
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        on_start: Optional[StartupScripts] = None,
        on_create: Optional[StartupScripts] = None,
        features: Optional[Features] = None,
        lifecycle_config_name: Optional[str] = None,
        install_dir: str = DEFAULT_INSTALL_DIR,
        deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
        compression: str = DEFAULT_COMPRESSION,
    ) -> None:
        problems = _token_problems(features)
        if lifecycle_config_name is not None:
            problems += [p for p in [_name_problem("lifecycle_config_name", lifecycle_config_name)] if p]
        if problems:
            _raise_all(_path(scope, id), "LifecycleConfig", problems)
        super().__init__(scope, id, physical_name=lifecycle_config_name)
        name = lifecycle_config_name if lifecycle_config_name is not None else generated_name(self)
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
