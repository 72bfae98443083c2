"""The SimpleWebService handler: one function serves every method of the item resource.

Thin by design: Powertools routes the request, the body is validated with the same model the API
Gateway schema describes (defence in depth), and plain business functions in ``store`` do the work.
Bad input never reaches the table: it is rejected with 400 and the reason.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import ItemIn
from pydantic import ValidationError
from store import BadPageToken, ItemNotFound, ItemStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()

RESOURCE = os.environ.get("RESOURCE_NAME", "items")
DEFAULT_PAGE_SIZE = int(os.environ.get("DEFAULT_PAGE_SIZE", "20"))
MAX_PAGE_SIZE = int(os.environ.get("MAX_PAGE_SIZE", "100"))
TABLE_NAME = os.environ["TABLE_NAME"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def store() -> Any:
    return ItemStore(boto3.resource("dynamodb").Table(TABLE_NAME))


def _reason(error: ValidationError) -> str:
    """One line naming each offending field, e.g. ``name: Field required``."""
    parts = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(p) for p in detail["loc"]) or "body"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)


def _item_in() -> ItemIn:
    body = app.current_event.decoded_body
    if not body:
        raise BadRequestError("the request body must be a JSON object")
    try:
        return ItemIn.model_validate_json(body)
    except ValidationError as error:
        raise BadRequestError(_reason(error)) from error


def _page_size() -> int:
    raw = app.current_event.get_query_string_value("limit")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise BadRequestError(f"limit must be an integer between 1 and {MAX_PAGE_SIZE} (given {raw!r})")
    return int(raw)


@app.post(f"/{RESOURCE}")
@tracer.capture_method
def create_item() -> Response:
    item = store().create(_item_in())
    metrics.add_metric(name="ItemsCreated", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=item.model_dump(),
        headers={"Location": f"/{RESOURCE}/{item.id}"},
    )


@app.get(f"/{RESOURCE}")
@tracer.capture_method
def list_items() -> dict[str, Any]:
    try:
        page = store().list(limit=_page_size(), next_token=app.current_event.get_query_string_value("next_token"))
    except BadPageToken as error:
        raise BadRequestError(str(error)) from error
    return {"items": [item.model_dump() for item in page.items], "next_token": page.next_token}


@app.get(f"/{RESOURCE}/<item_id>")
@tracer.capture_method
def get_item(item_id: str) -> dict[str, Any]:
    try:
        return store().get(item_id).model_dump()
    except ItemNotFound as error:
        raise NotFoundError(f"no item with id {item_id!r}") from error


@app.put(f"/{RESOURCE}/<item_id>")
@tracer.capture_method
def replace_item(item_id: str) -> dict[str, Any]:
    data = _item_in()
    try:
        return store().replace(item_id, data).model_dump()
    except ItemNotFound as error:
        raise NotFoundError(f"no item with id {item_id!r}") from error


@app.delete(f"/{RESOURCE}/<item_id>")
@tracer.capture_method
def delete_item(item_id: str) -> Response:
    try:
        store().delete(item_id)
    except ItemNotFound as error:
        raise NotFoundError(f"no item with id {item_id!r}") from error
    metrics.add_metric(name="ItemsDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
