"""CATALOG 11 — EventDrivenProcessor (encoder): S3 upload → SQS → processor function → processed
object in an output bucket.

The bucket-to-queue-to-worker stage is ``core.bucket_worker`` (shared with ThumbnailerWithDb); this
construct adds the input and output buckets, the write grant and idempotency. The default handler
"encodes" text: it decodes UTF-8 / UTF-16 / UTF-32 (with or without a BOM), normalizes it (Unicode
NFC, LF line endings, one final newline) and writes it gzip-compressed as ``<output_prefix><key>.gz``.
Input that is not text fails its record, which ends in the DLQ after ``max_receive_count`` tries.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=11,
    name="EventDrivenProcessor",
    construct="EventDrivenProcessor",
    module="patterns.event_driven_processor",
    demo_stack="EventDrivenProcessorDemo",
    handlers=("event_driven_processor",),
    family="Messaging and integration",
    summary="S3 uploads queued (SQS + DLQ) for a processor that writes each processed object to an output bucket",
)

class EventDrivenProcessor(Construct):
    """Every object uploaded to the input bucket (under ``prefix``, ending in ``suffix``) is processed
    once into the output bucket; an object that cannot be processed ends in the dead-letter queue.

    S3 notifies at least once, so the processor is idempotent per object write (bucket, key,
    version or ETag, sequencer): a redelivered notification does not write a second output version.

    :param existing_input_bucket: the bucket whose uploads are processed. Default: a new private,
        encrypted, versioned, TLS-only bucket with access logs; mutually exclusive with ``input_bucket_props``.
    :param input_bucket_props: overrides for the new input bucket. Default: none.
    :param existing_output_bucket: where processed objects are written (it may be the input bucket when
        ``prefix`` and ``output_prefix`` do not overlap). Default: a new bucket like the input bucket;
        mutually exclusive with ``output_bucket_props``.
    :param output_bucket_props: overrides for the new output bucket. Default: none.
    :param prefix: only keys starting with this are processed. Default: none (every key).
    :param suffix: only keys ending with this are processed (e.g. ``.txt``). Default: none (every key).
    :param output_prefix: processed objects are written under this prefix; the processor may write
        nowhere else. Default: ``""``.
    :param batch_size: notifications per processor invocation, 1-10 (larger batches would need a batching
        window, which delays every upload). Default: 10.
    :param max_receive_count: deliveries before a notification moves to the DLQ. Default: 5.
    :param queue_props: overrides for the notification queue (not encryption, TLS, DLQ, FIFO). Default: none.
    :param reserved_concurrency: reserved concurrency of the processor (at least 2). Default: none.
    :param max_concurrency: the most batches the event source runs at once (2-1000). Default: none.
    :param idempotency_ttl: how long a processed object write is remembered. Default: 1 hour.
    :param handler_code: code asset of the processor. Default: ``lambdas/event_driven_processor``.
    :param handler: its handler; it must return a partial batch response. Default: ``processor.handler``.
    :param function_options: memory, timeout, log retention, extra environment... of the processor.
        Default: core defaults (256 MB, 10 seconds).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``input_bucket``, ``output_bucket``, ``access_log_bucket`` (None when both buckets are
    existing), ``queue``, ``dead_letter_queue``, ``function``, ``event_source``, ``idempotency_table``,
    ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_input_bucket: s3.IBucket | None = None,
        input_bucket_props: dict | None = None,
        existing_output_bucket: s3.IBucket | None = None,
        output_bucket_props: dict | None = None,
        prefix: str | None = None,
        suffix: str | None = None,
        output_prefix: str = "",
        batch_size: int = 10,
        max_receive_count: int = core.MAX_RECEIVE_COUNT,
        queue_props: dict | None = None,
        reserved_concurrency: int | None = None,
        max_concurrency: int | None = None,
        idempotency_ttl: Duration | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "processor.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.validation.exclusive(existing_input_bucket=existing_input_bucket, input_bucket_props=input_bucket_props)
        core.validation.exclusive(
            existing_output_bucket=existing_output_bucket, output_bucket_props=output_bucket_props
        )
        ttl = idempotency_ttl or Duration.hours(1)
        core.validation.in_range("idempotency_ttl (seconds)", ttl.to_seconds(), 60, 30 * 24 * 3600)
        opts = function_options or core.FunctionOptions()
        self._prefix, self._output_prefix = prefix, output_prefix

        buckets = core.bucket_pair(
            self, existing_source=existing_input_bucket, source_props=input_bucket_props,
            existing_target=existing_output_bucket, target_props=output_bucket_props,
        )
        self.access_log_bucket: s3.Bucket | None = buckets.access_logs
        self.input_bucket: s3.IBucket = buckets.source
        self.output_bucket: s3.IBucket = buckets.target
        core.check_no_trigger_loop(
            source=self.input_bucket, source_prefix=prefix, target=self.output_bucket, target_prefix=output_prefix,
            source_name="existing_input_bucket", target_name="existing_output_bucket",
        )
        self.idempotency_table: ddb.Table = core.idempotency_table(self)

        stage = core.bucket_worker(
            self, "Processor",
            queue_id="Queue",
            bucket=self.input_bucket,
            code=handler_code or core.handler_code("event_driven_processor"),
            handler=handler,
            service="processor",
            description="Processes each uploaded object into the output bucket",
            options=opts,
            environment={
                "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                "OUTPUT_PREFIX": output_prefix,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "IDEMPOTENCY_TTL_SECONDS": str(int(ttl.to_seconds())),
            },
            prefix=prefix,
            suffix=suffix,
            batch_size=batch_size,
            max_receive_count=max_receive_count,
            queue_props=queue_props,
            reserved_concurrency=reserved_concurrency,
            max_concurrency=max_concurrency,
        )
        self.queue: sqs.IQueue = stage.queue
        self.dead_letter_queue: sqs.IQueue = stage.dead_letter_queue
        self.function: lambda_.Function = stage.function
        self.event_source: sources.SqsEventSource = stage.event_source
        core.grant_object_write(
            self.output_bucket, self.function, f"{output_prefix}*",
            why="the processor writes one processed object per upload under output_prefix",
        )
        core.grant_idempotency(self.idempotency_table, self.function)

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Processor": self.function},
            work_queues={"Queue": self.queue},
            dead_letter_queues={"DeadLetterQueue": self.dead_letter_queue},
        ).alarms

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put objects under ``prefix`` in the input bucket (``s3:PutObject`` only)."""
        return core.grant_object_write(
            self.input_bucket, grantee, core.bucket_workers.key_pattern(self._prefix),
            why="uploads are what the processor is notified about",
        )

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the processed objects (``s3:GetObject`` under ``output_prefix``)."""
        return core.grant_object_read(
            self.output_bucket, grantee, f"{self._output_prefix}*", why="reads the processed objects"
        )
