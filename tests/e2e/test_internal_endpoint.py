"""Rung 5 for CATALOG 13 InternalEndpoint: InternalEndpointDemo in the local cloud, both execution models.

Proves: a synchronous call returns the worker's result, or its error, to the caller at once and
leaves no destination record; an asynchronous call's result lands in the on-success queue as an AWS
destination record; a failing asynchronous call is retried (2 retries) and then lands in the
on-failure queue with its error. Count: every asynchronous call is in exactly one destination,
once, and the worker ran once per success and three times per failure.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import internal_endpoint as demo
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "InternalEndpointDemo"
RETRIES = 2


def request(order_id: str, *items: tuple[str, int, int], discount: int = 0) -> dict[str, Any]:
    return {
        "order_id": order_id, "discount_percent": discount,
        "items": [{"sku": sku, "quantity": qty, "unit_price_cents": price} for sku, qty, price in items],
    }


def expected_quote(req: dict[str, Any]) -> dict[str, Any]:
    """The worker's answer, computed here independently."""
    subtotal = sum(i["quantity"] * i["unit_price_cents"] for i in req["items"])
    discount = subtotal * req["discount_percent"] // 100
    return {"order_id": req["order_id"], "item_count": sum(i["quantity"] for i in req["items"]),
            "subtotal_cents": subtotal, "discount_cents": discount, "total_cents": subtotal - discount}


GOOD = [
    request("a-1", ("latte", 2, 450), ("croissant", 1, 325), discount=10),
    request("a-2", ("espresso", 1, 250)),
    request("a-3", ("mocha", 3, 495), ("scone", 2, 300), discount=25),
    request("a-4", ("tea", 10, 199), discount=100),
]
BAD = [
    {"order_id": "b-1", "items": []},  # nothing to price
    request("b-2", ("latte", 0, 450)),  # zero quantity
    {"items": [{"sku": "latte", "quantity": 1, "unit_price_cents": 450}]},  # no order id
]


@pytest.fixture(scope="module")
def cloud(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as running:
        yield running, running.deploy(demo_app.outdir, STACK)


def call(local: LocalCloud, stack: Any, mode: str, payload: Any) -> dict[str, Any]:
    """Invoke the caller synchronously, as an internal client would."""
    response = local.client("lambda").invoke(
        FunctionName=stack.outputs["CallerFunctionName"],
        Payload=json.dumps({"mode": mode, "payload": payload}).encode(),
    )
    assert "FunctionError" not in response, response
    return json.loads(response["Payload"].read())


def drain_queue(local: LocalCloud, url: str) -> list[dict[str, Any]]:
    sqs = local.client("sqs")
    records: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            records.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def fresh(cloud) -> Iterator[tuple[LocalCloud, Any]]:
    """Each test starts with empty destination queues and checks the cloud reported no error."""
    local, stack = cloud
    local.drain()
    drain_queue(local, stack.outputs["SuccessQueueUrl"])
    drain_queue(local, stack.outputs["FailureQueueUrl"])
    yield local, stack
    assert local.errors == []


def worker_runs(local: LocalCloud, stack: Any) -> Counter[str]:
    """Worker invocations per order id (``?`` for a payload without one)."""
    return Counter(
        (i.event or {}).get("order_id", "?") if isinstance(i.event, dict) else "?"
        for i in local.invocations(stack.outputs["WorkerFunctionName"])
    )


# --- synchronous (RequestResponse) ----------------------------------------------------------------


def test_sync_call_returns_the_workers_result(fresh) -> None:
    local, stack = fresh
    for req in GOOD:
        assert call(local, stack, "sync", req) == {"mode": "sync", "status": "ok", "result": expected_quote(req)}


def test_sync_call_surfaces_the_workers_error_at_once(fresh) -> None:
    local, stack = fresh
    before = worker_runs(local, stack)
    answer = call(local, stack, "sync", BAD[0])
    assert answer == {
        "mode": "sync", "status": "error",
        "error": {"type": "InvalidQuoteRequest",
                  "message": "items: List should have at least 1 item after validation, not 0"},
    }
    local.drain()
    # no retries and no destination records for synchronous calls: the caller has the answer
    assert worker_runs(local, stack) - before == Counter({"b-1": 1})
    assert drain_queue(local, stack.outputs["SuccessQueueUrl"]) == []
    assert drain_queue(local, stack.outputs["FailureQueueUrl"]) == []


def test_caller_rejects_a_bad_request_without_calling_the_worker(fresh) -> None:
    local, stack = fresh
    before = sum(worker_runs(local, stack).values())
    response = local.client("lambda").invoke(
        FunctionName=stack.outputs["CallerFunctionName"], Payload=json.dumps({"mode": "later"}).encode()
    )
    answer = json.loads(response["Payload"].read())
    assert answer["status"] == "invalid"
    assert sorted(answer["errors"])[0].startswith("mode: Input should be 'sync' or 'async'")
    assert sum(worker_runs(local, stack).values()) == before


# --- asynchronous (Event) ----------------------------------------------------------------------------


def test_async_success_lands_in_the_on_success_queue_as_a_destination_record(fresh) -> None:
    local, stack = fresh
    req = GOOD[0]
    accepted = call(local, stack, "async", req)
    assert accepted["mode"] == "async" and accepted["status"] == "accepted" and accepted["status_code"] == 202
    local.drain()
    [record] = drain_queue(local, stack.outputs["SuccessQueueUrl"])
    worker_arn = local.client("lambda").get_function(FunctionName=stack.outputs["WorkerFunctionName"])[
        "Configuration"]["FunctionArn"]
    assert record == {
        "version": "1.0",
        "timestamp": record["timestamp"],
        "requestContext": {
            "requestId": record["requestContext"]["requestId"],
            "functionArn": f"{worker_arn}:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": req,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": expected_quote(req),
    }
    assert record["timestamp"].endswith("Z") and len(record["requestContext"]["requestId"]) == 36
    assert drain_queue(local, stack.outputs["FailureQueueUrl"]) == []


def test_failing_async_call_lands_in_the_on_failure_queue_after_retries(fresh) -> None:
    local, stack = fresh
    req = BAD[1]
    before = worker_runs(local, stack)
    assert call(local, stack, "async", req)["status"] == "accepted"
    local.drain()
    assert worker_runs(local, stack) - before == Counter({"b-2": 1 + RETRIES})
    [record] = drain_queue(local, stack.outputs["FailureQueueUrl"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1 + RETRIES
    assert record["requestPayload"] == req
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "InvalidQuoteRequest"
    assert record["responsePayload"]["errorMessage"] == "items.0.quantity: Input should be greater than 0"
    assert drain_queue(local, stack.outputs["SuccessQueueUrl"]) == []


def test_every_async_call_is_in_exactly_one_destination_once(fresh) -> None:
    local, stack = fresh
    before = worker_runs(local, stack)
    for req in [*GOOD, *BAD]:
        assert call(local, stack, "async", req)["status"] == "accepted"
    local.drain()
    successes = drain_queue(local, stack.outputs["SuccessQueueUrl"])
    failures = drain_queue(local, stack.outputs["FailureQueueUrl"])
    assert sorted(json.dumps(r["requestPayload"], sort_keys=True) for r in successes) == sorted(
        json.dumps(r, sort_keys=True) for r in GOOD
    )
    assert sorted(json.dumps(r["requestPayload"], sort_keys=True) for r in failures) == sorted(
        json.dumps(r, sort_keys=True) for r in BAD
    )
    assert {r["requestPayload"]["order_id"]: r["responsePayload"] for r in successes} == {
        r["order_id"]: expected_quote(r) for r in GOOD
    }
    assert len({r["requestContext"]["requestId"] for r in successes + failures}) == len(GOOD) + len(BAD)
    runs = worker_runs(local, stack) - before
    assert runs == Counter({**{r["order_id"]: 1 for r in GOOD}, "b-1": 3, "b-2": 3, "?": 3})


def test_demo_drive_passes_against_the_local_cloud(fresh) -> None:
    result = demo.drive(drive_context(*fresh))
    assert result.ok, result
