"""The orders table and the status transitions every write step makes, each a conditional write.

Statuses: RESERVED (priced, reserved by one execution) → PAID → CONFIRMED, or → CANCELLED by the
compensation. Every transition is conditional on the status before it, so a retried step never
applies twice and a step of one execution never overwrites another execution's order.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

TABLE_NAME = os.environ.get("ORDERS_TABLE_NAME", "")


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(TABLE_NAME) if TABLE_NAME else None


def conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def get(order_id: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
    return dict(item) if item else None
