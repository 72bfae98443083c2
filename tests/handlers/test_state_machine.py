"""Rung 4 for CATALOG 25 StateMachine: each step's handler with realistic input, bad input included.

The write steps run against a moto DynamoDB table: their status transitions are conditional, so a
retried step applies once and one execution never overwrites another's order.
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

TABLE = "orders"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Workflow:e-1"
ENV = {"ORDERS_TABLE_NAME": TABLE, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class Context:
    function_name: str = "StateMachineDemo-Step"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:StateMachineDemo-Step"
    aws_request_id: str = "7e57ab1e-0000-4000-8000-000000000000"


def order(order_id: str = "o-1", card: str = "visa-4242", express: bool = False) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer": "ana",
        "express": express,
        "payment": {"card": card},
        "items": [
            {"sku": "latte", "quantity": 2, "unit_price_cents": 450},
            {"sku": "croissant", "quantity": 1, "unit_price_cents": 325},
        ],
    }


LINES = [
    {"sku": "latte", "quantity": 2, "line_total_cents": 900},
    {"sku": "croissant", "quantity": 1, "line_total_cents": 325},
]


@pytest.fixture
def steps() -> Iterator[dict[str, ModuleType]]:
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        )
        yield {
            name: load_handler("state_machine", name, env={**ENV, "POWERTOOLS_SERVICE_NAME": name})
            for name in ("validate", "price", "quote", "reserve", "charge", "compensate")
        }


def item(order_id: str) -> dict[str, Any] | None:
    return (
        boto3.resource("dynamodb", region_name="us-east-1")
        .Table(TABLE)
        .get_item(Key={"order_id": order_id})
        .get("Item")
    )


def reserve_request(order_id: str = "o-1", execution: str = EXECUTION) -> dict[str, Any]:
    return {
        "order": order(order_id),
        "lines": LINES,
        "shipping": {"method": "express", "days": 1},
        "execution": execution,
    }


def test_validate_normalizes_an_order_and_lists_every_problem_of_a_bad_one(steps) -> None:
    valid = steps["validate"].handler(order(), Context())
    assert valid["order_id"] == "o-1" and valid["express"] is False
    with pytest.raises(steps["validate"].InvalidOrder) as bad:
        steps["validate"].handler({"order_id": "has space", "customer": "", "items": []}, Context())
    assert "order_id" in str(bad.value) and "customer" in str(bad.value) and "items" in str(bad.value)


def test_price_and_quote_are_pure_and_refuse_malformed_input(steps) -> None:
    line = steps["price"].handler({"item": {"sku": "latte", "quantity": 2, "unit_price_cents": 450}}, Context())
    assert line == {"sku": "latte", "quantity": 2, "line_total_cents": 900}
    quote = steps["quote"].handler(
        {"order": order(), "lines": LINES, "shipping": {"method": "express", "days": 1}}, Context()
    )
    assert quote == {"order_id": "o-1", "subtotal_cents": 1225, "shipping_cents": 900, "total_cents": 2125}
    with pytest.raises(steps["price"].InvalidLine):
        steps["price"].handler({"item": {"sku": "latte", "quantity": 0, "unit_price_cents": 450}}, Context())
    with pytest.raises(steps["quote"].InvalidQuote):
        steps["quote"].handler({"order": order(), "lines": LINES}, Context())


def test_reserve_is_idempotent_per_execution_and_refuses_a_second_execution(steps) -> None:
    reserve = steps["reserve"]
    first = reserve.handler(reserve_request(), Context())
    again = reserve.handler(reserve_request(), Context())  # the same execution retrying
    assert first == again and first["total_cents"] == 2125
    assert item("o-1")["status"] == "RESERVED" and item("o-1")["execution"] == EXECUTION
    with pytest.raises(reserve.DuplicateOrder):
        reserve.handler(reserve_request(execution=EXECUTION + "-other"), Context())
    assert item("o-1")["execution"] == EXECUTION
    with pytest.raises(reserve.InvalidReservation):
        reserve.handler({"order": order()}, Context())


def test_charge_simulates_the_provider_and_records_the_payment_once(steps) -> None:
    steps["reserve"].handler(reserve_request(), Context())
    charge = steps["charge"]
    request = {"order": order(card="flaky-1"), "amount_cents": 2125, "attempt": 0}
    with pytest.raises(charge.PaymentUnavailable):
        charge.handler(request, Context())
    assert item("o-1")["status"] == "RESERVED"
    paid = charge.handler({**request, "attempt": 1}, Context())
    repeated = charge.handler({**request, "attempt": 2}, Context())  # a retry after a lost response
    assert paid == repeated == {"payment_id": "pay-o-1", "amount_cents": 2125}
    assert item("o-1")["status"] == "PAID"
    with pytest.raises(charge.PaymentDeclined):
        charge.handler({"order": order("o-2", card="declined"), "amount_cents": 1, "attempt": 0}, Context())
    with pytest.raises(charge.InvalidCharge):
        charge.handler({"order": order(), "amount_cents": -1, "attempt": 0}, Context())


def test_compensate_cancels_only_this_executions_reservation(steps) -> None:
    steps["reserve"].handler(reserve_request(), Context())
    compensate = steps["compensate"]
    error = {"Error": "PaymentDeclined", "Cause": "card declined"}
    other = compensate.handler({"order_id": "o-1", "execution": EXECUTION + "-other", "error": error}, Context())
    assert other["status"] == "RESERVED"  # another execution's failure leaves this order alone
    done = compensate.handler({"order_id": "o-1", "execution": EXECUTION, "error": error}, Context())
    twice = compensate.handler({"order_id": "o-1", "execution": EXECUTION, "error": error}, Context())
    assert done["status"] == "CANCELLED" and twice["status"] == "CANCELLED"
    assert item("o-1")["failure"] == {"error": "PaymentDeclined", "cause": "card declined"}
    absent = compensate.handler({"order_id": "never", "execution": EXECUTION, "error": error}, Context())
    assert absent["status"] == "ABSENT" and item("never") is None
    with pytest.raises(compensate.InvalidCompensation):
        compensate.handler({"order_id": "o-1"}, Context())
