"""Flight service: reserve a seat on the trip's flight (forward step 1) and cancel it (its compensation)."""

from typing import Any

import bookings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
flights: Any = bookings.table("FLIGHTS_TABLE_NAME")


class FlightUnavailable(Exception):
    """The flight is full: nothing was reserved."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def reserve(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = bookings.parse(event)
    trip = request.trip
    bookings.provider("ReserveFlight", trip.simulate, request.attempt)
    if trip.simulate.refuse == "ReserveFlight":
        raise FlightUnavailable(f"flight {trip.flight.number} is full")
    details = {"flight": trip.flight.number, "price_cents": trip.flight.price_cents}
    result = bookings.hold(flights, "ReserveFlight", request, "RESERVED", details)
    metrics.add_metric(name="FlightsReserved", unit=MetricUnit.Count, value=int(result["applied"]))
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def cancel(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = bookings.parse(event)
    bookings.provider("CancelFlight", request.trip.simulate, request.attempt)
    result = bookings.release(flights, request, "RESERVED", "CANCELLED")
    logger.info("flight compensation", trip_id=result["trip_id"], status=result["status"], applied=result["applied"])
    metrics.add_metric(name="FlightsCancelled", unit=MetricUnit.Count, value=int(result["applied"]))
    return result
