"""DecoupledMessagingDemo: a producer function hands work to a consumer through a queue."""

from __future__ import annotations

import json
import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.decoupled_messaging import DecoupledMessaging


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 2 DecoupledMessaging: producer -> SQS (DLQ) -> consumer with partial batch responses",
    )
    pattern = DecoupledMessaging(stack, "Messaging", table_props={"removal_policy": RemovalPolicy.DESTROY})
    CfnOutput(stack, "ProducerFunctionName", value=pattern.producer.function_name)
    CfnOutput(stack, "QueueUrl", value=pattern.queue.queue_url)
    assert pattern.dead_letter_queue is not None
    CfnOutput(stack, "DeadLetterQueueUrl", value=pattern.dead_letter_queue.queue_url)
    CfnOutput(stack, "TableName", value=pattern.table.table_name)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """Produce three messages; each appears in the output table, applied exactly once."""
    ids = [f"demo-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
    request = {"messages": [{"id": i, "kind": "order.placed", "payload": {"n": n}} for n, i in enumerate(ids)]}
    response = ctx.client("lambda").invoke(
        FunctionName=ctx.outputs["ProducerFunctionName"], Payload=json.dumps(request).encode()
    )
    produced = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError") or sorted(produced.get("sent", [])) != sorted(ids):
        return DriveResult(sent="3 messages to the producer", outcome=f"producer answered {produced}", ok=False)
    ddb = ctx.client("dynamodb")

    def applied() -> list[int] | None:
        items = [ddb.get_item(TableName=ctx.outputs["TableName"], Key={"id": {"S": i}}).get("Item") for i in ids]
        return [int(item["timesApplied"]["N"]) for item in items] if all(items) else None

    counts = ctx.wait_for(applied, timeout=30) or []
    return DriveResult(
        sent="3 messages to the producer",
        outcome=f"{len(counts)}/3 in the output table, applied {counts or 'never'} times",
        ok=counts == [1, 1, 1],
    )
