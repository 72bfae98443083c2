"""Rung 3: cdk-nag (AwsSolutions + Serverless) and cfn-lint over every demo stack.

Zero unacknowledged findings: every exception is acknowledged next to its resource with a reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from patterns import catalog

STACKS = [stack for e in catalog.entries() for stack in e.stacks]


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


def _cfn_lint(templates: list[str]) -> list[str]:
    """Errors and warnings of cfn-lint over ``templates``, one line each."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "json", "-i", "W3005", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    # cfn-lint's exit code is a bit mask of finding levels (2 error, 4 warning, 8 info); anything
    # else, or no JSON on stdout, means it did not run: never read that as "no findings".
    assert result.returncode & ~0b1110 == 0, result.stderr[-2000:]
    return [
        f"{f['Rule']['Id']} {f['Filename'].rsplit('/', 1)[-1]}: {f['Message']}"
        for f in json.loads(result.stdout)
        if f["Level"] in ("Error", "Warning")
    ]


def test_cfn_lint_finds_no_errors(demo_app) -> None:
    # W3005: CDK adds a redundant DependsOn on a function's role; it is harmless.
    templates = sorted(str(p) for p in demo_app.outdir.glob("*.template.json"))
    assert len(templates) == len(STACKS)
    assert _cfn_lint(templates) == []


def test_cfn_lint_reports_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "Broken.template.json"
    broken.write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Bogus": 1}}}}))
    assert any(line.startswith("E3002") for line in _cfn_lint([str(broken)]))
