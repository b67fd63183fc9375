"""``notebook-lifecycle status``: the notebook instances of an account and what their lifecycle configurations are."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from ..errors import BundleError
from ..unbundle import content_fingerprint, read_deployed_config
from ._aws import Aws, add_aws_options, is_not_found
from ._common import _command


_STATUS_DESCRIPTION = """\
Show each notebook instance (all of the region when no NAME is given): its state,
platform, instance type, lifecycle configuration, and whether that configuration
was built by notebook-lifecycle (its version) with its fingerprint: the sha256 of
its hooks' contents, equal to Bundle.fingerprint() of the bundle that was deployed
(the short form shows the first 12 hex digits; --json gives all 64).

BUNDLE is the notebook-lifecycle version that built the configuration, 'script'
for a hand-written one, 'script+payload' for one carrying an inline tar | base64
payload, 'missing' when the configuration no longer exists, '-' for none.
Needs boto3 (the aws extra).
Exit status: 0 ok, 1 a NAME was not found (the others are shown), 2 error.
"""

_COLUMNS = (("NAME", "name"), ("STATE", "state"), ("PLATFORM", "platform"), ("TYPE", "instance_type"),
            ("LIFECYCLE CONFIG", "lifecycle_config"), ("BUNDLE", "bundle"), ("FINGERPRINT", "fingerprint"))


def _add_status(sub: Any) -> None:
    p = _command(sub, "status", _status, "show notebook instances and their lifecycle configurations", _STATUS_DESCRIPTION)
    p.add_argument("names", metavar="NAME", nargs="*", help="notebook instance name (default: every one in the region)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_aws_options(p)


def _status(args: argparse.Namespace) -> int:
    aws = Aws(args)
    aws.client("sagemaker")  # made here, before the threads share it
    missing: list[str] = []
    if args.names:
        names = list(dict.fromkeys(args.names))
    else:
        listed = aws.paginate("sagemaker", "list_notebook_instances", "NotebookInstances", SortBy="Name")
        names = [n["NotebookInstanceName"] for n in listed]
    with ThreadPoolExecutor(max_workers=8) as pool:
        described = list(pool.map(lambda n: _describe_instance(aws, n), names))
    instances = []
    for name, found in zip(names, described, strict=True):
        if found is None:
            missing.append(name)
        else:
            instances.append(found)
    config_names = sorted({i["NotebookInstanceLifecycleConfigName"] for i in instances
                           if i.get("NotebookInstanceLifecycleConfigName")})
    with ThreadPoolExecutor(max_workers=8) as pool:
        configs = dict(zip(config_names, pool.map(lambda c: _describe_config(aws, c), config_names), strict=True))
    rows = [_row(i, configs) for i in sorted(instances, key=lambda i: i["NotebookInstanceName"])]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(_table(rows))
    elif not missing:
        print(f"no notebook instances in {aws.region}")
    for name in missing:
        print(f"notebook-lifecycle: notebook instance {name!r} not found in {aws.region}; "
              "check the name, --region and --profile", file=sys.stderr)
    return 1 if missing else 0


def _describe_instance(aws: Aws, name: str) -> Optional[dict[str, Any]]:
    try:
        return dict(aws.call("sagemaker", "describe_notebook_instance", NotebookInstanceName=name,
                             passthrough=("ValidationException",)))
    except BundleError:
        raise
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise aws.error(exc, aws.client("sagemaker"), "describe_notebook_instance") from None


def _describe_config(aws: Aws, name: str) -> dict[str, Any]:
    """What status shows of a lifecycle configuration: bundle version (or kind), hooks, fingerprint."""
    try:
        config = aws.call("sagemaker", "describe_notebook_instance_lifecycle_config",
                          NotebookInstanceLifecycleConfigName=name, passthrough=("ValidationException",))
    except BundleError:
        raise
    except Exception as exc:
        if is_not_found(exc):
            return {"bundle": "missing", "version": None, "hooks": {}, "fingerprint": None}
        raise aws.error(exc, aws.client("sagemaker"), "describe_notebook_instance_lifecycle_config") from None
    try:
        hooks = read_deployed_config(config, label=name)
    except BundleError as exc:
        return {"bundle": "damaged", "version": None, "hooks": {}, "fingerprint": None, "error": str(exc)}
    versions = sorted({h.bundle.version for h in hooks if h.bundle is not None})
    kinds = {h.hook: h.kind for h in hooks}
    if versions:
        label = ",".join(versions)
    elif "payload" in kinds.values():
        label = "script+payload"
    else:
        label = "script" if hooks else "-"
    return {
        "bundle": label,
        "version": versions[0] if len(versions) == 1 else (versions or None),
        "hooks": kinds,
        "fingerprint": content_fingerprint({h.hook: h.content for h in hooks}) if hooks else None,
    }


def _row(instance: dict[str, Any], configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    config_name = instance.get("NotebookInstanceLifecycleConfigName")
    config = configs.get(config_name or "", {"bundle": "-", "version": None, "hooks": {}, "fingerprint": None})
    return {
        "name": instance["NotebookInstanceName"],
        "state": instance.get("NotebookInstanceStatus"),
        "platform": instance.get("PlatformIdentifier"),
        "instance_type": instance.get("InstanceType"),
        "lifecycle_config": config_name,
        "bundle": config["bundle"],
        "version": config["version"],
        "hooks": config["hooks"],
        "fingerprint": config["fingerprint"],
        **({"error": config["error"]} if "error" in config else {}),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], key: str) -> str:
        value = row.get(key)
        if key == "fingerprint" and value:
            return str(value)[:12]
        return "-" if value in (None, "") else str(value)

    cells = [[title for title, _ in _COLUMNS]] + [[cell(r, key) for _, key in _COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)
