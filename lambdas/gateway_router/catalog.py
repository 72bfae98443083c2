"""Demo team service "catalog": an HTTP service (a Lambda function URL) the gateway proxies to.

It is reached over HTTP, like any service another team runs, so the gateway's HTTP_PROXY route is
what a real deployment uses unchanged.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
app = LambdaFunctionUrlResolver()

ITEMS = {"kettle": {"sku": "kettle", "price_cents": 2500}, "mug": {"sku": "mug", "price_cents": 800}}


@app.get("/catalog/items")
def list_items() -> dict[str, Any]:
    return {"items": sorted(ITEMS)}


@app.get("/catalog/items/<sku>")
def get_item(sku: str) -> dict[str, Any]:
    if sku not in ITEMS:
        raise NotFoundError(f"no catalog item {sku!r}")
    return ITEMS[sku]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
