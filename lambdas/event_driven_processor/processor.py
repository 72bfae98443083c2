"""Processor of the EventDrivenProcessor pattern: each uploaded object becomes one processed object.

Thin by design: Powertools turns the SQS batch into records and reports failed ones individually
(partial batch response), the S3 notification in each body is parsed into object references, and
``encoding.encode`` does the work. S3 notifies at least once; Powertools idempotency keyed on the
object write (bucket, key, version or ETag, sequencer) makes a redelivered notification a no-op
instead of a second output version. An object that is not text fails its record only: it goes back
to the queue and, after maxReceiveCount deliveries, to the DLQ.
"""

from __future__ import annotations

import functools
import os
from typing import Any
from urllib.parse import quote

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
from encoding import NotText, encode
from models import ObjectRef, objects_created
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
OUTPUT_PREFIX = os.environ.get("OUTPUT_PREFIX", "")
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
idempotency = IdempotencyConfig(expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "3600")))


def output_key(key: str) -> str:
    """Where the processed form of ``key`` is written."""
    return f"{OUTPUT_PREFIX}{key}.gz"


@idempotent_function(data_keyword_argument="ref", persistence_store=persistence, config=idempotency)
@tracer.capture_method
def process(ref: ObjectRef) -> dict[str, Any]:
    """Read the uploaded object, encode it, write the result; ``NotText`` for input that is not text."""
    extra = {"VersionId": ref.version_id} if ref.version_id else {}
    raw = s3().get_object(Bucket=ref.bucket, Key=ref.key, **extra)["Body"].read()
    encoded = encode(raw)
    key = output_key(ref.key)
    s3().put_object(
        Bucket=OUTPUT_BUCKET,
        Key=key,
        Body=encoded.data,
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="gzip",
        Metadata={  # user metadata travels as HTTP headers: ASCII only
            "source-bucket": ref.bucket,
            "source-key": quote(ref.key),
            "source-encoding": encoded.source_encoding,
        },
    )
    metrics.add_metric(name="ObjectsProcessed", unit=MetricUnit.Count, value=1)
    logger.info("processed", source_key=ref.key, output_key=key, bytes_in=len(raw), bytes_out=len(encoded.data))
    return {"output_key": key, "source_encoding": encoded.source_encoding, "text_bytes": encoded.text_bytes}


def record_handler(record: SQSRecord) -> None:
    """Process every object of one notification; any failure fails this record only."""
    try:
        refs = objects_created(record.body)
    except ValidationError as error:
        logger.warning("not an S3 notification", message_id=record.message_id, errors=error.errors(include_url=False))
        raise
    if not refs:
        logger.info("nothing to process (S3 test event or no object-created records)", message_id=record.message_id)
    for ref in refs:
        try:
            process(ref=ref)
        except NotText as error:
            metrics.add_metric(name="ObjectsRejected", unit=MetricUnit.Count, value=1)
            logger.warning("rejected upload", key=ref.key, reason=str(error))
            raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    # A batch whose records all fail is still a handled batch (no raise): function errors and their
    # alarm then mean a broken function, not bad uploads; failed messages go to the DLQ either way.
    # One processor per invocation: it holds the batch's state, which must never be shared with an
    # invocation running concurrently in the same interpreter.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
