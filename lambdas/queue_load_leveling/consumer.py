"""Consumer of the QueueLoadLeveling pattern: drains the queue at the pace the downstream allows.

Reserved concurrency and the event source's batch size cap how hard the downstream store is hit,
however large the burst at the API. The store is append-only (a non-idempotent downstream, like a
ledger or a third-party API), so Powertools idempotency keyed on ``requestId`` is what makes a
redelivered message apply once. The stored entry and the status flip to ``done`` are one
DynamoDB transaction: a request is never done without its entry, nor stored twice by a retry.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

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
from models import WorkItem

logger = Logger()
tracer = Tracer()
metrics = Metrics()
STORE_TABLE = os.environ["STORE_TABLE_NAME"]
STATUS_TABLE = os.environ["STATUS_TABLE_NAME"]
#: Simulated latency of the slow downstream, per stored request.
STORE_DELAY = int(os.environ.get("STORE_DELAY_MS", "0")) / 1000
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
#: The persistence layer's own client (default config) does the business writes too: one DynamoDB client, not two.
dynamodb = persistence.client
idempotency = IdempotencyConfig(
    event_key_jmespath="requestId", expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "3600"))
)


@idempotent_function(data_keyword_argument="item", persistence_store=persistence, config=idempotency)
@tracer.capture_method
def store(item: WorkItem) -> dict[str, str]:
    """Append the request's entry to the slow store and mark the request done, atomically."""
    time.sleep(STORE_DELAY)
    entry_id = str(uuid.uuid4())
    stored_at = datetime.now(UTC).isoformat()
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": STORE_TABLE, "Item": {
                "requestId": {"S": item.requestId},
                "entryId": {"S": entry_id},
                "payload": {"S": json.dumps(item.payload, sort_keys=True)},
                "receivedAt": {"S": item.receivedAt},
                "storedAt": {"S": stored_at},
            }}},
            {"Update": {
                "TableName": STATUS_TABLE,
                "Key": {"requestId": {"S": item.requestId}},
                "UpdateExpression": "SET #status = :done, completedAt = :at",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":done": {"S": "done"}, ":at": {"S": stored_at}},
            }},
        ]
    )
    metrics.add_metric(name="RequestsStored", unit=MetricUnit.Count, value=1)
    return {"requestId": item.requestId, "entryId": entry_id}


def record_handler(record: SQSRecord) -> None:
    """A malformed message raises and fails only its own record (then the DLQ)."""
    store(item=WorkItem.model_validate_json(record.body))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    # One processor per invocation: it holds this batch's outcomes, so it is never shared by two batches
    # (runtimes that run concurrent invocations in one process would otherwise mix them up).
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
