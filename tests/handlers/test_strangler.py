"""Rung 4: the Strangler demo's legacy app (function URL events), new service (REST proxy events) and the
legacy sync consumer (SQS batches) against moto — the same bodies accepted and refused alike by both
sides, write-back events translated into the legacy model once, and malformed events failing alone."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import load_handler

EVENTS = Path(__file__).parent / "events" / "gateway_router"  # the same API Gateway and function URL shapes
REST = json.loads((EVENTS / "rest_api_request.json").read_text())
URL = json.loads((EVENTS / "function_url_request.json").read_text())
LEGACY_TABLE, ORDERS_TABLE = "legacy", "orders"
ORDER = {"order_id": "o-1", "customer_id": "c-1", "total_cents": 1250}
BAD_BODIES = [
    ({"order_id": "o 1", "customer_id": "c-1", "total_cents": 1}, "order_id must be"),
    ({"order_id": "o-1", "total_cents": 1}, "customer_id must be"),
    ({"order_id": "o-1", "customer_id": "c-1", "total_cents": -1}, "total_cents must be"),
    ({"order_id": "o-1", "customer_id": "c-1", "total_cents": True}, "total_cents must be"),
    ({"order_id": "o-1", "customer_id": "c-1", "total_cents": "12.50"}, "total_cents must be"),
    (["not", "an", "object"], "the body must be a JSON object"),
]


@dataclass
class LambdaContext:
    function_name: str = "StranglerFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:StranglerFunction"
    aws_request_id: str = "3f6b2a1c-0000-4000-8000-000000000016"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


@dataclass
class Env:
    legacy: Any
    new: Any
    sync: Any
    sqs: Any
    ddb: Any
    queue_url: str

    def legacy_rows(self) -> dict[str, dict[str, str]]:
        items = self.ddb.scan(TableName=LEGACY_TABLE, ConsistentRead=True)["Items"]
        return {i["pk"]["S"]: {k: v["S"] for k, v in i.items()} for i in items}

    def write_backs(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture(scope="module")
def loaded() -> Iterator[Env]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for name, key in ((LEGACY_TABLE, "pk"), (ORDERS_TABLE, "order_id")):
            ddb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="sync")["QueueUrl"]
        yield Env(
            load_handler("strangler", "legacy", {"LEGACY_TABLE_NAME": LEGACY_TABLE}),
            load_handler(
                "strangler", "orders", {"ORDERS_TABLE_NAME": ORDERS_TABLE, "LEGACY_SYNC_QUEUE_URL": queue_url}
            ),
            load_handler("strangler", "sync", {"LEGACY_TABLE_NAME": LEGACY_TABLE}),
            sqs,
            ddb,
            queue_url,
        )


@pytest.fixture
def env(loaded: Env) -> Env:
    for key in loaded.legacy_rows():
        loaded.ddb.delete_item(TableName=LEGACY_TABLE, Key={"pk": {"S": key}})
    while loaded.write_backs():  # received with a long visibility: gone for the next test
        pass
    return loaded


def rest(method: str, path: str, resource: str, params: dict[str, str] | None, body: Any = None) -> dict[str, Any]:
    event = copy.deepcopy(REST)
    event.update({"path": path, "resource": resource, "pathParameters": params, "httpMethod": method})
    event["body"] = json.dumps(body) if body is not None else None
    event["requestContext"].update({"resourcePath": resource, "path": f"/prod{path}", "httpMethod": method})
    return event


def function_url(method: str, path: str, body: Any = None) -> dict[str, Any]:
    event = copy.deepcopy(URL)
    event["rawPath"] = path
    event["body"] = json.dumps(body) if body is not None else None
    event["requestContext"]["http"].update({"path": path, "method": method})
    return event


def reply(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else None


def sqs_batch(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"r-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sync",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def test_the_new_service_takes_an_order_and_sends_one_write_back_event(env: Env) -> None:
    status, body = reply(env.new.handler(rest("POST", "/orders", "/orders", None, ORDER), LambdaContext()))

    assert (status, body) == (201, {"order_id": "o-1", "served_by": "new"})
    assert env.write_backs() == [{"type": "OrderPlaced", "id": "OrderPlaced-o-1", "order": ORDER}]
    got = reply(env.new.handler(rest("GET", "/orders/o-1", "/orders/{id}", {"id": "o-1"}), LambdaContext()))
    assert got == (200, {**ORDER, "served_by": "new"})


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_both_sides_refuse_the_same_bad_body_with_400_and_write_nothing(env: Env, body: Any, message: str) -> None:
    new = reply(env.new.handler(rest("POST", "/orders", "/orders", None, body), LambdaContext()))
    legacy = reply(env.legacy.handler(function_url("POST", "/orders", body), LambdaContext()))

    assert new[0] == legacy[0] == 400
    assert message in new[1]["message"] and message in legacy[1]["message"]
    assert env.write_backs() == [] and env.legacy_rows() == {}


def test_the_sync_consumer_writes_the_legacy_row_once_and_the_legacy_app_shows_it(env: Env) -> None:
    event = json.dumps({"type": "OrderPlaced", "id": "OrderPlaced-o-1", "order": ORDER})

    first = env.sync.handler(sqs_batch(event), LambdaContext())
    again = env.sync.handler(sqs_batch(event), LambdaContext())  # a redelivery

    assert first == again == {"batchItemFailures": []}
    assert env.legacy_rows() == {
        "ORDER#o-1": {
            "pk": "ORDER#o-1",
            "ORDER_NO": "o-1",
            "CUST_NO": "c-1",
            "AMOUNT": "12.50",
            "SOURCE": "new-service",
        }
    }
    shown = reply(env.legacy.handler(function_url("GET", "/orders/o-1"), LambdaContext()))
    assert shown == (
        200,
        {"ORDER_NO": "o-1", "CUST_NO": "c-1", "AMOUNT": "12.50", "SOURCE": "new-service", "served_by": "legacy"},
    )


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        json.dumps({"type": "OrderCancelled", "order": ORDER}),
        json.dumps({"type": "OrderPlaced", "order": {**ORDER, "total_cents": "x"}}),
        json.dumps({"type": "OrderPlaced", "order": {"order_id": "o-2", "total_cents": 1}}),
        json.dumps({"type": "OrderPlaced"}),
    ],
)
def test_a_malformed_write_back_fails_alone_and_the_rest_of_its_batch_is_applied(env: Env, bad: str) -> None:
    good = json.dumps({"type": "OrderPlaced", "order": {**ORDER, "order_id": "o-9"}})

    result = env.sync.handler(sqs_batch(good, bad), LambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert list(env.legacy_rows()) == ["ORDER#o-9"]


def test_the_legacy_app_answers_its_routes_and_404s_what_it_does_not_have(env: Env) -> None:
    placed = reply(env.legacy.handler(function_url("POST", "/orders", ORDER), LambdaContext()))
    assert placed == (201, {"order_id": "o-1", "served_by": "legacy"})
    assert env.legacy_rows()["ORDER#o-1"]["SOURCE"] == "legacy"
    assert env.write_backs() == []  # the legacy app writes its own table; nothing is written back
    assert reply(env.legacy.handler(function_url("GET", "/customers/c-1"), LambdaContext()))[1]["served_by"] == "legacy"
    assert reply(env.legacy.handler(function_url("GET", "/inventory/mug"), LambdaContext()))[1]["in_stock"] == 40
    for path in ("/orders/nope", "/customers/c-9", "/inventory/anvil", "/elsewhere"):
        assert reply(env.legacy.handler(function_url("GET", path), LambdaContext()))[0] == 404, path
    assert reply(env.legacy.handler(function_url("GET", "/orders/bad id"), LambdaContext()))[0] == 400


def test_the_new_service_answers_customers_and_refuses_what_it_does_not_have(env: Env) -> None:
    customer = reply(env.new.handler(rest("GET", "/customers/c-2", "/customers/{id}", {"id": "c-2"}), LambdaContext()))
    assert customer == (200, {"id": "c-2", "name": "Grace Hopper", "served_by": "new"})
    assert (
        reply(env.new.handler(rest("GET", "/customers/c-9", "/customers/{id}", {"id": "c-9"}), LambdaContext()))[0]
        == 404
    )
    assert reply(env.new.handler(rest("GET", "/orders/zz", "/orders/{id}", {"id": "zz"}), LambdaContext()))[0] == 404
