"""CATALOG 5 — PubSub (fan-out): SNS topic → one SQS queue per subscriber, each with its filter
policy and DLQ → one function per subscriber.

A queue per subscriber isolates them: a failing subscriber retries and dead-letters its own
messages while the others carry on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=5,
    name="PubSub",
    construct="PubSub",
    module="patterns.pub_sub",
    demo_stack="PubSubDemo",
    handlers=("pub_sub",),
    family="Messaging and integration",
    summary="SNS topic fans out to per-subscriber SQS queues with filter policies and DLQs",
)


@dataclass(frozen=True, kw_only=True)
class Subscriber:
    """One subscriber of the topic.

    Defaults: no filter (receives everything), the default handler ``subscribers.video_wall``,
    raw message delivery, batches of 10.

    ``name`` (letters and digits, starting with a letter) names the subscriber's queue, DLQ and
    function and is the partition key of its rows in the table. ``filter_policy`` filters on message
    attributes, ``filter_policy_with_message_body`` on the JSON body; set at most one. The default
    handlers accept both raw and SNS-enveloped bodies, so ``raw_message_delivery=False`` works with them.
    """

    name: str
    filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None
    filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None = None
    handler: str = "subscribers.video_wall"
    handler_code: lambda_.Code | None = None
    batch_size: int = 10
    raw_message_delivery: bool = True


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


class PubSub(Construct):
    """A topic and its isolated subscribers.

    :param subscribers: at least one; names must be unique (they name queues and functions).
    :param existing_topic: publish through this (standard) topic instead of a new one. Default: a new
        KMS-encrypted, TLS-only topic.
    :param existing_table: the table subscribers write their views to (partition key ``subscriber``,
        sort key ``id``, both strings; checked at synth for a table defined in the app, not for an imported
        one, whose keys synth cannot see). Default: a new table; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table. Default: none.
    :param max_receive_count: deliveries before a message moves to the subscriber's DLQ. Default: 5.
    :param function_options: memory, timeout, log retention... of every subscriber. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``topic``, ``table``, and per subscriber name ``queues``, ``dead_letter_queues``
    (also the SNS subscription's DLQ, for messages SNS could not deliver) and ``functions``; ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        subscribers: Sequence[Subscriber],
        existing_topic: sns.ITopic | None = None,
        existing_table: ddb.ITable | None = None,
        table_props: dict | None = None,
        max_receive_count: int = core.MAX_RECEIVE_COUNT,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not subscribers:
            raise ValueError("subscribers must name at least one Subscriber")
        names = [s.name for s in subscribers]
        if len(set(names)) != len(names):
            raise ValueError(f"subscriber names must be unique (given {names})")
        for s in subscribers:
            if not _NAME.fullmatch(s.name):
                raise ValueError(
                    f"subscriber name {s.name!r} must start with a letter and contain only letters and digits "
                    "(it names the subscriber's queue, DLQ and function)"
                )
            if s.filter_policy and s.filter_policy_with_message_body:
                raise ValueError(
                    f"subscriber {s.name!r}: filter_policy and filter_policy_with_message_body cannot both be set"
                )
        if existing_topic is not None and existing_topic.fifo:
            raise ValueError(
                f"existing_topic must be a standard topic (given the FIFO topic {existing_topic.node.path}): "
                "a FIFO topic delivers only to FIFO queues, and PubSub's subscriber queues are standard"
            )
        opts = function_options or core.FunctionOptions()
        self.topic: sns.ITopic = core.topic(self, "Topic", existing_topic=existing_topic)
        self.table: ddb.ITable = core.table(
            self,
            "Table",
            partition_key="subscriber",
            sort_key="id",
            existing_table=existing_table,
            table_props=table_props,
        )
        self.queues: dict[str, sqs.IQueue] = {}
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        self.functions: dict[str, lambda_.Function] = {}
        for s in subscribers:
            pair = core.queue_with_dlq(
                self, f"{s.name}Queue", consumer_timeout=opts.timeout, max_receive_count=max_receive_count
            )
            assert pair.dead_letter_queue is not None
            # The same DLQ also catches messages SNS could not deliver to the queue.
            self.topic.add_subscription(
                subs.SqsSubscription(
                    pair.queue,
                    raw_message_delivery=s.raw_message_delivery,
                    filter_policy=dict(s.filter_policy) if s.filter_policy else None,
                    filter_policy_with_message_body=(
                        dict(s.filter_policy_with_message_body) if s.filter_policy_with_message_body else None
                    ),
                    dead_letter_queue=pair.dead_letter_queue,
                )
            )
            function = core.python_function(
                self,
                f"{s.name}Handler",
                code=s.handler_code or core.handler_code("pub_sub"),
                handler=s.handler,
                service=s.name,
                invocation="sqs",
                options=opts,
                environment={"TABLE_NAME": self.table.table_name, "SUBSCRIBER_NAME": s.name},
            )
            # Subscribers only put their view rows: write access, no reads or scans.
            self.table.grant_write_data(function)
            core.consume(function, pair.queue, batch_size=s.batch_size)
            self.queues[s.name] = pair.queue
            self.dead_letter_queues[s.name] = pair.dead_letter_queue
            self.functions[s.name] = function
        self.alarms = core.PatternAlarms(
            self,
            "Alarms",
            options=alarm_options,
            functions=dict(self.functions),
            work_queues=self.queues,
            dead_letter_queues=self.dead_letter_queues,
        ).alarms

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish orders to the topic (and use its key, without wildcard actions)."""
        return core.grant_publish(self.topic, grantee)
