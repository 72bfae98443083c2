"""Price step, one Map iteration per line item: quantity x unit price. Pure, so a retry is harmless."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import LineItem, PricedLine
from pydantic import BaseModel, ValidationError

logger = Logger()
tracer = Tracer()


class InvalidLine(Exception):
    """The Map item is not a line item."""


class PriceRequest(BaseModel):
    item: LineItem


def price(item: LineItem) -> PricedLine:
    return PricedLine(sku=item.sku, quantity=item.quantity, line_total_cents=item.quantity * item.unit_price_cents)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = PriceRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidLine(str(error.errors(include_url=False))) from None
    return price(request.item).model_dump()
