"""User updater of the ThumbnailerWithDb pattern: a new thumbnail's event points its user at it.

Thin by design: Powertools reports failed records individually (partial batch response), each
body's S3 notification is parsed into object references, the user id comes from the thumbnail key
and the dimensions from the thumbnail's metadata. The write is one conditional UpdateItem keyed on
the event time: a redelivered event rewrites the same values and an older thumbnail's late event
changes nothing, so the record always points at the newest thumbnail without an idempotency table.
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
from models import ObjectRef, objects_created, user_file
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
USERS_TABLE_NAME = os.environ["USERS_TABLE_NAME"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


@functools.cache
def users() -> Any:
    return boto3.resource("dynamodb").Table(USERS_TABLE_NAME)


THUMBNAIL_PREFIX = os.environ.get("THUMBNAIL_PREFIX", "thumbnails/")


def dimensions(ref: ObjectRef) -> dict[str, int] | None:
    """The thumbnail's width and height from its metadata ({} if it has none); None if it is gone."""
    extra = {"VersionId": ref.version_id} if ref.version_id else {}
    try:
        meta = s3().head_object(Bucket=ref.bucket, Key=ref.key, **extra).get("Metadata", {})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchVersion"):
            return None
        raise
    found = {name: meta.get(name, "") for name in ("width", "height")}
    return {name: int(value) for name, value in found.items() if value.isdigit()}


@tracer.capture_method
def point_user_at(ref: ObjectRef) -> bool:
    """Point the user of thumbnail ``ref`` at it unless a newer one is recorded; True if written."""
    user_id, _ = user_file(ref.key, THUMBNAIL_PREFIX)
    dims = dimensions(ref)
    if dims is None:
        logger.warning("thumbnail no longer exists; user not updated", user_id=user_id, key=ref.key)
        metrics.add_metric(name="MissingThumbnails", unit=MetricUnit.Count, value=1)
        return False
    names = {"#key": "thumbnail_key", "#bucket": "thumbnail_bucket", "#at": "thumbnail_updated_at"}
    values: dict[str, Any] = {":key": ref.key, ":bucket": ref.bucket, ":at": ref.event_time}
    sets = ["#key = :key", "#bucket = :bucket", "#at = :at"]
    for name, value in dims.items():
        names[f"#{name}"], values[f":{name}"] = f"thumbnail_{name}", value
        sets.append(f"#{name} = :{name}")
    try:
        users().update_item(
            Key={"user_id": user_id},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_not_exists(#at) OR #at <= :at",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        logger.info("a newer thumbnail is already recorded", user_id=user_id, key=ref.key, event_time=ref.event_time)
        metrics.add_metric(name="StaleThumbnailEvents", unit=MetricUnit.Count, value=1)
        return False
    metrics.add_metric(name="UsersUpdated", unit=MetricUnit.Count, value=1)
    logger.info("user points at new thumbnail", user_id=user_id, key=ref.key)
    return True


def record_handler(record: SQSRecord) -> None:
    """Apply every thumbnail of one notification; any failure fails this record only."""
    try:
        refs = objects_created(record.body)
    except ValidationError as error:
        logger.warning("not an S3 notification", message_id=record.message_id, errors=error.errors(include_url=False))
        raise
    for ref in refs:
        point_user_at(ref)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A batch whose records all fail is still a handled batch (no raise): function errors and their
    # alarm then mean a broken function, not bad uploads; failed messages go to the DLQ either way.
    # One processor per invocation: it holds the batch's state, which must never be shared with an
    # invocation running concurrently in the same interpreter.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
