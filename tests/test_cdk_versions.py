"""The constructs against the oldest and the newest aws-cdk-lib that the `cdk` extra allows.

Each case builds a throwaway venv (pip's cache makes the second run quick), installs that
aws-cdk-lib with its matching constructs, and runs tests/cdk_apps/compat_app.py with the library's
source on PYTHONPATH: every aws-cdk-lib API the constructs use (props, asdict, imports, grants,
ordered grants, immutable roles, names, duplicate names). The whole suite runs on the dev pin.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from cdk_apps import REPO

pytestmark = pytest.mark.cdkcli

NODE_BIN = REPO / "node_modules" / ".bin"


def _cdk_extra_range() -> str:
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cdk"]
    return next(r for r in extra if r.startswith("aws-cdk-lib"))


def _oldest() -> str:
    floor = re.search(r">=\s*([0-9.]+)", _cdk_extra_range())
    assert floor, _cdk_extra_range()
    return f"aws-cdk-lib=={floor.group(1)}"


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_constructs_synthesize_with_the_oldest_and_newest_allowed_aws_cdk_lib(which: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    requirement = _oldest() if which == "oldest" else _cdk_extra_range()
    home = tmp_path_factory.mktemp(f"cdk-{which}")
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement, "constructs>=10.0.0,<11"],
        capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = dict(os.environ, PYTHONPATH=str(REPO / "constructs"))
    if NODE_BIN.is_dir():
        env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.run(
        [str(python), str(REPO / "tests" / "cdk_apps" / "compat_app.py")],
        capture_output=True, text=True, timeout=600, env=env, cwd=str(home),
    )
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout)
    if which == "oldest":
        assert "==" + result["aws_cdk"] in requirement
    print(f"aws-cdk-lib {result['aws_cdk']}")
    assert result["names"] == ["Team-B", "compat-a-49b777ae", "compat-c-3233e635"]
    assert result["types"].count("AWS::SageMaker::NotebookInstance") == 3
    # ordered grants: A depends on its role's default policy (the grants), B and C too where they have one
    a_deps = next(v for k, v in result["depends_on"].items() if k.startswith("A"))
    assert any(p in a_deps for p in result["policies"]), result
    assert result["immutable_warning"] is True
