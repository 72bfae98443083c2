"""Rung 5 for CATALOG 24 Deduplication: DeduplicationDemo deployed into the local cloud.

Proves: 40 distinct ids put 1-3 times each (79 records, duplicates interleaved) are stored once
each — store items = distinct good ids, every ``accepted`` = 1, one window claim per id; after the
window (TTL expiry on the local cloud's clock) the same id is accepted again, while within the
window it is not. Faults: undecodable records fail alone and end in the on-failure queue, the
records around them are stored; concurrent deliveries of one id (8 invocations at once) store it once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from demo import deduplication as demo
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import take_bodies
from tests.e2e._local_drive import drive_context

STACK = "DeduplicationDemo"
FUNCTION = f"{STACK}/Dedup/Dedup"
IDS = [f"evt-{n:03d}" for n in range(40)]
POISON = [b"{not json", json.dumps({"no_id": True}).encode()]


def _copies(n: int) -> int:
    return 1 + n % 3


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _scan(cloud: LocalCloud, table: str) -> dict[str, dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["event_id"]["S"]: item for item in items}


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Put every id 1-3 times, interleaved (copy k of every id after copy k-1 of all), two poison records
    in the middle; let it settle."""
    cloud, stack = deployed
    kinesis = cloud.client("kinesis")
    records: list[tuple[bytes, str]] = []
    for copy in range(3):
        records += [(demo.event(i, copy=copy), i) for n, i in enumerate(IDS) if copy < _copies(n)]
        if copy == 0:
            records += [(p, "poison") for p in POISON]
    for data, key in records:
        kinesis.put_record(StreamName=stack.outputs["StreamName"], Data=data, PartitionKey=key)
    cloud.drain(timeout=120)
    return {
        "sent": len(records),
        "store": _scan(cloud, stack.outputs["StoreTableName"]),
        "window": _scan(cloud, stack.outputs["WindowTableName"]),
        "failures": [json.loads(b) for b in take_bodies(cloud, stack.outputs["OnFailureQueueUrl"])],
        "invocations": cloud.invocations(FUNCTION),
    }


def test_every_id_is_stored_once_with_its_first_payload(run) -> None:
    assert run["sent"] == sum(_copies(n) for n in range(len(IDS))) + len(POISON) == 81
    assert set(run["store"]) == set(IDS)
    assert {i: int(item["accepted"]["N"]) for i, item in run["store"].items()} == {i: 1 for i in IDS}
    assert all(json.loads(item["payload"]["S"])["copy"] == 0 for item in run["store"].values())


def test_the_window_table_holds_one_claim_per_id_expiring_after_the_window(run) -> None:
    assert set(run["window"]) == set(IDS)
    for item, stored in ((run["window"][i], run["store"][i]) for i in IDS):
        expires, accepted_at = int(item["expires"]["N"]), int(stored["accepted_at"]["N"])
        assert expires - accepted_at == int(demo.WINDOW.to_seconds())


def test_poison_records_go_to_the_on_failure_queue_and_the_rest_is_stored(deployed, run) -> None:
    cloud, stack = deployed
    # every poison record is inside a range an on-failure record names
    shard = cloud.client("kinesis").get_shard_iterator(
        StreamName=stack.outputs["StreamName"], ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    stream = cloud.client("kinesis").get_records(ShardIterator=shard, Limit=1000)["Records"]
    poison_seqs = {int(r["SequenceNumber"]) for r in stream if r["Data"] in POISON}
    assert len(poison_seqs) == 2 and run["failures"]
    ranges = [
        (int(f["KinesisBatchInfo"]["startSequenceNumber"]), int(f["KinesisBatchInfo"]["endSequenceNumber"]))
        for f in run["failures"]
    ]
    assert all(any(lo <= seq <= hi for lo, hi in ranges) for seq in poison_seqs)
    assert {f["requestContext"]["condition"] for f in run["failures"]} == {"RetryAttemptsExhausted"}
    # every batch was answered (failed records reported, never a function error)
    assert all(inv.ok for inv in run["invocations"])
    # and the retries of those records stored nothing twice (checked by accepted == 1 above)


def test_concurrent_deliveries_of_one_id_store_it_once(deployed) -> None:
    cloud, stack = deployed
    event_id = "evt-concurrent"

    def deliver(n: int) -> Any:
        record = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": event_id,
                "sequenceNumber": f"{900000 + n}",
                "data": base64.b64encode(demo.event(event_id, copy=n)).decode(),
                "approximateArrivalTimestamp": 1700000000.0,
            },
            "eventSource": "aws:kinesis",
            "eventID": f"shardId-00000000000{n % 4}:{900000 + n}",
            "eventName": "aws:kinesis:record",
            "eventVersion": "1.0",
            "awsRegion": cloud.region,
            "eventSourceARN": f"arn:aws:kinesis:{cloud.region}:123456789012:stream/other-shards",
        }
        return cloud.invoke(FUNCTION, {"Records": [record]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(deliver, range(8)))
    assert results == [{"batchItemFailures": []}] * 8
    assert cloud.max_concurrency(FUNCTION) > 1
    item = _scan(cloud, stack.outputs["StoreTableName"])[event_id]
    assert item["accepted"]["N"] == "1"


def test_within_the_window_an_id_is_refused_and_after_it_accepted_again(deployed, run) -> None:
    cloud, stack = deployed
    kinesis = cloud.client("kinesis")
    store = stack.outputs["StoreTableName"]

    # WHEN an id comes again within the window THEN it is still stored once
    kinesis.put_record(StreamName=stack.outputs["StreamName"], Data=demo.event(IDS[0], copy=9), PartitionKey=IDS[0])
    cloud.drain(timeout=60)
    assert _scan(cloud, store)[IDS[0]]["accepted"]["N"] == "1"

    # WHEN the window passes (the local cloud's clock moves on, TTL deletes the claims)
    cloud.advance(demo.WINDOW.to_seconds() + 1)
    cloud.drain(timeout=60)
    assert _scan(cloud, stack.outputs["WindowTableName"]) == {}

    # THEN the same id is accepted again, with its new payload
    kinesis.put_record(StreamName=stack.outputs["StreamName"], Data=demo.event(IDS[0], copy=10), PartitionKey=IDS[0])
    cloud.drain(timeout=60)
    item = _scan(cloud, store)[IDS[0]]
    assert item["accepted"]["N"] == "2" and json.loads(item["payload"]["S"])["copy"] == 10


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
