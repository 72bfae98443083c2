"""Subscriber functions of the PubSub pattern: each reads its own queue fed by the topic.

Thin by design: Powertools parses each record into an order model and reports failed records
individually (a bad record fails alone); the business function stores what this subscriber saw.
Writes are keyed puts, so a redelivered message leaves the same state (idempotent).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Order, RankedOrder
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
SUBSCRIBER = os.environ.get("SUBSCRIBER_NAME", "subscriber")
TABLE_NAME = os.environ["TABLE_NAME"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(TABLE_NAME)


def store(order: Order, view: str) -> None:
    """Record the order in this subscriber's view."""
    table().put_item(
        Item={"subscriber": SUBSCRIBER, "id": order.order_id, "view": view, **order.model_dump(exclude_none=True)}
    )
    metrics.add_metric(name="OrdersSeen", unit=MetricUnit.Count, value=1)


def message_of(body: str) -> str:
    """The published message: the body itself with raw delivery, else the SNS envelope's ``Message``."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body  # not JSON: let the model report it
    if isinstance(parsed, dict) and parsed.get("Type") == "Notification" and isinstance(parsed.get("Message"), str):
        return parsed["Message"]
    return body


def _handle(model: type[Order], view: str):
    def record_handler(record: SQSRecord) -> None:
        try:
            order = model.model_validate_json(message_of(record.body))
        except ValidationError as error:
            # Failing the record (not the batch) sends only this message back, towards the DLQ.
            logger.warning("rejected order", message_id=record.message_id, errors=error.errors(include_url=False))
            raise
        store(order, view)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        # A batch of only bad orders is still a handled batch: report every record instead of raising,
        # so function errors (and their alarm) mean a broken subscriber, not bad input; the messages
        # take the same path either way (back to the queue, then to the DLQ). One processor per
        # invocation: it holds the batch's results, which must never mix with another batch's.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


video_wall = _handle(Order, "status board")
leaderboard = _handle(RankedOrder, "barista ranking")
recommendations = _handle(Order, "drink affinity")
