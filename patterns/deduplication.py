"""CATALOG 24 — Deduplication: input stream → dedup function with a TTL window table (conditional put
on the event id) → final store.

The stream consumer comes from ``core.consume_stream`` (bisect on error, bounded retries and record
age, an on-failure queue, partial batch responses); the window table is a ``core.table`` with TTL on
``expires``. The default handler claims each id and stores its event in one DynamoDB transaction, so
an id is stored once per ``dedup_window`` however often, and however concurrently, it arrives.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=24,
    name="Deduplication",
    construct="Deduplication",
    module="patterns.deduplication",
    demo_stack="DeduplicationDemo",
    handlers=("deduplication",),
    family="Data and streams",
    summary="Kinesis events stored once per id within a TTL window (conditional put + store in one transaction)",
)

#: Key of both tables, and the window table's TTL attribute (the handler's contract).
EVENT_ID = "event_id"
EXPIRES = "expires"
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")


class Deduplication(Construct):
    """Events put to the input stream are stored in the store table once per event id within
    ``dedup_window``; after the window the same id is accepted (and counted) again.

    :param existing_stream: the input stream. Default: a new encrypted stream (one shard, 24 h);
        mutually exclusive with ``stream_props``.
    :param stream_props: overrides for the new stream (never unencrypted). Default: none.
    :param existing_store_table: the final store; its partition key must be the string ``event_id``.
        Default: a new on-demand, encrypted table with point-in-time recovery; mutually exclusive with
        ``store_table_props``.
    :param store_table_props: overrides for the new store table (not its key). Default: none.
    :param window_table_props: overrides for the window table (not its key or TTL). Default: none.
    :param dedup_window: how long an id is remembered, 1 minute to 365 days. Default: 24 hours.
    :param id_field: the JSON field of an event that identifies it (string or integer). Default: ``id``.
    :param batch_size: records per invocation, 1-10000. Default: 100.
    :param retry_attempts: retries of a failing record before it goes to the on-failure queue. Default: 3.
    :param max_record_age: records older than this go to the on-failure queue unprocessed. Default: 1 hour.
    :param parallelization_factor: concurrent batches per shard, 1-10 (one id always lands on one
        batcher). Default: 1.
    :param handler_code: code asset of the function. Default: ``lambdas/deduplication``.
    :param handler: its handler; it must return a partial batch response. Default: ``dedup.handler``.
    :param function_options: memory, timeout, log retention, extra environment... Default: core
        defaults (256 MB, 10 seconds).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``stream``, ``window_table``, ``store_table``, ``on_failure_queue``, ``function``,
    ``event_source``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_stream: kinesis.IStream | None = None,
        stream_props: dict[str, Any] | None = None,
        existing_store_table: ddb.ITable | None = None,
        store_table_props: dict[str, Any] | None = None,
        window_table_props: dict[str, Any] | None = None,
        dedup_window: Duration | None = None,
        id_field: str = "id",
        batch_size: int = 100,
        retry_attempts: int = core.streams.RETRY_ATTEMPTS,
        max_record_age: Duration | None = None,
        parallelization_factor: int = 1,
        handler_code: lambda_.Code | None = None,
        handler: str = "dedup.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        window = dedup_window or Duration.hours(24)
        core.validation.in_range("dedup_window (seconds)", window.to_seconds(), 60, 365 * 24 * 3600)
        if not _FIELD.match(id_field):
            raise ValueError(f"id_field must be a JSON field name of letters, digits, '_' or '-' (given {id_field!r})")
        opts = function_options or core.FunctionOptions()
        if window_table_props and "time_to_live_attribute" in window_table_props:
            raise ValueError("window_table_props['time_to_live_attribute'] is set by the pattern (expires)")

        self.stream: kinesis.IStream = core.kinesis_stream(
            self, "Stream", existing_stream=existing_stream, stream_props=stream_props
        )
        self.window_table: ddb.ITable = core.table(
            self, "WindowTable", partition_key=EVENT_ID, time_to_live_attribute=EXPIRES,
            table_props=window_table_props, table_props_name="window_table_props",
        )
        self.store_table: ddb.ITable = core.table(
            self, "StoreTable", partition_key=EVENT_ID,
            existing_table=existing_store_table, table_props=store_table_props,
            existing_table_name="existing_store_table", table_props_name="store_table_props",
        )
        self.on_failure_queue: sqs.IQueue = core.dead_letter_queue(
            self, "OnFailureQueue", purpose="the dedup function (its Kinesis on-failure destination)"
        )
        self.function: lambda_.Function = core.python_function(
            self, "Dedup",
            code=handler_code or core.handler_code("deduplication"),
            handler=handler,
            service="deduplication",
            invocation="stream",
            description="Stores each event id once per deduplication window",
            options=opts,
            environment={
                "WINDOW_TABLE_NAME": self.window_table.table_name,
                "STORE_TABLE_NAME": self.store_table.table_name,
                "DEDUP_WINDOW_SECONDS": str(int(window.to_seconds())),
                "EVENT_ID_FIELD": id_field,
            },
        )
        # One transaction: a conditional put on the window table and an update of the store.
        self.window_table.grant(self.function, "dynamodb:PutItem")
        self.store_table.grant(self.function, "dynamodb:UpdateItem")
        self.event_source: lambda_.IEventSource = core.consume_stream(
            self.function, self.stream, on_failure=self.on_failure_queue, batch_size=batch_size,
            retry_attempts=retry_attempts, max_record_age=max_record_age,
            parallelization_factor=parallelization_factor,
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Dedup": self.function},
            dead_letter_queues={"OnFailureQueue": self.on_failure_queue},
            iterator_functions={"Dedup": self.function},
        ).alarms

    def grant_put_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put events to the input stream (``kinesis:PutRecord(s)``)."""
        return self.stream.grant_write(grantee)

    def grant_read_store(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the stored events (``GetItem``, ``Query``, ``Scan``...)."""
        return self.store_table.grant_read_data(grantee)
