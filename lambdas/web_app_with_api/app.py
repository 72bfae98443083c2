"""The WebAppWithApi handler: ``GET /api/items`` lists, ``POST /api/items`` adds.

Served behind the distribution's ``/api/*`` behaviour. It answers only 200, 201 and 400: the
distribution's SPA fallback turns any 403/404 (of any behaviour, as CloudFront does) into the page.
"""

from __future__ import annotations

import functools
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Item, NewItem
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()

API_PATH = os.environ.get("API_PATH", "api")
MAX_ITEMS = int(os.environ.get("MAX_ITEMS", "100"))
TABLE_NAME = os.environ["TABLE_NAME"]


# Made on first use, once per execution environment: importing the handler makes no client.
@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(TABLE_NAME)


def _reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in d['loc']) or 'body'}: {d['msg']}" for d in error.errors(include_url=False)
    )


def add_item(data: NewItem, now: datetime) -> Item:
    item = Item(id=str(uuid.uuid4()), name=data.name, created_at=now.isoformat(timespec="milliseconds"))
    table().put_item(Item=item.model_dump(), ConditionExpression="attribute_not_exists(id)")
    return item


def newest_items(limit: int) -> list[Item]:
    """Every item (scan, all pages), newest first, at most ``limit``."""
    found: list[Item] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table().scan(**kwargs)
        found += [Item.model_validate(raw) for raw in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(found, key=lambda i: (i.created_at, i.id), reverse=True)[:limit]


@app.get(f"/{API_PATH}/items")
@tracer.capture_method
def list_items() -> dict[str, Any]:
    return {"items": [item.model_dump() for item in newest_items(MAX_ITEMS)]}


@app.post(f"/{API_PATH}/items")
@tracer.capture_method
def create_item() -> Response:
    body = app.current_event.decoded_body
    if not body:
        raise BadRequestError("the request body must be a JSON object with a name")
    try:
        data = NewItem.model_validate_json(body)
    except ValidationError as error:
        raise BadRequestError(_reason(error)) from error
    item = add_item(data, datetime.now(UTC))
    metrics.add_metric(name="ItemsAdded", unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=item.model_dump())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
