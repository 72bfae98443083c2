"""S3 event notifications (CDK's Custom::S3BucketNotifications and the bucket property) with filters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

RECORDER = """
def handler(event, context):
    return [r["s3"]["object"]["key"] for r in event["Records"]]
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("s3")
    code = write_handler(root / "recorder", {"app.py": RECORDER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_s3 as s3
        from aws_cdk import aws_s3_notifications as notifications
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "S3Stack")
        bucket = s3.Bucket(stack, "Uploads", auto_delete_objects=True, removal_policy=cdk.RemovalPolicy.DESTROY)
        queue = sqs.Queue(stack, "Incoming")
        recorder = python_function(stack, "Recorder", code)
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            notifications.LambdaDestination(recorder),
            s3.NotificationKeyFilter(suffix=".jpg"),
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, notifications.SqsDestination(queue), s3.NotificationKeyFilter(prefix="in/")
        )
        cdk.CfnOutput(stack, "BucketName", value=bucket.bucket_name)
        cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)

    return synth(root / "cdk.out", build)


def test_uploads_notify_lambda_and_queue_through_their_key_filters(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a bucket notifying a function for *.jpg and a queue for in/*
    stack = cloud.deploy(assembly, "S3Stack")
    bucket = stack.outputs["BucketName"]
    s3 = cloud.client("s3")

    # WHEN objects are uploaded
    for key in ("in/cat.jpg", "in/notes.txt", "out/dog.jpg", "other.png"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 3)
    cloud.drain(timeout=20)

    # THEN the function got the .jpg uploads, asynchronously, as AWS-shaped S3 events
    calls = cloud.invocations("Recorder")
    assert sorted(key for i in calls for key in i.result) == ["in/cat.jpg", "out/dog.jpg"]
    record = calls[0].event["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == bucket and record["s3"]["object"]["size"] == 3
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    assert "sequencer" in record["s3"]["object"]
    # AND the queue got the in/ uploads (after the s3:TestEvent AWS sends when notifications are set)
    bodies = [json.loads(m["Body"]) for m in messages(cloud, stack.outputs["QueueUrl"])]
    assert [b["Event"] for b in bodies if "Event" in b] == ["s3:TestEvent"]
    keys = sorted(b["Records"][0]["s3"]["object"]["key"] for b in bodies if "Records" in b)
    assert keys == ["in/cat.jpg", "in/notes.txt"]


def test_auto_delete_objects_empties_the_bucket_on_destroy(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a deployed bucket with objects (its auto-delete custom resource runs natively)
    stack = cloud.deploy(assembly, "S3Stack")
    bucket = stack.outputs["BucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key="a.txt", Body=b"a")

    # WHEN the stack is destroyed
    cloud.destroy("S3Stack")

    # THEN the bucket is gone with its objects
    names = [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]]
    assert bucket not in names


def test_bucket_notification_configuration_property_is_applied(cloud: LocalCloud) -> None:
    # GIVEN a bucket whose CloudFormation NotificationConfiguration sends *.csv uploads to a queue
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "NotificationConfiguration": {
                        "QueueConfigurations": [
                            {
                                "Event": "s3:ObjectCreated:*",
                                "Queue": {"Fn::GetAtt": ["Queue", "Arn"]},
                                "Filter": {"S3Key": {"Rules": [{"Name": "Suffix", "Value": ".csv"}]}},
                            }
                        ]
                    }
                },
            },
        },
        "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}, "Queue": {"Value": {"Ref": "Queue"}}},
    }
    stack = cloud.deploy_template(template, "PlainBucket")

    # WHEN a csv and a txt file are uploaded
    for key in ("report.csv", "notes.txt"):
        cloud.client("s3").put_object(Bucket=stack.outputs["Bucket"], Key=key, Body=b"1")

    # THEN only the csv upload was notified (after the configuration's s3:TestEvent)
    bodies = [json.loads(m["Body"]) for m in messages(cloud, stack.outputs["Queue"])]
    assert [b["Records"][0]["s3"]["object"]["key"] for b in bodies if "Records" in b] == ["report.csv"]
