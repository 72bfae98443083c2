"""Reducer of the MapReduce pattern: adds up a job's partial results once every chunk is mapped.

Triggered by the jobs table's stream, filtered to jobs entering ``reducing`` (the mappers' last
conditional update). It reads every partial of the job (consistent query), checks that there is
exactly one per chunk, adds the counts, writes the full result to the output bucket
(``<prefix><job_id>.json``) and marks the job ``done`` with totals and the top words.

A retry (same stream record, or a duplicate) recomputes the same result from the same partials,
overwrites the same object and finds the job already ``done``: nothing is counted twice. A record
that keeps failing goes, after the stream's retries, to the reducer's on-failure queue.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from models import chunk_id

logger = Logger()
tracer = Tracer()
metrics = Metrics()
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
RESULT_PREFIX = os.environ.get("RESULT_PREFIX", "results/")
TOP_N = int(os.environ.get("TOP_N", "10"))
JOBS_TABLE = os.environ["JOBS_TABLE"]
RESULTS_TABLE = os.environ["RESULTS_TABLE"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def s3() -> Any:
    return boto3.client("s3")


@functools.cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


@functools.cache
def jobs() -> Any:
    return dynamodb().Table(JOBS_TABLE)


@functools.cache
def results() -> Any:
    return dynamodb().Table(RESULTS_TABLE)


class IncompleteJob(Exception):
    """The partials do not match the job's chunks: retried, then sent to the on-failure queue."""


def _partials(job_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("job_id").eq(job_id), "ConsistentRead": True}
    while True:
        page = results().query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reduce_counts(partials: list[dict[str, Any]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for partial in partials:
        total.update({word: int(count) for word, count in partial["counts"].items()})
    return total


@tracer.capture_method
def reduce_job(job_id: str) -> bool:
    """Reduce one job; False if it was not (or no longer) waiting to be reduced."""
    job = jobs().get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
    if not job or job["status"] != "reducing":
        logger.info("job not reducing; nothing to do", extra={"job_id": job_id, "status": (job or {}).get("status")})
        return False
    partials = _partials(job_id)
    got = sorted(p["chunk"] for p in partials)
    expected = [chunk_id(i) for i in range(int(job["chunks"]))]
    if got != expected:
        raise IncompleteJob(f"job {job_id!r} expects chunks {expected[:3]}... ({len(expected)}), has {len(got)}")
    total = reduce_counts(partials)
    result_key = f"{RESULT_PREFIX}{job_id}.json"
    top = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:TOP_N]
    s3().put_object(
        Bucket=OUTPUT_BUCKET, Key=result_key, ContentType="application/json",
        Body=json.dumps({
            "job_id": job_id, "key": job["key"], "etag": job["etag"], "chunks": len(partials),
            "total_words": sum(total.values()), "distinct_words": len(total),
            "counts": dict(sorted(total.items())),
        }).encode(),
    )
    try:
        jobs().update_item(
            Key={"job_id": job_id},
            UpdateExpression=(
                "SET #s = :done, result_key = :result, total_words = :total, distinct_words = :distinct, "
                "top_words = :top, finished_at = :now"
            ),
            ConditionExpression="#s = :reducing",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":done": "done", ":reducing": "reducing", ":result": result_key, ":total": sum(total.values()),
                ":distinct": len(total), ":now": datetime.now(UTC).isoformat(),
                ":top": [{"word": word, "count": count} for word, count in top],
            },
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        logger.info("job already reduced", extra={"job_id": job_id})
        return False
    logger.info("job reduced", extra={"job_id": job_id, "words": sum(total.values()), "distinct": len(total)})
    metrics.add_metric(name="JobsReduced", unit=MetricUnit.Count, value=1)
    return True


def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    # The event source's filter passes only jobs entering "reducing"; check anyway.
    if not image or image.get("status") != "reducing":
        return
    reduce_job(str(image["job_id"]))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # One processor per invocation: it holds this batch's records and failures, so it is never shared.
    # A batch of only failed records is reported, not raised: function errors mean a broken function.
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
