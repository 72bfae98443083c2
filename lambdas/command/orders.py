"""Versioned order command handlers of the Command demo: each is invoked by the router with the
validated envelope, checks its own payload and answers with what it received and what it did.

``create_order_v1`` and ``create_order_v2`` sit side by side: v1 clients keep working while v2
clients send the richer payload.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import CancelOrderV1, CommandEnvelope, CreateOrderV1, CreateOrderV2, LineItem, describe
from pydantic import BaseModel

logger = Logger()
tracer = Tracer()
metrics = Metrics()
P = TypeVar("P", bound=BaseModel)


def new_order(customer: str | None, items: list[LineItem]) -> dict[str, Any]:
    return {
        "order_id": f"ord-{uuid.uuid4().hex[:12]}",
        "customer": customer,
        "items": [item.model_dump() for item in items],
        "status": "created",
    }


def create_v1(payload: CreateOrderV1) -> dict[str, Any]:
    return new_order(None, [LineItem(sku=payload.item, quantity=payload.quantity)])


def create_v2(payload: CreateOrderV2) -> dict[str, Any]:
    return new_order(payload.customer, payload.items)


def cancel_v1(payload: CancelOrderV1) -> dict[str, Any]:
    return {"order_id": payload.order_id, "status": "cancelled", "reason": payload.reason or "customer request"}


def _handler(model: type[P], business: Callable[[P], dict[str, Any]]) -> Callable[[dict[str, Any], LambdaContext], Any]:
    """A Lambda handler: envelope → typed payload → ``business`` → ``{handled_by, received, result}``."""
    label = f"{os.environ.get('COMMAND_NAME', '?')} v{os.environ.get('COMMAND_VERSION', '?')}"

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            envelope = parse(event=event, model=CommandEnvelope)
            payload = model.model_validate(envelope.payload)
        except ValidationError as error:
            metrics.add_metric(name="PayloadRejected", unit=MetricUnit.Count, value=1)
            return {"error": f"invalid payload for {label}: {describe(error)}", "code": "InvalidPayload"}
        result = business(payload)
        metrics.add_metric(name="CommandHandled", unit=MetricUnit.Count, value=1)
        logger.info("command handled", extra={"handled_by": label})
        return {"handled_by": label, "received": envelope.payload, "result": result}

    return handler


create_order_v1 = _handler(CreateOrderV1, create_v1)
create_order_v2 = _handler(CreateOrderV2, create_v2)
cancel_order_v1 = _handler(CancelOrderV1, cancel_v1)
