"""Rung 1 for CATALOG 22 StreamPipeline: the template properties that make the stream → transform →
table + Firehose → S3 archive correct and safe, every validation error, every existing_* path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from patterns import core
from patterns.stream_pipeline import StreamPipeline
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/producer-records"
TABLE = "shared-records"
BUCKET = "shared-archive"

Built = _helpers.Built[StreamPipeline]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> Built:
        stack = Stack(app, name)
        stacks[name] = Built(stack, StreamPipeline(stack, "Pipeline", **_helpers.with_existing(stack, props)))
        return stacks[name]

    add("Default")
    add(
        "Tuned", archive_prefix="raw/!{timestamp:yyyy/MM/dd/HH}/", error_prefix="failed/!{firehose:error-output-type}/",
        buffer_size_mib=1, buffer_interval=Duration.seconds(60), compress=False, batch_size=50, retry_attempts=1,
        max_record_age=Duration.minutes(30), parallelization_factor=4, stream_props={"shard_count": 2},
        table_props={"deletion_protection": True}, archive_bucket_props={"versioned": False},
        function_options=core.FunctionOptions(environment={"EXTRA": "1"}),
    )
    add(
        "Existing",
        existing_stream=lambda s: kinesis.Stream.from_stream_arn(s, "In", STREAM_ARN),
        existing_table=lambda s: ddb.Table.from_table_name(s, "Records", TABLE),
        existing_archive_bucket=lambda s: s3.Bucket.from_bucket_name(s, "Archive", BUCKET),
    )
    add(
        "Swap", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )
    grants = add("Grants")
    role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_put_records(role)
    grants.pattern.grant_read_table(role)
    grants.pattern.grant_read_archive(role)
    return synth(stacks)


def _hose_id(b: Built) -> str:
    return b.stack.get_logical_id(b.pattern.delivery_stream)


def _hose(b: Built) -> dict[str, Any]:
    return b.template.to_json()["Resources"][_hose_id(b)]


def test_creates_a_stream_a_table_an_archive_a_delivery_stream_a_queue_a_function_and_four_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Kinesis::Stream", 1)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::S3::Bucket", 2)  # the archive and its access log bucket
    t.resource_count_is("AWS::KinesisFirehose::DeliveryStream", 1)
    t.resource_count_is("AWS::SQS::Queue", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    assert set(built["Default"].pattern.alarms) == {
        "TransformErrors", "TransformThrottles", "OnFailureQueueDepth", "TransformIteratorAge",
    }


def test_the_table_keys_on_partition_key_and_sequence_number(built) -> None:
    b = built["Default"]
    props = b.props(b.pattern.table)
    assert props["KeySchema"] == [
        {"AttributeName": "partition_key", "KeyType": "HASH"},
        {"AttributeName": "sequence_number", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert built["Tuned"].props(built["Tuned"].pattern.table)["DeletionProtectionEnabled"] is True


def test_the_delivery_stream_is_encrypted_gzips_and_prefixes_by_date(built) -> None:
    b = built["Default"]
    props = _hose(b)["Properties"]
    assert props["DeliveryStreamType"] == "DirectPut"
    assert props["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    s3_config = props["ExtendedS3DestinationConfiguration"]
    assert s3_config["BucketARN"] == b.arn(b.pattern.archive_bucket)
    assert s3_config["CompressionFormat"] == "GZIP"
    assert s3_config["Prefix"] == core.firehose.ARCHIVE_PREFIX == "records/!{timestamp:yyyy/MM/dd}/"
    assert s3_config["ErrorOutputPrefix"] == "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    assert s3_config["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 5}
    assert s3_config["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert s3_config["RoleARN"] == b.arn(b.pattern.delivery_role)
    tuned = _hose(built["Tuned"])["Properties"]["ExtendedS3DestinationConfiguration"]
    assert tuned["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    assert tuned["Prefix"] == "raw/!{timestamp:yyyy/MM/dd/HH}/"
    assert tuned["ErrorOutputPrefix"] == "failed/!{firehose:error-output-type}/"
    assert tuned["CompressionFormat"] == "UNCOMPRESSED"


def test_firehose_may_write_the_archive_with_the_actions_it_documents_and_no_wildcard_action(built) -> None:
    b = built["Default"]
    statements = b.statements(b.pattern.delivery_role)
    actions = {a for s in statements for a in action_set(s)}
    assert actions == {
        "s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:AbortMultipartUpload", "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
    }
    resources = {json.dumps(s["Resource"], sort_keys=True) for s in statements}
    assert resources <= {
        json.dumps(b.arn(b.pattern.archive_bucket), sort_keys=True),
        json.dumps({"Fn::Join": ["", [b.arn(b.pattern.archive_bucket), "/*"]]}, sort_keys=True),
    }
    assert b.logical_id(b.pattern.delivery_role) in _hose(b)["DependsOn"]


def test_the_archive_bucket_is_private_tls_only_and_logs_access(built) -> None:
    b = built["Default"]
    props = b.props(b.pattern.archive_bucket)
    assert props["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "Archive/"
    assert "VersioningConfiguration" not in built["Tuned"].props(built["Tuned"].pattern.archive_bucket)


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
        "DestinationConfig": {"OnFailure": {"Destination": b.arn(b.pattern.on_failure_queue)}},
    })
    built["Tuned"].template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 50, "MaximumRetryAttempts": 1, "MaximumRecordAgeInSeconds": 1800, "ParallelizationFactor": 4,
    })


def test_the_function_knows_its_table_and_delivery_stream_and_may_only_write_them(built) -> None:
    b = built["Default"]
    env = b.env(b.pattern.function)
    assert {k: v for k, v in env.items() if not k.startswith("POWERTOOLS_")} == {
        "TABLE_NAME": b.ref(b.pattern.table),
        "DELIVERY_STREAM_NAME": {"Ref": _hose_id(b)},
    }
    assert b.props(b.pattern.function)["Handler"] == "transform.handler"
    statements = b.statements(b.pattern.function.role)
    on_table = [s for s in statements if s["Resource"] == b.arn(b.pattern.table)]
    assert [action_set(s) for s in on_table] == [{"dynamodb:BatchWriteItem"}]
    on_hose = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [_hose_id(b), "Arn"]}]
    assert [action_set(s) for s in on_hose] == [{"firehose:PutRecord", "firehose:PutRecordBatch"}]
    dynamodb = {a for s in statements for a in action_set(s) if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:BatchWriteItem"}
    assert not any(a.startswith("s3:") for s in statements for a in action_set(s))
    assert built["Tuned"].env(built["Tuned"].pattern.function)["EXTRA"] == "1"


def test_existing_stream_table_and_bucket_are_used_and_nothing_replaces_them(built) -> None:
    b = built["Existing"]
    for kind in ("AWS::Kinesis::Stream", "AWS::DynamoDB::Table", "AWS::S3::Bucket"):
        b.template.resource_count_is(kind, 0)
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": STREAM_ARN})
    assert b.env(b.pattern.function)["TABLE_NAME"] == TABLE
    hose = b.template.find_resources("AWS::KinesisFirehose::DeliveryStream")
    (config,) = [r["Properties"]["ExtendedS3DestinationConfiguration"] for r in hose.values()]
    assert BUCKET in str(config["BucketARN"])


def test_swapped_handler_code_keeps_the_wiring(built) -> None:
    b = built["Swap"]
    props = b.props(b.pattern.function)
    assert props["Handler"] == "index.handler" and "ZipFile" in props["Code"]
    b.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)


def test_grants_put_records_and_read_the_table_and_archive(built) -> None:
    b = built["Grants"]
    client = [
        s for p in b.resources("AWS::IAM::Policy").values()
        if any("Client" in str(r) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in client for a in action_set(s)}
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} <= actions
    assert {"dynamodb:GetItem", "dynamodb:Query"} <= actions
    assert {"s3:GetObject*", "s3:List*"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:BatchWriteItem", "s3:PutObject"} & actions


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_stream": lambda s: kinesis.Stream.from_stream_arn(s, "S", STREAM_ARN), "stream_props": {}},
         "existing_stream.*stream_props"),
        ({"existing_table": lambda s: ddb.Table.from_table_name(s, "T", TABLE), "table_props": {}},
         "existing_table.*table_props"),
        ({"existing_archive_bucket": lambda s: s3.Bucket.from_bucket_name(s, "B", BUCKET),
          "archive_bucket_props": {}}, "existing_archive_bucket.*archive_bucket_props"),
        ({"table_props": {"sort_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}}, "sort_key"),
        ({"existing_table": lambda s: ddb.Table(
            s, "Wrong", partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING))}, "partition_key"),
        ({"archive_bucket_props": {"enforce_ssl": False}}, "enforce_ssl"),
        ({"stream_props": {"encryption": kinesis.StreamEncryption.UNENCRYPTED}}, "UNENCRYPTED"),
        ({"buffer_size_mib": 0}, "buffer_size_mib"),
        ({"buffer_size_mib": 129}, "buffer_size_mib"),
        ({"buffer_interval": Duration.seconds(901)}, "buffer_interval"),
        ({"archive_prefix": "x/!{firehose:error-output-type}/"}, "archive_prefix cannot use"),
        ({"archive_prefix": "x/!{partitionKeyFromQuery:k}/"}, "dynamic partitioning"),
        ({"error_prefix": "errors/"}, "error-output-type"),
        ({"error_prefix": "e/!{firehose:error-output-type}/!{unknown:x}/"}, "does not evaluate"),
        ({"batch_size": 0}, "batch_size"),
        ({"parallelization_factor": 11}, "parallelization_factor"),
        ({"function_options": core.FunctionOptions(environment={"TABLE_NAME": "x"})}, "TABLE_NAME"),
    ],
    ids=["stream-both", "table-both", "bucket-both", "table-key", "existing-table-keys", "bucket-forced",
         "unencrypted", "buffer-zero", "buffer-big", "interval-long", "prefix-error-type", "prefix-dynamic",
         "error-prefix-type", "error-prefix-unknown", "batch-zero", "factor-11", "reserved-env"],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        StreamPipeline(stack, "Pipeline", **_helpers.with_existing(stack, props))
