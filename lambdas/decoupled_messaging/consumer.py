"""Consumer of the DecoupledMessaging pattern: applies each message to the output table once.

Powertools reports failed records individually (partial batch response), so one poison message is
retried and finally dead-lettered on its own while the rest of its batch is done. SQS delivers at
least once; Powertools idempotency, keyed on the message ``id``, turns a redelivery into a no-op.
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
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Message

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


@idempotent_function(data_keyword_argument="message", persistence_store=persistence, config=idempotency)
def apply(message: Message) -> dict[str, str]:
    """The business step: record the message in the output table.

    ``timesApplied`` counts applications, so a message applied twice is visible rather than hidden
    by an overwrite.
    """
    processed_at = datetime.now(UTC).isoformat()
    table().update_item(
        Key={"id": message.id},
        UpdateExpression="SET #kind = :kind, #payload = :payload, processedAt = :at ADD timesApplied :one",
        ExpressionAttributeNames={"#kind": "kind", "#payload": "payload"},  # spared from reserved words
        ExpressionAttributeValues={
            ":kind": message.kind,
            ":payload": json.dumps(message.payload, sort_keys=True),  # JSON text: DynamoDB takes no floats
            ":at": processed_at,
            ":one": 1,
        },
    )
    metrics.add_metric(name="MessagesApplied", unit=MetricUnit.Count, value=1)
    return {"id": message.id, "processedAt": processed_at}


def record_handler(record: SQSRecord) -> None:
    """Parse one record; a malformed body raises, which fails this record only."""
    apply(message=Message.model_validate_json(record.body))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    # One processor per invocation: it holds this batch's outcomes, so it is never shared by two batches
    # (runtimes that run concurrent invocations in one process would otherwise mix them up).
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
