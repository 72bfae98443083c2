"""DynamoDB tables with the library defaults: on-demand, point-in-time recovery, encryption."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import validation

#: Attribute names Powertools idempotency writes (its DynamoDBPersistenceLayer defaults).
IDEMPOTENCY_KEY = "id"
IDEMPOTENCY_TTL = "expiration"


def table(
    scope: Construct,
    construct_id: str,
    *,
    partition_key: str,
    sort_key: str | None = None,
    time_to_live_attribute: str | None = None,
    stream: ddb.StreamViewType | None = None,
    existing_table: ddb.ITable | None = None,
    table_props: dict[str, Any] | None = None,
    existing_table_name: str = "existing_table",
    table_props_name: str = "table_props",
) -> ddb.ITable:
    """Resolve a pattern's table: an injected one or a new table from defaults + ``table_props``.

    Keys are the pattern's contract with its handlers, so ``table_props`` cannot change them.
    """
    validation.exclusive(**{existing_table_name: existing_table, table_props_name: table_props})
    if existing_table is not None:
        return existing_table
    props = dict(table_props or {})
    for forced in ("partition_key", "sort_key", "stream"):
        if forced in props:
            raise ValueError(f"{table_props_name}[{forced!r}] is set by the pattern and cannot be overridden")
    props.setdefault("billing_mode", ddb.BillingMode.PAY_PER_REQUEST)
    props.setdefault("encryption", ddb.TableEncryption.AWS_MANAGED)
    props.setdefault(
        "point_in_time_recovery_specification",
        ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
    )
    return ddb.Table(
        scope,
        construct_id,
        partition_key=ddb.Attribute(name=partition_key, type=ddb.AttributeType.STRING),
        sort_key=ddb.Attribute(name=sort_key, type=ddb.AttributeType.STRING) if sort_key else None,
        time_to_live_attribute=time_to_live_attribute,
        stream=stream,
        **props,
    )


def idempotency_table(scope: Construct, construct_id: str = "IdempotencyTable") -> ddb.Table:
    """The table Powertools idempotency persists to; records expire through TTL."""
    created = table(scope, construct_id, partition_key=IDEMPOTENCY_KEY, time_to_live_attribute=IDEMPOTENCY_TTL)
    assert isinstance(created, ddb.Table)
    return created


#: The item actions Powertools' DynamoDBPersistenceLayer calls (no scans, queries or batch writes).
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


def grant_idempotency(idempotency: ddb.ITable, grantee: iam.IGrantable) -> iam.Grant:
    """Least privilege for a function persisting Powertools idempotency records to ``idempotency``."""
    return idempotency.grant(grantee, *IDEMPOTENCY_ACTIONS)
