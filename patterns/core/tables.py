"""DynamoDB tables with the library defaults: on-demand, point-in-time recovery, encryption."""

from __future__ import annotations

from typing import Any

from aws_cdk import Token
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import validation

#: Attribute names Powertools idempotency writes (its DynamoDBPersistenceLayer defaults).
IDEMPOTENCY_KEY = "id"
IDEMPOTENCY_TTL = "expiration"


def known_key_schema(existing: ddb.ITable) -> dict[str, tuple[str, str]] | None:
    """``{"HASH": (name, type), "RANGE": (name, type)}`` of a table defined in this app, or None where
    synth cannot know it (an imported table, or a schema that is a token)."""
    cfn = existing.node.default_child
    if not isinstance(cfn, (ddb.CfnTable, ddb.CfnGlobalTable)):
        return None
    schema, definitions = cfn.key_schema, cfn.attribute_definitions
    if Token.is_unresolved(schema) or Token.is_unresolved(definitions):
        return None
    types = {d.attribute_name: d.attribute_type for d in definitions}  # type: ignore[union-attr]
    return {k.key_type: (k.attribute_name, types.get(k.attribute_name, "?")) for k in schema}  # type: ignore[union-attr]


def _describe(keys: dict[str, tuple[str, str]]) -> str:
    roles = (("HASH", "partition"), ("RANGE", "sort"))
    described = [f"{role} key {keys[kind][0]!r} ({keys[kind][1]})" for kind, role in roles if kind in keys]
    return " and ".join(described) if "RANGE" in keys else f"{described[0]} and no sort key"


def check_key_schema(
    existing: ddb.ITable, *, partition_key: str, sort_key: str | None, existing_table_name: str
) -> None:
    """Raise when an injected table defined in the app does not have the keys the handlers use.

    An imported table's keys cannot be known at synth time; the prop's docstring states them.
    """
    actual = known_key_schema(existing)
    if actual is None:
        return
    expected = {"HASH": (partition_key, "S"), **({"RANGE": (sort_key, "S")} if sort_key else {})}
    if actual != expected:
        raise ValueError(
            f"{existing_table_name} must have {_describe(expected)}, string-typed as the handlers write them "
            f"(given {existing.node.path} with {_describe(actual)})"
        )


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

    Keys are the pattern's contract with its handlers, so ``table_props`` cannot change them, and an
    ``existing_table`` defined in the app must have them (``check_key_schema``).
    """
    validation.exclusive(**{existing_table_name: existing_table, table_props_name: table_props})
    if existing_table is not None:
        check_key_schema(
            existing_table, partition_key=partition_key, sort_key=sort_key, existing_table_name=existing_table_name
        )
        return existing_table
    props = dict(table_props or {})
    forced = ("partition_key", "sort_key", "stream", *(("time_to_live_attribute",) if time_to_live_attribute else ()))
    validation.reserved(table_props_name, props, forced, "the pattern's handlers read and write these keys")
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
