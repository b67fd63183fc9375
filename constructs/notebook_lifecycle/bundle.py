"""The bundle: startup scripts and features become one self-unpacking lifecycle script per hook.

Shape of an emitted script (the *decoder*, a few hundred bytes)::

    #!/bin/bash
    # notebook-lifecycle 0.1.0
    ...write the files of the payload text below into the install dir...
    exec /startup/.notebook-lifecycle/run.sh on-start 240

The payload holds the user's files, the feature files, the run plan and the
runner itself (shipped minified), so the runner costs compressed bytes only. For
the default ``xz`` codec it is LZMA of ``archive.inline_records`` (the writer, then the records), written as base95 and
unpacked by the decoder's own python3; for ``gzip``, a deterministic gzipped tar as
base64, unpacked by ``tar``. The S3 object (:meth:`Bundle.payload`) is always the
tarball (``archive.pack``), which the S3 fetcher unpacks with ``tar``.

Deploy-time values (:class:`~notebook_lifecycle.deploy_values.DeployValue` in
``Features(environment=...)``) cannot be in the payload: it is compressed at
synth time. Each one gets a line of its own after the payload,
``echo '<base64 of the value>'>.../features/NAME.b64``, whose base64 the CDK
constructs fill in at deploy time (``Fn::Base64``); :meth:`Bundle.content_parts`
gives the script as literal text around those slots. A bundle without deploy-time
values renders exactly as before.

Delivery (``delivery=``). ``"inline"`` puts the payload in the script, as above;
``"s3"`` keeps it as an S3 object and the script is the small fetcher of
:mod:`notebook_lifecycle.delivery` (:meth:`Bundle.s3_content_parts`; the CDK
constructs publish :meth:`Bundle.payload` as an asset); ``"auto"`` (the default of
the constructs and the CLI; ``Bundle`` itself defaults to ``"inline"``) is inline when the inline script fits SageMaker's 16,384 characters, S3 otherwise
(:meth:`Bundle.delivery_of` says which, :meth:`Bundle.delivery_reason` why).

Rendering (tar, compression, the script) happens on first use of a script, a
content or a size, not in the constructor, which checks every input: a bundle
that nobody reads costs no compression.

Pure Python; no CDK here.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Optional, Sequence, Union

from . import archive
from ._version import __version__
from .deploy_values import DeployValue, placeholder
from .errors import BundleError
from .scripts import RESERVED_DIR, PackedFile, StartupScripts, Step
from .shipped import shipped_file
from .size_report import FileCost, HookSize, SizeReport

if TYPE_CHECKING:  # pragma: no cover
    from .delivery import S3Slot
    from .features import Features, IamGrant

__all__ = [
    "Bundle", "HookSize", "SizeReport", "FileCost", "CONTENT_LIMIT", "MAX_DEADLINE_SECONDS", "DeployValue",
]

#: SageMaker's limit on a lifecycle hook's ``Content``: characters of the base64 string.
CONTENT_LIMIT = 16384
#: The platform kills a hook after 300 s; the foreground deadline must leave a margin.
MAX_DEADLINE_SECONDS = 280
DEFAULT_DEADLINE_SECONDS = 240

PLAN_PATH = f"{RESERVED_DIR}/plan"
RUNNER_PATH = f"{RESERVED_DIR}/run.sh"
#: Where the lifecycle script writes the base64 of deploy-time value NAME: ``<VALUES_DIR>/NAME.b64``.
VALUES_DIR = f"{RESERVED_DIR}/features"

# install_dir is removed and made again as root at every start, so it must be a folder that nothing
# else owns. The rule allows, not denies: exactly one name directly under "/", of letters, digits, '.',
# '_' and '-' (starting with a letter or digit), that no Linux system (FHS and what distributions add)
# and no SageMaker platform package uses at the top level. /opt/ml, /opt/aws, /usr/local/x,
# /home/ec2-user/x, /var/x... all have two or more names and are refused. "-on-create" is appended for
# the on-create hook, which keeps it a new name.
_INSTALL_DIR_RE = re.compile(r"/[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TOP_LEVEL_TAKEN = frozenset({
    "afs", "bin", "boot", "cdrom", "dev", "efi", "etc", "home", "lib", "lib32", "lib64", "libx32", "local",
    "lost+found", "media", "mnt", "net", "opt", "proc", "root", "run", "sbin", "selinux", "snap", "srv", "swap",
    "sys", "tmp", "usr", "var", "sagemaker", "ec2-user", "aws", "ml", "conda", "anaconda3", "nix", "workspace",
})
_HOOKS = ("on-start", "on-create")

# The xz decoder: python3 reads the base95 line (archive.base95_encode) as one number, restores the
# LZMA bytes (@LEN@ of them), decompresses, splits at the first NUL and runs what comes before it,
# archive.WRITER, with d = the rest, archive.records: WRITER writes each file below the current
# directory, the fresh install dir (see archive.py). Inside bash's single quotes: no ' here.
# unbundle/bundles.py reads this shape: keep them in step.
_PY_DECODE = """python3 -c 'import lzma
n=0
for c in input():n=n*95+ord(c)-32
c,d=lzma.decompress(n.to_bytes(@LEN@,"big")).split(b"\\0",1)
exec(c)'"""


def _runner(steps: Sequence[Step] = ()) -> bytes:
    """The runner (minified) for a plan of ``steps``: without the code that no step of it needs
    (run.sh's ``bg`` block when no step runs in the background, ``wide`` when every name is ASCII,
    ``bash`` when every step has a ``#!`` line, ``feat``, the facts only features rely on, when no step
    is a feature). No steps: the whole runner."""
    without = []
    if steps and not any(s.background for s in steps):
        without.append("bg")
    if steps and all(s.name.isascii() for s in steps):
        without.append("wide")
    if steps and all(s.shebang for s in steps):
        without.append("bash")
    if steps and not any(s.path.startswith(f"{VALUES_DIR}/") for s in steps):
        without.append("feat")
    return shipped_file("run.sh", tuple(without))


_COMPRESSED: dict[tuple[str, str], bytes] = {}


def _compress_cached(tar: bytes, codec: str) -> bytes:
    """Compression is the costly part of a build; equal inputs are compressed once per process."""
    key = (hashlib.sha256(tar).hexdigest(), codec)
    if key not in _COMPRESSED:
        if len(_COMPRESSED) >= 256:
            _COMPRESSED.clear()
        _COMPRESSED[key] = archive.compress(tar, codec)
    return _COMPRESSED[key]


def _b64len(n: int) -> int:
    return 4 * math.ceil(n / 3)


@dataclass(frozen=True)
class _Hook:
    """A hook's inputs, checked; rendered on first use."""

    name: str
    install_dir: str
    files: tuple[PackedFile, ...]
    steps: tuple[Step, ...]
    user_files: tuple[PackedFile, ...]
    values: tuple[DeployValue, ...]


@dataclass(frozen=True)
class _Rendered:
    """A rendered hook: the script as literal text around deploy-time value slots."""

    parts: tuple[Union[str, DeployValue], ...]  # str, then (value, str) pairs
    decoder_len: int
    #: what the inline script carries (as text): xz, LZMA of archive.inline_records; gzip, the gzipped tar
    payload: bytes = b""

    @property
    def values(self) -> tuple[DeployValue, ...]:
        return tuple(p for p in self.parts if isinstance(p, DeployValue))

    def join(self, fill: Mapping[str, str]) -> str:
        return "".join(p if isinstance(p, str) else fill[p.name] for p in self.parts)

    @property
    def script(self) -> str:
        """The script, with each deploy-time value shown as ``<deploy-time value NAME>``."""
        return "".join(p if isinstance(p, str) else placeholder(p.name) for p in self.parts)

    def bound_script(self) -> str:
        """The script with every value at its bound (``max_length`` bytes, as base64)."""
        return "".join(p if isinstance(p, str) else "A" * _b64len(p.max_length) for p in self.parts)

    @property
    def content(self) -> Optional[str]:
        """Base64 of the script; None when the script has deploy-time values."""
        if len(self.parts) != 1:
            return None
        return base64.b64encode(self.parts[0].encode()).decode()  # type: ignore[union-attr]

    @property
    def content_length(self) -> int:
        """Characters of the content (deploy-time values at their bound)."""
        return _b64len(len(self.bound_script().encode()))


class Bundle:
    """Startup scripts (and features) rendered as lifecycle-configuration scripts.

    :param on_start: scripts to run on every start (and on creation, after on-create).
    :param on_create: scripts to run once, when the instance is created.
    :param features: feature flags (:class:`~notebook_lifecycle.features.Features`); their
        steps run before the on-start scripts.
    :param install_dir: root-owned folder the on-start bundle unpacks into (it is
        removed and made again at every start): one new name directly under ``/``
        that no system or platform package uses (``/startup``, ``/opt-startup``; never
        ``/opt/...``). The on-create bundle uses ``<install_dir>-on-create``.
    :param deadline_seconds: time the foreground steps of a hook may take together
        (1 to 280; the platform kills a hook after 300 s).
    :param compression: ``"xz"`` (default, densest; decoded by ``xz`` or the system
        ``python3``) or ``"gzip"`` (needs only ``gzip``).
    :param check_size: raise :class:`BundleError` when a hook exceeds 16,384
        characters (rendering the bundle at once). Constructs pass ``False`` and
        report it as a validation error.
    :param scripts_first: run the on-start scripts before the feature steps
        (default: the features first). ``NotebookGovernance`` uses it to run a
        notebook's previous on-start script first.
    :param delivery: ``"inline"`` (default here: the payload in the script; over 16,384
        characters is an error), ``"s3"`` (the payload is an S3 object, the script a fetcher
        from :meth:`s3_content_parts`) or ``"auto"`` (inline when it fits, S3 otherwise; the
        default of the constructs and the CLI, which publish the payload). The size check
        applies to inline hooks.
    :raises BundleError: on any bad input, naming the field and the fix.
    """

    def __init__(
        self,
        on_start: Optional[StartupScripts] = None,
        on_create: Optional[StartupScripts] = None,
        features: Optional["Features"] = None,
        *,
        install_dir: str = "/startup",
        deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
        compression: str = "xz",
        check_size: bool = True,
        scripts_first: bool = False,
        delivery: str = "inline",
    ) -> None:
        from .delivery import check_delivery

        self.delivery = check_delivery(delivery)
        for fname, value in (("on_start", on_start), ("on_create", on_create)):
            if value is not None and not isinstance(value, StartupScripts):
                raise BundleError(
                    f"{fname}: expected StartupScripts (for example StartupScripts.from_directory(...)), "
                    f"got {type(value).__name__}; pass StartupScripts.from_directory('DIR')"
                )
        if features is not None and not hasattr(features, "parts"):
            raise BundleError(f"features: expected Features(...), got {type(features).__name__}; pass Features(...)")
        self.install_dir = _check_install_dir(install_dir)
        self.deadline_seconds = _check_deadline(deadline_seconds)
        if compression not in archive.CODECS:
            raise BundleError(f"compression: {compression!r} is not supported; use one of {', '.join(archive.CODECS)}")
        self.compression = compression
        self.on_start = on_start
        self.on_create = on_create
        self.features = features
        parts = tuple(features.parts()) if features is not None else ()
        feature_files = tuple(f for p in parts for f in p.files)
        feature_steps = tuple(s for p in parts for s in p.steps)
        self._parts = parts
        if on_start is None and on_create is None and not feature_steps:
            raise BundleError("nothing to run: give on_start or on_create scripts, or enable a feature")

        values = tuple(
            v for v in (features.environment.values() if features is not None else ()) if isinstance(v, DeployValue)
        )
        start_steps = feature_steps + (on_start.steps if on_start else ())
        if scripts_first:
            start_steps = (on_start.steps if on_start else ()) + feature_steps
        self._hooks: dict[str, _Hook] = {}
        self._rendered: dict[str, _Rendered] = {}
        if on_start is not None or feature_steps:
            self._hooks["on-start"] = self._prepare(
                "on-start", self.install_dir, on_start.files if on_start else (), feature_files, start_steps, values
            )
        if on_create is not None:
            self._hooks["on-create"] = self._prepare(
                "on-create", self.install_dir + "-on-create", on_create.files, (), on_create.steps, ()
            )
        if check_size:
            errors = self.size_errors()
            if errors:
                raise BundleError(errors[0])

    # -- public accessors ------------------------------------------------------------------
    @property
    def on_start_script(self) -> Optional[str]:
        """The on-start bash script, byte-for-byte deterministic (``None`` when there is none)."""
        return self.script("on-start")

    @property
    def on_start_content(self) -> Optional[str]:
        """Base64 of :attr:`on_start_script`: exactly what CloudFormation and the API receive."""
        return self.content("on-start")

    @property
    def on_create_script(self) -> Optional[str]:
        """The on-create bash script (``None`` when there is no on-create)."""
        return self.script("on-create")

    @property
    def on_create_content(self) -> Optional[str]:
        """Base64 of :attr:`on_create_script`."""
        return self.content("on-create")

    @property
    def hooks(self) -> tuple[str, ...]:
        """The hooks this bundle has: ``"on-start"`` and/or ``"on-create"``."""
        return tuple(self._hooks)

    def script(self, hook: str) -> Optional[str]:
        """The script of ``hook`` (``"on-start"`` or ``"on-create"``), or ``None``.

        Deploy-time values appear as ``<deploy-time value NAME>`` (see :meth:`script_with`).
        """
        r = self._render_hook(hook)
        return r.script if r else None

    def content(self, hook: str) -> Optional[str]:
        """The base64 content of ``hook``, or ``None``.

        :raises BundleError: when the hook has deploy-time values (its content exists only
            at deploy time; see :meth:`content_parts` and :meth:`script_with`).
        """
        r = self._render_hook(hook)
        if r is None:
            return None
        if r.values:
            names = ", ".join(v.name for v in r.values)
            raise BundleError(
                f"{hook}: the content holds deploy-time values ({names}) and exists only at deploy time; "
                "use content_parts() (what the CDK constructs do) or script_with(hook, values)"
            )
        return r.content

    def content_parts(self, hook: str = "on-start") -> tuple[Union[str, DeployValue], ...]:
        """The script of ``hook`` as literal text around deploy-time value slots.

        Literal strings alternate with :class:`DeployValue` slots (``str, value, str, ...``);
        joining them with the base64 of each value gives the script. Without deploy-time
        values it is ``(script,)``. Empty for a hook the bundle does not have.
        """
        r = self._render_hook(hook)
        return r.parts if r else ()

    @property
    def deploy_values(self) -> tuple[DeployValue, ...]:
        """The deploy-time values of the bundle (all in the on-start hook), in script order."""
        h = self._hooks.get("on-start")
        return h.values if h else ()

    def script_with(self, hook: str, values: Mapping[str, str]) -> Optional[str]:
        """The script of ``hook`` with each deploy-time value set, as CloudFormation will make it.

        :param values: the value of each deploy-time value, by name (every one is needed).
        """
        r = self._render_hook(hook)
        if r is None:
            return None
        fill = {}
        for v in r.values:
            if v.name not in values:
                raise BundleError(f"{hook}: no value given for the deploy-time value {v.name}")
            text = values[v.name]
            if not isinstance(text, str):
                raise BundleError(f"{hook}: the value of {v.name} must be a string, got {type(text).__name__}")
            fill[v.name] = base64.b64encode(text.encode()).decode()
        return r.join(fill)

    # -- delivery ----------------------------------------------------------------------------
    def payload(self, hook: str = "on-start") -> Optional[bytes]:
        """The compressed tarball of ``hook`` (:func:`archive.pack` of its files): the S3 object.

        An inline gzip script carries this very tarball; an inline xz script carries the same files
        as LZMA of ``archive.records`` instead (denser; its decoder writes them without ``tar``).
        """
        h = self._hooks.get(hook)
        if h is None:
            return None
        if self.compression != "xz":
            r = self._render_hook(hook)
            assert r is not None
            return r.payload
        return _compress_cached(archive.tar_bytes(h.files), self.compression)

    def payload_sha256(self, hook: str = "on-start") -> Optional[str]:
        """Hex sha256 of :meth:`payload`: the fetcher unpacks nothing else."""
        p = self.payload(hook)
        return hashlib.sha256(p).hexdigest() if p is not None else None

    def delivery_of(self, hook: str = "on-start") -> Optional[str]:
        """``"inline"`` or ``"s3"``: how ``hook`` reaches the instance (``None`` for a hook the bundle lacks)."""
        from .delivery import choose

        r = self._render_hook(hook)
        return choose(self.delivery, r.content_length) if r else None

    def delivery_reason(self, hook: str = "on-start") -> Optional[str]:
        """One sentence: which delivery ``hook`` gets, and why."""
        way = self.delivery_of(hook)
        if way is None:
            return None
        r = self._render_hook(hook)
        assert r is not None
        size = f"the inline script is {r.content_length} characters of SageMaker's {CONTENT_LIMIT}"
        if way == "inline":
            why = "delivery='inline'" if self.delivery == "inline" else "it fits"
            return f"{hook}: delivered inline ({why}): {size}"
        payload = len(self.payload(hook) or b"")
        if self.delivery == "s3":
            return f"{hook}: delivered through S3 (delivery='s3'): the payload ({payload} bytes) is an S3 object; {size}"
        return (
            f"{hook}: delivered through S3: {size}, over the limit, so the payload ({payload} bytes) is an S3 "
            "object fetched at start (the instance needs S3 access: direct internet access or an S3 gateway "
            "endpoint); pass delivery='inline' to make that an error instead"
        )

    def s3_content_parts(
        self,
        hook: str = "on-start",
        *,
        key: str,
        bucket: Union[str, "S3Slot"] = None,  # type: ignore[assignment]
        region: Union[str, "S3Slot", None] = None,
    ) -> tuple[Union[str, DeployValue, "S3Slot"], ...]:
        """The S3 lifecycle script of ``hook``: literal text around slots (see
        :func:`notebook_lifecycle.delivery.s3_script_parts`). ``bucket``/``region`` default to the
        :data:`~notebook_lifecycle.delivery.BUCKET`/:data:`~notebook_lifecycle.delivery.REGION` slots."""
        from .delivery import BUCKET, REGION, s3_script_parts

        return s3_script_parts(
            self, hook, key=key, bucket=BUCKET if bucket is None else bucket, region=REGION if region is None else region
        )

    def plan(self, hook: str = "on-start") -> tuple[Step, ...]:
        """The steps of a hook, in run order (feature steps first)."""
        h = self._hooks.get(hook)
        return h.steps if h else ()

    @property
    def iam_grants(self) -> tuple["IamGrant", ...]:
        """What the enabled features need from the notebook's role."""
        return tuple(g for p in self._parts for g in p.iam)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self._parts)

    def fingerprint(self) -> str:
        """sha256 of every hook's content: equal bundles, equal fingerprint."""
        h = hashlib.sha256()
        for name in sorted(self._hooks):
            r = self._render_hook(name)
            assert r is not None
            text = r.content if not r.values else "\0".join(
                p if isinstance(p, str) else f"{p.name}:{p.max_length}" for p in r.parts
            )
            h.update(f"{name}\0{text}\0".encode())
        return h.hexdigest()

    def size_report(self) -> SizeReport:
        """Per-file contribution, total characters, the 16,384 limit and the headroom, per hook."""
        return SizeReport(tuple(self._hook_size(h) for h in self._hooks.values()))

    def size_errors(self) -> list[str]:
        """One message per hook over the limit (empty when everything fits)."""
        errors = []
        for hook in self._hooks.values():
            r = self._render_hook(hook.name)
            assert r is not None
            if r.content_length <= CONTENT_LIMIT:
                continue
            size = self._hook_size(hook)
            if size.delivery == "s3":
                if size.fits:
                    continue
                errors.append(
                    f"{hook.name}: the S3 fetcher script is {size.total} characters after base64, counting the "
                    + ", ".join(f"deploy-time value {v.path} at {v.raw_bytes} bytes" for v in size.values)
                    + f", over SageMaker's limit of {CONTENT_LIMIT} by {-size.headroom}. Pass fewer deploy-time "
                    "values (or a smaller DeployValue max_length), or read them on the instance (SSM Parameter Store)"
                )
                continue
            worst = ", ".join(f"{f.path} (~{f.approx_chars})" for f in size.costliest(3))
            bound = ""
            if size.values:
                bound = (
                    " (counting the deploy-time values "
                    + ", ".join(f"{v.path} at {v.raw_bytes} bytes" for v in size.values)
                    + "; a smaller DeployValue max_length lowers the bound)"
                )
            errors.append(
                f"{hook.name}: the lifecycle script is {size.total} characters after base64{bound}, "
                f"over SageMaker's limit of {CONTENT_LIMIT} by {-size.headroom}; the costliest files are {worst}. "
                "Use delivery='auto' or 's3' (the payload becomes an S3 asset fetched at start), move large "
                "files out of the bundle (download them at start, or keep them on the instance's volume), "
                "or split work between on_create and on_start"
            )
        return errors

    # -- rendering -------------------------------------------------------------------------
    def _prepare(
        self,
        hook: str,
        install_dir: str,
        user_files: Sequence[PackedFile],
        feature_files: Sequence[PackedFile],
        steps: Sequence[Step],
        values: Sequence[DeployValue],
    ) -> _Hook:
        # one step a line: NAME USER fg|bg exec|bash [PATH], tab-separated; no PATH when it is the NAME
        # (a user's script: the runner reads ${p:-$n}). unbundle/bundles.py reads both forms.
        plan = "".join(
            "\t".join((s.name, s.user, "bg" if s.background else "fg", "exec" if s.shebang else "bash")
                      + ((s.path,) if s.path != s.name else ())) + "\n"
            for s in steps
        )
        files = (
            tuple(user_files)
            + tuple(feature_files)
            + (PackedFile(PLAN_PATH, plan.encode(), False), PackedFile(RUNNER_PATH, _runner(steps), True))
        )
        paths = [f.path for f in files]
        if len(set(paths)) != len(paths):
            dup = sorted({p for p in paths if paths.count(p) > 1})[0]
            raise BundleError(f"{hook}: two files want the path {dup!r}; rename one")
        return _Hook(hook, install_dir, files, tuple(steps), tuple(user_files), tuple(values))

    def _render_hook(self, name: str) -> Optional[_Rendered]:
        found = self._rendered.get(name)
        if found is not None:
            return found
        hook = self._hooks.get(name)
        if hook is None:
            return None
        if self.compression == "xz":
            payload = _compress_cached(archive.inline_records(hook.files), "xz")
            text = archive.base95_encode(payload)
        else:
            payload = _compress_cached(archive.tar_bytes(hook.files), self.compression)
            text = archive.text_encode(payload, self.compression)
        decoder = self._decoder(hook.name, hook.install_dir).replace("@LEN@", str(len(payload)))
        script = decoder.replace("@PAYLOAD@", text)
        decoder_len = len(script) - len(text)
        parts: tuple[Union[str, DeployValue], ...] = (script,)
        if hook.values:
            # one line per value after the payload, before the runner starts: echo '<base64>'>DIR/NAME.b64
            at = script.rindex("\nexec ") + 1
            head, tail = script[:at], script[at:]
            pieces: list[Union[str, DeployValue]] = []
            text_before = head
            for v in hook.values:
                pieces += [text_before + "echo '", v]
                text_before = f"'>{hook.install_dir}/{VALUES_DIR}/{v.name}.b64\n"
            pieces.append(text_before + tail)
            parts = tuple(pieces)
            decoder_len += sum(len(p) for p in pieces if isinstance(p, str)) - len(script)
        rendered = _Rendered(parts, decoder_len, payload)
        self._rendered[name] = rendered
        return rendered

    def _decoder(self, hook: str, install_dir: str) -> str:
        # unbundle/bundles.py parses this shape (header comment, the 'P' heredoc, the exec line): keep them in step.
        # Every character here is paid in every bundle: keep it short. The runner sets PATH itself;
        # SageMaker's PATH has /usr/bin, where python3, base64 and tar live. When one is missing, the
        # shell's own error line names it (and python's names a missing lzma module).
        d = install_dir
        if self.compression == "xz":
            unpack, tools = f"cd $_&&{_PY_DECODE}<<'P'", "python3 lzma"
            pipefail = ""
        else:
            unpack, tools = f"base64 -d<<'P'|tar -xzmf- -C {d}", "base64 tar gzip"
            pipefail = "set -o pipefail;"
        # $_ is the last word of the command before: rm -rf D;mkdir $_&&cd $_ makes D and enters it.
        # The runner is executable (mode 755, #!/bin/bash): it is exec'd as it is.
        return (
            "#!/bin/bash\n"
            f"# notebook-lifecycle {__version__}\n"
            f"umask 022;{pipefail}rm -rf {d};mkdir $_&&{unpack}||"
            f"{{ echo notebook-lifecycle: cannot unpack, needs {tools};exit 0;}}\n"
            "@PAYLOAD@\n"
            "P\n"
            f"exec {d}/{RUNNER_PATH} {hook} {self.deadline_seconds}\n"
        )

    def _hook_size(self, hook: _Hook) -> HookSize:
        def approx(data: bytes) -> int:
            # compressed alone (without the shared dictionary it would enjoy), text-encoded, then base64
            packed = archive.compress(data, self.compression)
            if self.compression == "xz":
                return _b64len(len(archive.base95_encode(packed)))
            return _b64len(len(archive.text_encode(packed, self.compression)))

        r = self._render_hook(hook.name)
        assert r is not None
        costs = tuple(FileCost(f.path, len(f.data), approx(f.data)) for f in hook.files if f.path != RUNNER_PATH)
        values = tuple(
            # the value's base64 inside the script, then the script's base64
            FileCost(v.name, v.max_length, _b64len(_b64len(v.max_length)))
            for v in hook.values
        )
        way = self.delivery_of(hook.name)
        fetcher = 0
        if way == "s3":
            from .delivery import KEY_BOUND, bound_length

            fetcher = bound_length(self.s3_content_parts(hook.name, key="k" * KEY_BOUND))
        return HookSize(
            hook=hook.name,
            total=fetcher if way == "s3" else r.content_length,
            limit=CONTENT_LIMIT,
            decoder_chars=_b64len(r.decoder_len),
            runner_chars=approx(_runner(hook.steps)),
            files=costs,
            values=values,
            delivery=way or "inline",
            payload_bytes=len(self.payload(hook.name) or b"") if way == "s3" else len(r.payload),
            fetcher_chars=fetcher,
            inline_total=r.content_length,
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{h}={r.content_length}" for h in self._hooks if (r := self._render_hook(h)))
        return f"Bundle({sizes}, install_dir={self.install_dir!r})"


def _check_install_dir(value: object) -> str:
    fix = "use a new folder directly under '/', such as install_dir='/startup'"
    if isinstance(value, str) and value.startswith("/") and value.strip("/").count("/") >= 1:
        top = "/" + value.strip("/").split("/")[0]
        raise BundleError(
            f"install_dir: {value!r} is not directly under '/' (it is inside {top}, which other software uses); "
            f"the install dir is removed and made again as root at every start: {fix}"
        )
    if not isinstance(value, str) or not _INSTALL_DIR_RE.fullmatch(value):
        raise BundleError(
            f"install_dir: {value!r} must be one new folder directly under '/' (letters, digits, '.', '_', '-', "
            f"at most 64, starting with a letter or digit); it is removed and made again at every start: {fix}"
        )
    if value[1:].lower() in _TOP_LEVEL_TAKEN:
        raise BundleError(
            f"install_dir: {value!r} is a folder the system or the SageMaker platform owns, and it is removed "
            f"at every start; {fix}"
        )
    return value


def _check_deadline(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEADLINE_SECONDS:
        raise BundleError(
            f"deadline_seconds: {value!r} must be a whole number of seconds from 1 to {MAX_DEADLINE_SECONDS} "
            "(SageMaker stops a lifecycle script after 300 s); give one such as 240"
        )
    return value
