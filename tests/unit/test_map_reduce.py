"""Rung 1 for CATALOG 7 MapReduce: the template properties that make split, map and reduce correct and safe."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from patterns import core
from patterns.map_reduce import MapReduce
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth

JOBS_STREAM = "arn:aws:dynamodb:us-east-1:111122223333:table/shared-jobs/stream/2026-11-23T00:00:00.000"


Built = _helpers.Built[MapReduce]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = {k: v(stack) if callable(v) else v for k, v in props.items()}
        stacks[name] = Built(stack, MapReduce(stack, "WordCount", **resolved))

    add("Default")
    add(
        "Custom", chunk_size=4096, max_chunks=50, result_prefix="counts/", top_n=5, mapper_batch_size=4,
        mapper_max_concurrency=3, max_receive_count=2,
        mapper_options=core.FunctionOptions(timeout=Duration.seconds(20)),
    )
    add(
        "Existing",
        existing_input_bucket=lambda s: s3.Bucket.from_bucket_name(s, "Docs", "shared-docs"),
        existing_output_bucket=lambda s: s3.Bucket.from_bucket_name(s, "Out", "shared-results"),
        existing_jobs_table=lambda s: ddb.Table.from_table_attributes(
            s, "Jobs", table_name="shared-jobs", table_stream_arn=JOBS_STREAM),
        existing_results_table=lambda s: ddb.Table.from_table_name(s, "Partials", "shared-partials"),
    )
    add(
        "Swap", splitter_handler="index.split", mapper_handler="index.map", reducer_handler="index.reduce",
        handler_code=lambda_.Code.from_inline("def split(e, c):\n    return {}\n"),
    )
    return synth(stacks)


# --- resources and wiring -------------------------------------------------------------------------


def test_creates_splitter_mapper_reducer_with_their_queues_tables_and_buckets(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Lambda::Function", 3)
    t.resource_count_is("AWS::SQS::Queue", 3)  # chunk queue, its DLQ, the reducer's on-failure queue
    t.resource_count_is("AWS::DynamoDB::Table", 2)
    t.resource_count_is("AWS::S3::Bucket", 3)  # input, output, access logs
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    # errors + throttles x 3 functions, chunk queue age, 2 DLQ depths, reducer iterator age
    t.resource_count_is("AWS::CloudWatch::Alarm", 10)
    assert set(built["Default"].pattern.alarms) == {
        "SplitterErrors", "SplitterThrottles", "MapperErrors", "MapperThrottles", "ReducerErrors",
        "ReducerThrottles", "ChunkQueueOldestMessage", "ChunkDeadLetterQueueDepth", "ReducerDeadLetterQueueDepth",
        "ReducerIteratorAge",
    }


def test_jobs_table_streams_new_images_and_results_are_keyed_by_job_and_chunk(built) -> None:
    b = built["Default"]
    jobs = b.props(b.pattern.jobs_table)
    assert jobs["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    assert jobs["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    results = b.props(b.pattern.results_table)
    assert results["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"},
                                    {"AttributeName": "chunk", "KeyType": "RANGE"}]
    assert "StreamSpecification" not in results
    for table in (jobs, results):
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_chunk_queue_redrives_to_its_dlq_and_outlasts_the_mapper(built) -> None:
    for stack, count, visibility in (("Default", core.MAX_RECEIVE_COUNT, 60), ("Custom", 2, 120)):
        b = built[stack]
        props = b.props(b.pattern.chunk_queue)
        assert props["RedrivePolicy"] == {"deadLetterTargetArn": b.arn(b.pattern.chunk_dead_letter_queue),
                                          "maxReceiveCount": count}
        assert props["VisibilityTimeout"] == visibility
        assert props["SqsManagedSseEnabled"] is True


def _mapping(b: Built, function: Any) -> dict[str, Any]:
    [found] = [m["Properties"] for m in b.resources("AWS::Lambda::EventSourceMapping").values()
               if m["Properties"]["FunctionName"] == b.ref(function)]
    return found


def test_the_mapper_consumes_chunks_with_partial_batch_responses(built) -> None:
    for stack, batch, concurrency in (("Default", 10, None), ("Custom", 4, 3)):
        b = built[stack]
        props = _mapping(b, b.pattern.mapper)
        assert props["EventSourceArn"] == b.arn(b.pattern.chunk_queue)
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BatchSize"] == batch
        assert props.get("ScalingConfig", {}).get("MaximumConcurrency") == concurrency


def test_the_reducer_runs_only_for_jobs_entering_reducing_with_stream_safety_nets(built) -> None:
    b = built["Default"]
    props = _mapping(b, b.pattern.reducer)
    assert props["EventSourceArn"] == {"Fn::GetAtt": [b.logical_id(b.pattern.jobs_table), "StreamArn"]}
    [criteria] = props["FilterCriteria"]["Filters"]
    assert json.loads(criteria["Pattern"]) == {
        "eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["reducing"]}}},
    }
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == 3
    assert props["MaximumRecordAgeInSeconds"] == 3600
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 1
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": b.arn(b.pattern.reducer_dead_letter_queue)}}


def test_functions_get_their_configuration(built) -> None:
    b = built["Custom"]
    splitter = b.env(b.pattern.splitter)
    assert (splitter["CHUNK_SIZE"], splitter["MAX_CHUNKS"]) == ("4096", "50")
    assert splitter["CHUNK_QUEUE_URL"] == b.ref(b.pattern.chunk_queue)
    assert splitter["JOBS_TABLE"] == b.ref(b.pattern.jobs_table)
    assert splitter["INPUT_BUCKET"] == b.ref(b.pattern.input_bucket)
    mapper = b.env(b.pattern.mapper)
    assert mapper["JOBS_TABLE"] == b.ref(b.pattern.jobs_table)
    assert mapper["RESULTS_TABLE"] == b.ref(b.pattern.results_table)
    reducer = b.env(b.pattern.reducer)
    assert (reducer["RESULT_PREFIX"], reducer["TOP_N"]) == ("counts/", "5")
    assert reducer["OUTPUT_BUCKET"] == b.ref(b.pattern.output_bucket)
    d = built["Default"]
    timeouts = {name: (d.props(fn)["Handler"], d.props(fn)["MemorySize"], d.props(fn)["Timeout"])
                for name, fn in (("splitter", d.pattern.splitter), ("mapper", d.pattern.mapper),
                                 ("reducer", d.pattern.reducer))}
    assert timeouts == {"splitter": ("splitter.handler", 512, 30), "mapper": ("mapper.handler", 256, 10),
                        "reducer": ("reducer.handler", 512, 60)}
    assert d.env(d.pattern.splitter)["CHUNK_SIZE"] == str(32 * 1024)


def _grants(b: Built, function: lambda_.Function) -> set[tuple[str, str]]:
    """(action, resource as JSON) of a function's statements, without logging and tracing."""
    found = set()
    for s in b.statements(function.role):
        for action in [s["Action"]] if isinstance(s["Action"], str) else s["Action"]:
            if not action.startswith(("logs:", "xray:")):
                found.add((action, json.dumps(s["Resource"], sort_keys=True)))
    return found


def test_each_function_gets_only_what_its_step_needs(built) -> None:
    b = built["Default"]
    p = b.pattern

    def on(construct: Any, suffix: str = "") -> str:
        arn = b.arn(construct)
        return json.dumps({"Fn::Join": ["", [arn, suffix]]} if suffix else arn, sort_keys=True)

    splitter = _grants(b, p.splitter)
    assert {a for a, r in splitter if r == on(p.jobs_table)} == {"dynamodb:PutItem", "dynamodb:GetItem"}
    assert ("s3:GetObject", on(p.input_bucket, "/*")) in splitter
    assert ("sqs:SendMessage", on(p.chunk_queue)) in splitter
    assert not any(r in (on(p.results_table), on(p.output_bucket)) for _, r in splitter)

    mapper = _grants(b, p.mapper)
    assert {a for a, r in mapper if r == on(p.results_table)} == {"dynamodb:PutItem"}
    assert {a for a, r in mapper if r == on(p.jobs_table)} == {"dynamodb:UpdateItem", "dynamodb:GetItem"}
    assert ("s3:GetObject", on(p.input_bucket, "/*")) in mapper
    assert not any(a == "s3:PutObject" for a, _ in mapper)

    reducer = _grants(b, p.reducer)
    assert {a for a, r in reducer if r == on(p.results_table)} == {"dynamodb:Query"}
    assert {a for a, r in reducer if r == on(p.jobs_table)} == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert {(a, r) for a, r in reducer if a.startswith("s3:")} == {("s3:PutObject", on(p.output_bucket, "/results/*"))}
    assert ("sqs:SendMessage", on(p.reducer_dead_letter_queue)) in reducer


def test_the_pattern_has_no_unacknowledged_nag_findings(built) -> None:
    for stack in ("Default", "Custom", "Existing"):
        for pack in (AwsSolutionsChecks, ServerlessChecks):
            report = pack().validate_scope(built[stack].stack)
            assert [v.rule_name for v in report.violations] == [], (stack, pack.__name__)


# --- existing resources, handler swap, grants ---------------------------------------------------


def test_existing_buckets_and_tables_are_used_and_none_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::S3::Bucket", 0)
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    assert b.pattern.access_log_bucket is None
    assert b.env(b.pattern.splitter)["INPUT_BUCKET"] == "shared-docs"
    assert b.env(b.pattern.mapper)["RESULTS_TABLE"] == "shared-partials"
    assert (b.env(b.pattern.reducer)["OUTPUT_BUCKET"], b.env(b.pattern.reducer)["JOBS_TABLE"]) == (
        "shared-results", "shared-jobs")
    assert _mapping(b, b.pattern.reducer)["EventSourceArn"] == JOBS_STREAM
    assert any("shared-results/results/*" in r for a, r in _grants(b, b.pattern.reducer) if a == "s3:PutObject")


def test_handler_code_and_handlers_can_be_swapped(built) -> None:
    b = built["Swap"]
    handlers = {b.props(fn)["Handler"] for fn in (b.pattern.splitter, b.pattern.mapper, b.pattern.reducer)}
    assert handlers == {"index.split", "index.map", "index.reduce"}
    assert "def split" in b.props(b.pattern.mapper)["Code"]["ZipFile"]
    b.template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)


def test_grant_start_upload_and_read_results() -> None:
    stack = Stack(new_app(), "Grants")
    pattern = MapReduce(stack, "WordCount")
    client = lambda_.Function(
        stack, "Client", runtime=core.RUNTIME, handler="i.h", code=lambda_.Code.from_inline("x=1")
    )
    pattern.grant_start(client)
    pattern.grant_upload(client)
    pattern.grant_read_results(client)
    role = {"Ref": stack.get_logical_id(client.role.node.default_child)}
    actions = {a for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
               if role in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"lambda:InvokeFunction", "s3:PutObject", "s3:GetObject*", "dynamodb:GetItem"} <= actions
    assert not actions & {"dynamodb:PutItem", "dynamodb:UpdateItem"}


# --- validation -----------------------------------------------------------------------------------


def _build(**props: Any) -> MapReduce:
    stack = Stack(new_app(), "Invalid")
    return MapReduce(stack, "WordCount", **{k: v(stack) if callable(v) else v for k, v in props.items()})


@pytest.mark.parametrize(("prop", "value", "message"), [
    ("chunk_size", 1023, r"chunk_size must be between 1024 and 131072 bytes .*\(given 1023\)"),
    ("chunk_size", 131073, r"chunk_size must be between 1024 and 131072 bytes .*\(given 131073\)"),
    ("max_chunks", 0, r"max_chunks must be between 1 and 10000 \(given 0\)"),
    ("top_n", 101, r"top_n must be between 0 and 100 \(given 101\)"),
    ("mapper_batch_size", 11, r"mapper_batch_size must be between 1 and 10 \(given 11\)"),
    ("mapper_max_concurrency", 1, r"max_concurrency must be between 2 and 1000 \(given 1\)"),
    ("max_receive_count", 0, r"max_receive_count must be between 1 and 1000 \(given 0\)"),
])
def test_fails_if_a_number_is_out_of_range(prop: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**{prop: value})


@pytest.mark.parametrize("prefix", ["", "results", "/results/"])
def test_fails_if_result_prefix_is_not_a_key_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match=f"result_prefix must be a key prefix ending with '/'.*given {prefix!r}"):
        _build(result_prefix=prefix)


def test_fails_if_an_existing_jobs_table_has_no_stream() -> None:
    with pytest.raises(ValueError, match="existing_jobs_table has no stream, but the pattern is triggered by it"):
        _build(existing_jobs_table=lambda s: ddb.Table.from_table_name(s, "Jobs", "no-stream"))


@pytest.mark.parametrize(("existing", "props_name", "make"), [
    ("existing_input_bucket", "input_bucket_props", lambda s: s3.Bucket.from_bucket_name(s, "B", "bkt")),
    ("existing_output_bucket", "output_bucket_props", lambda s: s3.Bucket.from_bucket_name(s, "B", "bkt")),
    ("existing_jobs_table", "jobs_table_props",
     lambda s: ddb.Table.from_table_attributes(s, "T", table_name="t", table_stream_arn=JOBS_STREAM)),
    ("existing_results_table", "results_table_props", lambda s: ddb.Table.from_table_name(s, "T", "t")),
])
def test_fails_if_an_existing_resource_and_its_props_are_both_given(existing: str, props_name: str, make: Any) -> None:
    with pytest.raises(ValueError, match=f"{existing} and {props_name} cannot both be set"):
        _build(**{existing: make, props_name: {}})


def test_fails_if_table_props_try_to_change_the_keys_or_stream() -> None:
    with pytest.raises(ValueError, match=r"jobs_table_props\['stream'\] is set by the pattern"):
        _build(jobs_table_props={"stream": ddb.StreamViewType.KEYS_ONLY})
    with pytest.raises(ValueError, match=r"results_table_props\['sort_key'\] is set by the pattern"):
        _build(results_table_props={"sort_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)})
