"""CATALOG 22 — StreamPipeline: Kinesis stream → transform function → DynamoDB (fast reads) +
Firehose → S3 archive.

The stream consumer comes from ``core.consume_stream`` (bisect on error, bounded retries and record
age, an on-failure queue); the table is a ``core.table`` keyed by partition key and sequence number;
the archive is a ``core.bucket`` fed by ``core.s3_delivery_stream`` (GZIP objects under a date
prefix, buffered by size and interval). The default handler validates a whole batch before writing
anything, so a bad record fails its batch and bisecting isolates it; its writes are keyed by the
record's sequence number, so a retried batch never adds an item twice.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=22,
    name="StreamPipeline",
    construct="StreamPipeline",
    module="patterns.stream_pipeline",
    demo_stack="StreamPipelineDemo",
    handlers=("stream_pipeline",),
    family="Data and streams",
    summary="Kinesis records transformed once into a DynamoDB table and a GZIP, date-prefixed S3 archive (Firehose)",
)

#: Keys of the table (the handler's contract): the record's partition key and its sequence number.
PARTITION_KEY = "partition_key"
SEQUENCE_NUMBER = "sequence_number"


class StreamPipeline(Construct):
    """Records put to the stream are transformed and written to the table (one item per record)
    and, through the delivery stream, to the archive bucket (one JSON line per record).

    :param existing_stream: the input stream. Default: a new encrypted stream (one shard, 24 h);
        mutually exclusive with ``stream_props``.
    :param stream_props: overrides for the new stream (never unencrypted). Default: none.
    :param existing_table: the fast-read table; its partition key must be the string
        ``partition_key`` and its sort key the string ``sequence_number``. Default: a new on-demand,
        encrypted table with point-in-time recovery; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table (not its keys). Default: none.
    :param existing_archive_bucket: the archive. Default: a new encrypted, versioned, TLS-only bucket
        logging its access to a log bucket; mutually exclusive with ``archive_bucket_props``.
    :param archive_bucket_props: overrides for the new archive bucket. Default: none.
    :param archive_prefix: where Firehose writes objects (``!{timestamp:...}`` and
        ``!{firehose:random-string}`` are evaluated). Default: ``records/!{timestamp:yyyy/MM/dd}/``.
    :param error_prefix: where Firehose writes records it could not deliver; must contain
        ``!{firehose:error-output-type}``. Default: ``errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/``.
    :param buffer_size_mib: an object is written when the buffer holds this much, 1-128. Default: 5.
    :param buffer_interval: ... or this long after its first record, 0-900 seconds. Default: 300 seconds.
    :param compress: GZIP the archive objects. Default: True.
    :param batch_size: records per invocation, 1-10000. Default: 100.
    :param retry_attempts: retries of a failing record before it goes to the on-failure queue. Default: 3.
    :param max_record_age: records older than this go to the on-failure queue unprocessed. Default: 1 hour.
    :param parallelization_factor: concurrent batches per shard, 1-10 (a partition key always lands on
        one batcher, so its records stay in order). Default: 1.
    :param handler_code: code asset of the function. Default: ``lambdas/stream_pipeline``.
    :param handler: its handler; it must fail a batch rather than write part of it. Default: ``transform.handler``.
    :param function_options: memory, timeout, log retention, extra environment... Default: core
        defaults (256 MB, 10 seconds).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``stream``, ``table``, ``archive_bucket``, ``delivery_stream`` (the L1 resource) and
    ``delivery_role`` (Firehose's), ``on_failure_queue``, ``function``, ``event_source``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_stream: kinesis.IStream | None = None,
        stream_props: dict[str, Any] | None = None,
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        existing_archive_bucket: s3.IBucket | None = None,
        archive_bucket_props: dict[str, Any] | None = None,
        archive_prefix: str = core.firehose.ARCHIVE_PREFIX,
        error_prefix: str = core.firehose.ERROR_PREFIX,
        buffer_size_mib: int = core.firehose.BUFFER_SIZE_MIB,
        buffer_interval: Duration | None = None,
        compress: bool = True,
        batch_size: int = 100,
        retry_attempts: int = core.streams.RETRY_ATTEMPTS,
        max_record_age: Duration | None = None,
        parallelization_factor: int = 1,
        handler_code: lambda_.Code | None = None,
        handler: str = "transform.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        opts = function_options or core.FunctionOptions()

        self.stream: kinesis.IStream = core.kinesis_stream(
            self, "Stream", existing_stream=existing_stream, stream_props=stream_props
        )
        self.table: ddb.ITable = core.table(
            self, "Table", partition_key=PARTITION_KEY, sort_key=SEQUENCE_NUMBER,
            existing_table=existing_table, table_props=table_props,
        )
        self.archive_bucket: s3.IBucket = core.bucket(
            self, "Archive",
            existing_bucket=existing_archive_bucket, bucket_props=archive_bucket_props,
            server_access_logs=None if existing_archive_bucket else core.access_log_bucket(self),
            existing_bucket_name="existing_archive_bucket", bucket_props_name="archive_bucket_props",
        )
        archive = core.s3_delivery_stream(
            self, "Delivery", bucket=self.archive_bucket, prefix=archive_prefix, error_prefix=error_prefix,
            buffer_size_mib=buffer_size_mib, buffer_interval=buffer_interval or core.firehose.BUFFER_INTERVAL,
            compress=compress,
        )
        self.delivery_stream: firehose.CfnDeliveryStream = archive.resource
        self.delivery_role: iam.Role = archive.role
        self.on_failure_queue: sqs.IQueue = core.dead_letter_queue(
            self, "OnFailureQueue", purpose="the transform function (its Kinesis on-failure destination)"
        )
        self.function: lambda_.Function = core.python_function(
            self, "Transform",
            code=handler_code or core.handler_code("stream_pipeline"),
            handler=handler,
            service="stream-pipeline",
            invocation="stream",
            description="Transforms stream records into the table and the Firehose archive",
            options=opts,
            environment={
                "TABLE_NAME": self.table.table_name,
                "DELIVERY_STREAM_NAME": self.delivery_stream.ref,
            },
        )
        self.table.grant(self.function, "dynamodb:BatchWriteItem")
        archive.grant_put_records(self.function)
        self.event_source: lambda_.IEventSource = core.consume_stream(
            self.function, self.stream, on_failure=self.on_failure_queue, batch_size=batch_size,
            retry_attempts=retry_attempts, max_record_age=max_record_age,
            parallelization_factor=parallelization_factor,
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Transform": self.function},
            dead_letter_queues={"OnFailureQueue": self.on_failure_queue},
            iterator_functions={"Transform": self.function},
        ).alarms

    def grant_put_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put records to the input stream (``kinesis:PutRecord(s)``)."""
        return self.stream.grant_write(grantee)

    def grant_read_table(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the transformed records (``GetItem``, ``Query``, ``Scan``...)."""
        return self.table.grant_read_data(grantee)

    def grant_read_archive(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the archive objects."""
        return self.archive_bucket.grant_read(grantee)
