"""Rung 4: the StorageFirst processor against moto DynamoDB, with realistic SQS and Kinesis events.

A bad record fails alone (partial batch response) and writes nothing; a redelivered record is
applied once; a failing table fails the records, never the whole invocation.
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
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from tests.support import failed_ids, load_handler

EVENTS = Path(__file__).parent / "events" / "storage_first"
SQS_EVENT = json.loads((EVENTS / "sqs_event.json").read_text())
KINESIS_EVENT = json.loads((EVENTS / "kinesis_event.json").read_text())
TABLE, IDEMPOTENCY = "records", "idempotency"

BAD_BODIES = {
    "malformed": '{"kind": "user.signup", "payload": ',
    "missing-kind": '{"payload": {"user": "bo"}}',
    "extra-field": '{"kind": "user.signup", "admin": true}',
    "bad-kind": '{"kind": "has spaces"}',
    "payload-not-object": '{"kind": "user.signup", "payload": [1, 2]}',
}


@dataclass
class LambdaContext:
    function_name: str = "StorageFirstProcessor"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:StorageFirstProcessor"
    aws_request_id: str = "7c1e2d3f-0000-4000-8000-000000000004"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def sqs_event(*bodies: tuple[str, str]) -> dict[str, Any]:
    """An SQS event with one record per (message id, body)."""
    template = SQS_EVENT["Records"][0]
    return {"Records": [copy.deepcopy(template) | {"messageId": mid, "body": body} for mid, body in bodies]}


def kinesis_event(*records: tuple[str, str]) -> dict[str, Any]:
    """A Kinesis event with one record per (sequence number, data)."""
    template = KINESIS_EVENT["Records"][0]
    out = []
    for seq, data in records:
        rec = copy.deepcopy(template)
        rec["kinesis"] |= {"sequenceNumber": seq, "data": base64.b64encode(data.encode()).decode()}
        rec["eventID"] = f"shardId-000000000000:{seq}"
        out.append(rec)
    return {"Records": out}


class Processor:
    def __init__(self, module: ModuleType, table: Any) -> None:
        self.module = module
        self.table = table

    def sqs(self, event: dict[str, Any]) -> list[str]:
        return failed_ids(self.module.sqs_handler(event, LambdaContext()))

    def kinesis(self, event: dict[str, Any]) -> list[str]:
        return failed_ids(self.module.kinesis_handler(event, LambdaContext()))

    def records(self) -> dict[str, dict[str, Any]]:
        return {item["id"]: item for item in self.table.scan(ConsistentRead=True)["Items"]}


def _create(ddb: Any, name: str) -> Any:
    return ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )


@pytest.fixture
def processor() -> Iterator[Processor]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = _create(ddb, TABLE)
        _create(ddb, IDEMPOTENCY)
        module = load_handler(
            "storage_first", "processor",
            env={"TABLE_NAME": TABLE, "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY,
                 "POWERTOOLS_SERVICE_NAME": "storage-first"},
        )
        yield Processor(module, table)


# --- SQS -----------------------------------------------------------------------------------------


def test_sqs_records_each_stored_request_under_its_message_id(processor: Processor) -> None:
    body = SQS_EVENT["Records"][0]["body"]
    failures = processor.sqs(sqs_event(("m-1", body), ("m-2", '{"kind": "user.login"}')))
    assert failures == []
    records = processor.records()
    assert set(records) == {"m-1", "m-2"}
    assert records["m-1"]["kind"] == "user.signup"
    assert json.loads(records["m-1"]["payload"]) == {"user": "ana", "plan": "pro"}
    assert records["m-1"]["store"] == "sqs"
    assert records["m-1"]["received_at"] == "2026-11-26T10:15:42.000+00:00"
    assert records["m-2"]["payload"] == "{}"
    assert all(r["times_processed"] == 1 for r in records.values())


def test_sqs_bad_records_fail_alone_and_write_nothing(processor: Processor) -> None:
    bad = [(f"bad-{name}", body) for name, body in BAD_BODIES.items()]
    good = [("good-1", '{"kind": "a"}'), ("good-2", '{"kind": "b"}')]
    failures = processor.sqs(sqs_event(good[0], *bad, good[1]))
    assert sorted(failures) == sorted(mid for mid, _ in bad)
    assert set(processor.records()) == {"good-1", "good-2"}


def test_sqs_redelivered_message_is_applied_once(processor: Processor) -> None:
    event = sqs_event(("m-1", '{"kind": "a"}'))
    assert processor.sqs(event) == []
    redelivered = copy.deepcopy(event)
    redelivered["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    assert processor.sqs(redelivered) == []
    assert processor.records()["m-1"]["times_processed"] == 1


def test_sqs_a_partly_failing_batch_reports_only_the_failed_records_and_keeps_the_rest(processor: Processor) -> None:
    failures = processor.sqs(sqs_event(("m-1", '{"kind": "a"}'), ("m-2", "not json"), ("m-3", '{"kind": "c"}')))
    assert failures == ["m-2"]
    assert set(processor.records()) == {"m-1", "m-3"}


def test_sqs_a_batch_failing_entirely_raises_so_the_invocation_counts_as_an_error(processor: Processor) -> None:
    processor.table.delete()
    with pytest.raises(BatchProcessingError, match="All records failed"):
        processor.sqs(sqs_event(("m-1", '{"kind": "a"}'), ("m-2", '{"kind": "b"}')))


def test_sqs_a_failed_record_is_applied_when_redelivered_after_the_fault_is_fixed(processor: Processor) -> None:
    processor.table.delete()
    event = sqs_event(("m-1", '{"kind": "a"}'))
    with pytest.raises(BatchProcessingError):
        processor.sqs(event)
    # Idempotency records no result for a failed call, so the retry is not mistaken for a duplicate.
    processor.table = _create(boto3.resource("dynamodb", region_name="us-east-1"), TABLE)
    assert processor.sqs(event) == []
    assert processor.records()["m-1"]["times_processed"] == 1


# --- Kinesis -------------------------------------------------------------------------------------


def test_kinesis_records_each_stored_request_under_its_sequence_number(processor: Processor) -> None:
    seq = KINESIS_EVENT["Records"][0]["kinesis"]["sequenceNumber"]
    assert processor.kinesis(KINESIS_EVENT) == []
    record = processor.records()[seq]
    assert record["kind"] == "user.signup" and record["store"] == "kinesis"
    assert json.loads(record["payload"]) == {"user": "ana", "plan": "pro"}
    assert record["received_at"] == "2026-11-26T10:15:42.123+00:00"


def test_kinesis_bad_records_fail_alone_and_write_nothing(processor: Processor) -> None:
    records = [("100", '{"kind": "a"}')]
    records += [(str(200 + n), body) for n, body in enumerate(BAD_BODIES.values())]
    records += [("300", '{"kind": "b"}')]
    failures = processor.kinesis(kinesis_event(*records))
    assert sorted(failures) == [str(200 + n) for n in range(len(BAD_BODIES))]
    assert set(processor.records()) == {"100", "300"}


def test_kinesis_retried_batch_applies_each_record_once(processor: Processor) -> None:
    event = kinesis_event(("100", '{"kind": "a"}'), ("101", '{"kind": "b"}'))
    assert processor.kinesis(event) == []
    assert processor.kinesis(event) == []
    assert {k: v["times_processed"] for k, v in processor.records().items()} == {"100": 1, "101": 1}
