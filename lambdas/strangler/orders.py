"""Demo new service: the routes migrated off the legacy app, answering the same requests with the same bodies.

It owns its data (its own table, amounts in cents) and writes back what the legacy system still
needs: every order it takes becomes one ``OrderPlaced`` event on the write-back queue, which the
legacy side's sync consumer translates into its own model (the anti-corruption layer).
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()

ORDERS_TABLE_NAME = os.environ["ORDERS_TABLE_NAME"]
LEGACY_SYNC_QUEUE_URL = os.environ["LEGACY_SYNC_QUEUE_URL"]
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
CUSTOMERS = {"c-1": "Ada Lovelace", "c-2": "Grace Hopper"}


@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(ORDERS_TABLE_NAME)


@functools.cache
def sqs() -> Any:
    return boto3.client("sqs")


def checked_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequestError(f"{name} must be 1-64 letters, digits or dashes (given {value!r})")
    return value


def parse_order(body: Any) -> dict[str, Any]:
    """The legacy API's order body, validated exactly as the legacy app does (clients do not change)."""
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    order = {
        "order_id": checked_id(body.get("order_id"), "order_id"),
        "customer_id": checked_id(body.get("customer_id"), "customer_id"),
        "total_cents": body.get("total_cents"),
    }
    cents = order["total_cents"]
    if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
        raise BadRequestError(f"total_cents must be a whole number >= 0 (given {cents!r})")
    return order


@app.post("/orders")
def place_order() -> Response[dict[str, Any]]:
    order = parse_order(app.current_event.json_body)
    table().put_item(Item={"order_id": order["order_id"], **order})
    event = {"type": "OrderPlaced", "id": f"OrderPlaced-{order['order_id']}", "order": order}
    sqs().send_message(QueueUrl=LEGACY_SYNC_QUEUE_URL, MessageBody=json.dumps(event, separators=(",", ":")))
    return Response(201, "application/json", {"order_id": order["order_id"], "served_by": "new"})


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> dict[str, Any]:
    item = table().get_item(Key={"order_id": checked_id(order_id, "order id")}).get("Item")
    if item is None:
        raise NotFoundError(f"no order {order_id!r}")
    return {
        "order_id": item["order_id"],
        "customer_id": item["customer_id"],
        "total_cents": int(item["total_cents"]),
        "served_by": "new",
    }


@app.get("/customers/<customer_id>")
def get_customer(customer_id: str) -> dict[str, Any]:
    if checked_id(customer_id, "customer id") not in CUSTOMERS:
        raise NotFoundError(f"no customer {customer_id!r}")
    return {"id": customer_id, "name": CUSTOMERS[customer_id], "served_by": "new"}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
