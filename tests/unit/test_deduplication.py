"""Rung 1 for CATALOG 24 Deduplication: the template properties that make the stream → dedup function →
window table + store correct and safe, every validation error, every existing_* path."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_

from patterns import core
from patterns.deduplication import Deduplication
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/producer-events"
STORE = "shared-store"

Built = _helpers.Built[Deduplication]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> Built:
        stack = Stack(app, name)
        stacks[name] = Built(stack, Deduplication(stack, "Dedup", **_helpers.with_existing(stack, props)))
        return stacks[name]

    add("Default")
    add(
        "Tuned", dedup_window=Duration.minutes(10), id_field="order_id", batch_size=25, retry_attempts=1,
        max_record_age=Duration.minutes(30), parallelization_factor=4,
        stream_props={"shard_count": 2}, store_table_props={"deletion_protection": True},
        window_table_props={"contributor_insights_enabled": True},
        function_options=core.FunctionOptions(environment={"EXTRA": "1"}),
    )
    add(
        "Existing",
        existing_stream=lambda s: kinesis.Stream.from_stream_arn(s, "In", STREAM_ARN),
        existing_store_table=lambda s: ddb.Table.from_table_name(s, "Store", STORE),
    )
    add(
        "Swap", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )
    grants = add("Grants")
    role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_put_events(role)
    grants.pattern.grant_read_store(role)
    return synth(stacks)


def test_creates_a_stream_two_tables_an_on_failure_queue_a_function_and_four_alarms(built) -> None:
    b = built["Default"]
    t = b.template
    t.resource_count_is("AWS::Kinesis::Stream", 1)
    t.resource_count_is("AWS::DynamoDB::Table", 2)
    t.resource_count_is("AWS::SQS::Queue", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    assert set(b.pattern.alarms) == {"DedupErrors", "DedupThrottles", "OnFailureQueueDepth", "DedupIteratorAge"}


def test_the_stream_is_encrypted_with_one_shard_by_default(built) -> None:
    props = built["Default"].props(built["Default"].pattern.stream)
    assert props["ShardCount"] == 1
    assert props["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert built["Tuned"].props(built["Tuned"].pattern.stream)["ShardCount"] == 2


def test_the_window_table_expires_claims_through_ttl_and_both_tables_key_on_event_id(built) -> None:
    b = built["Default"]
    window, store = b.props(b.pattern.window_table), b.props(b.pattern.store_table)
    assert window["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert "TimeToLiveSpecification" not in store
    for props in (window, store):
        assert props["KeySchema"] == [{"AttributeName": "event_id", "KeyType": "HASH"}]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
    t = built["Tuned"]
    assert t.props(t.pattern.store_table)["DeletionProtectionEnabled"] is True
    assert t.props(t.pattern.window_table)["ContributorInsightsSpecification"] == {"Enabled": True}


def test_the_event_source_bisects_retries_a_bounded_number_of_times_and_names_an_on_failure_queue(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": b.arn(b.pattern.stream),
        "FunctionName": b.ref(b.pattern.function),
        "BatchSize": 100,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": core.streams.RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": 3600,
        "ParallelizationFactor": 1,
        "StartingPosition": "TRIM_HORIZON",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": b.arn(b.pattern.on_failure_queue)}},
    })
    t = built["Tuned"]
    t.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 25, "MaximumRetryAttempts": 1, "MaximumRecordAgeInSeconds": 1800, "ParallelizationFactor": 4,
    })


def test_the_function_knows_its_tables_window_and_id_field(built) -> None:
    b = built["Default"]
    assert b.env(b.pattern.function) == {
        "WINDOW_TABLE_NAME": b.ref(b.pattern.window_table),
        "STORE_TABLE_NAME": b.ref(b.pattern.store_table),
        "DEDUP_WINDOW_SECONDS": "86400",
        "EVENT_ID_FIELD": "id",
        **{k: v for k, v in b.env(b.pattern.function).items() if k.startswith("POWERTOOLS_")},
    }
    assert b.props(b.pattern.function)["Handler"] == "dedup.handler"
    t = built["Tuned"]
    env = t.env(t.pattern.function)
    assert (env["DEDUP_WINDOW_SECONDS"], env["EVENT_ID_FIELD"], env["EXTRA"]) == ("600", "order_id", "1")


def test_the_function_may_put_claims_and_update_the_store_only(built) -> None:
    b = built["Default"]
    statements = b.statements(b.pattern.function.role)
    on = {
        key: [s for s in statements if s["Resource"] == b.arn(table)]
        for key, table in (("window", b.pattern.window_table), ("store", b.pattern.store_table))
    }
    assert [action_set(s) for s in on["window"]] == [{"dynamodb:PutItem"}]
    assert [action_set(s) for s in on["store"]] == [{"dynamodb:UpdateItem"}]
    dynamodb = {a for s in statements for a in action_set(s) if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_existing_stream_and_store_are_used_and_nothing_replaces_them(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::Kinesis::Stream", 0)
    b.template.resource_count_is("AWS::DynamoDB::Table", 1)  # the window table only
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": STREAM_ARN})
    env = b.env(b.pattern.function)
    assert env["STORE_TABLE_NAME"] == STORE
    statements = b.statements(b.pattern.function.role)
    assert any(action_set(s) == {"dynamodb:UpdateItem"} and STORE in str(s["Resource"]) for s in statements)


def test_swapped_handler_code_keeps_the_wiring(built) -> None:
    b = built["Swap"]
    props = b.props(b.pattern.function)
    assert props["Handler"] == "index.handler" and "ZipFile" in props["Code"]
    b.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)


def test_grants_put_events_and_read_the_store(built) -> None:
    b = built["Grants"]
    client = [
        s for p in b.resources("AWS::IAM::Policy").values()
        if any("Client" in str(r) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in client for a in action_set(s)}
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} <= actions
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_stream": lambda s: kinesis.Stream.from_stream_arn(s, "S", STREAM_ARN), "stream_props": {}},
         "existing_stream.*stream_props"),
        ({"existing_store_table": lambda s: ddb.Table.from_table_name(s, "T", STORE), "store_table_props": {}},
         "existing_store_table.*store_table_props"),
        ({"dedup_window": Duration.seconds(30)}, "dedup_window"),
        ({"dedup_window": Duration.days(400)}, "dedup_window"),
        ({"id_field": ""}, "id_field"),
        ({"id_field": "a.b"}, "id_field"),
        ({"batch_size": 0}, "batch_size"),
        ({"parallelization_factor": 11}, "parallelization_factor"),
        ({"stream_props": {"encryption": kinesis.StreamEncryption.UNENCRYPTED}}, "UNENCRYPTED"),
        ({"store_table_props": {"partition_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}},
         "partition_key"),
        ({"window_table_props": {"time_to_live_attribute": "ttl"}}, "time_to_live_attribute"),
        ({"function_options": core.FunctionOptions(environment={"STORE_TABLE_NAME": "x"})}, "STORE_TABLE_NAME"),
    ],
    ids=["stream-both", "store-both", "window-short", "window-long", "id-empty", "id-dotted", "batch-zero",
         "factor-11", "unencrypted", "store-key", "window-ttl", "reserved-env"],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        Deduplication(stack, "Dedup", **_helpers.with_existing(stack, props))
