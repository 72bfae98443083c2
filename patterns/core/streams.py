"""Stream consumers (Kinesis, DynamoDB streams) with bisect, bounded retries and an on-failure queue."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import validation

#: Defaults of ``consume_stream``: retries before a record goes to the on-failure queue, and its maximum age.
RETRY_ATTEMPTS = 3
MAX_RECORD_AGE = Duration.hours(1)


def consume_stream(
    function: lambda_.IFunction,
    source: kinesis.IStream | ddb.ITable,
    *,
    on_failure: sqs.IQueue,
    batch_size: int = 100,
    retry_attempts: int = RETRY_ATTEMPTS,
    max_record_age: Duration | None = None,
    parallelization_factor: int = 1,
    tumbling_window: Duration | None = None,
    starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
) -> lambda_.IEventSource:
    """Attach a stream event source: a bad record is isolated by bisecting, retried a bounded number
    of times, then described in ``on_failure`` while the rest of the shard moves on. ``max_record_age``
    None means the core default (MAX_RECORD_AGE), so a pattern passes its user's optional value through."""
    validation.in_range("batch_size", batch_size, 1, 10000)
    validation.in_range("retry_attempts", retry_attempts, 0, 10000)
    validation.in_range("parallelization_factor", parallelization_factor, 1, 10)
    common = dict(
        starting_position=starting_position,
        batch_size=batch_size,
        bisect_batch_on_error=True,
        retry_attempts=retry_attempts,
        max_record_age=MAX_RECORD_AGE if max_record_age is None else max_record_age,
        parallelization_factor=parallelization_factor,
        report_batch_item_failures=True,
        tumbling_window=tumbling_window,
        on_failure=sources.SqsDlq(on_failure),
    )
    if hasattr(source, "table_stream_arn"):
        event_source: lambda_.IEventSource = sources.DynamoEventSource(source, **common)  # type: ignore[arg-type]
    else:
        event_source = sources.KinesisEventSource(source, **common)  # type: ignore[arg-type]
    function.add_event_source(event_source)
    return event_source


#: Default of ``kinesis_stream``: one provisioned shard (1 MB/s or 1000 records/s in), records kept 24 hours.
SHARD_COUNT = 1


def kinesis_stream(
    scope: Construct,
    construct_id: str = "Stream",
    *,
    existing_stream: kinesis.IStream | None = None,
    stream_props: dict[str, Any] | None = None,
    existing_stream_name: str = "existing_stream",
    stream_props_name: str = "stream_props",
) -> kinesis.IStream:
    """Resolve a pattern's Kinesis data stream: an injected one, or a new one from defaults + ``stream_props``.

    Defaults: one provisioned shard, 24 hours retention, server-side encryption with the AWS-managed
    ``aws/kinesis`` key. ``stream_props`` may choose a customer key or on-demand capacity, never no encryption.
    """
    validation.exclusive(**{existing_stream_name: existing_stream, stream_props_name: stream_props})
    if existing_stream is not None:
        return existing_stream
    props = dict(stream_props or {})
    if props.get("encryption") == kinesis.StreamEncryption.UNENCRYPTED:
        raise ValueError(f"{stream_props_name}['encryption'] cannot be UNENCRYPTED: use MANAGED (default) or KMS")
    props.setdefault("encryption", kinesis.StreamEncryption.MANAGED)
    if props.get("stream_mode") != kinesis.StreamMode.ON_DEMAND:
        props.setdefault("shard_count", SHARD_COUNT)
    return kinesis.Stream(scope, construct_id, **props)
