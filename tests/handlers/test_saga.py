"""Rung 4 for CATALOG 26 Saga: each service's step and compensation against moto DynamoDB, bad input included.

Every write is conditional on the trip id and the owning execution: a retried step applies once,
another execution with the same trip id books nothing, and a compensation releases only what this
execution holds — once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import load_handler

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Saga:t-1"
TABLES = {"flights": "FLIGHTS_TABLE_NAME", "hotels": "HOTELS_TABLE_NAME", "payments": "PAYMENTS_TABLE_NAME"}


@dataclass
class Context:
    function_name: str = "SagaDemo-Step"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:SagaDemo-Step"
    aws_request_id: str = "7e57ab1e-0000-4000-8000-000000000000"


def trip(trip_id: str = "t-1", **simulate: Any) -> dict[str, Any]:
    return {
        "trip_id": trip_id,
        "customer": "ana",
        "flight": {"number": "LH1234", "price_cents": 18900},
        "hotel": {"hotel_id": "lisbon-alfama", "nights": 3, "price_cents": 36000},
        "card": "visa-4242",
        "simulate": simulate,
    }


def request(trip_id: str = "t-1", *, execution: str = EXECUTION, attempt: int = 0, **simulate: Any) -> dict[str, Any]:
    return {"trip": trip(trip_id, **simulate), "execution": execution, "attempt": attempt}


@pytest.fixture
def services() -> Iterator[dict[str, ModuleType]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for name in TABLES:
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "trip_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "trip_id", "AttributeType": "S"}],
            )
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        yield {
            name: load_handler("saga", name, env={**env, variable: name, "POWERTOOLS_SERVICE_NAME": name})
            for name, variable in TABLES.items()
        }


def item(table: str, trip_id: str = "t-1") -> dict[str, Any] | None:
    found = boto3.resource("dynamodb", region_name="us-east-1").Table(table).get_item(Key={"trip_id": trip_id})
    return found.get("Item")


def test_reserve_applies_once_per_execution_and_refuses_another_execution(services) -> None:
    flights = services["flights"]
    first = flights.reserve(request(), Context())
    again = flights.reserve(request(attempt=1), Context())  # the same execution retrying after a lost answer
    assert (first["applied"], again["applied"]) == (True, False)
    assert first["status"] == again["status"] == "RESERVED" and first["flight"] == "LH1234"
    assert item("flights")["history"] == ["RESERVED"] and item("flights")["execution"] == EXECUTION
    with pytest.raises(Exception) as duplicate:
        flights.reserve(request(execution=EXECUTION + "-rerun"), Context())
    assert type(duplicate.value).__name__ == "DuplicateTrip"
    assert item("flights")["execution"] == EXECUTION and item("flights")["history"] == ["RESERVED"]


def test_payment_charges_the_trip_total_once_and_refunds_it_once(services) -> None:
    payments = services["payments"]
    charged = payments.charge(request(), Context())
    assert charged == {
        "trip_id": "t-1",
        "status": "CHARGED",
        "applied": True,
        "payment_id": "pay-t-1",
        "amount_cents": 54900,
    }
    refunded = payments.refund(request(), Context())
    twice = payments.refund(request(attempt=1), Context())
    assert (refunded["status"], refunded["applied"]) == ("REFUNDED", True)
    assert (twice["status"], twice["applied"]) == ("REFUNDED", False)
    assert item("payments")["history"] == ["CHARGED", "REFUNDED"]


def test_a_compensation_releases_only_what_this_execution_holds(services) -> None:
    hotels = services["hotels"]
    hotels.reserve(request(), Context())
    other = hotels.cancel(request(execution=EXECUTION + "-rerun"), Context())
    assert (other["status"], other["applied"]) == ("RESERVED", False)  # a re-run's failure leaves it alone
    absent = hotels.cancel(request("never"), Context())
    assert (absent["status"], absent["applied"]) == ("ABSENT", False) and item("hotels", "never") is None
    done = hotels.cancel(request(), Context())
    assert (done["status"], done["applied"]) == ("CANCELLED", True)
    assert item("hotels")["history"] == ["RESERVED", "CANCELLED"]


def test_refusals_and_outages_apply_nothing(services) -> None:
    # GIVEN each service told to refuse, and the hotel provider down for two attempts
    for module, step, error in (
        ("flights", "ReserveFlight", "FlightUnavailable"),
        ("hotels", "ReserveHotel", "HotelUnavailable"),
        ("payments", "TakePayment", "PaymentDeclined"),
    ):
        forward = getattr(services[module], "charge" if module == "payments" else "reserve")
        with pytest.raises(Exception) as refused:
            forward(request(refuse=step), Context())
        assert type(refused.value).__name__ == error and item(module) is None
    down = request(outages={"ReserveHotel": 2, "CancelHotel": 1})
    for attempt in (0, 1):
        with pytest.raises(Exception) as unavailable:
            services["hotels"].reserve({**down, "attempt": attempt}, Context())
        assert type(unavailable.value).__name__ == "ProviderUnavailable" and item("hotels") is None
    assert services["hotels"].reserve({**down, "attempt": 2}, Context())["applied"] is True
    with pytest.raises(Exception, match="CancelHotel: provider unavailable"):
        services["hotels"].cancel(down, Context())
    assert item("hotels")["status"] == "RESERVED"


def test_a_lost_response_has_applied_the_write(services) -> None:
    with pytest.raises(Exception) as lost:
        services["flights"].reserve(request(lost_response="ReserveFlight"), Context())
    assert type(lost.value).__name__ == "ProviderTimeout"
    assert item("flights")["status"] == "RESERVED"  # the compensation of this step has something to undo


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"trip": trip(), "execution": EXECUTION},  # no attempt
        {"trip": {**trip(), "trip_id": "has space"}, "execution": EXECUTION, "attempt": 0},
        {"trip": {**trip(), "hotel": {"hotel_id": "h", "nights": 0, "price_cents": 1}}, "execution": "e", "attempt": 0},
        request(refuse="CancelFlight"),  # only forward steps can refuse
        "not json object",
    ],
    ids=["empty", "no-attempt", "bad-trip-id", "zero-nights", "bad-refusal", "string"],
)
def test_fails_if_the_input_is_not_a_trip_request(services, event: Any) -> None:
    for module, handlers in (("flights", ("reserve", "cancel")), ("payments", ("charge", "refund"))):
        for name in handlers:
            with pytest.raises(Exception) as invalid:
                getattr(services[module], name)(event, Context())
            assert type(invalid.value).__name__ == "InvalidTrip"
    assert item("flights") is None and item("payments") is None
