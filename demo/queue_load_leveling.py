"""QueueLoadLevelingDemo: a webhook that takes bursts and feeds a deliberately slow store."""

from __future__ import annotations

import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.queue_load_leveling import QueueLoadLeveling

#: The demo's downstream takes this long per request: slow enough that a burst visibly queues.
STORE_DELAY_MS = 100


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 3 QueueLoadLeveling: API -> intake -> SQS -> concurrency-capped consumer -> slow store",
    )
    destroy = {"removal_policy": RemovalPolicy.DESTROY}
    # Batches of 5 split a burst into many batches, so the concurrency limit (2) is what paces the store.
    pattern = QueueLoadLeveling(
        stack, "Webhook",
        reserved_concurrency=2,
        batch_size=5,
        consumer_environment={"STORE_DELAY_MS": str(STORE_DELAY_MS)},
        store_table_props=destroy,
        status_table_props=destroy,
    )
    CfnOutput(stack, "RequestsUrl", value=pattern.url)
    CfnOutput(stack, "RestApiId", value=pattern.api.rest_api_id)
    CfnOutput(stack, "QueueUrl", value=pattern.queue.queue_url)
    assert pattern.dead_letter_queue is not None
    CfnOutput(stack, "DeadLetterQueueUrl", value=pattern.dead_letter_queue.queue_url)
    CfnOutput(stack, "StoreTableName", value=pattern.store_table.table_name)
    CfnOutput(stack, "StatusTableName", value=pattern.status_table.table_name)
    CfnOutput(stack, "ConsumerFunctionName", value=pattern.consumer.function_name)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """POST one webhook call: 202 with an id and a Location, pending, then done with one stored entry."""
    url = ctx.outputs["RequestsUrl"].rstrip("/")
    marker = f"demo-{uuid.uuid4().hex[:8]}"
    accepted = ctx.http("POST", url, {"event": "order.placed", "marker": marker})
    request_id = accepted.body.get("requestId") if isinstance(accepted.body, dict) else None
    location = {k.lower(): v for k, v in accepted.headers.items()}.get("location", "")
    if accepted.status != 202 or not request_id or not location.endswith(f"/requests/{request_id}"):
        return DriveResult(sent="POST /requests", outcome=f"not accepted: {accepted.status} {accepted.body}", ok=False)

    def done() -> str | None:
        got = ctx.http("GET", f"{url}/{request_id}")
        return "done" if got.status == 200 and got.body.get("status") == "done" else None

    finished = ctx.wait_for(done, timeout=30)
    entries = ctx.client("dynamodb").query(
        TableName=ctx.outputs["StoreTableName"], KeyConditionExpression="requestId = :id",
        ExpressionAttributeValues={":id": {"S": request_id}},
    )["Count"]
    unknown = ctx.http("GET", f"{url}/{uuid.uuid4()}")
    return DriveResult(
        sent="POST /requests",
        outcome=f"202 {request_id[:8]}…, status {finished or 'still pending'}, {entries} stored entry, "
        f"unknown id {unknown.status}",
        ok=finished == "done" and entries == 1 and unknown.status == 404,
    )
