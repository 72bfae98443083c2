"""AWS::SSM::Parameter: moto's model reads only the Name property and fails on an unnamed parameter."""

from __future__ import annotations

from typing import Any

from .base import _LocalModel


class SsmParameter(_LocalModel):
    """A String / StringList parameter. Ref: the parameter name; GetAtt: Type, Value."""

    CFN_TYPE = "AWS::SSM::Parameter"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> SsmParameter:
        from moto.ssm.models import ssm_backends

        name = props.get("Name") or resource_name
        tags = props.get("Tags") or {}
        parameter = ssm_backends[account_id][region_name].put_parameter(
            name=name,
            description=props.get("Description"),
            value=str(props["Value"]),
            parameter_type=props["Type"],
            allowed_pattern=props.get("AllowedPattern"),
            keyid=None,
            overwrite=False,
            # CloudFormation's Tags here are a map; the API takes a list.
            tags=[{"Key": k, "Value": v} for k, v in tags.items()] if isinstance(tags, dict) else tags,
            data_type=props.get("DataType", "text"),
            tier=props.get("Tier"),
            policies=props.get("Policies"),
        )
        return cls(parameter.name, {"Type": parameter.parameter_type, "Value": parameter.value})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.ssm.models import ssm_backends

        backend = ssm_backends[account_id][region_name]
        if backend.get_parameter(resource_name) is not None:
            backend.delete_parameter(resource_name)
