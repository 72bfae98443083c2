"""Rung 1 for CATALOG 23 RealtimeAnalytics: the template properties that make the stream → tumbling-window
aggregator → results table + alert topic correct and safe, every validation error, every existing_* path."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from patterns import core
from patterns.realtime_analytics import RealtimeAnalytics
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/readings"
TABLE = "shared-window-totals"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops-alerts"

Built = _helpers.Built[RealtimeAnalytics]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> Built:
        stack = Stack(app, name)
        props.setdefault("alert_threshold", 100)
        stacks[name] = Built(stack, RealtimeAnalytics(stack, "Analytics", **_helpers.with_existing(stack, props)))
        return stacks[name]

    add("Default")
    add(
        "Tuned", alert_threshold=2.5, window=Duration.seconds(30), key_field="sensor", value_field="reading",
        batch_size=25, retry_attempts=1, max_record_age=Duration.minutes(10), stream_props={"shard_count": 2},
        results_table_props={"deletion_protection": True},
        function_options=core.FunctionOptions(environment={"EXTRA": "1"}),
    )
    add(
        "Existing",
        existing_stream=lambda s: kinesis.Stream.from_stream_arn(s, "In", STREAM_ARN),
        existing_results_table=lambda s: ddb.Table.from_table_name(s, "Totals", TABLE),
        existing_alert_topic=lambda s: sns.Topic.from_topic_arn(s, "Alerts", TOPIC_ARN),
    )
    add(
        "Swap", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'state': {}}\n"),
    )
    grants = add("Grants")
    role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_put_records(role)
    grants.pattern.grant_read_results(role)
    return synth(stacks)


def test_creates_a_stream_a_table_a_topic_a_queue_a_function_and_four_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Kinesis::Stream", 1)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.resource_count_is("AWS::SQS::Queue", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    assert set(built["Default"].pattern.alarms) == {
        "AggregatorErrors", "AggregatorThrottles", "OnFailureQueueDepth", "AggregatorIteratorAge",
    }


def test_the_event_source_has_a_tumbling_window_bisects_and_names_an_on_failure_queue(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": b.arn(b.pattern.stream),
        "FunctionName": b.ref(b.pattern.function),
        "TumblingWindowInSeconds": 300,
        "BatchSize": 100,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": core.streams.RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": 3600,
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": b.arn(b.pattern.on_failure_queue)}},
    })
    built["Tuned"].template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "TumblingWindowInSeconds": 30, "BatchSize": 25, "MaximumRetryAttempts": 1, "MaximumRecordAgeInSeconds": 600,
    })


def test_the_results_table_keys_on_window_start_and_key_and_the_topic_is_encrypted(built) -> None:
    b = built["Default"]
    props = b.props(b.pattern.results_table)
    assert props["KeySchema"] == [
        {"AttributeName": "window_start", "KeyType": "HASH"}, {"AttributeName": "key", "KeyType": "RANGE"},
    ]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "KmsMasterKeyId" in b.props(b.pattern.alert_topic)
    assert built["Tuned"].props(built["Tuned"].pattern.results_table)["DeletionProtectionEnabled"] is True


def test_the_function_knows_its_table_topic_threshold_and_fields_and_may_only_write_them(built) -> None:
    b = built["Default"]
    env = b.env(b.pattern.function)
    assert {k: v for k, v in env.items() if not k.startswith("POWERTOOLS_")} == {
        "RESULTS_TABLE_NAME": b.ref(b.pattern.results_table),
        "ALERT_TOPIC_ARN": b.ref(b.pattern.alert_topic),
        "ALERT_THRESHOLD": "100",
        "KEY_FIELD": "key",
        "VALUE_FIELD": "value",
    }
    assert b.props(b.pattern.function)["Handler"] == "aggregate.handler"
    statements = b.statements(b.pattern.function.role)
    dynamodb = {a for s in statements for a in action_set(s) if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}
    assert any(action_set(s) == {"sns:Publish"} and s["Resource"] == b.ref(b.pattern.alert_topic) for s in statements)
    tuned = built["Tuned"].env(built["Tuned"].pattern.function)
    assert (tuned["ALERT_THRESHOLD"], tuned["KEY_FIELD"], tuned["VALUE_FIELD"], tuned["EXTRA"]) == (
        "2.5", "sensor", "reading", "1",
    )


def test_existing_stream_table_and_topic_are_used_and_nothing_replaces_them(built) -> None:
    b = built["Existing"]
    for kind in ("AWS::Kinesis::Stream", "AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::KMS::Key"):
        b.template.resource_count_is(kind, 0)
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": STREAM_ARN})
    env = b.env(b.pattern.function)
    assert (env["RESULTS_TABLE_NAME"], env["ALERT_TOPIC_ARN"]) == (TABLE, TOPIC_ARN)


def test_swapped_handler_code_keeps_the_wiring(built) -> None:
    b = built["Swap"]
    props = b.props(b.pattern.function)
    assert props["Handler"] == "index.handler" and "ZipFile" in props["Code"]
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"TumblingWindowInSeconds": 300})


def test_grants_put_records_and_read_the_results(built) -> None:
    b = built["Grants"]
    client = [
        s for p in b.resources("AWS::IAM::Policy").values()
        if any("Client" in str(r) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in client for a in action_set(s)}
    assert {"kinesis:PutRecord", "kinesis:PutRecords", "dynamodb:GetItem", "dynamodb:Query"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "sns:Publish"} & actions


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_stream": lambda s: kinesis.Stream.from_stream_arn(s, "S", STREAM_ARN), "stream_props": {}},
         "existing_stream.*stream_props"),
        ({"existing_results_table": lambda s: ddb.Table.from_table_name(s, "T", TABLE), "results_table_props": {}},
         "existing_results_table.*results_table_props"),
        ({"existing_results_table": lambda s: ddb.Table(
            s, "Wrong", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING))}, "window_start"),
        ({"results_table_props": {"sort_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}}, "sort_key"),
        ({"window": Duration.seconds(0)}, "window"),
        ({"window": Duration.seconds(901)}, "window"),
        ({"key_field": ""}, "key_field"),
        ({"value_field": "a.b"}, "value_field"),
        ({"key_field": "v", "value_field": "v"}, "must differ"),
        ({"alert_threshold": "100"}, "alert_threshold"),
        ({"alert_threshold": True}, "alert_threshold"),
        ({"batch_size": 0}, "batch_size"),
        ({"stream_props": {"encryption": kinesis.StreamEncryption.UNENCRYPTED}}, "UNENCRYPTED"),
        ({"function_options": core.FunctionOptions(environment={"ALERT_THRESHOLD": "1"})}, "ALERT_THRESHOLD"),
    ],
    ids=["stream-both", "table-both", "existing-table-keys", "table-key", "window-zero", "window-long", "key-empty",
         "value-dotted", "same-fields", "threshold-text", "threshold-bool", "batch-zero", "unencrypted",
         "reserved-env"],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    props.setdefault("alert_threshold", 100)
    with pytest.raises(ValueError, match=message):
        RealtimeAnalytics(stack, "Analytics", **_helpers.with_existing(stack, props))
