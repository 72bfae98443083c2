"""Rung 5 for CATALOG 2 DecoupledMessaging: DecoupledMessagingDemo deployed into the local cloud.

Proves: every message the producer sends is applied once (a count per id, over the output table and
the consumer's invocations). Faults: a poison message sharing a batch with good ones fails alone
(partial batch response): the good ones are applied and never redelivered, the poison is tried
maxReceiveCount times and then sits in the DLQ; a duplicate of an applied message is applied no
second time. Nothing is lost: sent = applied + dead-lettered, and the work queue ends empty.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import decoupled_messaging as demo
from patterns import core
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "DecoupledMessagingDemo"
CONSUMER = f"{STACK}/Messaging/Consumer"
PRODUCED = [f"order-{i:03d}" for i in range(40)]
#: One SQS batch of ten: nine good messages around a poison one.
BATCH = [f"batch-{i}" for i in range(9)]
POISON = '{"id": "poison-1", "kind": "order.placed", "payload": '  # truncated JSON: never parses
DUPLICATE = PRODUCED[7]


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _body(message_id: str) -> str:
    return json.dumps({"id": message_id, "kind": "order.placed", "payload": {"id": message_id, "total": 9.5}})


def _id_of(body: str) -> str:
    try:
        return json.loads(body)["id"]
    except ValueError:
        return "<poison>"


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Produce through the producer, add a poisoned batch and a duplicate on the queue, let it settle."""
    cloud, stack = deployed
    produced = cloud.invoke(
        stack.outputs["ProducerFunctionName"],
        {"messages": [{"id": i, "kind": "order.placed", "payload": {"id": i, "total": 9.5}} for i in PRODUCED]},
    )
    cloud.drain(timeout=60)
    sqs = cloud.client("sqs")
    bodies = [_body(i) for i in BATCH[:4]] + [POISON] + [_body(i) for i in BATCH[4:]]
    sent = sqs.send_message_batch(
        QueueUrl=stack.outputs["QueueUrl"], Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies)]
    )
    assert len(sent["Successful"]) == 10
    sqs.send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=_body(DUPLICATE))
    cloud.drain(timeout=120)
    items = cloud.client("dynamodb").scan(TableName=stack.outputs["TableName"], ConsistentRead=True)["Items"]
    dead: list[str] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=stack.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", [])
        if not got:
            break
        dead += [m["Body"] for m in got]
    return {
        "produced": produced,
        "applied": {i["id"]["S"]: int(i["timesApplied"]["N"]) for i in items},
        "dead": dead,
        "invocations": cloud.invocations(CONSUMER),
    }


def _handed(invocations: list[Any]) -> Counter[str]:
    return Counter(_id_of(r["body"]) for inv in invocations for r in inv.event["Records"])


def test_producer_sent_every_message(run) -> None:
    assert run["produced"] == {"sent": PRODUCED, "failed": {}}


def test_every_message_is_applied_exactly_once(run) -> None:
    assert run["applied"] == {i: 1 for i in PRODUCED + BATCH}


def test_each_good_message_reached_the_consumer_once_the_duplicate_twice(run) -> None:
    handed = _handed(run["invocations"])
    expected = {i: 1 for i in PRODUCED + BATCH} | {DUPLICATE: 2, "<poison>": core.MAX_RECEIVE_COUNT}
    assert handed == expected


def test_poison_failed_alone_in_its_batch(run) -> None:
    """The first attempt at the poison carried nine good records: only the poison was reported failed."""
    first = next(inv for inv in run["invocations"] if "<poison>" in {_id_of(r["body"]) for r in inv.event["Records"]})
    assert len(first.event["Records"]) == 10
    poison_id = next(r["messageId"] for r in first.event["Records"] if _id_of(r["body"]) == "<poison>")
    assert first.ok
    assert first.result == {"batchItemFailures": [{"itemIdentifier": poison_id}]}


def test_poison_ends_in_the_dlq_unchanged(run) -> None:
    assert run["dead"] == [POISON]


def test_nothing_is_lost_and_the_queue_is_empty(deployed, run) -> None:
    cloud, stack = deployed
    sent = set(PRODUCED) | set(BATCH) | {"<poison>"}
    assert set(run["applied"]) | {_id_of(b) for b in run["dead"]} == sent
    assert not set(run["applied"]) & {_id_of(b) for b in run["dead"]}
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_producer_rejects_a_bad_request_and_sends_nothing(deployed, run) -> None:
    cloud, stack = deployed
    before = len(cloud.invocations(CONSUMER))
    with pytest.raises(Exception, match="nothing sent") as raised:
        cloud.invoke(stack.outputs["ProducerFunctionName"], {"messages": [{"payload": {}}]})
    assert "messages.0.kind: Field required" in str(raised.value)
    cloud.drain(timeout=30)
    assert len(cloud.invocations(CONSUMER)) == before


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
