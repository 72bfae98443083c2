"""Validate step: turns the workflow input into an ``Order`` or fails with ``InvalidOrder``.

The state machine catches ``InvalidOrder`` and ends in its Rejected state before anything is
written; every other error (a bug) fails the execution loudly.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Order
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class InvalidOrder(Exception):
    """The input is not an order; the message lists every problem."""


def parse(event: Any) -> Order:
    try:
        return Order.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'order'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise InvalidOrder(problems) from None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    order = parse(event)
    metrics.add_metric(name="OrdersValidated", unit=MetricUnit.Count, value=1)
    logger.info("validated", order_id=order.order_id, items=len(order.items))
    return order.model_dump()
