"""Features, the Python side: validation, hashing, the parts each flag adds, and the quoting.

Every invalid value raises BundleError naming the field. What the parts declare
(files, steps, users, IAM) is checked here; what they do on an instance is checked
in test_features_sandbox.py.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys

import pytest

from notebook_lifecycle import Autostop, Binary, Bundle, BundleError, Features, StartupScripts
from notebook_lifecycle.deploy_values import DeployValue
from notebook_lifecycle.features import FEATURES_DIR, IamGrant, NOTEBOOK_INSTANCE, shell_quote
from notebook_lifecycle.shipped import minify_python, python_names

SHA = "ab" * 32


# -- validation: every bad value names its field ----------------------------------------------------
@pytest.mark.parametrize("value", [0, -5, 1.5, True, False, "60", None, 60 * 24 * 365 + 1])
def test_autostop_idle_minutes(value):
    with pytest.raises(BundleError, match=r"^autostop\.idle_minutes: "):
        Autostop(idle_minutes=value)


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_autostop_ignore_connections(value):
    with pytest.raises(BundleError, match=r"^autostop\.ignore_connections: "):
        Autostop(ignore_connections=value)


def test_autostop_limits_are_accepted():
    assert Autostop(idle_minutes=1).idle_minutes == 1
    assert Autostop(idle_minutes=60 * 24 * 365).idle_minutes == 60 * 24 * 365
    assert Autostop() == Autostop(60, False)


@pytest.mark.parametrize("value", [60, True, "Autostop()", {"idle_minutes": 5}])
def test_features_autostop_must_be_an_autostop(value):
    with pytest.raises(BundleError, match=r"^autostop: expected Autostop"):
        Features(autostop=value)


@pytest.mark.parametrize("flag", ["persistent_conda", "stop_ssm_agent", "bin_dir"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_boolean_flags(flag, value):
    with pytest.raises(BundleError, match=rf"^{flag}: "):
        Features(**{flag: value})


@pytest.mark.parametrize("value, why", [
    ("/etc", "absolute"), ("/home/ec2-user/.ssh", "absolute"), ("~/.ssh", "absolute"),
    ("../x", r"'\.\.'"), ("a/../b", r"'\.\.'"), ("./x", r"'\.\.' or '\.'"), ("a/./b", r"'\.'"),
    ("SageMaker", "already on the persistent volume"), ("SageMaker/x", "already on the persistent volume"),
    ("", "folder name"), (".", r"'\.\.' or '\.'"), (5, "folder name"), (None, "folder name"),
    ("a\tb", "folder name"), ("a\nb", "folder name"), ("bad\x1bname", "folder name"),
])
def test_persist_dirs_bad_entries(value, why):
    with pytest.raises(BundleError, match=rf"^persist_dirs: .*{why}"):
        Features(persist_dirs=(value,))


def test_persist_dirs_structure():
    with pytest.raises(BundleError, match=r"^persist_dirs: give a list"):
        Features(persist_dirs=".ssh")
    with pytest.raises(BundleError, match=r"^persist_dirs: '\.ssh' is listed more than once"):
        Features(persist_dirs=(".ssh", ".ssh/"))
    with pytest.raises(BundleError, match=r"^persist_dirs: '\.config/app' is inside '\.config'"):
        Features(persist_dirs=(".config/app", ".config"))
    f = Features(persist_dirs=[".ssh/", ".local//share", ".config"])
    assert f.persist_dirs == (".ssh", ".local/share", ".config")  # normalized, order kept


@pytest.mark.parametrize("name", ["1A", "A-B", "", "A B", "É", "A=B", "$A", "A\n", "\nA", 5, None])
def test_environment_names(name):
    with pytest.raises(BundleError, match=r"^environment: .* is not a valid shell variable name"):
        Features(environment={name: "x"})


@pytest.mark.parametrize("name, why", [
    ("PATH", "read by the shell"), ("HOME", "read by the shell"), ("IFS", "read by the shell"),
    ("SHELL", "read by the shell"), ("ENV", "read by the shell"), ("BASH_ENV", "read by the shell"),
    ("BASH_FUNC_ls%%", None), ("BASH_FUNC_ls", "read by the shell"), ("BASHOPTS", "read by the shell"),
    ("SHELLOPTS", "read by the shell"), ("PROMPT_COMMAND", "read by the shell"), ("PS1", "read by the shell"),
    ("PS4", "read by the shell"), ("GLOBIGNORE", "read by the shell"), ("CDPATH", "read by the shell"),
    ("LD_PRELOAD", "dynamic loader"), ("LD_AUDIT", "dynamic loader"), ("LD_LIBRARY_PATH", "dynamic loader"),
    ("GLIBC_TUNABLES", "C library"), ("GCONV_PATH", "C library"), ("MALLOC_CHECK_", "C library"),
    ("PYTHONSTARTUP", "interpreter"), ("PYTHONPATH", "interpreter"), ("PYTHONHOME", "interpreter"),
    ("PYTHONINSPECT", "interpreter"), ("PYTHONWARNINGS", "interpreter"), ("PYTHON_NEW_KNOB", "interpreter"),
    ("PERL5OPT", "interpreter"), ("PERL5LIB", "interpreter"), ("NODE_OPTIONS", "interpreter"),
    ("JAVA_TOOL_OPTIONS", "interpreter"), ("JUPYTER_CONFIG_DIR", "interpreter"), ("IPYTHONDIR", "interpreter"),
    ("AWS_SECRET_ACCESS_KEY", "credential"), ("AWS_ACCESS_KEY_ID", "credential"),
    ("AWS_SESSION_TOKEN", "credential"), ("SUDO_ASKPASS", "sudo"), ("NL_AUTOSTOP_AWS_USER", "notebook-lifecycle"),
])
def test_environment_refuses_names_the_shell_loader_or_interpreters_act_on(name, why):
    pattern = rf"^environment: {name} .*{why}.*; (choose another name|remove it)" if why else "valid shell variable name"
    with pytest.raises(BundleError, match=pattern):
        Features(environment={name: "x"})


@pytest.mark.parametrize("name", ["MY_SETTING", "LANG", "LC_ALL", "TZ", "AWS_DEFAULT_REGION", "AWS_REGION",
                                  "PYTHONUNBUFFERED", "PYTHONIOENCODING", "JUPYTER_ENABLE_LAB", "NL_X", "PSQL_HOST",
                                  "_PRIVATE", "EDITOR", "HF_HOME", "MLFLOW_TRACKING_URI"])
def test_environment_allows_ordinary_names(name):
    assert dict(Features(environment={name: "v"}).environment) == {name: "v"}


def test_environment_is_truly_immutable():
    f = Features(environment={"B": "2", "A": "1"})
    e = f.environment
    with pytest.raises(TypeError, match="read-only"):
        e |= {"LD_AUDIT": "/home/ec2-user/x.so"}
    for mutate in (lambda: e.__setitem__("C", "3"), lambda: e.__delitem__("A"), lambda: e.update(C="3"),
                   lambda: e.clear(), lambda: e.pop("A"), lambda: e.setdefault("C", "3"),
                   lambda: setattr(e, "_view", {})):
        with pytest.raises((TypeError, AttributeError)):
            mutate()
    assert dict(f.environment) == {"A": "1", "B": "2"} and list(f.environment) == ["A", "B"]
    assert e | {"C": "3"} == {"A": "1", "B": "2", "C": "3"} and dict(f.environment) == {"A": "1", "B": "2"}
    # the mapping given is copied: changing it later changes nothing
    given = {"A": "1"}
    g = Features(environment=given)
    given["LD_PRELOAD"] = "x"
    assert dict(g.environment) == {"A": "1"}
    profile = [f for p in g.parts() for f in p.files if f.path.endswith("profile.sh")][0].data
    assert b"LD_PRELOAD" not in profile


@pytest.mark.parametrize("value, why", [(1, "must be a string"), (None, "must be a string"),
                                        (b"x", "must be a string"), ("a\0b", "NUL byte")])
def test_environment_values(value, why):
    with pytest.raises(BundleError, match=rf"^environment\[VAR\]: .*{why}"):
        Features(environment={"VAR": value})


def test_environment_must_be_a_mapping():
    with pytest.raises(BundleError, match=r"^environment: expected a mapping"):
        Features(environment=[("A", "b")])


@pytest.mark.parametrize("name", ["a/b", "/x", "", ".", "..", "-rf", "a\nb", "tab\tname", 5, None])
def test_binary_names(name):
    with pytest.raises(BundleError, match=r"^binaries: name .* must be a plain file name"):
        Binary(name, "https://example.com/x")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "https://exa mple.com/x", "https://e.com/a'b",
                                 'https://e.com/a"b', "https://e.com/a\\b", "", "example.com/x", None,
                                 "https://e.com/x\n", "file:///etc/passwd"])
def test_binary_urls(url):
    with pytest.raises(BundleError, match=r"^binaries\[tool\]\.url: .*; give one such as 'https://"):
        Binary("tool", url)


def test_plain_http_needs_a_sha256():
    with pytest.raises(BundleError, match=r"^binaries\[tool\]\.url: 'http://e\.com/x' is plain http://.*"
                                          r"use https://, or give sha256="):
        Binary("tool", "http://e.com/x")
    assert Binary("tool", "http://e.com/x", SHA).sha256 == SHA
    assert Binary("tool", "https://e.com/x").sha256 is None


@pytest.mark.parametrize("sha", ["ab" * 31, "ab" * 33, "g" * 64, "", 5, " " + "a" * 63, "a" * 63 + "\n", "a" * 64 + "\n"])
def test_binary_sha256(sha):
    with pytest.raises(BundleError, match=r"^binaries\[tool\]\.sha256: .*64 hexadecimal digits"):
        Binary("tool", "https://e.com/x", sha)


def test_binaries_structure():
    b = Binary("tool", "https://e.com/x")
    with pytest.raises(BundleError, match=r"^binaries: give a list"):
        Features(binaries=b)
    with pytest.raises(BundleError, match=r"^binaries: expected Binary"):
        Features(binaries=(("tool", "https://e.com/x"),))
    with pytest.raises(BundleError, match=r"^binaries: 'tool' is listed more than once"):
        Features(binaries=(b, Binary("tool", "https://e.com/y")))
    assert Binary("tool", "http://10.0.0.1:8080/x?y=1&z=2#f", SHA.upper()).sha256 == SHA.upper()


def test_bundle_error_is_a_value_error():
    with pytest.raises(ValueError):
        Features(bin_dir="yes")


# -- hashable, comparable, deterministic -----------------------------------------------------------
def everything(**over):
    kw = dict(autostop=Autostop(30, True), persistent_conda=True, stop_ssm_agent=True,
              persist_dirs=[".config", ".ssh"], bin_dir=True, environment={"B": "2", "A": "1"},
              binaries=[Binary("jq", "https://e.com/jq", SHA)])
    kw.update(over)
    return Features(**kw)


def test_features_are_hashable_and_equal_by_value():
    a, b = everything(), everything(environment={"A": "1", "B": "2"}, persist_dirs=(".config", ".ssh"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != everything(autostop=Autostop(31, True))
    assert hash(Features()) == hash(Features())
    assert list(a.environment) == ["A", "B"]  # sorted: the same profile whatever the order given
    with pytest.raises(TypeError):
        a.environment["C"] = "3"  # type: ignore[index]
    with pytest.raises(Exception):
        a.bin_dir = False  # frozen


def test_equal_features_give_byte_identical_bundles():
    one, two = Bundle(features=everything()), Bundle(features=everything(environment={"B": "2", "A": "1"}))
    assert one.on_start_script == two.on_start_script and one.fingerprint() == two.fingerprint()
    assert Bundle(features=everything(autostop=Autostop(31, True))).fingerprint() != one.fingerprint()


# -- parts: order, users, files ---------------------------------------------------------------------
def test_nothing_enabled_means_no_parts():
    assert Features().parts() == () and Features().enabled == ()
    with pytest.raises(BundleError, match="nothing to run"):
        Bundle(features=Features())


def test_plan_order_and_users():
    user = StartupScripts.from_files({"10-a.sh": "echo a\n", "20-b.sh": "echo b\n"}, as_root=["20-b.sh"])
    bundle = Bundle(user, features=everything())
    plan = [(s.name, s.user, s.background, s.shebang) for s in bundle.plan()]
    assert plan == [
        ("feature:stop-ssm-agent", "root", False, True),
        ("feature:environment", "root", False, True),
        ("feature:persist-dirs", "ec2-user", False, True),
        ("feature:persistent-conda", "ec2-user", False, True),
        ("feature:binaries", "ec2-user", False, True),
        ("feature:autostop", "root", False, True),
        ("10-a.sh", "ec2-user", False, False),
        ("20-b.sh", "root", False, False),
    ]
    assert bundle.feature_names == everything().enabled
    for step in bundle.plan()[:6]:
        assert step.path.startswith(FEATURES_DIR + "/") and step.path.endswith(".sh")


def files_of(features):
    return {f.path[len(FEATURES_DIR) + 1:]: f for p in features.parts() for f in p.files}


def test_each_flag_ships_its_files():
    assert sorted(files_of(Features(stop_ssm_agent=True))) == ["stop-ssm-agent.sh"]
    assert sorted(files_of(Features(bin_dir=True))) == ["environment.sh", "profile.sh"]
    assert sorted(files_of(Features(persist_dirs=(".ssh",)))) == ["persist-dirs.conf", "persist-dirs.sh"]
    assert sorted(files_of(Features(persistent_conda=True))) == ["persistent-conda.sh"]
    assert sorted(files_of(Features(binaries=(Binary("x", "https://e.com/x"),)))) == [
        "binaries.sh", "binaries.tsv", "environment.sh", "profile.sh"]  # binaries need the bin dir
    assert sorted(files_of(Features(autostop=Autostop()))) == ["autostop.conf", "autostop.py", "autostop.sh"]
    for name, f in files_of(everything()).items():
        program = name.endswith((".sh", ".py")) and name != "profile.sh"  # profile.sh is sourced, not run
        assert f.executable == program, name
        if program and name.endswith(".sh"):
            assert f.data.startswith(b"#!/bin/bash\n") and b"\n#" not in f.data  # minified


def test_generated_config():
    files = files_of(everything(persist_dirs=(".config", ".local/share")))
    assert files["autostop.conf"].data == b"NL_IDLE_MINUTES='30'\nNL_IGNORE_CONNECTIONS='1'\n"
    assert files["persist-dirs.conf"].data == b".config\n.local/share\n"
    assert files["binaries.tsv"].data == f"jq\thttps://e.com/jq\t{SHA}\n".encode()
    assert "environment.conf" not in files  # only deploy-time values need one (test_deploy_values.py)
    no_sum = files_of(Features(binaries=(Binary("a", "https://e.com/a"),)))["binaries.tsv"].data
    assert no_sum == b"a\thttps://e.com/a\t-\n"


@pytest.mark.parametrize("features, blocks", [
    (Features(environment={"A": "1"}), ()),
    (Features(bin_dir=True), ("bin",)),
    (Features(environment={"A": DeployValue("A")}), ("deploy",)),
    (everything(environment={"A": DeployValue("A")}), ("deploy", "bin")),
], ids=["plain", "bin", "deploy", "both"])
def test_environment_sh_carries_only_the_blocks_it_needs(features, blocks, tmp_path):
    script = files_of(features)["environment.sh"].data
    assert (b"base64 -d" in script) == ("deploy" in blocks)
    assert (b"sudo -n -u ec2-user mkdir" in script) == ("bin" in blocks)
    assert ("environment.conf" in files_of(features)) == ("deploy" in blocks)
    path = tmp_path / "environment.sh"
    path.write_bytes(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True, timeout=60).returncode == 0
    exe = shutil.which("shellcheck", path=os.path.dirname(sys.executable)) or shutil.which("shellcheck")
    if exe:  # the shipped form, as test_on_instance_lint.py checks the source
        proc = subprocess.run([exe, "-s", "bash", "-e", "SC1091,SC2086", str(path)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_profile_puts_the_bin_dir_first_once_for_ec2_user_only(shell):
    with_bin = files_of(everything())["profile.sh"].data.decode()
    without = files_of(Features(environment={"A": "1"}))["profile.sh"].data.decode()
    assert "SageMaker/.bin" in with_bin and "SageMaker/.bin" not in without
    twice = ". ./profile.sh; echo \"status $?\"; . ./profile.sh; printf %s \"$PATH\""
    # `id` answers as ec2-user would (a function shadows the command)
    out = _run_profile(with_bin, shell, "id() { echo ec2-user; }; PATH=/usr/bin:/bin; " + twice)
    assert out == "status 0\n/home/ec2-user/SageMaker/.bin:/usr/bin:/bin"
    for who in ("root", "nobody", "ec2-user-not"):  # root's PATH never holds a folder ec2-user can write
        out = _run_profile(with_bin, shell, f"id() {{ echo {who}; }}; PATH=/usr/bin:/bin; " + twice)
        assert out == "status 0\n/usr/bin:/bin", who
    assert _run_profile(with_bin, shell, "PATH=/usr/bin:/bin; " + twice) == "status 0\n/usr/bin:/bin"  # really root


def _run_profile(profile: str, shell: str, script: str, tmp=None) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/profile.sh", "w") as fh:
            fh.write(profile)
        proc = subprocess.run([shell, "-c", script], cwd=d, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


NASTY = ["a'b\"c$(touch /tmp/nl-x)", "line\nbreak", "`id`", "${HOME}", "\\", "", " ", "'", "''", "\"",
         "ünï ☃", "end\n", "a;b|c&d>e<f", "*", "$", "-n"]


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_environment_values_arrive_literally_in_bash_and_sh(shell, tmp_path):
    env = {f"V{i}": v for i, v in enumerate(NASTY)}
    profile = files_of(Features(environment=env))["profile.sh"].data.decode()
    for name, value in env.items():
        out = _run_profile(profile, shell, f'cd {tmp_path}; . "$OLDPWD/profile.sh"; printf %s "${name}"')
        assert out == value, name
    assert not (tmp_path / "nl-x").exists() and not list(tmp_path.iterdir())


def test_shell_quote_round_trips_random_text():
    rng = random.Random(20261125)
    alphabet = "ab $'\"\\`\n\t;|&*?[]{}()<>#~!%^=-" + "é☃"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(200)]
    script = "".join(f"v={shell_quote(v)}; printf '%s\\0' \"$v\"\n" for v in values)
    out = subprocess.run(["bash", "-c", script], capture_output=True, timeout=30).stdout.decode()
    assert out.split("\0")[:-1] == values
    with pytest.raises(BundleError, match="NUL"):
        shell_quote("a\0b")


# -- IAM ----------------------------------------------------------------------------------------
def test_autostop_needs_describe_and_stop_on_the_instance_only():
    assert Bundle(features=Features(autostop=Autostop())).iam_grants == (
        IamGrant(("sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"), NOTEBOOK_INSTANCE),)
    assert Bundle(features=everything()).iam_grants == Bundle(features=Features(autostop=Autostop())).iam_grants
    assert Bundle(features=everything(autostop=None)).iam_grants == ()


# -- the Python minifier --------------------------------------------------------------------------
def test_minify_python_keeps_code_and_strings():
    src = (
        '"""Module doc."""\n'
        "import os  # a comment\n"
        "\n"
        "# a whole-line comment\n"
        "X = 'a # not a comment'\n"
        "Y = '''first\n"
        "    # kept inside the string\n"
        "  indented'''\n"
        "\n"
        "def f():\n"
        '    """only a docstring: kept, the body must not be empty"""\n'
        "\n"
        "def g(a,\n"
        "        b):  # continuation\n"
        '    """Doc."""\n'
        "    if a:\n"
        "        return b\n"
        "    return X\n"
    )
    out = minify_python(src)
    assert out == (
        "import os;X='a # not a comment';Y='''first\n"
        "    # kept inside the string\n"
        "  indented'''\n"
        'def f():"""only a docstring: kept, the body must not be empty"""\n'
        "def g(a,b):\n"
        " if a:return b\n"
        " return X\n"
    )
    ns: dict = {}
    exec(compile(out, "m", "exec"), ns)
    assert ns["Y"] == "first\n    # kept inside the string\n  indented" and ns["g"](1, 2) == 2 and ns["g"](0, 2) == X_VALUE


def test_minify_python_renames_locals_only_where_safe():
    src = (
        "import os\n"
        "counter = 0\n"
        "def total(values, scale=1):\n"
        "    global counter\n"
        "    counter += 1\n"
        "    result = [value * scale for value in values]\n"
        "    label = 'n'\n"
        "    shifted = list(map(lambda value: value + 1, result))\n"
        "    return f'{label}={sum(result)}', shifted, os.sep\n"
        "def caller(items):\n"
        "    try:\n"
        "        return total(items, scale=2)\n"
        "    except ValueError as error:\n"
        "        return error\n"
    )
    out = minify_python(src)
    # renamed: shifted, values, items, and value (in the comprehension and the lambda alike)
    for gone in ("value", "shifted", "items"):
        assert gone not in out, (gone, out)
    # kept: globals, a parameter passed by keyword, names read in f-strings, except names, imports
    for kept in ("counter", "scale", "label", "result", "error", "os.sep"):
        assert kept in out, (kept, out)
    # the top-level functions are renamed too, consistently (python_names says how)
    names = python_names(src)
    assert sorted(names) == ["caller", "total"] and "total" not in out and "caller" not in out
    ns: dict = {}
    exec(compile(out, "m", "exec"), ns)
    assert ns[names["caller"]]([1, 2]) == ("n=6", [3, 5], os.sep) and ns["counter"] == 1
    assert minify_python(src, rename=False).count("shifted") == 2


def test_minify_python_renames_module_names_only_where_safe():
    src = (
        "import os\n"
        "import re as regex\n"
        "from sys import argv\n"
        "import json\n"
        "__all__ = ['public']\n"
        "SETTING = {'a': 1}\n"
        "SHADOWED = 1\n"
        "IN_FSTRING = 'x'\n"
        "FOR_TARGET = None\n"
        "for LOOPED in range(2):\n"
        "    FOR_TARGET = LOOPED\n"
        "LIMIT = 3\n"
        "class Kept:\n"
        "    SETTING = 'bound in a class body too: kept'\n"
        "Kept.LIMIT = 5\n"
        "def public():\n"
        "    return helper_function(SETTING['a'], default=SETTING) + LIMIT * Kept.LIMIT\n"
        "def helper_function(value, default=SETTING):\n"
        "    SHADOWED = value\n"
        "    return SHADOWED + len(default) + len(Kept.SETTING) + len(f'{IN_FSTRING}')\n"
        "def __dunder__():\n"
        "    return os.sep, regex.escape('.'), argv is not None, json.dumps(FOR_TARGET + LOOPED)\n"
    )
    names = python_names(src)
    # renamed: the module's own functions and variables that nothing else binds
    assert sorted(names) == ["FOR_TARGET", "LIMIT", "LOOPED", "helper_function"], names
    out = minify_python(src)
    for gone in names:
        assert gone not in out.replace("Kept.LIMIT", ""), (gone, out)
    # kept: imports, __all__'s names, a name a function also binds, one read in an f-string, one a class
    # body binds, classes, attributes (Kept.LIMIT) and keyword arguments (default=), dunders
    for kept in ("os.sep", "regex.escape", "argv", "json.dumps", "def public(", "SHADOWED=", "{IN_FSTRING}",
                 "SETTING=", "class Kept", "Kept.LIMIT=5", "*Kept.LIMIT", "default=", "def __dunder__("):
        assert kept in out, (kept, out)
    assert out.startswith("import os,re as regex;from sys import argv;import json;"), out
    ns: dict = {}
    exec(compile(out, "m", "exec"), ns)
    assert ns["public"]() == 1 + 1 + len("bound in a class body too: kept") + 1 + 3 * 5
    assert ns["__dunder__"]()[3] == "2" and ns[names["LIMIT"]] == 3


X_VALUE = "a # not a comment"
