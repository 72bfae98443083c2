"""Rendition worker of the FanOutFanIn pattern: one function per rendition, each on its own queue.

Each SQS record is an S3 "object created" notification of the uploads bucket (via SNS, raw
delivery). The worker reads that exact version of the upload (``IfMatch`` on its ETag), resizes it
with Pillow and writes ``<upload key>/<rendition>.<ext>`` to the renditions bucket, tagging the
object with the source ETag so the fan-in can tell a current part from a stale one.

A redelivered message finds its rendition already written for that upload version and writes
nothing (and a rewrite would be the same key and bytes anyway). A record that
fails (not an image, a source too small for this rendition) fails alone: it returns to this
worker's queue and, after maxReceiveCount, rests in this worker's DLQ — the other renditions are
not affected, and the job never goes ready without this part.
"""

from __future__ import annotations

import functools
import os
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
from renditions import Rendered, RenditionSpec, render

logger = Logger()
tracer = Tracer()
SPEC = RenditionSpec.from_env()
metrics = Metrics()  # its service dimension (the function's POWERTOOLS_SERVICE_NAME) names the rendition
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


def _rendered_already(key: str, etag: str) -> bool:
    try:
        head = s3().head_object(Bucket=OUTPUT_BUCKET, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return head.get("Metadata", {}).get("source-etag") == etag


@tracer.capture_method
def render_upload(upload: Upload) -> Rendered | None:
    """Write this worker's rendition of ``upload``; None when there is nothing to do (already written,
    or the upload is gone or was replaced)."""
    target = SPEC.key_for(upload.key)
    if _rendered_already(target, upload.etag):
        logger.info("rendition already written; skipping redelivery", extra={"key": upload.key})
        return None
    try:
        source = s3().get_object(Bucket=upload.bucket, Key=upload.key, IfMatch=upload.etag)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412", "NoSuchKey", "404"):
            # The newer upload (or the deletion) has its own notification: this one is obsolete.
            logger.info("upload replaced or deleted; skipping", extra={"key": upload.key, "code": code})
            return None
        raise
    rendered = render(source["Body"].read(), SPEC)
    s3().put_object(
        Bucket=OUTPUT_BUCKET,
        Key=target,
        Body=rendered.body,
        ContentType=rendered.content_type,
        Metadata={
            "source-etag": upload.etag,
            "rendition": SPEC.name,
            "width": str(rendered.width),
            "height": str(rendered.height),
        },
    )
    logger.info("rendition written", extra={"key": upload.key, "rendition": SPEC.name,
                                            "width": rendered.width, "height": rendered.height})
    metrics.add_metric(name="RenditionsWritten", unit=MetricUnit.Count, value=1)
    return rendered


def record_handler(record: SQSRecord) -> None:
    for upload in S3Notification.model_validate_json(record.body).uploads():
        render_upload(upload)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One processor per invocation: it holds this batch's records and failures, so it is never shared.
    # A batch of only failed records is reported, not raised: function errors mean a broken function.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
