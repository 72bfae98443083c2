"""The demo's downstream: a payment provider that applies each request once and can be down.

It counts every call that reaches it (the ``#calls`` item, so a test can see exactly which calls
the breaker let through), fails while its ``#status`` item says ``down`` (an outage the operator
or the test switches on and off), and otherwise records the request in its ledger with a
conditional put on ``request_id``: a request that comes again is answered, not applied twice.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Call

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ledger = boto3.resource("dynamodb").Table(os.environ["LEDGER_TABLE_NAME"])
CALLS, STATUS = "#calls", "#status"


class ProviderDown(Exception):
    """The provider is in an outage: every call fails until its status is up again."""


@tracer.capture_method
def apply(call: Call) -> dict[str, Any]:
    ledger.update_item(
        Key={"request_id": CALLS}, UpdateExpression="ADD calls :one", ExpressionAttributeValues={":one": 1}
    )
    status = ledger.get_item(Key={"request_id": STATUS}, ConsistentRead=True).get("Item") or {}
    if status.get("down"):
        metrics.add_metric(name="CallsFailed", unit=MetricUnit.Count, value=1)
        raise ProviderDown("payment provider unavailable")
    try:
        ledger.put_item(
            Item={"request_id": call.request_id, "payload": json.dumps(call.payload), "applied_at": int(time.time())},
            ConditionExpression="attribute_not_exists(request_id)",
        )
    except ledger.meta.client.exceptions.ConditionalCheckFailedException:
        metrics.add_metric(name="DuplicatesAnswered", unit=MetricUnit.Count, value=1)
        return {"request_id": call.request_id, "applied": False, "duplicate": True}
    metrics.add_metric(name="CallsApplied", unit=MetricUnit.Count, value=1)
    return {"request_id": call.request_id, "applied": True, "duplicate": False}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A malformed request is the breaker's caller's bug, not an outage: it raises like an outage
    # would, and a breaker in front counts it (the breaker validates the same model first).
    return apply(parse(event=event, model=Call))
