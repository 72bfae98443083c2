"""Mapper of the MapReduce pattern: counts the words of one chunk and records it as done.

Per chunk message: read bytes ``[start, end)`` of that exact document version (``IfMatch``), count
its words, then one transaction of two keyed writes:
- the partial result, put at (job_id, chunk) — a retry overwrites the same item with the same counts;
- the chunk id added to the job's ``done`` *set* (adding it again changes nothing), on condition
  that the job exists, is ``mapping`` and has this many chunks.
So however often SQS delivers a chunk, it counts once; ``done`` never names a chunk without its
partial; and a chunk of an unknown or finished job writes nothing. Then the job is moved ``mapping``
→ ``reducing`` if ``done`` has every chunk: a conditional update only the last chunk's mapper can
win, and that transition is what triggers the reducer (the jobs table's stream).

A chunk that fails (document replaced, job unknown, malformed message) fails alone and, after
maxReceiveCount, rests in the chunk DLQ; its job stays ``mapping`` rather than reducing a partial count.
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
from models import Chunk
from words import count_words

logger = Logger()
tracer = Tracer()
metrics = Metrics()
INPUT_BUCKET = os.environ["INPUT_BUCKET"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


@functools.cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


JOBS_TABLE = os.environ["JOBS_TABLE"]
RESULTS_TABLE = os.environ["RESULTS_TABLE"]


@functools.cache
def jobs() -> Any:
    return dynamodb().Table(JOBS_TABLE)


_NAMES = {"#s": "status", "#n": "chunks", "#d": "done"}


class ChunkRejected(Exception):
    """The chunk cannot be recorded for its job (unknown job, or a job of another size)."""


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@tracer.capture_method
def map_chunk(chunk: Chunk) -> bool:
    """Count and record one chunk; False if it had already been recorded (a redelivery)."""
    body = s3().get_object(
        Bucket=INPUT_BUCKET, Key=chunk.key, Range=f"bytes={chunk.start}-{chunk.end - 1}", IfMatch=chunk.etag
    )["Body"].read()
    counts = count_words(body.decode("utf-8"))
    try:
        dynamodb().meta.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": RESULTS_TABLE, "Item": {
                "job_id": chunk.job_id, "chunk": chunk.chunk_id, "counts": dict(counts),
                "words": sum(counts.values()), "start": chunk.start, "end": chunk.end,
            }}},
            {"Update": {
                "TableName": JOBS_TABLE, "Key": {"job_id": chunk.job_id},
                "UpdateExpression": "ADD #d :chunk",
                "ConditionExpression": "#s = :mapping AND #n = :chunks",
                "ExpressionAttributeNames": _NAMES,
                "ExpressionAttributeValues": {":chunk": {chunk.chunk_id}, ":mapping": "mapping",
                                              ":chunks": chunk.chunks},
            }},
        ])
    except ClientError as error:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" not in reasons:
            raise
        job = jobs().get_item(Key={"job_id": chunk.job_id}, ConsistentRead=True).get("Item")
        if job and chunk.chunk_id in job.get("done", set()):
            logger.info("chunk already recorded", extra={"job_id": chunk.job_id, "chunk": chunk.chunk})
            return False
        state = f"is {job['status']} with {job['chunks']} chunks" if job else "does not exist"
        raise ChunkRejected(
            f"job {chunk.job_id!r} {state}; chunk {chunk.chunk} of {chunk.chunks} cannot be recorded"
        ) from None
    metrics.add_metric(name="ChunksMapped", unit=MetricUnit.Count, value=1)
    _complete_if_all_done(chunk.job_id)
    return True


def _complete_if_all_done(job_id: str) -> None:
    """Move the job to ``reducing`` once ``done`` holds every chunk; exactly one mapper wins."""
    try:
        jobs().update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET #s = :reducing, mapped_at = :now",
            ConditionExpression="#s = :mapping AND size(#d) = #n",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={":reducing": "reducing", ":mapping": "mapping",
                                       ":now": datetime.now(UTC).isoformat()},
        )
    except ClientError as error:
        if not _failed_condition(error):
            raise
        return
    logger.info("all chunks mapped", extra={"job_id": job_id})


def record_handler(record: SQSRecord) -> None:
    map_chunk(Chunk.model_validate_json(record.body))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One processor per invocation: it holds this batch's records and failures, so it is never shared.
    # A batch of only failed records is reported, not raised: function errors mean a broken function.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
