"""Rung 5 for CATALOG 5 PubSub: PubSubDemo deployed into the local cloud, real handlers, real filters.

Proves: each subscriber receives exactly the orders its filter admits (attribute filter for the
leaderboard, body filter for recommendations, none for the video wall). Faults: the leaderboard
failing on orders without a barista, and the video wall on a malformed message, affects no other
subscriber; those messages are tried maxReceiveCount times and then sit in that subscriber's DLQ.
Count: for every subscriber, stored + dead-lettered = admitted, and each admitted message was
handed to its function exactly once unless it failed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import pub_sub as demo
from patterns import core
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "PubSubDemo"
SUBSCRIBERS = ("VideoWall", "Leaderboard", "Recommendations")

#: (order_id, status, store, barista)
ORDERS = [
    ("o-01", "placed", "downtown", None),
    ("o-02", "placed", "test", None),  # a test store: no recommendations
    ("o-03", "making", "downtown", "ana"),
    ("o-04", "ready", "downtown", "ana"),
    ("o-05", "ready", "uptown", None),  # ready, nobody to credit: the leaderboard cannot rank it
    ("o-06", "cancelled", "uptown", None),
    ("o-07", "ready", "test", "bo"),
    ("o-08", "placed", "uptown", "cy"),
    ("o-09", "ready", "airport", None),  # another one the leaderboard cannot rank
    ("o-10", "making", "airport", "bo"),
]
MALFORMED = "{'order_id': 'o-11', not json"


def admitted(subscriber: str, status: str, store: str) -> bool:
    """The demo's filter policies, restated independently of the template."""
    if subscriber == "Leaderboard":
        return status == "ready"
    if subscriber == "Recommendations":
        return status == "placed" and store != "test"
    return True


def order_body(order_id: str, status: str, store: str, barista: str | None) -> dict[str, Any]:
    body = {"order_id": order_id, "store": store, "drink": "cortado", "size": "small", "status": status}
    return body if barista is None else {**body, "barista": barista}


@pytest.fixture(scope="module")
def cloud(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as running:
        yield running, running.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def published(cloud) -> dict[str, Any]:
    """Publish the orders and one malformed message, then let everything settle (retries included)."""
    local, stack = cloud
    sns = local.client("sns")
    for order_id, status, store, barista in ORDERS:
        sns.publish(
            TopicArn=stack.outputs["TopicArn"], Message=json.dumps(order_body(order_id, status, store, barista)),
            MessageAttributes={"status": {"DataType": "String", "StringValue": status},
                               "store": {"DataType": "String", "StringValue": store}},
        )
    sns.publish(
        TopicArn=stack.outputs["TopicArn"], Message=MALFORMED,
        MessageAttributes={"status": {"DataType": "String", "StringValue": "making"},
                           "store": {"DataType": "String", "StringValue": "downtown"}},
    )
    local.drain(timeout=120)
    return {"stored": _stored(local, stack), "dead": {name: _dead_letters(local, stack, name) for name in SUBSCRIBERS}}


def _stored(local: LocalCloud, stack: Any) -> dict[str, set[str]]:
    items = local.client("dynamodb").scan(TableName=stack.outputs["TableName"])["Items"]
    stored: dict[str, set[str]] = {name: set() for name in SUBSCRIBERS}
    for item in items:
        stored[item["subscriber"]["S"]].add(item["id"]["S"])
    return stored


def _dead_letters(local: LocalCloud, stack: Any, subscriber: str) -> list[str]:
    """Bodies in a subscriber's DLQ, read without deleting (visibility 0 would re-show them)."""
    sqs = local.client("sqs")
    url = stack.outputs[f"{subscriber}DeadLetterQueueUrl"]
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not messages:
            return bodies
        bodies += [m["Body"] for m in messages]


def _order_id(body: str) -> str:
    try:
        return json.loads(body)["order_id"]
    except ValueError:
        return "<malformed>"


def _handed_to(local: LocalCloud, subscriber: str) -> Counter[str]:
    """How often each message reached the subscriber's function, over all its invocations."""
    seen: Counter[str] = Counter()
    for invocation in local.invocations(f"{STACK}/Orders/{subscriber}Handler"):
        for record in invocation.event["Records"]:
            seen[_order_id(record["body"])] += 1
    return seen


def test_each_subscriber_stores_exactly_the_orders_its_filter_admits(published) -> None:
    good = {oid: (status, store, barista) for oid, status, store, barista in ORDERS}
    assert published["stored"]["VideoWall"] == set(good)
    assert published["stored"]["Recommendations"] == {
        oid for oid, (status, store, _) in good.items() if admitted("Recommendations", status, store)
    } == {"o-01", "o-08"}
    assert published["stored"]["Leaderboard"] == {
        oid for oid, (status, store, barista) in good.items() if admitted("Leaderboard", status, store) and barista
    } == {"o-04", "o-07"}


def test_stored_rows_hold_the_order_and_the_subscribers_view(cloud, published) -> None:
    local, stack = cloud
    item = local.client("dynamodb").get_item(
        TableName=stack.outputs["TableName"], Key={"subscriber": {"S": "Leaderboard"}, "id": {"S": "o-04"}}
    )["Item"]
    assert {k: v["S"] for k, v in item.items()} == {
        "subscriber": "Leaderboard", "id": "o-04", "view": "barista ranking", "order_id": "o-04",
        "store": "downtown", "drink": "cortado", "size": "small", "status": "ready", "barista": "ana",
    }


def test_failing_messages_reach_only_their_subscribers_dlq(published) -> None:
    dead = {name: sorted(_order_id(b) for b in bodies) for name, bodies in published["dead"].items()}
    assert dead == {"Leaderboard": ["o-05", "o-09"], "VideoWall": ["<malformed>"], "Recommendations": []}
    # raw delivery: the DLQ holds the order exactly as published, ready for a redrive
    leaderboard = {json.loads(b)["order_id"]: json.loads(b) for b in published["dead"]["Leaderboard"]}
    assert leaderboard["o-05"] == order_body("o-05", "ready", "uptown", None)


def test_failing_messages_were_tried_max_receive_count_times_the_rest_once(cloud, published) -> None:
    local, _ = cloud
    leaderboard = _handed_to(local, "Leaderboard")
    assert leaderboard == {"o-04": 1, "o-07": 1, "o-05": core.MAX_RECEIVE_COUNT, "o-09": core.MAX_RECEIVE_COUNT}
    video_wall = _handed_to(local, "VideoWall")
    assert video_wall == {**{oid: 1 for oid, *_ in ORDERS}, "<malformed>": core.MAX_RECEIVE_COUNT}
    assert _handed_to(local, "Recommendations") == {"o-01": 1, "o-08": 1}
    # a bad record fails alone: every invocation returned a partial batch response, none crashed
    for name in SUBSCRIBERS:
        assert all(i.ok for i in local.invocations(f"{STACK}/Orders/{name}Handler")), name


def test_nothing_is_lost(published) -> None:
    """Per subscriber: admitted = stored + dead-lettered, with no message in two places."""
    for name in SUBSCRIBERS:
        expected = {oid for oid, status, store, _ in ORDERS if admitted(name, status, store)}
        if name == "VideoWall":
            expected.add("<malformed>")
        dead = [_order_id(b) for b in published["dead"][name]]
        assert len(dead) == len(set(dead)), f"{name}: a message dead-lettered twice"
        assert not published["stored"][name] & set(dead), f"{name}: a message both stored and dead-lettered"
        assert published["stored"][name] | set(dead) == expected, name


def test_work_queues_are_empty_after_the_run(cloud, published) -> None:
    local, _ = cloud
    sqs = local.client("sqs")
    for name in SUBSCRIBERS:
        url = local.physical_id(f"{STACK}/Orders/{name}Queue")
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, name


def test_demo_drive_passes_against_the_local_cloud(cloud, published) -> None:
    result = demo.drive(drive_context(*cloud))
    assert result.ok, result
