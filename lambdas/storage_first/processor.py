"""The StorageFirst processor: reads what the API stored in the queue or stream and records it.

The request is already durable when this runs, so a failing processor loses nothing: Powertools
reports failed records individually (partial batch response) and SQS redrives them to the DLQ after
maxReceiveCount, or the Kinesis event source bisects, retries and describes them in its on-failure
queue. When every record of a batch fails (e.g. the table is unavailable) Powertools raises instead,
so the invocation counts as a function error and alarms at once; the batch is retried all the same.
Deliveries are at least once; Powertools idempotency keyed on the store's id (message id or sequence
number) applies each request once.
"""

from __future__ import annotations

import functools
import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import StoredRequest, Submission

logger = Logger()
tracer = Tracer()
metrics = Metrics()
TABLE_NAME = os.environ["TABLE_NAME"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(TABLE_NAME)


persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
idempotency = IdempotencyConfig(
    event_key_jmespath="id", expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "3600"))
)
sqs_processor = BatchProcessor(event_type=EventType.SQS)
kinesis_processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")


@idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=idempotency)
def apply(request: StoredRequest) -> dict[str, str]:
    """The business step: the processed view of one stored request.

    ``times_processed`` counts applications, so a request applied twice would be visible rather
    than hidden by an overwrite.
    """
    processed_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    table().update_item(
        Key={"id": request.id},
        UpdateExpression="SET kind = :kind, payload = :payload, #store = :store, received_at = :received, "
        "processed_at = :processed ADD times_processed :one",
        ExpressionAttributeNames={"#store": "store"},
        ExpressionAttributeValues={
            ":kind": request.submission.kind,
            ":payload": json.dumps(request.submission.payload, sort_keys=True),  # JSON text: DynamoDB takes no floats
            ":store": request.store,
            ":received": request.received_at,
            ":processed": processed_at,
            ":one": 1,
        },
    )
    metrics.add_metric(name="RequestsProcessed", unit=MetricUnit.Count, value=1)
    return {"id": request.id, "processed_at": processed_at}


def sqs_record(record: SQSRecord) -> None:
    """One SQS message: its body is the API request body. A malformed body fails this record only."""
    sent = int(record.attributes.sent_timestamp) / 1000
    apply(request=StoredRequest(
        id=record.message_id, store="sqs", received_at=_iso(sent),
        submission=Submission.model_validate_json(record.body),
    ))


def kinesis_record(record: KinesisStreamRecord) -> None:
    """One Kinesis record: its data is the API request body. A malformed record fails on its own."""
    apply(request=StoredRequest(
        id=record.kinesis.sequence_number, store="kinesis",
        received_at=_iso(record.kinesis.approximate_arrival_timestamp),
        submission=Submission.model_validate_json(record.kinesis.data_as_bytes()),
    ))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def sqs_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=sqs_record, processor=sqs_processor, context=context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def kinesis_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=kinesis_record, processor=kinesis_processor, context=context
    )
