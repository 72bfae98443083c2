"""The Microservices handler: one service's API and the other services' events it subscribes to.

API (Powertools REST resolver): ``POST /`` stores a new item in this service's table and publishes
it as ``<service>.created`` on the event bus; ``GET /`` lists items; ``GET /{id}`` reads one. Under
a custom domain API Gateway passes the path with the service's base path (``/orders/abc``), so the
resolver strips ``BASE_PATH``. Events (an EventBridge rule): the subscribed counter of the item the
event names grows once per event id — a redelivered event changes nothing — and an event for an
item this service does not have is ignored, never creates one. Another service's table is never
read or written: what crosses a service boundary is an event.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

logger = Logger()
tracer = Tracer()
metrics = Metrics()

TABLE_NAME = os.environ["TABLE_NAME"]
SERVICE = os.environ["SERVICE_NAME"]
DETAIL_TYPE = os.environ.get("DETAIL_TYPE", f"{SERVICE}.created")
EVENT_BUS = os.environ.get("EVENT_BUS_NAME", "")
SUBSCRIPTIONS: list[dict[str, Any]] = json.loads(os.environ.get("SUBSCRIPTIONS") or "[]")
BASE_PATH = os.environ.get("BASE_PATH", "")
SEEN = "seen_events"
LIST_LIMIT = 100

app = APIGatewayRestResolver(strip_prefixes=[BASE_PATH] if BASE_PATH not in ("", "/") else None)


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def table() -> Any:
    return boto3.resource("dynamodb").Table(TABLE_NAME)


@functools.cache
def event_bus() -> Any:
    return boto3.client("events")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) as JSON numbers, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(v) for v in (sorted(value) if isinstance(value, set) else value)]
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the API shows it (the event bookkeeping stays inside the service)."""
    return {k: _plain(v) for k, v in item.items() if k != SEEN}


def _body() -> dict[str, Any]:
    raw = app.current_event.decoded_body
    if not raw:
        raise BadRequestError("the request body must be a JSON object")
    try:
        body = json.loads(raw, parse_float=Decimal)
    except ValueError as error:
        raise BadRequestError(f"the request body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object")
    if "id" in body or SEEN in body:
        raise BadRequestError(f"'id' and '{SEEN}' are set by the service")
    return body


@app.post("/")
@tracer.capture_method
def create_item() -> Response:
    item = {**_body(), "id": str(uuid.uuid4()), "created_at": _now()}
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
    metrics.add_metric(name="ItemsCreated", unit=MetricUnit.Count, value=1)
    if EVENT_BUS:
        detail = json.dumps(_plain(item))
        result = event_bus().put_events(
            Entries=[{"Source": SERVICE, "DetailType": DETAIL_TYPE, "Detail": detail, "EventBusName": EVENT_BUS}]
        )
        if result.get("FailedEntryCount"):
            logger.error("event not published", extra={"id": item["id"], "entries": result.get("Entries")})
            raise RuntimeError(f"publishing {DETAIL_TYPE} for {item['id']} failed")
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=_public(item),
        headers={"Location": f"{BASE_PATH}/{item['id']}"},
    )


@app.get("/")
@tracer.capture_method
def list_items() -> dict[str, Any]:
    page = table().scan(Limit=LIST_LIMIT)
    return {"items": [_public(i) for i in page.get("Items", [])], "truncated": "LastEvaluatedKey" in page}


@app.get("/<item_id>")
@tracer.capture_method
def get_item(item_id: str) -> dict[str, Any]:
    item = table().get_item(Key={"id": item_id}, ConsistentRead=True).get("Item")
    if item is None:
        raise NotFoundError(f"no item {item_id}")
    return _public(item)


def _subscription(event: EventBridgeEvent) -> dict[str, Any] | None:
    for subscription in SUBSCRIPTIONS:
        if subscription["source"] == event.source and subscription["detail_type"] == event.detail_type:
            return subscription
    return None


@tracer.capture_method
def apply_event(event: EventBridgeEvent) -> dict[str, Any]:
    """Add the event's amount to the subscribed counter of the item it names, once per event id."""
    subscription = _subscription(event)
    if subscription is None:
        logger.warning("event of no subscription", extra={"source": event.source, "detail_type": event.detail_type})
        return {"applied": False, "reason": "no subscription"}
    detail = event.detail or {}
    item_id = detail.get(subscription["item_id_field"])
    amount_field = subscription.get("amount_field")
    amount = detail.get(amount_field, 1) if amount_field else 1
    if not isinstance(item_id, str) or not item_id:
        logger.warning("event names no item", extra={"event_id": event.get_id})
        return {"applied": False, "reason": "no item id"}
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        logger.warning("event amount is not a number", extra={"event_id": event.get_id})
        return {"applied": False, "reason": "no amount"}
    try:
        table().update_item(
            Key={"id": item_id},
            UpdateExpression="ADD #counter :amount, #seen :event",
            ConditionExpression="attribute_exists(id) AND NOT contains(#seen, :event_id)",
            ExpressionAttributeNames={"#counter": subscription["counter"], "#seen": SEEN},
            ExpressionAttributeValues={
                ":amount": Decimal(str(amount)), ":event": {event.get_id}, ":event_id": event.get_id,
            },
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        logger.info("event not applied: unknown item or seen before", extra={"event_id": event.get_id})
        metrics.add_metric(name="EventsSkipped", unit=MetricUnit.Count, value=1)
        return {"applied": False, "reason": "unknown item or duplicate"}
    metrics.add_metric(name="EventsApplied", unit=MetricUnit.Count, value=1)
    return {"applied": True, "item": item_id}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "detail-type" in event and "source" in event:
        return apply_event(EventBridgeEvent(event))
    return app.resolve(event, context)
