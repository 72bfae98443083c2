"""CATALOG 23 — RealtimeAnalytics: stream → tumbling-window aggregation (state carried between
invocations) → a results table per window, and an SNS alert when a window crosses a threshold.

The stream consumer comes from ``core.consume_stream`` with a tumbling window (bisect on error,
bounded retries and record age, an on-failure queue); the results table is a ``core.table`` keyed by
window start and key; the alert topic is a ``core.topic``. The default handler folds each batch into
the window's state and returns it, so a failed batch is retried from the state before it (nothing
counted twice); the final invoke of a window writes its totals and alerts once per crossing key.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=23,
    name="RealtimeAnalytics",
    construct="RealtimeAnalytics",
    module="patterns.realtime_analytics",
    demo_stack="RealtimeAnalyticsDemo",
    handlers=("realtime_analytics",),
    family="Data and streams",
    summary="Kinesis records summed per key in Lambda tumbling windows; totals per window in DynamoDB, an SNS "
    "alert once per window over the threshold",
)

#: Keys of the results table (the handler's contract): the window's start (ISO 8601) and the record key.
WINDOW_START = "window_start"
KEY = "key"
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")


class RealtimeAnalytics(Construct):
    """Records put to the stream (JSON objects with a key and a numeric value) are counted and summed
    per key in tumbling windows; each window's totals go to the results table, and a key whose total
    reaches ``alert_threshold`` in a window is published to the alert topic once.

    :param alert_threshold: a window total at or above this raises an alert (a token is not checked). Required.
    :param window: the tumbling window, 1-900 seconds. Default: 5 minutes.
    :param key_field: the JSON field a record is grouped by. Default: ``key``.
    :param value_field: the JSON field summed (a number). Default: ``value``.
    :param existing_stream: the input stream. Default: a new encrypted stream (one shard, 24 h);
        mutually exclusive with ``stream_props``.
    :param stream_props: overrides for the new stream (never unencrypted). Default: none.
    :param existing_results_table: the results table; its partition key must be the string
        ``window_start`` and its sort key the string ``key``. Default: a new on-demand, encrypted table
        with point-in-time recovery; mutually exclusive with ``results_table_props``.
    :param results_table_props: overrides for the new results table (not its keys). Default: none.
    :param existing_alert_topic: the alert topic. Default: a new topic encrypted with its own key.
    :param batch_size: records per invocation, 1-10000. Default: 100.
    :param retry_attempts: retries of a failing record before it goes to the on-failure queue. Default: 3.
    :param max_record_age: records older than this go to the on-failure queue unprocessed. Default: 1 hour.
    :param handler_code: code asset of the function. Default: ``lambdas/realtime_analytics``.
    :param handler: its handler; it must return ``{"state": ...}``. Default: ``aggregate.handler``.
    :param function_options: memory, timeout, log retention, extra environment... Default: core
        defaults (256 MB, 10 seconds).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``stream``, ``results_table``, ``alert_topic``, ``on_failure_queue``, ``function``,
    ``event_source``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alert_threshold: float,
        window: Duration | None = None,
        key_field: str = "key",
        value_field: str = "value",
        existing_stream: kinesis.IStream | None = None,
        stream_props: dict[str, Any] | None = None,
        existing_results_table: ddb.ITable | None = None,
        results_table_props: dict[str, Any] | None = None,
        existing_alert_topic: sns.ITopic | None = None,
        batch_size: int = 100,
        retry_attempts: int = core.streams.RETRY_ATTEMPTS,
        max_record_age: Duration | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "aggregate.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        tumbling = window or Duration.minutes(5)
        core.validation.in_range("window (seconds)", tumbling.to_seconds(), 1, 900)
        for name, value in (("key_field", key_field), ("value_field", value_field)):
            if not _FIELD.match(value):
                raise ValueError(f"{name} must be a JSON field name of letters, digits, '_' or '-' (given {value!r})")
        if key_field == value_field:
            raise ValueError(f"key_field and value_field must differ (both {key_field!r})")
        if isinstance(alert_threshold, bool) or not isinstance(alert_threshold, int | float):
            raise ValueError(f"alert_threshold must be a number (given {alert_threshold!r})")
        opts = function_options or core.FunctionOptions()

        self.stream: kinesis.IStream = core.kinesis_stream(
            self, "Stream", existing_stream=existing_stream, stream_props=stream_props
        )
        self.results_table: ddb.ITable = core.table(
            self, "ResultsTable", partition_key=WINDOW_START, sort_key=KEY,
            existing_table=existing_results_table, table_props=results_table_props,
            existing_table_name="existing_results_table", table_props_name="results_table_props",
        )
        self.alert_topic: sns.ITopic = core.topic(self, "AlertTopic", existing_topic=existing_alert_topic)
        self.on_failure_queue: sqs.IQueue = core.dead_letter_queue(
            self, "OnFailureQueue", purpose="the aggregator (its Kinesis on-failure destination)"
        )
        self.function: lambda_.Function = core.python_function(
            self, "Aggregator",
            code=handler_code or core.handler_code("realtime_analytics"),
            handler=handler,
            service="realtime-analytics",
            invocation="stream",
            description="Sums records per key in tumbling windows; writes totals and alerts per window",
            options=opts,
            environment={
                "RESULTS_TABLE_NAME": self.results_table.table_name,
                "ALERT_TOPIC_ARN": self.alert_topic.topic_arn,
                "ALERT_THRESHOLD": str(alert_threshold),
                "KEY_FIELD": key_field,
                "VALUE_FIELD": value_field,
            },
        )
        # A window's totals are written once (conditional put) and marked when their alert went out.
        self.results_table.grant(self.function, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem")
        core.grant_publish(self.alert_topic, self.function)
        self.event_source: lambda_.IEventSource = core.consume_stream(
            self.function, self.stream, on_failure=self.on_failure_queue, batch_size=batch_size,
            retry_attempts=retry_attempts, max_record_age=max_record_age,
            tumbling_window=tumbling,
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Aggregator": self.function},
            dead_letter_queues={"OnFailureQueue": self.on_failure_queue},
            iterator_functions={"Aggregator": self.function},
        ).alarms

    def grant_put_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put records to the input stream (``kinesis:PutRecord(s)``)."""
        return self.stream.grant_write(grantee)

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the window totals (``GetItem``, ``Query``, ``Scan``...)."""
        return self.results_table.grant_read_data(grantee)
