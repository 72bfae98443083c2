"""cdk-nag acknowledgements, kept next to the resource they concern.

cdk-nag 3.x runs as a policy-validation plugin; an acknowledgement on a construct covers it and its
children. Every acknowledgement carries a reason specific to the resource.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

XRAY_WILDCARD = (
    "AwsSolutions-IAM5[Resource::*]",
    "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
)


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding (use the plain id, e.g. ``AwsSolutions-SQS3``) with its reason."""
    if len(reason) < 20:
        raise ValueError(f"the reason for {rule_id} must explain the exception (given {reason!r})")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_all(construct: IConstruct, findings: dict[str, str] | tuple[tuple[str, str], ...]) -> None:
    """Acknowledge several findings on one construct."""
    items = findings.items() if isinstance(findings, dict) else findings
    for rule_id, reason in items:
        acknowledge(construct, rule_id, reason)
