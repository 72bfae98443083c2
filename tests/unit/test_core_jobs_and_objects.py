"""Rung 1 for the core pieces FanOutFanIn and MapReduce share: jobs tables and their status trigger
(core.jobs), object-level S3 grants (core.objects) and S3 notifications (core.notifications)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from patterns import core
from tests.conftest import new_app

STREAM = "arn:aws:dynamodb:us-east-1:111122223333:table/jobs/stream/2026-11-23T00:00:00.000"


def _function(stack: Stack, name: str = "Fn") -> lambda_.Function:
    return core.python_function(stack, name, code=lambda_.Code.from_inline("x=1"), handler="index.handler",
                                service=name, invocation="sqs")


def _statements(stack: Stack, function: lambda_.Function) -> list[dict[str, Any]]:
    role = {"Ref": stack.get_logical_id(function.role.node.default_child)}  # type: ignore[union-attr]
    return [s for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
            if role in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _violations(stack: Stack) -> list[str]:
    packs = (AwsSolutionsChecks, ServerlessChecks)
    return [v.rule_name for pack in packs for v in pack().validate_scope(stack).violations]


# --- core.jobs -------------------------------------------------------------------------------------


def test_jobs_table_is_keyed_by_job_id_and_streams_new_images_when_asked() -> None:
    app = new_app()
    plain, streamed = Stack(app, "Plain"), Stack(app, "Streamed")
    core.jobs_table(plain)
    core.jobs_table(streamed, stream=True)
    for stack, stream in ((plain, None), (streamed, {"StreamViewType": "NEW_IMAGE"})):
        [table] = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
        assert table["Properties"]["KeySchema"] == [{"AttributeName": core.JOB_KEY, "KeyType": "HASH"}]
        assert table["Properties"].get("StreamSpecification") == stream


def test_jobs_table_accepts_an_existing_table_with_a_stream_and_creates_none() -> None:
    stack = Stack(new_app(), "Existing")
    existing = ddb.Table.from_table_attributes(stack, "Jobs", table_name="jobs", table_stream_arn=STREAM)
    assert core.jobs_table(stack, stream=True, existing_table=existing) is existing
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 0)


def test_fails_if_an_existing_jobs_table_has_no_stream_but_one_is_needed() -> None:
    stack = Stack(new_app(), "NoStream")
    existing = ddb.Table.from_table_name(stack, "Jobs", "jobs")
    with pytest.raises(ValueError, match="existing_jobs_table has no stream"):
        core.jobs_table(stack, stream=True, existing_table=existing)
    assert core.jobs_table(stack, existing_table=existing) is existing  # fine without a trigger


def test_on_job_status_filters_the_stream_to_one_status_with_bisect_retries_and_on_failure() -> None:
    stack = Stack(new_app(), "Trigger")
    table = core.jobs_table(stack, stream=True)
    dlq = core.dead_letter_queue(stack, "Failed", purpose="the test stream")
    core.on_job_status(_function(stack), table, status="ready", on_failure=dlq, batch_size=5)
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert json.loads(props["FilterCriteria"]["Filters"][0]["Pattern"]) == {
        "eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["ready"]}}},
    }
    assert (props["BatchSize"], props["BisectBatchOnFunctionError"], props["MaximumRetryAttempts"]) == (5, True, 3)
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [stack.get_logical_id(dlq.node.default_child), "Arn"]}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"status": ""}, "status must name the job status"),
    ({"status": "x", "batch_size": 0}, r"batch_size must be between 1 and 10000 \(given 0\)"),
    ({"status": "x", "retry_attempts": -1}, r"retry_attempts must be between 0 and 10000 \(given -1\)"),
])
def test_fails_if_on_job_status_is_misconfigured(kwargs: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Bad")
    with pytest.raises(ValueError, match=message):
        core.on_job_status(_function(stack), core.jobs_table(stack, stream=True),
                           on_failure=core.dead_letter_queue(stack, "D", purpose="a test"), **kwargs)


# --- core.objects ----------------------------------------------------------------------------------


def test_object_grants_are_one_action_on_a_key_pattern_and_pass_nag() -> None:
    stack = Stack(new_app(), "Objects")
    bucket = core.bucket(stack, "Data", server_access_logs=core.access_log_bucket(stack))
    imported = s3.Bucket.from_bucket_name(stack, "Imported", "shared-data")
    fn = _function(stack)
    core.grant_object_read(bucket, fn, list_bucket=True, why="the test reads any object")
    core.grant_object_write(imported, fn, "out/*.json", why="the test writes its results")
    grants = [(s["Action"], s["Resource"]) for s in _statements(stack, fn) if str(s["Action"]).startswith("s3:")]
    arn = {"Fn::GetAtt": [stack.get_logical_id(bucket.node.default_child), "Arn"]}
    assert grants == [
        ("s3:GetObject", {"Fn::Join": ["", [arn, "/*"]]}),
        ("s3:ListBucket", arn),
        ("s3:PutObject", {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::shared-data/out/*.json"]]}),
    ]
    assert _violations(stack) == []  # both wildcard resources acknowledged on the role


def test_object_grants_include_the_bucket_key() -> None:
    stack = Stack(new_app(), "Kms")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket.from_bucket_attributes(stack, "Encrypted", bucket_name="encrypted", encryption_key=key)
    reader, writer = _function(stack, "Reader"), _function(stack, "Writer")
    core.grant_object_read(bucket, reader, why="the test reads")
    core.grant_object_write(bucket, writer, why="the test writes")
    key_actions = {name: {a for s in _statements(stack, fn) if str(s["Action"]).count("kms:")
                          for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
                   for name, fn in (("reader", reader), ("writer", writer))}
    assert "kms:Decrypt" in key_actions["reader"] and "kms:Encrypt" not in key_actions["reader"]
    assert {"kms:Encrypt", "kms:GenerateDataKey*"} <= key_actions["writer"]


def test_fails_if_the_key_pattern_is_empty() -> None:
    stack = Stack(new_app(), "Empty")
    with pytest.raises(ValueError, match="key_pattern must not be empty"):
        core.grant_object_read(s3.Bucket.from_bucket_name(stack, "B", "bkt"), _function(stack), "", why="a test")


# --- core.notifications ----------------------------------------------------------------------------


def test_bucket_notification_wires_the_destination_and_acknowledges_cdks_handler() -> None:
    stack = Stack(new_app(), "Notify")
    bucket = core.bucket(stack, "Data", server_access_logs=core.access_log_bucket(stack))
    queue = core.queue_with_dlq(stack, "Queue").queue
    core.bucket_notification(bucket, s3n.SqsDestination(queue), s3.NotificationKeyFilter(suffix=".txt"))
    [config] = Template.from_stack(stack).find_resources("Custom::S3BucketNotifications").values()
    assert config["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0]["Filter"] == {
        "Key": {"FilterRules": [{"Name": "suffix", "Value": ".txt"}]}}
    assert stack.node.try_find_child(core.notifications.NOTIFICATIONS_HANDLER_ID) is not None
    assert _violations(stack) == []
