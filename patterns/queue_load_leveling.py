"""CATALOG 3 — QueueLoadLeveling (scalable webhook): REST API → intake function → SQS queue → consumer
with reserved concurrency and batch limits → slow store; status of each request by id.

The API accepts any burst quickly (202 with a request id and a status location) while the consumer
drains the queue no faster than its concurrency limit allows, so the slow downstream sees a steady
load instead of the burst.

Why an intake function rather than a direct API Gateway → SQS integration: accepting a request
means three things — minting the request id, recording it as ``pending`` and enqueueing it — and an
API Gateway service integration can call one AWS action. With a direct integration the status
record could only be written by the consumer, so ``GET /requests/{id}`` could not tell an accepted,
still-queued request (pending) from an unknown one (404). (CATALOG 4, StorageFirst, is the pattern
for a direct integration when no status is needed.)
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=3,
    name="QueueLoadLeveling",
    construct="QueueLoadLeveling",
    module="patterns.queue_load_leveling",
    demo_stack="QueueLoadLevelingDemo",
    handlers=("queue_load_leveling",),
    family="Messaging and integration",
    summary="scalable webhook: API answers 202 + status URL; a concurrency-capped consumer drains SQS to a slow store",
)

#: The POST body of the default handler: any non-empty JSON object (the webhook's payload).
REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="WebhookRequest",
    type=apigw.JsonSchemaType.OBJECT,
    min_properties=1,
)
#: Default of ``reserved_concurrency``: the most consumer instances that ever hit the store at once.
RESERVED_CONCURRENCY = 2


class QueueLoadLeveling(Construct):
    """A webhook that accepts bursts and feeds a slow downstream at a bounded rate.

    ``POST /requests`` (JSON object) → 202 ``{requestId, status, statusUrl}`` with a ``Location``
    header; ``GET /requests/{requestId}`` → 200 ``{requestId, status: pending|done, ...}`` or 404.
    A sender's retry with the same ``Idempotency-Key`` header (IETF httpapi draft) and body answers the
    original request id and status (``Idempotent-Replayed: true``) and enqueues nothing; another body
    under a used key is 422; keys are scoped to the caller's IAM identity and expire with the statuses.

    :param reserved_concurrency: reserved concurrency of the consumer: the hard limit of parallel
        writes to the store (at least 2, the fewest batches an SQS event source runs). ``None`` leaves
        the function unreserved, limited by ``max_concurrency`` only. Default: 2.
    :param max_concurrency: the most batches the event source runs at once (2-1000, at most
        ``reserved_concurrency``). Default: ``reserved_concurrency``, so batches are never throttled.
    :param batch_size: records per consumer invocation, 1-10000 (above 10 needs ``max_batching_window``).
        Default: 10.
    :param max_batching_window: how long to gather a batch. Default: none.
    :param consumer_timeout: the consumer's timeout; the queue's visibility timeout is 6x this.
        Default: ``function_options.timeout`` (10 seconds).
    :param consumer_environment: extra environment of the consumer (the default handler reads
        ``STORE_DELAY_MS``, a simulated downstream latency per request). Default: none.
    :param existing_queue: the work queue (standard, with its own redrive policy and a visibility timeout
        of at least 6x ``consumer_timeout``, checked at synth for a queue defined in the app but not for an
        imported one, whose settings synth cannot see; ``dead_letter_queue`` is then None). Default: a new encrypted,
        TLS-only queue with a DLQ; mutually exclusive with ``queue_props``.
    :param queue_props: overrides for the new queue (not encryption, TLS, DLQ, FIFO). Default: none.
    :param max_receive_count: deliveries before a message moves to the DLQ. Default: 5; not allowed
        with ``existing_queue``.
    :param existing_store_table: the slow store (string partition key ``requestId``, string sort key
        ``entryId``). Default: a new on-demand, encrypted table with point-in-time recovery; mutually
        exclusive with ``store_table_props``.
    :param store_table_props: overrides for the new store table (not its keys). Default: none.
    :param status_table_props: overrides for the status table (key ``requestId``, TTL ``expiresAt``).
        Default: none.
    :param status_ttl: how long a request's status can be read. Default: 7 days.
    :param idempotency_ttl: how long a processed request id is remembered against redelivery. Default: 1 hour.
    :param request_schema: JSON schema API Gateway checks POST bodies against. Default: ``REQUEST_SCHEMA``.
    :param intake_code: code asset of the API function. Default: ``lambdas/queue_load_leveling``.
    :param intake_handler: its handler. Default: ``intake.handler``.
    :param consumer_code: code asset of the consumer. Default: ``lambdas/queue_load_leveling``.
    :param consumer_handler: its handler; it must return a partial batch response. Default: ``consumer.handler``.
    :param api_options: stage, throttling, authorization, access logs. Default: ``core.ApiOptions()`` (IAM).
    :param function_options: memory, timeout, log retention... of both functions. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        reserved_concurrency: int | None = RESERVED_CONCURRENCY,
        max_concurrency: int | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        consumer_timeout: Duration | None = None,
        consumer_environment: Mapping[str, str] | None = None,
        existing_queue: sqs.IQueue | None = None,
        queue_props: dict | None = None,
        max_receive_count: int | None = None,
        existing_store_table: ddb.ITable | None = None,
        store_table_props: dict | None = None,
        status_table_props: dict | None = None,
        status_ttl: Duration | None = None,
        idempotency_ttl: Duration | None = None,
        request_schema: apigw.JsonSchema | None = None,
        intake_code: lambda_.Code | None = None,
        intake_handler: str = "intake.handler",
        consumer_code: lambda_.Code | None = None,
        consumer_handler: str = "consumer.handler",
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if reserved_concurrency is None and max_concurrency is None:
            raise ValueError(
                "reserved_concurrency and max_concurrency cannot both be None: the consumer would scale with "
                "the burst and pass it on to the store; set either (reserved_concurrency defaults to 2)"
            )
        if max_concurrency is None:
            max_concurrency = reserved_concurrency
        core.validation.concurrency(reserved=reserved_concurrency, max_concurrency=max_concurrency)
        core.check_existing_queue(
            existing_queue, max_receive_count=max_receive_count,
            fifo_reason="a FIFO queue serializes each message group and defeats the concurrency limit's purpose",
        )
        status_ttl = status_ttl or Duration.days(7)
        idempotency_ttl = idempotency_ttl or Duration.hours(1)
        core.validation.in_range("status_ttl (seconds)", status_ttl.to_seconds(), 60, 365 * 24 * 3600)
        core.validation.in_range("idempotency_ttl (seconds)", idempotency_ttl.to_seconds(), 60, 30 * 24 * 3600)
        opts = function_options or core.FunctionOptions()
        consumer_timeout = consumer_timeout or opts.timeout
        code = core.handler_code("queue_load_leveling") if intake_code is None or consumer_code is None else None
        intake_code, consumer_code = intake_code or code, consumer_code or code
        assert intake_code is not None and consumer_code is not None  # one of the two is always set

        pair = core.queue_with_dlq(
            self, "Queue", consumer_timeout=consumer_timeout, existing_queue=existing_queue, queue_props=queue_props,
            max_receive_count=max_receive_count,
        )
        self.queue: sqs.IQueue = pair.queue
        self.dead_letter_queue: sqs.IQueue | None = pair.dead_letter_queue
        self.status_table: ddb.ITable = core.table(
            self, "StatusTable", partition_key="requestId", time_to_live_attribute="expiresAt",
            table_props=status_table_props, table_props_name="status_table_props",
        )
        self.store_table: ddb.ITable = core.table(
            self, "StoreTable", partition_key="requestId", sort_key="entryId",
            existing_table=existing_store_table, table_props=store_table_props,
            existing_table_name="existing_store_table", table_props_name="store_table_props",
        )
        self.idempotency_table: ddb.Table = core.idempotency_table(self)

        self.intake: lambda_.Function = core.python_function(
            self, "Intake",
            code=intake_code,
            handler=intake_handler,
            service="intake",
            invocation="sync",
            description="Accepts requests: status pending, enqueue, 202; answers status by id",
            options=opts,
            environment={
                "QUEUE_URL": self.queue.queue_url,
                "STATUS_TABLE_NAME": self.status_table.table_name,
                "STATUS_TTL_SECONDS": str(int(status_ttl.to_seconds())),
            },
        )
        self.queue.grant_send_messages(self.intake)
        self.status_table.grant(self.intake, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem")

        self.consumer: lambda_.Function = core.python_function(
            self, "Consumer",
            code=consumer_code,
            handler=consumer_handler,
            service="consumer",
            invocation="sqs",
            description="Drains the queue into the slow store at a bounded concurrency",
            options=opts,
            timeout=consumer_timeout,
            reserved_concurrency=reserved_concurrency,
            user_environment=consumer_environment,
            user_environment_prop="consumer_environment",
            environment={
                "STORE_TABLE_NAME": self.store_table.table_name,
                "STATUS_TABLE_NAME": self.status_table.table_name,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "IDEMPOTENCY_TTL_SECONDS": str(int(idempotency_ttl.to_seconds())),
            },
        )
        self.store_table.grant(self.consumer, "dynamodb:PutItem")
        self.status_table.grant(self.consumer, "dynamodb:UpdateItem")
        core.grant_idempotency(self.idempotency_table, self.consumer)
        self.event_source: sources.SqsEventSource = core.consume(
            self.consumer, self.queue,
            batch_size=batch_size, max_batching_window=max_batching_window, max_concurrency=max_concurrency,
        )

        validated = core.validated_rest_api(
            self, "Api", description="QueueLoadLeveling: accept requests, report their status", options=api_options,
            model_id="RequestModel", schema=request_schema or REQUEST_SCHEMA,
        )
        self.api: apigw.RestApi = validated.api
        self.validator, self.model = validated.validator, validated.model
        integration = apigw.LambdaIntegration(self.intake, allow_test_invoke=False)
        self.requests_resource: apigw.Resource = self.api.root.add_resource("requests")
        self.requests_resource.add_method(
            "POST", integration, request_validator=self.validator, request_models={"application/json": self.model}
        )
        self.request_resource: apigw.Resource = self.requests_resource.add_resource("{requestId}")
        self.request_resource.add_method(
            "GET", integration, request_validator=self.validator,
            request_parameters={"method.request.path.requestId": True},
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Intake": self.intake, "Consumer": self.consumer},
            work_queues={"Queue": self.queue},
            dead_letter_queues={"DeadLetterQueue": self.dead_letter_queue} if self.dead_letter_queue else None,
        ).alarms

    @property
    def url(self) -> str:
        """URL of the ``requests`` collection on the deployed stage."""
        return self.api.url_for_path("/requests")

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` (an IAM-signing webhook sender) to POST requests and GET their status."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[
                self.api.arn_for_execute_api("POST", "/requests"),
                self.api.arn_for_execute_api("GET", "/requests/*"),
            ],
        )

    def metric_backlog(self, **props: object) -> cw.Metric:
        """Messages waiting in the queue: how far the consumer trails the intake."""
        return self.queue.metric_approximate_number_of_messages_visible(**props)  # type: ignore[arg-type]
