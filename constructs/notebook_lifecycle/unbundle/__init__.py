"""Read bundles back, and what a live account holds.

* :mod:`.bundles`: what the bundler emitted, as files and a run plan again (:func:`read_script`,
  :func:`read_bundles`, :func:`readable_template`, :func:`with_payload`);
* :mod:`.deployed`: deployed lifecycle configurations and the inline payloads of hand-written
  scripts, for ``notebook-lifecycle status / pull / diff`` (:func:`read_deployed_config`,
  :func:`find_inline_payloads`, :func:`content_fingerprint`).

``from notebook_lifecycle.unbundle import X`` works for every name below.
Pure standard library (plus the package's own pure-Python core); no CDK here.
"""

from .bundles import ASSET_BUCKET as ASSET_BUCKET
from .bundles import ASSET_REGION as ASSET_REGION
from .bundles import LIFECYCLE_CONFIG_TYPE, FoundBundle, PlanEntry, S3Fetch
from .bundles import read_bundles, read_script, readable_template, with_payload
# used by notebook_lifecycle.testing
from .bundles import _content_script as _content_script
from .bundles import _is_ours as _is_ours
from .bundles import _lifecycle_entries as _lifecycle_entries
from .bundles import _readable_file as _readable_file
from .deployed import INLINE_PAYLOAD_LIMIT as INLINE_PAYLOAD_LIMIT
from .deployed import DeployedHook, InlinePayload
from .deployed import content_fingerprint, find_inline_payloads, is_safe_relative_path, read_deployed_config

__all__ = [
    "DeployedHook",
    "FoundBundle",
    "InlinePayload",
    "PlanEntry",
    "LIFECYCLE_CONFIG_TYPE",
    "content_fingerprint",
    "find_inline_payloads",
    "is_safe_relative_path",
    "read_deployed_config",
    "read_bundles",
    "read_script",
    "readable_template",
    "S3Fetch",
    "with_payload",
]
