"""AWS CDK constructs: :class:`LifecycleConfig` and :class:`NotebookInstance`.

``LifecycleConfig`` renders startup scripts and feature flags (a
:class:`~notebook_lifecycle.bundle.Bundle`) into an
``AWS::SageMaker::NotebookInstanceLifecycleConfig`` whose ``Content`` is the
bundle's base64 text, as a literal. ``NotebookInstance`` adds the notebook
instance, wired to that lifecycle config, and an execution role that holds
exactly what the enabled features need.

Importing this package imports ``aws_cdk`` (and starts Node through jsii);
``import notebook_lifecycle`` alone does not.
"""

from __future__ import annotations

try:
    import aws_cdk  # noqa: F401  (starts Node through jsii)
    import constructs  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"notebook_lifecycle's CDK constructs need aws-cdk-lib and constructs ({exc}); install the library with "
        "its cdk extra: pip install 'notebook-lifecycle[cdk]' (from a git checkout: pip install '.[cdk]'). "
        "The CDK CLI and jsii also need Node.js (a supported LTS, 22 or newer)"
    ) from exc

from ._cache import BundleCacheInfo, bundle_cache_info, clear_bundle_cache
from ._naming import NAME_MAX_LENGTH, generated_name
from .governance import NotebookGovernance, merge_features
from .fleet import FleetUser, NotebookFleet
from .lifecycle_config import LifecycleConfig
from .props import INotebookInstance, LifecycleConfigProps, NotebookInstanceProps
# The MIN_/MAX_ limits were public in the old cdk.py too (importable, not in __all__).
from .notebook_instance import (
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_PLATFORM_IDENTIFIER,
    DEFAULT_VOLUME_SIZE_IN_GB,
    LIFECYCLE_LOG_GROUP,
    MAX_ADDITIONAL_CODE_REPOSITORIES,
    MAX_CODE_REPOSITORY_LENGTH,
    MAX_SECURITY_GROUPS,
    MAX_VOLUME_SIZE_IN_GB,
    MIN_VOLUME_SIZE_IN_GB,
    WARN_AUTOSTOP_ENDPOINT,
    WARN_IMMUTABLE_ROLE,
    WARN_PLATFORM_RETIRED,
    WARN_S3_DELIVERY_ENDPOINT,
    NotebookInstance,
)

__all__ = [
    "LifecycleConfig",
    "NotebookInstance",
    "NotebookGovernance",
    "merge_features",
    "NotebookFleet",
    "FleetUser",
    "LifecycleConfigProps",
    "NotebookInstanceProps",
    "INotebookInstance",
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
    "WARN_S3_DELIVERY_ENDPOINT",
]
