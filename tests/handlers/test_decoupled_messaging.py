"""Rung 4 for CATALOG 2 DecoupledMessaging: producer and consumer against moto SQS and DynamoDB.

Producer: a valid request lands on the queue message by message, ids kept or assigned; a bad request
(missing or extra fields, bad ids, duplicates) raises a clear error and sends nothing; entries SQS
refuses are reported by id. Consumer: each record is applied once (redelivery is a no-op through
idempotency); a bad record fails alone in ``batchItemFailures`` and writes nothing.
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

from tests.support import failed_ids, load_handler, sqs_record_like

EVENTS = Path(__file__).parent / "events" / "decoupled_messaging"
RECORD = json.loads((EVENTS / "sqs_record.json").read_text())
REQUEST = json.loads((EVENTS / "produce_request.json").read_text())
TABLE = "decoupled-output"
IDEMPOTENCY = "decoupled-idempotency"
QUEUE = "decoupled-work"


@dataclass
class Context:
    """A Lambda context: Logger reads the names, idempotency the remaining time."""

    function_name: str = "DecoupledMessagingDemo-MessagingConsumer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "d3c0fb1e-0000-4000-8000-000000000002"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


def message(message_id: str, kind: str = "order.placed", **payload: Any) -> str:
    return json.dumps({"id": message_id, "kind": kind, "payload": payload})


# -- producer ---------------------------------------------------------------------------------------


@dataclass
class ProducerEnv:
    module: ModuleType
    sqs: Any
    queue_url: str

    def queued(self) -> list[dict[str, Any]]:
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return bodies
            for m in got["Messages"]:
                bodies.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def producer() -> Iterator[ProducerEnv]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        module = load_handler("decoupled_messaging", "producer", env={"QUEUE_URL": url})
        yield ProducerEnv(module, sqs, url)


def test_producer_puts_each_message_on_the_queue_keeping_or_assigning_ids(producer: ProducerEnv) -> None:
    result = producer.module.handler(copy.deepcopy(REQUEST), Context())
    assert result["failed"] == {}
    assert len(result["sent"]) == 3 and result["sent"][0] == "order-1001"
    queued = producer.queued()
    assert sorted(m["id"] for m in queued) == sorted(result["sent"])
    by_id = {m["id"]: m for m in queued}
    assert by_id["order-1001"] == {"id": "order-1001", "kind": "order.placed",
                                   "payload": {"store": "downtown", "total": 12.5}}
    assigned = [i for i in result["sent"] if i != "order-1001"]
    assert all(len(i) == 32 for i in assigned)  # uuid4 hex
    assert by_id[assigned[1]] == {"id": assigned[1], "kind": "order.cancelled", "payload": {}}


def test_producer_sends_more_than_ten_messages_in_several_batches(producer: ProducerEnv) -> None:
    request = {"messages": [{"id": f"m-{i:02d}", "kind": "tick", "payload": {"i": i}} for i in range(25)]}
    result = producer.module.handler(request, Context())
    assert result == {"sent": [f"m-{i:02d}" for i in range(25)], "failed": {}}
    assert sorted(m["payload"]["i"] for m in producer.queued()) == list(range(25))


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "messages: Field required"),
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"payload": {}}]}, "messages.0.kind: Field required"),
        ({"messages": [{"kind": "x", "colour": "red"}]}, "messages.0.colour: Extra inputs are not permitted"),
        ({"messages": [{"id": "has space", "kind": "x"}]}, "messages.0.id: String should match pattern"),
        ({"messages": [{"kind": "x", "payload": "text"}]}, "messages.0.payload: Input should be a valid dictionary"),
        ({"messages": [{"kind": "x"}] * 501}, "messages: List should have at most 500 items"),
        ("not even an object", "event: Input should be a valid dictionary"),
    ],
)
def test_producer_rejects_a_bad_request_whole_and_sends_nothing(
    producer: ProducerEnv, event: Any, reason: str
) -> None:
    with pytest.raises(producer.module.InvalidRequest, match="nothing sent") as raised:
        producer.module.handler(event, Context())
    assert reason in str(raised.value)
    assert producer.queued() == []


def test_producer_rejects_duplicate_ids_and_sends_nothing(producer: ProducerEnv) -> None:
    request = {"messages": [{"id": "a", "kind": "x"}, {"id": "b", "kind": "x"}, {"id": "a", "kind": "y"}]}
    with pytest.raises(producer.module.InvalidRequest, match=r"duplicate message ids \['a'\]"):
        producer.module.handler(request, Context())
    assert producer.queued() == []


def test_producer_reports_entries_sqs_refused_by_id(producer: ProducerEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    real = producer.module.sqs().send_message_batch

    def refuse_second(QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        response = real(QueueUrl=QueueUrl, Entries=[e for e in Entries if e["Id"] != "1"])
        response["Failed"] = [{"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"}]
        return response

    monkeypatch.setattr(producer.module.sqs(), "send_message_batch", refuse_second)
    request = {"messages": [{"id": f"m-{i}", "kind": "x"} for i in range(3)]}
    result = producer.module.handler(request, Context())
    assert result == {"sent": ["m-0", "m-2"], "failed": {"m-1": "InternalError: try again"}}
    assert sorted(m["id"] for m in producer.queued()) == ["m-0", "m-2"]


# -- consumer ---------------------------------------------------------------------------------------


@dataclass
class ConsumerEnv:
    module: ModuleType
    table: Any

    def handle(self, *bodies: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Run one batch; return its records and the ids of the failed ones."""
        records = [sqs_record_like(RECORD, b) for b in bodies]
        result = self.module.handler({"Records": records}, Context())
        return records, failed_ids(result)

    def applied(self) -> dict[str, int]:
        return {i["id"]: int(i["timesApplied"]) for i in self.table.scan(ConsistentRead=True)["Items"]}


@pytest.fixture
def consumer() -> Iterator[ConsumerEnv]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        ddb.create_table(
            TableName=IDEMPOTENCY, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        module = load_handler(
            "decoupled_messaging", "consumer", env={"TABLE_NAME": TABLE, "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY}
        )
        yield ConsumerEnv(module, table)


def test_consumer_applies_every_record_of_a_batch_once(consumer: ConsumerEnv) -> None:
    _, failed = consumer.handle(RECORD["body"], message("order-1002", total=3), message("order-1003"))
    assert failed == []
    assert consumer.applied() == {"order-1001": 1, "order-1002": 1, "order-1003": 1}
    item = consumer.table.get_item(Key={"id": "order-1001"})["Item"]
    assert item["kind"] == "order.placed"
    assert json.loads(item["payload"]) == {"store": "downtown", "total": 12.5}
    assert item["processedAt"].startswith("20")


def test_consumer_applies_a_redelivered_message_once(consumer: ConsumerEnv) -> None:
    consumer.handle(message("order-1"), message("order-2"))
    _, failed = consumer.handle(message("order-1"), message("order-3"))
    assert failed == []
    assert consumer.applied() == {"order-1": 1, "order-2": 1, "order-3": 1}


@pytest.mark.parametrize(
    "bad",
    [
        "this is not json",
        json.dumps({"kind": "order.placed"}),
        json.dumps({"id": "x", "kind": "order.placed", "payload": {}, "extra": 1}),
        json.dumps({"id": "", "kind": "order.placed"}),
        json.dumps(["a", "list"]),
        "",
    ],
    ids=["malformed", "missing-id", "extra-field", "empty-id", "not-an-object", "empty"],
)
def test_consumer_fails_a_bad_record_alone_and_writes_nothing_for_it(consumer: ConsumerEnv, bad: str) -> None:
    records, failed = consumer.handle(message("good-1"), bad, message("good-2"))
    assert failed == [records[1]["messageId"]]
    assert consumer.applied() == {"good-1": 1, "good-2": 1}


def test_consumer_retries_a_record_whose_write_failed_and_applies_it_once(
    consumer: ConsumerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = consumer.module.table().update_item

    def flaky(**kwargs: Any) -> Any:
        if kwargs["Key"]["id"] == "flaky":
            raise RuntimeError("downstream unavailable")
        return real(**kwargs)

    monkeypatch.setattr(consumer.module.table(), "update_item", flaky)
    records, failed = consumer.handle(message("steady"), message("flaky"))
    assert failed == [records[1]["messageId"]]
    assert consumer.applied() == {"steady": 1}
    monkeypatch.setattr(consumer.module.table(), "update_item", real)
    # SQS redelivers only the failed record; the idempotency record of the failure must not block it.
    _, failed = consumer.handle(message("flaky"))
    assert failed == []
    assert consumer.applied() == {"steady": 1, "flaky": 1}
