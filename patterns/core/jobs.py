"""Job tracking for the fan-out / fan-in patterns (FanOutFanIn, MapReduce).

A job is one row keyed by ``job_id`` whose ``status`` only moves forward (e.g. ``mapping`` →
``reducing`` → ``done``, or ``processing`` → ``ready``). Handlers advance it with conditional
updates, so exactly one writer wins each transition however many workers race or retry, and the
parts seen so far are a set (a retried part adds nothing).

``on_job_status`` turns a transition into a trigger: the table's stream, filtered to rows entering
one status, invokes a function. The state change *is* the event, so there is no second write (a
message sent after the update) that a crash could lose.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import validation
from .streams import MAX_RECORD_AGE, RETRY_ATTEMPTS
from .tables import table

#: The partition key of every jobs table: handlers and constructs agree on it here.
JOB_KEY = "job_id"
#: The attribute whose value ``on_job_status`` filters on.
STATUS_ATTRIBUTE = "status"


def jobs_table(
    scope: Construct,
    construct_id: str = "JobsTable",
    *,
    stream: bool = False,
    existing_table: ddb.ITable | None = None,
    table_props: dict[str, Any] | None = None,
    existing_table_name: str = "existing_jobs_table",
    table_props_name: str = "jobs_table_props",
) -> ddb.ITable:
    """Resolve a pattern's jobs table (partition key ``job_id``), with a ``NEW_IMAGE`` stream if asked.

    An existing table must already have a stream when ``stream`` is set: import it with
    ``Table.from_table_attributes(table_stream_arn=...)``.
    """
    resolved = table(
        scope, construct_id, partition_key=JOB_KEY,
        stream=ddb.StreamViewType.NEW_IMAGE if stream and existing_table is None else None,
        existing_table=existing_table, table_props=table_props,
        existing_table_name=existing_table_name, table_props_name=table_props_name,
    )
    if stream and existing_table is not None and not existing_table.table_stream_arn:
        raise ValueError(
            f"{existing_table_name} has no stream, but the pattern is triggered by it: import the table with "
            "Table.from_table_attributes(table_name=..., table_stream_arn=...) and a NEW_IMAGE or "
            "NEW_AND_OLD_IMAGES stream"
        )
    return resolved


def on_job_status(
    function: lambda_.IFunction,
    jobs: ddb.ITable,
    *,
    status: str,
    on_failure: sqs.IQueue,
    batch_size: int = 10,
    retry_attempts: int = RETRY_ATTEMPTS,
    max_record_age: Duration = MAX_RECORD_AGE,
) -> sources.DynamoEventSource:
    """Invoke ``function`` with the jobs-table stream records of rows entering ``status``.

    Stream semantics of ``consume_stream`` (bisect, bounded retries, on-failure queue, partial batch
    responses) plus a filter, so the function is not invoked for the other writes to the table. The
    handler should still check the status itself: filters are an optimisation, not a guarantee of
    the emulators it may run on.
    """
    if not status:
        raise ValueError("status must name the job status that triggers the function (given an empty string)")
    validation.in_range("batch_size", batch_size, 1, 10000)
    validation.in_range("retry_attempts", retry_attempts, 0, 10000)
    source = sources.DynamoEventSource(
        jobs,
        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        batch_size=batch_size,
        bisect_batch_on_error=True,
        retry_attempts=retry_attempts,
        max_record_age=max_record_age,
        report_batch_item_failures=True,
        on_failure=sources.SqsDlq(on_failure),
        filters=[
            lambda_.FilterCriteria.filter({
                "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
                "dynamodb": {"NewImage": {STATUS_ATTRIBUTE: {"S": lambda_.FilterRule.is_equal(status)}}},
            })
        ],
    )
    function.add_event_source(source)
    return source
