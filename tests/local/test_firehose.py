"""Firehose delivery to S3: buffering by size and by interval on the clock, prefixes, GZIP, Lambda processing."""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud
from patterns.local.delivery.firehose import java_time, render_prefix

TRANSFORM = """
import base64


def handler(event, context):
    out = []
    for record in event["records"]:
        text = base64.b64decode(record["data"]).decode()
        if text.startswith("drop"):
            out.append({"recordId": record["recordId"], "result": "Dropped"})
        elif text.startswith("fail"):
            out.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
        else:
            data = base64.b64encode(text.upper().encode() + b"\\n").decode()
            out.append({"recordId": record["recordId"], "result": "Ok", "data": data})
    return {"records": out}
"""

BROKEN = """
def handler(event, context):
    raise RuntimeError("transformation is down")
"""


def _function(code: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": code},
            "Timeout": 60,
        },
    }


def _template(destination: dict[str, Any], functions: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
        "Hose": {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "DeliveryStreamName": "hose",
                "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": {"Fn::GetAtt": ["Bucket", "Arn"]},
                    "RoleARN": {"Fn::GetAtt": ["Role", "Arn"]},
                    **destination,
                },
            },
        },
    }
    for name, code in (functions or {}).items():
        resources[name] = _function(code)
    return {
        "Resources": resources,
        "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}},
    }


def _processor(function: str, **parameters: str) -> dict[str, Any]:
    params = [{"ParameterName": "LambdaArn", "ParameterValue": {"Fn::GetAtt": [function, "Arn"]}}]
    params += [{"ParameterName": k, "ParameterValue": v} for k, v in parameters.items()]
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": params}]}


def _objects(cloud: LocalCloud, bucket: str) -> dict[str, bytes]:
    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    ordered = sorted(listed, key=lambda o: (o["LastModified"], o["Key"]))
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in ordered}


def _put(cloud: LocalCloud, records: list[bytes]) -> None:
    cloud.client("firehose").put_record_batch(DeliveryStreamName="hose", Records=[{"Data": r} for r in records])


def test_a_buffer_is_written_when_it_reaches_its_size_and_the_rest_when_the_interval_passes(cloud: LocalCloud) -> None:
    # GIVEN a stream buffering 1 MiB or 120 s, with no prefix
    stack = cloud.deploy_template(
        _template({"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 120}}), "SizeAndInterval"
    )
    bucket = stack.outputs["Bucket"]
    chunk = 400 * 1024

    # WHEN 4 records of 400 KiB are put (the third one fills the buffer past 1 MiB)
    put_at = cloud.core.engine.clock()
    _put(cloud, [bytes([65 + n]) * chunk for n in range(4)])
    cloud.drain(timeout=20)

    # THEN the first object holds the three records that filled the buffer, the second the last one,
    # written once the interval passed on the virtual clock (drain moved it, nobody waited)
    bodies = list(_objects(cloud, bucket).items())
    assert [len(body) for _, body in bodies] == [3 * chunk, chunk]
    assert bodies[0][1] == b"A" * chunk + b"B" * chunk + b"C" * chunk
    assert bodies[1][1] == b"D" * chunk
    assert cloud.core.engine.clock() - put_at >= 120
    # AND keys follow <yyyy/MM/dd/HH/><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid> (the default prefix)
    hour = datetime.now(UTC).strftime("%Y/%m/%d/")
    assert all(key.startswith(hour) and "/hose-1-" in key for key, _ in bodies)


def test_nothing_is_written_before_the_interval_passes(cloud: LocalCloud) -> None:
    # GIVEN a stream with a 300 s interval (the default) and a small record put
    stack = cloud.deploy_template(_template({"Prefix": "raw/"}), "Interval")
    bucket = stack.outputs["Bucket"]
    _put(cloud, [b"one", b"two"])

    # WHEN pollers run (no clock skip) THEN nothing is in the bucket yet
    cloud.core.engine.poll_once()
    time.sleep(0.1)
    assert _objects(cloud, bucket) == {}

    # WHEN the clock moves past the interval THEN one object holds both records, under raw/<yyyy/MM/dd/HH>/
    cloud.advance(301)
    cloud.drain(timeout=20)
    objects = _objects(cloud, bucket)
    assert list(objects.values()) == [b"onetwo"]
    year = datetime.fromtimestamp(cloud.core.engine.clock(), UTC).strftime("%Y/")
    assert next(iter(objects)).startswith("raw/" + year)


def test_lambda_processing_results_gzip_and_custom_prefixes(cloud: LocalCloud) -> None:
    # GIVEN a GZIP stream with a transformation, a timestamp prefix and an error output prefix
    destination = {
        "Prefix": "data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/",
        "CompressionFormat": "GZIP",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60},
        "ProcessingConfiguration": _processor("Transform"),
    }
    stack = cloud.deploy_template(_template(destination, {"Transform": TRANSFORM}), "Processing")
    bucket = stack.outputs["Bucket"]

    # WHEN records to keep, drop and fail are put
    _put(cloud, [b"alpha", b"drop-me", b"fail-me", b"beta"])
    cloud.drain(timeout=30)

    # THEN Ok records are delivered transformed and gzipped under the evaluated prefix (.gz objects)
    objects = _objects(cloud, bucket)
    now = datetime.fromtimestamp(time.time(), UTC)
    data = [k for k in objects if k.startswith(f"data/year={now:%Y}/month={now:%m}/")]
    errors = [k for k in objects if k.startswith(f"errors/processing-failed/{now:%Y}/")]
    assert len(data) == 1 and len(errors) == 1 and len(objects) == 2
    assert data[0].endswith(".gz") and errors[0].endswith(".gz")
    assert gzip.decompress(objects[data[0]]) == b"ALPHA\nBETA\n"
    # AND the ProcessingFailed record is an error line with its raw data; the Dropped one is nowhere
    lines = [json.loads(line) for line in gzip.decompress(objects[errors[0]]).splitlines()]
    assert [base64.b64decode(line["rawData"]) for line in lines] == [b"fail-me"]
    assert lines[0]["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert lines[0]["attemptsMade"] == 1 and lines[0]["lambdaArn"].endswith(cloud.function_name("Transform"))
    # AND the function saw Firehose's event shape, once
    (call,) = cloud.invocations("Transform")
    assert {"invocationId", "deliveryStreamArn", "region", "records"} <= set(call.event)
    assert {"recordId", "approximateArrivalTimestamp", "data"} == set(call.event["records"][0])


def test_a_failing_transformation_is_retried_then_every_record_is_a_processing_failure(cloud: LocalCloud) -> None:
    # GIVEN a transformation that always raises, retried once
    destination = {"ErrorOutputPrefix": "failed/", "ProcessingConfiguration": _processor("Broken", NumberOfRetries="1")}
    stack = cloud.deploy_template(_template(destination, {"Broken": BROKEN}), "BrokenProcessing")
    bucket = stack.outputs["Bucket"]

    # WHEN two records are put and drained
    _put(cloud, [b"x", b"y"])
    cloud.drain(timeout=30)

    # THEN the function ran 1 + 1 times and both records are under failed/<yyyy/MM/dd/HH>/, nothing delivered
    assert len(cloud.invocations("Broken")) == 2
    objects = _objects(cloud, bucket)
    assert len(objects) == 1
    key, body = next(iter(objects.items()))
    assert key.startswith("failed/") and not key.endswith(".gz")
    lines = [json.loads(line) for line in body.splitlines()]
    assert [base64.b64decode(line["rawData"]) for line in lines] == [b"x", b"y"]
    assert {line["errorCode"] for line in lines} == {"Lambda.FunctionError"}
    assert {line["attemptsMade"] for line in lines} == {2}
    assert "transformation is down" in lines[0]["errorMessage"]


@pytest.mark.parametrize(
    ("destination", "feature"),
    [
        ({"DynamicPartitioningConfiguration": {"Enabled": True}}, "dynamic partitioning"),
        ({"CompressionFormat": "Snappy"}, "CompressionFormat Snappy"),
        ({"Prefix": "x/!{timestamp:yyyy}/"}, "ErrorOutputPrefix is required"),
        ({"Prefix": "x/!{firehose:error-output-type}/", "ErrorOutputPrefix": "e/"}, "only ErrorOutputPrefix"),
        ({"Prefix": "x/!{timestamp:EEE}/", "ErrorOutputPrefix": "e/"}, "pattern letter"),
    ],
)
def test_fails_at_deploy_if_the_destination_cannot_run_locally_or_is_invalid(
    cloud: LocalCloud, destination: dict[str, Any], feature: str
) -> None:
    with pytest.raises(DeployError, match=rf"AWS::KinesisFirehose::DeliveryStream \S*Hose\S*: .*{feature}"):
        cloud.deploy_template(_template(destination), "Unsupported")


def test_prefix_expressions_evaluate_like_firehose() -> None:
    at = datetime(2018, 8, 27, 10, 30, 15, tzinfo=UTC)
    assert java_time("yyyy/MM/dd/HH", at) == "2018/08/27/10"
    assert java_time("yyyy'-'MM'-'dd'T'HH:mm:ss", at) == "2018-08-27T10:30:15"
    rendered = render_prefix(
        "e/!{firehose:error-output-type}/!{timestamp:yyyy}/!{firehose:random-string}/",
        at=at.timestamp(),
        zone="Asia/Tokyo",
        error_type="processing-failed",
    )
    assert rendered.startswith("e/processing-failed/2018/") and len(rendered.split("/")[3]) == 11
    assert render_prefix("!{timestamp:HH}", at=at.timestamp(), zone="Asia/Tokyo") == "19"


def test_a_stream_created_through_the_api_with_an_unsupported_feature_refuses_records(cloud: LocalCloud) -> None:
    from botocore.exceptions import ClientError

    cloud.client("s3").create_bucket(Bucket="api-hose-bucket")
    firehose = cloud.client("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName="hose",
        ExtendedS3DestinationConfiguration={
            "BucketARN": "arn:aws:s3:::api-hose-bucket",
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "DynamicPartitioningConfiguration": {"Enabled": True},
        },
    )
    with pytest.raises(ClientError, match=r"InvalidArgumentException.*dynamic partitioning"):
        _put(cloud, [b"x"])
