"""Rung 5 for CATALOG 22 StreamPipeline: StreamPipelineDemo deployed into the local cloud.

Proves: 800 good records of 3 partition keys (PutRecords, ~1.4 KiB each) land in the table and in
the GZIP archive once each, in order per partition key; the first archive object is written when
the buffer reaches its size (1 MiB, before the interval), the last once the interval (60 s on the
local cloud's clock) has passed, under ``records/<yyyy/MM/dd>/``. Faults: 2 bad records go to the
on-failure queue alone (bisected out of their batches, every other record of those batches is
processed); a transform that fails after its table write (the delivery stream was gone) is retried
and the table holds each of its records once, the archive too.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from demo import stream_pipeline as demo
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import take_bodies
from tests.e2e._local_drive import drive_context

STACK = "StreamPipelineDemo"
FUNCTION = f"{STACK}/Pipeline/Transform"
KEYS = ("sensor-a", "sensor-b", "sensor-c")
GOOD = 800
BAD_AT = (150, 525)  # positions in the put order
#: ~1.4 KiB per archive line, so 800 lines fill the 1 MiB buffer once (and a batch of 100 records stays
#: under the 256 KiB the journal keeps of an event)
PADDING = "p" * 1200


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _items(cloud: LocalCloud, table: str) -> list[dict[str, Any]]:
    pages = cloud.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [item for page in pages for item in page["Items"]]


def _delivered_at(key: str) -> float:
    """When Firehose wrote an object: its name is <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz."""
    stamp = "-".join(key.rsplit("/", 1)[-1].split("-")[-11:-5])
    return datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Put 1,200 good records (n counts per key) and 2 bad ones with PutRecords; let it settle."""
    cloud, stack = deployed
    entries: list[dict[str, Any]] = []
    counters: Counter[str] = Counter()
    for position in range(GOOD + len(BAD_AT)):
        if position in BAD_AT:
            entries.append({"Data": b"{not json " + str(position).encode(), "PartitionKey": KEYS[0]})
            continue
        key = KEYS[position % len(KEYS)]
        entries.append({"Data": demo.record(key, counters[key], padding=PADDING), "PartitionKey": key})
        counters[key] += 1
    kinesis = cloud.client("kinesis")
    started = cloud.core.engine.clock()
    sequence_numbers = []
    for start in range(0, len(entries), 500):
        reply = kinesis.put_records(StreamName=stack.outputs["StreamName"], Records=entries[start : start + 500])
        assert reply["FailedRecordCount"] == 0
        sequence_numbers += [r["SequenceNumber"] for r in reply["Records"]]
    cloud.drain(timeout=180)
    s3 = cloud.client("s3")
    bucket = stack.outputs["ArchiveBucketName"]
    return {
        "counters": counters,
        "started": started,
        "bad_sequence_numbers": {sequence_numbers[p] for p in BAD_AT},
        "items": _items(cloud, stack.outputs["TableName"]),
        "lines": demo.archived_lines(s3, bucket),
        "objects": {
            o["Key"]: len(gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))
            for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        },
        "failures": [json.loads(b) for b in take_bodies(cloud, stack.outputs["OnFailureQueueUrl"])],
        "invocations": cloud.invocations(FUNCTION),
    }


def _sent(counters: Counter[str]) -> set[tuple[str, int]]:
    return {(key, n) for key, count in counters.items() for n in range(count)}


def test_every_good_record_is_in_the_table_once(run) -> None:
    assert sum(run["counters"].values()) == GOOD
    keys = [(i["partition_key"]["S"], json.loads(i["payload"]["S"])["n"]) for i in run["items"]]
    assert len(keys) == GOOD
    assert set(keys) == _sent(run["counters"])
    assert not {i["sequence_number"]["S"] for i in run["items"]} & run["bad_sequence_numbers"]


def test_every_good_record_is_in_the_archive_once_in_order_per_partition_key(run) -> None:
    lines = run["lines"]
    assert len(lines) == GOOD
    assert {(line["partition_key"], line["data"]["n"]) for line in lines} == _sent(run["counters"])
    for key in KEYS:
        ns = [line["data"]["n"] for line in lines if line["partition_key"] == key]
        assert ns == list(range(run["counters"][key]))
    # AND the transform handled them in that order too (successful invocations, in completion order)
    handled: dict[str, list[int]] = {key: [] for key in KEYS}
    for invocation in (i for i in run["invocations"] if i.ok):
        for record in invocation.event["Records"]:
            handled[record["kinesis"]["partitionKey"]].append(
                json.loads(base64.b64decode(record["kinesis"]["data"]))["n"]
            )
    assert all(handled[key] == list(range(run["counters"][key])) for key in KEYS)


def test_archive_objects_are_written_when_the_size_or_the_interval_is_reached(run) -> None:
    objects = sorted(run["objects"], key=_delivered_at)
    assert len(objects) == 2
    day = datetime.fromtimestamp(run["started"], UTC).strftime("%Y/%m/%d/")
    assert all(key.startswith(f"records/{day}") and key.endswith(".gz") for key in objects)
    size, interval = demo.BUFFER_SIZE_MIB * 1024 * 1024, demo.BUFFER_INTERVAL.to_seconds()
    # The first object is a full buffer: it went out when 1 MiB was reached, however long that took.
    assert run["objects"][objects[0]] >= size
    # The rest went out when the interval was up: its buffer opened after the first was written.
    assert run["objects"][objects[1]] < size
    assert _delivered_at(objects[1]) - _delivered_at(objects[0]) >= interval - 1  # names have whole seconds


def test_bad_records_go_to_the_on_failure_queue_alone_and_their_batches_are_processed(run) -> None:
    failures = run["failures"]
    assert len(failures) == len(BAD_AT)
    for failure in failures:
        info = failure["KinesisBatchInfo"]
        assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
        assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert {f["KinesisBatchInfo"]["startSequenceNumber"] for f in failures} == run["bad_sequence_numbers"]
    # the batches that held them failed whole, then were bisected until the bad record was alone
    failed = [i for i in run["invocations"] if not i.ok]
    assert all(
        any(r["kinesis"]["sequenceNumber"] in run["bad_sequence_numbers"] for r in i.event["Records"]) for i in failed
    )
    assert max(len(i.event["Records"]) for i in failed) == demo.BATCH_SIZE


def test_a_transform_retried_after_a_failed_archive_put_writes_nothing_twice(deployed, run) -> None:
    cloud, stack = deployed
    firehose = cloud.client("firehose")
    name = stack.outputs["DeliveryStreamName"]
    described = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    destination = described["Destinations"][0]["ExtendedS3DestinationDescription"]
    # GIVEN the delivery stream is gone: the transform writes the table, then its archive put fails
    firehose.delete_delivery_stream(DeliveryStreamName=name)
    key = "sensor-retry"
    kinesis = cloud.client("kinesis")
    kinesis.put_records(StreamName=stack.outputs["StreamName"], Records=[
        {"Data": demo.record(key, n), "PartitionKey": key} for n in range(4)
    ])
    before = len(cloud.invocations(FUNCTION))
    cloud.core.engine.poll_once()
    deadline = time.monotonic() + 20
    while len(cloud.invocations(FUNCTION)) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    (attempt,) = cloud.invocations(FUNCTION)[before:]
    assert not attempt.ok and "ResourceNotFound" in json.dumps(attempt.error)
    items = [i for i in _items(cloud, stack.outputs["TableName"]) if i["partition_key"]["S"] == key]
    assert len(items) == 4  # the failed attempt wrote its items

    # WHEN the delivery stream is back and Lambda retries the batch
    firehose.create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            k: destination[k] for k in (
                "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat",
            ) if k in destination
        },
    )
    cloud.drain(timeout=60)

    # THEN the table holds each record once and the archive has each line once
    retried = [i for i in cloud.invocations(FUNCTION)[before + 1 :] if i.ok]
    assert sum(len(i.event["Records"]) for i in retried) == 4
    items = [i for i in _items(cloud, stack.outputs["TableName"]) if i["partition_key"]["S"] == key]
    assert sorted(json.loads(i["payload"]["S"])["n"] for i in items) == [0, 1, 2, 3]
    lines = [
        line for line in demo.archived_lines(cloud.client("s3"), stack.outputs["ArchiveBucketName"])
        if line["partition_key"] == key
    ]
    assert [line["data"]["n"] for line in lines] == [0, 1, 2, 3]


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
