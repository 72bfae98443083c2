"""CATALOG 4 — StorageFirst: API Gateway writes the request straight into SQS or Kinesis (no Lambda in
the request path), then a processor function turns stored requests into records in a table.

Storing first means the API answers as soon as the request is durable: a slow or failing processor
delays the records, it never loses a request. API Gateway assumes a role allowed one action
(``sqs:SendMessage`` or ``kinesis:PutRecord``) on one resource.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo
from patterns.core.streams import RETRY_ATTEMPTS as STREAM_RETRY_ATTEMPTS

CATALOG_ENTRY = PatternInfo(
    number=4,
    name="StorageFirst",
    construct="StorageFirst",
    module="patterns.storage_first",
    demo_stack="StorageFirstDemo",
    handlers=("storage_first",),
    family="Messaging and integration",
    summary="API Gateway stores each request directly in SQS or Kinesis (no Lambda in the request path); "
    "a processor records it in a table",
)

Store = Literal["sqs", "kinesis"]
STORES: tuple[str, ...] = ("sqs", "kinesis")

#: The request body the default processor accepts (lambdas/storage_first/models.py, same limits).
SUBMISSION_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="Submission",
    type=apigw.JsonSchemaType.OBJECT,
    required=["kind"],
    additional_properties=False,
    properties={
        "kind": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
        "payload": apigw.JsonSchema(type=apigw.JsonSchemaType.OBJECT),
    },
)

#: Integration request templates: the method request body, unchanged, becomes the message / record.
SQS_REQUEST_TEMPLATE = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
SQS_RESPONSE_TEMPLATE = '{"messageId": "$input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')"}'
KINESIS_RESPONSE_TEMPLATE = (
    '{"sequenceNumber": "$input.path(\'$.SequenceNumber\')", "shardId": "$input.path(\'$.ShardId\')"}'
)
#: What the caller sees when the store refuses the request: no service error details leak out.
STORE_ERROR_TEMPLATE = '{"message": "the request could not be stored", "requestId": "$context.requestId"}'

_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_DEFAULT_HANDLERS = {"sqs": "processor.sqs_handler", "kinesis": "processor.kinesis_handler"}
_DEFAULT_BATCH = {"sqs": 10, "kinesis": 100}


class StorageFirst(Construct):
    """``POST /{resource_name}`` stores the body in a queue or a stream; a processor records it in a table.

    :param store: ``"sqs"`` (one message per request, DLQ after ``max_receive_count`` failed
        deliveries) or ``"kinesis"`` (ordered per partition key, bisect + on-failure queue).
        Default: ``"sqs"``.
    :param existing_queue: (sqs) store requests in this queue; configure its redrive policy yourself. Its
        visibility timeout must be at least 6x the processor's timeout (checked at synth for a queue
        defined in the app; an imported queue's cannot be known there).
        Default: a new encrypted, TLS-only queue with a DLQ; mutually exclusive with ``queue_props``.
    :param queue_props: (sqs) overrides for the new queue. Default: none.
    :param max_receive_count: (sqs) deliveries before a message moves to the DLQ; only for a new queue.
        Default: 5.
    :param existing_stream: (kinesis) store requests in this stream. Default: a new stream (one shard,
        AWS-managed encryption); mutually exclusive with ``stream_props``.
    :param stream_props: (kinesis) overrides for the new stream. Default: none.
    :param retry_attempts: (kinesis) retries of a failing batch (bisected) before its records are
        described in the on-failure queue. Default: 3.
    :param partition_key: (kinesis) the mapping-template expression of each record's partition key,
        e.g. ``$input.path('$.kind')`` to keep one kind's requests in order. Default: ``$context.requestId``
        (requests spread evenly over the shards, no ordering between them).
    :param batch_size: records per processor invocation. Default: 10 (sqs) or 100 (kinesis).
    :param existing_table: the table processed requests are recorded in (partition key ``id``).
        Default: a new table; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table (not its key). Default: none.
    :param handler_code: your own processor code for the same wiring. Default: ``lambdas/storage_first``.
    :param handler: the processor entry point. Default: ``processor.sqs_handler`` or
        ``processor.kinesis_handler``.
    :param resource_name: the path part of the API resource. Default: ``submissions``.
    :param request_schema: the JSON schema API Gateway validates bodies against before storing them.
        Default: ``SUBMISSION_SCHEMA`` (the default processor's model).
    :param idempotency_ttl: how long a processed request id is remembered against redelivery.
        Default: 1 hour.
    :param api_options: stage, throttling, authorization, access logs. Default: ``core.ApiOptions()``
        (IAM authorization).
    :param function_options: memory, timeout, log retention... of the processor. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``store``, ``api``, ``api_role`` (what API Gateway assumes), ``method``, ``resource``,
    ``validator``, ``model``, ``queue`` or ``stream`` (the other is None), ``dead_letter_queue`` (the
    queue's DLQ or the stream's on-failure queue; None for an ``existing_queue``), ``function`` (the
    processor), ``table``, ``idempotency_table``, ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        store: Store = "sqs",
        existing_queue: sqs.IQueue | None = None,
        queue_props: dict[str, Any] | None = None,
        max_receive_count: int | None = None,
        existing_stream: kinesis.IStream | None = None,
        stream_props: dict[str, Any] | None = None,
        retry_attempts: int | None = None,
        partition_key: str | None = None,
        batch_size: int | None = None,
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str | None = None,
        resource_name: str = "submissions",
        request_schema: apigw.JsonSchema | None = None,
        idempotency_ttl: Duration | None = None,
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_store_props(
            store,
            sqs={"existing_queue": existing_queue, "queue_props": queue_props, "max_receive_count": max_receive_count},
            kinesis={"existing_stream": existing_stream, "stream_props": stream_props,
                     "retry_attempts": retry_attempts, "partition_key": partition_key},
        )
        if existing_queue is not None and max_receive_count is not None:
            raise ValueError(
                "max_receive_count configures the DLQ of a new queue; with existing_queue, set the redrive "
                "policy on that queue instead"
            )
        if not _RESOURCE_NAME.match(resource_name):
            raise ValueError(
                f"resource_name must be a lowercase path part of letters, digits and dashes starting with a "
                f"letter, like 'submissions' (given {resource_name!r})"
            )
        ttl = idempotency_ttl or Duration.hours(1)
        core.validation.in_range("idempotency_ttl (seconds)", ttl.to_seconds(), 60, 30 * 24 * 3600)
        opts = function_options or core.FunctionOptions()
        self.store: Store = store
        self._partition_key = partition_key or "$context.requestId"

        self.table: ddb.ITable = core.table(
            self, "Table", partition_key="id", existing_table=existing_table, table_props=table_props
        )
        self.idempotency_table: ddb.Table = core.idempotency_table(self)
        self.queue: sqs.IQueue | None = None
        self.stream: kinesis.IStream | None = None
        self.dead_letter_queue: sqs.IQueue | None
        if store == "sqs":
            pair = core.queue_with_dlq(
                self, "Queue", consumer_timeout=opts.timeout, existing_queue=existing_queue, queue_props=queue_props,
                max_receive_count=max_receive_count,
            )
            self.queue, self.dead_letter_queue = pair.queue, pair.dead_letter_queue
        else:
            self.stream = core.kinesis_stream(
                self, "Stream", existing_stream=existing_stream, stream_props=stream_props
            )
            self.dead_letter_queue = core.dead_letter_queue(
                self, "OnFailureQueue", purpose="the stream processor (its Kinesis on-failure destination)"
            )

        self.function: lambda_.Function = core.python_function(
            self, "Processor",
            code=handler_code or core.handler_code("storage_first"),
            handler=handler or _DEFAULT_HANDLERS[store],
            service="storage-first",
            invocation="sqs" if store == "sqs" else "stream",
            description=f"Records requests stored in the {store} store",
            options=opts,
            environment={
                "TABLE_NAME": self.table.table_name,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "IDEMPOTENCY_TTL_SECONDS": str(int(ttl.to_seconds())),
            },
        )
        self.table.grant(self.function, "dynamodb:UpdateItem")
        core.grant_idempotency(self.idempotency_table, self.function)
        batch = _DEFAULT_BATCH[store] if batch_size is None else batch_size
        if self.queue is not None:
            core.consume(self.function, self.queue, batch_size=batch)
        else:
            assert self.stream is not None and self.dead_letter_queue is not None
            core.consume_stream(
                self.function, self.stream, on_failure=self.dead_letter_queue, batch_size=batch,
                retry_attempts=STREAM_RETRY_ATTEMPTS if retry_attempts is None else retry_attempts,
            )

        self.api_role = iam.Role(
            self, "ApiRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"API Gateway stores requests in the {store} store: one action on one resource",
        )
        validated = core.validated_rest_api(
            self, "Api", description=f"StorageFirst: POST /{resource_name} is stored in {store}", options=api_options,
            model_id="SubmissionModel", schema=request_schema or SUBMISSION_SCHEMA,
        )
        self.api: apigw.RestApi = validated.api
        self.validator, self.model = validated.validator, validated.model
        self.resource: apigw.Resource = self.api.root.add_resource(resource_name)
        self.method = self.resource.add_method(
            "POST", self._integration(),
            request_validator=self.validator,
            request_models={"application/json": self.model},
            method_responses=[apigw.MethodResponse(status_code="202"), apigw.MethodResponse(status_code="500")],
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Processor": self.function},
            work_queues={"Queue": self.queue} if self.queue is not None else None,
            dead_letter_queues={"DeadLetterQueue": self.dead_letter_queue} if self.dead_letter_queue else None,
            iterator_functions={"Processor": self.function} if self.stream is not None else None,
        ).alarms

    def _integration(self) -> apigw.AwsIntegration:
        """The direct service integration: the role may do exactly one action on exactly one resource."""
        responses = [
            apigw.IntegrationResponse(status_code="202", selection_pattern=r"2\d{2}", response_templates={
                "application/json": SQS_RESPONSE_TEMPLATE if self.queue is not None else KINESIS_RESPONSE_TEMPLATE,
            }),
            # Default response: anything the store refused.
            apigw.IntegrationResponse(status_code="500", response_templates={"application/json": STORE_ERROR_TEMPLATE}),
        ]
        if self.queue is not None:
            queue = self.queue
            self.api_role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
            if queue.encryption_master_key is not None:
                queue.encryption_master_key.grant(self.api_role, "kms:GenerateDataKey", "kms:Decrypt")
            return apigw.AwsIntegration(
                service="sqs",
                path=f"{queue.env.account}/{queue.queue_name}",
                integration_http_method="POST",
                options=apigw.IntegrationOptions(
                    credentials_role=self.api_role,
                    passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                    request_parameters={
                        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
                    },
                    request_templates={"application/json": SQS_REQUEST_TEMPLATE},
                    integration_responses=responses,
                ),
            )
        assert self.stream is not None
        stream = self.stream
        self.api_role.add_to_policy(iam.PolicyStatement(actions=["kinesis:PutRecord"], resources=[stream.stream_arn]))
        if stream.encryption_key is not None:
            stream.encryption_key.grant(self.api_role, "kms:GenerateDataKey")
        template = (
            f'{{"StreamName": "{stream.stream_name}", "Data": "$util.base64Encode($input.body)", '
            f'"PartitionKey": "{self._partition_key}"}}'
        )
        return apigw.AwsIntegration(
            service="kinesis",
            action="PutRecord",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=self.api_role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_parameters={"integration.request.header.Content-Type": "'application/x-amz-json-1.1'"},
                request_templates={"application/json": template},
                integration_responses=responses,
            ),
        )

    @property
    def url(self) -> str:
        """The resource's URL, e.g. ``https://{api}.execute-api.{region}.amazonaws.com/prod/submissions``."""
        return self.api.url_for_path(self.resource.path)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to submit requests (IAM authorization)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"],
            resource_arns=[self.method.method_arn],
        )


def _check_store_props(store: str, **by_store: dict[str, Any]) -> None:
    """Props of the store not chosen are a mistake, not something to ignore silently."""
    if store not in STORES:
        raise ValueError(f"store must be one of {', '.join(map(repr, STORES))} (given {store!r})")
    for other, props in by_store.items():
        given = [name for name, value in props.items() if value is not None]
        if other != store and given:
            raise ValueError(
                f"{', '.join(given)} only apply to store={other!r} (given store={store!r}): "
                f"remove {'it' if len(given) == 1 else 'them'} or choose store={other!r}"
            )
