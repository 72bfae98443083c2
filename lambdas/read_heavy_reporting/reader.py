"""Reader: the read API over the views and the top-N index, cache-aside.

A read looks in the cache table first; a hit is an entry whose ``expires`` is still ahead (the
condition is checked here too, because DynamoDB's TTL deletes expired items some time later, not at
once). A miss reads the view or the index and stores the answer with ``expires`` = now + the TTL, so
a read-heavy key costs one cache read per request and one view read per TTL. A cached answer is at
most ``CACHE_TTL_SECONDS`` older than the views; unknown keys are answered 404 and not cached.
The ``X-Cache`` header says ``Hit`` or ``Miss``.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()

VIEW_TABLE = os.environ["VIEW_TABLE_NAME"]
INDEX_TABLE = os.environ["INDEX_TABLE_NAME"]
CACHE_TABLE = os.environ["CACHE_TABLE_NAME"]
CACHE_TTL_SECONDS = int(os.environ.get("CACHE_TTL_SECONDS", "60"))
MAX_KEY_LENGTH = 512
_deserializer = TypeDeserializer()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def ddb() -> Any:
    return boto3.client("dynamodb")


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _view(item: dict[str, Any]) -> dict[str, Any]:
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    return {"key": plain["view_key"], "item_count": plain.get("item_count", 0), "total": plain.get("total", 0)}


@tracer.capture_method
def cached(cache_key: str, load: Callable[[], Any | None]) -> tuple[str | None, bool]:
    """The JSON answer for ``cache_key`` and whether it came from the cache; (None, False) if ``load`` finds nothing."""
    now = int(time.time())
    entry = ddb().get_item(TableName=CACHE_TABLE, Key={"cache_key": {"S": cache_key}}).get("Item")
    if entry is not None and int(entry["expires"]["N"]) > now:
        metrics.add_metric(name="CacheHits", unit=MetricUnit.Count, value=1)
        return entry["body"]["S"], True
    metrics.add_metric(name="CacheMisses", unit=MetricUnit.Count, value=1)
    value = load()
    if value is None:
        return None, False
    body = json.dumps(value, default=_number)
    ddb().put_item(
        TableName=CACHE_TABLE,
        Item={
            "cache_key": {"S": cache_key},
            "body": {"S": body},
            "expires": {"N": str(now + CACHE_TTL_SECONDS)},
        },
    )
    return body, False


def _answer(body: str, hit: bool) -> Response:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=body,
        headers={"X-Cache": "Hit" if hit else "Miss"},
    )


@app.get("/views/<key>")
def get_view(key: str) -> Response:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequestError(f"a view key has 1 to {MAX_KEY_LENGTH} characters")

    def load() -> dict[str, Any] | None:
        item = ddb().get_item(TableName=VIEW_TABLE, Key={"view_key": {"S": key}}).get("Item")
        return _view(item) if item else None

    body, hit = cached(f"view#{key}", load)
    if body is None:
        raise NotFoundError(f"no view {key!r}")
    return _answer(body, hit)


@app.get("/top")
def get_top() -> Response:
    def load() -> dict[str, Any]:
        items = ddb().scan(TableName=INDEX_TABLE)["Items"]  # at most TOP_N items, by construction
        ranked = sorted(items, key=lambda i: int(i["rank"]["S"]))
        return {"top": [{"rank": int(i["rank"]["S"]), **_view(i)} for i in ranked]}

    body, hit = cached("top", load)
    assert body is not None
    return _answer(body, hit)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
