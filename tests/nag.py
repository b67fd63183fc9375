"""cdk-nag 3 for the tests: the five packs, run as ``Validations`` plugins (not Aspects) on an app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from cdk_apps import new_app  # noqa: I001  (sets PATH for jsii first)

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R4Checks, NIST80053R5Checks, PCIDSS321Checks

PACKS = {
    "AwsSolutions": AwsSolutionsChecks,
    "HIPAA.Security": HIPAASecurityChecks,
    "NIST.800.53.R4": NIST80053R4Checks,
    "NIST.800.53.R5": NIST80053R5Checks,
    "PCI.DSS.321": PCIDSS321Checks,
}


def nag_findings(build: Callable[[cdk.App], Any], pack: str, outdir: Path) -> list[tuple[str, str]]:
    """(rule, construct path) of every cdk-nag finding of ``pack`` for the app that ``build`` makes."""
    app = new_app(outdir=str(outdir))
    build(app)
    cdk.Validations.of(app).add_plugins(PACKS[pack](app))
    try:
        app.synth()
    except Exception as exc:  # noqa: BLE001 - jsii wraps ValidationFailed in a RuntimeError
        assert "ValidationFailed" in str(exc), exc
    report = json.loads((outdir / "validation-report.json").read_text())
    findings = []
    for plugin in report["pluginReports"]:
        if plugin["pluginName"] == "Construct Annotations":  # warnings, with @aws-cdk/core:annotationsInValidationReport
            continue
        assert plugin["pluginName"] == pack
        for violation in plugin.get("violations", []):
            for construct in violation["violatingConstructs"]:
                findings.append((violation["ruleName"], construct["constructPath"]))
    return findings
