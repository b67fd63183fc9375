"""The synth-time check of a :class:`NotebookInstance`'s props (:func:`_check_props`) and its limits."""

from __future__ import annotations

import re
from typing import Any, List, Tuple

from ._naming import _NAME_RE
from ._tokens import _unresolved
from ._validation import _literal_problems, _name_problem, _scripts_problems, _type_problems
from .lifecycle_config import LifecycleConfig, _delivery_problems
from .props import DEFAULT_PLATFORM_IDENTIFIER


MIN_VOLUME_SIZE_IN_GB = 5
MAX_VOLUME_SIZE_IN_GB = 16384
MAX_SECURITY_GROUPS = 5
MAX_ADDITIONAL_CODE_REPOSITORIES = 3
MAX_CODE_REPOSITORY_LENGTH = 1024
_PLATFORM_RE = re.compile(r"^notebook-[a-z0-9]+-v[0-9]+$")
_PLATFORM_MAX_LENGTH = 20


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
    role: Any,
    kms_key: Any,
    direct_internet_access: Any,
    root_access: Any,
    default_code_repository: Any,
    additional_code_repositories: List[Any],
) -> List[str]:
    """Every problem with the props of a NotebookInstance (an empty list when they are fine)."""
    problems: List[str] = []
    problems += lifecycle_config_problems(lifecycle_config, on_start, on_create, features, bundle_options, "here")
    if not isinstance(instance_type, str) or not instance_type:
        problems.append(f"instance_type: expected a string, got {instance_type!r}; give one such as 'ml.t3.medium'")
    elif not instance_type.startswith("ml.") and not _unresolved(instance_type):
        problems.append(f"instance_type: {instance_type!r} is not a SageMaker instance type; use one such as 'ml.t3.medium'")
    if isinstance(volume_size_in_gb, bool) or not isinstance(volume_size_in_gb, (int, float)):
        problems.append(f"volume_size_in_gb: expected a whole number of GiB, got {volume_size_in_gb!r}; give one such as 5")
    elif not _unresolved(volume_size_in_gb) and (
        volume_size_in_gb != int(volume_size_in_gb)
        or not MIN_VOLUME_SIZE_IN_GB <= volume_size_in_gb <= MAX_VOLUME_SIZE_IN_GB
    ):
        problems.append(
            f"volume_size_in_gb: must be a whole number from {MIN_VOLUME_SIZE_IN_GB} to {MAX_VOLUME_SIZE_IN_GB} "
            f"(GiB), but {volume_size_in_gb!r} was given; give one in that range"
        )
    if not isinstance(platform_identifier, str):
        problems.append(f"platform_identifier: expected a string; give one such as {DEFAULT_PLATFORM_IDENTIFIER!r}")
    elif (
        len(platform_identifier) > _PLATFORM_MAX_LENGTH or not _PLATFORM_RE.match(platform_identifier)
    ) and not _unresolved(platform_identifier):
        problems.append(
            f"platform_identifier: {platform_identifier!r} is not a platform identifier; "
            f"use {DEFAULT_PLATFORM_IDENTIFIER!r} (the default)"
        )
    if notebook_instance_name is not None:
        problem = _name_problem("notebook_instance_name", notebook_instance_name)
        if problem:
            problems.append(problem)
        elif not _NAME_RE.match(notebook_instance_name) and _unresolved(notebook_instance_name):
            problems.append(
                "notebook_instance_name: must be a literal string, not a token: the IAM policy names the "
                "instance's ARN at synth time; omit it to get a generated name"
            )
    problems += _literal_problems({
        "direct_internet_access": (direct_internet_access, (bool,), "True or False"),
        "root_access": (root_access, (bool,), "True or False"),
        "install_dir": (bundle_options["install_dir"], (str,), "'/startup'"),
        "deadline_seconds": (bundle_options["deadline_seconds"], (int,), "240 (seconds)"),
        "compression": (bundle_options["compression"], (str,), "'xz' or 'gzip'"),
        "delivery": (bundle_options["delivery"], (str,), "'auto', 'inline' or 's3'"),
    })
    if bundle_options["delivery"] is not None:
        problems += _delivery_problems(bundle_options["delivery"])
    problems += _type_problems({"role": role, "subnet": subnet, "security_groups": security_groups, "kms_key": kms_key})
    problems += _scripts_problems({"on_start": on_start, "on_create": on_create})
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
            problems.append(f"{field}: expected a string; give a git URL or a SageMaker code repository name")
        elif len(repo) > MAX_CODE_REPOSITORY_LENGTH and not _unresolved(repo):
            problems.append(f"{field}: {len(repo)} characters, the limit is {MAX_CODE_REPOSITORY_LENGTH}; shorten it")
    return problems


def lifecycle_config_problems(
    lifecycle_config: Any, on_start: Any, on_create: Any, features: Any, bundle_options: dict, creator: str
) -> List[str]:
    """A shared ``lifecycle_config`` excludes the scripts, features and bundle options a notebook or a fleet
    would otherwise build its own configuration from (``creator``: where that one is created, for the message)."""
    problems: List[str] = []
    if lifecycle_config is None:
        return problems
    if not isinstance(lifecycle_config, LifecycleConfig):
        problems.append(
            f"lifecycle_config: expected a LifecycleConfig, got {type(lifecycle_config).__name__}; "
            "pass LifecycleConfig(...)"
        )
    if on_start is not None or on_create is not None or features is not None:
        problems.append(
            "lifecycle_config: pass either lifecycle_config (shared) or on_start/on_create/features, not both"
        )
    given = [k for k, v in bundle_options.items() if v is not None]
    if given:
        problems.append(
            f"{', '.join(given)}: only for the lifecycle configuration created {creator}; with a shared "
            "lifecycle_config, pass them to its LifecycleConfig(...)"
        )
    return problems
