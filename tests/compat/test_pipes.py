"""EventBridge Pipes from each source (SQS, Kinesis, DynamoDB stream) to each common target.

Targets: a Lambda function, a state machine, an SQS queue, an SNS topic, a custom event bus, an
API destination and an API Gateway REST API (``execute-api``). Every pipe filters on the record
shape the Pipes docs document (SQS ``body``, Kinesis ``data``, DynamoDB ``dynamodb.NewImage``),
so each source gets one event that passes and one that does not. Pipes are L1 (``CfnPipe``), as
aws-cdk-lib has them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud

from .conftest import bodies, function, received, stack, synthesize

STACK = "CompatPipes"
TARGETS = ("Lambda", "StateMachine", "Queue", "Topic", "Bus", "ApiDestination", "RestApi")
HOOK = """
import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"ok": True})}
"""


def _app(app: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigateway
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as events_targets
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_pipes as pipes
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sns_subscriptions as subscriptions
    from aws_cdk import aws_sqs as sqs
    from aws_cdk import aws_stepfunctions as sfn

    s = stack(app, STACK)
    role = iam.Role(s, "PipeRole", assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["*"], resources=["*"]))

    target_fn = function(s, "PipeTarget")
    machine = sfn.StateMachine(s, "PipeMachine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(s, "P")))
    target_queue = sqs.Queue(s, "TargetQueue")
    topic = sns.Topic(s, "TargetTopic")
    topic_queue = sqs.Queue(s, "TopicQueue")
    topic.add_subscription(subscriptions.SqsSubscription(topic_queue, raw_message_delivery=True))
    bus = events.EventBus(s, "TargetBus", event_bus_name="compat-pipes")
    bus_queue = sqs.Queue(s, "BusQueue")
    events.Rule(
        s,
        "FromPipes",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["compat.pipes"]),
        targets=[events_targets.SqsQueue(bus_queue)],
    )
    hook_fn = function(s, "HookFn", HOOK)
    api = apigateway.RestApi(s, "HookApi")
    api.root.add_resource("hook").add_method("POST", apigateway.LambdaIntegration(hook_fn))
    connection = events.Connection(
        s,
        "HookConnection",
        authorization=events.Authorization.api_key("x-api-key", cdk.SecretValue.unsafe_plain_text("hook-key")),
    )
    destination = events.ApiDestination(
        s,
        "HookDestination",
        connection=connection,
        endpoint=api.url_for_path("/hook"),
        http_method=events.HttpMethod.POST,
    )
    targets: dict[str, tuple[str, dict[str, Any]]] = {
        "Lambda": (target_fn.function_arn, {"lambdaFunctionParameters": {"invocationType": "REQUEST_RESPONSE"}}),
        "StateMachine": (
            machine.state_machine_arn,
            {"stepFunctionStateMachineParameters": {"invocationType": "FIRE_AND_FORGET"}},
        ),
        "Queue": (target_queue.queue_arn, {}),
        "Topic": (topic.topic_arn, {}),
        "Bus": (
            bus.event_bus_arn,
            {"eventBridgeEventBusParameters": {"source": "compat.pipes", "detailType": "PipeEvent"}},
        ),
        "ApiDestination": (destination.api_destination_arn, {}),
        "RestApi": (api.arn_for_execute_api("POST", "/hook", "prod"), {}),
    }

    stream = kinesis.Stream(s, "SourceStream", shard_count=1)
    table = dynamodb.Table(
        s,
        "SourceTable",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    order = ["order"]
    sources: dict[str, tuple[Any, dict[str, Any]]] = {
        "Kinesis": (
            stream.stream_arn,
            {
                "kinesisStreamParameters": {"startingPosition": "TRIM_HORIZON", "batchSize": 10},
                "filterCriteria": {"filters": [{"pattern": json.dumps({"data": {"kind": order}})}]},
            },
        ),
        "Dynamo": (
            table.table_stream_arn,
            {
                "dynamoDbStreamParameters": {"startingPosition": "TRIM_HORIZON", "batchSize": 10},
                "filterCriteria": {
                    "filters": [{"pattern": json.dumps({"dynamodb": {"NewImage": {"kind": {"S": order}}}})}]
                },
            },
        ),
    }
    cdk.CfnOutput(s, "StreamName", value=stream.stream_name)
    cdk.CfnOutput(s, "TableName", value=table.table_name)
    for target_name, (target_arn, target_parameters) in targets.items():
        queue = sqs.Queue(s, f"SourceQueueFor{target_name}")
        cdk.CfnOutput(s, f"SourceQueueFor{target_name}Url", value=queue.queue_url)
        source_list = {
            **sources,
            "Sqs": (
                queue.queue_arn,
                {
                    "sqsQueueParameters": {"batchSize": 10},
                    "filterCriteria": {"filters": [{"pattern": json.dumps({"body": {"kind": order}})}]},
                },
            ),
        }
        for source_name, (source_arn, source_parameters) in source_list.items():
            pipes.CfnPipe(
                s,
                f"{source_name}To{target_name}",
                role_arn=role.role_arn,
                source=source_arn,
                source_parameters=source_parameters,
                target=target_arn,
                target_parameters=target_parameters or None,
            )
    for name, value in (
        ("TargetFn", target_fn.function_name),
        ("HookFnName", hook_fn.function_name),
        ("Machine", machine.state_machine_arn),
        ("TargetQueueUrl", target_queue.queue_url),
        ("TopicQueueUrl", topic_queue.queue_url),
        ("BusQueueUrl", bus_queue.queue_url),
    ):
        cdk.CfnOutput(s, name, value=value)


@pytest.fixture(scope="module")
def driven(cloud: LocalCloud) -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    templates = synthesize(_app)
    out = cloud.deploy_template(templates[STACK], STACK).outputs
    # One order and one click into every source: the stream, the table and each pipe's queue.
    for kind in ("order", "click"):
        cloud.client("kinesis").put_record(
            StreamName=out["StreamName"], Data=json.dumps({"kind": kind, "from": "kinesis"}).encode(), PartitionKey=kind
        )
        cloud.client("dynamodb").put_item(
            TableName=out["TableName"], Item={"pk": {"S": kind}, "kind": {"S": kind}, "from": {"S": "dynamodb"}}
        )
        for target in TARGETS:
            cloud.client("sqs").send_message(
                QueueUrl=out[f"SourceQueueFor{target}Url"], MessageBody=json.dumps({"kind": kind, "from": "sqs"})
            )
    cloud.drain()
    yield cloud, out


def _origin(event: dict[str, Any]) -> str:
    """Which source an event came from, read the way a target would read it."""
    if "body" in event:
        return str(json.loads(event["body"])["from"])
    if "data" in event:
        return str(json.loads(base64.b64decode(event["data"]))["from"])
    return str(event["dynamodb"]["NewImage"]["from"]["S"])


def test_the_lambda_target_gets_each_source_s_batch_in_the_documented_shape(driven: Any) -> None:
    cloud, out = driven
    # THEN the function got the three orders (never a click), SQS with body, Kinesis flat with
    # base64 data (no "kinesis" wrapper, as Pipes sends it), DynamoDB with dynamodb.NewImage
    events = [e for batch in received(cloud, out["TargetFn"]) for e in batch]
    assert sorted(_origin(e) for e in events) == ["dynamodb", "kinesis", "sqs"]
    kinesis = next(e for e in events if "data" in e)
    assert kinesis["eventSource"] == "aws:kinesis" and "kinesis" not in kinesis


def test_queue_topic_and_bus_targets_get_the_orders(driven: Any) -> None:
    cloud, out = driven
    # THEN the queue, the topic's subscribed queue and the bus's rule queue got one order per source
    for queue in ("TargetQueueUrl", "TopicQueueUrl"):
        assert sorted(_origin(b) for b in bodies(cloud, out[queue])) == ["dynamodb", "kinesis", "sqs"], queue
    from_bus = bodies(cloud, out["BusQueueUrl"])
    assert {b["detail-type"] for b in from_bus} == {"PipeEvent"}
    assert sorted(_origin(b["detail"]) for b in from_bus) == ["dynamodb", "kinesis", "sqs"]


def test_the_state_machine_target_starts_one_execution_per_batch(driven: Any) -> None:
    cloud, out = driven
    sfn = cloud.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=out["Machine"])["executions"]
    inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]
    assert sorted(_origin(batch[0]) for batch in inputs) == ["dynamodb", "kinesis", "sqs"]


def test_api_destination_and_rest_api_targets_call_the_api(driven: Any) -> None:
    cloud, out = driven
    # THEN the API's function was called once per order and target: 3 through the API destination
    # (with the connection's API key header) and 3 through execute-api
    calls = received(cloud, out["HookFnName"])
    assert sorted(_origin(json.loads(c["body"])) for c in calls) == ["dynamodb"] * 2 + ["kinesis"] * 2 + ["sqs"] * 2
    headers = [{k.lower(): v for k, v in (c.get("headers") or {}).items()} for c in calls]
    assert sum(1 for h in headers if h.get("x-api-key") == "hook-key") == 3
    assert [e for e in cloud.errors if e.startswith("pipe ")] == []  # no batch failed and was retried


def test_fails_if_a_pipe_target_kind_cannot_run_locally(cloud: LocalCloud) -> None:
    # GIVEN a pipe whose target is a Firehose delivery stream (not run by local pipes)
    template = {
        "Resources": {
            "Source": {"Type": "AWS::SQS::Queue"},
            "ToFirehose": {
                "Type": "AWS::Pipes::Pipe",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/pipes",
                    "Source": {"Fn::GetAtt": ["Source", "Arn"]},
                    "Target": "arn:aws:firehose:us-east-1:123456789012:deliverystream/archive",
                },
            },
        }
    }
    # WHEN it is deployed THEN the deploy fails naming the pipe, its type and the target kind
    with pytest.raises(DeployError, match=r"ToFirehose \(AWS::Pipes::Pipe\): targets of type firehose"):
        cloud.deploy_template(template, "CompatBadPipe")
