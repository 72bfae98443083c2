"""Queues with a dead-letter queue, encryption and TLS-only access, and their Lambda consumers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Token
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import nag, validation

#: Default of ``max_receive_count``: deliveries before a message is parked in the DLQ.
MAX_RECEIVE_COUNT = 5
#: DLQs keep messages as long as SQS allows, to leave time for investigation and redrive.
DLQ_RETENTION = Duration.days(14)
#: The visibility timeout SQS gives a queue created without one.
SQS_DEFAULT_VISIBILITY = Duration.seconds(30)


def known_visibility_timeout(queue: sqs.IQueue) -> Duration | None:
    """The visibility timeout of a queue defined in this app, or None where synth cannot know it
    (an imported queue, or a value that is a token)."""
    if not isinstance(queue, sqs.Queue):
        return None
    cfn = queue.node.default_child
    if not isinstance(cfn, sqs.CfnQueue):
        return None
    seconds = cfn.visibility_timeout
    if seconds is None:
        return SQS_DEFAULT_VISIBILITY
    if Token.is_unresolved(seconds):
        return None
    return Duration.seconds(seconds)


def dead_letter_queue(
    scope: Construct, construct_id: str, *, fifo: bool = False, purpose: str | None = None
) -> sqs.Queue:
    """An encrypted, TLS-only queue that holds failed messages for 14 days.

    ``purpose`` documents a DLQ that is not attached to a source queue (SNS subscription, stream
    on-failure destination, EventBridge target): cdk-nag cannot see those links.
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
        fifo=fifo or None,
    )
    nag.acknowledge(
        queue,
        "Serverless-SQSRedrivePolicy",
        f"this queue is the dead-letter queue of {purpose or 'its source queue'}: the end of the redrive chain",
    )
    if purpose:
        nag.acknowledge(queue, "AwsSolutions-SQS3", f"this queue is the dead-letter queue of {purpose}")
    return queue


#: ``sqs.Queue`` props a pattern sets on every work queue it creates.
FORCED_QUEUE_PROPS = ("encryption", "enforce_ssl", "dead_letter_queue", "fifo")


@dataclass(frozen=True)
class QueuePair:
    """A work queue and its dead-letter queue (the DLQ is None for an existing queue)."""

    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue | None


def queue_with_dlq(
    scope: Construct,
    construct_id: str,
    *,
    consumer_timeout: Duration | None = None,
    existing_queue: sqs.IQueue | None = None,
    queue_props: dict[str, Any] | None = None,
    max_receive_count: int | None = MAX_RECEIVE_COUNT,
    fifo: bool = False,
    existing_queue_name: str = "existing_queue",
    queue_props_name: str = "queue_props",
) -> QueuePair:
    """Resolve a pattern's queue: an injected one, or a new queue + DLQ built from defaults + overrides.

    Resolution order: library defaults, then ``queue_props``, then what the pattern must force
    (encryption, TLS-only, the DLQ). The visibility timeout defaults to 6x ``consumer_timeout``.
    ``max_receive_count`` None means the default, ``MAX_RECEIVE_COUNT``. An ``existing_queue``
    defined in the app must have a visibility timeout of 6x ``consumer_timeout`` too; an imported
    queue's cannot be known at synth time and is not checked.
    """
    if max_receive_count is None:
        max_receive_count = MAX_RECEIVE_COUNT
    validation.exclusive(**{existing_queue_name: existing_queue, queue_props_name: queue_props})
    validation.in_range("max_receive_count", max_receive_count, 1, 1000)
    if existing_queue is not None:
        if consumer_timeout is not None:
            validation.visibility_covers_consumer(
                known_visibility_timeout(existing_queue), consumer_timeout, f"{existing_queue_name}'s"
            )
        return QueuePair(existing_queue, None)
    props = dict(queue_props or {})
    validation.reserved(
        queue_props_name, props, FORCED_QUEUE_PROPS, "every work queue is encrypted, TLS-only, standard, with a DLQ"
    )
    if consumer_timeout is not None:
        props.setdefault("visibility_timeout", Duration.seconds(consumer_timeout.to_seconds() * 6))
        validation.visibility_covers_consumer(props["visibility_timeout"], consumer_timeout)
    dlq = dead_letter_queue(
        scope, f"{construct_id}DeadLetterQueue" if construct_id != "Queue" else "DeadLetterQueue", fifo=fifo
    )
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        fifo=fifo or None,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
        **props,
    )
    return QueuePair(queue, dlq)


def check_existing_queue(
    existing_queue: sqs.IQueue | None, *, max_receive_count: int | None, fifo_reason: str
) -> None:
    """Raise when an injected work queue cannot be used as given: with ``max_receive_count`` (an
    existing queue keeps its own redrive policy) or when it is a FIFO queue (``fifo_reason`` says why
    the pattern needs a standard one)."""
    if existing_queue is None:
        return
    if max_receive_count is not None:
        raise ValueError(
            "existing_queue and max_receive_count cannot both be set: an existing queue keeps its own "
            "redrive policy; set maxReceiveCount on that queue instead"
        )
    if existing_queue.fifo:
        raise ValueError(
            f"existing_queue must be a standard queue (given the FIFO queue {existing_queue.node.path}): "
            f"{fifo_reason}"
        )


def consume(
    function: lambda_.IFunction,
    queue: sqs.IQueue,
    *,
    batch_size: int = 10,
    max_batching_window: Duration | None = None,
    max_concurrency: int | None = None,
    fifo: bool = False,
) -> sources.SqsEventSource:
    """Attach an SQS event source with partial batch responses (a failed record never fails its batch)."""
    validation.sqs_batching(batch_size=batch_size, max_batching_window=max_batching_window, fifo=fifo)
    validation.in_range("max_concurrency", max_concurrency, 2, 1000)
    source = sources.SqsEventSource(
        queue,
        batch_size=batch_size,
        max_batching_window=max_batching_window,
        max_concurrency=max_concurrency,
        report_batch_item_failures=True,
    )
    function.add_event_source(source)
    nag.acknowledge(
        function,
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event source mappings take no on-failure destination: the source queue's redrive policy "
        "moves failed messages to its DLQ",
    )
    return source
