"""RealtimeAnalyticsDemo: readings summed per sensor in 1-minute tumbling windows, an alert over 100."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.realtime_analytics import RealtimeAnalytics

WINDOW = Duration.minutes(1)
THRESHOLD = 100


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 23 RealtimeAnalytics: Kinesis -> tumbling-window aggregator -> results table + SNS alerts",
    )
    analytics = RealtimeAnalytics(
        stack, "Analytics",
        alert_threshold=THRESHOLD,
        window=WINDOW,
        batch_size=50,
        results_table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "StreamName", value=analytics.stream.stream_name)
    CfnOutput(stack, "ResultsTableName", value=analytics.results_table.table_name)
    CfnOutput(stack, "AlertTopicArn", value=analytics.alert_topic.topic_arn)
    CfnOutput(stack, "OnFailureQueueUrl", value=analytics.on_failure_queue.queue_url)
    return stack


def record(key: str, value: float, **fields: object) -> bytes:
    """One reading as the demo and the e2e tests put it to the stream."""
    return json.dumps({"key": key, "value": value, **fields}).encode()


def results(ddb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every window total: (window start, key) -> item."""
    pages = ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return {(i["window_start"]["S"], i["key"]["S"]): i for page in pages for i in page["Items"]}


def drive(ctx: DriveContext) -> DriveResult:
    """Put 4 readings of one sensor (total 120): once its window closes, the results table holds the
    total and the alert went out (the item is marked)."""
    key = f"sensor-{uuid.uuid4().hex[:8]}"
    kinesis = ctx.client("kinesis")
    for value in (30, 30, 30, 30):
        kinesis.put_record(StreamName=ctx.outputs["StreamName"], Data=record(key, value), PartitionKey=key)
    ddb = ctx.client("dynamodb")

    def closed() -> dict[str, Any] | None:
        mine = [i for (_, k), i in results(ddb, ctx.outputs["ResultsTableName"]).items() if k == key]
        return mine[0] if mine and "alerted_at" in mine[0] else None

    item = ctx.wait_for(closed, timeout=90)
    total = item["total"]["N"] if item else None
    return DriveResult(
        sent=f"4 readings of {key} (sum 120)",
        outcome=f"window total {total}, alerted" if item else "no window total with an alert",
        ok=item is not None and int(item["record_count"]["N"]) == 4 and float(total or 0) == 120,
    )
