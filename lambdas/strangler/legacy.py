"""Demo "legacy app": the monolith the facade strangles, an HTTP service (a Lambda function URL).

It keeps its own data model (``ORDER_NO``, ``CUST_NO``, ``AMOUNT`` in dollars as a string) in its own
table; orders the new service takes reach that table through the sync consumer, so the legacy
screens (``GET /orders/{id}``) still show every order while the routes move away one by one.
"""

from __future__ import annotations

import functools
import os
import re
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
app = LambdaFunctionUrlResolver()

LEGACY_TABLE_NAME = os.environ["LEGACY_TABLE_NAME"]
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
CUSTOMERS = {"c-1": "Ada Lovelace", "c-2": "Grace Hopper"}
STOCK = {"kettle": 7, "mug": 40}


@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(LEGACY_TABLE_NAME)


def checked_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequestError(f"{name} must be 1-64 letters, digits or dashes (given {value!r})")
    return value


def legacy_view(item: dict[str, Any]) -> dict[str, Any]:
    """A legacy row as the legacy API has always answered it."""
    return {
        "ORDER_NO": item["ORDER_NO"],
        "CUST_NO": item["CUST_NO"],
        "AMOUNT": item["AMOUNT"],
        "SOURCE": item["SOURCE"],
        "served_by": "legacy",
    }


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> dict[str, Any]:
    item = table().get_item(Key={"pk": f"ORDER#{checked_id(order_id, 'order id')}"}).get("Item")
    if item is None:
        raise NotFoundError(f"no order {order_id!r}")
    return legacy_view(item)


@app.post("/orders")
def place_order() -> Response[dict[str, Any]]:
    body = app.current_event.json_body
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    order_id, customer_id = (
        checked_id(body.get("order_id"), "order_id"),
        checked_id(body.get("customer_id"), "customer_id"),
    )
    cents = body.get("total_cents")
    if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
        raise BadRequestError(f"total_cents must be a whole number >= 0 (given {cents!r})")
    amount = str((Decimal(cents) / 100).quantize(Decimal("0.01")))
    item = {
        "pk": f"ORDER#{order_id}",
        "ORDER_NO": order_id,
        "CUST_NO": customer_id,
        "AMOUNT": amount,
        "SOURCE": "legacy",
    }
    table().put_item(Item=item)
    return Response(201, "application/json", {"order_id": order_id, "served_by": "legacy"})


@app.get("/customers/<customer_id>")
def get_customer(customer_id: str) -> dict[str, Any]:
    if checked_id(customer_id, "customer id") not in CUSTOMERS:
        raise NotFoundError(f"no customer {customer_id!r}")
    return {"id": customer_id, "name": CUSTOMERS[customer_id], "served_by": "legacy"}


@app.get("/inventory/<sku>")
def get_stock(sku: str) -> dict[str, Any]:
    if sku not in STOCK:
        raise NotFoundError(f"no sku {sku!r}")
    return {"sku": sku, "in_stock": STOCK[sku], "served_by": "legacy"}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
