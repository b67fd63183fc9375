"""Feature flags: the well-known notebook customisations as small declarative parts.

A feature contributes a :class:`FeaturePart`: files added to the bundle (under
``.notebook-lifecycle/features/``), steps that run before the user's on-start
scripts, and the IAM actions the notebook's role needs. The on-instance code
lives as real files in ``notebook_lifecycle/on_instance/features/``; values
from Python reach it only through generated, shell-quoted ``*.conf`` files.

Pure Python; no CDK here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import FrozenSet, Iterator, Mapping, Optional, Sequence, Tuple, Union

from .deploy_values import DeployValue
from .errors import BundleError
from .scripts import EC2_USER, RESERVED_DIR, ROOT, PackedFile, Step
from .shipped import shipped_file

__all__ = ["Features", "Autostop", "Binary", "FeaturePart", "FrozenEnvironment", "IamGrant", "shell_quote", "NOTEBOOK_INSTANCE"]

#: IamGrant resource kind: the notebook instance's own ARN.
NOTEBOOK_INSTANCE = "notebook-instance"

FEATURES_DIR = f"{RESERVED_DIR}/features"

# used with fullmatch: `$` alone would accept a trailing newline, which would break the generated files
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_URL_RE = re.compile(r"https?://[^\s'\"\\]+")

# Environment names: an allow rule (a plain shell identifier), minus the names that something acts on
# before or instead of the user's program: the shell, the dynamic loader and libc, the interpreters'
# startup, and the platform. The profile is read by root's login shells too, so such a value would
# change what root runs. Each entry: (exact names, name prefixes, why; the fix).
_ENV_ELSEWHERE = "choose another name, or set it in the startup script or kernel.json of the program that needs it"
_ENV_RULES: Tuple[Tuple[FrozenSet[str], Tuple[str, ...], str], ...] = (
    (frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "IFS", "ENV", "CDPATH", "GLOBIGNORE",
                "SHELLOPTS", "PROMPT_COMMAND", "SHLVL", "UID", "EUID", "PPID", "TMOUT", "HISTFILE", "INPUTRC",
                "MAIL", "MAILPATH", "TERM"}),
     ("BASH", "PS0", "PS1", "PS2", "PS3", "PS4"), "is read by the shell itself; choose another name"),
    (frozenset({"GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES"}),
     ("LD_", "MALLOC_"), "is read by the dynamic loader or the C library of every program; " + _ENV_ELSEWHERE),
    (frozenset({"IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH", "JUPYTER_DATA_DIR",
                "JUPYTER_RUNTIME_DIR", "NODE_OPTIONS", "NODE_PATH", "RUBYOPT", "RUBYLIB", "PERLLIB",
                "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"}),
     ("PYTHON", "PERL5"), "changes what an interpreter loads at startup; " + _ENV_ELSEWHERE),
    (frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}),
     (), "is a credential, readable by anyone who can read the template; remove it: the notebook's role "
     "gives the instance its credentials"),
    (frozenset(), ("SUDO_", "NL_AUTOSTOP_"), "is read by sudo or by notebook-lifecycle itself; choose another name"),
)


# PYTHON* names that only change how output or hashing behaves (they load nothing)
_ENV_ALLOWED = frozenset({"PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
                          "PYTHONUTF8", "PYTHONFAULTHANDLER"})


def _env_name_problem(name: str) -> Optional[str]:
    """Why ``name`` cannot be set through ``Features.environment`` (``None``: it can)."""
    if name in _ENV_ALLOWED:
        return None
    for names, prefixes, why in _ENV_RULES:
        if name in names or name.startswith(prefixes):
            return f"environment: {name} {why}"
    return None


_NOT_HERE = "; deploy-time values (CDK tokens) are not supported here: pass a literal value"


def _check_env_value(name: str, value: object) -> Union[str, DeployValue]:
    """The one check of an environment value (values reach the profile shell-quoted, so any text is safe).

    A :class:`DeployValue` (a placeholder for a value known at deploy time) gets the variable's name.
    """
    if isinstance(value, DeployValue):
        if value.name and value.name != name:
            raise BundleError(f"environment[{name}]: DeployValue named {value.name!r}; name it {name!r} or leave the name out")
        return value if value.name else DeployValue(name, value.max_length)
    if not isinstance(value, str):
        hint = (
            "; for a deploy-time number (a CDK token) pass aws_cdk.Token.as_string(value)"
            if isinstance(value, float) else "; give the value as text, such as '1'"
        )
        raise BundleError(f"environment[{name}]: {value!r} must be a string{hint}")
    if "\0" in value:
        raise BundleError(f"environment[{name}]: the value contains a NUL byte, which the shell cannot hold; remove it")
    return value


def shell_quote(value: str) -> str:
    """Quote ``value`` for bash so that it arrives literally (newlines, quotes, ``$(...)`` and all)."""
    if "\0" in value:
        raise BundleError("a value written into a shell file contains a NUL byte, which the shell cannot hold")
    return "'" + value.replace("'", "'\\''") + "'"


@dataclass(frozen=True)
class IamGrant:
    """IAM actions a feature needs, on a resource kind (``"notebook-instance"``: the instance's own ARN)."""

    actions: Tuple[str, ...]
    resource: str = NOTEBOOK_INSTANCE


@dataclass(frozen=True)
class FeaturePart:
    """What one feature adds to the on-start bundle."""

    name: str
    files: Tuple[PackedFile, ...] = ()
    steps: Tuple[Step, ...] = ()
    iam: Tuple[IamGrant, ...] = ()


@dataclass(frozen=True)
class Autostop:
    """Stop the instance after ``idle_minutes`` without activity.

    :param idle_minutes: minutes without kernel or terminal activity before the
        instance stops (at least 1).
    :param ignore_connections: when ``False`` (the default), an open browser
        connection to a kernel counts as activity.
    """

    idle_minutes: int = 60
    ignore_connections: bool = False

    def __post_init__(self) -> None:
        v = self.idle_minutes
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise BundleError(
                f"autostop.idle_minutes: {v!r} must be a whole number of minutes, at least 1; give one such as 60"
                + (_NOT_HERE if isinstance(v, float) else "")
            )
        if v > 60 * 24 * 365:
            raise BundleError(f"autostop.idle_minutes: {v!r} is more than a year; turn autostop off instead (autostop=None)")
        if not isinstance(self.ignore_connections, bool):
            raise BundleError(f"autostop.ignore_connections: {self.ignore_connections!r} must be True or False; give one of them")


@dataclass(frozen=True)
class Binary:
    """A binary downloaded into the persistent bin dir (``~/SageMaker/.bin``) when missing.

    :param name: file name in the bin dir (no ``/``).
    :param url: ``https://`` address to download from (``http://`` only with ``sha256``).
    :param sha256: expected sha256 (64 hex digits); a mismatch, or a check that cannot run,
        deletes the download (it is never installed unchecked).
    """

    name: str
    url: str
    sha256: Optional[str] = None

    def __post_init__(self) -> None:
        n = self.name
        if not isinstance(n, str) or not n or "/" in n or n in (".", "..") or n.startswith("-") or not n.isprintable():
            raise BundleError(
                f"binaries: name {n!r} must be a plain file name (no '/', not '.' or '..', not starting with '-'); "
                "give one such as 'jq'"
            )
        if not isinstance(self.url, str) or not _URL_RE.fullmatch(self.url):
            raise BundleError(
                f"binaries[{n}].url: {self.url!r} must be an https:// (or http:// with a sha256) address "
                "without spaces or quotes; give one such as 'https://example.com/tool'"
            )
        if self.sha256 is not None and (not isinstance(self.sha256, str) or not _SHA256_RE.fullmatch(self.sha256)):
            raise BundleError(
                f"binaries[{n}].sha256: {self.sha256!r} must be 64 hexadecimal digits (or None); "
                "give the output of `sha256sum FILE`" + _NOT_HERE
            )
        if self.url.startswith("http://") and self.sha256 is None:
            raise BundleError(
                f"binaries[{n}].url: {self.url!r} is plain http://, which anyone on the path can change; "
                "use https://, or give sha256= (64 hex digits) so a changed download is refused"
            )


def _conf(values: Sequence[Tuple[str, str]]) -> bytes:
    return "".join(f"{k}={shell_quote(v)}\n" for k, v in values).encode()


def _step(name: str, rel: str, user: str) -> Step:
    return Step(name=f"feature:{name}", path=f"{FEATURES_DIR}/{rel}", user=user, background=False, shebang=True)


def _file(rel: str, data: bytes, executable: bool = False) -> PackedFile:
    return PackedFile(f"{FEATURES_DIR}/{rel}", data, executable)


@dataclass(frozen=True)
class Features:
    """The feature flags. Every flag is off by default.

    :param autostop: stop the instance when idle (:class:`Autostop`), or ``None``.
    :param persistent_conda: conda environments created by ec2-user live on the
        EBS volume (``~/SageMaker/.conda/envs``) and are registered as Jupyter
        kernels at every start.
    :param stop_ssm_agent: stop and disable ``amazon-ssm-agent`` at every start.
    :param persist_dirs: folders of ``/home/ec2-user`` kept on the EBS volume
        (for example ``(".config", ".ssh")``).
    :param bin_dir: ``~/SageMaker/.bin`` exists and is on PATH everywhere.
    :param environment: variables exported to login shells, terminals and kernels. A value
        may be a :class:`~notebook_lifecycle.deploy_values.DeployValue` (the CDK
        constructs make one from each CDK token, such as ``bucket.bucket_name``).
    :param binaries: :class:`Binary` downloads into the bin dir (turns ``bin_dir`` on).
    """

    autostop: Optional[Autostop] = None
    persistent_conda: bool = False
    stop_ssm_agent: bool = False
    persist_dirs: Tuple[str, ...] = ()
    bin_dir: bool = False
    environment: Mapping[str, Union[str, DeployValue]] = field(default_factory=dict)
    binaries: Tuple[Binary, ...] = ()

    def __post_init__(self) -> None:
        if self.autostop is not None and not isinstance(self.autostop, Autostop):
            raise BundleError(f"autostop: expected Autostop(...) or None, got {self.autostop!r}; use autostop=Autostop(idle_minutes=60)")
        for flag in ("persistent_conda", "stop_ssm_agent", "bin_dir"):
            if not isinstance(getattr(self, flag), bool):
                raise BundleError(f"{flag}: {getattr(self, flag)!r} must be True or False; give one of them")
        # normalize sequences to tuples so Features stays hashable and comparable
        if isinstance(self.persist_dirs, str):
            raise BundleError(f"persist_dirs: give a list of folders, for example ({self.persist_dirs!r},)")
        object.__setattr__(self, "persist_dirs", tuple(_check_persist_dir(d) for d in self.persist_dirs))
        dupes = sorted({d for d in self.persist_dirs if self.persist_dirs.count(d) > 1})
        if dupes:
            raise BundleError(f"persist_dirs: {dupes[0]!r} is listed more than once; list it once")
        for a in self.persist_dirs:
            for b in self.persist_dirs:
                if a != b and b.startswith(a + "/"):
                    raise BundleError(f"persist_dirs: {b!r} is inside {a!r}; list only {a!r}")
        if not isinstance(self.environment, Mapping):
            raise BundleError("environment: expected a mapping of variable name to value; give a dict, such as {'MY_SETTING': '1'}")
        env = {}
        for k, v in self.environment.items():
            if not isinstance(k, str) or not _IDENT_RE.fullmatch(k):
                raise BundleError(
                    f"environment: {k!r} is not a valid shell variable name; use letters, digits and '_', "
                    "not starting with a digit (such as 'MY_SETTING')"
                )
            problem = _env_name_problem(k)
            if problem:
                raise BundleError(problem)
            env[k] = _check_env_value(k, v)
        object.__setattr__(self, "environment", FrozenEnvironment(env))
        if isinstance(self.binaries, Binary):
            raise BundleError("binaries: give a list, for example (Binary(...),)")
        binaries = tuple(self.binaries)
        for item in binaries:
            if not isinstance(item, Binary):
                raise BundleError(
                    f"binaries: expected Binary(name=..., url=...), got {item!r}; use Binary('jq', 'https://...')"
                )
        names = [b.name for b in binaries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise BundleError(f"binaries: {dupes[0]!r} is listed more than once; give each name once")
        object.__setattr__(self, "binaries", binaries)

    @property
    def uses_bin_dir(self) -> bool:
        return self.bin_dir or bool(self.binaries)

    @property
    def enabled(self) -> Tuple[str, ...]:
        """Names of the enabled features, in the order their steps run."""
        return tuple(p.name for p in self.parts())

    def parts(self) -> Tuple[FeaturePart, ...]:
        """The parts of every enabled feature, in run order."""
        parts = []
        if self.stop_ssm_agent:
            parts.append(
                FeaturePart(
                    "stop-ssm-agent",
                    files=(_file("stop-ssm-agent.sh", shipped_file("features/stop-ssm-agent.sh"), True),),
                    steps=(_step("stop-ssm-agent", "stop-ssm-agent.sh", ROOT),),
                )
            )
        if self.environment or self.uses_bin_dir:
            files: list[PackedFile] = []
            deploy = [k for k, v in self.environment.items() if isinstance(v, DeployValue)]
            if deploy:  # exported at start from <name>.b64, which the lifecycle script writes
                files.append(_file("environment.conf", _conf([("NL_DEPLOY_VALUES", " ".join(deploy))])))
            # environment.sh's optional blocks: decoding deploy-time values, making the bin dir
            without = tuple(b for b, on in (("deploy", deploy), ("bin", self.uses_bin_dir)) if not on)
            lines = ["# notebook-lifecycle rewrites this file at every start"]
            if self.uses_bin_dir:
                # for ec2-user only, who owns the folder: root's PATH never holds a folder ec2-user can write
                # (POSIX sh: dash reads it too; `case` needs no quotes, `export NAME=value` is POSIX)
                lines.append('if [ "$(id -un 2>/dev/null)" = ec2-user ];then case :$PATH: in *:/home/ec2-user/SageMaker/.bin:*)'
                             ';;*)export PATH=/home/ec2-user/SageMaker/.bin:$PATH;esac;fi')
            for k, v in self.environment.items():
                if not isinstance(v, DeployValue):
                    lines.append(f"export {k}={shell_quote(v)}")
            parts.append(
                FeaturePart(
                    "environment",
                    files=(
                        _file("environment.sh", shipped_file("features/environment.sh", without), True),
                        *files,
                        _file("profile.sh", ("\n".join(lines) + "\n").encode()),
                    ),
                    steps=(_step("environment", "environment.sh", ROOT),),
                )
            )
        if self.persist_dirs:
            parts.append(
                FeaturePart(
                    "persist-dirs",
                    files=(
                        _file("persist-dirs.sh", shipped_file("features/persist-dirs.sh"), True),
                        _file("persist-dirs.conf", "".join(d + "\n" for d in self.persist_dirs).encode()),
                    ),
                    steps=(_step("persist-dirs", "persist-dirs.sh", EC2_USER),),
                )
            )
        if self.persistent_conda:
            parts.append(
                FeaturePart(
                    "persistent-conda",
                    files=(_file("persistent-conda.sh", shipped_file("features/persistent-conda.sh"), True),),
                    steps=(_step("persistent-conda", "persistent-conda.sh", EC2_USER),),
                )
            )
        if self.binaries:
            table = "".join(f"{b.name}\t{b.url}\t{b.sha256 or '-'}\n" for b in self.binaries)
            parts.append(
                FeaturePart(
                    "binaries",
                    files=(
                        _file("binaries.sh", shipped_file("features/binaries.sh"), True),
                        _file("binaries.tsv", table.encode()),
                    ),
                    steps=(_step("binaries", "binaries.sh", EC2_USER),),
                )
            )
        if self.autostop is not None:
            conf = [
                ("NL_IDLE_MINUTES", str(self.autostop.idle_minutes)),
                ("NL_IGNORE_CONNECTIONS", "1" if self.autostop.ignore_connections else "0"),
            ]
            parts.append(
                FeaturePart(
                    "autostop",
                    files=(
                        _file("autostop.sh", shipped_file("features/autostop.sh"), True),
                        _file("autostop.py", shipped_file("features/autostop.py"), True),
                        _file("autostop.conf", _conf(conf)),
                    ),
                    steps=(_step("autostop", "autostop.sh", ROOT),),
                    iam=(IamGrant(("sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance")),),
                )
            )
        return tuple(parts)


class FrozenEnvironment(Mapping[str, Union[str, DeployValue]]):
    """``Features.environment``: a read-only, hashable mapping, sorted by name.

    It holds a private copy behind a :class:`types.MappingProxyType`: nothing changes it
    (``env["X"] = ...`` and ``env |= {...}`` raise ``TypeError``); ``env | {...}`` gives a new dict.
    """

    __slots__ = ("_view",)
    _view: "MappingProxyType[str, Union[str, DeployValue]]"

    def __init__(self, items: Mapping[str, Union[str, DeployValue]]) -> None:
        object.__setattr__(self, "_view", MappingProxyType(dict(sorted(items.items()))))

    def __getitem__(self, key: str) -> Union[str, DeployValue]:
        return self._view[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)

    def __hash__(self) -> int:
        return hash(tuple(self._view.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._view.items()) == dict(other.items())

    def __or__(self, other: Mapping[str, Union[str, DeployValue]]) -> dict:  # type: ignore[type-arg]
        return {**self._view, **other}

    def __ior__(self, other: object) -> "FrozenEnvironment":
        raise TypeError("Features.environment is read-only; build a new mapping: features.environment | {...}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Features.environment is read-only")

    def __repr__(self) -> str:
        return f"FrozenEnvironment({dict(self._view)!r})"

    def __deepcopy__(self, memo: object) -> "FrozenEnvironment":
        return self  # immutable (so `dataclasses.asdict(features)` works)


def _check_persist_dir(value: object) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise BundleError(f"persist_dirs: {value!r} must be a folder name relative to /home/ec2-user; give one such as '.config'")
    p = PurePosixPath(value)
    if p.is_absolute() or value.startswith("~"):
        raise BundleError(f"persist_dirs: {value!r} is absolute; give it relative to /home/ec2-user, such as '.config'")
    if ".." in p.parts or "." in value.split("/"):
        raise BundleError(f"persist_dirs: {value!r} must not contain '..' or '.'; give a plain relative path such as '.config'")
    rel = p.as_posix()
    if rel == "SageMaker" or rel.startswith("SageMaker/"):
        raise BundleError(f"persist_dirs: {value!r} is already on the persistent volume; remove it from persist_dirs")
    if rel in (".", ""):
        raise BundleError(f"persist_dirs: {value!r} names the home folder itself; name a folder inside it")
    if "\t" in rel or "\n" in rel:
        raise BundleError(f"persist_dirs: {value!r} contains a tab or newline; rename the folder")
    return rel
