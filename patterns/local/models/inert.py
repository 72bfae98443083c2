"""Ref and Fn::GetAtt of the INERT types (accepted, no local effect), per the resource reference.

An inert resource still has to answer Ref and GetAtt the way CloudFormation documents them (an
ARN where the docs say ARN), so wiring through it looks like AWS; an attribute the type does not
have is an error, never an invented value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .base import _LocalModel

#: type -> (physical id, attributes) from (generated name, account, region, properties)
Shape = Callable[[str, str, str, dict[str, Any]], tuple[str, dict[str, Any]]]


def _xray_group(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = props.get("GroupName") or name
    arn = f"arn:aws:xray:{region}:{account}:group/{group}/{uuid.uuid4().hex[:26].upper()}"
    return arn, {"GroupARN": arn}


def _xray_rule(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rule = (props.get("SamplingRule") or {}).get("RuleName") or props.get("RuleName") or name[:32]
    arn = f"arn:aws:xray:{region}:{account}:sampling-rule/{rule}"
    return arn, {"RuleARN": arn}


def _composite_alarm(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    alarm = props.get("AlarmName") or name
    return alarm, {"Arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"}


def _query_definition(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    query_id = str(uuid.uuid4())
    return query_id, {"QueryDefinitionId": query_id}


def _code_signing(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    config_id = f"csc-{uuid.uuid4().hex[:17]}"
    arn = f"arn:aws:lambda:{region}:{account}:code-signing-config:{config_id}"
    return arn, {"CodeSigningConfigArn": arn, "CodeSigningConfigId": config_id}


def _plain(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return name, {}


def _bus_policy(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return str(props.get("StatementId") or name), {}


def _wait_handle(name: str, account: str, region: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Ref is the presigned URL a signal would be sent to.
    return f"https://cloudformation-waitcondition-{region}.s3.amazonaws.com/{account}/{name}", {}


SHAPES: dict[str, Shape] = {
    "AWS::CDK::Metadata": _plain,
    "AWS::CloudFormation::WaitConditionHandle": _wait_handle,
    "AWS::XRay::Group": _xray_group,
    "AWS::XRay::SamplingRule": _xray_rule,
    "AWS::CloudWatch::CompositeAlarm": _composite_alarm,
    "AWS::CloudWatch::AnomalyDetector": _plain,
    "AWS::Logs::QueryDefinition": _query_definition,
    "AWS::Lambda::CodeSigningConfig": _code_signing,
    "AWS::Events::EventBusPolicy": _bus_policy,
}

class InertResource(_LocalModel):
    """A resource of an INERT type: it exists for Ref / GetAtt, and does nothing."""

    CFN_TYPE = "LocalCloud::Inert"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> InertResource:
        from .inert import SHAPES

        shape = SHAPES[kwargs.get("ResourceType", "AWS::CDK::Metadata")]
        props = cloudformation_json.get("Properties") or {}
        physical, attributes = shape(resource_name, account_id, region_name, props)
        resource = cls(physical, attributes)
        resource.resource_type = kwargs.get("ResourceType", "")
        return resource

    def cloudformation_type(self) -> str:  # type: ignore[override]
        return getattr(self, "resource_type", self.CFN_TYPE)
