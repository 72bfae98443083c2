"""Rung 5 for CATALOG 26 Saga: SagaDemo in the local cloud, its retries on the virtual clock.

Proves: a refusal at step k runs the compensations k-1..1, in reverse order, each applied exactly
once, and leaves no partial booking; a failure of unknown outcome at step k (a lost response, an
outage) compensates step k too; a compensation that fails is retried with back-off until it
succeeds, and one that cannot alerts on the topic while the remaining compensations still run; a
re-run of a saga with the same trip id — after it, or concurrently with it — books nothing twice.
Counted from the tables: every transition applied is in its item's history, so "nothing lost,
nothing applied twice" is read back, not assumed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import saga as demo
from demo._drive import DriveContext
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "SagaDemo"
COMPENSATIONS = ("RefundPayment", "CancelHotel", "CancelFlight")
HELD = {"Flights": "RESERVED", "Hotels": "RESERVED", "Payments": "CHARGED"}
RELEASED = {"Flights": "CANCELLED", "Hotels": "CANCELLED", "Payments": "REFUNDED"}


@pytest.fixture(scope="module")
def cloud(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as running:
        yield running, running.deploy(demo_app.outdir, STACK)


def run(local: LocalCloud, stack: Any, *trips: dict[str, Any]) -> list[dict[str, Any]]:
    """Start one saga per trip, drain, and return each finished execution with its history."""
    ctx = drive_context(local, stack)
    arns = [demo.start(ctx, t) for t in trips]
    local.drain(timeout=60)
    sfn = local.client("stepfunctions")
    done = []
    for arn in arns:
        described = sfn.describe_execution(executionArn=arn)
        described["events"] = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        done.append(described)
    return done


def entered(execution: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution["events"] if "stateEnteredEventDetails" in e]


def compensations(execution: dict[str, Any]) -> list[str]:
    """The compensation states the execution entered, in order."""
    return [name for name in entered(execution) if name in COMPENSATIONS]


def histories(ctx: DriveContext, trip_id: str) -> dict[str, list[str] | None]:
    """The transitions applied to the trip in each service (None: the service never held it)."""
    return {k: (v["history"] if v else None) for k, v in demo.bookings(ctx, trip_id).items()}


def assert_no_partial_booking(ctx: DriveContext, trip_id: str) -> None:
    """A failed trip holds nothing: every service either never held it or released it exactly once."""
    for service, history in histories(ctx, trip_id).items():
        assert history in (None, [HELD[service], RELEASED[service]]), (service, history)


def test_a_trip_is_booked_in_all_three_services_once(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    (done,) = run(local, stack, demo.trip("e2e-ok"))
    assert done["status"] == "SUCCEEDED" and compensations(done) == []
    assert histories(ctx, "e2e-ok") == {k: [v] for k, v in HELD.items()}
    assert demo.bookings(ctx, "e2e-ok")["Payments"]["amount_cents"] == 54900


def test_a_refusal_at_step_k_compensates_k_minus_1_to_1_in_reverse_order_once(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN three trips, refused at step 1 (flight full), 2 (hotel sold out) and 3 (card declined)
    refusals = {"ReserveFlight": [], "ReserveHotel": ["CancelFlight"], "TakePayment": ["CancelHotel", "CancelFlight"]}
    trips = [demo.trip(f"e2e-refuse-{k}", refuse=step) for k, step in enumerate(refusals, start=1)]

    # WHEN their sagas run
    done = run(local, stack, *trips)

    # THEN each failed, ran exactly the compensations of the steps before it, last first
    for execution, (step, expected) in zip(done, refusals.items(), strict=True):
        assert (execution["status"], execution["error"]) == ("FAILED", "BookingFailed")
        assert compensations(execution) == expected, step
        assert entered(execution).count(step) == 1
    # AND nothing is left booked: what was held was released exactly once, the refusing step wrote nothing
    for k, t in enumerate(trips, start=1):
        assert_no_partial_booking(ctx, t["trip_id"])
        assert [h is not None for h in histories(ctx, t["trip_id"]).values()] == [i < k for i in range(1, 4)]


def test_a_failure_of_unknown_outcome_compensates_its_own_step_too(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN a payment whose answer is lost after it was taken, and a hotel provider that is down
    lost, down = run(
        local,
        stack,
        demo.trip("e2e-lost", lost_response="TakePayment"),
        demo.trip("e2e-down", outages={"ReserveHotel": 1}),
    )
    # THEN the lost payment is refunded before the hotel and flight are cancelled
    assert compensations(lost) == list(COMPENSATIONS)
    assert histories(ctx, "e2e-lost") == {k: [HELD[k], RELEASED[k]] for k in HELD}
    # AND the hotel that never answered is checked (nothing to cancel), then the flight is cancelled
    assert compensations(down) == ["CancelHotel", "CancelFlight"]
    assert histories(ctx, "e2e-down") == {"Flights": ["RESERVED", "CANCELLED"], "Hotels": None, "Payments": None}
    for execution in (lost, down):
        assert (execution["status"], execution["error"]) == ("FAILED", "BookingFailed")


def _attempts(execution: dict[str, Any], step: str) -> list[dict[str, Any]]:
    """The Lambda events of ``step``'s attempts (scheduled / failed / succeeded), in order."""
    inside, found = False, []
    for event in execution["events"]:
        if "stateEnteredEventDetails" in event:
            inside = event["stateEnteredEventDetails"]["name"] == step
        elif inside and event["type"].startswith("LambdaFunction"):
            found.append(event)
    return found


def test_a_failing_compensation_is_retried_with_back_off_until_it_succeeds(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN a declined card, and a hotel provider that fails the cancellation three times
    started = time.monotonic()
    (done,) = run(local, stack, demo.trip("e2e-retry", refuse="TakePayment", outages={"CancelHotel": 3}))
    elapsed = time.monotonic() - started

    # THEN CancelHotel was attempted four times, backing off on the virtual clock (full jitter: at most 2, 4, 8 s)
    attempts = _attempts(done, "CancelHotel")
    assert Counter(e["type"] for e in attempts)["LambdaFunctionFailed"] == 3
    assert Counter(e["type"] for e in attempts)["LambdaFunctionSucceeded"] == 1
    scheduled = [e for e in attempts if e["type"] == "LambdaFunctionScheduled"]
    failed = [e for e in attempts if e["type"] == "LambdaFunctionFailed"]
    assert [json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])["attempt"] for e in scheduled] == [0, 1, 2, 3]
    gaps = [(scheduled[i + 1]["timestamp"] - failed[i]["timestamp"]).total_seconds() for i in range(3)]
    assert all(0 <= gap <= cap + 0.5 for gap, cap in zip(gaps, (2, 4, 8), strict=True)), gaps
    assert elapsed < 30
    # AND the saga ended as a plain booking failure, the hotel cancelled once, the flight after it
    assert (done["status"], done["error"]) == ("FAILED", "BookingFailed")
    assert compensations(done) == ["CancelHotel", "CancelFlight"]
    assert histories(ctx, "e2e-retry") == {"Flights": ["RESERVED", "CANCELLED"], "Hotels": ["RESERVED", "CANCELLED"],
                                          "Payments": None}


def test_a_compensation_that_cannot_succeed_alerts_and_the_rest_still_run(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN an alert subscriber, a declined card, and a hotel provider that never cancels
    sqs, sns = local.client("sqs"), local.client("sns")
    inbox = sqs.create_queue(QueueName="saga-alert-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=stack.outputs["AlertTopicArn"], Protocol="sqs", Endpoint=inbox_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    (done,) = run(local, stack, demo.trip("e2e-stuck", refuse="TakePayment", outages={"CancelHotel": 99}))

    # THEN CancelHotel was tried 1 + 10 times, then the alert went out and the flight was still cancelled
    assert Counter(e["type"] for e in _attempts(done, "CancelHotel"))["LambdaFunctionFailed"] == 11
    assert [n for n in entered(done) if n in COMPENSATIONS or n.startswith("Alert")] == [
        "CancelHotel",
        "AlertCancelHotel",
        "CancelFlight",
    ]
    assert (done["status"], done["error"]) == ("FAILED", "CompensationFailed")
    (alert,) = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]]
    assert alert["trip_id"] == "e2e-stuck" and alert["compensation"] == "CancelHotel"
    assert alert["error"]["Error"] == "ProviderUnavailable" and alert["execution"] == done["executionArn"]
    # AND what could be undone was; the hotel is the one booking left held, and the alert names it
    assert histories(ctx, "e2e-stuck") == {"Flights": ["RESERVED", "CANCELLED"], "Hotels": ["RESERVED"],
                                          "Payments": None}


def test_a_saga_re_run_with_the_same_trip_id_books_nothing_twice(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN a booked trip, a compensated trip, and a new trip started twice at once
    run(local, stack, demo.trip("e2e-again"), demo.trip("e2e-again-failed", refuse="TakePayment"))
    before = {t: histories(ctx, t) for t in ("e2e-again", "e2e-again-failed")}

    # WHEN each saga is run again with the same trip id, and the new one twice concurrently
    reruns = run(local, stack, demo.trip("e2e-again"), demo.trip("e2e-again-failed"))
    twins = run(local, stack, demo.trip("e2e-twins"), demo.trip("e2e-twins"))

    # THEN the re-runs applied nothing and compensated nothing (another execution owns the trip)
    for execution in reruns:
        assert (execution["status"], execution["error"]) == ("FAILED", "BookingFailed")
        assert "belongs to another execution" in execution["cause"] and compensations(execution) == []
    assert {t: histories(ctx, t) for t in before} == before
    # AND of the twins exactly one booked, once; the other stopped at the first step
    outcomes = Counter(e["status"] for e in twins)
    assert outcomes == Counter({"SUCCEEDED": 1, "FAILED": 1})
    assert histories(ctx, "e2e-twins") == {k: [v] for k, v in HELD.items()}
    assert demo.bookings(ctx, "e2e-twins")["Payments"]["amount_cents"] == 54900
    winner = next(e for e in twins if e["status"] == "SUCCEEDED")
    assert {b["execution"] for b in demo.bookings(ctx, "e2e-twins").values() if b} == {winner["executionArn"]}


def test_demo_drive_succeeds(cloud) -> None:
    local, stack = cloud
    result = demo.drive(drive_context(local, stack))
    assert result.ok, result
