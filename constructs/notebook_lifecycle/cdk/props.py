"""CDK idioms: props types (:class:`NotebookInstanceProps`, :class:`LifecycleConfigProps`) and the
:class:`INotebookInstance` protocol that the construct and an imported instance both satisfy.

The props are frozen dataclasses whose fields are exactly the constructors' keyword arguments,
with the same defaults. Pass one as ``props=``, or spread it:

* ``NotebookInstance(scope, "Nb", props=props)``;
* ``NotebookInstance(scope, "Nb", **props.to_kwargs())`` (a shallow dict: the same objects);
* ``NotebookInstance(scope, "Nb", **dataclasses.asdict(props))``. ``asdict`` turns nested
  dataclasses (``Features``, ``Autostop``, ``Binary``) into dicts and deep-copies the rest; the
  constructors turn such dicts back into their types, and a deep copy of a construct (a role, a
  subnet, a shared ``LifecycleConfig``) is the construct itself: a construct is a reference to a
  resource, not a value.

``props=`` together with keyword arguments is an error naming both.
"""

from __future__ import annotations

import copyreg
import dataclasses
import functools
import inspect
import typing
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Protocol, Sequence, runtime_checkable

from ..bundle import DEFAULT_DEADLINE_SECONDS
from ..features import Features
from ..scripts import StartupScripts

if TYPE_CHECKING:  # pragma: no cover
    from aws_cdk import Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from constructs import Node

    from .lifecycle_config import LifecycleConfig

# The defaults live here (the constructors use the same values).
DEFAULT_INSTANCE_TYPE = "ml.t3.medium"
DEFAULT_PLATFORM_IDENTIFIER = "notebook-al2023-v1"
DEFAULT_VOLUME_SIZE_IN_GB = 5
DEFAULT_INSTALL_DIR = "/startup"
DEFAULT_COMPRESSION = "xz"
DEFAULT_DELIVERY = "auto"


class _Props:
    """What both props types share."""

    def to_kwargs(self) -> Dict[str, Any]:
        """The fields as keyword arguments, shallow (the very objects given)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class LifecycleConfigProps(_Props):
    """The keyword arguments of :class:`~notebook_lifecycle.cdk.LifecycleConfig`, as a value."""

    on_start: Optional[StartupScripts] = None
    on_create: Optional[StartupScripts] = None
    features: Optional[Features] = None
    lifecycle_config_name: Optional[str] = None
    install_dir: str = DEFAULT_INSTALL_DIR
    deadline_seconds: int = DEFAULT_DEADLINE_SECONDS
    compression: str = DEFAULT_COMPRESSION
    delivery: str = DEFAULT_DELIVERY


@dataclass(frozen=True)
class NotebookInstanceProps(_Props):
    """The keyword arguments of :class:`~notebook_lifecycle.cdk.NotebookInstance`, as a value.

    A fleet or an Aspect can keep one and derive variants with :meth:`replace`.
    """

    on_start: Optional[StartupScripts] = None
    on_create: Optional[StartupScripts] = None
    features: Optional[Features] = None
    lifecycle_config: Optional["LifecycleConfig"] = None
    instance_type: str = DEFAULT_INSTANCE_TYPE
    volume_size_in_gb: int = DEFAULT_VOLUME_SIZE_IN_GB
    platform_identifier: str = DEFAULT_PLATFORM_IDENTIFIER
    notebook_instance_name: Optional[str] = None
    role: Optional["iam.IRole"] = None
    subnet: Optional["ec2.ISubnet"] = None
    security_groups: Optional[Sequence["ec2.ISecurityGroup"]] = None
    direct_internet_access: bool = True
    root_access: bool = True
    kms_key: Optional["kms.IKey"] = None
    default_code_repository: Optional[str] = None
    additional_code_repositories: Optional[Sequence[str]] = None
    lifecycle_config_name: Optional[str] = None
    install_dir: Optional[str] = None
    deadline_seconds: Optional[int] = None
    compression: Optional[str] = None
    delivery: Optional[str] = None


@runtime_checkable
class INotebookInstance(Protocol):
    """A SageMaker notebook instance, made in this app or imported by name.

    Satisfied by :class:`~notebook_lifecycle.cdk.NotebookInstance` and by what
    :meth:`~notebook_lifecycle.cdk.NotebookInstance.from_notebook_instance_name` returns.
    """

    @property
    def notebook_instance_name(self) -> str: ...

    @property
    def notebook_instance_arn(self) -> str: ...

    @property
    def node(self) -> "Node": ...

    @property
    def stack(self) -> "Stack": ...

    @property
    def env(self) -> Any: ...  # aws-cdk-lib's ResourceEnvironment (account, region); no Python name for it

    def grant_connect(self, grantee: "iam.IGrantable") -> "iam.Grant":
        """Open the notebook: ``CreatePresignedNotebookInstanceUrl`` and ``DescribeNotebookInstance`` on this ARN."""
        ...

    def grant_start_stop(self, grantee: "iam.IGrantable") -> "iam.Grant":
        """``StartNotebookInstance``, ``StopNotebookInstance`` and ``DescribeNotebookInstance`` on this ARN."""
        ...


# -- making ``**asdict(props)`` work ---------------------------------------------------------------


def _rebuild(tp: Any, value: Any) -> Any:
    """Turn what ``dataclasses.asdict`` made of a dataclass value (a dict) back into that dataclass."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg) and isinstance(value, Mapping):
                return _rebuild(arg, value)
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type) and isinstance(value, Mapping):
        hints = typing.get_type_hints(tp)
        known = {f.name for f in fields(tp) if f.init}
        return tp(**{k: (_rebuild(hints.get(k, Any), v) if k in known else v) for k, v in value.items()})
    if origin is tuple and isinstance(value, (tuple, list)):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_rebuild(args[0], v) for v in value)
    return value


_DATACLASS_FIELDS = {"features": Features}


def _rebuild_kwargs(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    for name, tp in _DATACLASS_FIELDS.items():
        value = kwargs.get(name)
        if isinstance(value, Mapping):
            kwargs[name] = _rebuild(tp, value)
    return kwargs


class _SameObject:
    """Deep-copies to itself, so a reducer can hand back the original object."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __deepcopy__(self, memo: Any) -> "_SameObject":
        return self


def _same(holder: _SameObject) -> Any:
    return holder.obj


def _identity_reduce(obj: Any) -> Any:
    return _same, (_SameObject(obj),)


def _copy_constructs_by_reference() -> None:
    """A deep copy of a jsii interface proxy (``Role.from_role_arn``, ``Subnet.from_subnet_id``, ...) is the
    proxy itself. Without this, ``copy.deepcopy`` (and so ``dataclasses.asdict``) recurses forever in
    jsii's proxy. Registered with ``copyreg`` for that one jsii class."""
    try:
        from jsii._reference_map import InterfaceDynamicProxy
    except ImportError:  # pragma: no cover - jsii internals moved; asdict of imported constructs then fails
        return
    copyreg.pickle(InterfaceDynamicProxy, _identity_reduce)


_copy_constructs_by_reference()


def _construct_deepcopy(self: Any, memo: Any) -> Any:
    """``__deepcopy__`` of this library's constructs: the construct itself."""
    return self


# -- props= on the constructors ---------------------------------------------------------------------


def accepts_props(props_type: type) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a construct ``__init__(self, scope, id, *, ...)`` to take ``props=`` as well."""

    def decorate(init: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(init)
        kw_names = [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

        @functools.wraps(init)
        def wrapper(self: Any, scope: Any, id: str, *, props: Any = None, **kwargs: Any) -> None:
            if props is not None:
                if not isinstance(props, props_type):
                    raise TypeError(
                        f"props: expected {props_type.__name__}(...), got {type(props).__name__}; "
                        f"build one with {props_type.__name__}(...)"
                    )
                if kwargs:
                    raise TypeError(
                        f"{type(self).__name__}: pass either props= or keyword arguments, not both "
                        f"(props and {', '.join(sorted(kwargs))}); use props.replace({next(iter(sorted(kwargs)))}=...) "
                        "to change a field"
                    )
                kwargs = props.to_kwargs()  # type: ignore[attr-defined]  # checked by isinstance above
            unknown = sorted(set(kwargs) - set(kw_names))
            if unknown:
                raise TypeError(
                    f"{type(self).__name__}: unknown argument(s) {', '.join(unknown)}; "
                    f"the arguments are {', '.join(kw_names)} (or props=)"
                )
            init(self, scope, id, **_rebuild_kwargs(kwargs))

        params = list(sig.parameters.values())
        params.append(inspect.Parameter("props", inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=f"Optional[{props_type.__name__}]"))
        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return wrapper

    return decorate
