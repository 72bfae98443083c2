"""Rung 4 for CATALOG 11 EventDrivenProcessor: the processor against moto S3 and DynamoDB.

Every text upload (any Unicode encoding, URL-encoded key) becomes one normalized, gzip'd object; a
redelivered notification writes nothing more (idempotency), a new write of the same key is processed
again, and the version named by the event is the one processed. Corrupt uploads, missing objects and
malformed bodies fail their record alone (``batchItemFailures``) and write nothing; S3's test event is
a no-op.
"""

from __future__ import annotations

import codecs
import copy
import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from tests.support import failed_ids, load_handler, sqs_record_like

EVENTS = Path(__file__).parent / "events" / "event_driven_processor"
S3_EVENT = json.loads((EVENTS / "s3_object_created.json").read_text())
TEST_EVENT = json.loads((EVENTS / "s3_test_event.json").read_text())
RECORD = json.loads((EVENTS / "sqs_record.json").read_text())
INPUT = "encoder-input"
OUTPUT = "encoder-output"
IDEMPOTENCY = "encoder-idempotency"
TEXT = "Cafe\u0301 menu\r\nlatte\r\n\r\n"  # decomposed é, CRLF, extra blank line
NORMALIZED = "Caf\u00e9 menu\nlatte\n"


@dataclass
class Context:
    """A Lambda context: Logger reads the names, idempotency the remaining time."""

    function_name: str = "EventDrivenProcessorDemo-EncoderProcessor"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000011"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


@dataclass
class Env:
    module: ModuleType
    s3: Any
    ddb: Any

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        """Put an object and return the S3 notification S3 would send for it."""
        put = self.s3.put_object(Bucket=INPUT, Key=key, Body=body)
        return notification(key, etag=put["ETag"].strip('"'), version_id=put.get("VersionId"))

    def run(self, *bodies: str) -> tuple[dict[str, Any], list[str]]:
        """Invoke the handler with one SQS record per body; the response and the record ids."""
        records = [sqs_record_like(RECORD, b) for b in bodies]
        response = self.module.handler({"Records": records}, Context())
        return response, [r["messageId"] for r in records]

    def outputs(self) -> dict[str, list[dict[str, Any]]]:
        """Every version of every output object, by key."""
        found: dict[str, list[dict[str, Any]]] = {}
        for version in self.s3.list_object_versions(Bucket=OUTPUT).get("Versions", []):
            found.setdefault(version["Key"], []).append(version)
        return found

    def text_of(self, key: str) -> str:
        return gzip.decompress(self.s3.get_object(Bucket=OUTPUT, Key=key)["Body"].read()).decode("utf-8")


def notification(key: str, *, etag: str = "d41d8cd98f00b204e9800998ecf8427e", version_id: str | None = None,
                 sequencer: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(S3_EVENT)
    record = event["Records"][0]
    record["s3"]["bucket"].update(name=INPUT, arn=f"arn:aws:s3:::{INPUT}")
    obj = record["s3"]["object"]
    obj.update(key=quote_plus(key), eTag=etag, sequencer=sequencer or uuid.uuid4().hex[:18].upper())
    if version_id:
        obj["versionId"] = version_id
    else:
        obj.pop("versionId")
    return event


@pytest.fixture(scope="module")
def cloud() -> Iterator[Env]:
    """moto and the handler, set up once per module (importing Powertools costs ~0.4 s)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName=IDEMPOTENCY, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        module = load_handler("event_driven_processor", "processor", env={
            "OUTPUT_BUCKET": OUTPUT, "OUTPUT_PREFIX": "encoded/", "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY,
            "POWERTOOLS_SERVICE_NAME": "processor",
        })
        yield Env(module, s3, ddb)


@pytest.fixture
def env(cloud: Env) -> Env:
    """A clean slate per test: empty buckets, no idempotency records."""
    for bucket in (INPUT, OUTPUT):
        versions = cloud.s3.list_object_versions(Bucket=bucket).get("Versions", [])
        for v in versions:
            cloud.s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    for item in cloud.ddb.scan(TableName=IDEMPOTENCY)["Items"]:
        cloud.ddb.delete_item(TableName=IDEMPOTENCY, Key={"id": item["id"]})
    return cloud


# -- the work ---------------------------------------------------------------------------------------


def test_an_upload_becomes_one_normalized_gzip_object(env: Env) -> None:
    event = env.upload("incoming/menu.txt", TEXT.encode("utf-16"))
    response, _ = env.run(json.dumps(event))
    assert response == {"batchItemFailures": []}
    assert list(env.outputs()) == ["encoded/incoming/menu.txt.gz"]
    head = env.s3.head_object(Bucket=OUTPUT, Key="encoded/incoming/menu.txt.gz")
    assert head["ContentType"] == "text/plain; charset=utf-8"
    assert head["ContentEncoding"] == "gzip"
    assert head["Metadata"] == {"source-bucket": INPUT, "source-key": "incoming/menu.txt", "source-encoding": "utf-16"}
    assert env.text_of("encoded/incoming/menu.txt.gz") == NORMALIZED


@pytest.mark.parametrize(("codec", "bom", "expected_codec"), [
    ("utf-8", b"", "utf-8"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
    ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32"),
])
def test_every_unicode_encoding_yields_the_same_bytes(env: Env, codec: str, bom: bytes, expected_codec: str) -> None:
    reference = env.module.encode(NORMALIZED.encode("utf-8"))
    event = env.upload("incoming/doc.txt", bom + TEXT.encode(codec))
    response, _ = env.run(json.dumps(event))
    assert failed_ids(response) == []
    body = env.s3.get_object(Bucket=OUTPUT, Key="encoded/incoming/doc.txt.gz")
    assert body["Body"].read() == reference.data  # deterministic gzip: no timestamp in the header
    assert body["Metadata"]["source-encoding"] == expected_codec


def test_url_encoded_keys_are_decoded(env: Env) -> None:
    key = "incoming/Q3 report \u2013 café.txt"
    event = env.upload(key, b"plain ascii\n")
    assert "+" in event["Records"][0]["s3"]["object"]["key"]  # how S3 encodes spaces
    response, _ = env.run(json.dumps(event))
    assert failed_ids(response) == []
    assert list(env.outputs()) == [f"encoded/{key}.gz"]
    assert env.s3.head_object(Bucket=OUTPUT, Key=f"encoded/{key}.gz")["Metadata"]["source-key"] == (
        "incoming/Q3%20report%20%E2%80%93%20caf%C3%A9.txt"
    )


def test_the_version_named_in_the_event_is_processed(env: Env) -> None:
    first = env.upload("incoming/v.txt", b"first\n")
    env.upload("incoming/v.txt", b"second\n")
    response, _ = env.run(json.dumps(first))
    assert failed_ids(response) == []
    assert env.text_of("encoded/incoming/v.txt.gz") == "first\n"


# -- at least once ----------------------------------------------------------------------------------


def test_a_redelivered_notification_writes_nothing_more(env: Env) -> None:
    body = json.dumps(env.upload("incoming/once.txt", b"once\n"))
    response, _ = env.run(body)
    assert failed_ids(response) == []
    response, _ = env.run(body)  # SQS redelivery of the same notification
    assert failed_ids(response) == []
    response, _ = env.run(body, body)  # and twice in one batch
    assert failed_ids(response) == []
    assert [len(v) for v in env.outputs().values()] == [1]


def test_a_new_write_of_the_same_key_is_processed_again(env: Env) -> None:
    env.run(json.dumps(env.upload("incoming/doc.txt", b"draft\n")))
    env.run(json.dumps(env.upload("incoming/doc.txt", b"final\n")))
    assert [len(v) for v in env.outputs().values()] == [2]
    assert env.text_of("encoded/incoming/doc.txt.gz") == "final\n"


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"\x80\x81\x82 not utf-8",  # invalid UTF-8 start bytes
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # binary: control characters
    codecs.BOM_UTF16_LE + b"\x00\xd8",  # a lone UTF-16 surrogate
])
def test_a_corrupt_upload_fails_alone_and_writes_nothing(env: Env, raw: bytes) -> None:
    good = json.dumps(env.upload("incoming/good.txt", b"good\n"))
    bad = json.dumps(env.upload("incoming/bad.txt", raw))
    response, (_, bad_id) = env.run(good, bad)
    assert failed_ids(response) == [bad_id]
    assert list(env.outputs()) == ["encoded/incoming/good.txt.gz"]
    # and the failure is not remembered: a retry processes it again (and fails again)
    response, _ = env.run(bad)
    assert len(failed_ids(response)) == 1


@pytest.mark.parametrize("body", [
    "not json",
    json.dumps({"hello": "world"}),
    json.dumps({"Records": []}),
    json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}),
    json.dumps({"Records": [{**S3_EVENT["Records"][0], "eventSource": "aws:sqs"}]}),
])
def test_a_body_that_is_not_an_s3_notification_fails_alone(env: Env, body: str) -> None:
    good = json.dumps(env.upload("incoming/good.txt", b"good\n"))
    response, (_, bad_id) = env.run(good, body)
    assert failed_ids(response) == [bad_id]
    assert list(env.outputs()) == ["encoded/incoming/good.txt.gz"]


def test_an_object_deleted_before_processing_fails_its_record(env: Env) -> None:
    event = notification("incoming/gone.txt")
    response, (record_id,) = env.run(json.dumps(event))
    assert failed_ids(response) == [record_id]
    assert env.outputs() == {}


def test_the_s3_test_event_is_a_no_op(env: Env) -> None:
    response, _ = env.run(json.dumps(TEST_EVENT))
    assert failed_ids(response) == []
    assert env.outputs() == {}


def test_non_created_records_are_skipped(env: Env) -> None:
    event = env.upload("incoming/deleted.txt", b"x\n")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    response, _ = env.run(json.dumps(event))
    assert failed_ids(response) == []
    assert env.outputs() == {}


def test_folder_markers_are_skipped(env: Env) -> None:
    response, _ = env.run(json.dumps(env.upload("incoming/2026/", b"")))
    assert failed_ids(response) == []
    assert env.outputs() == {}


# -- the encoding itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("", ""),
    ("\n\n", ""),
    ("a\rb\r\nc", "a\nb\nc\n"),
    ("tab\tand form feed\f kept\n\n\n", "tab\tand form feed\f kept\n"),
    ("A\u030a", "\u00c5\n"),  # NFC composes Å
])
def test_normalization(env: Env, text: str, expected: str) -> None:
    assert gzip.decompress(env.module.encode(text.encode("utf-8")).data).decode("utf-8") == expected
