"""The :class:`NotebookFleet` construct: one notebook instance per user, in stable nested stacks."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from aws_cdk import NestedStack, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..features import Features
from ..scripts import StartupScripts
from ._naming import _NAME_RE, NAME_MAX_LENGTH, _path
from ._props_check import lifecycle_config_problems
from ._validation import _raise_all
from .lifecycle_config import LifecycleConfig, own_lifecycle_config
from .notebook_instance import DEFAULT_INSTANCE_TYPE, DEFAULT_PLATFORM_IDENTIFIER, DEFAULT_VOLUME_SIZE_IN_GB, NotebookInstance

#: Users a fleet accepts unless ``max_users`` says otherwise.
DEFAULT_MAX_USERS = 2000
#: Users per nested stack on average when the fleet is full (3 resources each: role, policy, instance).
DEFAULT_USERS_PER_STACK = 100
#: Most notebooks one nested stack may hold: 3 x 150 = 450 resources, under CloudFormation's 500.
MAX_USERS_PER_SHARD = 150
#: Longest name prefix, so that every notebook name keeps room for the user.
MAX_PREFIX_LENGTH = 30

_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=,-]*$")
_USER_MAX_LENGTH = 128
_HASH_LEN = 8


@dataclass(frozen=True)
class FleetUser:
    """One user's overrides of the fleet's shared props; ``None`` keeps the fleet's value.

    ``principal`` (an ``iam.IGrantable``: a role, user or group) may open this
    user's notebook, and no other (as :meth:`NotebookFleet.grant_connect`).
    """

    instance_type: Optional[str] = None
    volume_size_in_gb: Optional[int] = None
    default_code_repository: Optional[str] = None
    additional_code_repositories: Optional[Sequence[str]] = None
    principal: Optional[iam.IGrantable] = None


def normalize_user(user: str) -> str:
    """The user's key in the fleet: lowercase, every run of characters other than ``a-z0-9`` made one ``-``.

    ``"Alice.Smith@example.com"`` becomes ``"alice-smith-example-com"``. Two
    users with the same key are refused.
    """
    return re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fleet_notebook_name(prefix: str, key: str) -> str:
    """``<prefix>-<key>``; when that is over 63 characters, the key is cut and ``-<8 hex of sha256(key)>`` added."""
    name = f"{prefix}-{key}"
    if len(name) <= NAME_MAX_LENGTH:
        return name
    room = NAME_MAX_LENGTH - len(prefix) - 2 - _HASH_LEN
    return f"{prefix}-{key[:room].rstrip('-')}-{_digest(key)[:_HASH_LEN]}"


def shard_of(key: str, shards: int) -> int:
    """The nested stack of a user: a pure function of the user's key (sha256) and the fleet's shard count."""
    return int(_digest(key)[:16], 16) % shards


def _is_grantable(value: Any) -> bool:
    principal = getattr(value, "grant_principal", None)
    return principal is not None and hasattr(principal, "add_to_principal_policy")


class NotebookFleet(Construct):
    """One SageMaker notebook instance per user, sharing one lifecycle configuration, in nested stacks.

    Each user gets a :class:`NotebookInstance` (its own role and managed policy,
    scoped to its own ARN) named ``<name_prefix>-<user key>`` (see
    :func:`fleet_notebook_name`). Notebooks live in nested stacks chosen by a
    hash of the user key (:func:`shard_of`), so adding or removing users never
    moves, or changes, anyone else's notebook. Notebooks are retained when
    their user is removed (``removal_policy``).

    Parameters
    ----------
    scope, id
        The construct scope and id.
    users : sequence of str, or mapping of str to FleetUser
        User names (letters, digits and ``. _ @ + = , -``); a mapping gives per-user overrides.
    lifecycle_config : LifecycleConfig, optional
        The fleet's lifecycle configuration; or give ``on_start``/``on_create``/``features``
        (and ``install_dir``, ``deadline_seconds``, ``compression``, ``delivery``, ``lifecycle_config_name``)
        and the fleet creates one (id ``LifecycleConfig``, in the parent stack).
    instance_type, volume_size_in_gb, platform_identifier, subnet, security_groups,
    direct_internet_access, root_access, kms_key, default_code_repository, additional_code_repositories
        As for :class:`NotebookInstance`, shared by every user (``FleetUser`` overrides some).
    name_prefix : str, optional
        Start of every notebook name (at most 30 characters). Default: the fleet's id, lowercased.
    removal_policy : RemovalPolicy
        What happens to a notebook instance (and its volume) when its user is removed, or
        the fleet deleted. Default: ``RemovalPolicy.RETAIN``.
    max_users : int
        Most users the fleet accepts; it fixes the number of shards
        (``ceil(max_users / users_per_stack)``). Choose it once: changing it on a deployed
        fleet moves notebooks, which replaces them. Default: 2,000.
    users_per_stack : int
        Average users per nested stack when the fleet is full (at most 150). Default: 100.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        users: Union[Sequence[str], Mapping[str, FleetUser]],
        lifecycle_config: Optional[LifecycleConfig] = None,
        on_start: Optional[StartupScripts] = None,
        on_create: Optional[StartupScripts] = None,
        features: Optional[Features] = None,
        lifecycle_config_name: Optional[str] = None,
        install_dir: Optional[str] = None,
        deadline_seconds: Optional[int] = None,
        compression: Optional[str] = None,
        delivery: Optional[str] = None,
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        volume_size_in_gb: int = DEFAULT_VOLUME_SIZE_IN_GB,
        platform_identifier: str = DEFAULT_PLATFORM_IDENTIFIER,
        subnet: Optional[ec2.ISubnet] = None,
        security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
        direct_internet_access: bool = True,
        root_access: bool = True,
        kms_key: Optional[kms.IKey] = None,
        default_code_repository: Optional[str] = None,
        additional_code_repositories: Optional[Sequence[str]] = None,
        name_prefix: Optional[str] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        max_users: int = DEFAULT_MAX_USERS,
        users_per_stack: int = DEFAULT_USERS_PER_STACK,
    ) -> None:
        path = _path(scope, id)
        entries, problems = _check_users(users)
        prefix = name_prefix if name_prefix is not None else normalize_user(id)
        problems += _check_fleet(prefix, max_users, users_per_stack, len(entries), lifecycle_config,
                                 on_start, on_create, features,
                                 {"lifecycle_config_name": lifecycle_config_name, "install_dir": install_dir,
                                  "deadline_seconds": deadline_seconds, "compression": compression,
                                  "delivery": delivery})
        shards = 0
        if not problems:
            shards = math.ceil(max_users / users_per_stack)
            problems += _check_shards(entries, shards)
        if problems:
            _raise_all(path, "NotebookFleet", problems)
        super().__init__(scope, id)

        if lifecycle_config is None:
            lifecycle_config = own_lifecycle_config(
                self, on_start=on_start, on_create=on_create, features=features,
                lifecycle_config_name=lifecycle_config_name, install_dir=install_dir,
                deadline_seconds=deadline_seconds, compression=compression, delivery=delivery,
            )
        self._lifecycle_config = lifecycle_config
        self._prefix = prefix
        self._shard_count = shards
        self._stacks: Dict[int, NestedStack] = {}
        self._notebooks: Dict[str, NotebookInstance] = {}
        self._keys: Dict[str, str] = {}

        shared_repos = list(additional_code_repositories) if additional_code_repositories is not None else None
        # sorted by key: the construct tree (and every template) does not depend on the order given
        for key, user, overrides in sorted(entries, key=lambda e: e[0]):
            shard = shard_of(key, shards)
            stack = self._stacks.get(shard)
            if stack is None:
                stack = self._stacks[shard] = NestedStack(self, f"Shard{shard:03d}")
            repos = overrides.additional_code_repositories
            notebook = NotebookInstance(
                stack,
                key,
                lifecycle_config=lifecycle_config,
                notebook_instance_name=fleet_notebook_name(prefix, key),
                instance_type=overrides.instance_type or instance_type,
                volume_size_in_gb=(
                    overrides.volume_size_in_gb if overrides.volume_size_in_gb is not None else volume_size_in_gb
                ),
                platform_identifier=platform_identifier,
                subnet=subnet,
                security_groups=security_groups,
                direct_internet_access=direct_internet_access,
                root_access=root_access,
                kms_key=kms_key,
                default_code_repository=(
                    overrides.default_code_repository
                    if overrides.default_code_repository is not None
                    else default_code_repository
                ),
                additional_code_repositories=list(repos) if repos is not None else shared_repos,
            )
            notebook.apply_removal_policy(removal_policy)
            self._notebooks[user] = notebook
            self._keys[user] = key
            if overrides.principal is not None:
                notebook.grant_connect(overrides.principal)

    # -- public surface -----------------------------------------------------------------------
    @property
    def users(self) -> Tuple[str, ...]:
        """The user names, as given, sorted by their key."""
        return tuple(self._notebooks)

    @property
    def lifecycle_config(self) -> Optional[LifecycleConfig]:
        """The lifecycle configuration every notebook of the fleet uses (``None`` when there is nothing to run)."""
        return self._lifecycle_config

    @property
    def name_prefix(self) -> str:
        return self._prefix

    @property
    def shard_count(self) -> int:
        """How many shards users are hashed into (nested stacks exist only for shards that hold users)."""
        return self._shard_count

    @property
    def nested_stacks(self) -> Tuple[NestedStack, ...]:
        """The nested stacks that hold notebooks, in shard order."""
        return tuple(self._stacks[s] for s in sorted(self._stacks))

    def notebook(self, user: str) -> NotebookInstance:
        """The :class:`NotebookInstance` of ``user`` (as given, or its key)."""
        found = self._notebooks.get(user)
        if found is None:
            key = normalize_user(user) if isinstance(user, str) else None
            found = next((nb for u, nb in self._notebooks.items() if self._keys[u] == key), None)
        if found is None:
            raise KeyError(
                f"NotebookFleet {self.node.path}: no user {user!r}; the users are "
                + ", ".join(repr(u) for u in list(self._notebooks)[:10])
                + (" ..." if len(self._notebooks) > 10 else "")
            )
        return found

    def nested_stack_of(self, user: str) -> NestedStack:
        """The nested stack that holds ``user``'s notebook."""
        return Stack.of(self.notebook(user))  # type: ignore[return-value]

    def grant_connect(self, user: str, principal: iam.IGrantable) -> iam.Grant:
        """Let ``principal`` open ``user``'s notebook, and only that one.

        Grants ``sagemaker:CreatePresignedNotebookInstanceUrl`` and
        ``sagemaker:DescribeNotebookInstance`` on that notebook instance's ARN,
        in the principal's policy (``iam.Grant.add_to_principal``).
        """
        notebook = self.notebook(user)
        if not _is_grantable(principal):
            raise TypeError(
                f"NotebookFleet {self.node.path}: grant_connect({user!r}, ...): expected an iam.IGrantable "
                f"(a Role, User or Group), got {type(principal).__name__}"
            )
        return notebook.grant_connect(principal)


def _check_users(users: Any) -> Tuple[List[Tuple[str, str, FleetUser]], List[str]]:
    """(key, user, overrides) per user, and every problem with the users."""
    problems: List[str] = []
    if isinstance(users, Mapping):
        items = list(users.items())
    elif isinstance(users, (str, bytes)) or not isinstance(users, Sequence):
        return [], [
            f"users: expected a sequence of user names or a mapping of user name to FleetUser, "
            f"got {type(users).__name__}"
        ]
    else:
        items = [(u, None) for u in users]
    if not items:
        problems.append("users: empty; give at least one user name")
    entries: List[Tuple[str, str, FleetUser]] = []
    by_key: Dict[str, List[str]] = {}
    bad_names: List[str] = []
    for user, overrides in items:
        if not isinstance(user, str) or not _USER_RE.match(user) or len(user) > _USER_MAX_LENGTH:
            bad_names.append(repr(user))
            continue
        if overrides is None:
            overrides = FleetUser()
        elif not isinstance(overrides, FleetUser):
            problems.append(f"users[{user!r}]: expected a FleetUser(...), got {type(overrides).__name__}")
            continue
        if overrides.principal is not None and not _is_grantable(overrides.principal):
            problems.append(
                f"users[{user!r}].principal: expected an iam.IGrantable (a Role, User or Group, e.g. "
                f"iam.Role.from_role_name(...)), got {type(overrides.principal).__name__}"
            )
        key = normalize_user(user)
        by_key.setdefault(key, []).append(user)
        entries.append((key, user, overrides))
    if bad_names:
        problems.append(
            f"users: invalid user name(s) {', '.join(bad_names)}: use 1 to {_USER_MAX_LENGTH} letters, digits and "
            "'. _ @ + = , -', starting with a letter or digit"
        )
    for key, names in by_key.items():
        if len(names) > 1:
            if len(set(names)) == 1:
                problems.append(f"users: {names[0]!r} is given {len(names)} times; give each user once")
            else:
                problems.append(
                    f"users: {', '.join(repr(n) for n in names)} are the same user once normalised ({key!r}: "
                    "lowercase, other characters as '-'); rename all but one"
                )
    return entries, problems


def _check_fleet(
    prefix: Any,
    max_users: Any,
    users_per_stack: Any,
    count: int,
    lifecycle_config: Any,
    on_start: Any,
    on_create: Any,
    features: Any,
    bundle_options: Dict[str, Any],
) -> List[str]:
    problems: List[str] = []
    if not isinstance(prefix, str) or not prefix or len(prefix) > MAX_PREFIX_LENGTH or not _NAME_RE.match(prefix):
        problems.append(
            f"name_prefix: {prefix!r} is not a valid prefix: 1 to {MAX_PREFIX_LENGTH} letters, digits and '-', "
            "starting and ending with a letter or digit (pass name_prefix=... when the fleet's id does not give one)"
        )
    if isinstance(max_users, bool) or not isinstance(max_users, int) or max_users < 1:
        problems.append(f"max_users: expected a positive whole number, got {max_users!r}")
    elif count > max_users:
        problems.append(
            f"{count} users, but max_users is {max_users}: split the users into a second NotebookFleet (another "
            f"id and name_prefix), or, before the first deploy only, raise max_users (changing it on a deployed "
            "fleet moves notebooks between nested stacks, which replaces them)"
        )
    if (isinstance(users_per_stack, bool) or not isinstance(users_per_stack, int)
            or not 1 <= users_per_stack <= MAX_USERS_PER_SHARD):
        problems.append(f"users_per_stack: expected a whole number from 1 to {MAX_USERS_PER_SHARD}, got {users_per_stack!r}")
    problems += lifecycle_config_problems(lifecycle_config, on_start, on_create, features, bundle_options,
                                          "by the fleet")
    return problems


def _check_shards(entries: List[Tuple[str, str, FleetUser]], shards: int) -> List[str]:
    counts: Dict[int, int] = {}
    for key, _, _ in entries:
        s = shard_of(key, shards)
        counts[s] = counts.get(s, 0) + 1
    full = sorted(s for s, n in counts.items() if n > MAX_USERS_PER_SHARD)
    if not full:
        return []
    return [
        f"nested stack(s) {', '.join(f'Shard{s:03d}' for s in full)} would hold more than {MAX_USERS_PER_SHARD} "
        f"notebooks (CloudFormation allows 500 resources per stack); split the users into a second NotebookFleet"
    ]
