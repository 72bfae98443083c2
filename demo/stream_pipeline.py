"""StreamPipelineDemo: Kinesis records transformed into a table and a GZIP archive in S3 (Firehose)."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.stream_pipeline import StreamPipeline

#: The demo archive's buffer: an object per MiB of records, or a minute after the first one.
BUFFER_SIZE_MIB = 1
BUFFER_INTERVAL = Duration.seconds(60)
BATCH_SIZE = 100


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 22 StreamPipeline: Kinesis -> transform function -> DynamoDB + Firehose -> S3 archive",
    )
    pipeline = StreamPipeline(
        stack, "Pipeline",
        buffer_size_mib=BUFFER_SIZE_MIB,
        buffer_interval=BUFFER_INTERVAL,
        batch_size=BATCH_SIZE,
        table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "StreamName", value=pipeline.stream.stream_name)
    CfnOutput(stack, "TableName", value=pipeline.table.table_name)
    CfnOutput(stack, "ArchiveBucketName", value=pipeline.archive_bucket.bucket_name)
    CfnOutput(stack, "DeliveryStreamName", value=pipeline.delivery_stream.ref)
    CfnOutput(stack, "OnFailureQueueUrl", value=pipeline.on_failure_queue.queue_url)
    CfnOutput(stack, "TransformFunctionName", value=pipeline.function.function_name)
    return stack


def record(key: str, n: int, **fields: object) -> bytes:
    """One producer record as the demo, the e2e tests and the benchmark put it to the stream."""
    return json.dumps({"key": key, "n": n, **fields}).encode()


def archived_lines(s3: Any, bucket: str, prefix: str = "records/") -> list[dict[str, Any]]:
    """Every line of every archive object under ``prefix``, objects in key order (GZIP undone)."""
    lines: list[dict[str, Any]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            lines += [json.loads(line) for line in gzip.decompress(body).splitlines() if line]
    return lines


def drive(ctx: DriveContext) -> DriveResult:
    """Put 3 records of one key: the table holds 3 items for it, the archive 3 lines (once the buffer
    interval passed)."""
    key = f"sensor-{uuid.uuid4().hex[:8]}"
    kinesis = ctx.client("kinesis")
    for n in range(3):
        kinesis.put_record(StreamName=ctx.outputs["StreamName"], Data=record(key, n, reading=20 + n), PartitionKey=key)
    ddb, s3 = ctx.client("dynamodb"), ctx.client("s3")

    def items() -> list[dict[str, Any]] | None:
        found = ddb.query(
            TableName=ctx.outputs["TableName"], KeyConditionExpression="partition_key = :k",
            ExpressionAttributeValues={":k": {"S": key}}, ConsistentRead=True,
        )["Items"]
        return found if len(found) >= 3 else None

    def lines() -> list[dict[str, Any]] | None:
        mine = [line for line in archived_lines(s3, ctx.outputs["ArchiveBucketName"]) if line["partition_key"] == key]
        return mine if len(mine) >= 3 else None

    stored = ctx.wait_for(items, timeout=30) or []
    archived = ctx.wait_for(lines, timeout=90) or []
    order = [json.loads(i["payload"]["S"])["n"] for i in stored]
    return DriveResult(
        sent=f"3 records of {key}",
        outcome=f"{len(stored)} table items (n={order}), {len(archived)} archive lines",
        ok=len(stored) == 3 and order == [0, 1, 2] and [line["data"]["n"] for line in archived] == [0, 1, 2],
    )
