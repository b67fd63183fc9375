"""Snapshots (syrupy) of synthesized templates, with each lifecycle bundle shown unpacked.

``notebook_lifecycle.unbundle.readable_template`` replaces every lifecycle
``Content`` by its files (as text), run plan and settings, so a snapshot diff
shows which script changed and how. Three things are normalized, because they
are not this project's input or vary between machines:

* ``content_length``: compressed bytes differ between zlib/liblzma builds
  (checked against the 16,384 limit here instead);
* the files notebook-lifecycle ships (the runner and the feature programs under
  ``.notebook-lifecycle/``) become a marker; the ``*.conf``/``profile.sh`` files
  generated from the feature flags stay as text;
* nothing else: names, ARNs and logical ids are deterministic.

Update after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_apps import example_template, locked_down_template, new_app, template  # noqa: I001

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from notebook_lifecycle import CONTENT_LIMIT, Autostop, Features, LifecycleConfig, NotebookInstance, StartupScripts
from notebook_lifecycle.unbundle import read_bundles, readable_template

SHIPPED_PREFIX = ".notebook-lifecycle/"
GENERATED_SUFFIXES = (".conf", ".tsv", "profile.sh")


def _normalize_bundle(view: dict[str, Any]) -> dict[str, Any]:
    assert 0 < view["content_length"] <= CONTENT_LIMIT
    view = dict(view)
    view["content_length"] = f"<at most {CONTENT_LIMIT}>"
    files = {}
    for path, text in view["files"].items():
        if path.startswith(SHIPPED_PREFIX) and not path.endswith(GENERATED_SUFFIXES):
            text = "<shipped with notebook-lifecycle>"
        files[path] = text
    view["files"] = files
    return view


def readable(tpl: dict[str, Any]) -> dict[str, Any]:
    """The template with every lifecycle bundle unpacked and normalized."""
    out = readable_template(tpl)
    found = 0
    for res in out.get("Resources", {}).values():
        if res.get("Type") != "AWS::SageMaker::NotebookInstanceLifecycleConfig":
            continue
        for key in ("OnStart", "OnCreate"):
            for entry in res["Properties"].get(key, []):
                assert isinstance(entry["Content"], dict), "a lifecycle Content was left as base64"
                entry["Content"] = _normalize_bundle(entry["Content"])
                found += 1
    assert found == len(read_bundles(json.dumps(tpl)))
    return out


def test_example_app(snapshot: Any) -> None:
    assert readable(example_template()) == snapshot


def test_locked_down_app(snapshot: Any) -> None:
    assert readable(locked_down_template()) == snapshot


def test_shared_lifecycle_config_on_create_gzip_and_role_passed_in(snapshot: Any) -> None:
    app = new_app()
    stack = cdk.Stack(app, "Shared")
    role = iam.Role(stack, "TeamRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    lcc = LifecycleConfig(
        stack,
        "TeamLifecycle",
        on_start=StartupScripts.from_files(
            {"start.sh": "#!/bin/bash\necho \"hello from $(whoami)\"\n", "lib/common.sh": "greet() { echo hi; }\n"},
            background=["start.sh"],
        ),
        on_create=StartupScripts.from_files({"create.sh": "#!/bin/bash\nmkdir -p ~/SageMaker/projects\n"}),
        features=Features(autostop=Autostop(idle_minutes=120, ignore_connections=True), environment={"TEAM": "a"}),
        lifecycle_config_name="team-a-lifecycle",
        compression="gzip",
    )
    for i, name in enumerate(("Alice-Notebook", "bob-notebook")):
        NotebookInstance(stack, f"Notebook{i}", lifecycle_config=lcc, role=role, notebook_instance_name=name)
    assert readable(template(stack)) == snapshot


@pytest.mark.parametrize("build", [example_template, locked_down_template])
def test_snapshot_view_round_trips_every_script(build: Any) -> None:
    tpl = build()
    bundles = read_bundles(json.dumps(tpl))
    assert bundles, "no lifecycle bundle found"
    for found in bundles:
        assert found.content_length <= CONTENT_LIMIT
        assert found.script.startswith("#!/bin/bash\n")
