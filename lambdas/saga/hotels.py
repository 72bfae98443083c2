"""Hotel service: reserve the trip's room (forward step 2) and cancel it (its compensation)."""

from typing import Any

import bookings
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
hotels: Any = bookings.table("HOTELS_TABLE_NAME")


class HotelUnavailable(Exception):
    """The hotel is sold out: nothing was reserved."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def reserve(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = bookings.parse(event)
    trip = request.trip
    bookings.provider("ReserveHotel", trip.simulate, request.attempt)
    if trip.simulate.refuse == "ReserveHotel":
        raise HotelUnavailable(f"hotel {trip.hotel.hotel_id} is sold out")
    details = {"hotel": trip.hotel.hotel_id, "nights": trip.hotel.nights, "price_cents": trip.hotel.price_cents}
    result = bookings.hold(hotels, "ReserveHotel", request, "RESERVED", details)
    metrics.add_metric(name="RoomsReserved", unit=MetricUnit.Count, value=int(result["applied"]))
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def cancel(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = bookings.parse(event)
    bookings.provider("CancelHotel", request.trip.simulate, request.attempt)
    result = bookings.release(hotels, request, "RESERVED", "CANCELLED")
    logger.info("hotel compensation", trip_id=result["trip_id"], status=result["status"], applied=result["applied"])
    metrics.add_metric(name="RoomsCancelled", unit=MetricUnit.Count, value=int(result["applied"]))
    return result
