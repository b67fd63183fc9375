"""Read bundles back: what the bundler emitted, as files and a run plan again.

A lifecycle script made by :class:`~notebook_lifecycle.bundle.Bundle` is a
small decoder with a heredoc that holds one line of text: the user's files, the
feature files, the run plan and the runner, compressed (xz: LZMA of
``records``, as base95; gzip: a gzipped tar, as base64; bundles made before
``records`` hold a tar as base85, and are read as well). This
module finds such scripts in

* the script text itself (``on-start.sh``),
* its base64 content (what CloudFormation and the SageMaker API hold),
* a CloudFormation template (JSON) with ``AWS::SageMaker::NotebookInstanceLifecycleConfig``
  resources, or the JSON the SageMaker API returns for a lifecycle configuration,

and unpacks them in memory. :func:`readable_template` turns a synthesized
template into one whose lifecycle scripts read as files (the public snapshot
helper, :func:`notebook_lifecycle.testing.readable_template`, builds on it).

A ``Content`` with deploy-time values (``Fn::Base64`` of ``Fn::Join``, each value
``Fn::Base64`` of an expression) is read with each value shown as the named
placeholder ``<deploy-time value NAME>``; :attr:`FoundBundle.deploy_values`
holds the expressions.

An S3 lifecycle script (``# notebook-lifecycle/s3 VERSION HOOK``, from
:mod:`notebook_lifecycle.delivery`) carries no payload: it is read as a
:class:`FoundBundle` with ``delivery == "s3"`` and :attr:`FoundBundle.s3` saying what
it fetches (bucket, region, key, sha256, size); its ``files`` and ``plan`` are empty
until :func:`with_payload` is given the object (checked against that sha256).

Pure standard library (plus the package's own pure-Python core); no CDK here.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Union

from .. import archive
from ..bundle import CONTENT_LIMIT, PLAN_PATH, RUNNER_PATH, VALUES_DIR
from ..deploy_values import DEFAULT_MAX_LENGTH, placeholder
from ..errors import BundleError
from ..scripts import RESERVED_DIR, PackedFile, Step

#: CloudFormation type of a notebook-instance lifecycle configuration.
LIFECYCLE_CONFIG_TYPE = "AWS::SageMaker::NotebookInstanceLifecycleConfig"

#: CloudFormation / API property name of each hook, in display order.
_HOOK_KEYS = (("OnStart", "on-start"), ("OnCreate", "on-create"))

# "# notebook-lifecycle VERSION" (before 0.1.0's leaner decoder: "... VERSION HOOK"; the hook is read from the exec line)
_HEADER_RE = re.compile(r"^# notebook-lifecycle (?P<version>[^\s/]+)(?: (?:on-start|on-create))?$", re.M)
_EXEC_RE = re.compile(
    r"^exec (?:/bin/bash )?(?P<dir>/\S*)/" + re.escape(RUNNER_PATH) + r" (?P<hook>on-start|on-create) (?P<deadline>\d+)$",
    re.M,
)
_VALUE_RE = re.compile(
    r"^echo '(?P<value>[^'\n]*)'>(?P<dir>/\S*)/" + re.escape(VALUES_DIR) + r"/(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.b64$",
    re.M,
)
_S3_HEADER_RE = re.compile(r"^# notebook-lifecycle/s3 (?P<version>\S+) (?P<hook>on-start|on-create)$", re.M)
_S3_FETCH_RE = re.compile(
    r"^umask 022;rm -rf (?P<dir>/\S*);timeout -sKILL \d+ python3 -c '[^'\n]*' (?P<hook>on-start|on-create) (?P=dir) "
    r'"\$b" (?P<key>\S+) (?P<sha256>[0-9a-f]{64}) (?P<size>\d+) (?P<codec>xz|gzip) "\$r" (?P<fetch>\d+) <<',
    re.M,
)
_S3_RUN_RE = re.compile(
    r"^f=(?P<dir>/\S*)/" + re.escape(RUNNER_PATH) + r";\[ -f \$f \]&&exec /bin/bash \$f (?P<hook>on-start|on-create) "
    r"\$\(\(SECONDS<(?P<deadline>\d+)\?",
    re.M,
)
_S3_VAR_RE = re.compile(r"^(?P<var>[br])='(?P<value>[^'\n]*)'$", re.M)
#: How the bucket and the region read where a template has deploy-time expressions for them.
ASSET_BUCKET = "<deploy-time value bucket>"
ASSET_REGION = "<deploy-time value region>"
_PLACEHOLDER_RE = re.compile(r"<deploy-time value ([A-Za-z_][A-Za-z0-9_]*)>")
_HEREDOC_START = "<<'P'"
_HEREDOC_END = "P"
_PLAN_MODES = ("fg", "bg")
_PLAN_HOWS = ("exec", "bash")

Data = Union[str, bytes]


@dataclass(frozen=True)
class PlanEntry:
    """One line of a bundle's run plan (``.notebook-lifecycle/plan``).

    ``mode`` is ``"fg"`` (waited for) or ``"bg"`` (started detached); ``how`` is
    ``"exec"`` (run directly, it has a ``#!`` line) or ``"bash"`` (run by ``/bin/bash``).
    """

    name: str
    user: str
    mode: str
    how: str
    path: str

    @property
    def background(self) -> bool:
        return self.mode == "bg"

    @property
    def step(self) -> Step:
        """The same entry as a :class:`~notebook_lifecycle.scripts.Step` (compare with ``Bundle.plan()``)."""
        return Step(name=self.name, path=self.path, user=self.user, background=self.background, shebang=self.how == "exec")

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "user": self.user, "mode": self.mode, "how": self.how, "path": self.path}


@dataclass(frozen=True)
class S3Fetch:
    """What an S3 lifecycle script fetches.

    :ivar bucket: the bucket's name, or ``<deploy-time value bucket>`` (see ``bucket_expression``).
    :ivar region: the region ('' when the fetcher finds it on the instance), or ``<deploy-time value region>``.
    :ivar key: the object's key.
    :ivar sha256: hex sha256 the object must have (nothing else is unpacked).
    :ivar size: the object's size in bytes.
    :ivar fetch_seconds: time the fetch may take.
    :ivar bucket_expression: the CloudFormation expression of the bucket (read from a template), else None.
    """

    bucket: str
    region: str
    key: str
    sha256: str
    size: int
    fetch_seconds: int
    bucket_expression: Any = None
    region_expression: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bucket": self.bucket, "region": self.region, "key": self.key, "sha256": self.sha256, "size": self.size,
            "fetch_seconds": self.fetch_seconds,
        }
        if self.bucket_expression is not None:
            out["bucket_expression"] = self.bucket_expression
        if self.region_expression is not None:
            out["region_expression"] = self.region_expression
        return out


@dataclass(frozen=True)
class FoundBundle:
    """One lifecycle script made by notebook-lifecycle, unpacked.

    :ivar label: where it was found: the hook for a lone script, ``<LogicalId>/<hook>``
        in a CloudFormation template.
    :ivar hook: ``"on-start"`` or ``"on-create"``, as the script says.
    :ivar install_dir: folder the script unpacks into on the instance.
    :ivar deadline_seconds: time the foreground steps may take together.
    :ivar version: notebook-lifecycle version that wrote the script.
    :ivar compression: codec of the payload (``"xz"`` or ``"gzip"``).
    :ivar script: the script text.
    :ivar content_length: characters of the script's base64: what counts against the 16,384 limit
        (a deploy-time value that is a placeholder counts at 256 bytes).
    :ivar files: every file of the payload, sorted by path.
    :ivar plan: the run plan, in order.
    :ivar deploy_values: each deploy-time value, by name: its CloudFormation expression (read from a
        template), its placeholder text, or its value (read from a deployed script).
    """

    label: str
    hook: str
    install_dir: str
    deadline_seconds: int
    version: str
    compression: str
    script: str
    content_length: int
    files: tuple[PackedFile, ...]
    plan: tuple[PlanEntry, ...]
    deploy_values: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: for an S3 lifecycle script: what it fetches (``files`` and ``plan`` are empty until :func:`with_payload`)
    s3: Optional[S3Fetch] = None

    @property
    def delivery(self) -> str:
        """``"inline"`` (the payload is in the script) or ``"s3"`` (the script fetches it)."""
        return "s3" if self.s3 is not None else "inline"

    @property
    def user_files(self) -> tuple[PackedFile, ...]:
        """The files outside ``.notebook-lifecycle/``: what the user's folder held."""
        return tuple(f for f in self.files if not _is_reserved(f.path))

    @property
    def limit(self) -> int:
        return CONTENT_LIMIT

    @property
    def headroom(self) -> int:
        """Characters left under SageMaker's limit (negative when over)."""
        return CONTENT_LIMIT - self.content_length

    @property
    def content(self) -> str:
        """The base64 content, as CloudFormation and the API hold it (placeholders as text)."""
        return base64.b64encode(self.script.encode()).decode()

    def file(self, path: str) -> PackedFile:
        """The packed file at ``path`` (relative to the install dir)."""
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(f"{self.label}: no file {path!r} in the bundle")

    def text(self, path: str) -> str:
        """The text (UTF-8) of the packed file at ``path``."""
        return self.file(path).data.decode("utf-8")

    def readable(self) -> dict[str, Any]:
        """A JSON-able, diff-friendly view: files as text, the plan, the settings.

        The runner's text is replaced by its size and sha256 and the plan file
        appears only as ``plan``, so snapshots change where the user's input did.
        The version is left out: a release alone does not change a snapshot.
        """
        view: dict[str, Any] = {
            "hook": self.hook,
            "install_dir": self.install_dir,
            "deadline_seconds": self.deadline_seconds,
            "compression": self.compression,
            "content_length": self.content_length,
            "plan": [e.as_dict() for e in self.plan],
            "executable": [f.path for f in self.files if f.executable and f.path != RUNNER_PATH],
            "files": {f.path: _readable_file(f) for f in self.files if f.path != PLAN_PATH},
        }
        if self.deploy_values:
            view["deploy_time_values"] = dict(self.deploy_values)
        if self.s3 is not None:
            view["delivery"] = "s3"
            view["s3"] = self.s3.as_dict()
        return view


# -- entry points ----------------------------------------------------------------------------


def read_bundles(data: Data, *, label: str = "") -> list[FoundBundle]:
    """Every bundle in ``data``: a lifecycle script, its base64 content, or a JSON template.

    A CloudFormation template gives one bundle per ``OnStart``/``OnCreate`` entry of each
    ``AWS::SageMaker::NotebookInstanceLifecycleConfig``, labelled ``<LogicalId>/<hook>``;
    scripts not made by notebook-lifecycle are skipped. ``label`` names a lone script
    (default: its hook).

    :raises BundleError: one line saying what is wrong, when nothing is found or
        a bundle is malformed.
    """
    text = _as_text(data, label).lstrip("\ufeff")
    start = text.lstrip()
    if not start:
        raise BundleError(_at(label, "empty input; give a lifecycle script, its base64 or a template"))
    if start.startswith(("{", "[")):
        return _from_json(text, label)
    if text.startswith("#!"):  # as is: a trailing newline counts in the content length
        return [read_script(text, label=label)]
    return [read_script(_decode_content(text, label), label=label)]


def read_script(script: str, *, label: str = "", values: Optional[Mapping[str, Any]] = None) -> FoundBundle:
    """Unpack one lifecycle script made by notebook-lifecycle.

    :param values: what to report for each deploy-time value, by name (default: its
        placeholder text, or the decoded value when the script holds a real one).
    :raises BundleError: when the script is not one of ours or is damaged.
    """
    where = label
    if _S3_HEADER_RE.search(script) is not None:
        return _read_s3_script(script, label, values or {})
    header = _HEADER_RE.search(script)
    if header is None:
        raise BundleError(_at(where, "not a notebook-lifecycle script (no '# notebook-lifecycle VERSION' line)"))
    tail = _EXEC_RE.search(script)
    if tail is None:
        raise BundleError(_at(where, "the script is damaged: its last line does not exec the runner"))
    hook = tail["hook"]
    where = label or hook
    payload = _payload(script, where)
    try:
        files = tuple(sorted(archive.unpack_any(payload), key=lambda f: f.path))
    except BundleError as exc:
        raise BundleError(_at(where, f"the script is damaged: {exc}")) from None
    return FoundBundle(
        label=where,
        hook=hook,
        install_dir=tail["dir"],
        deadline_seconds=int(tail["deadline"]),
        version=header["version"],
        compression=archive.detect_codec(payload),
        script=script,
        content_length=len(base64.b64encode(_at_bound(script).encode())),
        files=files,
        plan=_plan(files, where),
        deploy_values=_values(script, values or {}),
    )


def _read_s3_script(script: str, label: str, values: Mapping[str, Any]) -> FoundBundle:
    header = _S3_HEADER_RE.search(script)
    assert header is not None
    where = label or header["hook"]
    fetch, run = _S3_FETCH_RE.search(script), _S3_RUN_RE.search(script)
    if fetch is None or run is None:
        raise BundleError(_at(where, "the S3 lifecycle script is damaged: no fetch line, or no runner line"))
    vars_ = {m["var"]: m["value"] for m in _S3_VAR_RE.finditer(script)}
    shown = dict(values)
    bucket_expr, region_expr = shown.pop("@bucket", None), shown.pop("@region", None)
    info = S3Fetch(
        bucket=vars_.get("b", ""), region=vars_.get("r", ""), key=fetch["key"], sha256=fetch["sha256"],
        size=int(fetch["size"]), fetch_seconds=int(fetch["fetch"]), bucket_expression=bucket_expr,
        region_expression=region_expr,
    )
    bounded = script.replace(ASSET_BUCKET, "b" * 63).replace(ASSET_REGION, "r" * 20)
    return FoundBundle(
        label=where,
        hook=fetch["hook"],
        install_dir=fetch["dir"],
        deadline_seconds=int(run["deadline"]),
        version=header["version"],
        compression=fetch["codec"],
        script=script,
        content_length=len(base64.b64encode(_at_bound(bounded).encode())),
        files=(),
        plan=(),
        deploy_values=_values(script, shown),
        s3=info,
    )


def with_payload(found: FoundBundle, payload: bytes) -> FoundBundle:
    """``found`` (an S3 lifecycle script) with the files and plan of ``payload``, the object it fetches.

    :raises BundleError: when ``found`` is not an S3 script, or the payload's size or sha256 is not
        the one the script carries (as the fetcher on the instance, nothing else is unpacked).
    """
    if found.s3 is None:
        raise BundleError(_at(found.label, "not an S3 lifecycle script: its payload is inline"))
    if len(payload) != found.s3.size or hashlib.sha256(payload).hexdigest() != found.s3.sha256:
        raise BundleError(_at(
            found.label,
            f"the payload is not the object the script fetches ({len(payload)} bytes, sha256 "
            f"{hashlib.sha256(payload).hexdigest()}; the script wants {found.s3.size} bytes, sha256 {found.s3.sha256})",
        ))
    try:
        files = tuple(sorted(archive.unpack(payload), key=lambda f: f.path))
    except BundleError as exc:
        raise BundleError(_at(found.label, f"the payload is damaged: {exc}")) from None
    return dataclasses.replace(found, files=files, plan=_plan(files, found.label))


def readable_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``template`` in which each lifecycle script made by notebook-lifecycle reads as files.

    Each ``Content`` of an ``OnStart``/``OnCreate`` entry is replaced by
    :meth:`FoundBundle.readable` (files as text, binaries and the runner as
    size and sha256, the plan, install dir, deadline, content length).
    Other contents (expressions, scripts not made by notebook-lifecycle) are kept as they are.

    :raises BundleError: when a script made by notebook-lifecycle is damaged.
    """
    out = copy.deepcopy(dict(template))
    for logical_id, hook, entry in _lifecycle_entries(out):
        found = _content_script(entry.get("Content"), f"{logical_id}/{hook}")
        if found is not None and _is_ours(found[0]):
            entry["Content"] = read_script(found[0], label=f"{logical_id}/{hook}", values=found[1]).readable()
    return out


def _at(where: str, message: str) -> str:
    """``where: message``, or the message alone when there is no ``where``."""
    return f"{where}: {message}" if where else message


# -- input forms -----------------------------------------------------------------------------


def _as_text(data: Data, where: str) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise BundleError(_at(where, "not text (not UTF-8); give a lifecycle script, its base64 or a JSON template")) from None
    raise BundleError(_at(where, f"expected str or bytes, got {type(data).__name__}"))


def _b64_text(text: str) -> Optional[str]:
    """Base64 (whitespace allowed, as `base64` wraps it) of UTF-8 text, decoded; None if it is not."""
    try:
        return base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _decode_content(text: str, where: str) -> str:
    """Base64 content of a lone script, decoded."""
    script = _b64_text(text)
    if script is None:
        raise BundleError(_at(where, _unknown_form(text)))
    if not script.startswith("#!"):
        raise BundleError(_at(where, "the base64 decodes to something other than a script (no '#!' line)"))
    return script


def _unknown_form(text: str) -> str:
    if re.search(r"^(AWSTemplateFormatVersion|Resources)\s*:", text, re.M):
        return "a YAML template; give the JSON template (cdk.out/<Stack>.template.json)"
    return "neither a lifecycle script, nor its base64 content, nor a JSON CloudFormation template"


def _from_json(text: str, label: str) -> list[FoundBundle]:
    where = label
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(_at(where, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")) from None
    if not isinstance(doc, dict):
        raise BundleError(_at(where, "JSON, but not a CloudFormation template (expected an object)"))
    if "Resources" in doc:
        found = list(_from_template(doc))
        if not found:
            raise BundleError(_at(where, f"the template has no {LIFECYCLE_CONFIG_TYPE} made by notebook-lifecycle"))
        return found
    if any(key in doc for key, _ in _HOOK_KEYS):
        # the SageMaker API's DescribeNotebookInstanceLifecycleConfig answer
        name = label or str(doc.get("NotebookInstanceLifecycleConfigName") or "lifecycle-config")
        found = list(_from_hooks(name, doc))
        if not found:
            raise BundleError(_at(where, "the lifecycle configuration holds no script made by notebook-lifecycle"))
        return found
    raise BundleError(_at(where, "JSON, but neither a CloudFormation template (no 'Resources') nor a lifecycle configuration"))


def _from_template(template: Mapping[str, Any]) -> Iterator[FoundBundle]:
    for logical_id, hook, entry in _lifecycle_entries(template):
        where = f"{logical_id}/{hook}"
        found = _content_script(entry.get("Content"), where)
        if found is not None and _is_ours(found[0]):
            yield read_script(found[0], label=where, values=found[1])


def _from_hooks(name: str, config: Mapping[str, Any]) -> Iterator[FoundBundle]:
    for key, hook in _HOOK_KEYS:
        for suffix, entry in _entries(config.get(key)):
            where = f"{name}/{hook}{suffix}"
            found = _content_script(entry.get("Content"), where)
            if found is not None and _is_ours(found[0]):
                yield read_script(found[0], label=where, values=found[1])


def _lifecycle_entries(template: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, hook label, the mutable {"Content": ...} entry) of every lifecycle config."""
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return
    for logical_id in sorted(resources):
        resource = resources[logical_id]
        if not isinstance(resource, dict) or resource.get("Type") != LIFECYCLE_CONFIG_TYPE:
            continue
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        for key, hook in _HOOK_KEYS:
            for suffix, entry in _entries(props.get(key)):
                yield logical_id, f"{hook}{suffix}", entry


def _entries(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """The {"Content": ...} entries of an OnStart/OnCreate list; a suffix tells several apart."""
    if not isinstance(value, list):
        return
    items = [v for v in value if isinstance(v, dict)]
    for i, item in enumerate(items):
        yield (f"[{i}]" if len(items) > 1 else ""), item


def _content_script(content: Any, where: str) -> Optional[tuple[str, dict[str, Any]]]:
    """The script text of a Content value, and the expression of each deploy-time value in it.

    Understood: a base64 string, ``{"Fn::Base64": text}``, and ``{"Fn::Base64": {"Fn::Join": ["", [...]]}}``
    whose parts are text and ``{"Fn::Base64": <expression>}`` (each such part becomes the placeholder
    of the value that the text after it names). None for other expressions.
    """
    if isinstance(content, str):
        script = _b64_text(content)
        if script is None:
            raise BundleError(_at(where, "Content is not base64 of UTF-8 text"))
        return script, {}
    if not (isinstance(content, dict) and set(content) == {"Fn::Base64"}):
        return None
    inner = content["Fn::Base64"]
    if isinstance(inner, str):
        return inner, {}
    join = inner.get("Fn::Join") if isinstance(inner, dict) and len(inner) == 1 else None
    if not (isinstance(join, list) and len(join) == 2 and join[0] == "" and isinstance(join[1], list)):
        return None
    parts = join[1]
    text: list[str] = []
    exprs: dict[str, Any] = {}
    for i, part in enumerate(parts):
        if isinstance(part, str):
            text.append(part)
            continue
        after = parts[i + 1] if i + 1 < len(parts) and isinstance(parts[i + 1], str) else ""
        before = text[-1] if text else ""
        if before.endswith(("\nb='", "\nr='")) and after.startswith("'\n"):  # an S3 script's bucket / region
            slot = "@bucket" if before.endswith("b='") else "@region"
            text.append(ASSET_BUCKET if slot == "@bucket" else ASSET_REGION)
            exprs[slot] = part
            continue
        name = re.match(r"'>/\S*/" + re.escape(VALUES_DIR) + r"/([A-Za-z_][A-Za-z0-9_]*)\.b64\n", after)
        if not (isinstance(part, dict) and set(part) == {"Fn::Base64"}) or name is None:
            return None  # not a deploy-time value slot of ours
        text.append(placeholder(name.group(1)))
        exprs[name.group(1)] = part["Fn::Base64"]
    return "".join(text), exprs


def _at_bound(script: str) -> str:
    """The script with each placeholder as long as a value at the default bound (256 bytes, as base64)."""
    return _PLACEHOLDER_RE.sub("A" * (4 * -(-DEFAULT_MAX_LENGTH // 3)), script)


def _values(script: str, given: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in _VALUE_RE.finditer(script):
        name, value = m["name"], m["value"]
        if name in given:
            out[name] = given[name]
        elif _PLACEHOLDER_RE.fullmatch(value):
            out[name] = value
        else:
            decoded = _b64_text(value) if value else ""
            out[name] = decoded if decoded is not None else value
    return out


def _is_ours(script: str) -> bool:
    return _HEADER_RE.search(script) is not None or _S3_HEADER_RE.search(script) is not None


# -- the script's parts ----------------------------------------------------------------------


def _payload(script: str, where: str) -> bytes:
    lines = script.split("\n")
    start = next((i for i, line in enumerate(lines) if _HEREDOC_START in line), None)
    if start is None:
        raise BundleError(_at(where, f"the script is damaged: no payload (no {_HEREDOC_START} line)"))
    try:
        end = lines.index(_HEREDOC_END, start + 1)
    except ValueError:
        raise BundleError(_at(where, "the script is damaged: the payload has no closing 'P' line")) from None
    body = "".join(lines[start + 1 : end])
    try:
        if "|tar " not in lines[start]:
            # today's xz bundles: base95 of LZMA'd records (since 0.1.0's leaner decoder with the writer
            # before them, which archive.unpack_any leaves aside), decoded by python3 (bundle._PY_DECODE).
            # The length the decoder carries is not needed: LZMA's first byte is never zero.
            return archive.base95_decode(body)
        # gzip bundles, and xz bundles made before records: a tar, as base64 (gzip) or base85 (xz)
        return archive.text_decode(body, "xz" if "b85decode" in lines[start] else "gzip")
    except BundleError as exc:
        raise BundleError(_at(where, f"the script is damaged: {exc}")) from None


def _plan(files: tuple[PackedFile, ...], where: str) -> tuple[PlanEntry, ...]:
    by_path = {f.path: f for f in files}
    plan_file = by_path.get(PLAN_PATH)
    if plan_file is None:
        raise BundleError(_at(where, f"the payload has no {PLAN_PATH}"))
    entries = []
    for number, line in enumerate(plan_file.data.decode("utf-8", "replace").splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) == 4:  # no PATH: the NAME is the path (since 0.1.0's leaner plan)
            fields.append(fields[0])
        if len(fields) != 5 or fields[2] not in _PLAN_MODES or fields[3] not in _PLAN_HOWS:
            raise BundleError(_at(where, f"{PLAN_PATH} line {number} is not NAME, USER, fg|bg, exec|bash[, PATH]: {line!r}"))
        entry = PlanEntry(*fields)
        if entry.path not in by_path:
            raise BundleError(_at(where, f"{PLAN_PATH} line {number} runs {entry.path!r}, which is not in the payload"))
        entries.append(entry)
    return tuple(entries)


def _is_reserved(path: str) -> bool:
    return path == RESERVED_DIR or path.startswith(RESERVED_DIR + "/")


def _readable_file(f: PackedFile) -> str:
    digest = hashlib.sha256(f.data).hexdigest()
    if f.path == RUNNER_PATH:
        return f"<runner {len(f.data)} bytes sha256 {digest}>"
    if b"\0" not in f.data:
        try:
            return f.data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return f"<binary {len(f.data)} bytes sha256 {digest}>"
