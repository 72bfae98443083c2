"""StorageFirstDemo: POST /submissions is stored in SQS by API Gateway itself; a processor records it."""

from __future__ import annotations

import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.storage_first import StorageFirst


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 4 StorageFirst: API Gateway -> SQS (no Lambda) -> processor")
    intake = StorageFirst(stack, "Intake", store="sqs", table_props={"removal_policy": RemovalPolicy.DESTROY})
    assert intake.queue is not None and intake.dead_letter_queue is not None
    CfnOutput(stack, "SubmissionsUrl", value=intake.url)
    CfnOutput(stack, "RestApiId", value=intake.api.rest_api_id)
    CfnOutput(stack, "QueueUrl", value=intake.queue.queue_url)
    CfnOutput(stack, "DeadLetterQueueUrl", value=intake.dead_letter_queue.queue_url)
    CfnOutput(stack, "TableName", value=intake.table.table_name)
    CfnOutput(stack, "ProcessorName", value=intake.function.function_name)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """Submit one request: the API answers 202 with the SQS message id, then the processor records it."""
    marker = uuid.uuid4().hex[:8]
    reply = ctx.http("POST", ctx.outputs["SubmissionsUrl"], {"kind": "demo.signup", "payload": {"marker": marker}})
    message_id = reply.body.get("messageId") if isinstance(reply.body, dict) else None
    if reply.status != 202 or not message_id:
        return DriveResult(sent="POST /submissions", outcome=f"not stored: {reply.status} {reply.body}", ok=False)
    ddb = ctx.client("dynamodb")

    def recorded() -> dict | None:
        return ddb.get_item(
            TableName=ctx.outputs["TableName"], Key={"id": {"S": message_id}}, ConsistentRead=True
        ).get("Item")

    item = ctx.wait_for(recorded, timeout=30)
    ok = bool(item) and item["kind"]["S"] == "demo.signup" and marker in item["payload"]["S"]
    outcome = f"202 messageId={message_id}; " + ("recorded by the processor" if item else "never recorded")
    return DriveResult(sent="POST /submissions kind=demo.signup", outcome=outcome, ok=ok)
