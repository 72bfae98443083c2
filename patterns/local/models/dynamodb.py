"""DynamoDB: global tables, TTL and in-place table updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import _LocalModel

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


class DynamoDbGlobalTable(_LocalModel):
    """AWS::DynamoDB::GlobalTable (CDK's TableV2), as a table in the deployment region."""

    CFN_TYPE = "AWS::DynamoDB::GlobalTable"
    NAME_PROPERTY = "TableName"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        from moto.dynamodb.models import Table

        replica = next((r for r in props.get("Replicas", []) if r.get("Region") == region_name), {})
        table_props: dict[str, Any] = {
            k: props[k]
            for k in (
                "KeySchema",
                "AttributeDefinitions",
                "LocalSecondaryIndexes",
                "StreamSpecification",
                "SSESpecification",
                "TimeToLiveSpecification",
            )
            if k in props
        }
        table_props["BillingMode"] = props.get("BillingMode", "PAY_PER_REQUEST")
        table_props["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props.get("GlobalSecondaryIndexes", [])
        ]
        if "DeletionProtectionEnabled" in replica:
            table_props["DeletionProtectionEnabled"] = replica["DeletionProtectionEnabled"]
        if replica.get("Tags"):
            table_props["Tags"] = replica["Tags"]
        table = Table.create_from_cloudformation_json(
            resource_name, {"Properties": table_props}, account_id, region_name
        )
        _apply_ttl(table, props.get("TimeToLiveSpecification"), account_id, region_name)
        return table

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        _update_table(original_resource, cloudformation_json["Properties"], account_id, region_name)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends[account_id][region_name].delete_table(resource_name)


def _apply_ttl(table: Any, spec: Mapping[str, Any] | None, account_id: str, region_name: str) -> None:
    if spec and str(spec.get("Enabled", "")).lower() == "true":
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends[account_id][region_name].update_time_to_live(
            table.name, {"Enabled": True, "AttributeName": spec["AttributeName"]}
        )


def _update_table(table: Any, props: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """In-place table update: streams and TTL are what CDK changes between deploys."""
    streams = props.get("StreamSpecification")
    if streams and not (table.stream_specification or {}).get("StreamEnabled"):
        spec = {"StreamEnabled": True, "StreamViewType": streams["StreamViewType"]}
        table.set_stream_specification(spec)
    _apply_ttl(table, props.get("TimeToLiveSpecification"), account_id, region_name)


def _dynamodb_table_model() -> type:
    from moto.dynamodb.models import Table

    class TableWithTtl(Table):  # type: ignore[misc]
        """moto's table model ignores TimeToLiveSpecification and cannot update."""

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            table = Table.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            _apply_ttl(table, cloudformation_json["Properties"].get("TimeToLiveSpecification"), account_id, region_name)
            return table

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            _update_table(original_resource, cloudformation_json["Properties"], account_id, region_name)
            return original_resource

    return TableWithTtl
