"""The :class:`LifecycleConfig` construct."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import jsii
from aws_cdk import Fn, IAnyProducer, IResolveContext, IStringProducer, Lazy, Resource, Stack, Stage, Token
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IValidation

from ..bundle import DEFAULT_DEADLINE_SECONDS, Bundle
from ..delivery import BUCKET, DELIVERIES, S3Slot
from ..deploy_values import DeployValue
from ..errors import BundleError
from ..features import Features, IamGrant
from ..scripts import StartupScripts
from ._cache import _CACHE
from ._naming import _path, generated_name
from ._validation import _NAME_SAFE, _literal_problems, _name_problem, _raise_all, _scripts_problems
from .props import (
    DEFAULT_COMPRESSION,
    DEFAULT_DELIVERY,
    DEFAULT_INSTALL_DIR,
    LifecycleConfigProps,
    _construct_deepcopy,
    accepts_props,
)

#: Construct id of the S3 asset that holds a hook's payload (S3 delivery).
_PAYLOAD_IDS = {"on-start": "OnStartPayload", "on-create": "OnCreatePayload"}
#: Folder of the cloud assembly where payloads are written before CDK stages them as assets.
PAYLOAD_DIR = "notebook-lifecycle-payloads"
#: The cloud assembly's metadata type of an info message (``ArtifactMetadataEntryType.INFO``), what
#: ``Annotations.add_info`` records and ``cdk synth`` prints.
_INFO = "aws:cdk:info"


class LifecycleConfig(Resource):
    """A notebook-instance lifecycle configuration built from startup scripts and feature flags.

    Emits one ``AWS::SageMaker::NotebookInstanceLifecycleConfig`` (construct id
    ``Resource``, reachable as ``node.default_child``) whose ``OnStart`` and
    ``OnCreate`` ``Content`` is the bundle's base64 text: a literal string, or,
    when ``features.environment`` holds deploy-time values (CDK tokens such as
    ``bucket.bucket_name``), ``Fn::Base64`` of ``Fn::Join`` around the literal
    script, each value carried as ``Fn::Base64`` of the value.

    The template holds the content of the inputs as they are at synth time, so
    an Aspect such as :class:`~notebook_lifecycle.cdk.governance.NotebookGovernance`
    can still add features (the content is written at construction and, once an
    Aspect changes the inputs, produced at synth instead). The bundle is rendered once per distinct input in a process (see
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
        Default: none (only the features' steps run). A script whose text holds
        a CDK token is an error: pass the value through ``features.environment``.
    on_create : StartupScripts, optional
        Scripts run once, when the instance is created. Default: no on-create hook.
    features : Features, optional
        Feature flags; their steps run before the on-start scripts. Default: none.
        ``environment`` values may be CDK tokens (deploy-time values); every other
        field must be literal.
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
    delivery : str
        ``"inline"`` (the payload inside the script; over 16,384 characters is a
        synth error), ``"s3"`` (the payload is a CDK S3 asset, child
        ``OnStartPayload``/``OnCreatePayload``, published by ``cdk deploy``; the
        script is a small fetcher that checks its sha256) or ``"auto"`` (inline when
        it fits, S3 otherwise, with an info annotation saying which and why).
        Default: ``"auto"``. S3 delivery needs literal asset object keys (the
        default stack synthesizer); a notebook using it gets ``s3:GetObject`` on
        the object's ARN only.

    Raises
    ------
    BundleError
        Bad scripts, features or options (the message names the field and the fix).
    ValueError
        An invalid ``lifecycle_config_name``, or a CDK token where a literal is needed
        (a script's text, a feature other than ``environment`` values, a bundle option).

    Hooks over SageMaker's limit of 16,384 characters fail validation at synth
    time, with the costliest files named; each deploy-time value counts at its
    bound (``DeployValue.max_length``, 256 bytes unless set).
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
        delivery: str = DEFAULT_DELIVERY,
    ) -> None:
        problems = _bundle_token_problems(on_start=on_start, on_create=on_create, features=features)
        if lifecycle_config_name is not None:
            problems += [p for p in [_name_problem("lifecycle_config_name", lifecycle_config_name)] if p]
        problems += _literal_problems({
            "install_dir": (install_dir, (str,), "'/startup'"),
            "deadline_seconds": (deadline_seconds, (int,), "240 (seconds)"),
            "compression": (compression, (str,), "'xz' or 'gzip'"),
            "delivery": (delivery, (str,), "'auto', 'inline' or 's3'"),
        })
        problems += _delivery_problems(delivery)
        problems += _scripts_problems({"on_start": on_start, "on_create": on_create})
        if problems:
            _raise_all(_path(scope, id), "LifecycleConfig", problems)
        super().__init__(scope, id, physical_name=lifecycle_config_name)
        name = lifecycle_config_name if lifecycle_config_name is not None else generated_name(self)
        self._name = name
        self._on_start = on_start
        self._on_create = on_create
        self._features = features  # as given: environment values may be tokens
        self._options: Dict[str, Any] = {
            "install_dir": install_dir,
            "deadline_seconds": deadline_seconds,
            "compression": compression,
            "scripts_first": False,
            "delivery": delivery,
        }
        self._values: Dict[str, str] = {}
        self._assets: Dict[str, Tuple[str, s3_assets.Asset]] = {}
        self._told: set = set()
        self._contents: Dict[Tuple[int, str], Any] = {}
        self._bundle = self._build()

        self._resource = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "Resource",
            notebook_instance_lifecycle_config_name=name,
        )
        # In CloudFormation's own casing; there is an on-create hook only with on_create scripts (an
        # Aspect adds features, never on-create scripts). Written as they are now: nothing is asked of
        # Python at synth unless the inputs change after construction (an Aspect such as
        # NotebookGovernance), which switches to content produced at synth (see _render_at_synth).
        self._hooks = (("OnStart", "on-start"), ("OnCreate", "on-create")) if on_create is not None else (
            ("OnStart", "on-start"),)
        for key, hook in self._hooks:
            content = self._content(hook)
            if content is not None:
                self._resource.add_property_override(key, [{"Content": content}])
        self._at_synth = False
        # a hook over the limit fails validation at synth (as do hooks that grow over it later)
        if self._bundle.size_errors():
            self._render_at_synth()
        self._name_attr: Optional[str] = None

    def _render_at_synth(self) -> None:
        """From now on the hooks' content is produced at synth time, from the bundle as it is then, and
        checked against SageMaker's limit by a validation (once per construct)."""
        if self._at_synth:
            return
        self._at_synth = True
        for key, hook in self._hooks:
            self._resource.add_property_override(key, Lazy.uncached_any(_HookProducer(self, hook)))
        self.node.add_validation(_ContentSizeValidation(self))

    # -- rendering -------------------------------------------------------------------------------
    def _build(self) -> Bundle:
        """The bundle of the current inputs, tokens in ``environment`` swapped for placeholders."""
        features, values = _swap_tokens(self._features)
        try:
            bundle = _CACHE.get(self._on_start, self._on_create, features, **self._options)
        except BundleError as exc:
            raise BundleError(f"LifecycleConfig {self.node.path}: {exc}") from None
        self._values = values
        self._sync_assets(bundle)
        return bundle

    def _sync_assets(self, bundle: Bundle) -> None:
        """An S3 asset for each hook delivered through S3 (made again when its payload changed), and
        the info annotation of ``delivery="auto"``. Runs at construction and when an Aspect changes
        the inputs (construction time for the tree, so the asset can be added)."""
        if bundle.delivery == "inline":
            return
        for hook in bundle.hooks:
            way = bundle.delivery_of(hook)
            if bundle.delivery == "auto" and (hook, way) not in self._told:
                self._told.add((hook, way))
                # what Annotations.add_info records, in one request and without capturing a stack trace
                self.node.add_metadata(
                    _INFO, f"notebook-lifecycle: {bundle.delivery_reason(hook)}"
                )
            if way != "s3":
                continue
            sha = bundle.payload_sha256(hook)
            found = self._assets.get(hook)
            if found is not None and found[0] == sha:
                continue
            cid = _PAYLOAD_IDS[hook]
            if found is not None:
                # an Aspect changed the payload: the asset made before is replaced (CDK's asset manifest
                # keeps listing it, so `cdk deploy` still publishes it, unused)
                self.node.try_remove_child(cid)
            asset = s3_assets.Asset(self, cid, path=_payload_file(self, bundle, hook))
            key = asset.s3_object_key
            if Token.is_unresolved(key):
                raise ValueError(
                    f"LifecycleConfig {self.node.path}: delivery: the {hook} payload goes through S3, but this "
                    "stack's synthesizer gives the asset's object key only at deploy time, and the fetcher needs "
                    "it at synth time. Use the default stack synthesizer (DefaultStackSynthesizer, with "
                    "`cdk bootstrap`), or delivery='inline' with a smaller folder"
                )
            self._assets[hook] = (sha or "", asset)

    def _s3_part(self, part: Any, asset: s3_assets.Asset) -> Any:
        if isinstance(part, str):
            return part
        if isinstance(part, S3Slot):
            # a bucket name and a region hold no quote: they go into the script as they are
            return asset.s3_bucket_name if part == BUCKET else Stack.of(asset).region
        return Fn.base64(self._values[part.name])

    def _content(self, hook: str) -> Any:
        """What the template holds as the ``Content`` of ``hook``: the literal base64, or the
        ``Fn::Base64`` of ``Fn::Join`` around it (deploy-time values), or ``None`` (no such hook)."""
        bundle = self._bundle
        key = (id(bundle), hook)
        if key in self._contents:
            return self._contents[key]
        parts = bundle.content_parts(hook)
        content: Any
        if parts and bundle.delivery_of(hook) == "s3":
            asset = self._assets[hook][1]
            s3_parts = bundle.s3_content_parts(hook, key=asset.s3_object_key)
            content = Fn.base64(Fn.join("", [self._s3_part(p, asset) for p in s3_parts]))
        elif not parts:
            content = None
        elif len(parts) == 1:
            content = bundle.content(hook)
        else:
            content = Fn.base64(
                Fn.join("", [p if isinstance(p, str) else Fn.base64(self._values[p.name]) for p in parts])
            )
        self._contents = {k: v for k, v in self._contents.items() if k[0] == id(bundle)}
        self._contents[key] = content
        return content

    def _add_features(self, extra: Features, merge: Any) -> bool:
        """Used by NotebookGovernance: ``merge(current, extra)`` becomes the features. True when changed."""
        merged = merge(self._features, extra)
        if merged == self._features:
            return False
        self._features = merged
        self._bundle = self._build()
        self._render_at_synth()
        return True

    def _run_scripts_first(self) -> None:
        """Used by NotebookGovernance: the on-start scripts run before the feature steps."""
        if not self._options["scripts_first"]:
            self._options["scripts_first"] = True
            self._bundle = self._build()
            self._render_at_synth()

    # -- public surface ------------------------------------------------------------------------
    @property
    def bundle(self) -> Bundle:
        """The scripts as they are now: ``on_start_script``, ``size_report()``, ``iam_grants``, ...

        An Aspect that adds features (``NotebookGovernance``) replaces it; the template
        holds what it is at synth time.
        """
        return self._bundle

    @property
    def features(self) -> Optional[Features]:
        """The feature flags as they are now (with what an Aspect added), tokens as given."""
        return self._features

    @property
    def deploy_values(self) -> Dict[str, str]:
        """The deploy-time values of ``features.environment``: name to CDK token."""
        return dict(self._values)

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
    def delivery(self) -> str:
        """The ``delivery`` asked for: ``"auto"``, ``"inline"`` or ``"s3"`` (see :meth:`delivery_of`)."""
        return self._options["delivery"]

    def delivery_of(self, hook: str = "on-start") -> Optional[str]:
        """How ``hook`` reaches the instance now: ``"inline"``, ``"s3"``, or ``None`` (no such hook)."""
        return self._bundle.delivery_of(hook)

    @property
    def s3_hooks(self) -> Tuple[str, ...]:
        """The hooks whose payload is an S3 asset."""
        return tuple(h for h in self._bundle.hooks if self._bundle.delivery_of(h) == "s3")

    def payload_asset(self, hook: str = "on-start") -> Optional[s3_assets.Asset]:
        """The S3 asset holding the payload of ``hook`` (``None`` when it is delivered inline)."""
        if hook not in self.s3_hooks:
            return None
        return self._assets[hook][1]

    def payload_object_arn(self, hook: str = "on-start") -> str:
        """``arn:PARTITION:s3:::BUCKET/KEY`` of the payload object of ``hook``, as it is at synth time
        (a token: an Aspect may still change the payload)."""
        return Lazy.uncached_string(_ArnProducer(self, hook))

    def payload_object_shown(self, hook: str = "on-start") -> str:
        """The object's ARN as people read it (``${AWS::Partition}``, the bootstrap bucket, the key)."""
        asset = self._assets[hook][1]
        shown = Stack.of(self).resolve(asset.s3_bucket_name)
        if isinstance(shown, dict) and isinstance(shown.get("Fn::Sub"), str):
            shown = shown["Fn::Sub"]  # the bootstrap bucket: cdk-QUALIFIER-assets-${AWS::AccountId}-${AWS::Region}
        elif not isinstance(shown, str):
            shown = "<asset bucket>"
        return f"arn:${{AWS::Partition}}:s3:::{shown}/{asset.s3_object_key}"

    @property
    def iam_grants(self) -> Tuple[IamGrant, ...]:
        """What the enabled features need from the role of each notebook that uses this configuration."""
        return self._bundle.iam_grants


@jsii.implements(IAnyProducer)
class _HookProducer:
    """``OnStart``/``OnCreate`` of the template, made from the bundle as it is at synth time."""

    def __init__(self, config: LifecycleConfig, hook: str) -> None:
        self._config = config
        self._hook = hook

    def produce(self, context: IResolveContext) -> Any:
        content = self._config._content(self._hook)
        return None if content is None else [{"Content": content}]


@jsii.implements(IStringProducer)
class _ArnProducer:
    """The payload object's ARN of a hook, from the asset as it is at synth time."""

    def __init__(self, config: LifecycleConfig, hook: str) -> None:
        self._config = config
        self._hook = hook

    def produce(self, context: IResolveContext) -> Optional[str]:
        asset = self._config.payload_asset(self._hook)
        if asset is None:  # pragma: no cover - hooks only ever move from inline to S3
            raise ValueError(f"LifecycleConfig {self._config.node.path}: {self._hook} is no longer delivered through S3")
        return asset.bucket.arn_for_objects(asset.s3_object_key)


def _payload_file(scope: Construct, bundle: Bundle, hook: str) -> str:
    """The payload of ``hook`` as a file named by its sha256, in the cloud assembly (written once)."""
    stage = Stage.of(scope)
    outdir = stage.asset_outdir if stage is not None else tempfile.gettempdir()
    folder = os.path.join(outdir, PAYLOAD_DIR)
    os.makedirs(folder, exist_ok=True)
    ext = "xz" if bundle.compression == "xz" else "gz"
    path = os.path.join(folder, f"{bundle.payload_sha256(hook)}.tar.{ext}")
    if not os.path.isfile(path):
        payload = bundle.payload(hook) or b""
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".payload-")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


def _delivery_problems(delivery: Any) -> List[str]:
    if isinstance(delivery, str) and delivery not in DELIVERIES and not Token.is_unresolved(delivery):
        return [
            f"delivery: {delivery!r} is not a delivery; use one of {', '.join(repr(d) for d in DELIVERIES)} "
            "('auto', the default: inline when the script fits in 16,384 characters, S3 otherwise)"
        ]
    return []


@jsii.implements(IValidation)
class _ContentSizeValidation:
    """Reports lifecycle hooks over SageMaker's 16,384-character limit, naming the costliest files."""

    def __init__(self, config: LifecycleConfig) -> None:
        self._config = config

    def validate(self) -> List[str]:
        return list(self._config.bundle.size_errors())


# -- tokens ------------------------------------------------------------------------------------------


def _swap_tokens(features: Optional[Features]) -> Tuple[Optional[Features], Dict[str, str]]:
    """Each ``environment`` value that is an unresolved CDK token becomes a :class:`DeployValue`.

    Returns the features to bundle and ``{name: token}``. Features without tokens come back as they are.
    """
    if not isinstance(features, Features) or not features.environment:
        return features, {}
    values = {k: v for k, v in features.environment.items() if isinstance(v, str) and Token.is_unresolved(v)}
    if not values:
        return features, {}
    env = {k: (DeployValue(k) if k in values else v) for k, v in features.environment.items()}
    return dataclasses.replace(features, environment=env), values


_SCRIPT_CHECKS: Dict[str, List[str]] = {}
_TOKEN_FIX = "pass a literal value"


def _token_in_literal(field: str, value: Any, kind: str) -> Optional[str]:
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, str) and _NAME_SAFE.match(value)):
        return None  # literal without asking Node (a token's text always has other characters)
    if not Token.is_unresolved(value):
        return None
    shown = value if isinstance(value, str) else "a number token"
    return (
        f"{field}: {shown} is a deploy-time value (a CDK token), but it is written into the bundle at synth time; "
        f"deploy-time values (CDK tokens) are not supported here: pass a literal {kind}"
    )


def _script_token_problems(field: str, scripts: Any) -> List[str]:
    """A CDK token in a script's text would reach the instance as literal text: one problem per line."""
    if not isinstance(scripts, StartupScripts):
        return []
    key = f"{field}\0{scripts.fingerprint()}"
    found = _SCRIPT_CHECKS.get(key)
    if found is None:
        found = []
        for f in scripts.files:
            try:
                text = f.data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # binary: no token text in it
            if not Token.is_unresolved(text):
                continue
            for number, line in enumerate(text.split("\n"), start=1):
                if Token.is_unresolved(line):
                    found.append(
                        f"{field}: {f.path} line {number} holds a CDK token (a deploy-time value such as a bucket "
                        f"name): {line.strip()[:120]!r}. Scripts are packed at synth time, so it would reach the "
                        "instance as that literal text. Pass the value through "
                        "Features(environment={'NAME': value}) and read $NAME in the script"
                    )
        if len(_SCRIPT_CHECKS) > 256:
            _SCRIPT_CHECKS.clear()
        _SCRIPT_CHECKS[key] = found
    return list(found)


def _bundle_token_problems(*, on_start: Any, on_create: Any, features: Any) -> List[str]:
    """Every CDK token where the bundle needs a literal: scripts' text, features (but environment values).
    (Bundle options are checked by ``_validation._literal_problems``.)"""
    problems = _script_token_problems("on_start", on_start) + _script_token_problems("on_create", on_create)
    checks: List[Tuple[str, Any, str]] = []
    if isinstance(features, Features):
        checks += [(f"features.persist_dirs[{i}]", d, "folder name") for i, d in enumerate(features.persist_dirs)]
        for b in features.binaries:
            checks += [
                (f"features.binaries[{b.name}].name", b.name, "file name"),
                (f"features.binaries[{b.name}].url", b.url, "URL"),
            ]
    problems += [p for p in (_token_in_literal(*c) for c in checks) if p]
    return problems


def own_lifecycle_config(
    scope: Construct,
    *,
    on_start: Optional[StartupScripts],
    on_create: Optional[StartupScripts],
    features: Optional[Features],
    lifecycle_config_name: Optional[str],
    install_dir: Optional[str],
    deadline_seconds: Optional[int],
    compression: Optional[str],
    delivery: Optional[str],
) -> Optional["LifecycleConfig"]:
    """The ``LifecycleConfig`` (id ``LifecycleConfig``) that a notebook or a fleet makes for itself from its
    scripts and features, with the bundle options' defaults filled in; ``None`` when there is nothing to run."""
    if on_start is None and on_create is None and features is None:
        return None
    return LifecycleConfig(
        scope,
        "LifecycleConfig",
        on_start=on_start,
        on_create=on_create,
        features=features,
        lifecycle_config_name=lifecycle_config_name,
        install_dir=install_dir if install_dir is not None else "/startup",
        deadline_seconds=deadline_seconds if deadline_seconds is not None else DEFAULT_DEADLINE_SECONDS,
        compression=compression if compression is not None else "xz",
        delivery=delivery if delivery is not None else "auto",
    )
