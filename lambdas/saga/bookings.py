"""The one place a saga step writes: a conditional write per trip id, owned by one execution.

A forward step puts the service's item for the trip if there is none (status e.g. RESERVED). The
same execution retrying finds its own item and applies nothing again; another execution (the saga
re-run with the same trip id) finds an item it does not own and gets ``DuplicateTrip``. A
compensation moves the item from the held status to the released one only if this execution owns
it; an item that is absent or already released is left alone. Every applied transition is
appended to the item's ``history``, so an audit (and the tests) can count what was applied.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import ClientError
from models import Simulation, Step, StepRequest, Trip
from pydantic import ValidationError


class InvalidTrip(Exception):
    """The step's input is not a trip request; nothing was applied."""


class DuplicateTrip(Exception):
    """Another execution owns this trip: this run applies nothing."""


class ProviderUnavailable(Exception):
    """The service's provider did not answer: transient, nothing was applied."""


class ProviderTimeout(Exception):
    """The provider's answer was lost after the write: the outcome is unknown to the saga."""


def table(variable: str) -> Any:
    """The service table named by ``variable`` (each function is given only its own), made once per
    execution environment; None where the variable is unset (a module imported outside Lambda)."""
    name = os.environ.get(variable, "")
    return boto3.resource("dynamodb").Table(name) if name else None


def parse(event: Any) -> StepRequest:
    try:
        return StepRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidTrip(str(error.errors(include_url=False))) from None


def provider(step: Step, simulation: Simulation, attempt: int) -> None:
    """The simulated provider's availability for this step on this attempt."""
    if attempt < simulation.outages.get(step, 0):
        raise ProviderUnavailable(f"{step}: provider unavailable (attempt {attempt + 1})")


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _get(service: Any, trip_id: str) -> dict[str, Any] | None:
    item = service.get_item(Key={"trip_id": trip_id}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def hold(service: Any, step: Step, request: StepRequest, status: str, details: dict[str, Any]) -> dict[str, Any]:
    """The forward write: the trip's item in ``status``, once per trip id."""
    trip: Trip = request.trip
    item = {"trip_id": trip.trip_id, "status": status, "execution": request.execution, "history": [status], **details}
    applied = True
    try:
        service.put_item(Item=item, ConditionExpression="attribute_not_exists(trip_id)")
    except ClientError as error:
        if not _conditional_failed(error):
            raise
        existing = _get(service, trip.trip_id) or {}
        if existing.get("execution") != request.execution:
            raise DuplicateTrip(f"trip {trip.trip_id} belongs to another execution") from None
        applied, status = False, str(existing.get("status"))
    if trip.simulate.lost_response == step and applied:
        raise ProviderTimeout(f"{step}: the provider's answer was lost")
    return {"trip_id": trip.trip_id, "status": status, "applied": applied, **details}


def release(service: Any, request: StepRequest, held: str, released: str) -> dict[str, Any]:
    """The compensation: ``held`` → ``released`` if this execution holds the item; else nothing."""
    trip_id = request.trip.trip_id
    try:
        service.update_item(
            Key={"trip_id": trip_id},
            UpdateExpression="SET #s = :released, history = list_append(history, :step)",
            ConditionExpression="#s = :held AND #e = :e",
            ExpressionAttributeNames={"#s": "status", "#e": "execution"},
            ExpressionAttributeValues={
                ":released": released,
                ":held": held,
                ":e": request.execution,
                ":step": [released],
            },
        )
    except ClientError as error:
        if not _conditional_failed(error):
            raise
        existing = _get(service, trip_id)
        status = str(existing["status"]) if existing else "ABSENT"
        return {"trip_id": trip_id, "status": status, "applied": False}
    return {"trip_id": trip_id, "status": released, "applied": True}
