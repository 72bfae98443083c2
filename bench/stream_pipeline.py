"""StreamPipeline end to end in the local cloud: 10,000 records with a bad one every 1,000.

The records go in with PutRecords (500 per call) to StreamPipelineDemo; the clock stops when the
local cloud has drained (every batch transformed, bisected or given up, every Firehose buffer
written). Then the table and the archive are counted: both must hold exactly the good records
(9,990), and the on-failure queue the bad ones (10). Side by side, in the same run and the same
local cloud, the same good records written without the stream and the function: one PutItem per
record (a naive consumer), and the transform's own batched writes (BatchWriteItem of 25 +
PutRecordBatch of 500) called directly — what the stream, Lambda and bisecting cost on top.

``python -m bench.stream_pipeline [--records 10000] [--bad-every 1000]``; ``make bench`` runs it.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

STACK = "StreamPipelineDemo"
KEYS = 20
PUT_CHUNK = 500


def _synth(outdir: Path) -> None:
    """The demo stack alone, with cdk.json's context (what `cdk synth` deploys)."""
    from aws_cdk import App

    from demo import stream_pipeline

    context = json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text()).get("context", {})
    app = App(outdir=str(outdir), context=context)
    stream_pipeline.build(app, STACK)
    app.synth()


def _records(total: int, bad_every: int) -> tuple[list[dict[str, Any]], int]:
    from demo.stream_pipeline import record

    entries, good = [], 0
    for n in range(total):
        key = f"sensor-{n % KEYS:02d}"
        if bad_every and (n + 1) % bad_every == 0:
            entries.append({"Data": b"{bad record " + str(n).encode(), "PartitionKey": key})
        else:
            entries.append({"Data": record(key, n, reading=n % 97), "PartitionKey": key})
            good += 1
    return entries, good


def _count_items(ddb: Any, table: str) -> int:
    pages = ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def _count_messages(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def pipeline(cloud: Any, outputs: dict[str, str], entries: list[dict[str, Any]]) -> dict[str, float]:
    """Put every record, drain, count what landed where."""
    from demo.stream_pipeline import archived_lines

    kinesis = cloud.client("kinesis")
    began = time.perf_counter()
    for start in range(0, len(entries), PUT_CHUNK):
        reply = kinesis.put_records(StreamName=outputs["StreamName"], Records=entries[start : start + PUT_CHUNK])
        assert reply["FailedRecordCount"] == 0, reply["FailedRecordCount"]
    put_s = time.perf_counter() - began
    cloud.drain(timeout=1800)
    seconds = time.perf_counter() - began
    lines = archived_lines(cloud.client("s3"), outputs["ArchiveBucketName"])
    keys = {(line["partition_key"], line["sequence_number"]) for line in lines}
    invocations = cloud.invocations(f"{STACK}/Pipeline/Transform")
    return {
        "seconds": seconds,
        "put_seconds": put_s,
        "table": _count_items(cloud.client("dynamodb"), outputs["TableName"]),
        "archive": len(lines),
        "archive_distinct": len(keys),
        "on_failure": _count_messages(cloud.client("sqs"), outputs["OnFailureQueueUrl"]),
        "invocations": len(invocations),
        "failed_invocations": sum(1 for i in invocations if not i.ok),
        "objects": cloud.client("s3").list_objects_v2(Bucket=outputs["ArchiveBucketName"]).get("KeyCount", 0),
    }


def _baseline_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "partition_key", "KeyType": "HASH"},
                   {"AttributeName": "sequence_number", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "partition_key", "AttributeType": "S"},
                              {"AttributeName": "sequence_number", "AttributeType": "S"}],
    )


def _good_items(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for n, entry in enumerate(entries):
        if entry["Data"].startswith(b"{bad"):
            continue
        items.append({
            "partition_key": {"S": entry["PartitionKey"]},
            "sequence_number": {"S": f"{n:056d}"},
            "arrived_at": {"S": "2026-01-01T00:00:00.000Z"},
            "payload": {"S": entry["Data"].decode()},
        })
    return items


def direct_put_item(cloud: Any, entries: list[dict[str, Any]]) -> dict[str, float]:
    """One PutItem per good record into a table like the pipeline's (no stream, no function)."""
    ddb = cloud.client("dynamodb")
    _baseline_table(ddb, "baseline-put-item")
    items = _good_items(entries)
    began = time.perf_counter()
    for item in items:
        ddb.put_item(TableName="baseline-put-item", Item=item)
    return {"seconds": time.perf_counter() - began, "table": _count_items(ddb, "baseline-put-item")}


def direct_batches(cloud: Any, entries: list[dict[str, Any]], bucket: str) -> dict[str, float]:
    """The transform's own writes called directly: BatchWriteItem (25) + PutRecordBatch (500) to a
    delivery stream like the pipeline's."""
    ddb, firehose = cloud.client("dynamodb"), cloud.client("firehose")
    _baseline_table(ddb, "baseline-batches")
    firehose.create_delivery_stream(
        DeliveryStreamName="baseline-batches", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/baseline", "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "baseline/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "CompressionFormat": "GZIP",
        },
    )
    items = _good_items(entries)
    lines = [(json.dumps({k: v["S"] for k, v in item.items()}) + "\n").encode() for item in items]
    began = time.perf_counter()
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        assert not ddb.batch_write_item(RequestItems={"baseline-batches": requests}).get("UnprocessedItems")
    for start in range(0, len(lines), 500):
        records = [{"Data": line} for line in lines[start : start + 500]]
        assert firehose.put_record_batch(DeliveryStreamName="baseline-batches", Records=records)["FailedPutCount"] == 0
    cloud.drain(timeout=600)
    return {"seconds": time.perf_counter() - began, "table": _count_items(ddb, "baseline-batches")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_pipeline")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--bad-every", type=int, default=1_000, help="every n-th record is not JSON (0: none)")
    args = parser.parse_args(argv)

    from patterns.local import LocalCloud

    entries, good = _records(args.records, args.bad_every)
    bad = len(entries) - good
    with tempfile.TemporaryDirectory() as out:
        _synth(Path(out))
        with LocalCloud(front_door=False) as cloud:
            outputs = cloud.deploy(out, STACK).outputs
            run = pipeline(cloud, outputs, entries)
            put_item = direct_put_item(cloud, entries)
            batches = direct_batches(cloud, entries, outputs["ArchiveBucketName"])

    rate = len(entries) / run["seconds"]
    print(f"\nStreamPipeline in the local cloud: {len(entries):,} records ({good:,} good, {bad} bad, 1 shard, "
          f"batch 100, {KEYS} partition keys)")
    print(f"  end to end (first PutRecords to drained): {run['seconds']:.1f} s = {rate:,.0f} records/s "
          f"(puts took {run['put_seconds']:.1f} s); {run['invocations']:.0f} invocations, "
          f"{run['failed_invocations']:.0f} failed (bisecting the bad records)")
    print(f"  table items {run['table']:,.0f}, archive lines {run['archive']:,.0f} "
          f"({run['archive_distinct']:,.0f} distinct, in {run['objects']:.0f} objects), "
          f"on-failure records {run['on_failure']:.0f}  (expected {good:,}, {good:,}, {bad})")
    print("  side by side, the same good records in the same local cloud:")
    rows = [
        ("stream -> transform -> table + Firehose", run["seconds"], len(entries)),
        ("direct PutItem per record (table only)", put_item["seconds"], good),
        ("direct BatchWriteItem + PutRecordBatch", batches["seconds"], good),
    ]
    for label, seconds, count in rows:
        per_s = count / seconds
        print(f"    {label:<42} {seconds:6.1f} s {per_s:9,.0f} records/s  {per_s / rate:5.2f}x the pipeline")
    ok = (
        run["table"] == good == run["archive"] == run["archive_distinct"]
        and run["on_failure"] == bad
        and put_item["table"] == good == batches["table"]
    )
    print(f"  counts {'match' if ok else 'DO NOT match'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
