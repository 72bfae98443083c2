"""What the Saga functions exchange (CATALOG 26): a trip, the step request, and the simulated providers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Step = Literal["ReserveFlight", "ReserveHotel", "TakePayment", "CancelFlight", "CancelHotel", "RefundPayment"]


class Simulation(BaseModel):
    """How the stand-in providers behave for this trip (the demo's and the tests' fault injection).

    ``refuse``: the forward step that refuses (sold out, declined) without applying anything.
    ``outages``: per step, how many attempts its provider is unavailable for (``ProviderUnavailable``).
    ``lost_response``: the forward step whose write succeeds but whose answer is lost (``ProviderTimeout``).
    """

    refuse: Literal["ReserveFlight", "ReserveHotel", "TakePayment"] | None = None
    outages: dict[Step, int] = Field(default_factory=dict)
    lost_response: Literal["ReserveFlight", "ReserveHotel", "TakePayment"] | None = None


class Flight(BaseModel):
    number: str = Field(min_length=2, max_length=8, pattern=r"^[A-Z0-9]+$")
    price_cents: int = Field(ge=0, le=10_000_000)


class Hotel(BaseModel):
    hotel_id: str = Field(min_length=1, max_length=64)
    nights: int = Field(ge=1, le=60)
    price_cents: int = Field(ge=0, le=10_000_000)


class Trip(BaseModel):
    """The saga's input: its id is the idempotency key of every step."""

    trip_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    customer: str = Field(min_length=1, max_length=128)
    flight: Flight
    hotel: Hotel
    card: str = Field(min_length=1, max_length=64)
    simulate: Simulation = Field(default_factory=Simulation)

    @property
    def total_cents(self) -> int:
        return self.flight.price_cents + self.hotel.price_cents


class StepRequest(BaseModel):
    """What the state machine passes every step: the trip, the execution that owns it, the retry count."""

    trip: Trip
    execution: str = Field(min_length=1)
    attempt: int = Field(ge=0)
