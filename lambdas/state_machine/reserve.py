"""Reserve step: records the priced order as RESERVED, once per order id.

The write is conditional: a new order id, or the same execution retrying (idempotent). Another
execution for an order id that already exists fails with ``DuplicateOrder``, which the state
machine ends on without compensating — the first execution's order is left as it is.
"""

from typing import Any

import orders
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import Order, PricedLine, Shipping, quote
from pydantic import BaseModel, ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class InvalidReservation(Exception):
    """The step's input lacks the order, its lines, its shipping or the execution id."""


class DuplicateOrder(Exception):
    """Another execution already placed this order id."""


class ReserveRequest(BaseModel):
    order: Order
    lines: list[PricedLine]
    shipping: Shipping
    execution: str


def reserve(request: ReserveRequest) -> dict[str, Any]:
    totals = quote(request.order.order_id, request.lines, request.shipping)
    item = {
        "order_id": request.order.order_id,
        "status": "RESERVED",
        "customer": request.order.customer,
        "shipping": request.shipping.method,
        "total_cents": totals.total_cents,
        "execution": request.execution,
    }
    try:
        orders.table().put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(order_id) OR (#e = :e AND #s = :reserved)",
            ExpressionAttributeNames={"#e": "execution", "#s": "status"},
            ExpressionAttributeValues={":e": request.execution, ":reserved": "RESERVED"},
        )
    except ClientError as error:
        if not orders.conditional_failed(error):
            raise
        existing = orders.get(request.order.order_id) or {}
        if existing.get("execution") != request.execution:
            raise DuplicateOrder(f"order {request.order.order_id} was already placed") from None
        logger.info("already past reservation", order_id=request.order.order_id, status=existing.get("status"))
    return totals.model_dump()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = ReserveRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidReservation(str(error.errors(include_url=False))) from None
    result = reserve(request)
    metrics.add_metric(name="OrdersReserved", unit=MetricUnit.Count, value=1)
    return result
