"""notebook_lifecycle.testing.readable_template: the public snapshot helper."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cdk_apps import REPO, example_template, new_app, only  # noqa: I001  (sets PATH for jsii first)
from cdk_apps.composition import build as build_composition

import aws_cdk as cdk

from notebook_lifecycle import BundleError, __version__
from notebook_lifecycle.shipped import shipped_file
from notebook_lifecycle.testing import readable_template

LCC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"


def _on_start(view: dict[str, Any]) -> dict[str, Any]:
    return only(view, LCC)[1]["Properties"]["OnStart"][0]["Content"]


def test_library_files_are_one_line_each_and_the_compressed_length_is_left_out() -> None:
    content = _on_start(readable_template(example_template()))
    assert "content_length" not in content
    files = content["files"]
    # the example has no background step, ASCII names, and every step has a #! line
    runner = shipped_file("run.sh", ("bg", "wide", "bash"))
    assert files[".notebook-lifecycle/run.sh"] == f"notebook-lifecycle {__version__} sha256:{hashlib.sha256(runner).hexdigest()}"
    assert files[".notebook-lifecycle/features/autostop.py"].startswith(f"notebook-lifecycle {__version__} sha256:")
    # what the user's input made stays text: their scripts, the files made from their feature flags
    assert files["10-tune-os.sh"].startswith("#!/bin/bash\n")
    assert files[".notebook-lifecycle/features/autostop.conf"] == "NL_IDLE_MINUTES='60'\nNL_IGNORE_CONNECTIONS='0'\n"
    assert ".notebook-lifecycle/plan" not in files and content["plan"][0]["name"].startswith("feature:")
    assert ".notebook-lifecycle/run.sh" not in content["executable"]


def test_pin_library_false_leaves_nothing_that_an_upgrade_changes() -> None:
    content = _on_start(readable_template(example_template(), pin_library=False))
    library = {k: v for k, v in content["files"].items() if v == "notebook-lifecycle"}
    assert ".notebook-lifecycle/run.sh" in library and ".notebook-lifecycle/features/autostop.sh" in library
    assert __version__ not in json.dumps(content)


def test_reads_cdk_out_json_by_path_and_as_text(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    stack = build_composition(app)
    path = Path(app.synth().get_stack_by_name(stack.stack_name).template_full_path)
    from_path = readable_template(path)
    assert from_path == readable_template(str(path)) == readable_template(path.read_text())
    assert from_path == readable_template(json.loads(path.read_text()))
    views = [r["Properties"]["OnStart"][0]["Content"] for r in from_path["Resources"].values() if r["Type"] == LCC]
    # the hand-written previous configuration is not ours: kept as its base64
    assert sum(isinstance(v, str) for v in views) == 1 and sum(isinstance(v, dict) for v in views) == 2


def test_errors_name_the_problem() -> None:
    with pytest.raises(BundleError, match="not valid JSON"):
        readable_template("{nope")
    with pytest.raises(BundleError, match="expected a dict, JSON text or a path"):
        readable_template(42)  # type: ignore[arg-type]


def test_composition_snapshot(snapshot: Any) -> None:
    """The composition app's lifecycle configurations as a user's snapshot shows them."""
    app = new_app()
    stack = build_composition(app)
    view = readable_template(cdk.assertions.Template.from_stack(stack).to_json(), pin_library=False)
    configs = {k: v for k, v in view["Resources"].items() if v["Type"] == LCC}
    assert configs == snapshot


def test_the_readme_example_runs() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Snapshot-test your app", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)

    class Recorder:
        value: Any = None

        def __eq__(self, other: object) -> bool:
            self.value = other
            return True

    recorder = Recorder()
    namespace["test_notebook_stack"](recorder)
    assert _on_start(recorder.value)["files"]["10-hello.sh"] == "#!/bin/bash\necho hello\n"
