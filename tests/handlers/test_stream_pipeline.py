"""Rung 4 for CATALOG 22 StreamPipeline: the transform function against moto DynamoDB and Firehose.

A batch becomes one table item and one archive line per record, in order; a bad record (not UTF-8,
not JSON, not an object) fails the whole batch before anything is written; a batch retried after a
failed archive put adds no table item twice and archives each record once.
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

RECORD = json.loads((Path(__file__).parent / "events" / "stream_pipeline" / "kinesis_record.json").read_text())
TABLE = "pipeline-records"
BUCKET = "pipeline-archive"
HOSE = "pipeline-archive-hose"


@dataclass
class Context:
    function_name: str = "StreamPipelineDemo-Transform"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000022"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


@dataclass
class Env:
    module: ModuleType
    ddb: Any
    s3: Any
    seq: int = 0

    def record(self, data: bytes, key: str = "sensor-1") -> dict[str, Any]:
        self.seq += 1
        record = copy.deepcopy(RECORD)
        record["kinesis"]["data"] = base64.b64encode(data).decode()
        record["kinesis"]["partitionKey"] = key
        record["kinesis"]["sequenceNumber"] = str(49590338271490256608559692538361571095921575989136588898 + self.seq)
        return record

    def run(self, records: list[dict[str, Any]]) -> Any:
        return self.module.handler({"Records": records}, Context())

    def items(self) -> list[dict[str, Any]]:
        return sorted(self.ddb.scan(TableName=TABLE)["Items"], key=lambda i: i["sequence_number"]["S"])

    def lines(self) -> list[dict[str, Any]]:
        """Every archived line; moto's Firehose writes one object per put, uncompressed."""
        keys = sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
        body = b"".join(self.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys)
        return [json.loads(line) for line in body.splitlines()]


def reading(n: int, **fields: Any) -> bytes:
    return json.dumps({"n": n, **fields}).encode()


@pytest.fixture(scope="module")
def cloud() -> Iterator[Env]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        yield Env(
            load_handler("stream_pipeline", "transform", env={
                "TABLE_NAME": TABLE, "DELIVERY_STREAM_NAME": HOSE, "POWERTOOLS_SERVICE_NAME": "stream-pipeline",
            }),
            ddb, s3,
        )


@pytest.fixture
def env(cloud: Env) -> Env:
    """Fresh table, bucket and delivery stream for every test."""
    ddb, s3 = cloud.ddb, cloud.s3
    if TABLE in ddb.list_tables()["TableNames"]:
        ddb.delete_table(TableName=TABLE)
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "partition_key", "KeyType": "HASH"},
                   {"AttributeName": "sequence_number", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "partition_key", "AttributeType": "S"},
                              {"AttributeName": "sequence_number", "AttributeType": "S"}],
    )
    if BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=entry["Key"])
    else:
        s3.create_bucket(Bucket=BUCKET)
    firehose = boto3.client("firehose", region_name="us-east-1")
    if HOSE not in firehose.list_delivery_streams()["DeliveryStreamNames"]:
        firehose.create_delivery_stream(
            DeliveryStreamName=HOSE, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": f"arn:aws:s3:::{BUCKET}",
            },
        )
    return cloud


def test_every_record_becomes_one_item_and_one_archive_line_in_order(env: Env) -> None:
    records = [env.record(reading(n, temp=20 + n), key=f"sensor-{n % 2}") for n in range(6)]
    assert env.run(records) == {"batchItemFailures": []}
    items = env.items()
    assert [i["sequence_number"]["S"] for i in items] == [r["kinesis"]["sequenceNumber"] for r in records]
    assert [json.loads(i["payload"]["S"]) for i in items] == [{"n": n, "temp": 20 + n} for n in range(6)]
    assert [i["partition_key"]["S"] for i in items] == [f"sensor-{n % 2}" for n in range(6)]
    assert items[0]["arrived_at"]["S"] == "2018-12-17T22:10:50.987Z"
    lines = env.lines()
    assert [line["data"]["n"] for line in lines] == list(range(6))
    assert lines[0] == {
        "partition_key": "sensor-0", "sequence_number": records[0]["kinesis"]["sequenceNumber"],
        "arrived_at": "2018-12-17T22:10:50.987Z", "data": {"n": 0, "temp": 20},
    }


def test_a_batch_larger_than_one_write_request_is_written_whole(env: Env) -> None:
    # 60 records: three BatchWriteItem requests of at most 25 items
    env.run([env.record(reading(n)) for n in range(60)])
    assert len(env.items()) == 60
    assert [line["data"]["n"] for line in env.lines()] == list(range(60))


@pytest.mark.parametrize(
    "bad", [b"\xff\xfe not utf-8", b"{not json", b"[1, 2]", b"42", b'"text"'],
    ids=["not-utf8", "not-json", "array", "number", "string"],
)
def test_a_bad_record_fails_the_whole_batch_before_anything_is_written(env: Env, bad: bytes) -> None:
    records = [env.record(reading(0)), env.record(bad), env.record(reading(2))]
    with pytest.raises(ValueError, match=records[1]["kinesis"]["sequenceNumber"]):
        env.run(records)
    assert env.items() == []
    assert env.lines() == []


def test_a_batch_retried_after_a_failed_archive_put_adds_nothing_twice(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the delivery stream cannot be reached (here: a missing one): the table write has happened
    records = [env.record(reading(n)) for n in range(4)]
    monkeypatch.setattr(env.module, "DELIVERY_STREAM", "no-such-stream")
    with pytest.raises(Exception, match="ResourceNotFound"):
        env.run(records)
    assert len(env.items()) == 4 and env.lines() == []
    # WHEN Lambda retries the same batch THEN the table still holds one item per record, the archive one line each
    monkeypatch.undo()
    assert env.run(records) == {"batchItemFailures": []}
    assert [json.loads(i["payload"]["S"])["n"] for i in env.items()] == [0, 1, 2, 3]
    assert [line["data"]["n"] for line in env.lines()] == [0, 1, 2, 3]


def test_records_failed_by_firehose_are_sent_again_and_the_rest_not(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Firehose refuses the second entry of the first put (a throttled entry)
    client = env.module.firehose()
    real = client.put_record_batch
    calls: list[list[bytes]] = []

    def flaky(**kwargs: Any) -> dict[str, Any]:
        calls.append([r["Data"] for r in kwargs["Records"]])
        if len(calls) > 1:
            return real(**kwargs)
        real(**{**kwargs, "Records": [kwargs["Records"][0], *kwargs["Records"][2:]]})
        responses = [{"RecordId": "x"}, {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}]
        return {"FailedPutCount": 1, "RequestResponses": responses + [{"RecordId": "x"}] * (len(kwargs["Records"]) - 2)}

    monkeypatch.setattr(client, "put_record_batch", flaky)
    monkeypatch.setattr(env.module, "_backoff", lambda round_: None)
    env.run([env.record(reading(n)) for n in range(3)])
    assert [len(c) for c in calls] == [3, 1]
    assert sorted(line["data"]["n"] for line in env.lines()) == [0, 1, 2]


def test_archive_chunks_respect_firehose_limits(cloud: Env) -> None:
    lines = [b"x" * 1000] * 1200 + [b"y" * (3 * 1024 * 1024)] * 2
    chunks = cloud.module._chunks(lines)
    assert [len(c) for c in chunks] == [500, 500, 201, 1]
    assert all(sum(len(line) for line in c) <= cloud.module.ARCHIVE_BYTES for c in chunks)
