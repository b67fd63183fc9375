"""Compliance tools on synthesized templates: cfn-lint, cdk-nag 3 (five packs) and checkov.

* cfn-lint (>= 1.58) passes on every template synthesized here: the example
  app, the locked-down app and the option variants of ``cdk_apps.build_variants``.
* cdk-nag 3 (``Validations.of(app).add_plugins(...)``, not Aspects): the
  locked-down setup has zero findings under AwsSolutions, HIPAA Security,
  NIST 800-53 R4, NIST 800-53 R5 and PCI DSS 3.2.1, without acknowledgments.
  As a control, the open example app is flagged by every pack, but only for
  the notebook's network/KMS settings, never IAM5 (no wildcard in what this
  library creates), and neither are the variants.
* checkov passes the locked-down template; the example fails only CKV_AWS_187
  (no customer-managed KMS key, by design).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_apps import (  # noqa: I001  (sets PATH for jsii first)
    EXAMPLE_STACK,
    LOCKED_DOWN_STACK,
    build_example,
    build_locked_down,
    build_locked_down_s3,
    build_variants,
    new_app,
)

import aws_cdk as cdk
from nag import PACKS, nag_findings

BIN = Path(sys.executable).parent
# What each pack says about the open example (public network, no CMK): nothing else.
EXPECTED_EXAMPLE_FINDINGS = {
    "AwsSolutions": {"AwsSolutions-SM1", "AwsSolutions-SM2", "AwsSolutions-SM3"},
    **{
        pack: {f"{pack}-SageMakerNotebookInstanceKMSKeyConfigured", f"{pack}-SageMakerNotebookNoDirectInternetAccess"}
        for pack in ("HIPAA.Security", "NIST.800.53.R4", "NIST.800.53.R5", "PCI.DSS.321")
    },
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test app, synthesized once into one cloud assembly."""
    outdir = tmp_path_factory.mktemp("assembly")
    app = new_app(outdir=str(outdir))
    build_example(app)
    build_locked_down(app)
    build_locked_down_s3(app)
    build_variants(app)
    assembly = app.synth()
    return {s.stack_name: Path(s.template_full_path) for s in assembly.stacks}


# -- cfn-lint ------------------------------------------------------------------------------------------


def test_cfn_lint_passes_on_every_template(templates: dict[str, Path]) -> None:
    assert {EXAMPLE_STACK, LOCKED_DOWN_STACK, f"{LOCKED_DOWN_STACK}S3", "VariantNetworked", "VariantShared"} <= set(templates)
    version = subprocess.run([str(BIN / "cfn-lint"), "--version"], capture_output=True, text=True, timeout=60)
    major, minor = (int(x) for x in re.search(r"(\d+)\.(\d+)", version.stdout + version.stderr).groups())
    assert (major, minor) >= (1, 58), version.stdout
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", *map(str, templates.values())],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- cdk-nag -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_cdk_nag_locked_down_has_zero_findings(pack: str, tmp_path: Path) -> None:
    assert nag_findings(build_locked_down, pack, tmp_path) == []


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_cdk_nag_locked_down_with_s3_delivery_has_zero_findings(pack: str, tmp_path: Path) -> None:
    findings = nag_findings(build_locked_down_s3, pack, tmp_path)
    assert findings == []
    template = json.loads((tmp_path / f"{LOCKED_DOWN_STACK}S3.template.json").read_text())
    fetch = [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"
             for s in r["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "FetchLifecyclePayload"]
    assert len(fetch) == 1 and fetch[0]["Action"] == "s3:GetObject"  # the pack saw the grant, and passed it


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_cdk_nag_example_is_flagged_only_for_network_and_kms(pack: str, tmp_path: Path) -> None:
    findings = nag_findings(build_example, pack, tmp_path)
    rules = {rule for rule, _ in findings}
    assert rules == EXPECTED_EXAMPLE_FINDINGS[pack]  # the pack ran, and found only these
    assert {path for _, path in findings} == {f"{EXAMPLE_STACK}/Notebook/Resource"}
    assert not any("IAM5" in rule for rule in rules)


def test_cdk_nag_never_reports_iam5_or_iam4_for_what_the_library_creates(tmp_path: Path) -> None:
    def build(app: cdk.App) -> None:
        build_variants(app)
        build_example(app)

    findings = nag_findings(build, "AwsSolutions", tmp_path)
    assert findings, "expected the SageMaker network findings of the open variants"
    assert [f for f in findings if "IAM5" in f[0] or "IAM4" in f[0]] == []
    assert {rule for rule, _ in findings} <= {"AwsSolutions-SM1", "AwsSolutions-SM2", "AwsSolutions-SM3"}


# -- checkov ---------------------------------------------------------------------------------------------


def _checkov(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "checkov"), "-f", str(template), "--framework", "cloudformation", "--skip-download", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )


def test_checkov_passes_the_locked_down_setup(templates: dict[str, Path]) -> None:
    result = _checkov(templates[LOCKED_DOWN_STACK])
    assert result.returncode == 0, result.stdout + result.stderr
    passed = int(re.search(r"Passed checks: (\d+)", result.stdout).group(1))
    assert passed >= 20 and "Failed checks: 0" in result.stdout, result.stdout


def test_checkov_flags_the_example_only_for_the_missing_customer_managed_key(templates: dict[str, Path]) -> None:
    result = _checkov(templates[EXAMPLE_STACK])
    assert result.returncode == 1
    assert set(re.findall(r"Check: (CKV2?_AWS_\d+)", result.stdout)) == {"CKV_AWS_187"}, result.stdout
