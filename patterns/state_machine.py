"""CATALOG 25 — StateMachine: an order-processing workflow in Step Functions, Standard and Express.

An OrderPlaced event starts the Standard workflow: validate, then in parallel price every line
(Map) and pick the shipping (Choice: express or standard), reserve the order (a conditional write,
once per order id), charge it (the payment provider's transient errors retried with back-off),
wait out the settlement window, confirm. Any failure past its retries goes to the compensation,
which cancels the reservation and records the error: nothing is left half-written. A quote
request on the API runs the Express variant synchronously (validate, price, quote) and answers
with the quote.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=25,
    name="StateMachine",
    construct="StateMachine",
    module="patterns.state_machine",
    demo_stack="StateMachineDemo",
    handlers=("state_machine",),
    family="Orchestration and resilience",
    summary="order workflow (Task, Choice, Parallel, Map, Wait, Retry, Catch) started by event; Express quote by API",
)

#: The handler of each function in the asset (``handlers`` overrides any of them).
HANDLERS = {
    "Validate": "validate.handler",
    "Price": "price.handler",
    "Quote": "quote.handler",
    "Reserve": "reserve.handler",
    "Charge": "charge.handler",
    "Compensate": "compensate.handler",
}
#: The quote request body: an order without payment.
QUOTE_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    type=apigw.JsonSchemaType.OBJECT,
    required=["order_id", "customer", "items"],
    properties={
        "order_id": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        "customer": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=128),
        "express": apigw.JsonSchema(type=apigw.JsonSchemaType.BOOLEAN),
        "items": apigw.JsonSchema(
            type=apigw.JsonSchemaType.ARRAY,
            min_items=1,
            max_items=50,
            items=apigw.JsonSchema(
                type=apigw.JsonSchemaType.OBJECT,
                required=["sku", "quantity", "unit_price_cents"],
                properties={
                    "sku": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1),
                    "quantity": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1, maximum=1000),
                    "unit_price_cents": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=0),
                },
            ),
        ),
    },
)
_MAX_PRICING_CONCURRENCY = 40


class StateMachine(Construct):
    """The order workflow (Standard, started by an event rule) and the quote flow (Express, behind an API).

    :param event_bus: the bus whose OrderPlaced events start the workflow. Default: the account's default bus.
    :param event_source: the ``source`` of those events. Default: ``"shop.orders"``.
    :param detail_type: their ``detail-type``. Default: ``"OrderPlaced"``.
    :param settle_wait: how long the workflow waits for the payment to settle before confirming,
        0 s to 1 day. Default: 1 minute.
    :param payment_retry_interval: the first back-off after a transient payment error. Default: 2 seconds.
    :param payment_max_attempts: retries of a transient payment error, 0-10. Default: 3.
    :param payment_backoff_rate: each back-off is the previous one times this, 1-10. Default: 2.
    :param pricing_concurrency: Map iterations priced at once, 1-40. Default: 10.
    :param quote_api: whether to build the Express quote flow and its REST API. Default: True.
    :param existing_table: an orders table (partition key ``order_id``, string) to use.
        Default: - a new table.
    :param table_props: overrides of the new table's props (not its key). Default: core table defaults.
    :param handler_code: the functions' code asset. Default: ``lambdas/state_machine``.
    :param handlers: handler overrides by function name (``Validate``, ``Price``, ``Quote``, ``Reserve``,
        ``Charge``, ``Compensate``). Default: ``HANDLERS``.
    :param function_options: memory, timeout, ... of every function. Default: core defaults.
    :param state_machine_options: timeouts, logging, tracing and Lambda retries of both machines; the
        Express machine's timeout is capped at 5 minutes. Default: core defaults (5-minute timeout).
    :param api_options: stage, throttling, authorization of the quote API. Default: core defaults (IAM auth).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``table``, ``functions`` (by name), ``workflow`` (Standard), ``quote_flow`` (Express,
    None without the API), ``api`` (None without it), ``rule``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        event_bus: events.IEventBus | None = None,
        event_source: str = "shop.orders",
        detail_type: str = "OrderPlaced",
        settle_wait: Duration | None = None,
        payment_retry_interval: Duration | None = None,
        payment_max_attempts: int = 3,
        payment_backoff_rate: float = 2.0,
        pricing_concurrency: int = 10,
        quote_api: bool = True,
        existing_table: ddb.ITable | None = None,
        table_props: Mapping[str, object] | None = None,
        handler_code: lambda_.Code | None = None,
        handlers: Mapping[str, str] | None = None,
        function_options: core.FunctionOptions | None = None,
        state_machine_options: core.StateMachineOptions | None = None,
        api_options: core.ApiOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        settle = settle_wait if settle_wait is not None else Duration.minutes(1)
        retry_interval = payment_retry_interval or Duration.seconds(2)
        machine_options = state_machine_options or core.StateMachineOptions()
        core.validation.in_range("settle_wait (seconds)", settle.to_seconds(), 0, 86_400)
        core.validation.in_range("payment_max_attempts", payment_max_attempts, 0, 10)
        core.validation.in_range("payment_backoff_rate", payment_backoff_rate, 1, 10)
        core.validation.in_range("pricing_concurrency", pricing_concurrency, 1, _MAX_PRICING_CONCURRENCY)
        unknown = set(handlers or {}) - set(HANDLERS)
        if unknown:
            raise ValueError(f"handlers has unknown function names {sorted(unknown)} (known: {sorted(HANDLERS)})")
        longest_retries = sum(
            retry_interval.to_seconds() * payment_backoff_rate**n for n in range(payment_max_attempts)
        )
        if machine_options.timeout.to_seconds() <= settle.to_seconds() + longest_retries:
            raise ValueError(
                f"state_machine_options.timeout ({machine_options.timeout.to_seconds():g} s) must exceed the "
                f"settle_wait plus the payment retries' back-off ({settle.to_seconds() + longest_retries:g} s)"
            )

        self.table: ddb.ITable = core.table(
            self,
            "Orders",
            partition_key="order_id",
            existing_table=existing_table,
            table_props=dict(table_props) if table_props is not None else None,
        )
        code = handler_code or core.handler_code("state_machine")
        chosen = {**HANDLERS, **(handlers or {})}
        writers = ("Reserve", "Charge", "Compensate")
        self.functions: dict[str, lambda_.Function] = {}
        for name in HANDLERS:
            if name == "Quote" and not quote_api:
                continue
            self.functions[name] = core.python_function(
                self,
                f"{name}Function",
                code=code,
                handler=chosen[name],
                service=f"orders-{name.lower()}",
                invocation="sync",
                description=f"{construct_id}: {name} step of the order workflow",
                options=function_options,
                environment={"ORDERS_TABLE_NAME": self.table.table_name} if name in writers else None,
            )
        for name in writers:
            self.table.grant(self.functions[name], "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")

        self.workflow = core.state_machine(
            self,
            "Workflow",
            definition=self._workflow(
                settle, retry_interval, payment_max_attempts, payment_backoff_rate, pricing_concurrency, machine_options
            ),
            options=machine_options,
            comment="Order workflow: validate, price, reserve, charge, settle, confirm",
        )
        core.acknowledge_task_invokes(self.workflow, *(f for n, f in self.functions.items() if n != "Quote"))

        self.rule = events.Rule(
            self,
            "OrderPlaced",
            event_bus=event_bus,
            event_pattern=events.EventPattern(source=[event_source], detail_type=[detail_type]),
            description=f"{detail_type} events from {event_source} start the order workflow",
        )
        self.rule_dead_letter_queue = core.dead_letter_queue(
            self, "RuleDeadLetterQueue", purpose="OrderPlaced events the rule could not start the workflow with"
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                self.workflow,
                input=events.RuleTargetInput.from_event_path("$.detail"),
                dead_letter_queue=self.rule_dead_letter_queue,
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )

        self.quote_flow: sfn.StateMachine | None = None
        self.api: apigw.RestApi | None = None
        if quote_api:
            express_options = dataclasses.replace(
                machine_options,
                timeout=min(machine_options.timeout, Duration.minutes(5), key=lambda d: d.to_seconds()),
            )
            self.quote_flow = core.state_machine(
                self,
                "QuoteFlow",
                definition=self._quote_flow(pricing_concurrency, express_options),
                express=True,
                options=express_options,
                comment="Quote: validate, price, total (request/response)",
            )
            core.acknowledge_task_invokes(self.quote_flow, *(self.functions[n] for n in ("Validate", "Price", "Quote")))
            validated = core.validated_rest_api(
                self,
                "Api",
                description="StateMachine: POST /quotes runs the Express quote flow synchronously",
                model_id="QuoteModel",
                schema=QUOTE_SCHEMA,
                options=api_options,
            )
            self.api = validated.api
            self.quotes = self.api.root.add_resource("quotes")
            self.quotes.add_method(
                "POST",
                apigw.StepFunctionsIntegration.start_execution(
                    self.quote_flow,
                    headers=False,
                    path=False,
                    querystring=False,
                    request_context=None,
                ),
                request_validator=validated.validator,
                request_models={"application/json": validated.model},
            )

        machines = {"Workflow": self.workflow}
        if self.quote_flow is not None:
            machines["QuoteFlow"] = self.quote_flow
        self.alarms = core.PatternAlarms(
            self,
            "Alarms",
            options=alarm_options,
            functions=dict(self.functions),
            dead_letter_queues={"RuleDeadLetterQueue": self.rule_dead_letter_queue},
            state_machines=machines,
        ).alarms

    # -- definitions -------------------------------------------------------------------------------

    def _prepare(self, prefix: str, concurrency: int, options: core.StateMachineOptions) -> sfn.Parallel:
        """Price every line (Map) and pick the shipping (Choice) in parallel."""
        price_line = core.lambda_task(
            self,
            f"{prefix}PriceLine",
            function=self.functions["Price"],
            options=options,
            payload=sfn.TaskInput.from_object({"item": sfn.JsonPath.object_at("$")}),
        )
        price_items = sfn.Map(
            self,
            f"{prefix}PriceItems",
            items_path="$.order.items",
            max_concurrency=concurrency,
        ).item_processor(price_line)
        shipping = (
            sfn.Choice(self, f"{prefix}Shipping")
            .when(
                sfn.Condition.boolean_equals("$.order.express", True),
                sfn.Pass(
                    self, f"{prefix}ExpressShipping", result=sfn.Result.from_object({"method": "express", "days": 1})
                ),
            )
            .otherwise(
                sfn.Pass(
                    self, f"{prefix}StandardShipping", result=sfn.Result.from_object({"method": "standard", "days": 5})
                )
            )
        )
        return (
            sfn.Parallel(
                self,
                f"{prefix}Prepare",
                result_selector={"lines.$": "$[0]", "shipping.$": "$[1]"},
                result_path="$.prepared",
            )
            .branch(price_items)
            .branch(shipping)
        )

    def _validate(self, prefix: str, options: core.StateMachineOptions) -> tasks.LambdaInvoke:
        return core.lambda_task(
            self,
            f"{prefix}Validate",
            function=self.functions["Validate"],
            options=options,
            input_path="$.order",
            result_path="$.order",
        )

    def _workflow(
        self,
        settle: Duration,
        retry_interval: Duration,
        max_attempts: int,
        backoff: float,
        concurrency: int,
        options: core.StateMachineOptions,
    ) -> sfn.IChainable:
        receive = sfn.Pass(self, "Receive", parameters={"order.$": "$", "execution.$": "$$.Execution.Id"})
        validate = self._validate("", options)
        rejected = sfn.Fail(self, "Rejected", error="InvalidOrder", cause_path="$.error.Cause")
        validate.add_catch(rejected, errors=["InvalidOrder"], result_path="$.error")

        reserve = core.lambda_task(
            self,
            "Reserve",
            function=self.functions["Reserve"],
            options=options,
            result_path="$.reservation",
            payload=sfn.TaskInput.from_object(
                {
                    "order.$": "$.order",
                    "lines.$": "$.prepared.lines",
                    "shipping.$": "$.prepared.shipping",
                    "execution.$": "$.execution",
                }
            ),
        )
        charge = core.lambda_task(
            self,
            "Charge",
            function=self.functions["Charge"],
            options=options,
            result_path="$.payment",
            payload=sfn.TaskInput.from_object(
                {
                    "order.$": "$.order",
                    "amount_cents.$": "$.reservation.total_cents",
                    "attempt.$": "$$.State.RetryCount",
                }
            ),
        )
        charge.add_retry(
            errors=["PaymentUnavailable"],
            interval=retry_interval,
            max_attempts=max_attempts,
            backoff_rate=backoff,
        )
        settle_state = sfn.Wait(self, "Settle", time=sfn.WaitTime.duration(settle))
        confirm = tasks.DynamoUpdateItem(
            self,
            "Confirm",
            table=self.table,
            key={"order_id": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.order.order_id"))},
            update_expression="SET #s = :confirmed",
            condition_expression="#s = :paid AND #e = :e",
            expression_attribute_names={"#s": "status", "#e": "execution"},
            expression_attribute_values={
                ":confirmed": tasks.DynamoAttributeValue.from_string("CONFIRMED"),
                ":paid": tasks.DynamoAttributeValue.from_string("PAID"),
                ":e": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.execution")),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        compensate = core.lambda_task(
            self,
            "Compensate",
            function=self.functions["Compensate"],
            options=options,
            result_path="$.compensation",
            payload=sfn.TaskInput.from_object(
                {
                    "order_id.$": "$.order.order_id",
                    "execution.$": "$.execution",
                    "error.$": "$.error",
                }
            ),
        )
        failed = sfn.Fail(self, "OrderFailed", error="OrderFailed", cause_path="$.error.Cause")
        compensate.next(failed)
        duplicate = sfn.Fail(self, "Duplicate", error="DuplicateOrder", cause_path="$.error.Cause")
        reserve.add_catch(duplicate, errors=["DuplicateOrder"], result_path="$.error")
        for step in (reserve, charge, confirm):
            step.add_catch(compensate, errors=["States.ALL"], result_path="$.error")
        return (
            receive.next(validate)
            .next(self._prepare("", concurrency, options))
            .next(reserve)
            .next(charge)
            .next(settle_state)
            .next(confirm)
            .next(sfn.Succeed(self, "Confirmed"))
        )

    def _quote_flow(self, concurrency: int, options: core.StateMachineOptions) -> sfn.IChainable:
        receive = sfn.Pass(self, "QuoteReceive", parameters={"order.$": "$.body"})
        quote = core.lambda_task(
            self,
            "QuoteTotal",
            function=self.functions["Quote"],
            options=options,
            payload=sfn.TaskInput.from_object(
                {
                    "order.$": "$.order",
                    "lines.$": "$.prepared.lines",
                    "shipping.$": "$.prepared.shipping",
                }
            ),
        )
        return (
            receive.next(self._validate("Quote", options))
            .next(self._prepare("Quote", concurrency, options))
            .next(quote)
        )

    # -- passthroughs -----------------------------------------------------------------------------

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to start the order workflow directly (besides the event rule)."""
        return self.workflow.grant_start_execution(grantee)

    def grant_quote(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``POST /quotes`` (IAM-authorized by default)."""
        if self.api is None:
            raise ValueError("grant_quote needs quote_api=True")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api("POST", "/quotes")],
        )
