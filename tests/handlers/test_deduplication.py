"""Rung 4 for CATALOG 24 Deduplication: the dedup function against moto DynamoDB.

An id is stored once however often it comes (in one batch or across invocations); an expired claim
(TTL not run yet) lets it in again; integer ids count like their string form. Undecodable records
(not UTF-8, not JSON, not an object, no id, an empty or boolean id) fail alone and write nothing,
and the records around them are stored.
"""

from __future__ import annotations

import base64
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

RECORD = json.loads((Path(__file__).parent / "events" / "deduplication" / "kinesis_record.json").read_text())
WINDOW_TABLE = "dedup-window"
STORE_TABLE = "dedup-store"


@dataclass
class Context:
    function_name: str = "DeduplicationDemo-Dedup"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000024"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


@dataclass
class Env:
    module: ModuleType
    ddb: Any
    seq: int = 0

    def record(self, data: bytes) -> dict[str, Any]:
        self.seq += 1
        record = copy.deepcopy(RECORD)
        record["kinesis"]["data"] = base64.b64encode(data).decode()
        record["kinesis"]["sequenceNumber"] = str(49590338271490256608559692538361571095921575989136588898 + self.seq)
        return record

    def run(self, *datas: bytes) -> tuple[dict[str, Any], list[str]]:
        records = [self.record(d) for d in datas]
        response = self.module.handler({"Records": records}, Context())
        return response, [r["kinesis"]["sequenceNumber"] for r in records]

    def items(self, table: str) -> dict[str, dict[str, Any]]:
        return {i["event_id"]["S"]: i for i in self.ddb.scan(TableName=table)["Items"]}


def event(event_id: Any, **fields: Any) -> bytes:
    return json.dumps({"id": event_id, **fields}).encode()


@pytest.fixture(scope="module")
def cloud() -> Iterator[Env]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for name in (WINDOW_TABLE, STORE_TABLE):
            ddb.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            )
        module = load_handler("deduplication", "dedup", env={
            "WINDOW_TABLE_NAME": WINDOW_TABLE, "STORE_TABLE_NAME": STORE_TABLE, "DEDUP_WINDOW_SECONDS": "600",
            "EVENT_ID_FIELD": "id", "POWERTOOLS_SERVICE_NAME": "deduplication",
        })
        yield Env(module, ddb)


@pytest.fixture
def env(cloud: Env) -> Env:
    for table in (WINDOW_TABLE, STORE_TABLE):
        for item in cloud.ddb.scan(TableName=table)["Items"]:
            cloud.ddb.delete_item(TableName=table, Key={"event_id": item["event_id"]})
    return cloud


def test_an_event_is_stored_with_a_claim_for_the_window(env: Env) -> None:
    response, seqs = env.run(event("order-1", amount=5))
    assert response == {"batchItemFailures": []}
    stored = env.items(STORE_TABLE)["order-1"]
    assert json.loads(stored["payload"]["S"]) == {"id": "order-1", "amount": 5}
    assert stored["accepted"]["N"] == "1" and stored["sequence_number"]["S"] == seqs[0]
    claim = env.items(WINDOW_TABLE)["order-1"]
    assert int(claim["expires"]["N"]) - int(stored["accepted_at"]["N"]) == 600


def test_duplicates_in_one_batch_and_across_invocations_are_stored_once(env: Env) -> None:
    response, _ = env.run(event("a", copy=0), event("b"), event("a", copy=1))
    assert response == {"batchItemFailures": []}
    response, _ = env.run(event("a", copy=2), event("b"))
    assert response == {"batchItemFailures": []}
    store = env.items(STORE_TABLE)
    assert {k: v["accepted"]["N"] for k, v in store.items()} == {"a": "1", "b": "1"}
    assert json.loads(store["a"]["payload"]["S"])["copy"] == 0


def test_an_expired_claim_not_yet_deleted_by_ttl_lets_the_id_in_again(env: Env) -> None:
    env.run(event("late", copy=0))
    env.ddb.update_item(
        TableName=WINDOW_TABLE, Key={"event_id": {"S": "late"}},
        UpdateExpression="SET expires = :past", ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    response, _ = env.run(event("late", copy=1))
    assert response == {"batchItemFailures": []}
    stored = env.items(STORE_TABLE)["late"]
    assert stored["accepted"]["N"] == "2" and json.loads(stored["payload"]["S"])["copy"] == 1
    assert int(env.items(WINDOW_TABLE)["late"]["expires"]["N"]) > 1000


def test_integer_ids_are_the_same_id_as_their_string_form(env: Env) -> None:
    env.run(event(42), event("42"))
    assert env.items(STORE_TABLE)["42"]["accepted"]["N"] == "1"


@pytest.mark.parametrize(
    "bad",
    [b"\xff\xfe not utf-8", b"{not json", b"[1, 2]", json.dumps({"other": "x"}).encode(), event(""), event(True),
     event({"nested": 1})],
    ids=["not-utf8", "not-json", "not-object", "no-id", "empty-id", "bool-id", "object-id"],
)
def test_an_undecodable_record_fails_alone_and_writes_nothing(env: Env, bad: bytes) -> None:
    response, seqs = env.run(event("before"), bad, event("after"))
    assert response == {"batchItemFailures": [{"itemIdentifier": seqs[1]}]}
    assert set(env.items(STORE_TABLE)) == {"before", "after"}
    assert set(env.items(WINDOW_TABLE)) == {"before", "after"}


def test_a_batch_of_only_bad_records_is_answered_not_raised(env: Env) -> None:
    response, seqs = env.run(b"x", b"y")
    assert response == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs]}
    assert env.items(STORE_TABLE) == {}


def test_a_failing_store_write_fails_the_record_and_leaves_no_claim(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the store table is unavailable (here: missing), THEN the transaction claims nothing either,
    # so the retry of the record is not mistaken for a duplicate
    monkeypatch.setattr(env.module, "STORE_TABLE", "no-such-table")
    response, seqs = env.run(event("lost?"))
    assert response == {"batchItemFailures": [{"itemIdentifier": seqs[0]}]}
    assert env.items(WINDOW_TABLE) == {}
    monkeypatch.undo()
    response, _ = env.run(event("lost?"))
    assert response == {"batchItemFailures": []} and env.items(STORE_TABLE)["lost?"]["accepted"]["N"] == "1"
