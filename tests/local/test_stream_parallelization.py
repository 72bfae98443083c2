"""ParallelizationFactor: concurrent batches per shard, in order per partition key, each record once."""

from __future__ import annotations

import base64
import json
from typing import Any

from patterns.local import LocalCloud

SLOW = """
import base64
import json
import time


def handler(event, context):
    time.sleep(0.15)
    return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
"""


def _template(factor: int) -> dict[str, Any]:
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
            "Consumer": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.13",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": SLOW},
                    "Timeout": 30,
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Consumer"},
                    "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
                    "StartingPosition": "TRIM_HORIZON",
                    "BatchSize": 3,
                    "ParallelizationFactor": factor,
                },
            },
        },
        "Outputs": {"Stream": {"Value": {"Ref": "Stream"}}},
    }


def _run(cloud: LocalCloud, factor: int) -> list[list[dict[str, Any]]]:
    stack = cloud.deploy_template(_template(factor), f"Parallel{factor}")
    kinesis = cloud.client("kinesis")
    for n in range(5):
        for key in "abcdefgh":
            data = json.dumps({"key": key, "n": n}).encode()
            kinesis.put_record(StreamName=stack.outputs["Stream"], Data=data, PartitionKey=key)
    cloud.drain(timeout=60)
    return [
        [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in call.event["Records"]]
        for call in sorted(cloud.invocations("Consumer"), key=lambda c: c.started_at)
    ]


def test_a_parallelization_factor_runs_batches_of_one_shard_concurrently_in_order_per_key(cloud: LocalCloud) -> None:
    # GIVEN one shard read with ParallelizationFactor 4, 8 partition keys with 5 records each
    # WHEN drained
    batches = _run(cloud, 4)

    # THEN batches of that one shard ran at the same time
    assert cloud.max_concurrency("Consumer") > 1
    # AND every record was processed exactly once, each key's records in order
    seen = [record for batch in batches for record in batch]
    assert sorted((r["key"], r["n"]) for r in seen) == sorted((k, n) for k in "abcdefgh" for n in range(5))
    for key in "abcdefgh":
        assert [r["n"] for r in seen if r["key"] == key] == list(range(5))


def test_a_factor_of_one_reads_the_shard_one_batch_at_a_time(cloud: LocalCloud) -> None:
    batches = _run(cloud, 1)
    assert cloud.max_concurrency("Consumer") == 1
    assert [(r["key"], r["n"]) for batch in batches for r in batch] == [(k, n) for n in range(5) for k in "abcdefgh"]
