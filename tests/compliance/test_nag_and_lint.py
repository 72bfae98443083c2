"""Rung 3: cdk-nag (AwsSolutions + Serverless) and cfn-lint over every demo stack.

Zero unacknowledged findings: every exception is acknowledged next to its resource with a reason.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from patterns import catalog

STACKS = [e.demo_stack for e in catalog.entries()]


def _violations(report) -> list[str]:
    found = []
    for violation in report.violations:
        paths = ", ".join(getattr(r, "construct_path", None) or str(r) for r in violation.violating_resources)
        found.append(f"{violation.rule_name}: {violation.description[:120]} @ {paths}")
    return found


@pytest.mark.parametrize("stack_id", STACKS)
@pytest.mark.parametrize("pack", [AwsSolutionsChecks, ServerlessChecks], ids=["AwsSolutions", "Serverless"])
def test_no_unacknowledged_nag_findings(demo_app, pack, stack_id: str) -> None:
    report = pack().validate_scope(demo_app.stacks[stack_id])
    assert _violations(report) == []


def test_cfn_lint_finds_no_errors(demo_app) -> None:
    templates = sorted(str(p) for p in demo_app.outdir.glob("*.template.json"))
    assert len(templates) == len(STACKS)
    # W3005: CDK adds a redundant DependsOn on a function's role; it is harmless.
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "json", "-i", "W3005", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    problems = [
        f"{f['Rule']['Id']} {f['Filename'].rsplit('/', 1)[-1]}: {f['Message']}"
        for f in findings
        if f["Level"] in ("Error", "Warning")
    ]
    assert problems == []
