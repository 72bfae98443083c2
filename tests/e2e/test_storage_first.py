"""Rung 5 for CATALOG 4 StorageFirst: real requests through the local front door's direct service
integration (no Lambda in the request path), real processor code.

SQS (StorageFirstDemo). Proves: every accepted request is in the queue before the processor runs,
and each appears in the table exactly once. Faults: with the processor failing (its table deleted)
the API still answers 202 with message ids, every message is tried maxReceiveCount times and kept
in the DLQ, and a redrive after the repair records them all; a poison message written to the queue
by another producer ends in the DLQ alone; invalid bodies are refused with 400 and never stored.

Kinesis (a stack synthesized here with ``store="kinesis"``). Proves: 202 with sequence numbers and
one record per request. Faults: a failing processor sends a batch description to the on-failure
queue while the records stay readable in the stream.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import CfnOutput, RemovalPolicy, Stack

from demo import storage_first as demo
from demo._drive import api_url_mapper
from patterns import core
from patterns.local import LocalCloud
from patterns.storage_first import StorageFirst
from tests.conftest import new_app
from tests.e2e._local_drive import drive_context

STACK = "StorageFirstDemo"
PROCESSOR = f"{STACK}/Intake/Processor"
KINESIS_STACK = "StorageFirstKinesisE2E"


@dataclass
class Reply:
    status: int
    body: Any


def post(url: str, body: Any = None, *, raw: str | None = None) -> Reply:
    data = raw.encode() if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    return Reply(status, json.loads(payload) if payload else None)


def submission(marker: str) -> dict[str, Any]:
    return {"kind": "order.placed", "payload": {"marker": marker, "lines": [{"sku": "A-1", "qty": 2}]}}


def records(cloud: LocalCloud, table_name: str) -> dict[str, dict[str, Any]]:
    """The processor's output, read from the emulated DynamoDB (id → item)."""
    items = cloud.client("dynamodb").scan(TableName=table_name, ConsistentRead=True)["Items"]
    return {item["id"]["S"]: item for item in items}


def markers_of(items: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {json.loads(item["payload"]["S"])["marker"]: item_id for item_id, item in items.items()}


def queue_depth(cloud: LocalCloud, url: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def take_all(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    """Receive and delete every message of a queue."""
    sqs = cloud.client("sqs")
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not messages:
            return taken
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken += messages


def recreate_table(cloud: LocalCloud, name: str) -> None:
    """The repair after the fault: the same table, empty."""
    cloud.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )


def handed_to_processor(cloud: LocalCloud, function: str) -> Counter[str]:
    """How often each SQS message id reached the processor, over all its invocations."""
    seen: Counter[str] = Counter()
    for invocation in cloud.invocations(function):
        seen.update(record["messageId"] for record in invocation.event["Records"])
    return seen


# --- SQS: the demo stack ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """One local cloud per process at a time: both variants deploy into this one."""
    with LocalCloud() as running:
        yield running


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud, demo_app) -> tuple[LocalCloud, Any]:
    return cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def url(deployed) -> str:
    cloud, stack = deployed
    return cloud.api_url(stack.outputs["RestApiId"], stage="prod") + "/submissions"


def test_requests_are_stored_before_processing_and_each_is_recorded_once(deployed, url: str) -> None:
    cloud, stack = deployed
    markers = [f"ok-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    replies = [post(url, submission(m)) for m in markers]
    assert [r.status for r in replies] == [202] * len(markers)
    ids = {m: r.body["messageId"] for m, r in zip(markers, replies, strict=True)}
    assert len(set(ids.values())) == len(markers) and all(ids.values())

    # Stored, not yet processed: the queue holds every request, the table none of them.
    assert queue_depth(cloud, stack.outputs["QueueUrl"]) == len(markers)
    assert not set(ids.values()) & set(records(cloud, stack.outputs["TableName"]))

    cloud.drain(timeout=60)
    stored = records(cloud, stack.outputs["TableName"])
    assert {m: i for m, i in markers_of(stored).items() if m in ids} == ids
    for marker, message_id in ids.items():
        item = stored[message_id]
        assert item["kind"]["S"] == "order.placed" and item["store"]["S"] == "sqs"
        assert json.loads(item["payload"]["S"]) == submission(marker)["payload"]
        assert item["times_processed"]["N"] == "1"
    handed = handed_to_processor(cloud, PROCESSOR)
    assert all(handed[i] == 1 for i in ids.values())
    assert queue_depth(cloud, stack.outputs["QueueUrl"]) == 0
    assert queue_depth(cloud, stack.outputs["DeadLetterQueueUrl"]) == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"kind": "order.placed", "payload": ', "Invalid"),
        ('{"payload": {"marker": "no kind"}}', "kind"),
        ('{"kind": "has spaces"}', "does not match"),
        ('{"kind": "order.placed", "admin": true}', "admin"),
        ('{"kind": "order.placed", "payload": [1]}', "object"),
    ],
    ids=["malformed-json", "missing-kind", "bad-kind", "extra-field", "payload-not-object"],
)
def test_invalid_requests_are_refused_with_400_and_never_stored(deployed, url: str, raw: str, reason: str) -> None:
    cloud, stack = deployed
    cloud.drain(timeout=60)
    calls = len(cloud.invocations(PROCESSOR))
    reply = post(url, raw=raw)
    assert reply.status == 400
    assert reason in json.dumps(reply.body), reply.body
    assert queue_depth(cloud, stack.outputs["QueueUrl"]) == 0
    cloud.drain(timeout=60)
    assert len(cloud.invocations(PROCESSOR)) == calls


def test_a_poison_message_from_another_producer_is_dead_lettered_alone(deployed) -> None:
    cloud, stack = deployed
    sqs = cloud.client("sqs")
    queue = stack.outputs["QueueUrl"]
    good = [f"direct-{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
    sent = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "poison", "MessageBody": '{"kind": "order.placed", "payload": "not an object"}'},
        *({"Id": f"good{n}", "MessageBody": json.dumps(submission(m))} for n, m in enumerate(good)),
    ])
    ids = {entry["Id"]: entry["MessageId"] for entry in sent["Successful"]}
    cloud.drain(timeout=120)

    stored = records(cloud, stack.outputs["TableName"])
    assert all(ids[f"good{n}"] in stored for n in range(len(good)))
    assert ids["poison"] not in stored
    dead = take_all(cloud, stack.outputs["DeadLetterQueueUrl"])
    assert [m["MessageId"] for m in dead] == [ids["poison"]]
    handed = handed_to_processor(cloud, PROCESSOR)
    assert handed[ids["poison"]] == core.MAX_RECEIVE_COUNT
    assert all(handed[ids[f"good{n}"]] == 1 for n in range(len(good)))


def test_a_failing_processor_loses_nothing_and_a_redrive_records_everything(deployed, url: str) -> None:
    cloud, stack = deployed
    table, queue, dlq = stack.outputs["TableName"], stack.outputs["QueueUrl"], stack.outputs["DeadLetterQueueUrl"]
    cloud.client("dynamodb").delete_table(TableName=table)
    try:
        markers = [f"fault-{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
        replies = [post(url, submission(m)) for m in markers]
        # The API does not depend on the processor: every request is accepted and stored.
        assert [r.status for r in replies] == [202, 202, 202]
        ids = {r.body["messageId"] for r in replies}
        cloud.drain(timeout=180)
        failed = [i for i in cloud.invocations(PROCESSOR) if not i.ok]
        assert failed, "the processor should have failed while its table was gone"
        handed = handed_to_processor(cloud, PROCESSOR)
        assert all(handed[i] == core.MAX_RECEIVE_COUNT for i in ids)
        assert queue_depth(cloud, queue) == 0
        dead = take_all(cloud, dlq)
        assert sorted(m["MessageId"] for m in dead) == sorted(ids)
        assert sorted(json.loads(m["Body"])["payload"]["marker"] for m in dead) == sorted(markers)
    finally:
        recreate_table(cloud, table)
    # The repair: redrive the DLQ into the queue; every request is recorded once.
    cloud.client("sqs").send_message_batch(QueueUrl=queue, Entries=[
        {"Id": f"m{n}", "MessageBody": m["Body"]} for n, m in enumerate(dead)
    ])
    cloud.drain(timeout=60)
    stored = markers_of(records(cloud, table))
    assert set(markers) <= set(stored)
    assert queue_depth(cloud, dlq) == 0


def test_demo_drive_passes_against_the_local_cloud(deployed) -> None:
    cloud, stack = deployed
    result = demo.drive(drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url)))
    assert result.ok, result


# --- Kinesis: a stack synthesized for this test -------------------------------------------------------


@pytest.fixture(scope="module")
def kinesis_deployed(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalCloud, Any]:
    outdir = tmp_path_factory.mktemp("storage-first-kinesis")
    app = new_app(outdir)
    stack = Stack(app, KINESIS_STACK)
    intake = StorageFirst(stack, "Intake", store="kinesis", batch_size=10, retry_attempts=2,
                          table_props={"removal_policy": RemovalPolicy.DESTROY})
    assert intake.stream is not None and intake.dead_letter_queue is not None
    CfnOutput(stack, "RestApiId", value=intake.api.rest_api_id)
    CfnOutput(stack, "StreamName", value=intake.stream.stream_name)
    CfnOutput(stack, "OnFailureQueueUrl", value=intake.dead_letter_queue.queue_url)
    CfnOutput(stack, "TableName", value=intake.table.table_name)
    app.synth()
    return cloud, cloud.deploy(outdir, KINESIS_STACK)


def _stream_data(cloud: LocalCloud, stream: str) -> dict[str, str]:
    """Every record in the stream (sequence number → marker), read from the start of each shard."""
    kinesis = cloud.client("kinesis")
    found: dict[str, str] = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            found |= {r["SequenceNumber"]: json.loads(r["Data"])["payload"]["marker"] for r in page["Records"]}
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def test_kinesis_requests_are_stored_as_records_and_each_is_recorded_once(kinesis_deployed) -> None:
    cloud, stack = kinesis_deployed
    url = cloud.api_url(stack.outputs["RestApiId"], stage="prod") + "/submissions"
    markers = [f"k-{n}-{uuid.uuid4().hex[:6]}" for n in range(6)]
    replies = [post(url, submission(m)) for m in markers]
    assert [r.status for r in replies] == [202] * len(markers)
    sequence = {m: r.body["sequenceNumber"] for m, r in zip(markers, replies, strict=True)}
    assert all(r.body["shardId"].startswith("shardId-") for r in replies)
    # Stored before processing: the stream holds every request.
    in_stream = _stream_data(cloud, stack.outputs["StreamName"])
    assert {in_stream[s] for s in sequence.values()} == set(markers)

    cloud.drain(timeout=60)
    stored = records(cloud, stack.outputs["TableName"])
    assert {m: stored[s]["kind"]["S"] for m, s in sequence.items()} == dict.fromkeys(markers, "order.placed")
    assert all(stored[s]["times_processed"]["N"] == "1" and stored[s]["store"]["S"] == "kinesis"
               for s in sequence.values())
    assert queue_depth(cloud, stack.outputs["OnFailureQueueUrl"]) == 0


def test_kinesis_invalid_requests_are_refused_and_never_put(kinesis_deployed) -> None:
    cloud, stack = kinesis_deployed
    url = cloud.api_url(stack.outputs["RestApiId"], stage="prod") + "/submissions"
    before = _stream_data(cloud, stack.outputs["StreamName"])
    reply = post(url, raw='{"payload": {}}')
    assert reply.status == 400 and "kind" in json.dumps(reply.body)
    assert _stream_data(cloud, stack.outputs["StreamName"]) == before


def test_kinesis_failing_processor_describes_the_batch_and_the_records_stay_in_the_stream(kinesis_deployed) -> None:
    cloud, stack = kinesis_deployed
    table = stack.outputs["TableName"]
    url = cloud.api_url(stack.outputs["RestApiId"], stage="prod") + "/submissions"
    cloud.drain(timeout=60)
    cloud.client("dynamodb").delete_table(TableName=table)
    try:
        markers = [f"kf-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
        replies = [post(url, submission(m)) for m in markers]
        assert [r.status for r in replies] == [202, 202]
        sequence = sorted(r.body["sequenceNumber"] for r in replies)
        cloud.drain(timeout=120)
    finally:
        recreate_table(cloud, table)
    failures = [json.loads(m["Body"]) for m in take_all(cloud, stack.outputs["OnFailureQueueUrl"])]
    described = set()
    for failure in failures:
        info = failure["KinesisBatchInfo"]
        assert info["streamArn"].endswith(f"/{stack.outputs['StreamName']}")
        first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        described |= {s for s in sequence if first <= int(s) <= last}
    assert described == set(sequence), "every failed record is described in the on-failure queue"
    # Kept, not lost: the records are still in the stream for a replay from the described positions.
    in_stream = _stream_data(cloud, stack.outputs["StreamName"])
    assert {in_stream[s] for s in sequence} == set(markers)
