"""notebook-lifecycle: a folder of startup scripts plus feature flags becomes a working,
self-stopping SageMaker Notebook Instance.

The core (``StartupScripts``, ``Bundle``, ``Features``) is pure Python and does
not import ``aws_cdk``; the CDK constructs (``NotebookInstance``,
``LifecycleConfig``, the ``NotebookGovernance`` Aspect) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .bundle import CONTENT_LIMIT, Bundle, FileCost, HookSize, SizeReport
from .deploy_values import DeployValue
from .errors import BundleError
from .features import Autostop, Binary, Features, IamGrant
from .scripts import Excluded, PackedFile, StartupScripts, Step

if TYPE_CHECKING:  # pragma: no cover
    from .cdk import (
        FleetUser,
        INotebookInstance,
        LifecycleConfig,
        LifecycleConfigProps,
        NotebookFleet,
        NotebookGovernance,
        NotebookInstance,
        NotebookInstanceProps,
    )

__all__ = [
    "__version__",
    "Autostop",
    "Binary",
    "Bundle",
    "BundleError",
    "CONTENT_LIMIT",
    "DeployValue",
    "Excluded",
    "Features",
    "FileCost",
    "HookSize",
    "IamGrant",
    "PackedFile",
    "SizeReport",
    "StartupScripts",
    "Step",
]

# Not in __all__: `from notebook_lifecycle import *` stays free of aws_cdk too.
_LAZY = {
    "NotebookInstance", "LifecycleConfig", "NotebookInstanceProps", "LifecycleConfigProps", "INotebookInstance",
    "NotebookGovernance",
    "NotebookFleet", "FleetUser",
}


def __getattr__(name: str) -> Any:
    # The constructs need aws-cdk-lib (and Node); keep `import notebook_lifecycle` free of it.
    # Without the `cdk` extra this raises an ImportError that names it.
    if name in _LAZY:
        from . import cdk

        return getattr(cdk, name)
    raise AttributeError(f"module 'notebook_lifecycle' has no attribute {name!r}")
