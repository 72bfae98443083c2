"""patterns/core: every default the library promises, and every validation error it raises."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from patterns import core
from tests.conftest import new_app

CODE = lambda_.Code.from_inline("def handler(event, context):\n    return event\n")


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    """One App, one stack per building block: synthesized once for the module."""
    app = new_app()
    fn_stack = Stack(app, "Functions")
    fn = core.python_function(
        fn_stack, "Worker", code=CODE, handler="index.handler", service="svc", invocation="sqs", reserved_concurrency=3
    )
    pair = core.queue_with_dlq(fn_stack, "Queue", consumer_timeout=Duration.seconds(20))
    core.consume(fn, pair.queue, batch_size=5, max_concurrency=2)
    core.PatternAlarms(
        fn_stack,
        "Alarms",
        functions={"Worker": fn},
        work_queues={"Work": pair.queue},
        dead_letter_queues={"Work": pair.dead_letter_queue},
        options=core.AlarmOptions(alarm_topic=sns.Topic(fn_stack, "AlarmTopic"), dashboard=True),
    )
    data = Stack(app, "Data")
    core.table(data, "Table", partition_key="pk", sort_key="sk", time_to_live_attribute="ttl")
    core.topic(data, "Topic", publishing_services=("s3.amazonaws.com",))
    logs = core.access_log_bucket(data)
    core.bucket(data, "Bucket", server_access_logs=logs)
    api_stack = Stack(app, "Api")
    api = core.rest_api(api_stack, "Api", description="test")
    api.root.add_method("GET", apigw.MockIntegration())
    assembly = app.synth()
    return {
        s.stack_name: Template.from_json(assembly.get_stack_by_name(s.stack_name).template)
        for s in (fn_stack, data, api_stack)
    }


def test_function_defaults(templates: dict[str, Template]) -> None:
    t = templates["Functions"]
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "MemorySize": 256,
            "Timeout": 10,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": Match.any_value()},
            "ReservedConcurrentExecutions": 3,
            "Layers": [
                {
                    "Fn::Join": [
                        "",
                        Match.array_with(
                            [
                                Match.string_like_regexp(
                                    r":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:38$"
                                )
                            ]
                        ),
                    ]
                }
            ],
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": "svc"})},
        },
    )
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    # No AWS managed policy on the execution role: it may only write to its own log group.
    t.has_resource_properties(
        "AWS::IAM::Role", {"ManagedPolicyArns": Match.absent(), "AssumeRolePolicyDocument": Match.any_value()}
    )


def test_queue_defaults(templates: dict[str, Template]) -> None:
    t = templates["Functions"]
    t.resource_count_is("AWS::SQS::Queue", 2)
    t.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": 120,  # 6 x the 20 s consumer timeout
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5},
        },
    )
    t.has_resource_properties("AWS::SQS::Queue", {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True})
    t.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )


def test_alarms_cover_errors_throttles_age_and_dlq_depth(templates: dict[str, Template]) -> None:
    t = templates["Functions"]
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    for metric in ("Errors", "Throttles", "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"):
        t.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": metric, "AlarmActions": [Match.any_value()]})
    t.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_table_topic_bucket_defaults(templates: dict[str, Template]) -> None:
    t = templates["Data"]
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        },
    )
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_api_defaults(templates: dict[str, Template]) -> None:
    t = templates["Api"]
    t.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": [
                Match.object_like({"LoggingLevel": "INFO", "ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 50})
            ],
        },
    )
    t.has_resource_properties("AWS::ApiGateway::Method", {"AuthorizationType": "AWS_IAM"})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: core.queue_with_dlq(s, "Q", existing_queue=sqs.Queue(s, "E"), queue_props={}),
            "existing_queue and queue_props cannot both be set",
        ),
        (
            lambda s: core.queue_with_dlq(
                s, "Q", consumer_timeout=Duration.seconds(30), queue_props={"visibility_timeout": Duration.seconds(60)}
            ),
            r"visibility timeout \(60 s\) must be at least 6x",
        ),
        (
            lambda s: core.queue_with_dlq(s, "Q", queue_props={"encryption": None}),
            r"queue_props\['encryption'\] is set by the pattern",
        ),
        (lambda s: core.queue_with_dlq(s, "Q", max_receive_count=0), "max_receive_count must be between 1 and 1000"),
        (
            lambda s: core.table(s, "T", partition_key="pk", table_props={"partition_key": None}),
            r"table_props\['partition_key'\]",
        ),
        (lambda s: core.bucket(s, "B"), "needs server_access_logs"),
        (
            lambda s: core.python_function(
                s,
                "F",
                code=CODE,
                handler="h",
                service="s",
                invocation="sync",
                options=core.FunctionOptions(memory_size=64),
            ),
            "memory_size must be between 128 and 10240",
        ),
        (lambda s: core.nag.acknowledge(s, "AwsSolutions-SQS3", "because"), "must explain the exception"),
    ],
    ids=["exclusive", "visibility", "forced-prop", "receive-count", "table-key", "bucket-logs", "memory", "nag-reason"],
)
def test_fails_if_props_are_invalid(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(Stack(new_app(), "S"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 11, "max_batching_window": None, "fifo": True}, "between 1 and 10 for a FIFO queue"),
        ({"batch_size": 50, "max_batching_window": None, "fifo": False}, "needs max_batching_window"),
    ],
)
def test_fails_if_sqs_batching_is_invalid(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        core.validation.sqs_batching(**kwargs)


def test_fails_if_concurrency_starves_the_poller() -> None:
    with pytest.raises(ValueError, match="reserved_concurrency must be at least 2"):
        core.validation.concurrency(reserved=1, max_concurrency=None)
    with pytest.raises(ValueError, match=r"max_concurrency \(5\) cannot exceed reserved_concurrency \(3\)"):
        core.validation.concurrency(reserved=3, max_concurrency=5)
    core.validation.concurrency(reserved=3, max_concurrency=2)  # valid: no error


def test_handler_code_excludes_bytecode() -> None:
    assert "__pycache__" in core.ASSET_EXCLUDE
    assert core.handler_dir("pub_sub").name == "pub_sub"
    with pytest.raises(FileNotFoundError, match="no handler folder"):
        core.handler_dir("no_such_pattern")
