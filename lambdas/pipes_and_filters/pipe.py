"""The pipe between filters: what every step of a PipesAndFilters chain does around its filter.

A step reads a batch from its queue, runs its filter (a plain ``data -> data`` function) on each
record, appends its name to the record's trail and sends the record to the next step's queue or,
as the last step, puts it into the results table. A record whose filter raises is reported as a
failed batch item: SQS redelivers it and, after maxReceiveCount, parks it in this step's DLQ.

A step is idempotent per record id (Powertools idempotency): a redelivered or redriven duplicate of
a record the step already passed on is not sent again.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

logger = Logger()
tracer = Tracer()
metrics = Metrics()

STEP_NAME = os.environ["STEP_NAME"]
NEXT_QUEUE_URL = os.environ.get("NEXT_QUEUE_URL")
RESULTS_TABLE_NAME = os.environ.get("RESULTS_TABLE_NAME")
if not NEXT_QUEUE_URL and not RESULTS_TABLE_NAME:
    raise RuntimeError("a step needs NEXT_QUEUE_URL (to pass records on) or RESULTS_TABLE_NAME (the last step)")

persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
# One idempotency record per record id and step function: the id names the record through the chain.
idempotency = IdempotencyConfig(event_key_jmespath="id", raise_on_no_idempotency_key=True)


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def _sqs() -> Any:
    return boto3.client("sqs") if NEXT_QUEUE_URL else None


@functools.cache
def _results() -> Any:
    return boto3.resource("dynamodb").Table(RESULTS_TABLE_NAME) if RESULTS_TABLE_NAME else None

Filter = Callable[[dict[str, Any]], dict[str, Any]]


class Record(BaseModel):
    """What flows through the pipes: the payload, and the steps it has passed so far."""

    id: str = Field(min_length=1, max_length=128)
    data: dict[str, Any]
    trail: list[str] = Field(default_factory=list)


def forward(record: Record) -> None:
    """Send the record to the next step, or store it if this is the last step."""
    body = record.model_dump_json()
    if _sqs() is not None:
        _sqs().send_message(QueueUrl=NEXT_QUEUE_URL, MessageBody=body)
    else:
        assert _results() is not None
        # DynamoDB takes numbers as Decimal, never float.
        _results().put_item(Item=json.loads(body, parse_float=Decimal))


def filter_step(transform: Filter) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """Turn a plain filter function into this step's SQS handler (partial batch responses)."""

    @idempotent_function(data_keyword_argument="record", config=idempotency, persistence_store=persistence)
    def pass_on(record: Record) -> dict[str, Any]:
        outgoing = Record(id=record.id, data=transform(record.data), trail=[*record.trail, STEP_NAME])
        forward(outgoing)
        return {"id": outgoing.id, "trail": outgoing.trail}

    @tracer.capture_method
    def record_handler(record: SQSRecord) -> None:
        # Validate before the idempotency layer so a record without an id fails loudly, not silently.
        passed = pass_on(record=Record.model_validate_json(record.body))
        logger.info("record passed on", extra=passed)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        idempotency.register_lambda_context(context)
        # One processor per batch: it collects the batch's failures, so it must not be shared by two
        # batches running at once. A batch whose every record failed answers with its failures instead
        # of raising: SQS treats both alike, and the error metric then counts crashes, not bad records.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        failed = len(response.get("batchItemFailures", []))
        metrics.add_metric(name="RecordsPassed", unit=MetricUnit.Count, value=len(event.get("Records", [])) - failed)
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failed)
        return response

    return handler
