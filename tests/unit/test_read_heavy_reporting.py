"""Rung 1 for CATALOG 21 ReadHeavyReporting: the template properties that make the source stream →
projector → views + top-N index → cached read API correct and safe, every validation error, every
existing_* path."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from patterns import core
from patterns.read_heavy_reporting import ReadHeavyReporting
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"

Built = _helpers.Built[ReadHeavyReporting]


def _imported(scope: Stack, stream: bool = True) -> ddb.ITable:
    return ddb.Table.from_table_attributes(
        scope, "Orders", table_name="orders", table_stream_arn=STREAM_ARN if stream else None
    )


def _defined(scope: Stack, view: ddb.StreamViewType = ddb.StreamViewType.NEW_AND_OLD_IMAGES) -> ddb.ITable:
    return ddb.Table(
        scope, "Mine", partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING), stream=view
    )


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> Built:
        stack = Stack(app, name)
        stacks[name] = Built(stack, ReadHeavyReporting(stack, "Reporting", **_helpers.with_existing(stack, props)))
        return stacks[name]

    add("Default")
    add(
        "Tuned", group_field="region", value_field="revenue", top_n=5, rank_by="item_count",
        cache_ttl=Duration.seconds(5), batch_size=25, retry_attempts=1, max_record_age=Duration.minutes(30),
        source_table_props={"deletion_protection": True},
        derived_table_props={"contributor_insights_enabled": True},
        projector_options=core.FunctionOptions(environment={"EXTRA": "1"}),
        reader_options=core.FunctionOptions(memory_size=512),
    )
    add("Imported", existing_source_table=_imported)
    add("Defined", existing_source_table=_defined)
    add(
        "Swap", projector_handler="index.handler", reader_handler="index.read",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )
    grants = add("Grants")
    role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_write_source(role)
    grants.pattern.grant_invoke_api(role)
    return synth(stacks)


def test_creates_five_tables_a_queue_two_functions_an_api_and_six_alarms(built) -> None:
    b = built["Default"]
    t = b.template
    t.resource_count_is("AWS::DynamoDB::Table", 5)
    t.resource_count_is("AWS::SQS::Queue", 1)
    t.resource_count_is("AWS::Lambda::Function", 2)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.resource_count_is("AWS::ApiGateway::RestApi", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 6)
    assert set(b.pattern.alarms) == {
        "ProjectorErrors", "ProjectorThrottles", "ReaderErrors", "ReaderThrottles", "OnFailureQueueDepth",
        "ProjectorIteratorAge",
    }


def test_the_source_streams_both_images_and_every_table_has_the_library_defaults(built) -> None:
    b = built["Default"]
    p = b.pattern
    source = b.props(p.source_table)
    assert source["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    keys = {p.source_table: "id", p.view_table: "view_key", p.index_table: "rank",
            p.applied_table: "event_id", p.cache_table: "cache_key"}
    for table, key in keys.items():
        props = b.props(table)
        assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
    for table in (p.applied_table, p.cache_table):
        assert b.props(table)["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    for table in (p.source_table, p.view_table, p.index_table):
        assert "TimeToLiveSpecification" not in b.props(table)
    t = built["Tuned"]
    assert t.props(t.pattern.source_table)["DeletionProtectionEnabled"] is True
    for table in (t.pattern.view_table, t.pattern.index_table, t.pattern.applied_table, t.pattern.cache_table):
        assert t.props(table)["ContributorInsightsSpecification"] == {"Enabled": True}


def test_the_views_rank_by_the_chosen_counter_in_a_sparse_index(built) -> None:
    for name, counter in (("Default", "total"), ("Tuned", "item_count")):
        b = built[name]
        (index,) = b.props(b.pattern.view_table)["GlobalSecondaryIndexes"]
        assert index["IndexName"] == "ByRank"
        assert index["KeySchema"] == [
            {"AttributeName": "board", "KeyType": "HASH"}, {"AttributeName": counter, "KeyType": "RANGE"},
        ]
        assert index["Projection"] == {"ProjectionType": "ALL"}
        defs = {d["AttributeName"]: d["AttributeType"] for d in b.props(b.pattern.view_table)["AttributeDefinitions"]}
        assert defs == {"view_key": "S", "board": "S", counter: "N"}


def test_the_event_source_bisects_retries_a_bounded_number_of_times_and_names_an_on_failure_queue(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [b.logical_id(b.pattern.source_table), "StreamArn"]},
        "FunctionName": b.ref(b.pattern.projector),
        "BatchSize": 100,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": core.streams.RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": 3600,
        "StartingPosition": "TRIM_HORIZON",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": b.arn(b.pattern.on_failure_queue)}},
    })
    built["Tuned"].template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 25, "MaximumRetryAttempts": 1, "MaximumRecordAgeInSeconds": 1800,
    })


def test_the_functions_know_their_tables_fields_and_limits(built) -> None:
    b = built["Default"]
    p = b.pattern
    projector = {k: v for k, v in b.env(p.projector).items() if not k.startswith("POWERTOOLS_")}
    assert projector == {
        "VIEW_TABLE_NAME": b.ref(p.view_table),
        "INDEX_TABLE_NAME": b.ref(p.index_table),
        "APPLIED_TABLE_NAME": b.ref(p.applied_table),
        "RANK_INDEX_NAME": "ByRank",
        "GROUP_FIELD": "category",
        "VALUE_FIELD": "amount",
        "TOP_N": "10",
        "RANK_BY": "total",
        "MARKER_TTL_SECONDS": str(25 * 3600),
    }
    reader = {k: v for k, v in b.env(p.reader).items() if not k.startswith("POWERTOOLS_")}
    assert reader == {
        "VIEW_TABLE_NAME": b.ref(p.view_table),
        "INDEX_TABLE_NAME": b.ref(p.index_table),
        "CACHE_TABLE_NAME": b.ref(p.cache_table),
        "CACHE_TTL_SECONDS": "60",
    }
    assert (b.props(p.projector)["Handler"], b.props(p.reader)["Handler"]) == ("projector.handler", "reader.handler")
    t = built["Tuned"]
    env = t.env(t.pattern.projector)
    assert (env["GROUP_FIELD"], env["VALUE_FIELD"], env["TOP_N"], env["RANK_BY"], env["EXTRA"]) == (
        "region", "revenue", "5", "item_count", "1",
    )
    assert t.env(t.pattern.reader)["CACHE_TTL_SECONDS"] == "5"
    assert t.props(t.pattern.reader)["MemorySize"] == 512


def _actions_on(b: Built, role: iam.IRole | None, resource: Any) -> set[str]:
    return {a for s in b.statements(role) if s["Resource"] == resource for a in action_set(s)}


def test_each_function_may_do_only_what_its_handler_does(built) -> None:
    b = built["Default"]
    p = b.pattern
    role = p.projector.role
    assert _actions_on(b, role, b.arn(p.applied_table)) == {"dynamodb:PutItem"}
    assert _actions_on(b, role, b.arn(p.view_table)) == {
        "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem",
    }
    index_arn = {"Fn::Join": ["", [b.arn(p.view_table), "/index/ByRank"]]}
    assert _actions_on(b, role, index_arn) == {"dynamodb:Query"}
    assert _actions_on(b, role, b.arn(p.index_table)) == {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    projector_ddb = {a for s in b.statements(role) for a in action_set(s) if a.startswith("dynamodb:")}
    stream_reads = {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
    }
    assert projector_ddb - stream_reads == {
        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem",
        "dynamodb:Query", "dynamodb:Scan",
    }
    reader = p.reader.role
    assert _actions_on(b, reader, b.arn(p.view_table)) == {"dynamodb:GetItem"}
    assert _actions_on(b, reader, b.arn(p.index_table)) == {"dynamodb:Scan"}
    assert _actions_on(b, reader, b.arn(p.cache_table)) == {"dynamodb:GetItem", "dynamodb:PutItem"}
    reader_ddb = {a for s in b.statements(reader) for a in action_set(s) if a.startswith("dynamodb:")}
    assert reader_ddb == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"}


def test_the_api_serves_views_and_top_with_iam_auth_and_a_validated_key(built) -> None:
    b = built["Default"]
    methods = b.resources("AWS::ApiGateway::Method")
    assert len(methods) == 2
    assert {m["Properties"]["HttpMethod"] for m in methods.values()} == {"GET"}
    assert {m["Properties"]["AuthorizationType"] for m in methods.values()} == {"AWS_IAM"}
    view = next(m for m in methods.values() if m["Properties"].get("RequestParameters"))
    assert view["Properties"]["RequestParameters"] == {"method.request.path.key": True}
    assert all("RequestValidatorId" in m["Properties"] for m in methods.values())
    assert b.pattern.view.path == "/views/{key}" and b.pattern.top.path == "/top"


def test_an_imported_source_table_with_a_stream_is_used(built) -> None:
    b = built["Imported"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 4)
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": STREAM_ARN})


def test_a_source_table_defined_in_the_app_is_used(built) -> None:
    b = built["Defined"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 5)  # the user's table and the four derived ones
    mine = b.stack.node.find_child("Mine")
    b.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"EventSourceArn": {"Fn::GetAtt": [b.logical_id(mine), "StreamArn"]}}
    )
    assert b.pattern.source_table is mine


def test_swapped_handler_code_keeps_the_wiring(built) -> None:
    b = built["Swap"]
    assert b.props(b.pattern.projector)["Handler"] == "index.handler"
    assert b.props(b.pattern.reader)["Handler"] == "index.read"
    assert "ZipFile" in b.props(b.pattern.projector)["Code"]
    b.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)


def test_grants_write_the_source_and_invoke_the_api(built) -> None:
    b = built["Grants"]
    client = [
        s for p in b.resources("AWS::IAM::Policy").values()
        if any("Client" in str(r) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in client for a in action_set(s)}
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "execute-api:Invoke"} <= actions
    assert "dynamodb:Scan" not in actions


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_source_table": _imported, "source_table_props": {}}, "existing_source_table.*source_table_props"),
        ({"existing_source_table": lambda s: _imported(s, stream=False)}, "must have a DynamoDB stream"),
        ({"existing_source_table": lambda s: _defined(s, ddb.StreamViewType.NEW_IMAGE)}, "NEW_AND_OLD_IMAGES"),
        ({"existing_source_table": lambda s: ddb.Table(
            s, "Other", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            stream=ddb.StreamViewType.NEW_AND_OLD_IMAGES)}, "partition key 'id'"),
        ({"group_field": "a.b"}, "group_field"),
        ({"value_field": ""}, "value_field"),
        ({"group_field": "id"}, "group_field cannot be 'id'"),
        ({"group_field": "x", "value_field": "x"}, "must be different"),
        ({"top_n": 0}, "top_n"),
        ({"top_n": 101}, "top_n"),
        ({"rank_by": "amount"}, "rank_by"),
        ({"cache_ttl": Duration.hours(2)}, "cache_ttl"),
        ({"cache_ttl": Duration.millis(500)}, "cache_ttl"),
        ({"cache_ttl": Duration.millis(1500)}, "whole number of seconds"),
        ({"batch_size": 0}, "batch_size"),
        ({"source_table_props": {"stream": ddb.StreamViewType.KEYS_ONLY}}, "stream"),
        ({"derived_table_props": {"time_to_live_attribute": "ttl"}}, "time_to_live_attribute"),
        ({"derived_table_props": {"partition_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}},
         "partition_key"),
        ({"projector_options": core.FunctionOptions(environment={"TOP_N": "3"})}, "TOP_N"),
        ({"reader_options": core.FunctionOptions(environment={"CACHE_TABLE_NAME": "x"})}, "CACHE_TABLE_NAME"),
    ],
    ids=["source-both", "no-stream", "new-image-only", "source-key", "group-dotted", "value-empty", "group-id",
         "same-fields", "top-zero", "top-101", "rank-by", "ttl-long", "ttl-short", "ttl-fraction", "batch-zero",
         "source-stream", "derived-ttl", "derived-key", "projector-env", "reader-env"],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        ReadHeavyReporting(stack, "Reporting", **_helpers.with_existing(stack, props))
