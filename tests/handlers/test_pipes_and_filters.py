"""Rung 4 for CATALOG 9 PipesAndFilters: each filter step against moto with realistic SQS events.

A step passes a good record on (next queue, or results table for the last step) with its name
appended to the trail; a bad record (malformed JSON, no id, invalid data, unknown product) fails
alone in ``batchItemFailures`` and nothing is passed on for it; a duplicate delivery is passed on once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import support
from tests.support import load_handler

REGION = "us-east-1"
PRODUCTS_TABLE = "pipes-products"
RESULTS_TABLE = "pipes-results"
IDEMPOTENCY_TABLE = "pipes-idempotency"


@dataclass
class Context:
    """What Powertools' Logger and idempotency read from a Lambda context."""

    function_name: str = "PipesAndFiltersDemo-OrdersFilter"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:PipesAndFiltersDemo-OrdersFilter"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def sqs_record(body: str, step: str = "Validate") -> dict[str, Any]:
    """One record as Lambda's SQS poller delivers it from the queue in front of ``step``."""
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:PipesAndFiltersDemo-Orders{step}Queue"
    return support.sqs_record(body, queue_arn=queue_arn)


def record(record_id: str, data: dict[str, Any], trail: list[str] | None = None) -> str:
    return json.dumps({"id": record_id, "data": data, "trail": trail or []})


def event(*bodies: str, step: str = "Validate") -> dict[str, Any]:
    return {"Records": [sqs_record(body, step) for body in bodies]}


def failed_ids(response: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    """The bodies' positions reported as failed, mapped back to their message ids."""
    ids = {r["messageId"]: i for i, r in enumerate(sent["Records"])}
    return sorted(str(ids[f["itemIdentifier"]]) for f in response["batchItemFailures"])


@dataclass
class Cloud:
    sqs: Any
    ddb: Any
    next_queue: str

    def forwarded(self) -> list[dict[str, Any]]:
        """Everything a step sent to the next queue (drained)."""
        got: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=self.next_queue, MaxNumberOfMessages=10).get("Messages"):
            got += [json.loads(m["Body"]) for m in batch]
            for m in batch:
                self.sqs.delete_message(QueueUrl=self.next_queue, ReceiptHandle=m["ReceiptHandle"])
        return got

    def results(self) -> list[dict[str, Any]]:
        return self.ddb.Table(RESULTS_TABLE).scan(ConsistentRead=True)["Items"]

    def add_product(self, sku: str, name: str, unit_price_cents: int) -> None:
        self.ddb.Table(PRODUCTS_TABLE).put_item(Item={"sku": sku, "name": name, "unit_price_cents": unit_price_cents})


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name=REGION)
        for name, key in ((PRODUCTS_TABLE, "sku"), (RESULTS_TABLE, "id"), (IDEMPOTENCY_TABLE, "id")):
            ddb.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            )
        sqs = boto3.client("sqs", region_name=REGION)
        yield Cloud(sqs, ddb, sqs.create_queue(QueueName="pipes-next")["QueueUrl"])


def step(cloud: Cloud, name: str, *, last: bool = False) -> ModuleType:
    env = {"STEP_NAME": name, "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE, "POWERTOOLS_SERVICE_NAME": name}
    env |= {"RESULTS_TABLE_NAME": RESULTS_TABLE} if last else {"NEXT_QUEUE_URL": cloud.next_queue}
    if name == "Enrich":
        env["PRODUCTS_TABLE_NAME"] = PRODUCTS_TABLE
    return load_handler("pipes_and_filters", "filters", env=env)


def test_validate_normalizes_and_passes_the_record_on(cloud: Cloud) -> None:
    filters = step(cloud, "Validate")
    sent = event(record("r1", {"customer": " ana ", "sku": " latte", "quantity": 2}))
    assert filters.validate(sent, Context()) == {"batchItemFailures": []}
    assert cloud.forwarded() == [
        {"id": "r1", "data": {"customer": "ana", "sku": "LATTE", "quantity": 2}, "trail": ["Validate"]},
    ]


def test_bad_records_fail_alone_and_nothing_is_passed_on_for_them(cloud: Cloud) -> None:
    filters = step(cloud, "Validate")
    sent = event(
        record("ok-1", {"customer": "ana", "sku": "latte", "quantity": 1}),
        "{not json",
        json.dumps({"data": {"customer": "bo", "sku": "latte", "quantity": 1}}),  # no id
        record("zero", {"customer": "bo", "sku": "latte", "quantity": 0}),
        record("blank", {"customer": "   ", "sku": "latte", "quantity": 1}),
        record("float", {"customer": "bo", "sku": "latte", "quantity": 1.5}),
        json.dumps({"id": "no-data", "trail": []}),
        record("ok-2", {"customer": "cy", "sku": "mocha", "quantity": 3}),
    )
    response = filters.validate(sent, Context())
    assert failed_ids(response, sent) == ["1", "2", "3", "4", "5", "6"]
    assert sorted(r["id"] for r in cloud.forwarded()) == ["ok-1", "ok-2"]


def test_enrich_adds_the_product_and_keeps_the_trail(cloud: Cloud) -> None:
    cloud.add_product("LATTE", "Caffe latte", 450)
    filters = step(cloud, "Enrich")
    sent = event(record("r1", {"customer": "ana", "sku": "LATTE", "quantity": 2}, ["Validate"]), step="Enrich")
    assert filters.enrich(sent, Context()) == {"batchItemFailures": []}
    assert cloud.forwarded() == [{
        "id": "r1", "trail": ["Validate", "Enrich"],
        "data": {"customer": "ana", "sku": "LATTE", "quantity": 2, "product": "Caffe latte", "unit_price_cents": 450},
    }]


def test_enrich_fails_an_unknown_product_until_it_exists(cloud: Cloud) -> None:
    filters = step(cloud, "Enrich")
    body = record("r1", {"customer": "ana", "sku": "MOCHA", "quantity": 1}, ["Validate"])
    first = event(body, step="Enrich")
    assert failed_ids(filters.enrich(first, Context()), first) == ["0"]
    assert cloud.forwarded() == []
    # WHEN the fault is fixed and the record redelivered THEN it passes (a failure leaves no idempotency record)
    cloud.add_product("MOCHA", "Mocha", 520)
    again = event(body, step="Enrich")
    assert filters.enrich(again, Context()) == {"batchItemFailures": []}
    assert [r["trail"] for r in cloud.forwarded()] == [["Validate", "Enrich"]]


def test_last_step_prices_and_stores_the_finished_record(cloud: Cloud) -> None:
    filters = step(cloud, "Price", last=True)
    data = {"customer": "ana", "sku": "LATTE", "quantity": 2, "product": "Caffe latte", "unit_price_cents": 450}
    bulk = {**data, "quantity": 10}
    sent = event(
        record("r1", data, ["Validate", "Enrich"]), record("r2", bulk, ["Validate", "Enrich"]), step="Price"
    )
    assert filters.price(sent, Context()) == {"batchItemFailures": []}
    stored = {item["id"]: item for item in cloud.results()}
    assert stored["r1"]["trail"] == ["Validate", "Enrich", "Price"]
    assert stored["r1"]["data"]["total_cents"] == 900
    assert stored["r1"]["data"]["discount_percent"] == 0
    assert stored["r2"]["data"]["total_cents"] == 4050  # 10 x 450 less 10 %
    assert stored["r2"]["data"]["discount_percent"] == 10
    assert cloud.forwarded() == []


def test_last_step_rejects_a_record_missing_what_earlier_steps_add(cloud: Cloud) -> None:
    filters = step(cloud, "Price", last=True)
    sent = event(record("r1", {"customer": "ana", "sku": "LATTE", "quantity": 2}, ["Validate"]), step="Price")
    assert failed_ids(filters.price(sent, Context()), sent) == ["0"]
    assert cloud.results() == []


def test_a_duplicate_delivery_is_passed_on_once(cloud: Cloud) -> None:
    filters = step(cloud, "Validate")
    body = record("dup", {"customer": "ana", "sku": "latte", "quantity": 1})
    # same batch twice, and once more in a later batch (SQS at-least-once delivery)
    assert filters.validate(event(body, body), Context()) == {"batchItemFailures": []}
    assert filters.validate(event(body), Context()) == {"batchItemFailures": []}
    assert [r["id"] for r in cloud.forwarded()] == ["dup"]


def test_a_step_without_a_destination_refuses_to_start(cloud: Cloud) -> None:
    with pytest.raises(RuntimeError, match="a step needs NEXT_QUEUE_URL"):
        load_handler("pipes_and_filters", "filters",
                     env={"STEP_NAME": "Lost", "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE})
