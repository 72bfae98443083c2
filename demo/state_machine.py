"""StateMachineDemo: an OrderPlaced event runs the order workflow; POST /quotes answers a quote."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.state_machine import StateMachine

SOURCE = "shop.orders"
DETAIL_TYPE = "OrderPlaced"


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope,
        stack_id,
        description="CATALOG 25 StateMachine: order workflow (Standard, by event) and quote flow (Express, by API)",
    )
    pattern = StateMachine(stack, "Orders", table_props={"removal_policy": RemovalPolicy.DESTROY})
    assert pattern.api is not None and pattern.quote_flow is not None
    CfnOutput(stack, "WorkflowArn", value=pattern.workflow.state_machine_arn)
    CfnOutput(stack, "QuoteFlowArn", value=pattern.quote_flow.state_machine_arn)
    CfnOutput(stack, "QuotesUrl", value=pattern.api.url_for_path("/quotes"))
    CfnOutput(stack, "TableName", value=pattern.table.table_name)
    return stack


def order(order_id: str, *, card: str = "visa-4242", express: bool = False) -> dict[str, Any]:
    """Two lattes (2 x 450) and a croissant (325): 1225 cents, plus 900 for express shipping."""
    return {
        "order_id": order_id,
        "customer": "ana",
        "express": express,
        "payment": {"card": card},
        "items": [
            {"sku": "latte", "quantity": 2, "unit_price_cents": 450},
            {"sku": "croissant", "quantity": 1, "unit_price_cents": 325},
        ],
    }


def place(ctx: DriveContext, *orders: dict[str, Any]) -> None:
    """Put OrderPlaced events on the default bus, as the shop would."""
    entries = [{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(o)} for o in orders]
    response = ctx.client("events").put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0, response


def stored(ctx: DriveContext, order_id: str) -> dict[str, Any] | None:
    """The order's item in the table (numbers as int), or None."""
    from boto3.dynamodb.types import TypeDeserializer

    item = (
        ctx.client("dynamodb")
        .get_item(TableName=ctx.outputs["TableName"], Key={"order_id": {"S": order_id}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        return None
    plain = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    return {k: int(v) if k.endswith("_cents") else v for k, v in plain.items()}


def drive(ctx: DriveContext) -> DriveResult:
    """One order through the workflow (event → CONFIRMED) and one quote through the API."""
    order_id = f"demo-{uuid.uuid4().hex[:8]}"
    place(ctx, order(order_id, express=True))
    final = ctx.wait_for(lambda: (s := stored(ctx, order_id)) and s.get("status") == "CONFIRMED" and s, timeout=60)
    quote = ctx.http(
        "POST", ctx.outputs["QuotesUrl"], {k: v for k, v in order(f"{order_id}-q").items() if k != "payment"}
    )
    total = (quote.body or {}).get("total_cents") if isinstance(quote.body, dict) else None
    status = final.get("status") if final else (stored(ctx, order_id) or {}).get("status")
    return DriveResult(
        sent="one OrderPlaced event and one POST /quotes",
        outcome=f"order → {status} ({final.get('total_cents') if final else '?'} cents); quote → {quote.status} "
        f"total {total}",
        ok=bool(final) and final.get("total_cents") == 2125 and quote.status == 200 and total == 1225,
    )
