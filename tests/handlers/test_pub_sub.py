"""Rung 4 for CATALOG 5 PubSub: each subscriber function against moto with realistic SQS events.

A bad record (malformed JSON, missing fields, a leaderboard order without a barista) fails alone:
it is reported in ``batchItemFailures`` so only it goes back to the queue, nothing is written for
it, and the rest of the batch is stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import support
from tests.support import failed_ids, load_handler

TABLE = "pub-sub-views"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:PubSubDemo-OrdersLeaderboardQueue"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:PubSubDemo-OrdersTopic"


@dataclass
class Context:
    """The attributes Powertools' Logger reads from a Lambda context."""

    function_name: str = "PubSubDemo-OrdersHandler"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:PubSubDemo-OrdersHandler"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"


def sqs_record(body: str, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    """One record as Lambda's SQS poller delivers it after raw SNS delivery (attributes carried over)."""
    return support.sqs_record(body, queue_arn=QUEUE_ARN, attributes=attributes)


def order(order_id: str, status: str = "ready", **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "store": "downtown", "drink": "flat white", "size": "small",
            "status": status, **extra}


def event(*bodies: str) -> dict[str, Any]:
    return {"Records": [sqs_record(body, {"status": "ready", "store": "downtown"}) for body in bodies]}


def enveloped(message: dict[str, Any]) -> str:
    """The body SQS receives when raw message delivery is off: SNS's notification envelope."""
    return json.dumps({
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC_ARN,
        "Message": json.dumps(message), "Timestamp": "2026-11-23T12:00:00.000Z", "SignatureVersion": "1",
        "MessageAttributes": {"status": {"Type": "String", "Value": message.get("status", "")}},
    })


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        created = ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "subscriber", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "subscriber", "AttributeType": "S"},
                                  {"AttributeName": "id", "AttributeType": "S"}],
        )
        yield created


def subscribers(name: str) -> ModuleType:
    return load_handler("pub_sub", "subscribers", env={"TABLE_NAME": TABLE, "SUBSCRIBER_NAME": name})


def rows(table: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["subscriber"], item["id"]): item for item in table.scan()["Items"]}


def test_video_wall_stores_every_good_order(table) -> None:
    module = subscribers("VideoWall")
    evt = event(json.dumps(order("o-1", "placed")), json.dumps(order("o-2", "ready", barista="ana")))
    response = module.video_wall(evt, Context())
    assert response == {"batchItemFailures": []}
    stored = rows(table)
    assert set(stored) == {("VideoWall", "o-1"), ("VideoWall", "o-2")}
    assert stored[("VideoWall", "o-2")] == {
        "subscriber": "VideoWall", "id": "o-2", "view": "status board", "order_id": "o-2", "store": "downtown",
        "drink": "flat white", "size": "small", "status": "ready", "barista": "ana",
    }
    assert "barista" not in stored[("VideoWall", "o-1")]


def test_leaderboard_fails_only_the_order_without_a_barista(table) -> None:
    module = subscribers("Leaderboard")
    evt = event(
        json.dumps(order("o-1", barista="ana")),
        json.dumps(order("o-2")),  # ready but nobody to credit
        json.dumps(order("o-3", barista="")),  # an empty name credits nobody either
        json.dumps(order("o-4", barista="bo")),
    )
    response = module.leaderboard(evt, Context())
    records = evt["Records"]
    assert failed_ids(response) == [records[1]["messageId"], records[2]["messageId"]]
    assert set(rows(table)) == {("Leaderboard", "o-1"), ("Leaderboard", "o-4")}
    assert rows(table)[("Leaderboard", "o-4")]["view"] == "barista ranking"


@pytest.mark.parametrize(
    ("bad_body", "why"),
    [
        ("{not json", "malformed JSON"),
        ("", "empty body"),
        (json.dumps({"order_id": "o-bad", "store": "downtown", "status": "placed"}), "missing drink"),
        (json.dumps(order("o-bad", status="lost")), "unknown status"),
        (json.dumps(order("", "placed")), "empty order id"),
        (json.dumps(["an", "array"]), "not an object"),
    ],
)
def test_recommendations_fails_a_bad_record_alone_and_writes_nothing_for_it(table, bad_body: str, why: str) -> None:
    module = subscribers("Recommendations")
    evt = event(json.dumps(order("o-1", "placed")), bad_body, json.dumps(order("o-2", "placed")))
    response = module.recommendations(evt, Context())
    assert failed_ids(response) == [evt["Records"][1]["messageId"]], why
    assert set(rows(table)) == {("Recommendations", "o-1"), ("Recommendations", "o-2")}


def test_a_batch_of_only_bad_records_reports_every_one_and_writes_nothing(table) -> None:
    module = subscribers("VideoWall")
    evt = event("{", json.dumps({"order_id": "x"}))
    response = module.video_wall(evt, Context())
    assert failed_ids(response) == [r["messageId"] for r in evt["Records"]]
    assert rows(table) == {}


def test_redelivered_message_leaves_the_same_state(table) -> None:
    module = subscribers("VideoWall")
    body = json.dumps(order("o-1", "making"))
    assert module.video_wall(event(body), Context()) == {"batchItemFailures": []}
    first = rows(table)
    assert module.video_wall(event(body), Context()) == {"batchItemFailures": []}
    assert rows(table) == first
    assert len(first) == 1


def test_sns_envelope_is_unwrapped_when_raw_delivery_is_off(table) -> None:
    module = subscribers("Leaderboard")
    evt = event(enveloped(order("o-1", barista="ana")), enveloped(order("o-2")))
    response = module.leaderboard(evt, Context())
    assert failed_ids(response) == [evt["Records"][1]["messageId"]]
    assert set(rows(table)) == {("Leaderboard", "o-1")}


def test_subscribers_write_under_their_own_partition(table) -> None:
    body = json.dumps(order("o-7", "ready", barista="cy"))
    for name, entry in (("VideoWall", "video_wall"), ("Leaderboard", "leaderboard")):
        assert getattr(subscribers(name), entry)(event(body), Context()) == {"batchItemFailures": []}
    assert set(rows(table)) == {("VideoWall", "o-7"), ("Leaderboard", "o-7")}
