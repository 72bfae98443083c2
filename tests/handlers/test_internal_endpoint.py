"""Rung 4 for CATALOG 13 InternalEndpoint: the worker and the caller with realistic payloads.

The worker is pure (no AWS calls). The caller's Lambda client is checked with botocore's Stubber:
moto cannot run a Lambda function without Docker, and the Stubber asserts the exact Invoke request
(function, invocation type, payload) while answering with the responses Lambda gives — the worker's
real result or real error shape. The deployed round trip is the e2e test's job.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.support import load_handler

WORKER = "InternalEndpointDemo-PricingWorker"
EVENTS = Path(__file__).parent / "events" / "internal_endpoint"


@dataclass
class Context:
    function_name: str = WORKER
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{WORKER}"
    aws_request_id: str = "7e57ab1e-0000-4000-8000-000000000000"


def quote_request() -> dict[str, Any]:
    return json.loads((EVENTS / "quote_request.json").read_text())


@pytest.fixture(scope="module")
def worker() -> ModuleType:
    return load_handler("internal_endpoint", "worker", env={"POWERTOOLS_SERVICE_NAME": "worker"})


@pytest.fixture
def caller() -> Iterator[tuple[ModuleType, Stubber]]:
    module = load_handler("internal_endpoint", "caller", env={
        "WORKER_FUNCTION_NAME": WORKER, "POWERTOOLS_SERVICE_NAME": "caller",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    })
    with Stubber(module.lambda_client()) as stubber:
        yield module, stubber
        stubber.assert_no_pending_responses()


def body(data: Any) -> StreamingBody:
    raw = json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


# --- worker --------------------------------------------------------------------------------------


def test_worker_prices_an_order(worker) -> None:
    assert worker.handler(quote_request(), Context()) == {
        "order_id": "o-1042", "item_count": 3, "subtotal_cents": 1225, "discount_cents": 122, "total_cents": 1103,
    }


def test_worker_without_discount_charges_the_subtotal(worker) -> None:
    request = {"order_id": "o-1", "items": [{"sku": "espresso", "quantity": 4, "unit_price_cents": 250}]}
    assert worker.handler(request, Context())["total_cents"] == 1000


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("order_id"), "order_id: Field required"),
        (lambda r: r.update(items=[]), "items: List should have at least 1 item"),
        (lambda r: r["items"][0].update(quantity=0), "items.0.quantity: Input should be greater than 0"),
        (lambda r: r["items"][1].pop("sku"), "items.1.sku: Field required"),
        (lambda r: r.update(discount_percent=150), "discount_percent: Input should be less than or equal to 100"),
    ],
    ids=["no-order-id", "no-items", "zero-quantity", "no-sku", "discount-over-100"],
)
def test_worker_rejects_an_invalid_request_naming_the_problem(worker, change, problem) -> None:
    request = quote_request()
    change(request)
    with pytest.raises(worker.InvalidQuoteRequest, match=problem):
        worker.handler(request, Context())


@pytest.mark.parametrize("event", [None, "o-1", [1, 2]], ids=["null", "string", "list"])
def test_worker_rejects_an_event_that_is_not_an_object(worker, event) -> None:
    with pytest.raises(worker.InvalidQuoteRequest, match="event: Input should be a valid dictionary"):
        worker.handler(event, Context())


# --- caller --------------------------------------------------------------------------------------


def test_sync_call_returns_the_workers_result(caller, worker) -> None:
    module, stubber = caller
    request = quote_request()
    quote = worker.handler(request, Context())
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": body(quote)},
        {"FunctionName": WORKER, "InvocationType": "RequestResponse", "Payload": json.dumps(request).encode()},
    )
    assert module.handler({"mode": "sync", "payload": request}, Context()) == {
        "mode": "sync", "status": "ok", "result": quote,
    }


def test_sync_call_surfaces_the_workers_error(caller, worker) -> None:
    module, stubber = caller
    request = {"order_id": "o-bad", "items": []}
    with pytest.raises(worker.InvalidQuoteRequest) as raised:
        worker.handler(request, Context())
    lambda_error = {"errorMessage": str(raised.value), "errorType": "InvalidQuoteRequest", "requestId": "r-1",
                    "stackTrace": ['  File "/var/task/worker.py", line 52, in parse\n']}
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST", "Payload": body(lambda_error)},
        {"FunctionName": WORKER, "InvocationType": "RequestResponse", "Payload": json.dumps(request).encode()},
    )
    answer = module.handler({"mode": "sync", "payload": request}, Context())
    assert answer == {
        "mode": "sync", "status": "error",
        "error": {"type": "InvalidQuoteRequest",
                  "message": "items: List should have at least 1 item after validation, not 0"},
    }


def test_async_call_hands_the_event_to_lambda_and_returns_its_request_id(caller) -> None:
    module, stubber = caller
    request = quote_request()
    stubber.add_response(
        "invoke",
        {"StatusCode": 202,
         "ResponseMetadata": {"RequestId": "a5ync000-0000-4000-8000-000000000000", "HTTPStatusCode": 202}},
        {"FunctionName": WORKER, "InvocationType": "Event", "Payload": json.dumps(request).encode()},
    )
    assert module.handler({"mode": "async", "payload": request}, Context()) == {
        "mode": "async", "status": "accepted", "status_code": 202,
        "request_id": "a5ync000-0000-4000-8000-000000000000",
    }


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"payload": {}}, "mode: Field required"),
        ({"mode": "later", "payload": {}}, "mode: Input should be 'sync' or 'async'"),
        ({"mode": "sync", "payload": "o-1"}, "payload: Input should be a valid dictionary"),
        ("sync", "event: Input should be a valid dictionary"),
    ],
    ids=["no-mode", "unknown-mode", "payload-not-object", "not-an-object"],
)
def test_caller_rejects_a_bad_request_without_invoking_the_worker(caller, event, problem) -> None:
    module, _ = caller  # no stubbed response: any Invoke would fail the test
    answer = module.handler(event, Context())
    assert answer["status"] == "invalid"
    assert any(e.startswith(problem) for e in answer["errors"]), answer["errors"]
