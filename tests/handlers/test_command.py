"""Rung 4 for CATALOG 8 Command: the router and the versioned order handlers with realistic events.

The router's only AWS call is a synchronous ``lambda:Invoke``; moto runs function code only in Docker,
so the router's Lambda client is a botocore ``Stubber``: it checks the exact request (which function
ARN, which payload) and plays back real response shapes, including a handler's ``FunctionError``.
Bad input (malformed envelope, unknown command or version) must answer an error and invoke nothing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.support import load_handler

ARN = "arn:aws:lambda:us-east-1:123456789012:function:CommandDemo-Orders{}"
ROUTES = {
    "create-order": {"1": ARN.format("CreateOrderV1"), "2": ARN.format("CreateOrderV2")},
    "cancel-order": {"1": ARN.format("CancelOrderV1")},
}
V2_ORDER = {"command": "create-order", "version": 2,
            "payload": {"customer": "ana", "items": [{"sku": "latte", "quantity": 2}, {"sku": "scone", "quantity": 1}]}}


@dataclass
class Context:
    """The attributes Powertools' Logger reads from a Lambda context."""

    function_name: str = "CommandDemo-OrdersRouter"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:CommandDemo-OrdersRouter"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def router() -> ModuleType:
    return load_handler("command", "router", env={
        "ROUTES": json.dumps(ROUTES), "INVOKE_TIMEOUT_SECONDS": "15", "POWERTOOLS_SERVICE_NAME": "command-router",
    })


@pytest.fixture
def lambda_stub(router: ModuleType) -> Iterator[Stubber]:
    with Stubber(router._lambda()) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _payload(value: Any) -> StreamingBody:
    raw = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def expect_invoke(stub: Stubber, arn: str, envelope: dict[str, Any], answer: Any, error: str | None = None) -> None:
    response: dict[str, Any] = {"StatusCode": 200, "Payload": _payload(answer), "ExecutedVersion": "$LATEST"}
    if error:
        response["FunctionError"] = error
    stub.add_response("invoke", response, {
        "FunctionName": arn, "InvocationType": "RequestResponse",
        "Payload": json.dumps(envelope, separators=(",", ":")).encode(),
    })


@pytest.mark.parametrize(("command", "version"), [("create-order", 1), ("create-order", 2), ("cancel-order", 1)])
def test_routes_each_command_version_to_its_function(
    router: ModuleType, lambda_stub: Stubber, command: str, version: int
) -> None:
    envelope = {"command": command, "version": version, "payload": {"order_id": "ord-1"}}
    answer = {"handled_by": f"{command} v{version}", "received": {"order_id": "ord-1"}, "result": {"ok": True}}
    expect_invoke(lambda_stub, ROUTES[command][str(version)], envelope, answer)
    assert router.handler(envelope, Context()) == answer


def test_passes_the_whole_envelope_and_returns_the_answer_unchanged(router: ModuleType, lambda_stub: Stubber) -> None:
    answer = {"handled_by": "create-order v2", "received": V2_ORDER["payload"], "result": {"order_id": "ord-9"}}
    expect_invoke(lambda_stub, ROUTES["create-order"]["2"], V2_ORDER, answer)
    assert router.handler(V2_ORDER, Context()) == answer


def test_accepts_an_envelope_sent_as_a_json_string(router: ModuleType, lambda_stub: Stubber) -> None:
    envelope = {"command": "cancel-order", "version": 1, "payload": {"order_id": "ord-1"}}
    expect_invoke(lambda_stub, ROUTES["cancel-order"]["1"], envelope, {"handled_by": "cancel-order v1"})
    assert router.handler(json.dumps(envelope), Context()) == {"handled_by": "cancel-order v1"}


def test_unknown_command_is_a_clear_error_and_invokes_nothing(router: ModuleType, lambda_stub: Stubber) -> None:
    answer = router.handler({"command": "refund-order", "version": 1, "payload": {}}, Context())
    assert answer == {"error": "unknown command 'refund-order' (known: cancel-order, create-order)",
                      "code": "UnknownCommand"}


def test_unknown_version_names_the_known_ones(router: ModuleType, lambda_stub: Stubber) -> None:
    answer = router.handler({"command": "create-order", "version": 3, "payload": {}}, Context())
    assert answer == {"error": "unknown version 3 of command 'create-order' (known: 1, 2)", "code": "UnknownVersion"}


@pytest.mark.parametrize(("event", "reason"), [
    ({"command": "create-order", "payload": {}}, "version: Field required"),
    ({"command": "create-order", "version": "two", "payload": {}}, "version: Input should be a valid integer"),
    ({"command": "create-order", "version": 0, "payload": {}}, "version: Input should be greater than or equal to 1"),
    ({"command": "", "version": 1, "payload": {}}, "command: String should have at least 1 character"),
    ({"command": "create-order", "version": 1}, "payload: Field required"),
    ({"command": "create-order", "version": 1, "payload": []}, "payload: Input should be a valid dictionary"),
    ({"command": "create-order", "version": 1, "payload": {}, "verison": 2}, "verison: Extra inputs are not permitted"),
    ("{not json", "Invalid JSON"),
    ([1, 2], "Input should be a valid dictionary"),
])
def test_malformed_envelope_is_a_validation_error_and_invokes_nothing(
    router: ModuleType, lambda_stub: Stubber, event: Any, reason: str
) -> None:
    answer = router.handler(event, Context())
    assert answer["code"] == "InvalidEnvelope"
    assert answer["error"].startswith("invalid command envelope: ")
    assert reason in answer["error"]


def test_a_failing_handler_becomes_an_error_answer(router: ModuleType, lambda_stub: Stubber) -> None:
    envelope = {"command": "cancel-order", "version": 1, "payload": {"order_id": "ord-1"}}
    crash = {"errorMessage": "table unavailable", "errorType": "ClientError", "stackTrace": []}
    expect_invoke(lambda_stub, ROUTES["cancel-order"]["1"], envelope, crash, error="Unhandled")
    assert router.handler(envelope, Context()) == {
        "error": "cancel-order v1 failed: ClientError: table unavailable", "code": "HandlerFailed",
    }


def test_an_uninvokable_handler_becomes_an_error_answer(router: ModuleType, lambda_stub: Stubber) -> None:
    lambda_stub.add_client_error("invoke", service_error_code="ResourceNotFoundException", http_status_code=404)
    answer = router.handler({"command": "create-order", "version": 1, "payload": {}}, Context())
    assert answer == {"error": "create-order v1 could not be invoked: ResourceNotFoundException",
                      "code": "HandlerUnavailable"}


def _orders(command: str, version: int) -> ModuleType:
    return load_handler("command", "orders", env={"COMMAND_NAME": command, "COMMAND_VERSION": str(version)})


def test_create_order_v1_orders_one_item() -> None:
    orders = _orders("create-order", 1)
    payload = {"item": "latte", "quantity": 2}
    answer = orders.create_order_v1({"command": "create-order", "version": 1, "payload": payload}, Context())
    assert answer["handled_by"] == "create-order v1"
    assert answer["received"] == payload
    assert answer["result"]["items"] == [{"sku": "latte", "quantity": 2}]
    assert answer["result"]["customer"] is None
    assert answer["result"]["status"] == "created"
    assert answer["result"]["order_id"].startswith("ord-")


def test_create_order_v2_orders_several_items_for_a_customer() -> None:
    orders = _orders("create-order", 2)
    answer = orders.create_order_v2(V2_ORDER, Context())
    assert answer["handled_by"] == "create-order v2"
    assert answer["received"] == V2_ORDER["payload"]
    assert answer["result"]["customer"] == "ana"
    assert answer["result"]["items"] == V2_ORDER["payload"]["items"]


def test_cancel_order_v1_cancels_with_a_reason() -> None:
    orders = _orders("cancel-order", 1)
    answer = orders.cancel_order_v1(
        {"command": "cancel-order", "version": 1, "payload": {"order_id": "ord-7"}}, Context()
    )
    assert answer["result"] == {"order_id": "ord-7", "status": "cancelled", "reason": "customer request"}


@pytest.mark.parametrize(("entry", "version", "payload", "reason"), [
    # a v2 payload sent to v1, and a v1 payload sent to v2: each version insists on its own contract
    ("create_order_v1", 1, V2_ORDER["payload"], "item: Field required"),
    ("create_order_v2", 2, {"item": "latte", "quantity": 1}, "customer: Field required"),
    ("create_order_v1", 1, {"item": "latte", "quantity": 0}, "quantity: Input should be greater than or equal to 1"),
    ("create_order_v2", 2, {"customer": "ana", "items": []}, "items: List should have at least 1 item"),
    ("cancel_order_v1", 1, {}, "order_id: Field required"),
])
def test_invalid_payload_is_an_error_answer_naming_the_field(
    entry: str, version: int, payload: Any, reason: str
) -> None:
    command = "cancel-order" if entry.startswith("cancel") else "create-order"
    orders = _orders(command, version)
    answer = getattr(orders, entry)({"command": command, "version": version, "payload": payload}, Context())
    assert answer["code"] == "InvalidPayload"
    assert answer["error"].startswith(f"invalid payload for {command} v{version}: ")
    assert reason in answer["error"]


def test_a_handler_invoked_with_garbage_answers_an_error() -> None:
    orders = _orders("create-order", 1)
    answer = orders.create_order_v1({"unexpected": True}, Context())
    assert answer["code"] == "InvalidPayload"
    assert "command: Field required" in answer["error"]


def test_a_throttled_invoke_is_answered_not_retried(router: ModuleType, lambda_stub: Stubber) -> None:
    # a command need not be idempotent: the router's client makes one attempt, the caller decides
    assert router._lambda().meta.config.retries["total_max_attempts"] == 1
    assert router._lambda().meta.config.read_timeout == 15
    lambda_stub.add_client_error("invoke", service_error_code="TooManyRequestsException", http_status_code=429)
    answer = router.handler({"command": "cancel-order", "version": 1, "payload": {"order_id": "o"}}, Context())
    assert answer == {"error": "cancel-order v1 could not be invoked: TooManyRequestsException",
                      "code": "HandlerUnavailable"}
