"""Rung 4: the Microservices handler against moto (DynamoDB, EventBridge) with realistic events.

API requests arrive as API Gateway passes them through a custom domain (the base path kept in
``path``) and on the execute-api URL (no base path). Events are EventBridge deliveries. Bad input
answers 400 and stores nothing; an event applies once however often it is delivered, and never
creates an item this service does not have.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import load_handler

EVENTS = Path(__file__).parent / "events" / "microservices"
REQUEST = json.loads((EVENTS / "custom_domain_request.json").read_text())
ORDER_EVENT = json.loads((EVENTS / "orders_created.json").read_text())
SUBSCRIPTIONS = [
    {"source": "orders", "detail_type": "orders.created", "item_id_field": "product_id", "counter": "ordered",
     "amount_field": "quantity"}
]


@dataclass
class LambdaContext:
    function_name: str = "Handler"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Handler"
    aws_request_id: str = "3f6b2a1c-0000-4000-8000-000000000002"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


@dataclass
class Service:
    module: ModuleType
    table: Any
    queue_url: str

    def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None,
             base_path: str = "/orders") -> tuple[int, Any]:
        """A REST proxy event for ``path`` below the service (through the custom domain unless base_path="")."""
        event = copy.deepcopy(REQUEST)
        item_id = path.strip("/") or None
        full = f"{base_path}{path}" if path != "/" else (base_path or "/")
        event.update(httpMethod=method, path=full, resource="/{id}" if item_id else "/",
                     pathParameters={"id": item_id} if item_id else None)
        event["requestContext"].update(httpMethod=method, resourcePath=event["resource"], path=full)
        event["body"] = raw if raw is not None else (json.dumps(body) if body is not None else None)
        result = self.module.handler(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else None

    def items(self) -> list[dict[str, Any]]:
        return self.table.scan(ConsistentRead=True)["Items"]

    def published(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        found = []
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            found += [json.loads(m["Body"]) for m in batch]
        return found


def _service(name: str, **env: str) -> Iterator[Service]:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName=f"{name}-table", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        # Published events land in a queue through a rule, so the test reads what EventBridge got.
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="published")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events", region_name="us-east-1")
        events.put_rule(Name="all", EventPattern=json.dumps({"source": [name]}))
        events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
        module = load_handler("microservices", "app", env={
            "TABLE_NAME": f"{name}-table", "SERVICE_NAME": name, "POWERTOOLS_SERVICE_NAME": name,
            "BASE_PATH": f"/{name}", "DETAIL_TYPE": f"{name}.created", **env,
        })
        yield Service(module, table, queue_url)


@pytest.fixture
def orders() -> Iterator[Service]:
    yield from _service("orders", EVENT_BUS_NAME="default", SUBSCRIPTIONS="[]")


@pytest.fixture
def catalog() -> Iterator[Service]:
    yield from _service("catalog", EVENT_BUS_NAME="", SUBSCRIPTIONS=json.dumps(SUBSCRIPTIONS))


# --- the API ---------------------------------------------------------------------------------------


def test_post_through_the_custom_domain_stores_the_item_and_publishes_it(orders: Service) -> None:
    status, body = orders.call("POST", "/", raw=REQUEST["body"])
    assert status == 201
    assert (body["product_id"], body["quantity"]) == ("p-1", 2) and body["id"] and body["created_at"]
    assert [i["id"] for i in orders.items()] == [body["id"]]
    [event] = orders.published()
    assert (event["source"], event["detail-type"]) == ("orders", "orders.created")
    assert event["detail"] == body


def test_get_reads_an_item_on_both_the_custom_domain_and_the_execute_api_url(orders: Service) -> None:
    _, created = orders.call("POST", "/", {"product_id": "p-2", "quantity": 1})
    assert orders.call("GET", f"/{created['id']}") == (200, created)
    assert orders.call("GET", f"/{created['id']}", base_path="") == (200, created)
    status, listed = orders.call("GET", "/")
    assert status == 200 and listed == {"items": [created], "truncated": False}


def test_get_of_an_unknown_id_is_404(orders: Service) -> None:
    status, body = orders.call("GET", "/nope")
    assert status == 404 and body["message"] == "no item nope"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must be a JSON object"),
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"id": "mine", "quantity": 1}', "'id' and 'seen_events' are set by the service"),
    ],
)
def test_fails_if_the_body_is_bad_and_stores_nothing(orders: Service, raw: str, reason: str) -> None:
    status, body = orders.call("POST", "/", raw=raw)
    assert status == 400 and reason in body["message"]
    assert orders.items() == [] and orders.published() == []


# --- events of other services -----------------------------------------------------------------------


def _order_event(**detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(ORDER_EVENT)
    event["detail"].update(detail)
    return event


def test_an_order_event_adds_its_quantity_to_the_product_once_per_event_id(catalog: Service) -> None:
    _, product = catalog.call("POST", "/", {"name": "kettle", "price": 25.5}, base_path="/catalog")
    event = _order_event(product_id=product["id"], quantity=3)
    first = catalog.module.handler(event, LambdaContext())
    again = catalog.module.handler(copy.deepcopy(event), LambdaContext())  # EventBridge redelivers
    other = catalog.module.handler({**_order_event(product_id=product["id"], quantity=1), "id": "second"},
                                   LambdaContext())
    assert (first["applied"], again["applied"], other["applied"]) == (True, False, True)
    stored = catalog.table.get_item(Key={"id": product["id"]})["Item"]
    assert stored["ordered"] == 4 and stored["seen_events"] == {ORDER_EVENT["id"], "second"}
    # AND the API shows the count, never the bookkeeping
    assert catalog.call("GET", f"/{product['id']}", base_path="/catalog")[1] == {**product, "ordered": 4}


def test_an_event_for_an_unknown_product_creates_nothing(catalog: Service) -> None:
    result = catalog.module.handler(_order_event(product_id="ghost"), LambdaContext())
    assert result == {"applied": False, "reason": "unknown item or duplicate"}
    assert catalog.items() == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({**ORDER_EVENT, "source": "billing"}, "no subscription"),
        ({**ORDER_EVENT, "detail": {"quantity": 1}}, "no item id"),
        ({**ORDER_EVENT, "detail": {"product_id": "p-1", "quantity": "two"}}, "no amount"),
    ],
)
def test_fails_to_apply_an_event_it_cannot_read_and_changes_nothing(catalog: Service, event: dict[str, Any],
                                                                     reason: str) -> None:
    catalog.table.put_item(Item={"id": "p-1", "name": "kettle"})
    assert catalog.module.handler(copy.deepcopy(event), LambdaContext()) == {"applied": False, "reason": reason}
    assert catalog.items() == [{"id": "p-1", "name": "kettle"}]
