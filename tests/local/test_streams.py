"""Kinesis and DynamoDB stream mappings: bisect, retries, on-failure destinations, checkpoints, windows."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

KINESIS_CONSUMER = """
import base64
import json

SEEN = set()


def handler(event, context):
    payloads = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    if any(p.get("poison") for p in payloads):
        raise ValueError("poison record")
    failures = []
    for record, payload in zip(event["Records"], payloads):
        key = payload["n"]
        if payload.get("flaky") and key not in SEEN:
            SEEN.add(key)
            failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
    return {"batchItemFailures": failures}
"""

WINDOW = """
import base64
import json


def handler(event, context):
    state = dict(event.get("state") or {})
    for record in event["Records"]:
        state["total"] = state.get("total", 0) + json.loads(base64.b64decode(record["kinesis"]["data"]))["value"]
    return {"state": state, "batchItemFailures": []}
"""

DDB_CONSUMER = """
def handler(event, context):
    return [r["eventName"] for r in event["Records"]]
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("streams")
    kinesis_code = write_handler(root / "kinesis", {"app.py": KINESIS_CONSUMER})
    window_code = write_handler(root / "window", {"app.py": WINDOW})
    ddb_code = write_handler(root / "ddb", {"app.py": DDB_CONSUMER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_dynamodb as ddb
        from aws_cdk import aws_iam as iam
        from aws_cdk import aws_kinesis as kinesis
        from aws_cdk import aws_kinesisfirehose as firehose
        from aws_cdk import aws_lambda as lambda_
        from aws_cdk import aws_lambda_event_sources as sources
        from aws_cdk import aws_s3 as s3
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "StreamStack")
        failures = sqs.Queue(stack, "Failures")
        cdk.CfnOutput(stack, "FailuresUrl", value=failures.queue_url)

        bisect_stream = kinesis.Stream(stack, "BisectStream", shard_count=1)
        cdk.CfnOutput(stack, "BisectStreamName", value=bisect_stream.stream_name)
        bisecting = python_function(stack, "Bisecting", kinesis_code)
        bisecting.add_event_source(
            sources.KinesisEventSource(
                bisect_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=10,
                bisect_batch_on_error=True,
                retry_attempts=1,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(failures),
            )
        )

        window_stream = kinesis.Stream(stack, "WindowStream", shard_count=1)
        cdk.CfnOutput(stack, "WindowStreamName", value=window_stream.stream_name)
        windowed = python_function(stack, "Windowed", window_code)
        windowed.add_event_source(
            sources.KinesisEventSource(
                window_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=4,
                tumbling_window=cdk.Duration.seconds(600),
            )
        )

        archive = s3.Bucket(stack, "Archive")
        role = iam.Role(stack, "FirehoseRole", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        firehose.CfnDeliveryStream(
            stack,
            "ToArchive",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=window_stream.stream_arn, role_arn=role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=archive.bucket_arn, role_arn=role.role_arn, prefix="raw/"
            ),
        )
        cdk.CfnOutput(stack, "ArchiveBucket", value=archive.bucket_name)

        table = ddb.Table(
            stack,
            "Table",
            partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            stream=ddb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        cdk.CfnOutput(stack, "TableName", value=table.table_name)
        projector = python_function(stack, "Projector", ddb_code)
        projector.add_event_source(
            sources.DynamoEventSource(table, starting_position=lambda_.StartingPosition.LATEST, batch_size=2)
        )

    return synth(root / "cdk.out", build)


def _put(cloud: LocalCloud, stream: str, payloads: list[dict[str, Any]]) -> None:
    kinesis = cloud.client("kinesis")
    for payload in payloads:
        kinesis.put_record(StreamName=stream, Data=json.dumps(payload).encode(), PartitionKey="one")


def test_bisect_isolates_the_bad_record_and_sends_it_to_the_on_failure_destination(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a batch of 10 records with one poison record (the handler raises for its whole batch)
    stack = cloud.deploy(assembly, "StreamStack")
    _put(cloud, stack.outputs["BisectStreamName"], [{"n": n, "poison": n == 6} for n in range(10)])

    # WHEN drained
    cloud.drain(timeout=20)

    # THEN every other record was processed once, in order, by successful invocations
    good = [
        json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
        for i in cloud.invocations("Bisecting")
        if i.ok
        for r in i.event["Records"]
    ]
    assert good == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    # AND the poison record alone was retried once (MaximumRetryAttempts 1), then reported
    alone = [i for i in cloud.invocations("Bisecting") if len(i.event["Records"]) == 1 and not i.ok]
    assert len(alone) == 2
    failures = messages(cloud, stack.outputs["FailuresUrl"])
    assert len(failures) == 1
    record = json.loads(failures[0]["Body"])
    poison_sequence = alone[0].event["Records"][0]["kinesis"]["sequenceNumber"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["KinesisBatchInfo"]
    assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
        1,
        poison_sequence,
        poison_sequence,
    )
    assert info["streamArn"].endswith(f"stream/{stack.outputs['BisectStreamName']}")


def test_partial_batch_response_checkpoints_before_the_failed_record(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN records where n=3 fails the first time it is seen (reported as a batch item failure)
    stack = cloud.deploy(assembly, "StreamStack")
    _put(cloud, stack.outputs["BisectStreamName"], [{"n": n, "flaky": n == 3} for n in range(6)])

    # WHEN drained
    cloud.drain(timeout=20)

    # THEN the retry starts at the failed record: 0-2 are handled once, 3-5 twice (first and retry)
    calls = [
        [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in i.event["Records"]]
        for i in cloud.invocations("Bisecting")
    ]
    assert calls == [[0, 1, 2, 3, 4, 5], [3, 4, 5]]
    assert messages(cloud, stack.outputs["FailuresUrl"]) == []


def test_tumbling_window_passes_state_and_ends_with_a_final_invoke(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN 10 records in one 10-minute window, read in batches of 4
    stack = cloud.deploy(assembly, "StreamStack")
    _put(cloud, stack.outputs["WindowStreamName"], [{"value": v} for v in range(1, 11)])

    # WHEN drained
    cloud.drain(timeout=20)

    # THEN state was carried from batch to batch and the final invoke of the window holds the total
    calls = cloud.invocations("Windowed")
    assert [len(i.event["Records"]) for i in calls] == [4, 4, 2, 0]
    assert [i.event["isFinalInvokeForWindow"] for i in calls] == [False, False, False, True]
    assert calls[-1].event["state"] == {"total": 55}
    assert calls[1].event["state"] == {"total": 10}
    assert {"start", "end"} <= set(calls[0].event["window"]) and calls[0].event["shardId"]
    # AND the Firehose delivery stream reading the same stream archived every record to S3
    s3 = cloud.client("s3")
    bucket = stack.outputs["ArchiveBucket"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]]
    archived = b"".join(s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys)
    assert archived == b"".join(json.dumps({"value": v}).encode() for v in range(1, 11))


def test_dynamodb_stream_records_have_images_per_view_type(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a table whose stream (NEW_AND_OLD_IMAGES) feeds a function from LATEST
    stack = cloud.deploy(assembly, "StreamStack")
    ddb = cloud.client("dynamodb")
    table = stack.outputs["TableName"]

    # WHEN an item is created, changed and deleted
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "2"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    cloud.drain(timeout=20)

    # THEN the function got INSERT, MODIFY, REMOVE in order with AWS-shaped records
    records = [r for i in cloud.invocations("Projector") for r in i.event["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["eventSource"] == "aws:dynamodb"
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert "OldImage" not in records[0]["dynamodb"]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert records[2]["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert records[0]["eventSourceARN"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/")
    assert [len(i.event["Records"]) for i in cloud.invocations("Projector")] == [2, 1]
