"""PipesAndFiltersDemo: order lines pass validate → enrich → price, each step behind its own queue."""

from __future__ import annotations

import json
import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from boto3.dynamodb.types import TypeDeserializer
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns import core
from patterns.pipes_and_filters import PipesAndFilters, Step

STEPS = ("Validate", "Enrich", "Price")
#: Demo catalogue the driver loads into the product table (the enrich filter's reference data).
PRODUCTS = {
    "LATTE": {"name": "Caffe latte", "unit_price_cents": 450},
    "MOCHA": {"name": "Mocha", "unit_price_cents": 520},
}


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 9 PipesAndFilters: order lines through validate, enrich, price")
    products = core.table(stack, "Products", partition_key="sku", table_props={"removal_policy": RemovalPolicy.DESTROY})
    pattern = PipesAndFilters(
        stack, "Orders",
        table_props={"removal_policy": RemovalPolicy.DESTROY},
        steps=[
            Step(name="Validate", handler="filters.validate"),
            Step(name="Enrich", handler="filters.enrich", environment={"PRODUCTS_TABLE_NAME": products.table_name}),
            Step(name="Price", handler="filters.price"),
        ],
    )
    products.grant(pattern.functions["Enrich"], "dynamodb:GetItem")
    pattern.idempotency_table.apply_removal_policy(RemovalPolicy.DESTROY)
    CfnOutput(stack, "InputQueueUrl", value=pattern.input_queue.queue_url)
    CfnOutput(stack, "ResultsTableName", value=pattern.table.table_name)
    CfnOutput(stack, "ProductsTableName", value=products.table_name)
    for name in pattern.steps:
        CfnOutput(stack, f"{name}QueueUrl", value=pattern.queues[name].queue_url)
        CfnOutput(stack, f"{name}DeadLetterQueueUrl", value=pattern.dead_letter_queues[name].queue_url)
        CfnOutput(stack, f"{name}FunctionName", value=pattern.functions[name].function_name)
    return stack


def load_products(ctx: DriveContext, skus: tuple[str, ...] = tuple(PRODUCTS)) -> None:
    """Put the demo products (reference data of the enrich filter) into the product table."""
    ddb = ctx.client("dynamodb")
    for sku in skus:
        product = PRODUCTS[sku]
        ddb.put_item(
            TableName=ctx.outputs["ProductsTableName"],
            Item={
                "sku": {"S": sku}, "name": {"S": product["name"]},
                "unit_price_cents": {"N": str(product["unit_price_cents"])},
            },
        )


def send(ctx: DriveContext, record_id: str, data: dict) -> None:
    """Feed one record into the first step."""
    ctx.client("sqs").send_message(
        QueueUrl=ctx.outputs["InputQueueUrl"], MessageBody=json.dumps({"id": record_id, "data": data, "trail": []})
    )


def plain(item: dict) -> dict:
    """A results-table item (DynamoDB JSON) as plain JSON types; the demo's numbers are whole."""
    deserialize = TypeDeserializer().deserialize
    return json.loads(json.dumps({key: deserialize(value) for key, value in item.items()}, default=int))


def result(ctx: DriveContext, record_id: str) -> dict | None:
    """The finished record in the results table, if it is there."""
    item = ctx.client("dynamodb").get_item(
        TableName=ctx.outputs["ResultsTableName"], Key={"id": {"S": record_id}}, ConsistentRead=True
    ).get("Item")
    return plain(item) if item else None


def drive(ctx: DriveContext) -> DriveResult:
    """Send one order line: it reaches the results table priced, with the trail of every step."""
    load_products(ctx)
    record_id = f"demo-{uuid.uuid4().hex[:8]}"
    send(ctx, record_id, {"customer": " ana ", "sku": "latte", "quantity": 2})
    done = ctx.wait_for(lambda: result(ctx, record_id), timeout=30)
    if done is None:
        return DriveResult(sent="order line latte x2", outcome="not in the results table after 30 s", ok=False)
    return DriveResult(
        sent="order line latte x2",
        outcome=f"trail {' → '.join(done['trail'])}, total {done['data']['total_cents']} cents",
        ok=done["trail"] == list(STEPS) and done["data"]["total_cents"] == 900,
    )
