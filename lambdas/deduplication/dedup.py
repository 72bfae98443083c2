"""Deduplication function: stores each event id once per window.

A stream delivers at least once, and producers retry too, so one event may arrive many times, in
one batch or in concurrent batches of different shards. One DynamoDB transaction both claims the id
in the window table (a conditional put: the id is new, or its last claim has expired) and writes the
event to the store; a duplicate fails the condition and writes nothing, and a crash between the two
writes is impossible. The claim's ``expires`` attribute is the table's TTL: once the window has
passed, DynamoDB deletes it and the id is accepted again; the condition also accepts an expired
claim that TTL has not deleted yet (AWS deletes expired items within days, not at once).

Undecodable records (not JSON, no id) fail alone (partial batch response): the event source
retries them, then describes them in the on-failure queue; the records after them were processed
already and are duplicates on the retry.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import parse

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def ddb() -> Any:
    return boto3.client("dynamodb")


WINDOW_TABLE = os.environ["WINDOW_TABLE_NAME"]
STORE_TABLE = os.environ["STORE_TABLE_NAME"]
WINDOW_SECONDS = int(os.environ.get("DEDUP_WINDOW_SECONDS", "86400"))
ID_FIELD = os.environ.get("EVENT_ID_FIELD", "id")


@tracer.capture_method
def store_once(event_id: str, payload: str, sequence_number: str, now: int) -> bool:
    """Claim ``event_id`` for the window and store the event, atomically; False for a duplicate."""
    try:
        ddb().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": WINDOW_TABLE,
                        "Item": {
                            "event_id": {"S": event_id},
                            "expires": {"N": str(now + WINDOW_SECONDS)},
                            "sequence_number": {"S": sequence_number},
                        },
                        "ConditionExpression": "attribute_not_exists(event_id) OR expires < :now",
                        "ExpressionAttributeValues": {":now": {"N": str(now)}},
                    }
                },
                {
                    "Update": {
                        "TableName": STORE_TABLE,
                        "Key": {"event_id": {"S": event_id}},
                        "UpdateExpression": "SET payload = :payload, accepted_at = :now, sequence_number = :seq "
                        "ADD accepted :one",
                        "ExpressionAttributeValues": {
                            ":payload": {"S": payload},
                            ":now": {"N": str(now)},
                            ":seq": {"S": sequence_number},
                            ":one": {"N": "1"},
                        },
                    }
                },
            ]
        )
    except ddb().exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons") or []
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return False
        raise  # a conflict with a concurrent claim or a throttle: the record is retried
    return True


def record_handler(record: KinesisStreamRecord) -> None:
    sequence_number = record.kinesis.sequence_number
    try:
        event, payload = parse(record.kinesis.data_as_bytes(), ID_FIELD)
    except ValueError as error:  # pydantic's ValidationError and JSON/UTF-8 errors are ValueErrors
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        logger.warning("undecodable event", sequence_number=sequence_number, reason=str(error)[:500])
        raise
    if store_once(event.event_id, payload, sequence_number, int(time.time())):
        metrics.add_metric(name="EventsStored", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="DuplicatesDropped", unit=MetricUnit.Count, value=1)
        logger.info("duplicate dropped", event_id=event.event_id, sequence_number=sequence_number)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One processor per invocation (it holds the batch's state). A batch whose records all fail is
    # still answered with a partial response: the event source retries from the first failure.
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
