"""Rung 4 for CATALOG 3 QueueLoadLeveling: intake and consumer against moto SQS and DynamoDB.

Intake: POST answers 202 with an id, a Location and a status URL, having recorded ``pending`` and
enqueued the work; bad bodies get 400/413 and leave no trace; a refused enqueue withdraws the
request (503). GET answers pending/done, or 404 for an id never accepted. Consumer: each request
is stored once and marked done in one transaction; a redelivery stores nothing more; a bad record
fails alone and writes nothing.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import failed_ids, load_handler, sqs_record_like

EVENTS = Path(__file__).parent / "events" / "queue_load_leveling"
POST = json.loads((EVENTS / "rest_api_post.json").read_text())
RECORD = json.loads((EVENTS / "sqs_record.json").read_text())
STATUS = "qll-status"
STORE = "qll-store"
IDEMPOTENCY = "qll-idempotency"
QUEUE = "qll-work"
HOST = POST["requestContext"]["domainName"]


@dataclass
class Context:
    function_name: str = "QueueLoadLevelingDemo-WebhookFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "a11ce000-0000-4000-8000-000000000003"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def _table(ddb: Any, name: str, *keys: str) -> Any:
    return ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
    )


# -- intake ------------------------------------------------------------------------------------------


@dataclass
class Intake:
    module: ModuleType
    status: Any
    sqs: Any
    queue_url: str

    def __call__(self, method: str, path: str, body: str | None = None, *, base_path: str = "/prod",
                 base64_body: bool = False, headers: dict[str, str] | None = None,
                 caller: str | None = None) -> Reply:
        event = copy.deepcopy(POST)
        event["headers"] = {**event["headers"], **(headers or {})}
        if caller is not None:
            event["requestContext"]["identity"]["userArn"] = caller
        request_id = path.removeprefix("/requests/") if path.startswith("/requests/") else None
        resource = "/requests/{requestId}" if request_id is not None else path
        event.update(httpMethod=method, path=path, resource=resource,
                     pathParameters={"requestId": request_id} if request_id is not None else None)
        event["requestContext"].update(httpMethod=method, resourcePath=resource, path=f"{base_path}{path}")
        if body is not None and base64_body:
            body, event["isBase64Encoded"] = base64.b64encode(body.encode()).decode(), True
        event["body"] = body
        result = self.module.handler(event, Context())
        multi = result.get("multiValueHeaders") or {}
        headers = {**(result.get("headers") or {}), **{k: v[-1] for k, v in multi.items()}}
        return Reply(result["statusCode"], json.loads(result["body"]) if result.get("body") else None, headers)

    def statuses(self) -> list[dict[str, Any]]:
        return self.status.scan(ConsistentRead=True)["Items"]

    def queued(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture
def intake() -> Iterator[Intake]:
    with mock_aws():
        status = _table(boto3.resource("dynamodb", region_name="us-east-1"), STATUS, "requestId")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        module = load_handler("queue_load_leveling", "intake", env={"STATUS_TABLE_NAME": STATUS, "QUEUE_URL": url})
        yield Intake(module, status, sqs, url)


# -- Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header) -----------------------------------


def _keyed(intake: Intake, key: str, body: str | None = None, **kw: Any) -> Reply:
    return intake("POST", "/requests", body or POST["body"], headers={"Idempotency-Key": key}, **kw)


def test_a_retried_post_with_the_same_idempotency_key_returns_the_original_and_enqueues_nothing(
    intake: Intake,
) -> None:
    # GIVEN a request accepted under a key
    first = _keyed(intake, '"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    assert first.status == 202
    assert len(intake.queued()) == 1
    # WHEN the sender retries it (same key, same body; header names are case-insensitive)
    retry = intake("POST", "/requests", POST["body"],
                   headers={"idempotency-key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'})
    # THEN it gets the original request id and status, marked as a replay, and nothing new is queued
    assert retry.status == 202
    assert retry.body == first.body
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert intake.queued() == []
    assert [s["requestId"] for s in intake.statuses() if s.get("status")] == [first.body["requestId"]]


def test_a_replay_reports_the_current_status_of_the_original(intake: Intake) -> None:
    first = _keyed(intake, "k-done")
    intake.status.update_item(Key={"requestId": first.body["requestId"]}, UpdateExpression="SET #s = :d",
                              ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":d": "done"})
    assert _keyed(intake, "k-done").body["status"] == "done"


def test_a_used_idempotency_key_with_another_body_is_422_and_enqueues_nothing(intake: Intake) -> None:
    assert _keyed(intake, "k-1").status == 202
    intake.queued()
    reply = _keyed(intake, "k-1", json.dumps({"event": "something.else"}))
    assert reply.status == 422
    assert "another body" in reply.body["message"]
    assert intake.queued() == []


def test_different_idempotency_keys_are_different_requests(intake: Intake) -> None:
    a, b = _keyed(intake, "k-a"), _keyed(intake, "k-b")
    assert a.status == b.status == 202
    assert a.body["requestId"] != b.body["requestId"]
    assert len(intake.queued()) == 2


def test_idempotency_keys_are_scoped_to_the_caller(intake: Intake) -> None:
    # GIVEN two senders that happen to pick the same key
    a = _keyed(intake, "k-same", caller="arn:aws:iam::123456789012:user/a")
    b = _keyed(intake, "k-same", json.dumps({"other": "body"}), caller="arn:aws:iam::123456789012:user/b")
    # THEN neither sees the other's request
    assert a.status == b.status == 202
    assert a.body["requestId"] != b.body["requestId"]


def test_a_key_whose_first_request_is_still_being_accepted_is_409(intake: Intake) -> None:
    # GIVEN the key bound by a first request that has not yet recorded its status (a concurrent retry)
    scoped = b"arn:aws:iam::123456789012:user/webhook-sender\nk-busy"
    intake.status.put_item(Item={
        "requestId": "idempotency-key#" + hashlib.sha256(scoped).hexdigest(),
        "target": str(uuid.uuid4()), "fingerprint": hashlib.sha256(POST["body"].encode()).hexdigest(),
        "expiresAt": 2**31,
    })
    reply = _keyed(intake, "k-busy")
    assert reply.status == 409
    assert reply.headers["Retry-After"] == "1"
    assert intake.queued() == []


def test_a_refused_enqueue_frees_the_key_so_the_retry_is_accepted(intake: Intake) -> None:
    intake.sqs.delete_queue(QueueUrl=intake.queue_url)
    assert _keyed(intake, "k-retry").status == 503
    assert intake.statuses() == []
    intake.sqs.create_queue(QueueName=QUEUE)
    assert _keyed(intake, "k-retry").status == 202


@pytest.mark.parametrize("key", ['""', "", "x" * 256, "tab\there"])
def test_fails_if_the_idempotency_key_is_empty_too_long_or_not_printable(intake: Intake, key: str) -> None:
    reply = _keyed(intake, key)
    assert reply.status == 400
    assert "Idempotency-Key" in reply.body["message"]
    assert intake.statuses() == []
    assert intake.queued() == []


def test_post_records_pending_enqueues_and_answers_202_with_where_to_ask(intake: Intake) -> None:
    before = time.time()
    reply = intake("POST", "/requests", POST["body"])
    assert reply.status == 202
    request_id = reply.body["requestId"]
    assert uuid.UUID(request_id).version == 4
    assert reply.body == {"requestId": request_id, "status": "pending",
                          "statusUrl": f"https://{HOST}/prod/requests/{request_id}"}
    assert reply.headers["Location"] == f"/prod/requests/{request_id}"
    [status] = intake.statuses()
    assert (status["requestId"], status["status"]) == (request_id, "pending")
    assert before + 7 * 24 * 3600 - 5 <= int(status["expiresAt"]) <= time.time() + 7 * 24 * 3600 + 5
    [queued] = intake.queued()
    assert queued["requestId"] == request_id
    assert queued["receivedAt"] == status["receivedAt"]
    assert queued["payload"] == json.loads(POST["body"])


def test_post_accepts_a_base64_encoded_body(intake: Intake) -> None:
    reply = intake("POST", "/requests", json.dumps({"event": "ping"}), base64_body=True)
    assert reply.status == 202
    assert intake.queued()[0]["payload"] == {"event": "ping"}


def test_location_follows_a_custom_domain_base_path(intake: Intake) -> None:
    reply = intake("POST", "/requests", '{"event": "ping"}', base_path="/hooks")
    assert reply.headers["Location"] == f"/hooks/requests/{reply.body['requestId']}"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("{not json", 400, "must be a JSON object"),
        ("[1, 2, 3]", 400, "non-empty JSON object"),
        ("{}", 400, "non-empty JSON object"),
        ('"text"', 400, "non-empty JSON object"),
        (None, 400, "must be a JSON object"),
        (json.dumps({"blob": "x" * 300_000}), 413, "at most 250000 bytes"),
    ],
    ids=["malformed", "array", "empty-object", "string", "no-body", "too-large"],
)
def test_post_rejects_a_bad_body_and_keeps_nothing(intake: Intake, body: str | None, status: int, reason: str) -> None:
    reply = intake("POST", "/requests", body)
    assert reply.status == status
    assert reason in reply.body["message"]
    assert intake.statuses() == []
    assert intake.queued() == []


def test_post_withdraws_the_request_when_the_queue_refuses_it(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "SendMessage")

    monkeypatch.setattr(intake.module.sqs(), "send_message", refuse)
    reply = intake("POST", "/requests", '{"event": "ping"}')
    assert reply.status == 503
    assert reply.headers["Retry-After"] == "1"
    assert intake.statuses() == []  # not reported as accepted: GET would say 404, the sender retries


def test_get_tells_pending_then_done(intake: Intake) -> None:
    request_id = intake("POST", "/requests", '{"event": "ping"}').body["requestId"]
    pending = intake("GET", f"/requests/{request_id}")
    assert pending.status == 200
    assert pending.body["status"] == "pending" and pending.body["requestId"] == request_id
    assert "completedAt" not in pending.body
    intake.status.update_item(
        Key={"requestId": request_id}, UpdateExpression="SET #s = :d, completedAt = :at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": "done", ":at": "2026-11-23T12:00:01"},
    )
    done = intake("GET", f"/requests/{request_id}")
    assert done.status == 200
    assert (done.body["status"], done.body["completedAt"]) == ("done", "2026-11-23T12:00:01")


@pytest.mark.parametrize("request_id", ["3c073200-cb18-4480-adc8-7ba673854a50", "not-a-uuid", "'%20OR%201=1"])
def test_get_of_an_id_never_accepted_is_404(intake: Intake, request_id: str) -> None:
    reply = intake("GET", f"/requests/{request_id}")
    assert reply.status == 404
    assert request_id in reply.body["message"]


# -- consumer ----------------------------------------------------------------------------------------


@dataclass
class Consumer:
    module: ModuleType
    status: Any
    store: Any

    def handle(self, *bodies: str) -> tuple[list[dict[str, Any]], list[str]]:
        records = [sqs_record_like(RECORD, body) for body in bodies]
        result = self.module.handler({"Records": records}, Context())
        return records, failed_ids(result)

    def entries(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.store.scan(ConsistentRead=True)["Items"]:
            counts[item["requestId"]] = counts.get(item["requestId"], 0) + 1
        return counts

    def pending(self, request_id: str) -> str:
        self.status.put_item(Item={"requestId": request_id, "status": "pending", "receivedAt": "2026-11-23T12:00"})
        return request_id

    def status_of(self, request_id: str) -> str | None:
        item = self.status.get_item(Key={"requestId": request_id}).get("Item")
        return item["status"] if item else None


def work(request_id: str, **payload: Any) -> str:
    return json.dumps({"requestId": request_id, "receivedAt": "2026-11-23T12:00:00+00:00",
                       "payload": payload or {"event": "ping"}})


def _consumer(delay_ms: int = 0) -> Iterator[Consumer]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        status = _table(ddb, STATUS, "requestId")
        store = _table(ddb, STORE, "requestId", "entryId")
        _table(ddb, IDEMPOTENCY, "id")
        module = load_handler("queue_load_leveling", "consumer", env={
            "STORE_TABLE_NAME": STORE, "STATUS_TABLE_NAME": STATUS, "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY,
            "STORE_DELAY_MS": str(delay_ms),
        })
        yield Consumer(module, status, store)


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    yield from _consumer()


def test_consumer_stores_each_request_and_marks_it_done(consumer: Consumer) -> None:
    ids = [consumer.pending(str(uuid.uuid4())) for _ in range(2)]
    _, failed = consumer.handle(RECORD["body"], *(work(i, n=n) for n, i in enumerate(ids)))
    assert failed == []
    fixture_id = json.loads(RECORD["body"])["requestId"]
    assert consumer.entries() == {fixture_id: 1, ids[0]: 1, ids[1]: 1}
    assert [consumer.status_of(i) for i in ids] == ["done", "done"]
    [entry] = consumer.store.query(
        KeyConditionExpression="requestId = :r", ExpressionAttributeValues={":r": fixture_id}
    )["Items"]
    assert json.loads(entry["payload"]) == json.loads(RECORD["body"])["payload"]
    assert entry["receivedAt"] == "2026-11-23T12:00:00.000000+00:00"


def test_consumer_stores_a_redelivered_request_once(consumer: Consumer) -> None:
    request_id = consumer.pending(str(uuid.uuid4()))
    consumer.handle(work(request_id))
    _, failed = consumer.handle(work(request_id), work(request_id))
    assert failed == []
    assert consumer.entries() == {request_id: 1}
    assert consumer.status_of(request_id) == "done"


@pytest.mark.parametrize(
    "bad",
    [
        "{oops",
        json.dumps({"receivedAt": "2026-11-23T12:00:00+00:00", "payload": {"a": 1}}),
        json.dumps({"requestId": "not-a-uuid", "receivedAt": "2026-11-23T12:00:00+00:00", "payload": {"a": 1}}),
        json.dumps({"requestId": str(uuid.uuid4()), "receivedAt": "2026-11-23T12:00:00+00:00", "payload": {}}),
        json.dumps({"requestId": str(uuid.uuid4()), "receivedAt": "x", "payload": {"a": 1}, "extra": True}),
    ],
    ids=["malformed", "missing-id", "bad-id", "empty-payload", "extra-field"],
)
def test_consumer_fails_a_bad_record_alone_and_writes_nothing_for_it(consumer: Consumer, bad: str) -> None:
    good = [consumer.pending(str(uuid.uuid4())) for _ in range(2)]
    records, failed = consumer.handle(work(good[0]), bad, work(good[1]))
    assert failed == [records[1]["messageId"]]
    assert consumer.entries() == {good[0]: 1, good[1]: 1}


def test_consumer_never_stores_without_marking_done_and_retries_cleanly(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, steady = consumer.pending(str(uuid.uuid4())), consumer.pending(str(uuid.uuid4()))
    real = consumer.module.dynamodb.transact_write_items

    def status_update_fails_for_one(TransactItems: list[dict[str, Any]]) -> Any:
        update = TransactItems[1]["Update"]
        if update["Key"]["requestId"]["S"] == broken:
            update["TableName"] = "no-such-status-table"
        return real(TransactItems=TransactItems)

    monkeypatch.setattr(consumer.module.dynamodb, "transact_write_items", status_update_fails_for_one)
    records, failed = consumer.handle(work(broken), work(steady))
    assert failed == [records[0]["messageId"]]
    assert consumer.entries() == {steady: 1}  # the failed status update took its store entry with it
    assert consumer.status_of(broken) == "pending"
    monkeypatch.undo()
    _, failed = consumer.handle(work(broken))  # the redelivery is not blocked by the failed attempt
    assert failed == []
    assert consumer.entries() == {steady: 1, broken: 1}
    assert consumer.status_of(broken) == "done"


def test_consumer_takes_the_configured_time_per_request() -> None:
    for env in _consumer(delay_ms=60):
        ids = [env.pending(str(uuid.uuid4())) for _ in range(3)]
        started = time.perf_counter()
        _, failed = env.handle(*(work(i) for i in ids))
        assert failed == []
        assert time.perf_counter() - started >= 0.18
