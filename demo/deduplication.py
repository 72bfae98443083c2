"""DeduplicationDemo: events put to a Kinesis stream are stored once per id within a 1-hour window."""

from __future__ import annotations

import json
import uuid

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.deduplication import Deduplication

WINDOW = Duration.hours(1)


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 24 Deduplication: Kinesis -> dedup function (TTL window table) -> store table",
    )
    dedup = Deduplication(
        stack, "Dedup",
        dedup_window=WINDOW,
        window_table_props={"removal_policy": RemovalPolicy.DESTROY},
        store_table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "StreamName", value=dedup.stream.stream_name)
    CfnOutput(stack, "WindowTableName", value=dedup.window_table.table_name)
    CfnOutput(stack, "StoreTableName", value=dedup.store_table.table_name)
    CfnOutput(stack, "OnFailureQueueUrl", value=dedup.on_failure_queue.queue_url)
    return stack


def event(event_id: str, **fields: object) -> bytes:
    """One producer event as the demo and the e2e tests put it to the stream."""
    return json.dumps({"id": event_id, **fields}).encode()


def drive(ctx: DriveContext) -> DriveResult:
    """Put one event three times (a retrying producer): the store holds it once, accepted once."""
    event_id = f"order-{uuid.uuid4().hex[:8]}"
    kinesis = ctx.client("kinesis")
    for attempt in range(3):
        data = event(event_id, amount=42, attempt=attempt)
        kinesis.put_record(StreamName=ctx.outputs["StreamName"], Data=data, PartitionKey=event_id)
    ddb = ctx.client("dynamodb")

    def stored() -> dict | None:
        return ddb.get_item(
            TableName=ctx.outputs["StoreTableName"], Key={"event_id": {"S": event_id}}, ConsistentRead=True
        ).get("Item")

    item = ctx.wait_for(stored, timeout=30)
    accepted = int(item["accepted"]["N"]) if item else 0
    first = json.loads(item["payload"]["S"]).get("attempt") if item else None
    return DriveResult(
        sent=f"3 puts of {event_id}",
        outcome=f"stored once (accepted={accepted}, payload of attempt {first})" if item else "never stored",
        ok=accepted == 1 and first == 0,
    )
