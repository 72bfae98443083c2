"""Quote step of the Express (request/response) flow: the totals of a validated, priced order. Pure."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import Order, PricedLine, Shipping, quote
from pydantic import BaseModel, ValidationError

logger = Logger()
tracer = Tracer()


class InvalidQuote(Exception):
    """The step's input lacks the order, its priced lines or its shipping."""


class QuoteRequest(BaseModel):
    order: Order
    lines: list[PricedLine]
    shipping: Shipping


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = QuoteRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidQuote(str(error.errors(include_url=False))) from None
    return quote(request.order.order_id, request.lines, request.shipping).model_dump()
