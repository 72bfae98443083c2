"""The gateway's own route: ``GET /`` lists the routes and versions the gateway serves.

Clients discover what exists (``/v1`` and ``/v2`` side by side) without calling any backend; the
table comes from the ``ROUTES`` variable the construct writes from its route table.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()

ROUTES: list[dict[str, Any]] = json.loads(os.environ["ROUTES"])


def versions(routes: list[dict[str, Any]]) -> list[str]:
    """The ``/vN`` prefixes of the table, in order (``v1``, ``v2``...)."""
    found = {r["path"].split("/")[1] for r in routes if r["path"].split("/")[1][:1] == "v"}
    return sorted(v for v in found if v[1:].isdigit())


@app.get("/")
def directory() -> dict[str, Any]:
    return {"routes": ROUTES, "versions": versions(ROUTES)}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
