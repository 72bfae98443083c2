"""PubSubDemo: the coffee-shop order stream fanned out to three subscribers."""

from __future__ import annotations

import json
import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.pub_sub import PubSub, Subscriber


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 5 PubSub: coffee-shop orders fanned out by SNS filter policies")
    status = sns.SubscriptionFilter.string_filter
    pattern = PubSub(
        stack,
        "Orders",
        table_props={"removal_policy": RemovalPolicy.DESTROY},
        subscribers=[
            Subscriber(name="VideoWall", handler="subscribers.video_wall"),
            Subscriber(
                name="Leaderboard",
                handler="subscribers.leaderboard",
                filter_policy={"status": status(allowlist=["ready"])},
            ),
            # Filters on the order itself (the message body) rather than on message attributes.
            Subscriber(
                name="Recommendations",
                handler="subscribers.recommendations",
                filter_policy_with_message_body={
                    "status": sns.FilterOrPolicy.filter(status(allowlist=["placed"])),
                    "store": sns.FilterOrPolicy.filter(status(denylist=["test"])),
                },
            ),
        ],
    )
    CfnOutput(stack, "TopicArn", value=pattern.topic.topic_arn)
    CfnOutput(stack, "TableName", value=pattern.table.table_name)
    for name, dlq in pattern.dead_letter_queues.items():
        CfnOutput(stack, f"{name}DeadLetterQueueUrl", value=dlq.queue_url)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """Publish one ready order: the video wall and the leaderboard see it, recommendations do not."""
    order_id = f"demo-{uuid.uuid4().hex[:8]}"
    order = {"order_id": order_id, "store": "downtown", "drink": "latte", "status": "ready", "barista": "ana"}
    ctx.client("sns").publish(
        TopicArn=ctx.outputs["TopicArn"],
        Message=json.dumps(order),
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": "ready"},
            "store": {"DataType": "String", "StringValue": "downtown"},
        },
    )
    ddb = ctx.client("dynamodb")

    def seen() -> list[str] | None:
        key = {"id": {"S": order_id}}
        got = [
            name
            for name in ("VideoWall", "Leaderboard", "Recommendations")
            if ddb.get_item(TableName=ctx.outputs["TableName"], Key={"subscriber": {"S": name}, **key}).get("Item")
        ]
        return got if len(got) >= 2 else None

    got = ctx.wait_for(seen, timeout=20) or []
    return DriveResult(
        sent="order status=ready",
        outcome=f"seen by {', '.join(got) or 'nobody'}",
        ok=sorted(got) == ["Leaderboard", "VideoWall"],
    )
