"""Splitter of the MapReduce pattern: turns one document into a job and its chunk messages.

Invoked synchronously with ``{"key": "<document in the input bucket>", "job_id": "<optional>"}``.
It reads the document once to find split points (chunks end at whitespace), records the job —
``mapping`` with its chunk count, before any chunk exists, so no mapper can finish a job whose size
is unknown — and sends one small message per chunk (a byte range, not the text: mappers read their
own range from S3, so messages stay small whatever the document size).

Bad requests (missing or malformed fields, no such document, not UTF-8 text, larger than
``MAX_CHUNKS`` x ``CHUNK_SIZE`` bytes)
raise ``InvalidRequest`` before anything is written. A retry with the same ``job_id`` re-sends the
chunks of the same document; mappers count each chunk once, so that is safe.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import SplitRequest
from words import split_points

logger = Logger()
tracer = Tracer()
metrics = Metrics()
INPUT_BUCKET = os.environ["INPUT_BUCKET"]
CHUNK_QUEUE_URL = os.environ["CHUNK_QUEUE_URL"]
CHUNK_SIZE = int(os.environ.get("CHUNK_SIZE", "32768"))
MAX_CHUNKS = int(os.environ.get("MAX_CHUNKS", "1000"))
JOBS_TABLE = os.environ["JOBS_TABLE"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


@functools.cache
def sqs() -> Any:
    return boto3.client("sqs")


@functools.cache
def jobs() -> Any:
    return boto3.resource("dynamodb").Table(JOBS_TABLE)


class InvalidRequest(Exception):
    """The request cannot start a job; nothing was written."""


def _read(key: str) -> tuple[bytes, str]:
    try:
        document = s3().get_object(Bucket=INPUT_BUCKET, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise InvalidRequest(f"no document {key!r} in the input bucket") from None
        raise
    size, limit = document["ContentLength"], MAX_CHUNKS * CHUNK_SIZE
    if size > limit:  # refused before reading it: the splitter holds the document in memory
        document["Body"].close()
        raise InvalidRequest(
            f"document {key!r} has {size} bytes, more than a job may have ({MAX_CHUNKS} chunks of "
            f"{CHUNK_SIZE} bytes = {limit} bytes): raise chunk_size or max_chunks"
        )
    return document["Body"].read(), document["ETag"].strip('"')


def _create_job(job_id: str, key: str, etag: str, size: int, chunks: int) -> str:
    """Record the job; returns its status (an existing job of the same document is a retry)."""
    status = "mapping" if chunks else "reducing"  # an empty document has nothing to map
    try:
        jobs().put_item(
            Item={"job_id": job_id, "status": status, "key": key, "etag": etag, "size": size, "chunks": chunks,
                  "created_at": datetime.now(UTC).isoformat()},
            ConditionExpression="attribute_not_exists(job_id)",
        )
        return status
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    existing = jobs().get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item") or {}
    if (existing.get("key"), existing.get("etag")) != (key, etag):
        raise InvalidRequest(f"job {job_id!r} already exists for another document or version; use a new job_id")
    return str(existing["status"])


def _send(messages: list[dict[str, Any]]) -> None:
    for first in range(0, len(messages), 10):
        batch = messages[first:first + 10]
        response = sqs().send_message_batch(
            QueueUrl=CHUNK_QUEUE_URL,
            Entries=[{"Id": str(m["chunk"]), "MessageBody": json.dumps(m)} for m in batch],
        )
        if response.get("Failed"):
            # The caller retries with the same job_id: chunks already sent are counted once.
            raise RuntimeError(f"SQS refused chunks {[f['Id'] for f in response['Failed']]}: retry the request")


@tracer.capture_method
def split(request: SplitRequest) -> dict[str, Any]:
    data, etag = _read(request.key)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(
            f"document {request.key!r} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    ranges = split_points(data, CHUNK_SIZE)  # at most MAX_CHUNKS: every chunk but the last has CHUNK_SIZE bytes or more
    job_id = request.job_id or uuid.uuid4().hex
    status = _create_job(job_id, request.key, etag, len(data), len(ranges))
    if status == "mapping":
        _send([
            {"job_id": job_id, "chunk": i, "chunks": len(ranges), "key": request.key, "etag": etag,
             "start": start, "end": end}
            for i, (start, end) in enumerate(ranges)
        ])
    logger.info("job split", extra={"job_id": job_id, "key": request.key, "bytes": len(data), "chunks": len(ranges)})
    metrics.add_metric(name="ChunksSent", unit=MetricUnit.Count, value=len(ranges) if status == "mapping" else 0)
    return {"job_id": job_id, "status": status, "chunks": len(ranges), "key": request.key}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse(event=event, model=SplitRequest)
    except ValidationError as error:
        raise InvalidRequest(f"invalid request: {error}") from None
    return split(request)
