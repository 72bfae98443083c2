"""Demo team service "orders", deployed twice (API_VERSION v1 and v2) behind the gateway's Lambda routes.

v2 changed the contract (amounts in cents, a ``links`` object) while v1 clients keep theirs: both
versions answer side by side, each from its own function.
"""

from __future__ import annotations

import os
import re
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()

API_VERSION = os.environ["API_VERSION"]
_ORDER_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def order(order_id: str, version: str) -> dict[str, Any]:
    """The order as version ``version`` of the contract shows it."""
    if not _ORDER_ID.match(order_id):
        raise BadRequestError(f"order id must be 1-64 letters, digits or dashes (given {order_id!r})")
    if version == "v1":
        return {"id": order_id, "version": "v1", "total": 12.5}
    return {"id": order_id, "version": version, "total_cents": 1250, "links": {"self": f"/{version}/orders/{order_id}"}}


@app.get("/<version>/orders/<order_id>")
def get_order(version: str, order_id: str) -> dict[str, Any]:
    if version != API_VERSION:
        raise BadRequestError(f"this is the {API_VERSION} orders service (called as {version!r})")
    return order(order_id, API_VERSION)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
