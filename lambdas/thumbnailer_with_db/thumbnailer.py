"""Thumbnailer of the ThumbnailerWithDb pattern: each uploaded user image becomes one thumbnail.

Thin by design: Powertools turns the SQS batch into records and reports failed ones individually
(partial batch response), each body's S3 notification is parsed into object references, and
``imaging.make_thumbnail`` does the work. S3 notifies at least once; Powertools idempotency keyed on
the object write makes a redelivered notification a no-op instead of a second thumbnail version
(and a second user update). A non-image upload or a key without a user id fails its record only:
after maxReceiveCount deliveries it is in the DLQ, and no thumbnail means no user update.
"""

from __future__ import annotations

import functools
import os
import posixpath
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
from imaging import NotAnImage, make_thumbnail
from models import BadKey, ObjectRef, objects_created, user_file
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


UPLOAD_PREFIX = os.environ.get("UPLOAD_PREFIX", "uploads/")
THUMBNAILS_BUCKET = os.environ["THUMBNAILS_BUCKET"]
THUMBNAIL_PREFIX = os.environ.get("THUMBNAIL_PREFIX", "thumbnails/")
MAX_WIDTH = int(os.environ.get("MAX_WIDTH", "256"))
MAX_HEIGHT = int(os.environ.get("MAX_HEIGHT", "256"))
THUMBNAIL_FORMAT = os.environ.get("THUMBNAIL_FORMAT", "JPEG")
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
idempotency = IdempotencyConfig(expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "3600")))


def thumbnail_key(user_id: str, file: str, extension: str) -> str:
    """``<THUMBNAIL_PREFIX><user_id>/<file without its extension>.<extension>``."""
    stem, _ = posixpath.splitext(file)
    return f"{THUMBNAIL_PREFIX}{user_id}/{stem or file}.{extension}"


@idempotent_function(data_keyword_argument="ref", persistence_store=persistence, config=idempotency)
@tracer.capture_method
def thumbnail(ref: ObjectRef) -> dict[str, Any]:
    """Read the upload, shrink it, write the thumbnail; ``BadKey`` / ``NotAnImage`` for bad uploads."""
    user_id, file = user_file(ref.key, UPLOAD_PREFIX)
    extra = {"VersionId": ref.version_id} if ref.version_id else {}
    raw = s3().get_object(Bucket=ref.bucket, Key=ref.key, **extra)["Body"].read()
    thumb = make_thumbnail(raw, max_width=MAX_WIDTH, max_height=MAX_HEIGHT, image_format=THUMBNAIL_FORMAT)
    key = thumbnail_key(user_id, file, thumb.extension)
    s3().put_object(
        Bucket=THUMBNAILS_BUCKET,
        Key=key,
        Body=thumb.data,
        ContentType=thumb.content_type,
        Metadata={  # read back by the user updater; user metadata is ASCII only
            "user-id": user_id,
            "width": str(thumb.width),
            "height": str(thumb.height),
            "source-key": quote(ref.key),
        },
    )
    metrics.add_metric(name="ThumbnailsCreated", unit=MetricUnit.Count, value=1)
    logger.info("thumbnail written", user_id=user_id, source_key=ref.key, thumbnail_key=key,
                size=f"{thumb.width}x{thumb.height}", source_format=thumb.source_format)
    return {"thumbnail_key": key, "width": thumb.width, "height": thumb.height}


def record_handler(record: SQSRecord) -> None:
    """Thumbnail every upload of one notification; any failure fails this record only."""
    try:
        refs = objects_created(record.body)
    except ValidationError as error:
        logger.warning("not an S3 notification", message_id=record.message_id, errors=error.errors(include_url=False))
        raise
    if not refs:
        logger.info("nothing to do (S3 test event or no object-created records)", message_id=record.message_id)
    for ref in refs:
        try:
            thumbnail(ref=ref)
        except (BadKey, NotAnImage) as error:
            metrics.add_metric(name="UploadsRejected", unit=MetricUnit.Count, value=1)
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
