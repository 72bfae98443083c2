"""InternalEndpointDemo: a caller invokes a pricing worker synchronously and asynchronously."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.internal_endpoint import InternalEndpoint


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 13 InternalEndpoint: sync and async Lambda invocation with success/failure destinations",
    )
    pattern = InternalEndpoint(stack, "Pricing")
    assert pattern.success_queue is not None and pattern.failure_queue is not None
    CfnOutput(stack, "CallerFunctionName", value=pattern.caller.function_name)
    CfnOutput(stack, "WorkerFunctionName", value=pattern.worker.function_name)
    CfnOutput(stack, "SuccessQueueUrl", value=pattern.success_queue.queue_url)
    CfnOutput(stack, "FailureQueueUrl", value=pattern.failure_queue.queue_url)
    return stack


def quote_request(order_id: str) -> dict[str, Any]:
    """Two lattes and a croissant, 10 % off: 2 x 450 + 1 x 325 = 1225 cents, minus 122 = 1103."""
    return {
        "order_id": order_id, "discount_percent": 10,
        "items": [{"sku": "latte", "quantity": 2, "unit_price_cents": 450},
                  {"sku": "croissant", "quantity": 1, "unit_price_cents": 325}],
    }


def call(ctx: DriveContext, mode: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Invoke the caller (synchronously) and return what it answered."""
    response = ctx.client("lambda").invoke(
        FunctionName=ctx.outputs["CallerFunctionName"], Payload=json.dumps({"mode": mode, "payload": payload}).encode()
    )
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(f"the caller failed: {answer}")
    return answer


def receive_records(ctx: DriveContext, queue_url: str, wait: float = 0) -> list[dict[str, Any]]:
    """Read (and delete) the destination records in a queue; wait up to ``wait`` seconds for the first."""
    sqs = ctx.client("sqs")
    records: list[dict[str, Any]] = []

    def batch() -> list[dict[str, Any]] | None:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            records.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages or None

    if ctx.wait_for(batch, timeout=wait):
        while batch():
            pass
    return records


def drive(ctx: DriveContext) -> DriveResult:
    """A sync call returns the quote; an async call's quote arrives in the on-success queue."""
    order_id = f"demo-{uuid.uuid4().hex[:8]}"
    sync = call(ctx, "sync", quote_request(f"{order_id}-sync"))
    accepted = call(ctx, "async", quote_request(f"{order_id}-async"))
    records = [
        r for r in receive_records(ctx, ctx.outputs["SuccessQueueUrl"], wait=20)
        if r.get("requestPayload", {}).get("order_id") == f"{order_id}-async"
    ]
    async_total = records[0]["responsePayload"]["total_cents"] if records else None
    sync_total = (sync.get("result") or {}).get("total_cents")
    return DriveResult(
        sent="one sync and one async quote request",
        outcome=f"sync → {sync.get('status')} total {sync_total}; async → {accepted.get('status')}, "
        f"{len(records)} success record(s) with total {async_total}",
        ok=sync_total == 1103 and accepted.get("status") == "accepted" and async_total == 1103 and len(records) == 1,
    )
