"""CATALOG 12 — ThumbnailerWithDb: S3 uploads → SQS → thumbnailer → thumbnails bucket → SQS → user
updater → users table.

Two bucket-to-queue-to-worker stages (``core.bucket_worker``, shared with EventDrivenProcessor): the
thumbnailer turns ``<upload_prefix><user_id>/<file>`` into ``<thumbnail_prefix><user_id>/<name>.<ext>``,
and the thumbnail's own creation event makes the updater point the user's record at it. Chaining on
the thumbnail's event (rather than having the thumbnailer write the table) means the record only
ever points at a thumbnail that exists.
"""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=12,
    name="ThumbnailerWithDb",
    construct="ThumbnailerWithDb",
    module="patterns.thumbnailer_with_db",
    demo_stack="ThumbnailerWithDbDemo",
    handlers=("thumbnailer_with_db",),
    family="Messaging and integration",
    summary="image uploads thumbnailed via SQS, and each new thumbnail's event points the user's record at it",
)

#: Partition key of the users table (string): the user id taken from the upload key.
USER_KEY = "user_id"
THUMBNAIL_FORMATS = ("JPEG", "PNG", "WEBP")


def _default_thumbnailer_options() -> core.FunctionOptions:
    return core.FunctionOptions(memory_size=1024, timeout=Duration.seconds(30))


class ThumbnailerWithDb(Construct):
    """User images in, thumbnails out, and each user's record pointing at their newest thumbnail.

    An upload's key names its user: ``<upload_prefix><user_id>/<file>`` (user ids are 1-128 letters,
    digits, ``_`` or ``-``). A thumbnail fits in ``max_width`` x ``max_height`` with the image's aspect
    ratio (EXIF orientation applied) and is never enlarged. The user's item (key ``user_id``) gets
    ``thumbnail_key``, ``thumbnail_bucket``, ``thumbnail_width``, ``thumbnail_height`` and
    ``thumbnail_updated_at``; it is created if missing, and an older thumbnail's late or redelivered
    event never replaces a newer one. An upload that is not an image ends in the thumbnail DLQ and
    leaves the record unchanged.

    **Pillow in AWS.** The thumbnailer imports Pillow (``PIL``), which is not in the Lambda runtime or
    the Powertools layer. Pass ``pillow_layer``: a layer whose ``python/`` folder holds Pillow built
    for the function's runtime and architecture (Python 3.14, arm64), e.g. from
    ``pip install pillow --platform manylinux2014_aarch64 --python-version 3.14 --only-binary=:all:
    --target layer/python`` and ``lambda_.LayerVersion(self, "Pillow", code=lambda_.Code.from_asset("layer"))``,
    or a published Pillow layer's ARN via ``LayerVersion.from_layer_version_arn``. Alternatively bundle
    Pillow into ``thumbnailer_code``. Without either, synth warns and every thumbnail fails in AWS. The
    local cloud's execution environments run on the virtualenv's packages, so there Pillow comes from it
    (``pip install serverless-patterns-cdk[local]``).

    :param existing_uploads_bucket: the bucket users upload images to. Default: a new private, encrypted,
        versioned, TLS-only bucket with access logs; mutually exclusive with ``uploads_bucket_props``.
    :param uploads_bucket_props: overrides for the new uploads bucket. Default: none.
    :param existing_thumbnails_bucket: where thumbnails are written (it may be the uploads bucket when the
        two prefixes do not overlap). Default: a new bucket like the uploads bucket; mutually exclusive with
        ``thumbnails_bucket_props``.
    :param thumbnails_bucket_props: overrides for the new thumbnails bucket. Default: none.
    :param existing_users_table: the users table (string partition key ``user_id``). Default: a new
        on-demand, encrypted table with point-in-time recovery; mutually exclusive with ``users_table_props``.
    :param users_table_props: overrides for the new users table (not its key). Default: none.
    :param upload_prefix: uploads are read under this prefix ("" or ending in "/"). Default: ``uploads/``.
    :param thumbnail_prefix: thumbnails are written under this prefix ("" or ending in "/").
        Default: ``thumbnails/``.
    :param max_width: the widest a thumbnail may be, 1-4096 pixels. Default: 256.
    :param max_height: the tallest a thumbnail may be, 1-4096 pixels. Default: 256.
    :param thumbnail_format: ``JPEG``, ``PNG`` or ``WEBP``. Default: ``JPEG``.
    :param pillow_layer: a layer providing Pillow to the thumbnailer in AWS (see above). Default: none.
    :param batch_size: notifications per invocation of either function, 1-10. Default: 10.
    :param max_receive_count: deliveries before a notification moves to its stage's DLQ. Default: 5.
    :param thumbnail_queue_props: overrides for the thumbnailer's queue (not encryption, TLS, DLQ, FIFO).
        Default: none.
    :param update_queue_props: overrides for the updater's queue (same limits). Default: none.
    :param idempotency_ttl: how long the thumbnailer remembers an upload it handled. Default: 1 hour.
    :param thumbnailer_code: code asset of the thumbnailer. Default: ``lambdas/thumbnailer_with_db``.
    :param thumbnailer_handler: its handler (partial batch response). Default: ``thumbnailer.handler``.
    :param updater_code: code asset of the user updater. Default: ``lambdas/thumbnailer_with_db``.
    :param updater_handler: its handler (partial batch response). Default: ``updater.handler``.
    :param thumbnailer_options: memory, timeout... of the thumbnailer. Default: 1024 MB and 30 seconds
        (image decoding is memory- and CPU-bound), core defaults otherwise.
    :param updater_options: memory, timeout... of the user updater. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``uploads_bucket``, ``thumbnails_bucket``, ``users_table``, ``idempotency_table``,
    ``access_log_bucket`` (None when both buckets are existing), ``thumbnail_queue``,
    ``thumbnail_dead_letter_queue``, ``thumbnailer``, ``update_queue``, ``update_dead_letter_queue``,
    ``user_updater``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_uploads_bucket: s3.IBucket | None = None,
        uploads_bucket_props: dict | None = None,
        existing_thumbnails_bucket: s3.IBucket | None = None,
        thumbnails_bucket_props: dict | None = None,
        existing_users_table: ddb.ITable | None = None,
        users_table_props: dict | None = None,
        upload_prefix: str = "uploads/",
        thumbnail_prefix: str = "thumbnails/",
        max_width: int = 256,
        max_height: int = 256,
        thumbnail_format: str = "JPEG",
        pillow_layer: lambda_.ILayerVersion | None = None,
        batch_size: int = 10,
        max_receive_count: int = core.MAX_RECEIVE_COUNT,
        thumbnail_queue_props: dict | None = None,
        update_queue_props: dict | None = None,
        idempotency_ttl: Duration | None = None,
        thumbnailer_code: lambda_.Code | None = None,
        thumbnailer_handler: str = "thumbnailer.handler",
        updater_code: lambda_.Code | None = None,
        updater_handler: str = "updater.handler",
        thumbnailer_options: core.FunctionOptions | None = None,
        updater_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.validation.exclusive(
            existing_uploads_bucket=existing_uploads_bucket, uploads_bucket_props=uploads_bucket_props
        )
        core.validation.exclusive(
            existing_thumbnails_bucket=existing_thumbnails_bucket, thumbnails_bucket_props=thumbnails_bucket_props
        )
        for name, prefix in (("upload_prefix", upload_prefix), ("thumbnail_prefix", thumbnail_prefix)):
            if prefix and not prefix.endswith("/"):
                raise ValueError(
                    f"{name} must be empty or end with '/' (given {prefix!r}): the user id is the next path segment"
                )
        core.validation.in_range("max_width", max_width, 1, 4096)
        core.validation.in_range("max_height", max_height, 1, 4096)
        if thumbnail_format not in THUMBNAIL_FORMATS:
            raise ValueError(
                f"thumbnail_format must be one of {', '.join(THUMBNAIL_FORMATS)} (given {thumbnail_format!r})"
            )
        ttl = idempotency_ttl or Duration.hours(1)
        core.validation.in_range("idempotency_ttl (seconds)", ttl.to_seconds(), 60, 30 * 24 * 3600)
        thumb_opts = thumbnailer_options or _default_thumbnailer_options()
        update_opts = updater_options or core.FunctionOptions()
        self._upload_prefix, self._thumbnail_prefix = upload_prefix, thumbnail_prefix

        buckets = core.bucket_pair(
            self, existing_source=existing_uploads_bucket, source_props=uploads_bucket_props,
            existing_target=existing_thumbnails_bucket, target_props=thumbnails_bucket_props,
            source_name="uploads", target_name="thumbnails",
        )
        self.access_log_bucket: s3.Bucket | None = buckets.access_logs
        self.uploads_bucket: s3.IBucket = buckets.source
        self.thumbnails_bucket: s3.IBucket = buckets.target
        core.check_no_trigger_loop(
            source=self.uploads_bucket, source_prefix=upload_prefix,
            target=self.thumbnails_bucket, target_prefix=thumbnail_prefix,
            source_name="the uploads bucket", target_name="the thumbnails bucket",
        )
        self.users_table: ddb.ITable = core.table(
            self, "UsersTable", partition_key=USER_KEY,
            existing_table=existing_users_table, table_props=users_table_props,
            existing_table_name="existing_users_table", table_props_name="users_table_props",
        )
        self.idempotency_table: ddb.Table = core.idempotency_table(self)
        code = core.handler_code("thumbnailer_with_db") if thumbnailer_code is None or updater_code is None else None

        thumbnails = core.bucket_worker(
            self, "Thumbnailer",
            queue_id="ThumbnailQueue",
            bucket=self.uploads_bucket,
            code=thumbnailer_code or code,  # type: ignore[arg-type]
            handler=thumbnailer_handler,
            service="thumbnailer",
            description="Writes a thumbnail of each uploaded user image",
            options=thumb_opts,
            options_prop="thumbnailer_options",
            environment={
                "UPLOAD_PREFIX": upload_prefix,
                "THUMBNAILS_BUCKET": self.thumbnails_bucket.bucket_name,
                "THUMBNAIL_PREFIX": thumbnail_prefix,
                "MAX_WIDTH": str(max_width),
                "MAX_HEIGHT": str(max_height),
                "THUMBNAIL_FORMAT": thumbnail_format,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "IDEMPOTENCY_TTL_SECONDS": str(int(ttl.to_seconds())),
            },
            prefix=upload_prefix or None,
            batch_size=batch_size,
            max_receive_count=max_receive_count,
            queue_props=thumbnail_queue_props,
            queue_props_name="thumbnail_queue_props",
        )
        self.thumbnail_queue: sqs.IQueue = thumbnails.queue
        self.thumbnail_dead_letter_queue: sqs.IQueue = thumbnails.dead_letter_queue
        self.thumbnailer: lambda_.Function = thumbnails.function
        core.grant_object_write(
            self.thumbnails_bucket, self.thumbnailer, f"{thumbnail_prefix}*",
            why="the thumbnailer writes one thumbnail per upload under thumbnail_prefix",
        )
        core.grant_idempotency(self.idempotency_table, self.thumbnailer)
        if pillow_layer is not None:
            self.thumbnailer.add_layers(pillow_layer)
        else:
            Annotations.of(self).add_warning_v2(
                "patterns:thumbnailer-without-pillow",
                "ThumbnailerWithDb has no pillow_layer: the thumbnailer cannot import Pillow in AWS (the local "
                "cloud uses the virtualenv's). Pass pillow_layer, or bundle Pillow into thumbnailer_code.",
            )

        updates = core.bucket_worker(
            self, "UserUpdater",
            queue_id="UpdateQueue",
            bucket=self.thumbnails_bucket,
            code=updater_code or code,  # type: ignore[arg-type]
            handler=updater_handler,
            service="user-updater",
            description="Points each user's record at their newest thumbnail",
            options=update_opts,
            options_prop="updater_options",
            environment={"USERS_TABLE_NAME": self.users_table.table_name, "THUMBNAIL_PREFIX": thumbnail_prefix},
            prefix=thumbnail_prefix or None,
            batch_size=batch_size,
            max_receive_count=max_receive_count,
            queue_props=update_queue_props,
            queue_props_name="update_queue_props",
        )
        self.update_queue: sqs.IQueue = updates.queue
        self.update_dead_letter_queue: sqs.IQueue = updates.dead_letter_queue
        self.user_updater: lambda_.Function = updates.function
        # One conditional UpdateItem per thumbnail: no reads, scans or deletes.
        self.users_table.grant(self.user_updater, "dynamodb:UpdateItem")

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Thumbnailer": self.thumbnailer, "UserUpdater": self.user_updater},
            work_queues={"ThumbnailQueue": self.thumbnail_queue, "UpdateQueue": self.update_queue},
            dead_letter_queues={
                "ThumbnailDeadLetterQueue": self.thumbnail_dead_letter_queue,
                "UpdateDeadLetterQueue": self.update_dead_letter_queue,
            },
        ).alarms

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to upload images under ``upload_prefix`` (``s3:PutObject`` only)."""
        return core.grant_object_write(
            self.uploads_bucket, grantee, f"{self._upload_prefix}*", why="uploads are what the thumbnailer reads"
        )

    def grant_read_thumbnails(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read thumbnails (``s3:GetObject`` under ``thumbnail_prefix``)."""
        return core.grant_object_read(
            self.thumbnails_bucket, grantee, f"{self._thumbnail_prefix}*", why="reads the users' thumbnails"
        )

    def grant_read_users(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the users table (e.g. an API serving profiles)."""
        return self.users_table.grant_read_data(grantee)
