"""CircuitBreakerDemo: a breaker function guarding a payment provider that can be switched down."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns import core
from patterns.circuit_breaker import CircuitBreaker

THRESHOLD = 3
WINDOW = Duration.minutes(1)
COOLDOWN = Duration.seconds(30)
CIRCUIT = "payments"
#: Generous for a payment provider, so a loaded laptop running the local cloud does not trip it by itself.
CALL_TIMEOUT = Duration.seconds(20)


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope,
        stack_id,
        description="CATALOG 27 CircuitBreaker: breaker function (circuit state in DynamoDB) -> payment provider",
    )
    ledger = core.table(
        stack, "Ledger", partition_key="request_id", table_props={"removal_policy": RemovalPolicy.DESTROY}
    )
    provider = core.python_function(
        stack,
        "Provider",
        code=core.handler_code("circuit_breaker"),
        handler="provider.handler",
        service="payment-provider",
        invocation="sync",
        description="The demo's flaky downstream: applies each payment once, fails while its status is down",
        options=core.FunctionOptions(timeout=Duration.seconds(15)),
        environment={"LEDGER_TABLE_NAME": ledger.table_name},
    )
    ledger.grant(provider, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
    breaker = CircuitBreaker(
        stack,
        "Breaker",
        downstream=provider,
        circuit_name=CIRCUIT,
        failure_threshold=THRESHOLD,
        failure_window=WINDOW,
        cooldown=COOLDOWN,
        call_timeout=CALL_TIMEOUT,
        function_options=core.FunctionOptions(timeout=Duration.seconds(30)),
        table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "BreakerFunctionName", value=breaker.function.function_name)
    CfnOutput(stack, "ProviderFunctionName", value=provider.function_name)
    CfnOutput(stack, "CircuitsTableName", value=breaker.table.table_name)
    CfnOutput(stack, "LedgerTableName", value=ledger.table_name)
    return stack


def call(ctx: DriveContext, request_id: str, **payload: Any) -> dict[str, Any]:
    """One payment through the breaker, as a caller makes it; the breaker's answer."""
    response = ctx.client("lambda").invoke(
        FunctionName=ctx.outputs["BreakerFunctionName"],
        Payload=json.dumps({"request_id": request_id, "payload": payload}).encode(),
    )
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    return answer


def set_provider(ctx: DriveContext, *, down: bool) -> None:
    """Switch the provider's outage on or off (its ``#status`` item)."""
    ctx.client("dynamodb").put_item(
        TableName=ctx.outputs["LedgerTableName"], Item={"request_id": {"S": "#status"}, "down": {"BOOL": down}}
    )


def provider_calls(ctx: DriveContext) -> int:
    """How many calls have reached the provider so far."""
    item = ctx.client("dynamodb").get_item(
        TableName=ctx.outputs["LedgerTableName"], Key={"request_id": {"S": "#calls"}}, ConsistentRead=True
    ).get("Item")
    return int(item["calls"]["N"]) if item else 0


def circuit(ctx: DriveContext) -> dict[str, Any]:
    """The circuit's item (plain values), empty while it was never written."""
    item = ctx.client("dynamodb").get_item(
        TableName=ctx.outputs["CircuitsTableName"], Key={"circuit": {"S": CIRCUIT}}, ConsistentRead=True
    ).get("Item") or {}
    return {k: int(v["N"]) if "N" in v else v.get("S") for k, v in item.items()}


def drive(ctx: DriveContext) -> DriveResult:
    """A payment goes through; the provider goes down; THRESHOLD failures open the circuit; the next
    payment is refused without reaching the provider. (Recovery waits out the cooldown: see the e2e test.)"""
    run = uuid.uuid4().hex[:8]
    set_provider(ctx, down=False)
    before = provider_calls(ctx)
    first = call(ctx, f"pay-{run}-0", amount_cents=1200)
    set_provider(ctx, down=True)
    failures = [call(ctx, f"pay-{run}-{n}", amount_cents=1200)["outcome"] for n in range(1, THRESHOLD + 1)]
    refused = call(ctx, f"pay-{run}-x", amount_cents=1200)
    reached = provider_calls(ctx) - before
    set_provider(ctx, down=False)
    return DriveResult(
        sent=f"1 payment, provider down, {THRESHOLD + 1} payments",
        outcome=f"first {first['outcome']}; then {', '.join(failures)}; then {refused['outcome']} "
        f"(circuit {refused['state']}); provider reached {reached} times",
        ok=first["outcome"] == "succeeded"
        and failures == ["failed"] * THRESHOLD
        and refused["outcome"] == "rejected"
        and reached == THRESHOLD + 1,
    )
