"""CATALOG 2 — DecoupledMessaging: producer function → SQS queue (with DLQ) → consumer function →
output table.

The queue decouples the two sides: the producer returns as soon as SQS holds the messages, the
consumer works through them at its own pace, and a message it cannot process is retried and then
parked in the dead-letter queue without holding up the rest of its batch.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=2,
    name="DecoupledMessaging",
    construct="DecoupledMessaging",
    module="patterns.decoupled_messaging",
    demo_stack="DecoupledMessagingDemo",
    handlers=("decoupled_messaging",),
    family="Messaging and integration",
    summary="producer function → SQS queue with DLQ → consumer with partial batch responses → table",
)


class DecoupledMessaging(Construct):
    """A producer and a consumer joined by a queue.

    :param existing_queue: the queue to connect. Its redrive policy (DLQ, maxReceiveCount) is its own,
        so ``dead_letter_queue`` is None; its visibility timeout must be at least 6x the consumer's
        timeout (checked at synth for a queue defined in the app; an imported queue's cannot be known
        there and is your responsibility). Must be a standard queue. Default: a new encrypted, TLS-only
        queue with a DLQ and a visibility timeout of 6x the consumer timeout; mutually exclusive with
        ``queue_props``.
    :param queue_props: overrides for the new queue (``sqs.Queue`` props except encryption, TLS, DLQ
        and FIFO, which the pattern sets). Default: none.
    :param existing_table: the output table; it must have the string partition key ``id`` and no sort
        key (checked at synth for a table defined in the app, not for an imported one). Default:
        a new on-demand, encrypted table with point-in-time recovery; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new output table (not its keys). Default: none.
    :param producer_code: the producer's code asset. Default: ``lambdas/decoupled_messaging``.
    :param producer_handler: the producer's handler. Default: ``producer.handler``.
    :param consumer_code: the consumer's code asset. Default: ``lambdas/decoupled_messaging``.
    :param consumer_handler: the consumer's handler; it must return a partial batch response
        (``batchItemFailures``). Default: ``consumer.handler``.
    :param batch_size: records per consumer invocation, 1-10000 (above 10 needs ``max_batching_window``).
        Default: 10.
    :param max_batching_window: how long to gather a batch. Default: none (invoke as soon as records arrive).
    :param max_concurrency: the most batches the event source runs at once, 2-1000. Default: no limit.
    :param max_receive_count: deliveries before a message moves to the DLQ. Default: 5; not allowed
        with ``existing_queue``.
    :param idempotency_ttl: how long a processed message id is remembered. Default: 1 hour.
    :param function_options: memory, timeout, log retention... of both functions. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_queue: sqs.IQueue | None = None,
        queue_props: dict | None = None,
        existing_table: ddb.ITable | None = None,
        table_props: dict | None = None,
        producer_code: lambda_.Code | None = None,
        producer_handler: str = "producer.handler",
        consumer_code: lambda_.Code | None = None,
        consumer_handler: str = "consumer.handler",
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        max_receive_count: int | None = None,
        idempotency_ttl: Duration | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.check_existing_queue(
            existing_queue, max_receive_count=max_receive_count,
            fifo_reason="DecoupledMessaging does not keep message order",
        )
        ttl = idempotency_ttl or Duration.hours(1)
        core.validation.in_range("idempotency_ttl (seconds)", ttl.to_seconds(), 60, 30 * 24 * 3600)
        opts = function_options or core.FunctionOptions()
        pair = core.queue_with_dlq(
            self, "Queue", consumer_timeout=opts.timeout, existing_queue=existing_queue, queue_props=queue_props,
            max_receive_count=max_receive_count,
        )
        self.queue: sqs.IQueue = pair.queue
        self.dead_letter_queue: sqs.IQueue | None = pair.dead_letter_queue
        self.table: ddb.ITable = core.table(
            self, "Table", partition_key="id", existing_table=existing_table, table_props=table_props
        )
        self.idempotency_table: ddb.Table = core.idempotency_table(self)

        self.producer: lambda_.Function = core.python_function(
            self, "Producer",
            code=producer_code or core.handler_code("decoupled_messaging"),
            handler=producer_handler,
            service="producer",
            invocation="sync",
            options=opts,
            environment={"QUEUE_URL": self.queue.queue_url},
        )
        self.queue.grant_send_messages(self.producer)

        self.consumer: lambda_.Function = core.python_function(
            self, "Consumer",
            code=consumer_code or core.handler_code("decoupled_messaging"),
            handler=consumer_handler,
            service="consumer",
            invocation="sqs",
            options=opts,
            environment={
                "TABLE_NAME": self.table.table_name,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "IDEMPOTENCY_TTL_SECONDS": str(int(ttl.to_seconds())),
            },
        )
        self.table.grant(self.consumer, "dynamodb:UpdateItem")
        core.grant_idempotency(self.idempotency_table, self.consumer)
        self.event_source: sources.SqsEventSource = core.consume(
            self.consumer, self.queue,
            batch_size=batch_size, max_batching_window=max_batching_window, max_concurrency=max_concurrency,
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Producer": self.producer, "Consumer": self.consumer},
            work_queues={"Queue": self.queue},
            dead_letter_queues={"DeadLetterQueue": self.dead_letter_queue} if self.dead_letter_queue else None,
        ).alarms

    def grant_produce(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke the producer."""
        return self.producer.grant_invoke(grantee)

    def grant_send_messages(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put messages on the queue directly, beside the producer."""
        return self.queue.grant_send_messages(grantee)
