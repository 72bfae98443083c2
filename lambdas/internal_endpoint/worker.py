"""The InternalEndpoint worker: prices an order. Called synchronously and asynchronously.

It has no side effects, so an asynchronous retry cannot apply anything twice. Invalid input raises
``InvalidQuoteRequest``: a synchronous caller gets it back as the function error, an asynchronous
event is retried and then recorded, with the error, in the on-failure destination.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Quote, QuoteRequest
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class InvalidQuoteRequest(Exception):
    """The event is not a quote request; the message lists every problem."""


def price(request: QuoteRequest) -> Quote:
    """The business step: subtotal, whole-cent discount (rounded down), total."""
    subtotal = sum(item.quantity * item.unit_price_cents for item in request.items)
    discount = subtotal * request.discount_percent // 100
    return Quote(
        order_id=request.order_id,
        item_count=sum(item.quantity for item in request.items),
        subtotal_cents=subtotal,
        discount_cents=discount,
        total_cents=subtotal - discount,
    )


def parse(event: Any) -> QuoteRequest:
    try:
        return QuoteRequest.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise InvalidQuoteRequest(problems) from None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    quote = price(parse(event))
    metrics.add_metric(name="QuotesPriced", unit=MetricUnit.Count, value=1)
    logger.info("priced", order_id=quote.order_id, total_cents=quote.total_cents)
    return quote.model_dump()
