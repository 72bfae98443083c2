"""Charge step: takes the payment for a RESERVED order (a stand-in payment provider).

The provider is simulated from the card: ``declined`` is refused (``PaymentDeclined``, not
retried); ``flaky-N`` is unavailable for the first N attempts (``PaymentUnavailable``, retried by
the state machine with back-off; the attempt number comes from ``$$.State.RetryCount``). Recording
the payment is conditional on RESERVED, so a retry after a lost response charges once.
"""

import re
from typing import Any

import orders
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import Order
from pydantic import BaseModel, Field, ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class InvalidCharge(Exception):
    """The step's input lacks the order, its amount or the attempt number."""


class PaymentDeclined(Exception):
    """The card was refused: a business outcome, compensated, never retried."""


class PaymentUnavailable(Exception):
    """The provider did not answer: transient, retried with back-off."""


class ChargeRequest(BaseModel):
    order: Order
    amount_cents: int = Field(ge=0)
    attempt: int = Field(ge=0)


def provider(card: str, attempt: int) -> None:
    """The simulated provider's answer for this card on this attempt."""
    if card == "declined":
        raise PaymentDeclined("card declined")
    flaky = re.fullmatch(r"flaky-(\d+)", card)
    if flaky and attempt < int(flaky.group(1)):
        raise PaymentUnavailable(f"payment provider unavailable (attempt {attempt + 1})")


def charge(request: ChargeRequest) -> dict[str, Any]:
    order = request.order
    provider(order.payment.card if order.payment else "", request.attempt)
    payment_id = f"pay-{order.order_id}"
    try:
        orders.table().update_item(
            Key={"order_id": order.order_id},
            UpdateExpression="SET #s = :paid, payment_id = :p, paid_cents = :a",
            ConditionExpression="#s = :reserved",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":paid": "PAID",
                ":p": payment_id,
                ":a": request.amount_cents,
                ":reserved": "RESERVED",
            },
        )
    except ClientError as error:
        if not orders.conditional_failed(error):
            raise
        existing = orders.get(order.order_id) or {}
        if existing.get("payment_id") != payment_id:
            raise RuntimeError(f"order {order.order_id} is {existing.get('status')}, not RESERVED") from None
    return {"payment_id": payment_id, "amount_cents": request.amount_cents}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = ChargeRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidCharge(str(error.errors(include_url=False))) from None
    result = charge(request)
    metrics.add_metric(name="PaymentsTaken", unit=MetricUnit.Count, value=1)
    return result
