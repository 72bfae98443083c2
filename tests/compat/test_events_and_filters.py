"""A custom event bus with rules and targets, and event source filters on each documented record shape.

The rules sit on a custom bus (their Ref is ``bus|rule``), one target is a state machine, and the
stack name is longer than 48 characters (a state machine name made of stack name + logical id
would pass the 80-character limit). The filters are written the way the Lambda docs write them:
Kinesis on ``data`` (the decoded JSON payload), SQS on ``body``, DynamoDB on ``dynamodb.NewImage``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import bodies, function, received, stack, synthesize

BUS_STACK = "CompatOrdersOnACustomEventBusWithRulesTargetsAndALongName"


def _bus_app(app: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_sqs as sqs
    from aws_cdk import aws_stepfunctions as sfn

    s = stack(app, BUS_STACK)
    bus = events.EventBus(s, "OrdersBus", event_bus_name="compat-orders")
    queue = sqs.Queue(s, "PlacedOrders")
    handler = function(s, "OnOrderPlaced")
    events.Rule(
        s,
        "OrderPlaced",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["shop"], detail_type=["OrderPlaced"]),
        targets=[targets.SqsQueue(queue), targets.LambdaFunction(handler)],
    )
    machine = sfn.StateMachine(
        s, "ReviewLargeOrder", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(s, "Review"))
    )
    events.Rule(
        s,
        "LargeOrder",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["shop"], detail={"amount": [{"numeric": [">", 100]}]}),
        targets=[targets.SfnStateMachine(machine)],
    )
    cdk.CfnOutput(s, "QueueUrl", value=queue.queue_url)
    cdk.CfnOutput(s, "Handler", value=handler.function_name)
    cdk.CfnOutput(s, "Machine", value=machine.state_machine_arn)
    cdk.CfnOutput(s, "MachineName", value=machine.state_machine_name)


def _filters_app(app: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_lambda_event_sources as sources
    from aws_cdk import aws_sqs as sqs

    s = stack(app, "CompatFilters")
    orders_only = {"kind": lambda_.FilterRule.is_equal("order")}
    stream = kinesis.Stream(s, "Clicks", shard_count=1)
    on_stream = function(s, "OnStream")
    on_stream.add_event_source(
        sources.KinesisEventSource(
            stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=10,
            filters=[lambda_.FilterCriteria.filter({"data": orders_only})],
        )
    )
    queue = sqs.Queue(s, "Inbox")
    on_queue = function(s, "OnQueue")
    on_queue.add_event_source(
        sources.SqsEventSource(queue, batch_size=10, filters=[lambda_.FilterCriteria.filter({"body": orders_only})])
    )
    table = dynamodb.Table(
        s,
        "Items",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    on_table = function(s, "OnTable")
    on_table.add_event_source(
        sources.DynamoEventSource(
            table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=10,
            filters=[
                lambda_.FilterCriteria.filter(
                    {
                        "eventName": lambda_.FilterRule.is_equal("INSERT"),
                        "dynamodb": {"NewImage": {"kind": {"S": lambda_.FilterRule.is_equal("order")}}},
                    }
                )
            ],
        )
    )
    for name, value in (
        ("Stream", stream.stream_name),
        ("Queue", queue.queue_url),
        ("Table", table.table_name),
        ("OnStream", on_stream.function_name),
        ("OnQueue", on_queue.function_name),
        ("OnTable", on_table.function_name),
    ):
        cdk.CfnOutput(s, f"{name}Out", value=value)


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud) -> Iterator[tuple[LocalCloud, dict[str, dict[str, str]]]]:
    templates = synthesize(lambda app: (_bus_app(app), _filters_app(app)))
    outputs = {name: cloud.deploy_template(template, name).outputs for name, template in templates.items()}
    yield cloud, outputs


def test_rules_on_a_custom_bus_deliver_to_their_targets(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, outputs = deployed
    out = outputs[BUS_STACK]
    # GIVEN the stack with a name longer than 48 characters: its state machine name still fits
    assert len(out["MachineName"]) <= 80
    # WHEN a small and a large order are put on the custom bus, plus an event no rule matches
    entries = [
        {"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"id": "o-1", "amount": 20})},
        {"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"id": "o-2", "amount": 250})},
        {"Source": "crm", "DetailType": "CustomerCreated", "Detail": json.dumps({"id": "c-1"})},
    ]
    for entry in entries:
        entry["EventBusName"] = "compat-orders"
    assert cloud.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0
    cloud.drain()
    # THEN the queue and the function got both orders, and only the large one started a review
    assert sorted(b["detail"]["id"] for b in bodies(cloud, out["QueueUrl"])) == ["o-1", "o-2"]
    assert sorted(e["detail"]["id"] for e in received(cloud, out["Handler"])) == ["o-1", "o-2"]
    executions = cloud.client("stepfunctions").list_executions(stateMachineArn=out["Machine"])["executions"]
    assert len(executions) == 1
    result = cloud.client("stepfunctions").describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(result["input"])["detail"]["id"] == "o-2"


def test_kinesis_filters_match_the_decoded_data(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, outputs = deployed
    out = outputs["CompatFilters"]
    # WHEN an order and a click are put on the stream
    kinesis = cloud.client("kinesis")
    for record in ({"kind": "order", "id": "k-1"}, {"kind": "click", "id": "k-2"}):
        kinesis.put_record(StreamName=out["StreamOut"], Data=json.dumps(record).encode(), PartitionKey=record["id"])
    cloud.drain()
    # THEN only the order reached the function (as a Lambda Kinesis record, data still base64)
    import base64

    records = [r for event in received(cloud, out["OnStreamOut"]) for r in event["Records"]]
    assert [json.loads(base64.b64decode(r["kinesis"]["data"]))["id"] for r in records] == ["k-1"]


def test_sqs_filters_match_the_json_body(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, outputs = deployed
    out = outputs["CompatFilters"]
    # WHEN an order, a click and a plain-text message are sent
    sqs = cloud.client("sqs")
    for body in (json.dumps({"kind": "order", "id": "q-1"}), json.dumps({"kind": "click", "id": "q-2"}), "hello"):
        sqs.send_message(QueueUrl=out["QueueOut"], MessageBody=body)
    cloud.drain()
    # THEN only the order was delivered (AWS deletes the messages the filter drops)
    records = [r for event in received(cloud, out["OnQueueOut"]) for r in event["Records"]]
    assert [json.loads(r["body"])["id"] for r in records] == ["q-1"]
    assert bodies(cloud, out["QueueOut"]) == []


def test_dynamodb_stream_filters_match_the_new_image(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, outputs = deployed
    out = outputs["CompatFilters"]
    # WHEN an order and a click are written, and the order is then modified
    dynamodb = cloud.client("dynamodb")
    dynamodb.put_item(TableName=out["TableOut"], Item={"pk": {"S": "d-1"}, "kind": {"S": "order"}})
    dynamodb.put_item(TableName=out["TableOut"], Item={"pk": {"S": "d-2"}, "kind": {"S": "click"}})
    dynamodb.put_item(TableName=out["TableOut"], Item={"pk": {"S": "d-1"}, "kind": {"S": "order"}, "n": {"N": "2"}})
    cloud.drain()
    # THEN only the INSERT of the order matched
    records = [r for event in received(cloud, out["OnTableOut"]) for r in event["Records"]]
    assert [(r["eventName"], r["dynamodb"]["NewImage"]["pk"]["S"]) for r in records] == [("INSERT", "d-1")]


def test_fails_if_a_rule_target_kind_is_not_delivered_locally(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, _ = deployed
    # GIVEN a rule whose target is a Kinesis stream (rules deliver to it on AWS, not locally)
    template = {
        "Resources": {
            "ToStream": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventPattern": {"source": ["shop"]},
                    "Targets": [{"Arn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks", "Id": "stream"}],
                },
            }
        }
    }
    # WHEN it is deployed THEN the deploy fails naming the rule, its type and the target kind,
    # instead of the event being lost at delivery
    from patterns.local import DeployError

    with pytest.raises(DeployError, match=r"ToStream \(AWS::Events::Rule\): targets of type kinesis"):
        cloud.deploy_template(template, "CompatBadRule")
