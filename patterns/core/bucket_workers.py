"""Bucket to queue to worker: a bucket's object-created events, queued for one function.

S3 delivers event notifications at least once and in bursts. Queueing them (instead of invoking the
function directly) buffers the bursts, retries a failed object with the queue's visibility timeout,
and parks an object that keeps failing in a dead-letter queue where it is visible and redrivable;
partial batch responses keep one bad object from failing its batch. EventDrivenProcessor and
ThumbnailerWithDb (twice) are this stage plus what they do with the objects.

CDK writes the notification configuration at deploy time with a custom resource
(``Custom::S3BucketNotifications``, backed by its singleton ``BucketNotificationsHandler`` function),
and ``s3n.SqsDestination`` adds the queue policy that lets ``s3.amazonaws.com`` send to the queue,
scoped to the bucket's ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Token
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import validation
from .functions import FunctionOptions, python_function
from .notifications import bucket_notification
from .objects import grant_object_read
from .queues import MAX_RECEIVE_COUNT, consume, queue_with_dlq


@dataclass(frozen=True)
class BucketWorker:
    """What ``bucket_worker`` built: the notification queue, its DLQ, the worker and its event source."""

    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue
    function: lambda_.Function
    event_source: sources.SqsEventSource


def key_pattern(prefix: str | None) -> str:
    """The IAM object-key pattern of the keys under ``prefix`` (``*`` for the whole bucket)."""
    return f"{prefix or ''}*"


def bucket_worker(
    scope: Construct,
    construct_id: str,
    *,
    bucket: s3.IBucket,
    code: lambda_.Code,
    handler: str,
    service: str,
    description: str = "",
    options: FunctionOptions | None = None,
    options_prop: str = "function_options",
    environment: Mapping[str, str] | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
    batch_size: int = 10,
    max_receive_count: int = MAX_RECEIVE_COUNT,
    queue_props: dict[str, Any] | None = None,
    queue_props_name: str = "queue_props",
    queue_id: str | None = None,
    reserved_concurrency: int | None = None,
    max_concurrency: int | None = None,
) -> BucketWorker:
    """Queue ``bucket``'s object-created events under ``prefix``/``suffix`` for a new function.

    Builds the queue + DLQ (``queue_with_dlq``: id ``queue_id``, default ``<construct_id>Queue``,
    visibility 6x the function timeout), the notification with its queue policy, the function
    ``construct_id`` (``python_function``) consuming the queue with partial batch responses, and
    ``s3:GetObject`` for the function on the notified keys only (``<prefix>*``). Writes are the
    caller's to grant: they are what differs between workers.
    """
    opts = options or FunctionOptions()
    validation.concurrency(reserved=reserved_concurrency, max_concurrency=max_concurrency)
    for name, value in (("prefix", prefix), ("suffix", suffix)):
        if value is not None and not Token.is_unresolved(value) and not 0 < len(value) <= 1024:
            raise ValueError(f"{name} must be 1 to 1024 characters, or None for no filter (given {len(value)})")
    pair = queue_with_dlq(
        scope,
        queue_id or f"{construct_id}Queue",
        consumer_timeout=opts.timeout,
        queue_props=queue_props,
        queue_props_name=queue_props_name,
        max_receive_count=max_receive_count,
    )
    assert pair.dead_letter_queue is not None  # a new queue always has one
    filters = [s3.NotificationKeyFilter(prefix=prefix, suffix=suffix)] if prefix or suffix else []
    bucket_notification(bucket, s3n.SqsDestination(pair.queue), *filters)
    function = python_function(
        scope,
        construct_id,
        code=code,
        handler=handler,
        service=service,
        description=description,
        invocation="sqs",
        options=opts,
        options_prop=options_prop,
        environment=environment,
        reserved_concurrency=reserved_concurrency,
    )
    grant_object_read(
        bucket, function, key_pattern(prefix), why=f"{construct_id} reads each object it is notified about"
    )
    source = consume(function, pair.queue, batch_size=batch_size, max_concurrency=max_concurrency)
    return BucketWorker(pair.queue, pair.dead_letter_queue, function, source)


def _same_bucket(a: s3.IBucket, b: s3.IBucket) -> bool:
    if a is b:
        return True
    names = (a.bucket_name, b.bucket_name)
    return not any(Token.is_unresolved(n) for n in names) and names[0] == names[1]


def check_no_trigger_loop(
    *,
    source: s3.IBucket,
    source_prefix: str | None,
    target: s3.IBucket,
    target_prefix: str | None,
    source_name: str,
    target_name: str,
) -> None:
    """Raise when a worker's output could notify the same worker again (a recursive loop).

    A worker triggered by ``source`` keys under ``source_prefix`` and writing ``target`` keys under
    ``target_prefix`` loops if both are one bucket and either prefix is a prefix of the other (an
    empty prefix is a prefix of everything). Suffixes are not relied on: swapped handler code may
    write any suffix.
    """
    if not _same_bucket(source, target):
        return
    a, b = source_prefix or "", target_prefix or ""
    if a.startswith(b) or b.startswith(a):
        raise ValueError(
            f"{target_name} is the same bucket as {source_name} and their prefixes overlap "
            f"({a!r} and {b!r}): every object written would trigger the worker again (a recursive loop). "
            "Use separate buckets, or disjoint prefixes such as 'incoming/' and 'processed/'"
        )
