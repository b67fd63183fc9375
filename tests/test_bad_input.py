"""The bad-input catalogue: every kind of wrong input a user can give, across startup scripts,
features, Bundle options, construct props and the command line.

Each case asserts that the error names the culprit (the file, field or option) and says
what to do (a fix: "use ...", "give ...", "remove ...", "rename ..."), and that nothing is
accepted half-way. One case per kind of mistake; the id says which.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from notebook_lifecycle import Autostop, Binary, Bundle, BundleError, Features, StartupScripts

FIX = re.compile(
    r"\b(use|give|choose|remove|rename|pass|add|list|write|fix|copy|create|shorten|omit|merge|clone|"
    r"turn|split|move|did you mean|check the spelling)\b", re.IGNORECASE)
OK = StartupScripts.from_files({"10-a.sh": "echo a\n"})
SHA = "ab" * 32


@dataclass(frozen=True)
class Case:
    culprit: str  # must appear in the message: the file, field or option at fault
    make: Callable[[Path], object]  # given a scratch folder, does the wrong thing


def folder(tmp: Path, files: dict) -> Path:
    d = tmp / "scripts"
    d.mkdir()
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return d


def _outside_link(tmp: Path) -> Path:
    d = folder(tmp, {"10-a.sh": "echo a\n"})
    (tmp / "secret.sh").write_text("echo secret\n")
    (d / "20-link.sh").symlink_to(tmp / "secret.sh")
    return d


def _broken_link(tmp: Path) -> Path:
    d = folder(tmp, {"10-a.sh": "echo a\n"})
    (d / "20-gone.sh").symlink_to(d / "nowhere.sh")  # inside the folder, but missing
    return d


def _fifo(tmp: Path) -> Path:
    d = folder(tmp, {"10-a.sh": "echo a\n"})
    os.mkfifo(d / "20-pipe.sh")
    return d


def _bad_utf8_name(tmp: Path) -> Path:
    d = folder(tmp, {"10-a.sh": "echo a\n"})
    with open(os.path.join(os.fsencode(d), b"20-caf\xe9.sh"), "w") as fh:
        fh.write("echo x\n")
    return d


SCRIPTS = {
    "scripts: missing folder": Case("no-such-folder", lambda t: StartupScripts.from_directory(t / "no-such-folder")),
    "scripts: a file, not a folder": Case(
        "file.sh", lambda t: (t / "file.sh").write_text("x") and StartupScripts.from_directory(t / "file.sh")),
    "scripts: nothing to run": Case("scripts", lambda t: StartupScripts.from_directory(folder(t, {"README.md": "x"}))),
    "scripts: stray carriage return": Case("10-a.sh", lambda t: StartupScripts.from_files({"10-a.sh": "echo a\rb\n"})),
    "scripts: symlink leading outside": Case("20-link.sh", lambda t: StartupScripts.from_directory(_outside_link(t))),
    "scripts: broken symlink": Case("20-gone.sh", lambda t: StartupScripts.from_directory(_broken_link(t))),
    "scripts: a pipe in the folder": Case("20-pipe.sh", lambda t: StartupScripts.from_directory(_fifo(t))),
    "scripts: file name not UTF-8": Case("not valid UTF-8", lambda t: StartupScripts.from_directory(_bad_utf8_name(t))),
    "scripts: file name with a newline": Case(
        "a\\nb.sh", lambda t: StartupScripts.from_files({"a\nb.sh": "echo\n"})),
    "scripts: reserved folder name": Case(
        ".notebook-lifecycle", lambda t: StartupScripts.from_files({".notebook-lifecycle/x.sh": "echo\n", "10-a.sh": "x\n"})),
    "scripts: as_root names no file": Case(
        "as_root: '10-b.sh'", lambda t: StartupScripts.from_files({"10-a.sh": "x\n"}, as_root=["10-b.sh"])),
    "scripts: as_root given as a string": Case(
        "as_root", lambda t: StartupScripts.from_files({"10-a.sh": "x\n"}, as_root="10-a.sh")),
    "scripts: run path with ..": Case("run: '../x.sh'", lambda t: StartupScripts.from_files({"10-a.sh": "x\n"}, run=["../x.sh"])),
    "scripts: run lists a file twice": Case(
        "run: '10-a.sh'", lambda t: StartupScripts.from_files({"10-a.sh": "x\n"}, run=["10-a.sh", "10-a.sh"])),
    "scripts: run is empty": Case("run", lambda t: StartupScripts.from_files({"10-a.sh": "x\n"}, run=[])),
    "scripts: background file not run": Case(
        "background: 'lib/x.py'", lambda t: StartupScripts.from_files({"10-a.sh": "x\n", "lib/x.py": "x\n"},
                                                                       background=["lib/x.py"])),
}

FEATURES = {
    "features: autostop minutes 0": Case("autostop.idle_minutes", lambda t: Autostop(idle_minutes=0)),
    "features: autostop over a year": Case("autostop.idle_minutes", lambda t: Autostop(idle_minutes=10 ** 7)),
    "features: autostop flag not a bool": Case("autostop.ignore_connections", lambda t: Autostop(ignore_connections=1)),
    "features: autostop not an Autostop": Case("autostop", lambda t: Features(autostop=60)),
    "features: flag not a bool": Case("bin_dir", lambda t: Features(bin_dir="yes")),
    "features: persist_dirs a string": Case("persist_dirs", lambda t: Features(persist_dirs=".ssh")),
    "features: persist_dirs absolute": Case("persist_dirs: '/etc'", lambda t: Features(persist_dirs=("/etc",))),
    "features: persist_dirs with ..": Case("persist_dirs: '../x'", lambda t: Features(persist_dirs=("../x",))),
    "features: persist_dirs on the volume": Case("persist_dirs: 'SageMaker'", lambda t: Features(persist_dirs=("SageMaker",))),
    "features: persist_dirs nested": Case("persist_dirs: '.config/app'",
                                          lambda t: Features(persist_dirs=(".config", ".config/app"))),
    "features: persist_dirs twice": Case("persist_dirs: '.ssh'", lambda t: Features(persist_dirs=(".ssh", ".ssh"))),
    "features: env name not an identifier": Case("'1BAD'", lambda t: Features(environment={"1BAD": "x"})),
    "features: env name for the loader": Case("LD_AUDIT", lambda t: Features(environment={"LD_AUDIT": "x.so"})),
    "features: env name for the shell": Case("PROMPT_COMMAND", lambda t: Features(environment={"PROMPT_COMMAND": "id"})),
    "features: env exported function": Case("BASH_FUNC_ls", lambda t: Features(environment={"BASH_FUNC_ls": "x"})),
    "features: env name for python startup": Case("PYTHONSTARTUP", lambda t: Features(environment={"PYTHONSTARTUP": "x"})),
    "features: env credential": Case("AWS_SECRET_ACCESS_KEY",
                                     lambda t: Features(environment={"AWS_SECRET_ACCESS_KEY": "x"})),
    "features: env value not text": Case("environment[N]", lambda t: Features(environment={"N": 1})),
    "features: env value with NUL": Case("environment[N]", lambda t: Features(environment={"N": "a\0b"})),
    "features: env not a mapping": Case("environment", lambda t: Features(environment=[("A", "1")])),
    "features: binary name with /": Case("binaries: name 'a/b'", lambda t: Binary("a/b", "https://e.com/x")),
    "features: binary url not http(s)": Case("binaries[jq].url", lambda t: Binary("jq", "ftp://e.com/jq")),
    "features: binary plain http without sha256": Case("binaries[jq].url", lambda t: Binary("jq", "http://e.com/jq")),
    "features: binary sha256 not hex": Case("binaries[jq].sha256", lambda t: Binary("jq", "https://e.com/jq", "xyz")),
    "features: binaries a single Binary": Case("binaries", lambda t: Features(binaries=Binary("jq", "https://e.com/jq"))),
    "features: binaries same name twice": Case(
        "binaries: 'jq'", lambda t: Features(binaries=(Binary("jq", "https://e.com/a"), Binary("jq", "https://e.com/b")))),
}

BUNDLE = {
    "bundle: install_dir under /opt": Case("install_dir: '/opt/ml'", lambda t: Bundle(OK, install_dir="/opt/ml")),
    "bundle: install_dir a system folder": Case("install_dir: '/etc'", lambda t: Bundle(OK, install_dir="/etc")),
    "bundle: install_dir in ec2-user's home": Case("install_dir: '/home/ec2-user/x'",
                                                   lambda t: Bundle(OK, install_dir="/home/ec2-user/x")),
    "bundle: install_dir relative": Case("install_dir: 'startup'", lambda t: Bundle(OK, install_dir="startup")),
    "bundle: install_dir /": Case("install_dir: '/'", lambda t: Bundle(OK, install_dir="/")),
    "bundle: deadline over the platform's": Case("deadline_seconds: 300", lambda t: Bundle(OK, deadline_seconds=300)),
    "bundle: unknown compression": Case("compression: 'zstd'", lambda t: Bundle(OK, compression="zstd")),
    "bundle: nothing to run": Case("nothing to run", lambda t: Bundle()),
    "bundle: on_start not scripts": Case("on_start", lambda t: Bundle("assets/on-start")),
    "bundle: features not Features": Case("features", lambda t: Bundle(OK, features={"autostop": 60})),
    "bundle: over the 16 KiB limit": Case("big.txt", lambda t: Bundle(StartupScripts.from_files(
        {"10-a.sh": "cat big.txt\n", "big.txt": os.urandom(30000).hex()}))),
}


def _stack():
    cdk = pytest.importorskip("aws_cdk")
    return cdk.Stack(cdk.App(), "Stack")


def _notebook(**props):
    from notebook_lifecycle.cdk import NotebookInstance

    return NotebookInstance(_stack(), "Notebook", **{"on_start": OK, **props})


def _lifecycle(**props):
    from notebook_lifecycle.cdk import LifecycleConfig

    return LifecycleConfig(_stack(), "Lifecycle", **{"on_start": OK, **props})


def _subnet_without_groups(t):
    from aws_cdk import aws_ec2 as ec2

    stack = _stack()
    from notebook_lifecycle.cdk import NotebookInstance

    return NotebookInstance(stack, "Notebook", on_start=OK, subnet=ec2.Subnet.from_subnet_id(stack, "S", "subnet-1"))


def _shared_and_own(t):
    from notebook_lifecycle.cdk import LifecycleConfig, NotebookInstance

    stack = _stack()
    shared = LifecycleConfig(stack, "Shared", on_start=OK)
    return NotebookInstance(stack, "Notebook", lifecycle_config=shared, on_start=OK)


def _token_env(t):
    import aws_cdk as cdk

    return _lifecycle(features=Features(environment={"BUCKET": cdk.Aws.ACCOUNT_ID}))


PROPS = {
    "props: instance type without ml.": Case("instance_type: 't3.medium'", lambda t: _notebook(instance_type="t3.medium")),
    "props: volume too small": Case("volume_size_in_gb", lambda t: _notebook(volume_size_in_gb=1)),
    "props: volume not a number": Case("volume_size_in_gb", lambda t: _notebook(volume_size_in_gb="5")),
    "props: platform identifier": Case("platform_identifier", lambda t: _notebook(platform_identifier="ubuntu")),
    "props: instance name with _": Case("notebook_instance_name: 'my_nb'", lambda t: _notebook(notebook_instance_name="my_nb")),
    "props: instance name too long": Case("notebook_instance_name", lambda t: _notebook(notebook_instance_name="n" * 64)),
    "props: root_access not a bool": Case("root_access", lambda t: _notebook(root_access="no")),
    "props: no internet without subnet": Case("direct_internet_access=False", lambda t: _notebook(direct_internet_access=False)),
    "props: subnet without security groups": Case("subnet", _subnet_without_groups),
    "props: shared and own lifecycle": Case("lifecycle_config", _shared_and_own),
    "props: empty code repository": Case("default_code_repository", lambda t: _notebook(default_code_repository="")),
    "props: too many code repositories": Case(
        "additional_code_repositories", lambda t: _notebook(additional_code_repositories=[f"https://g/{i}" for i in range(4)])),
    "props: lifecycle config name": Case("lifecycle_config_name", lambda t: _lifecycle(lifecycle_config_name="bad name")),
    "props: token in the environment": Case("features.environment[BUCKET]", _token_env),
    "props: bad install_dir through the construct": Case("install_dir: '/opt/aws'", lambda t: _lifecycle(install_dir="/opt/aws")),
}

CASES = {**SCRIPTS, **FEATURES, **BUNDLE, **PROPS}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_names_the_culprit_and_the_fix(case: Case, tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:  # BundleError is a ValueError; the constructs raise ValueError
        case.make(tmp_path)
    message = str(info.value)
    assert case.culprit in message, message
    assert FIX.search(message), f"no fix in: {message}"


# -- the command line: one line on stderr, exit 2, the option named ---------------------------------
CLI = {
    "cli: --env without =": (["--env", "NOVALUE"], "--env 'NOVALUE'"),
    "cli: --env for the loader": (["--env", "LD_AUDIT=x.so"], "--env 'LD_AUDIT=x.so'"),
    "cli: --env credential": (["--env", "AWS_SESSION_TOKEN=x"], "--env 'AWS_SESSION_TOKEN=x'"),
    "cli: --binary over plain http": (["--binary", "jq=http://e.com/jq"], "--binary 'jq=http://e.com/jq'"),
    "cli: --binary without =": (["--binary", "jq"], "--binary 'jq'"),
    "cli: --install-dir under /opt": (["--install-dir", "/opt/ml"], "--install-dir: '/opt/ml'"),
    "cli: --deadline too long": (["--deadline", "300"], "--deadline: 300"),
    "cli: --autostop-idle-minutes 0": (["--autostop-idle-minutes", "0"], "--autostop-idle-minutes 0"),
    "cli: --persist-dir absolute": (["--persist-dir", "/etc"], "--persist-dir '/etc'"),
    "cli: --as-root names no file": (["--as-root", "10-b.sh"], "--as-root: '10-b.sh'"),
}


@pytest.mark.parametrize("args, culprit", list(CLI.values()), ids=list(CLI))
def test_cli_bad_input_names_the_option_and_the_fix(args, culprit, tmp_path, capsys) -> None:
    from notebook_lifecycle import cli

    d = folder(tmp_path, {"10-a.sh": "echo a\n"})
    out = tmp_path / "out.sh"
    status = cli.main(["build", str(d), *args, "-o", str(out)])
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("notebook-lifecycle: error: "), err
    assert culprit in lines[0], lines[0]
    assert FIX.search(lines[0]), f"no fix in: {lines[0]}"
    assert not out.exists()


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) + len(CLI) >= 40
    kinds = {name.split(":")[0] for name in [*CASES, *CLI]}
    assert kinds == {"scripts", "features", "bundle", "props", "cli"}
