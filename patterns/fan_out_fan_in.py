"""CATALOG 6 — FanOutFanIn (the DAM example): an upload to S3 fans out through SNS to one worker per
rendition, each on its own queue with a DLQ, writing to a renditions bucket; a fan-in marks the job
ready in a jobs table only when every part exists.

Fan-in trigger (the choice): the renditions bucket's own notifications, not a jobs-table stream.
The bucket is where a part *exists*, so the fan-in checks there (strongly consistent HEADs) instead
of trusting a counter the workers would have to keep in step with their writes — a worker that
wrote its object but died before updating a table, or updated the table and then failed to write,
cannot make the job wrong. Workers stay pure (read an upload, write a rendition) and need no table
access. Notifications reach the fan-in through an SQS queue with a DLQ rather than as async Lambda
invocations, so a failed check is retried and then kept, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=6,
    name="FanOutFanIn",
    construct="FanOutFanIn",
    module="patterns.fan_out_fan_in",
    demo_stack="FanOutFanInDemo",
    handlers=("fan_out_fan_in",),
    family="Messaging and integration",
    summary="S3 upload → SNS → one queue + worker per rendition → renditions bucket → fan-in marks the job ready",
)

#: Pillow's format names the workers can write.
FORMATS = ("JPEG", "PNG", "WEBP")
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True, kw_only=True)
class Rendition:
    """One part of every job: the upload resized to ``width`` pixels (aspect ratio kept).

    :param name: lowercase letters, digits and dashes; names the part in the jobs table, its key in
        the renditions bucket (``<upload key>/<name>.<ext>``), and its queue and worker.
    :param width: target width in pixels, 1-10000.
    :param format: ``JPEG``, ``PNG`` or ``WEBP``. Default: ``JPEG``.
    :param allow_upscale: whether a source narrower than ``width`` is enlarged. When False such a
        source fails this rendition (its event goes to the worker's DLQ) and the job stays not ready.
        Default: True.
    """

    name: str
    width: int
    format: str = "JPEG"
    allow_upscale: bool = True

    @property
    def file_name(self) -> str:
        return f"{self.name}.{_EXTENSIONS.get(self.format, self.format.lower())}"

    @property
    def construct_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))


DEFAULT_RENDITIONS: tuple[Rendition, ...] = (
    Rendition(name="thumbnail", width=160),
    Rendition(name="medium", width=640),
    Rendition(name="large", width=1280),
)


class FanOutFanIn(Construct):
    """Uploads fanned out to rendition workers and fanned back in to a "ready" job.

    Pillow in AWS: the Lambda runtime has no Pillow, so the workers need it from a layer or from
    their code asset. Pass ``pillow_layer`` — e.g. a Klayers layer for the library's runtime and
    architecture (python3.14, arm64): ``lambda_.LayerVersion.from_layer_version_arn(self, "Pillow",
    "arn:aws:lambda:<region>:770693421928:layer:Klayers-p314-arm64-Pillow:<version>")``, or a layer you
    build with ``pip install --platform manylinux2014_aarch64 --only-binary=:all: pillow -t python/`` —
    or pass ``handler_code`` with Pillow bundled beside the handlers. The local cloud imports Pillow
    from the virtual environment. Only the workers get the layer; the fan-in does not use Pillow.

    :param renditions: the parts of every job; at least one, unique names. Default: ``thumbnail``
        (160 px), ``medium`` (640 px), ``large`` (1280 px), all JPEG.
    :param pillow_layer: a layer providing Pillow to the workers. Default: none — then
        ``handler_code`` must bundle Pillow, and one of the two is required.
    :param existing_input_bucket: the uploads bucket; the pattern adds an object-created notification
        to it. Default: a new private, encrypted, TLS-only, versioned, access-logged bucket; mutually
        exclusive with ``input_bucket_props``.
    :param input_bucket_props: overrides for the new uploads bucket (``s3.Bucket`` props except public
        access and TLS). Default: none.
    :param input_filters: key filters (prefix/suffix) selecting the uploads that start a job.
        Default: every upload.
    :param existing_output_bucket: the renditions bucket; must not be the uploads bucket (renditions
        would start jobs). Default: a new bucket like the uploads one; mutually exclusive with
        ``output_bucket_props``.
    :param output_bucket_props: overrides for the new renditions bucket. Default: none.
    :param existing_topic: the topic S3 publishes uploads to. It must already allow
        ``s3.amazonaws.com`` to publish (topic policy, and its KMS key if encrypted), and carry only
        the uploads bucket's notifications: every subscriber treats each message as one. Default: a
        new KMS-encrypted, TLS-only topic that allows S3 to publish.
    :param existing_jobs_table: the jobs table (string partition key ``job_id``). Default: a new
        on-demand, encrypted table with point-in-time recovery; mutually exclusive with ``jobs_table_props``.
    :param jobs_table_props: overrides for the new jobs table (not its key). Default: none.
    :param handler_code: the code asset of the workers and the fan-in. Default: ``lambdas/fan_out_fan_in``.
    :param worker_handler: the workers' handler; it reads ``RENDITION_*`` and ``OUTPUT_BUCKET`` and
        must return a partial batch response. Default: ``workers.handler``.
    :param fan_in_handler: the fan-in's handler. Default: ``fan_in.handler``.
    :param worker_batch_size: uploads per worker invocation, 1-10. Default: 1 (memory and timeout
        are sized for one image).
    :param fan_in_batch_size: notifications per fan-in invocation, 1-10. Default: 10.
    :param max_receive_count: deliveries before a message moves to its queue's DLQ. Default: 5.
    :param worker_options: memory, timeout... of the workers. Default: 1024 MB, 30 seconds, other
        core defaults.
    :param fan_in_options: memory, timeout... of the fan-in. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        renditions: Sequence[Rendition] = DEFAULT_RENDITIONS,
        pillow_layer: lambda_.ILayerVersion | None = None,
        existing_input_bucket: s3.IBucket | None = None,
        input_bucket_props: dict[str, Any] | None = None,
        input_filters: Sequence[s3.NotificationKeyFilter] = (),
        existing_output_bucket: s3.IBucket | None = None,
        output_bucket_props: dict[str, Any] | None = None,
        existing_topic: sns.ITopic | None = None,
        existing_jobs_table: ddb.ITable | None = None,
        jobs_table_props: dict[str, Any] | None = None,
        handler_code: lambda_.Code | None = None,
        worker_handler: str = "workers.handler",
        fan_in_handler: str = "fan_in.handler",
        worker_batch_size: int = 1,
        fan_in_batch_size: int = 10,
        max_receive_count: int = core.MAX_RECEIVE_COUNT,
        worker_options: core.FunctionOptions | None = None,
        fan_in_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate_renditions(renditions)
        if pillow_layer is None and handler_code is None:
            raise ValueError(
                "the workers resize images with Pillow, which the Lambda runtime does not include: pass "
                "pillow_layer (e.g. LayerVersion.from_layer_version_arn(...) of a Klayers Pillow layer for "
                "python3.14/arm64), or handler_code with Pillow bundled"
            )
        if _same_bucket(existing_input_bucket, existing_output_bucket):
            raise ValueError(
                "existing_input_bucket and existing_output_bucket are the same bucket: every rendition written "
                "there would start a new job; give the renditions their own bucket"
            )
        core.validation.in_range("worker_batch_size", worker_batch_size, 1, 10)
        core.validation.in_range("fan_in_batch_size", fan_in_batch_size, 1, 10)
        core.validation.in_range("max_receive_count", max_receive_count, 1, 1000)
        worker_opts = worker_options or core.FunctionOptions(memory_size=1024, timeout=Duration.seconds(30))
        fan_in_opts = fan_in_options or core.FunctionOptions()
        code = handler_code or core.handler_code("fan_out_fan_in")
        self.renditions: tuple[Rendition, ...] = tuple(renditions)

        # --- storage: uploads, renditions, jobs ---------------------------------------------------
        buckets = core.bucket_pair(
            self, existing_source=existing_input_bucket, source_props=input_bucket_props,
            existing_target=existing_output_bucket, target_props=output_bucket_props,
        )
        self.access_log_bucket: s3.IBucket | None = buckets.access_logs
        self.input_bucket: s3.IBucket = buckets.source
        self.output_bucket: s3.IBucket = buckets.target
        self.jobs_table: ddb.ITable = core.jobs_table(
            self, "JobsTable", existing_table=existing_jobs_table, table_props=jobs_table_props
        )

        # --- fan-out: upload -> topic -> one queue + worker per rendition -----------------------
        self.topic: sns.ITopic = core.topic(
            self, "Topic", existing_topic=existing_topic, publishing_services=("s3.amazonaws.com",)
        )
        core.bucket_notification(self.input_bucket, s3n.SnsDestination(self.topic), *input_filters)
        self.worker_queues: dict[str, sqs.IQueue] = {}
        self.worker_dead_letter_queues: dict[str, sqs.IQueue] = {}
        self.workers: dict[str, lambda_.Function] = {}
        for rendition in self.renditions:
            cid = rendition.construct_name
            pair = core.queue_with_dlq(
                self, f"{cid}Queue", consumer_timeout=worker_opts.timeout, max_receive_count=max_receive_count
            )
            assert pair.dead_letter_queue is not None
            self._subscribe(pair.queue, pair.dead_letter_queue)
            worker = core.python_function(
                self, f"{cid}Worker",
                code=code, handler=worker_handler, service=f"{construct_id}-{rendition.name}",
                invocation="sqs", options=worker_opts, options_prop="worker_options",
                description=f"Renders the {rendition.name!r} rendition ({rendition.width} px {rendition.format})",
                environment={
                    "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                    "RENDITION_NAME": rendition.name,
                    "RENDITION_WIDTH": str(rendition.width),
                    "RENDITION_FORMAT": rendition.format,
                    "ALLOW_UPSCALE": "true" if rendition.allow_upscale else "false",
                },
            )
            if pillow_layer is not None:
                worker.add_layers(pillow_layer)
            core.grant_object_read(
                self.input_bucket, worker, list_bucket=True,
                why=f"the {rendition.name} worker reads the upload named by each notification",
            )
            core.grant_object_read(
                self.output_bucket, worker, f"*/{rendition.file_name}", list_bucket=True,
                why=f"the {rendition.name} worker checks whether a redelivered upload's rendition exists",
            )
            core.grant_object_write(
                self.output_bucket, worker, f"*/{rendition.file_name}",
                why=f"the {rendition.name} worker writes only its own rendition of each upload",
            )
            core.consume(worker, pair.queue, batch_size=worker_batch_size)
            self.worker_queues[rendition.name] = pair.queue
            self.worker_dead_letter_queues[rendition.name] = pair.dead_letter_queue
            self.workers[rendition.name] = worker

        # --- fan-in: uploads (register) and renditions (check) -> jobs table ---------------------
        fan_in_pair = core.queue_with_dlq(
            self, "FanInQueue", consumer_timeout=fan_in_opts.timeout, max_receive_count=max_receive_count
        )
        assert fan_in_pair.dead_letter_queue is not None
        self.fan_in_queue: sqs.IQueue = fan_in_pair.queue
        self.fan_in_dead_letter_queue: sqs.IQueue = fan_in_pair.dead_letter_queue
        self._subscribe(self.fan_in_queue, self.fan_in_dead_letter_queue)
        core.bucket_notification(self.output_bucket, s3n.SqsDestination(self.fan_in_queue))
        self.fan_in: lambda_.Function = core.python_function(
            self, "FanIn",
            code=code, handler=fan_in_handler, service=f"{construct_id}-fan-in", invocation="sqs",
            options=fan_in_opts,
            options_prop="fan_in_options",
            description="Registers uploads as jobs and marks a job ready when every rendition exists",
            environment={
                "INPUT_BUCKET": self.input_bucket.bucket_name,
                "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                "JOBS_TABLE": self.jobs_table.table_name,
                "PARTS": ",".join(r.file_name for r in self.renditions),
            },
        )
        core.grant_object_read(
            self.input_bucket, self.fan_in, list_bucket=True,
            why="the fan-in reads the current ETag of the upload a job belongs to (HeadObject)",
        )
        core.grant_object_read(
            self.output_bucket, self.fan_in, list_bucket=True,
            why="the fan-in checks that every rendition of a job exists (HeadObject)",
        )
        self.jobs_table.grant(self.fan_in, "dynamodb:UpdateItem")
        core.consume(self.fan_in, self.fan_in_queue, batch_size=fan_in_batch_size)
        self._fan_in_service = f"{construct_id}-fan-in"

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={**{f"{r.construct_name}Worker": self.workers[r.name] for r in self.renditions},
                       "FanIn": self.fan_in},
            work_queues={**{f"{r.construct_name}Queue": self.worker_queues[r.name] for r in self.renditions},
                         "FanInQueue": self.fan_in_queue},
            dead_letter_queues={
                **{f"{r.construct_name}DeadLetterQueue": self.worker_dead_letter_queues[r.name]
                   for r in self.renditions},
                "FanInDeadLetterQueue": self.fan_in_dead_letter_queue,
            },
        ).alarms

    def _subscribe(self, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue) -> None:
        """Raw delivery (the body is S3's notification JSON); SNS parks what it cannot deliver in the DLQ."""
        self.topic.add_subscription(
            subs.SqsSubscription(queue, raw_message_delivery=True, dead_letter_queue=dead_letter_queue)
        )

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to upload images (each upload starts a job)."""
        return self.input_bucket.grant_put(grantee)

    def grant_read_renditions(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the renditions."""
        return self.output_bucket.grant_read(grantee)

    def grant_read_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read job status (e.g. a DAM API answering "is asset X ready?")."""
        return self.jobs_table.grant_read_data(grantee)

    def metric_jobs_ready(self, *, period: Duration | None = None) -> cw.Metric:
        """Jobs the fan-in marked ready (Powertools metric ``JobsReady``), summed per ``period`` (default 5 min)."""
        return cw.Metric(
            namespace="ServerlessPatterns", metric_name="JobsReady",
            dimensions_map={"service": self._fan_in_service}, statistic="Sum", period=period or Duration.minutes(5),
        )


def _same_bucket(a: s3.IBucket | None, b: s3.IBucket | None) -> bool:
    """The same object, or two imports of one bucket name (unresolved names cannot be compared)."""
    if a is None or b is None:
        return False
    return a is b or (not Token.is_unresolved(a.bucket_name) and a.bucket_name == b.bucket_name)


def _validate_renditions(renditions: Sequence[Rendition]) -> None:
    if not renditions:
        raise ValueError("renditions must name at least one Rendition")
    for r in renditions:
        if not _NAME.match(r.name) or len(r.name) > 32:
            raise ValueError(
                f"rendition name {r.name!r} must start with a lowercase letter and contain only lowercase "
                "letters, digits and single dashes between them (at most 32 characters)"
            )
        core.validation.in_range(f"rendition {r.name!r} width", r.width, 1, 10000)
        if r.format not in FORMATS:
            raise ValueError(f"rendition {r.name!r}: format must be one of {', '.join(FORMATS)} (given {r.format!r})")
    names = [r.name for r in renditions]
    if len(set(names)) != len(names):
        raise ValueError(f"rendition names must be unique (given {names})")
    ids = [r.construct_name for r in renditions]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"rendition names must stay unique once dashes are removed, as they name constructs (given {names})"
        )
