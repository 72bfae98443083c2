"""Rung 5 for CATALOG 25 StateMachine: StateMachineDemo in the local cloud, on its virtual clock.

Proves: the happy path (event → CONFIRMED, total right); each Choice branch (express / standard
shipping); the payment Retry's back-off honoured on the virtual clock (2 s, then 4 s, read from
the execution history) while the run takes milliseconds; Catch routes a declined card to the
compensation; history is readable. Faults: a payment failing past its retries ends in the caught
branch with the error recorded and the order CANCELLED — nothing half-written (no payment). Count:
every order placed ends in exactly one terminal status; payments exist only for confirmed orders;
a re-run with the same order id applies nothing twice. The Express quote flow answers
synchronously through the API, and the workflow's log group holds its events without data.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import state_machine as demo
from demo._drive import DriveContext, api_url_mapper
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context as local_drive_context

STACK = "StateMachineDemo"


def drive_context(local: LocalCloud, stack: Any) -> DriveContext:
    return local_drive_context(local, stack, api_url=api_url_mapper(local.api_url))


@pytest.fixture(scope="module")
def cloud(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as running:
        yield running, running.deploy(demo_app.outdir, STACK)


def executions(local: LocalCloud, stack: Any) -> dict[str, dict[str, Any]]:
    """Every finished execution of the workflow by order id, with its history."""
    sfn = local.client("stepfunctions")
    found: dict[str, dict[str, Any]] = {}
    for listed in sfn.list_executions(stateMachineArn=stack.outputs["WorkflowArn"])["executions"]:
        described = sfn.describe_execution(executionArn=listed["executionArn"])
        described["events"] = sfn.get_execution_history(executionArn=listed["executionArn"], maxResults=1000)["events"]
        found.setdefault(json.loads(described["input"])["order_id"], described)
        found[f"{json.loads(described['input'])['order_id']}#{listed['executionArn'][-8:]}"] = described
    return found


def entered(described: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in described["events"] if "stateEnteredEventDetails" in e]


def run(local: LocalCloud, stack: Any, *orders: dict[str, Any]) -> float:
    ctx = drive_context(local, stack)
    started = time.monotonic()
    demo.place(ctx, *orders)
    local.drain(timeout=60)
    return time.monotonic() - started


def test_orders_end_confirmed_or_compensated_with_retries_on_the_virtual_clock(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN orders: standard and express shipping, a flaky payment (2 failures), a declined card,
    # a payment failing past its 3 retries, and one invalid order
    orders = {
        "std": demo.order("e2e-std"),
        "exp": demo.order("e2e-exp", express=True),
        "flaky": demo.order("e2e-flaky", card="flaky-2"),
        "declined": demo.order("e2e-declined", card="declined"),
        "down": demo.order("e2e-down", card="flaky-9"),
    }
    invalid = {"order_id": "e2e-bad", "customer": "ana", "items": []}

    # WHEN they are placed as OrderPlaced events
    elapsed = run(local, stack, *orders.values(), invalid)

    # THEN each ended in exactly one terminal status, in well under the virtual minutes it took
    assert elapsed < 30
    done = executions(local, stack)
    status = {
        k: (done[o["order_id"]]["status"], (demo.stored(ctx, o["order_id"]) or {}).get("status"))
        for k, o in orders.items()
    }
    assert status == {
        "std": ("SUCCEEDED", "CONFIRMED"),
        "exp": ("SUCCEEDED", "CONFIRMED"),
        "flaky": ("SUCCEEDED", "CONFIRMED"),
        "declined": ("FAILED", "CANCELLED"),
        "down": ("FAILED", "CANCELLED"),
    }
    assert (done["e2e-bad"]["status"], done["e2e-bad"]["error"]) == ("FAILED", "InvalidOrder")
    assert demo.stored(ctx, "e2e-bad") is None  # rejected before anything was written
    # AND the Choice took each branch; totals include the express fee
    assert "ExpressShipping" in entered(done["e2e-exp"]) and "StandardShipping" not in entered(done["e2e-exp"])
    assert "StandardShipping" in entered(done["e2e-std"])
    assert demo.stored(ctx, "e2e-exp")["total_cents"] == 2125
    assert demo.stored(ctx, "e2e-std")["total_cents"] == 1225
    # AND the settle Wait took its virtual minute
    assert (done["e2e-std"]["stopDate"] - done["e2e-std"]["startDate"]).total_seconds() >= 60


def test_payment_retry_back_off_is_honoured_and_exhausted_retries_are_caught_with_the_error(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    if "e2e-flaky" not in executions(local, stack):
        run(local, stack, demo.order("e2e-flaky", card="flaky-2"), demo.order("e2e-down", card="flaky-9"))
    done = executions(local, stack)

    # THEN the flaky payment failed twice, waited 2 s then 4 s (virtual), and succeeded on the third attempt
    events = done["e2e-flaky"]["events"]
    charge_started = [
        e
        for e in events
        if e["type"] == "LambdaFunctionScheduled" and "attempt" in e["lambdaFunctionScheduledEventDetails"]["input"]
    ]
    failed = [e for e in events if e["type"] == "LambdaFunctionFailed"]
    assert [json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])["attempt"] for e in charge_started] == [
        0,
        1,
        2,
    ]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failed] == ["PaymentUnavailable"] * 2
    gaps = [charge_started[i + 1]["timestamp"] - failed[i]["timestamp"] for i in range(2)]
    assert [round(g.total_seconds()) for g in gaps] == [2, 4]
    # AND the payment past its retries (1 try + 3 retries) went to the compensation, error recorded
    down = done["e2e-down"]
    assert entered(down).count("Charge") == 1 and "Compensate" in entered(down) and "Settle" not in entered(down)
    assert [e["type"] for e in down["events"]].count("LambdaFunctionFailed") == 4
    assert (down["error"], json.loads(down["cause"])["errorType"]) == ("OrderFailed", "PaymentUnavailable")
    item = demo.stored(ctx, "e2e-down")
    assert item["status"] == "CANCELLED" and "payment_id" not in item
    assert item["failure"]["error"] == "PaymentUnavailable"


def test_a_declined_card_is_compensated_without_retries(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    run(local, stack, demo.order("e2e-declined-2", card="declined"))

    declined = executions(local, stack)["e2e-declined-2"]
    assert entered(declined).count("Charge") == 1
    assert [e["type"] for e in declined["events"]].count("LambdaFunctionFailed") == 1
    item = demo.stored(ctx, "e2e-declined-2")
    assert item["status"] == "CANCELLED" and item["failure"]["error"] == "PaymentDeclined" and "payment_id" not in item


def test_the_same_order_placed_twice_is_applied_once(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    # GIVEN an order placed twice (a duplicate event), and again after it finished
    run(local, stack, demo.order("e2e-twice"), demo.order("e2e-twice"))
    run(local, stack, demo.order("e2e-twice"))

    # THEN one execution confirmed it; the others ended as DuplicateOrder without touching the order
    runs = [v for k, v in executions(local, stack).items() if k.startswith("e2e-twice#")]
    outcomes = Counter((r["status"], r.get("error")) for r in runs)
    assert outcomes == Counter({("SUCCEEDED", None): 1, ("FAILED", "DuplicateOrder"): 2})
    item = demo.stored(ctx, "e2e-twice")
    winner = next(r for r in runs if r["status"] == "SUCCEEDED")
    assert item["status"] == "CONFIRMED" and item["execution"] == winner["executionArn"]
    assert not any("Compensate" in entered(r) for r in runs)


def test_quote_api_runs_the_express_flow_synchronously(cloud) -> None:
    local, stack = cloud
    ctx = drive_context(local, stack)
    body = {k: v for k, v in demo.order("q-1", express=True).items() if k != "payment"}

    quote = ctx.http("POST", stack.outputs["QuotesUrl"], body)
    bad = ctx.http("POST", stack.outputs["QuotesUrl"], {"order_id": "q-2", "customer": "ana", "items": []})

    assert quote.status == 200, quote.body
    assert quote.body == {"order_id": "q-1", "subtotal_cents": 1225, "shipping_cents": 900, "total_cents": 2125}
    assert bad.status == 400  # the request validator refused it before any execution


def test_demo_drive_succeeds_and_the_log_group_holds_events_without_data(cloud) -> None:
    local, stack = cloud
    result = demo.drive(drive_context(local, stack))
    assert result.ok, result

    logs = local.client("logs")
    machine = local.client("stepfunctions").describe_state_machine(stateMachineArn=stack.outputs["WorkflowArn"])
    group = machine["loggingConfiguration"]["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"]
    name = group.split(":log-group:")[1].split(":")[0]
    lines = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=name)["events"]]
    assert {"ExecutionStarted", "ExecutionSucceeded", "TaskStateEntered"} <= {line["type"] for line in lines}
    assert "latte" not in json.dumps(lines)  # include_execution_data is off
