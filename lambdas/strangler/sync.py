"""Demo legacy sync consumer: the anti-corruption layer applying the new service's write-back events.

Each ``OrderPlaced`` event is translated into the legacy model (dollars as a string, the legacy
column names) and written to the legacy table once: the put is conditional on the row not existing,
so a redelivered event is a no-op rather than a second write. A malformed event fails alone
(partial batch response) and reaches the write-back queue's DLQ after its retries.
"""

from __future__ import annotations

import functools
import json
import os
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
LEGACY_TABLE_NAME = os.environ["LEGACY_TABLE_NAME"]


@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(LEGACY_TABLE_NAME)


class BadEvent(ValueError):
    """A write-back event the legacy model cannot take."""


def to_legacy(event: Any) -> dict[str, Any]:
    """The legacy row for an ``OrderPlaced`` event of the new service."""
    if not isinstance(event, dict) or event.get("type") != "OrderPlaced" or not isinstance(event.get("order"), dict):
        raise BadEvent(f"not an OrderPlaced event: {event!r}")
    order = event["order"]
    cents = order.get("total_cents")
    if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
        raise BadEvent(f"total_cents must be a whole number >= 0 (given {cents!r})")
    for name in ("order_id", "customer_id"):
        if not isinstance(order.get(name), str) or not order[name]:
            raise BadEvent(f"{name} is missing from {order!r}")
    return {
        "pk": f"ORDER#{order['order_id']}",
        "ORDER_NO": order["order_id"],
        "CUST_NO": order["customer_id"],
        "AMOUNT": str((Decimal(cents) / 100).quantize(Decimal("0.01"))),
        "SOURCE": "new-service",
    }


def apply(record: SQSRecord) -> None:
    try:
        row = to_legacy(json.loads(record.body))
    except json.JSONDecodeError as error:
        raise BadEvent(f"the write-back event is not JSON: {error}") from error
    try:
        table().put_item(Item=row, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("write-back already applied", extra={"order_no": row["ORDER_NO"]})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=apply, processor=processor, context=context)
