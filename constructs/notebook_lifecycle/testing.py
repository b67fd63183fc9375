"""Helpers for testing apps that use notebook-lifecycle: readable snapshots of synthesized templates.

:func:`readable_template` turns a CloudFormation template into one whose
lifecycle scripts read as what they hold: the user's files as text, the run
plan and the settings. Use it with a snapshot library such as syrupy::

    from aws_cdk.assertions import Template
    from notebook_lifecycle.testing import readable_template

    def test_stack(snapshot):
        assert readable_template(Template.from_stack(stack).to_json()) == snapshot

Pure standard library (plus the package's own pure-Python core); no CDK here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, Union

from .bundle import PLAN_PATH, RUNNER_PATH
from .errors import BundleError
from .features import FEATURES_DIR
from .scripts import PackedFile
from .unbundle import FoundBundle, _content_script, _is_ours, _lifecycle_entries, _readable_file, read_script

__all__ = ["readable_template", "readable_bundle"]

TemplateInput = Union[Mapping[str, Any], str, bytes, "os.PathLike[str]"]


def readable_template(template: TemplateInput, *, pin_library: bool = True) -> dict[str, Any]:
    """A copy of ``template`` in which every lifecycle ``Content`` made by notebook-lifecycle reads as files.

    :param template: the template as a dict (``Template.from_stack(stack).to_json()``), as JSON
        text, or the path of a JSON template (``cdk.out/<Stack>.template.json``).
    :param pin_library: show each file the library ships (the runner, the feature programs) as
        one line, ``notebook-lifecycle <version> sha256:<digest>``, so a snapshot records which
        library code will run; ``False`` shows ``notebook-lifecycle`` alone, so upgrading the
        library changes no snapshot.

    Each ``Content`` becomes :func:`readable_bundle` of it: your files as text (binary files as
    size and sha256), the files generated from the feature flags (``*.conf``, ``profile.sh``,
    ``binaries.tsv``) as text, the run plan, install dir, deadline and compression, and each
    deploy-time value by name with its CloudFormation expression. The compressed length
    (which depends on the machine's zlib/liblzma) is left out. Contents not made by
    notebook-lifecycle are kept as they are.

    :raises BundleError: when the input is not a JSON template, or a script made by
        notebook-lifecycle is damaged.
    """
    doc = _load(template)
    out = copy.deepcopy(doc)
    for logical_id, hook, entry in _lifecycle_entries(out):
        where = f"{logical_id}/{hook}"
        found = _content_script(entry.get("Content"), where)
        if found is not None and _is_ours(found[0]):
            bundle = read_script(found[0], label=where, values=found[1])
            entry["Content"] = readable_bundle(bundle, pin_library=pin_library)
    return out


def readable_bundle(bundle: FoundBundle, *, pin_library: bool = True) -> dict[str, Any]:
    """The snapshot view of one bundle (see :func:`readable_template`)."""
    library = _library_files()
    files = {}
    for f in bundle.files:
        if f.path == PLAN_PATH:
            continue  # shown as "plan"
        if f.path in library:
            digest = hashlib.sha256(f.data).hexdigest()
            files[f.path] = f"notebook-lifecycle {bundle.version} sha256:{digest}" if pin_library else "notebook-lifecycle"
        else:
            files[f.path] = _readable_file(PackedFile(f.path, f.data, f.executable))
    view: dict[str, Any] = {
        "hook": bundle.hook,
        "install_dir": bundle.install_dir,
        "deadline_seconds": bundle.deadline_seconds,
        "compression": bundle.compression,
        "plan": [e.as_dict() for e in bundle.plan],
        "executable": [f.path for f in bundle.files if f.executable and f.path not in library],
        "files": files,
    }
    if bundle.deploy_values:
        view["deploy_time_values"] = dict(bundle.deploy_values)
    return view


@lru_cache(maxsize=1)
def _library_files() -> frozenset[str]:
    """Paths (inside a bundle) of the files the library ships: the runner and the feature programs."""
    paths = {RUNNER_PATH}
    features = resources.files("notebook_lifecycle") / "on_instance" / "features"
    for entry in features.iterdir():
        if entry.is_file() and entry.name.endswith((".sh", ".py")):
            paths.add(f"{FEATURES_DIR}/{entry.name}")
    return frozenset(paths)


def _load(template: TemplateInput) -> dict[str, Any]:
    if isinstance(template, Mapping):
        return dict(template)
    if isinstance(template, os.PathLike):
        with open(template, encoding="utf-8") as fh:
            text = fh.read()
    elif isinstance(template, bytes):
        text = template.decode("utf-8")
    elif isinstance(template, str):
        text = template
        if not text.lstrip().startswith("{") and os.path.isfile(text):
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
    else:
        raise BundleError(f"template: expected a dict, JSON text or a path, got {type(template).__name__}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"template: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(doc, dict):
        raise BundleError("template: JSON, but not a CloudFormation template (expected an object)")
    return doc
