"""Fan-in of the FanOutFanIn pattern: keeps the jobs table and marks a job ready when every part exists.

Its queue receives two kinds of S3 notifications (same JSON shape):
- an upload (uploads bucket, via the topic): the job is registered as ``processing`` with its
  expected parts, unless that version is already known;
- a rendition (renditions bucket, straight from S3): the fan-in looks at the renditions bucket
  itself — the source of truth — and the job goes ``ready`` only if *every* expected part exists
  for the current version of the upload (the part's ``source-etag`` equals the upload's ETag).

S3 reads are strongly consistent and a part's notification is sent after it was written, so the
check run for the last part to land sees all of them, whatever order the workers finish in. Updates
are conditional: a ready job is never put back to processing by a slower, older check, and a
duplicate notification changes nothing.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import S3Notification, Upload

logger = Logger()
tracer = Tracer()
metrics = Metrics()
INPUT_BUCKET = os.environ["INPUT_BUCKET"]
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
#: Expected part file names, e.g. "thumbnail.jpg,medium.jpg,large.jpg".
PARTS = tuple(p for p in os.environ["PARTS"].split(",") if p)
JOBS_TABLE = os.environ["JOBS_TABLE"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


@functools.cache
def jobs() -> Any:
    return boto3.resource("dynamodb").Table(JOBS_TABLE)


_NAMES = {"#s": "status"}
_NOT_READY_FOR_THIS_VERSION = "attribute_not_exists(#s) OR #s <> :ready OR source_etag <> :etag"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _part_name(file_name: str) -> str:
    return file_name.rsplit(".", 1)[0]


def _head(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return s3().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _current_etag(key: str) -> str | None:
    head = _head(INPUT_BUCKET, key)
    return head["ETag"].strip('"') if head else None


def _conditional_update(**kwargs: Any) -> bool:
    """Apply a conditional update; False when its condition did not hold (someone got there first)."""
    try:
        jobs().update_item(**kwargs)
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


@tracer.capture_method
def register(upload: Upload) -> bool:
    """Record a new upload (or a new version of one) as a ``processing`` job; False if already known."""
    if _current_etag(upload.key) != upload.etag:
        logger.info("upload replaced or deleted; not registering", extra={"key": upload.key})
        return False
    registered = _conditional_update(
        Key={"job_id": upload.key},
        UpdateExpression=(
            "SET #s = :processing, source_etag = :etag, source_size = :size, expected = :expected, "
            "parts = :none, updated_at = :now"
        ),
        ConditionExpression="attribute_not_exists(source_etag) OR source_etag <> :etag",
        ExpressionAttributeNames=_NAMES,
        ExpressionAttributeValues={
            ":processing": "processing", ":etag": upload.etag, ":size": upload.size,
            ":expected": [_part_name(p) for p in PARTS], ":none": {}, ":now": _now(),
        },
    )
    if registered:
        metrics.add_metric(name="JobsRegistered", unit=MetricUnit.Count, value=1)
    return registered


@tracer.capture_method
def check(rendition_key: str) -> str | None:
    """Re-evaluate the job a rendition belongs to; returns the status written (None if nothing was)."""
    job_id, _, file_name = rendition_key.rpartition("/")
    if not job_id or file_name not in PARTS:
        logger.info("not a rendition of this pattern; ignoring", extra={"key": rendition_key})
        return None
    etag = _current_etag(job_id)
    if etag is None:
        logger.info("upload deleted; ignoring its rendition", extra={"job_id": job_id})
        return None
    present: dict[str, dict[str, Any]] = {}
    for part in PARTS:
        head = _head(OUTPUT_BUCKET, f"{job_id}/{part}")
        meta = (head or {}).get("Metadata", {})
        if head and meta.get("source-etag") == etag:
            present[_part_name(part)] = {
                "key": f"{job_id}/{part}", "width": int(meta.get("width", 0)), "height": int(meta.get("height", 0)),
            }
    status = "ready" if len(present) == len(PARTS) else "processing"
    written = _conditional_update(
        Key={"job_id": job_id},
        UpdateExpression=(
            "SET #s = :status, source_etag = :etag, expected = :expected, parts = :parts, updated_at = :now"
            + (", ready_at = :now" if status == "ready" else "")
        ),
        ConditionExpression=_NOT_READY_FOR_THIS_VERSION,
        ExpressionAttributeNames=_NAMES,
        ExpressionAttributeValues={
            ":status": status, ":ready": "ready", ":etag": etag, ":parts": present,
            ":expected": [_part_name(p) for p in PARTS], ":now": _now(),
        },
    )
    if not written:
        return None
    logger.info("job evaluated", extra={"job_id": job_id, "status": status, "parts": sorted(present)})
    if status == "ready":
        metrics.add_metric(name="JobsReady", unit=MetricUnit.Count, value=1)
    return status


def record_handler(record: SQSRecord) -> None:
    for upload in S3Notification.model_validate_json(record.body).uploads():
        if upload.bucket == INPUT_BUCKET:
            register(upload)
        elif upload.bucket == OUTPUT_BUCKET:
            check(upload.key)
        else:
            raise ValueError(f"notification from an unexpected bucket {upload.bucket!r}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One processor per invocation: it holds this batch's records and failures, so it is never shared.
    # A batch of only failed records is reported, not raised: function errors mean a broken function.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
