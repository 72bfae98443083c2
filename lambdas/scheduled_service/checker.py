"""The ScheduledService function: run every health check, alert on each failure, record results.

Thin by design: the scheduled event is parsed with Powertools' EventBridge model, ``probe`` does one
HTTP GET and judges it, ``run`` checks every URL in parallel and alerts on the failures. EventBridge
delivers at least once; Powertools idempotency keyed on the event ``id`` makes a redelivered run
return the first run's summary without checking or alerting again.
"""

from __future__ import annotations

import functools
import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import CHECK_LIST, Check, Result

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CHECKS: list[Check] = CHECK_LIST.validate_json(os.environ["CHECKS"])
REQUEST_TIMEOUT = float(os.environ.get("REQUEST_TIMEOUT_SECONDS", "5"))
ALERT_TOPIC_ARN = os.environ["ALERT_TOPIC_ARN"]
RESULTS_TABLE = os.environ.get("RESULTS_TABLE_NAME")
RESULT_TTL = int(os.environ.get("RESULT_TTL_SECONDS", str(30 * 24 * 3600)))
#: How much of a body is read to look for ``body_contains``.
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "serverless-patterns-health-check/1.0"

# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def sns() -> Any:
    return boto3.client("sns")


@functools.cache
def results_table() -> Any:
    return boto3.resource("dynamodb").Table(RESULTS_TABLE) if RESULTS_TABLE else None


persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
idempotency = IdempotencyConfig(event_key_jmespath="id", raise_on_no_idempotency_key=True)


def probe(check: Check, timeout: float = REQUEST_TIMEOUT) -> Result:
    """GET the check's URL once and list every way the answer falls short."""
    request = urllib.request.Request(check.url, headers={"User-Agent": USER_AGENT}, method="GET")
    started = time.perf_counter()
    status: int | None = None
    body = b""
    reasons: list[str] = []
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the model allows http(s) URLs only
            status = response.status
            body = response.read(MAX_BODY_BYTES)
    except urllib.error.HTTPError as error:  # an answer all the same: judge its status and body
        status = error.code
        body = error.read(MAX_BODY_BYTES)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        reasons.append(f"request failed: {reason}")
    latency_ms = round((time.perf_counter() - started) * 1000)
    if status is not None:
        if status not in check.expected_status:
            reasons.append(f"status {status} not in {check.expected_status}")
        if latency_ms > check.max_latency_ms:
            reasons.append(f"latency {latency_ms} ms above {check.max_latency_ms} ms")
        if check.body_contains is not None and check.body_contains not in body.decode("utf-8", errors="replace"):
            reasons.append(f"body does not contain {check.body_contains!r}")
    return Result(name=check.name, url=check.url, status=status, latency_ms=latency_ms, reasons=reasons)


def alert(result: Result, stamp: dict[str, str]) -> None:
    """Publish one alert for one failed check; attributes let subscribers filter by check or URL."""
    subject = "".join(ch for ch in f"Health check failed: {result.name}" if 32 <= ord(ch) < 127)[:100]
    sns().publish(
        TopicArn=ALERT_TOPIC_ARN,
        Subject=subject,
        Message=json.dumps({**result.model_dump(), **stamp}),
        MessageAttributes={
            "check": {"DataType": "String", "StringValue": result.name},
            "url": {"DataType": "String", "StringValue": result.url},
        },
    )


def record(result: Result, stamp: dict[str, str]) -> None:
    if results_table() is None:
        return
    item: dict[str, Any] = {
        "check": result.name, **stamp, "url": result.url, "ok": result.ok,
        "latency_ms": result.latency_ms, "reasons": result.reasons,
        "expires_at": int(time.time()) + RESULT_TTL,
    }
    if result.status is not None:
        item["status"] = result.status
    results_table().put_item(Item=item)


def run(checks: list[Check], scheduled_for: str) -> list[Result]:
    """Check every URL in parallel, then alert on each failure and record every result.

    ``checked_at`` (when the checks ran, to the millisecond) keys the recorded results;
    ``scheduled_for`` is the time of the scheduled event that asked for the run.
    """
    stamp = {"checked_at": datetime.now(UTC).isoformat(timespec="milliseconds"), "scheduled_for": scheduled_for}
    with ThreadPoolExecutor(max_workers=min(16, len(checks))) as pool:
        results = list(pool.map(probe, checks))
    for result in results:
        record(result, stamp)
        if not result.ok:
            logger.warning("health check failed", check=result.name, url=result.url, reasons=result.reasons)
            alert(result, stamp)
    failed = sum(not r.ok for r in results)
    metrics.add_metric(name="ChecksRun", unit=MetricUnit.Count, value=len(results))
    metrics.add_metric(name="FailedChecks", unit=MetricUnit.Count, value=failed)
    return results


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(persistence_store=persistence, config=idempotency)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled = parse(event=event, model=EventBridgeModel)
    scheduled_for = scheduled.time.astimezone(UTC).isoformat()
    results = run(CHECKS, scheduled_for)
    return {
        "event_id": scheduled.id,
        "scheduled_for": scheduled_for,
        "checked": len(results),
        "failed": [r.name for r in results if not r.ok],
        "results": [r.model_dump() for r in results],
    }

