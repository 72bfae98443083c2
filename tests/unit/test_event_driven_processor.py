"""Rung 1 for CATALOG 11 EventDrivenProcessor: the template properties that make the S3 → SQS →
processor → output bucket pipeline correct and safe, every validation error, every existing_* path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match

from patterns import core
from patterns.event_driven_processor import EventDrivenProcessor
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, objects, synth

INPUT = "shared-uploads"
OUTPUT = "shared-results"


@dataclass
class Built(_helpers.Built[EventDrivenProcessor]):
    role: iam.Role | None = None

    def notifications(self) -> list[dict[str, Any]]:
        return [r["Properties"] for r in self.resources("Custom::S3BucketNotifications").values()]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, make: Any = None, **props: Any) -> Built:
        stack = Stack(app, name)
        extra = make(stack) if make else {}
        stacks[name] = Built(stack, EventDrivenProcessor(stack, "Encoder", **props, **extra))
        return stacks[name]

    add("Default")
    add(
        "Filtered", prefix="in/", suffix=".txt", output_prefix="out/", batch_size=5, max_receive_count=3,
        reserved_concurrency=4, max_concurrency=3, idempotency_ttl=Duration.hours(2),
        function_options=core.FunctionOptions(timeout=Duration.seconds(20), environment={"EXTRA": "1"}),
    )
    add("Existing", lambda s: {
        "existing_input_bucket": s3.Bucket.from_bucket_name(s, "In", INPUT),
        "existing_output_bucket": s3.Bucket.from_bucket_name(s, "Out", OUTPUT),
    })

    def same(stack: Stack) -> dict[str, Any]:
        bucket = s3.Bucket.from_bucket_name(stack, "Shared", INPUT)
        return {"existing_input_bucket": bucket, "existing_output_bucket": bucket}

    add("SameBucket", same, prefix="incoming/", output_prefix="processed/")
    add(
        "Swap", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )
    add(
        "Props", input_bucket_props={"versioned": False}, output_bucket_props={"lifecycle_rules": [
            s3.LifecycleRule(expiration=Duration.days(30))
        ]}, queue_props={"retention_period": Duration.days(2)},
    )
    grants = add("Grants", prefix="in/", output_prefix="out/")
    grants.role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_upload(grants.role)
    grants.pattern.grant_read_output(grants.role)
    return synth(stacks)


# --- resources and wiring -----------------------------------------------------------------------


def test_creates_two_buckets_a_log_bucket_a_queue_pair_a_processor_and_four_alarms(built) -> None:
    b = built["Default"]
    t = b.template
    t.resource_count_is("AWS::S3::Bucket", 3)
    t.resource_count_is("AWS::SQS::Queue", 2)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.resource_count_is("Custom::S3BucketNotifications", 1)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    # the processor and CDK's singleton notifications handler
    t.resource_count_is("AWS::Lambda::Function", 2)
    assert set(b.pattern.alarms) == {
        "ProcessorErrors", "ProcessorThrottles", "QueueOldestMessage", "DeadLetterQueueDepth",
    }


def test_input_bucket_notifies_the_queue_of_created_objects_only(built) -> None:
    b = built["Default"]
    (notification,) = b.notifications()
    assert notification["BucketName"] == b.ref(b.pattern.input_bucket)
    assert notification["NotificationConfiguration"] == {
        "QueueConfigurations": [{"Events": ["s3:ObjectCreated:*"], "QueueArn": b.arn(b.pattern.queue)}]
    }
    assert notification["Managed"] is True


def test_prefix_and_suffix_filter_the_notification(built) -> None:
    b = built["Filtered"]
    (notification,) = b.notifications()
    (config,) = notification["NotificationConfiguration"]["QueueConfigurations"]
    rules = {r["Name"]: r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "in/", "suffix": ".txt"}


def test_only_s3_from_the_input_bucket_may_send_to_the_queue(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::SQS::QueuePolicy", {
        "Queues": [b.ref(b.pattern.queue)],
        "PolicyDocument": {"Statement": Match.array_with([{
            "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Condition": {"ArnLike": {"aws:SourceArn": b.arn(b.pattern.input_bucket)}},
            "Resource": b.arn(b.pattern.queue),
        }])},
    })
    # the notification is written only once the queue accepts it (else S3 rejects the configuration)
    (resource,) = b.resources("Custom::S3BucketNotifications").values()
    (policy_id,) = [
        k for k, r in b.resources("AWS::SQS::QueuePolicy").items()
        if r["Properties"]["Queues"] == [b.ref(b.pattern.queue)]
    ]
    assert policy_id in resource["DependsOn"]


def test_queue_redrives_to_the_dlq_and_outlasts_the_processor(built) -> None:
    for name, receives, visibility in (("Default", core.MAX_RECEIVE_COUNT, 60), ("Filtered", 3, 120)):
        b = built[name]
        props = b.props(b.pattern.queue)
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": b.arn(b.pattern.dead_letter_queue), "maxReceiveCount": receives,
        }
        assert props["VisibilityTimeout"] == visibility  # 6x the processor timeout
        assert props["SqsManagedSseEnabled"] is True
        assert b.props(b.pattern.dead_letter_queue)["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_event_source_reports_batch_item_failures(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": b.arn(b.pattern.queue),
        "FunctionName": b.ref(b.pattern.function),
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    f = built["Filtered"]
    f.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 5, "ScalingConfig": {"MaximumConcurrency": 3},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    assert f.props(f.pattern.function)["ReservedConcurrentExecutions"] == 4


def test_processor_environment_names_output_and_idempotency(built) -> None:
    b = built["Default"]
    env = b.props(b.pattern.function)["Environment"]["Variables"]
    assert env["OUTPUT_BUCKET"] == b.ref(b.pattern.output_bucket)
    assert env["OUTPUT_PREFIX"] == ""
    assert env["IDEMPOTENCY_TABLE_NAME"] == b.ref(b.pattern.idempotency_table)
    assert env["IDEMPOTENCY_TTL_SECONDS"] == "3600"
    assert b.props(b.pattern.function)["Handler"] == "processor.handler"
    f = built["Filtered"]
    env = f.props(f.pattern.function)["Environment"]["Variables"]
    assert (env["OUTPUT_PREFIX"], env["IDEMPOTENCY_TTL_SECONDS"], env["EXTRA"]) == ("out/", "7200", "1")
    assert f.props(f.pattern.function)["Timeout"] == 20


def test_processor_reads_only_notified_keys_and_writes_only_under_output_prefix(built) -> None:
    for name, read, write in (("Default", "*", "*"), ("Filtered", "in/*", "out/*")):
        b = built[name]
        statements = b.statements(b.pattern.function.role)
        s3_statements = [s for s in statements if any(a.startswith("s3:") for a in action_set(s))]
        assert sorted((sorted(action_set(s)), s["Resource"]) for s in s3_statements) == sorted([
            (["s3:GetObject"], objects(b.arn(b.pattern.input_bucket), read)),
            (["s3:PutObject"], objects(b.arn(b.pattern.output_bucket), write)),
        ], key=str)
        on_table = [s for s in statements if s["Resource"] == b.arn(b.pattern.idempotency_table)]
        assert action_set(on_table[0]) == set(core.tables.IDEMPOTENCY_ACTIONS)


def test_buckets_are_private_encrypted_versioned_and_access_logged(built) -> None:
    b = built["Default"]
    logs_ref = b.ref(b.pattern.access_log_bucket)
    for bucket in (b.pattern.input_bucket, b.pattern.output_bucket):
        props = b.props(bucket)
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"
        }
        assert props["LoggingConfiguration"]["DestinationBucketName"] == logs_ref


def test_bucket_and_queue_props_are_applied(built) -> None:
    b = built["Props"]
    assert "VersioningConfiguration" not in b.props(b.pattern.input_bucket)
    assert b.props(b.pattern.output_bucket)["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30
    assert b.props(b.pattern.queue)["MessageRetentionPeriod"] == 2 * 24 * 3600


def test_grants_give_object_level_access_under_the_prefixes(built) -> None:
    b = built["Grants"]
    statements = b.statements(b.role)
    assert sorted((sorted(action_set(s)), s["Resource"]) for s in statements) == sorted([
        (["s3:PutObject"], objects(b.arn(b.pattern.input_bucket), "in/*")),
        (["s3:GetObject"], objects(b.arn(b.pattern.output_bucket), "out/*")),
    ], key=str)


# --- existing resources and handler swap ---------------------------------------------------------


def test_existing_buckets_are_used_and_no_bucket_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::S3::Bucket", 0)
    assert b.pattern.access_log_bucket is None
    (notification,) = b.notifications()
    assert notification["BucketName"] == INPUT
    assert notification["Managed"] is False  # an imported bucket keeps its other notifications
    assert b.props(b.pattern.function)["Environment"]["Variables"]["OUTPUT_BUCKET"] == OUTPUT
    resources = {str(s["Resource"]) for s in b.statements(b.pattern.function.role) if "s3:GetObject" in action_set(s)}
    assert any(f":s3:::{INPUT}/*" in r for r in resources)
    resources = {str(s["Resource"]) for s in b.statements(b.pattern.function.role) if "s3:PutObject" in action_set(s)}
    assert any(f":s3:::{OUTPUT}/*" in r for r in resources)
    s3_sends = [
        s for policy in b.resources("AWS::SQS::QueuePolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "s3.amazonaws.com"}
    ]
    assert len(s3_sends) == 1 and f":s3:::{INPUT}" in str(s3_sends[0]["Condition"]["ArnLike"]["aws:SourceArn"])


def test_one_bucket_can_be_input_and_output_with_disjoint_prefixes(built) -> None:
    b = built["SameBucket"]
    b.template.resource_count_is("AWS::S3::Bucket", 0)
    (notification,) = b.notifications()
    assert notification["BucketName"] == INPUT
    assert b.props(b.pattern.function)["Environment"]["Variables"]["OUTPUT_BUCKET"] == INPUT


def test_handler_code_and_handler_can_be_swapped(built) -> None:
    b = built["Swap"]
    props = b.props(b.pattern.function)
    assert props["Handler"] == "index.handler"
    assert "batchItemFailures" in props["Code"]["ZipFile"]
    b.template.resource_count_is("AWS::SQS::Queue", 2)
    b.template.resource_count_is("Custom::S3BucketNotifications", 1)


# --- validation ----------------------------------------------------------------------------------


def _stack() -> Stack:
    return Stack(new_app(), "Invalid")


def _build(**props: Any) -> EventDrivenProcessor:
    return EventDrivenProcessor(_stack(), "Encoder", **props)


def test_fails_if_existing_input_bucket_and_input_bucket_props_are_both_given() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="existing_input_bucket and input_bucket_props cannot both be set"):
        EventDrivenProcessor(
            stack, "E", input_bucket_props={},
            existing_input_bucket=s3.Bucket.from_bucket_name(stack, "B", "some-bucket"),
        )


def test_fails_if_existing_output_bucket_and_output_bucket_props_are_both_given() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="existing_output_bucket and output_bucket_props cannot both be set"):
        EventDrivenProcessor(
            stack, "E", output_bucket_props={},
            existing_output_bucket=s3.Bucket.from_bucket_name(stack, "B", "some-bucket"),
        )


@pytest.mark.parametrize(("prefix", "output_prefix"), [
    (None, ""), ("incoming/", ""), ("incoming/", "incoming/done/"), ("data/in", "data/"),
])
def test_fails_if_output_could_trigger_the_processor_again(prefix: str | None, output_prefix: str) -> None:
    stack = _stack()
    bucket = s3.Bucket.from_bucket_name(stack, "B", "one-bucket")
    with pytest.raises(ValueError, match=r"same bucket .* prefixes overlap .*recursive loop"):
        EventDrivenProcessor(
            stack, "E", existing_input_bucket=bucket, existing_output_bucket=bucket,
            prefix=prefix, output_prefix=output_prefix,
        )


def test_fails_if_input_and_output_are_the_same_bucket_imported_twice() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="recursive loop"):
        EventDrivenProcessor(
            stack, "E", existing_input_bucket=s3.Bucket.from_bucket_name(stack, "A", "one-bucket"),
            existing_output_bucket=s3.Bucket.from_bucket_name(stack, "B", "one-bucket"),
        )


@pytest.mark.parametrize("value", ["", "x" * 1025])
def test_fails_if_a_filter_is_empty_or_too_long(value: str) -> None:
    with pytest.raises(ValueError, match=r"prefix must be 1 to 1024 characters, or None"):
        _build(prefix=value)
    with pytest.raises(ValueError, match=r"suffix must be 1 to 1024 characters, or None"):
        _build(suffix=value)


def test_fails_if_the_idempotency_ttl_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"idempotency_ttl \(seconds\) must be between 60 and 2.592e\+06 \(given 30"):
        _build(idempotency_ttl=Duration.seconds(30))


def test_fails_if_function_environment_sets_a_reserved_variable() -> None:
    options = core.FunctionOptions(environment={"OUTPUT_BUCKET": "elsewhere", "MINE": "1"})
    with pytest.raises(ValueError, match=r"function_options\.environment\['OUTPUT_BUCKET'\] is set by the pattern"):
        _build(function_options=options)


@pytest.mark.parametrize(("props", "message"), [
    ({"batch_size": 0}, r"batch_size must be between 1 and 10000 \(given 0\)"),
    ({"batch_size": 11}, r"batch_size above 10 needs max_batching_window .*\(given 11\)"),
    ({"max_receive_count": 0}, r"max_receive_count must be between 1 and 1000 \(given 0\)"),
    ({"reserved_concurrency": 1}, r"reserved_concurrency must be at least 2 with an SQS event source \(given 1\)"),
    ({"reserved_concurrency": 2, "max_concurrency": 3}, r"max_concurrency \(3\) cannot exceed reserved_concurrency"),
    ({"queue_props": {"fifo": True}}, r"queue_props\['fifo'\] is set by the pattern"),
    ({"queue_props": {"visibility_timeout": Duration.seconds(30)}}, r"visibility timeout \(30 s\) must be at least 6x"),
    ({"input_bucket_props": {"enforce_ssl": False}}, r"input_bucket_props\['enforce_ssl'\] is set by the pattern"),
])
def test_fails_if_queue_batching_or_bucket_props_are_unsafe(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**props)
