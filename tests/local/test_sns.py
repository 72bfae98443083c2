"""SNS subscriptions created by CloudFormation: filter policies, raw delivery, subscription DLQs.

A Lambda subscription's DLQ only takes what SNS could not hand to Lambda (function missing, no
permission); a function that runs and fails is Lambda's business: its retries, its own DLQ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

SUBSCRIBER = """
import json


def handler(event, context):
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    if message.get("fail"):
        raise RuntimeError("subscriber failed")
    return message
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sns")
    code = write_handler(root / "subscriber", {"app.py": SUBSCRIBER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_sns as sns
        from aws_cdk import aws_sns_subscriptions as subs
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "SnsStack")
        topic = sns.Topic(stack, "Orders")
        cdk.CfnOutput(stack, "TopicArn", value=topic.topic_arn)
        red = sqs.Queue(stack, "Red")
        topic.add_subscription(
            subs.SqsSubscription(
                red,
                raw_message_delivery=True,
                filter_policy={"color": sns.SubscriptionFilter.string_filter(allowlist=["red"])},
            )
        )
        large = sqs.Queue(stack, "Large")
        topic.add_subscription(
            subs.SqsSubscription(
                large,
                filter_policy_with_message_body={
                    "size": sns.FilterOrPolicy.filter(sns.SubscriptionFilter.numeric_filter(greater_than=10))
                },
            )
        )
        everything = sqs.Queue(stack, "Everything")
        topic.add_subscription(subs.SqsSubscription(everything))
        subscriber_dlq = sqs.Queue(stack, "SubscriberDlq")
        function_dlq = sqs.Queue(stack, "FunctionDlq")
        subscriber = python_function(stack, "Subscriber", code, dead_letter_queue=function_dlq)
        topic.add_subscription(subs.LambdaSubscription(subscriber, dead_letter_queue=subscriber_dlq))
        for name, queue in {
            "Red": red,
            "Large": large,
            "Everything": everything,
            "SubscriberDlq": subscriber_dlq,
            "FunctionDlq": function_dlq,
        }.items():
            cdk.CfnOutput(stack, f"{name}Url", value=queue.queue_url)

    return synth(root / "cdk.out", build)


def _publish(cloud: LocalCloud, topic: str, body: dict[str, Any], color: str) -> None:
    cloud.client("sns").publish(
        TopicArn=topic,
        Message=json.dumps(body),
        MessageAttributes={"color": {"DataType": "String", "StringValue": color}},
    )


def test_each_subscriber_receives_exactly_what_its_filter_admits(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a topic with an attribute-filtered raw queue, a body-filtered queue and an unfiltered queue
    stack = cloud.deploy(assembly, "SnsStack")
    topic = stack.outputs["TopicArn"]

    # WHEN four messages are published
    _publish(cloud, topic, {"id": 1, "size": 5}, "red")
    _publish(cloud, topic, {"id": 2, "size": 50}, "blue")
    _publish(cloud, topic, {"id": 3, "size": 20}, "red")
    _publish(cloud, topic, {"id": 4, "size": 1}, "green")
    cloud.drain(timeout=20)

    # THEN the raw queue has red messages as plain bodies with the attributes as message attributes
    red = messages(cloud, stack.outputs["RedUrl"])
    assert sorted(json.loads(m["Body"])["id"] for m in red) == [1, 3]
    assert red[0]["MessageAttributes"]["color"]["StringValue"] == "red"
    # AND the body-filtered queue has size > 10, wrapped in the SNS envelope
    large = [json.loads(m["Body"]) for m in messages(cloud, stack.outputs["LargeUrl"])]
    assert sorted(json.loads(e["Message"])["id"] for e in large) == [2, 3]
    assert {e["Type"] for e in large} == {"Notification"} and {e["TopicArn"] for e in large} == {topic}
    assert large[0]["MessageAttributes"]["color"]["Type"] == "String"
    # AND the unfiltered queue has everything, the Lambda subscriber ran once per message
    assert len(messages(cloud, stack.outputs["EverythingUrl"])) == 4
    events = [i.event["Records"][0] for i in cloud.invocations("Subscriber")]
    assert sorted(json.loads(e["Sns"]["Message"])["id"] for e in events) == [1, 2, 3, 4]
    assert events[0]["EventSource"] == "aws:sns" and events[0]["Sns"]["MessageAttributes"]["color"]["Value"]


def test_a_failing_lambda_subscriber_is_retried_by_lambda_and_dead_lettered_by_its_function(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a Lambda subscriber (with its own DLQ) that fails for one message, and a subscription DLQ
    stack = cloud.deploy(assembly, "SnsStack")
    topic = stack.outputs["TopicArn"]

    # WHEN a failing and a good message are published
    _publish(cloud, topic, {"id": 1, "fail": True}, "red")
    _publish(cloud, topic, {"id": 2}, "red")
    cloud.drain(timeout=20)

    # THEN the failing one was tried 3 times (async invoke, 2 retries) and is in the function's DLQ
    attempts = [json.loads(i.event["Records"][0]["Sns"]["Message"])["id"] for i in cloud.invocations("Subscriber")]
    assert sorted(attempts) == [1, 1, 1, 2]
    (dead,) = messages(cloud, stack.outputs["FunctionDlqUrl"])
    assert json.loads(json.loads(dead["Body"])["Records"][0]["Sns"]["Message"])["id"] == 1
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "subscriber failed"
    # AND not in the subscription's DLQ: SNS did hand it to Lambda
    assert messages(cloud, stack.outputs["SubscriberDlqUrl"]) == []
    # AND the other subscribers were not affected
    assert len(messages(cloud, stack.outputs["EverythingUrl"])) == 2
    assert cloud.errors == []


def test_a_message_sns_cannot_hand_to_lambda_goes_to_the_subscription_dlq(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a Lambda subscriber whose resource policy no longer lets SNS invoke it
    stack = cloud.deploy(assembly, "SnsStack")
    topic = stack.outputs["TopicArn"]
    lambda_client = cloud.client("lambda")
    name = cloud.function_name("Subscriber")
    policy = json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])
    for statement in policy["Statement"]:
        lambda_client.remove_permission(FunctionName=name, StatementId=statement["Sid"])

    # WHEN a message is published, then another after the function was deleted
    _publish(cloud, topic, {"id": 1}, "red")
    lambda_client.delete_function(FunctionName=name)
    _publish(cloud, topic, {"id": 2}, "red")
    cloud.drain(timeout=20)

    # THEN neither ran; both are in the subscription's DLQ (not retried), with SNS's reason
    assert [i for i in cloud.invocations() if i.function_name == name] == []
    dead = sorted(
        messages(cloud, stack.outputs["SubscriberDlqUrl"]),
        key=lambda m: json.loads(json.loads(m["Body"])["Message"])["id"],
    )
    assert [json.loads(json.loads(m["Body"])["Message"])["id"] for m in dead] == [1, 2]
    assert [m["MessageAttributes"]["ErrorCode"]["StringValue"] for m in dead] == ["NO_PERMISSIONS", "NO_RESOURCE"]
    assert messages(cloud, stack.outputs["FunctionDlqUrl"]) == []
