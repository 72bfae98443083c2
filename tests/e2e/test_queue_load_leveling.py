"""Rung 5 for CATALOG 3 QueueLoadLeveling: QueueLoadLevelingDemo deployed into the local cloud, driven over
HTTP through the local API Gateway front door.

Proves: a burst of 50 POSTs is accepted at once (202, id, Location) and reported pending while
queued; after draining, all 50 are done with exactly one stored entry each, and the consumer never
ran more than its limit of 2 at once (but did run 2 at once: the limit is what paced it). Faults: a
message delivered three times (and a completed one delivered again) is stored once (idempotency);
a poison message sharing a batch with good ones is tried maxReceiveCount times and ends in the DLQ
while every other request completes; bodies API Gateway refuses leave no trace.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from demo import queue_load_leveling as demo
from demo._drive import DriveContext, HttpResponse, api_url_mapper
from patterns import core
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "QueueLoadLevelingDemo"
CONSUMER = f"{STACK}/Webhook/Consumer"
BURST = 50
LIMIT = 2  # the demo's reserved_concurrency
BATCH_SIZE = 5  # the demo's batch_size
POISON = '{"requestId": "not json'


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def ctx(deployed) -> DriveContext:
    cloud, stack = deployed
    return drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url))


def _url(ctx: DriveContext, suffix: str = "") -> str:
    return ctx.outputs["RequestsUrl"].rstrip("/") + suffix


def _post(ctx: DriveContext, body: Any) -> HttpResponse:
    return ctx.http("POST", _url(ctx), body)


def _status(ctx: DriveContext, request_id: str) -> HttpResponse:
    return ctx.http("GET", _url(ctx, f"/{request_id}"))


def _entries(cloud: LocalCloud, stack: DeployedStack) -> Counter[str]:
    items = cloud.client("dynamodb").scan(TableName=stack.outputs["StoreTableName"], ConsistentRead=True)["Items"]
    return Counter(item["requestId"]["S"] for item in items)


def _request_id(body: str) -> str:
    try:
        return json.loads(body)["requestId"]
    except ValueError:
        return "<poison>"


def _handed(cloud: LocalCloud) -> Counter[str]:
    return Counter(_request_id(r["body"]) for inv in cloud.invocations(CONSUMER) for r in inv.event["Records"])


def _max_overlap(cloud: LocalCloud) -> int:
    """The most consumer invocations running at one instant, from the journal's start and end times."""
    edges = sorted(
        (t, step) for inv in cloud.invocations(CONSUMER) if not inv.throttled
        for t, step in ((inv.started_at, 1), (inv.ended_at, -1))
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture(scope="module")
def burst(deployed, ctx) -> dict[str, Any]:
    """POST 50 requests at once, look at them while queued, then let the consumer catch up."""
    cloud, _ = deployed
    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(lambda n: _post(ctx, {"event": "order.placed", "n": n}), range(BURST)))
    queued = [_status(ctx, r.body["requestId"]).body["status"] for r in replies if r.status == 202]
    cloud.drain(timeout=120)
    return {"replies": replies, "queued": queued, "invocations": list(cloud.invocations(CONSUMER))}


def test_burst_is_accepted_at_once_with_ids_and_status_locations(burst) -> None:
    replies = burst["replies"]
    assert [r.status for r in replies] == [202] * BURST
    ids = [r.body["requestId"] for r in replies]
    assert len(set(ids)) == BURST
    for reply in replies:
        request_id = reply.body["requestId"]
        location = {k.lower(): v for k, v in reply.headers.items()}["location"]
        assert location == f"/prod/requests/{request_id}"
        assert reply.body["status"] == "pending"
        assert reply.body["statusUrl"].endswith(location)


def test_requests_are_pending_while_queued(burst) -> None:
    assert burst["queued"] == ["pending"] * BURST


def test_every_request_of_the_burst_is_done_and_stored_once(deployed, ctx, burst) -> None:
    cloud, stack = deployed
    ids = [r.body["requestId"] for r in burst["replies"]]
    statuses = [_status(ctx, i) for i in ids]
    assert [(s.status, s.body["status"]) for s in statuses] == [(200, "done")] * BURST
    assert all(s.body["completedAt"] >= s.body["receivedAt"] for s in statuses)
    entries = _entries(cloud, stack)
    assert {i: entries[i] for i in ids} == {i: 1 for i in ids}


def test_consumer_never_ran_above_its_concurrency_limit_but_did_use_it(deployed, burst) -> None:
    cloud, _ = deployed
    invocations = burst["invocations"]
    assert sum(len(inv.event["Records"]) for inv in invocations) == BURST  # each message handed once
    assert all(inv.ok for inv in invocations)
    assert max(len(inv.event["Records"]) for inv in invocations) <= BATCH_SIZE
    assert not [inv for inv in cloud.invocations(CONSUMER) if inv.throttled]
    assert 1 < cloud.max_concurrency(CONSUMER) <= LIMIT
    assert 1 < _max_overlap(cloud) <= LIMIT


CLIENTS = 8
PER_CLIENT = 10


def test_eight_concurrent_clients_each_get_their_own_payload_stored_and_no_5xx(deployed, ctx, burst) -> None:
    """Each request runs in its own execution environment: concurrent intakes never mix up events (the
    Powertools resolver keeps the current event on a class, which threads of one process would share)."""
    cloud, stack = deployed

    def client(number: int) -> list[tuple[dict[str, Any], HttpResponse]]:
        sent = []
        for n in range(PER_CLIENT):
            payload = {"event": "order.placed", "client": number, "n": n}
            sent.append((payload, _post(ctx, payload)))
        return sent

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        sent = [pair for pairs in pool.map(client, range(CLIENTS)) for pair in pairs]
    assert [reply.status for _, reply in sent] == [202] * CLIENTS * PER_CLIENT
    cloud.drain(timeout=120)
    items = cloud.client("dynamodb").scan(TableName=stack.outputs["StoreTableName"], ConsistentRead=True)["Items"]
    stored = {item["requestId"]["S"]: json.loads(item["payload"]["S"]) for item in items}
    assert {reply.body["requestId"]: stored.get(reply.body["requestId"]) for _, reply in sent} == {
        reply.body["requestId"]: payload for payload, reply in sent
    }


def test_duplicate_delivery_is_stored_once(deployed, ctx, burst) -> None:
    cloud, stack = deployed
    sqs = cloud.client("sqs")
    status_table = stack.outputs["StatusTableName"]
    done_id, done_payload = burst["replies"][0].body["requestId"], {"event": "order.placed", "n": 0}
    fresh_payload = {"event": "order.placed", "n": "fresh"}
    fresh = _post(ctx, fresh_payload).body["requestId"]  # queued once by the intake, then twice more below
    for request_id, payload, copies in ((fresh, fresh_payload, 2), (done_id, done_payload, 1)):
        received = cloud.client("dynamodb").get_item(
            TableName=status_table, Key={"requestId": {"S": request_id}}, ConsistentRead=True
        )["Item"]["receivedAt"]["S"]
        body = json.dumps({"requestId": request_id, "receivedAt": received, "payload": payload})
        for _ in range(copies):
            sqs.send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=body)
    before = _handed(cloud)
    cloud.drain(timeout=60)
    handed = _handed(cloud) - before
    assert handed == {fresh: 3, done_id: 1}  # every copy reached the consumer ...
    entries = _entries(cloud, stack)
    assert (entries[fresh], entries[done_id]) == (1, 1)  # ... and was applied once
    assert _status(ctx, fresh).body["status"] == "done"


def test_poison_message_ends_in_the_dlq_and_every_other_request_completes(deployed, ctx, burst) -> None:
    cloud, stack = deployed
    sqs = cloud.client("sqs")
    sqs.send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=POISON)
    ids = [_post(ctx, {"event": "order.placed", "n": f"after-{n}"}).body["requestId"] for n in range(9)]
    before = _handed(cloud)
    cloud.drain(timeout=60)
    handed = _handed(cloud) - before
    assert handed == {"<poison>": core.MAX_RECEIVE_COUNT, **{i: 1 for i in ids}}
    shared = [
        inv for inv in cloud.invocations(CONSUMER)
        if "<poison>" in {_request_id(r["body"]) for r in inv.event["Records"]} and len(inv.event["Records"]) > 1
    ]
    assert shared, "the poison never shared a batch: the partial batch response was not exercised"
    assert all(len(inv.result["batchItemFailures"]) == 1 for inv in shared)
    dead = sqs.receive_message(
        QueueUrl=stack.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=300
    ).get("Messages", [])
    assert [m["Body"] for m in dead] == [POISON]
    assert [_status(ctx, i).body["status"] for i in ids] == ["done"] * len(ids)
    assert {i: _entries(cloud, stack)[i] for i in ids} == {i: 1 for i in ids}


@pytest.mark.parametrize("body", ["[1, 2]", "{}", '"text"', "{not json"], ids=["array", "empty", "string", "malformed"])
def test_refused_bodies_leave_no_trace(deployed, ctx, burst, body: str) -> None:
    cloud, stack = deployed
    statuses_before = cloud.client("dynamodb").scan(TableName=stack.outputs["StatusTableName"], Select="COUNT")["Count"]
    reply = _post(ctx, body)
    assert reply.status == 400
    assert cloud.client("dynamodb").scan(TableName=stack.outputs["StatusTableName"], Select="COUNT")["Count"] == (
        statuses_before
    )
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_unknown_request_is_404(ctx) -> None:
    reply = _status(ctx, str(uuid.uuid4()))
    assert reply.status == 404


def test_nothing_is_lost(deployed, burst) -> None:
    """Accepted = done = stored once; the only message not stored is the poison, in the DLQ."""
    cloud, stack = deployed
    statuses = cloud.client("dynamodb").scan(TableName=stack.outputs["StatusTableName"], ConsistentRead=True)["Items"]
    assert {s["status"]["S"] for s in statuses} == {"done"}
    entries = _entries(cloud, stack)
    assert set(entries) == {s["requestId"]["S"] for s in statuses}
    assert set(entries.values()) == {1}
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_demo_drive_passes_against_the_local_cloud(ctx) -> None:
    result = demo.drive(ctx)
    assert result.ok, result


def test_a_sender_retrying_with_an_idempotency_key_creates_one_request(deployed, ctx) -> None:
    """Through API Gateway: the retried POST answers the original id, enqueues nothing, and is stored once.

    Last in the module: the key records it leaves in the status table are not statuses.
    """
    cloud, stack = deployed
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    body = {"event": "invoice.paid", "invoice": "in_retry"}
    # GIVEN a POST accepted under a key, WHEN the sender retries it (its own timeout fired)
    first = ctx.http("POST", _url(ctx), body, key)
    retry = ctx.http("POST", _url(ctx), body, key)
    # THEN the retry is the original request, marked as replayed
    assert first.status == retry.status == 202
    assert retry.body["requestId"] == first.body["requestId"]
    assert retry.headers.get("Idempotent-Replayed") == "true"
    # AND one request is processed and stored, and a replay after that reports it done
    cloud.drain(timeout=60)
    assert _entries(cloud, stack)[first.body["requestId"]] == 1
    assert sum(1 for inv in cloud.invocations(CONSUMER) for r in inv.event["Records"]
               if _request_id(r["body"]) == first.body["requestId"]) == 1
    replay = ctx.http("POST", _url(ctx), body, key)
    assert replay.body == {**first.body, "status": "done"}
    # AND another body under the same key is refused
    assert ctx.http("POST", _url(ctx), {"event": "invoice.voided"}, key).status == 422
