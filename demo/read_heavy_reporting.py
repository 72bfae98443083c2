"""ReadHeavyReportingDemo: orders written to a table are projected into per-category views and a
top-3 index, read through the API with a 30-second cache."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.read_heavy_reporting import ReadHeavyReporting

TOP_N = 3
CACHE_TTL = Duration.seconds(30)


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 21 ReadHeavyReporting: table stream -> projector -> views + top-N index, cached read API",
    )
    reporting = ReadHeavyReporting(
        stack, "Reporting",
        top_n=TOP_N,
        cache_ttl=CACHE_TTL,
        source_table_props={"removal_policy": RemovalPolicy.DESTROY},
        derived_table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "SourceTableName", value=reporting.source_table.table_name)
    CfnOutput(stack, "ViewTableName", value=reporting.view_table.table_name)
    CfnOutput(stack, "IndexTableName", value=reporting.index_table.table_name)
    CfnOutput(stack, "AppliedTableName", value=reporting.applied_table.table_name)
    CfnOutput(stack, "CacheTableName", value=reporting.cache_table.table_name)
    CfnOutput(stack, "OnFailureQueueUrl", value=reporting.on_failure_queue.queue_url)
    CfnOutput(stack, "ApiUrl", value=reporting.api.url)
    CfnOutput(stack, "RestApiId", value=reporting.api.rest_api_id)
    return stack


def order(order_id: str, category: Any, amount: Any) -> dict[str, Any]:
    """One source item (an order) in DynamoDB's typed form, as the demo and the e2e tests write it."""
    item: dict[str, Any] = {"id": {"S": order_id}}
    if category is not None:
        item["category"] = {"S": category} if isinstance(category, str) else {"N": str(category)}
    if amount is not None:
        item["amount"] = {"N": str(amount)} if isinstance(amount, int | float | Decimal) else {"S": str(amount)}
    return item


def drive(ctx: DriveContext) -> DriveResult:
    """Write three orders of one new category; read its view twice through the API (miss, then hit)."""
    category = f"demo-{uuid.uuid4().hex[:8]}"
    ddb = ctx.client("dynamodb")
    for n, amount in enumerate((Decimal("10.50"), Decimal("4.25"), Decimal("20"))):
        ddb.put_item(TableName=ctx.outputs["SourceTableName"], Item=order(f"{category}-{n}", category, amount))

    def projected() -> dict | None:
        item = ddb.get_item(
            TableName=ctx.outputs["ViewTableName"], Key={"view_key": {"S": category}}, ConsistentRead=True
        ).get("Item")
        return item if item and item["item_count"]["N"] == "3" else None

    if not ctx.wait_for(projected, timeout=30):
        return DriveResult(sent=f"3 orders of {category}", outcome="the view never counted 3 orders", ok=False)
    url = f"{ctx.outputs['ApiUrl'].rstrip('/')}/views/{category}"
    first, second = ctx.http("GET", url), ctx.http("GET", url)
    caches = [r.headers.get("X-Cache") or r.headers.get("x-cache") for r in (first, second)]
    body = first.body if isinstance(first.body, dict) else {}
    ok = (
        first.status == second.status == 200
        and body.get("item_count") == 3
        and Decimal(str(body.get("total"))) == Decimal("34.75")
        and second.body == first.body
        and caches == ["Miss", "Hit"]
    )
    return DriveResult(
        sent=f"3 orders of {category}, then GET /views/{category} twice",
        outcome=f"{body.get('item_count')} orders, total {body.get('total')}, cache {'/'.join(map(str, caches))}",
        ok=ok,
    )
