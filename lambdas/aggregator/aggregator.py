"""Aggregator: one GET → the downstream functions called in parallel → one answer.

Each call has its own timeout (``CALL_TIMEOUT_MS``, the Lambda client's read timeout, no retries)
and the whole request a budget (``BUDGET_MS``): the answer leaves when every call has answered or
the budget is spent, whichever comes first, and calls still running are abandoned. A part that
failed or was too slow is left out and named under ``missing`` with the reason (``partial`` is
true): never a 500 for a downstream's fault. Complete answers are cached in DynamoDB for
``CACHE_TTL_SECONDS`` (``expires_at`` is checked on read, since DynamoDB deletes expired items
lazily), so a repeated request calls no downstream; a cache that cannot be read or written only
costs the calls.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()

#: part name → function name (or ARN)
DOWNSTREAMS: dict[str, str] = json.loads(os.environ["DOWNSTREAMS"])
CALL_TIMEOUT_S = int(os.environ["CALL_TIMEOUT_MS"]) / 1000
BUDGET_S = int(os.environ["BUDGET_MS"]) / 1000
CACHE_TABLE = os.environ["CACHE_TABLE_NAME"]
CACHE_TTL_S = int(os.environ["CACHE_TTL_SECONDS"])
_KEY = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
#: Time kept back from the budget for writing the cache and answering.
_MARGIN_S = 0.05


@functools.cache
def lambda_client() -> Any:
    # One attempt per call: a retry would spend the budget on the part that is already late.
    config = Config(
        read_timeout=CALL_TIMEOUT_S,
        connect_timeout=min(CALL_TIMEOUT_S, 2),
        retries={"total_max_attempts": 1},
        max_pool_connections=max(10, len(DOWNSTREAMS)),
    )
    return boto3.client("lambda", config=config)


@functools.cache
def ddb() -> Any:
    return boto3.client("dynamodb", config=Config(retries={"max_attempts": 2, "mode": "standard"}))


def call(name: str, function: str, key: str) -> dict[str, Any]:
    """One downstream call: ``{"ok": value}`` or ``{"reason": ..., "detail": ...}``, with its latency."""
    started = time.perf_counter()
    try:
        response = lambda_client().invoke(FunctionName=function, Payload=json.dumps({"key": key}).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            detail = payload.get("errorMessage") if isinstance(payload, dict) else str(payload)
            outcome: dict[str, Any] = {"reason": "error", "detail": str(detail)[:200]}
        else:
            outcome = {"ok": payload}
    except (ReadTimeoutError, ConnectTimeoutError):
        outcome = {"reason": "timeout", "detail": f"no answer within {int(CALL_TIMEOUT_S * 1000)} ms"}
    except (BotoCoreError, ClientError, ValueError) as error:
        outcome = {"reason": "error", "detail": f"{type(error).__name__}: {error}"[:200]}
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000)
    return outcome


def cached(key: str) -> dict[str, Any] | None:
    try:
        item = ddb().get_item(TableName=CACHE_TABLE, Key={"key": {"S": key}}, ConsistentRead=True).get("Item")
    except (BotoCoreError, ClientError):
        logger.exception("cache read failed; calling the downstreams")
        return None
    if not item or int(item["expires_at"]["N"]) <= time.time():
        return None
    return json.loads(item["parts"]["S"])


def remember(key: str, parts: dict[str, Any]) -> None:
    item = {
        "key": {"S": key},
        "parts": {"S": json.dumps(parts, sort_keys=True)},
        "expires_at": {"N": str(int(time.time()) + CACHE_TTL_S)},
    }
    try:
        ddb().put_item(TableName=CACHE_TABLE, Item=item)
    except (BotoCoreError, ClientError):
        logger.exception("cache write failed; the answer is still given")


def aggregate(key: str) -> dict[str, Any]:
    started = time.perf_counter()
    hit = cached(key)
    if hit is not None:
        metrics.add_metric(name="CacheHits", unit=MetricUnit.Count, value=1)
        return {"key": key, "parts": hit, "partial": False, "missing": {}, "cache": "hit",
                "total_ms": round((time.perf_counter() - started) * 1000)}
    deadline = started + BUDGET_S - _MARGIN_S
    pool = ThreadPoolExecutor(max_workers=len(DOWNSTREAMS), thread_name_prefix="downstream")
    futures: dict[Future[dict[str, Any]], str] = {
        pool.submit(call, name, function, key): name for name, function in DOWNSTREAMS.items()
    }
    outcomes: dict[str, dict[str, Any]] = {}
    pending = set(futures)
    while pending:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
        for future in done:
            outcomes[futures[future]] = future.result()
    # Calls still running are abandoned: their threads end at the client's read timeout.
    pool.shutdown(wait=False, cancel_futures=True)
    late = f"no answer within the {int(BUDGET_S * 1000)} ms budget"
    for future in pending:
        outcomes[futures[future]] = {"reason": "budget", "detail": late}
    parts = {name: o["ok"] for name, o in outcomes.items() if "ok" in o}
    missing = {name: {"reason": o["reason"], "detail": o["detail"]} for name, o in outcomes.items() if "ok" not in o}
    if missing:
        metrics.add_metric(name="PartialAnswers", unit=MetricUnit.Count, value=1)
        logger.warning("partial answer", extra={"key": key, "missing": missing})
    else:
        remember(key, parts)
    return {
        "key": key,
        "parts": parts,
        "partial": bool(missing),
        "missing": missing,
        "cache": "miss",
        "latency_ms": {name: o["latency_ms"] for name, o in outcomes.items() if "latency_ms" in o},
        "total_ms": round((time.perf_counter() - started) * 1000),
    }


@app.get("/<resource>/<key>")
@tracer.capture_method
def get(resource: str, key: str) -> dict[str, Any]:
    if not _KEY.match(key):
        raise BadRequestError("key must be 1-128 letters, digits or ._~-")
    return aggregate(key)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
