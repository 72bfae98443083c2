"""Rung 5 for CATALOG 11 EventDrivenProcessor: EventDrivenProcessorDemo deployed into the local cloud.

Proves: every upload under ``incoming/`` ending in ``.txt`` yields exactly one processed object with
the right content (N uploads → N outputs, counted over the output bucket's versions), whatever its
Unicode encoding; uploads outside the filter are never notified. Faults: a corrupt upload is tried
maxReceiveCount times and then sits in the DLQ while the rest are processed; a redelivered
notification writes nothing more. Nothing is lost: processed + dead-lettered = matching uploads,
and the work queue ends empty.
"""

from __future__ import annotations

import codecs
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest

from demo import event_driven_processor as demo
from patterns import core
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import notified_keys, object_versions, take_bodies
from tests.e2e._local_drive import drive_context

STACK = "EventDrivenProcessorDemo"
PROCESSOR = f"{STACK}/Encoder/Processor"
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32")


def _document(n: int) -> tuple[str, bytes, str]:
    """The n-th upload: key, bytes (rotating encodings, CRLF, decomposed accents), expected output text."""
    text = f"Document {n}\r\nCafe\u0301 n\u00b0{n}\r\n\r\n"
    codec = ENCODINGS[n % len(ENCODINGS)]
    raw = text.encode(codec) if codec != "utf-16-be" else codecs.BOM_UTF16_BE + text.encode(codec)
    return f"{demo.PREFIX}doc {n:02d}{demo.SUFFIX}", raw, f"Document {n}\nCaf\u00e9 n\u00b0{n}\n"


DOCUMENTS = [_document(n) for n in range(12)]
CORRUPT = f"{demo.PREFIX}corrupt{demo.SUFFIX}"
IGNORED = {f"{demo.PREFIX}notes.md": b"not .txt", "archive/old.txt": b"not under incoming/"}


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Upload the documents, one corrupt file and two files outside the filter; let it settle."""
    cloud, stack = deployed
    s3 = cloud.client("s3")
    uploads = {key: raw for key, raw, _ in DOCUMENTS} | {CORRUPT: b"\x80\x81\x82\xfe binary junk"} | IGNORED
    for key, raw in uploads.items():
        s3.put_object(Bucket=stack.outputs["InputBucketName"], Key=key, Body=raw)
    cloud.drain(timeout=120)
    return {
        "outputs": object_versions(cloud, stack.outputs["OutputBucketName"]),
        "dead": take_bodies(cloud, stack.outputs["DeadLetterQueueUrl"]),
        "invocations": cloud.invocations(PROCESSOR),
    }


def test_every_upload_yields_exactly_one_processed_object(run) -> None:
    assert run["outputs"] == {f"{key}.gz": 1 for key, _, _ in DOCUMENTS}


def test_each_processed_object_holds_the_normalized_text(deployed, run) -> None:
    cloud, stack = deployed
    s3 = cloud.client("s3")
    for key, _, expected in DOCUMENTS:
        got = s3.get_object(Bucket=stack.outputs["OutputBucketName"], Key=f"{key}.gz")
        assert gzip.decompress(got["Body"].read()).decode("utf-8") == expected
        assert got["ContentEncoding"] == "gzip"


def test_the_corrupt_upload_is_tried_max_receive_count_times_then_dead_lettered(run) -> None:
    handed = Counter(key for inv in run["invocations"] for key in notified_keys(inv))
    assert handed == {key: 1 for key, _, _ in DOCUMENTS} | {CORRUPT: core.MAX_RECEIVE_COUNT}
    (dead,) = run["dead"]
    assert [unquote_plus(r["s3"]["object"]["key"]) for r in json.loads(dead)["Records"]] == [CORRUPT]
    assert f"{CORRUPT}.gz" not in run["outputs"]
    # every batch was handled: the corrupt record failed alone, the function never errored
    assert all(inv.ok for inv in run["invocations"])


def test_uploads_outside_the_filter_are_never_notified(run) -> None:
    notified = {key for inv in run["invocations"] for key in notified_keys(inv)}
    assert not notified & set(IGNORED)


def test_nothing_is_lost_and_the_queue_is_empty(deployed, run) -> None:
    cloud, stack = deployed
    processed = {key.removesuffix(".gz") for key in run["outputs"]}
    dead = {unquote_plus(json.loads(b)["Records"][0]["s3"]["object"]["key"]) for b in run["dead"]}
    assert processed | dead == {key for key, _, _ in DOCUMENTS} | {CORRUPT}
    assert not processed & dead
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_a_redelivered_notification_writes_nothing_more(deployed, run) -> None:
    cloud, stack = deployed
    first_key = DOCUMENTS[0][0]
    body = next(
        r["body"] for inv in run["invocations"] for r in inv.event["Records"] if first_key in unquote_plus(r["body"])
    )
    before = len(cloud.invocations(PROCESSOR))
    cloud.client("sqs").send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=body)
    cloud.drain(timeout=60)
    again = cloud.invocations(PROCESSOR)[before:]
    assert [k for inv in again for k in notified_keys(inv)] == [first_key]  # delivered again...
    assert all(inv.ok and inv.result == {"batchItemFailures": []} for inv in again)
    assert object_versions(cloud, stack.outputs["OutputBucketName"]) == run["outputs"]  # ...and nothing written


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
