"""Aggregator: sums records per key in Lambda tumbling windows; writes each window's totals once and
alerts once per key whose total reaches the threshold.

Lambda carries the window's state from one invocation to the next and hands it to a final invoke
when the window closes. Each batch is folded into the state and the state returned; a batch that
fails (a bad record raises, the event source bisects it out) is retried from the state before it, so
no record is counted twice. The final invoke writes one item per key: an ``ADD`` of the window's
count and total guarded by the state's segment id (the first sequence number it counted), so a
retried final invoke changes nothing and a window that Lambda ended early (its state outgrew 1 MB)
adds its next segment instead of overwriting the first. An alert is published when a key's total
reaches the threshold and its item has no ``alerted_at`` yet, which is then set: a retry after the
mark publishes nothing again.
"""

from __future__ import annotations

import functools
import json
import os
import time
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import BadRecord, fold, reading

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def ddb() -> Any:
    return boto3.client("dynamodb")


@functools.cache
def sns() -> Any:
    return boto3.client("sns")


RESULTS_TABLE = os.environ["RESULTS_TABLE_NAME"]
ALERT_TOPIC_ARN = os.environ["ALERT_TOPIC_ARN"]
THRESHOLD = Decimal(os.environ["ALERT_THRESHOLD"])
KEY_FIELD = os.environ.get("KEY_FIELD", "key")
VALUE_FIELD = os.environ.get("VALUE_FIELD", "value")


def _add_segment(window: dict[str, str], key: str, count: int, total: str, segment: str) -> dict[str, Any]:
    """Add one state segment's totals to the key's item once; the item as it is now."""
    item_key = {"window_start": {"S": window["start"]}, "key": {"S": key}}
    try:
        return ddb().update_item(
            TableName=RESULTS_TABLE,
            Key=item_key,
            # Expression names throughout: DynamoDB reserves many plain words (COUNT, TOTAL, ...).
            UpdateExpression="SET #end = :end ADD #count :count, #total :total, #segments :segment",
            ConditionExpression="attribute_not_exists(#segments) OR NOT contains(#segments, :id)",
            ExpressionAttributeNames={
                "#end": "window_end", "#count": "record_count", "#total": "total", "#segments": "segments",
            },
            ExpressionAttributeValues={
                ":end": {"S": window["end"]},
                ":count": {"N": str(count)},
                ":total": {"N": total},
                ":segment": {"SS": [segment]},
                ":id": {"S": segment},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ddb().exceptions.ConditionalCheckFailedException:  # a retried final invoke: added already
        return ddb().get_item(TableName=RESULTS_TABLE, Key=item_key, ConsistentRead=True)["Item"]


def _alert_once(item: dict[str, Any]) -> bool:
    """Publish the key's crossing of the threshold unless it went out already; True if published now."""
    total = Decimal(item["total"]["N"])
    if total < THRESHOLD or "alerted_at" in item:
        return False
    window = {"start": item["window_start"]["S"], "end": item["window_end"]["S"]}
    message = {"window": window, "key": item["key"]["S"], "count": int(item["record_count"]["N"]),
               "total": str(total), "threshold": str(THRESHOLD)}
    sns().publish(
        TopicArn=ALERT_TOPIC_ARN, Subject="Window total over threshold", Message=json.dumps(message),
        MessageAttributes={"key": {"DataType": "String", "StringValue": item["key"]["S"]}},
    )
    try:
        ddb().update_item(
            TableName=RESULTS_TABLE,
            Key={"window_start": item["window_start"], "key": item["key"]},
            UpdateExpression="SET #alerted = :now",
            ConditionExpression="attribute_not_exists(#alerted)",
            ExpressionAttributeNames={"#alerted": "alerted_at"},
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
        )
    except ddb().exceptions.ConditionalCheckFailedException:
        logger.info("alert marked by a concurrent final invoke", key=item["key"]["S"])
    return True


@tracer.capture_method
def close_window(window: dict[str, str], state: dict[str, Any]) -> None:
    totals = state.get("totals") or {}
    segment = str(state.get("segment") or "")
    alerts = 0
    for key, (count, total) in sorted(totals.items()):
        item = _add_segment(window, key, int(count), str(total), segment)
        alerts += _alert_once(item)
    metrics.add_metric(name="WindowKeys", unit=MetricUnit.Count, value=len(totals))
    metrics.add_metric(name="Alerts", unit=MetricUnit.Count, value=alerts)
    logger.info("window closed", window=window, keys=len(totals), alerts=alerts)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state: dict[str, Any] = dict(event.get("state") or {})
    for record in KinesisStreamEvent(event).records:
        sequence_number = record.kinesis.sequence_number
        try:
            key, value = reading(record.kinesis.data_as_bytes(), sequence_number, KEY_FIELD, VALUE_FIELD)
        except BadRecord as error:
            metrics.add_metric(name="BatchesRejected", unit=MetricUnit.Count, value=1)
            logger.warning("bad record fails its batch", sequence_number=sequence_number, reason=str(error)[:500])
            raise
        state = fold(state, key, value, sequence_number)
    if event.get("isFinalInvokeForWindow"):
        if state.get("totals"):
            close_window(event["window"], state)
        return {"state": {}, "batchItemFailures": []}
    return {"state": state, "batchItemFailures": []}
