"""EventDrivenProcessorDemo: text documents uploaded under ``incoming/`` are normalized and gzip'd."""

from __future__ import annotations

import gzip
import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.event_driven_processor import EventDrivenProcessor

PREFIX = "incoming/"
SUFFIX = ".txt"


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 11 EventDrivenProcessor: uploaded text normalized to UTF-8 NFC and gzip'd",
    )
    pattern = EventDrivenProcessor(
        stack, "Encoder",
        prefix=PREFIX,
        suffix=SUFFIX,
    )
    pattern.idempotency_table.apply_removal_policy(RemovalPolicy.DESTROY)
    CfnOutput(stack, "InputBucketName", value=pattern.input_bucket.bucket_name)
    CfnOutput(stack, "OutputBucketName", value=pattern.output_bucket.bucket_name)
    CfnOutput(stack, "QueueUrl", value=pattern.queue.queue_url)
    CfnOutput(stack, "DeadLetterQueueUrl", value=pattern.dead_letter_queue.queue_url)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """Upload one Windows-style UTF-16 document: its UTF-8, LF, NFC, gzip'd form appears in the output bucket."""
    key = f"{PREFIX}demo-{uuid.uuid4().hex[:8]}{SUFFIX}"
    text = "Cafe\u0301 menu\r\nlatte\r\n"  # decomposed é, CRLF line endings
    expected = "Caf\u00e9 menu\nlatte\n"
    s3 = ctx.client("s3")
    s3.put_object(Bucket=ctx.outputs["InputBucketName"], Key=key, Body=text.encode("utf-16"))

    def processed() -> bytes | None:
        try:
            return s3.get_object(Bucket=ctx.outputs["OutputBucketName"], Key=f"{key}.gz")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    data = ctx.wait_for(processed, timeout=20)
    got = gzip.decompress(data).decode("utf-8") if data else None
    return DriveResult(
        sent=f"UTF-16 CRLF upload {key}",
        outcome=f"{key}.gz = {got!r}" if data else "no processed object",
        ok=got == expected,
    )
