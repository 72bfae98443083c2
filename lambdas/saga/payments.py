"""Payment service: charge the trip's total (forward step 3, the last) and refund it (its compensation)."""

from typing import Any

import bookings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
payments: Any = bookings.table("PAYMENTS_TABLE_NAME")


class PaymentDeclined(Exception):
    """The card was refused: nothing was charged."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def charge(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = bookings.parse(event)
    trip = request.trip
    bookings.provider("TakePayment", trip.simulate, request.attempt)
    if trip.simulate.refuse == "TakePayment":
        raise PaymentDeclined("card declined")
    details = {"payment_id": f"pay-{trip.trip_id}", "amount_cents": trip.total_cents}
    result = bookings.hold(payments, "TakePayment", request, "CHARGED", details)
    metrics.add_metric(name="PaymentsTaken", unit=MetricUnit.Count, value=int(result["applied"]))
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def refund(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = bookings.parse(event)
    bookings.provider("RefundPayment", request.trip.simulate, request.attempt)
    result = bookings.release(payments, request, "CHARGED", "REFUNDED")
    logger.info("payment compensation", trip_id=result["trip_id"], status=result["status"], applied=result["applied"])
    metrics.add_metric(name="PaymentsRefunded", unit=MetricUnit.Count, value=int(result["applied"]))
    return result
