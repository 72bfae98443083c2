"""Transform function: Kinesis records → one table item and one archive line each.

A batch is all or nothing on the way in: every record is transformed before anything is written, so
a bad record fails its batch with no side effect, and the event source bisects the batch until the
bad record is alone (then retries it and describes it in the on-failure queue) while every other
record is processed. (A partial batch response would not do: Lambda retries from the failed record
to the end of the batch, so the records after it would reach the archive twice.)

The table items are keyed by partition key and sequence number, so when a batch is retried after a
failure between the writes (a throttled archive put, a timeout) the table gets the same items again,
never more. The archive is written last, once the table holds the batch.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import BadRecord, Transformed, transform

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def ddb() -> Any:
    return boto3.client("dynamodb")


@functools.cache
def firehose() -> Any:
    return boto3.client("firehose")


TABLE = os.environ["TABLE_NAME"]
DELIVERY_STREAM = os.environ["DELIVERY_STREAM_NAME"]
#: BatchWriteItem takes 25 items; PutRecordBatch 500 records or 4 MiB.
TABLE_CHUNK = 25
ARCHIVE_CHUNK = 500
ARCHIVE_BYTES = 4 * 1024 * 1024
#: Rounds of re-sending what DynamoDB or Firehose left unprocessed before the batch fails.
ROUNDS = 5


def _backoff(round_: int) -> None:
    time.sleep(min(0.05 * 2**round_, 1.0))


@tracer.capture_method
def write_table(records: list[Transformed]) -> None:
    """Put every item, re-sending unprocessed ones; raise when DynamoDB keeps refusing them."""
    for start in range(0, len(records), TABLE_CHUNK):
        chunk = records[start : start + TABLE_CHUNK]
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": r.item()}} for r in chunk]
        for round_ in range(ROUNDS):
            left = ddb().batch_write_item(RequestItems={TABLE: requests}).get("UnprocessedItems", {}).get(TABLE, [])
            if not left:
                break
            requests = left
            _backoff(round_)
        else:
            raise RuntimeError(f"DynamoDB left {len(requests)} item(s) unprocessed after {ROUNDS} rounds")


def _chunks(lines: list[bytes]) -> list[list[bytes]]:
    chunks: list[list[bytes]] = [[]]
    size = 0
    for line in lines:
        if chunks[-1] and (len(chunks[-1]) == ARCHIVE_CHUNK or size + len(line) > ARCHIVE_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line)
    return [c for c in chunks if c]


@tracer.capture_method
def archive(records: list[Transformed]) -> None:
    """Put every line to the delivery stream in order, re-sending failed entries; raise if they keep failing."""
    for chunk in _chunks([r.line() for r in records]):
        entries = [{"Data": line} for line in chunk]
        for round_ in range(ROUNDS):
            response = firehose().put_record_batch(DeliveryStreamName=DELIVERY_STREAM, Records=entries)
            if not response.get("FailedPutCount"):
                break
            entries = [e for e, r in zip(entries, response["RequestResponses"], strict=True) if r.get("ErrorCode")]
            _backoff(round_)
        else:
            raise RuntimeError(f"Firehose refused {len(entries)} record(s) after {ROUNDS} rounds")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=KinesisStreamEvent)
def handler(event: KinesisStreamEvent, context: LambdaContext) -> dict[str, list[Any]]:
    try:
        records = [
            transform(
                r.kinesis.partition_key,
                r.kinesis.sequence_number,
                r.kinesis.approximate_arrival_timestamp,
                r.kinesis.data_as_bytes(),
            )
            for r in event.records
        ]
    except BadRecord as error:
        metrics.add_metric(name="BatchesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("bad record fails its batch", sequence_number=error.sequence_number, reason=str(error)[:500])
        raise
    write_table(records)
    archive(records)
    metrics.add_metric(name="RecordsTransformed", unit=MetricUnit.Count, value=len(records))
    return {"batchItemFailures": []}
