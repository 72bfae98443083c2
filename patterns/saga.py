"""CATALOG 26 — Saga: an orchestrated trip booking over three services, each undone in reverse order.

Reserve a flight, reserve a hotel, take the payment: each service has its own table and its own
compensation (cancel the flight, cancel the hotel, refund the payment). A step that *refuses*
(sold out, declined) applied nothing, so a refusal at step k runs the compensations of steps
k-1..1; a step that fails any other way (an outage, a lost response) may have applied, so its own
compensation runs first (a no-op when nothing was written). Compensations are retried with
back-off until they succeed; one that cannot publishes an alert and the saga still undoes the
rest. Every step is a conditional write keyed by the trip id and owned by one execution, so a
retried step applies once and a second saga run with the same trip id books nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=26,
    name="Saga",
    construct="Saga",
    module="patterns.saga",
    demo_stack="SagaDemo",
    handlers=("saga",),
    family="Orchestration and resilience",
    summary="trip booking over three services (flight, hotel, payment), compensated in reverse order, idempotent steps",
)


@dataclass(frozen=True)
class _Service:
    """One service of the saga: its table, its forward step and its compensation."""

    name: str  #: the table's construct id and the stem of the prop names
    step: str  #: the forward step (function and state name)
    compensation: str  #: the compensating step
    refusal: str  #: the error the step raises when it refuses (nothing applied)
    variable: str  #: the environment variable naming the table


SERVICES = (
    _Service("Flights", "ReserveFlight", "CancelFlight", "FlightUnavailable", "FLIGHTS_TABLE_NAME"),
    _Service("Hotels", "ReserveHotel", "CancelHotel", "HotelUnavailable", "HOTELS_TABLE_NAME"),
    _Service("Payments", "TakePayment", "RefundPayment", "PaymentDeclined", "PAYMENTS_TABLE_NAME"),
)
#: The handler of each function in the asset (``handlers`` overrides any of them).
HANDLERS = {
    "ReserveFlight": "flights.reserve",
    "CancelFlight": "flights.cancel",
    "ReserveHotel": "hotels.reserve",
    "CancelHotel": "hotels.cancel",
    "TakePayment": "payments.charge",
    "RefundPayment": "payments.refund",
}
#: Every table's partition key: the saga id, which makes each step idempotent.
TRIP_KEY = "trip_id"
#: Errors after which a step is known to have applied nothing (besides its own refusal).
NOTHING_APPLIED = ("DuplicateTrip", "InvalidTrip")


class Saga(Construct):
    """The trip-booking saga: a Standard state machine over three services with reverse-order compensation.

    :param compensation_retry_interval: the first back-off after a failed compensation. Default: 2 seconds.
    :param compensation_max_attempts: retries of a failed compensation before it alerts, 1-50. Default: 10.
    :param compensation_backoff_rate: each back-off is the previous one times this, 1-10. Default: 2.
    :param compensation_max_delay: the longest back-off between two attempts. Default: 5 minutes.
    :param existing_alert_topic: the topic a compensation that cannot succeed is published to.
        Default: - a new KMS-encrypted topic.
    :param existing_flights_table: a flights table (partition key ``trip_id``, string). Default: - a new table.
    :param flights_table_props: overrides of the new flights table's props (not its key). Default: core defaults.
    :param existing_hotels_table: a hotels table (partition key ``trip_id``). Default: - a new table.
    :param hotels_table_props: overrides of the new hotels table's props. Default: core defaults.
    :param existing_payments_table: a payments table (partition key ``trip_id``). Default: - a new table.
    :param payments_table_props: overrides of the new payments table's props. Default: core defaults.
    :param handler_code: the functions' code asset. Default: ``lambdas/saga``.
    :param handlers: handler overrides by function name (``ReserveFlight``, ``CancelFlight``, ``ReserveHotel``,
        ``CancelHotel``, ``TakePayment``, ``RefundPayment``). Default: ``HANDLERS``.
    :param function_options: memory, timeout, ... of every function. Default: core defaults.
    :param state_machine_options: timeout, logging, tracing and Lambda retries of the saga; the timeout
        must outlast three compensations retried to the end. Default: core defaults with a 1-hour timeout.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``tables`` (by service: ``Flights``, ``Hotels``, ``Payments``), ``functions`` (by name),
    ``state_machine``, ``alert_topic``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        compensation_retry_interval: Duration | None = None,
        compensation_max_attempts: int = 10,
        compensation_backoff_rate: float = 2.0,
        compensation_max_delay: Duration | None = None,
        existing_alert_topic: sns.ITopic | None = None,
        existing_flights_table: ddb.ITable | None = None,
        flights_table_props: Mapping[str, object] | None = None,
        existing_hotels_table: ddb.ITable | None = None,
        hotels_table_props: Mapping[str, object] | None = None,
        existing_payments_table: ddb.ITable | None = None,
        payments_table_props: Mapping[str, object] | None = None,
        handler_code: lambda_.Code | None = None,
        handlers: Mapping[str, str] | None = None,
        function_options: core.FunctionOptions | None = None,
        state_machine_options: core.StateMachineOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        interval = compensation_retry_interval or Duration.seconds(2)
        max_delay = compensation_max_delay or Duration.minutes(5)
        options = state_machine_options or core.StateMachineOptions(timeout=Duration.hours(1))
        core.validation.in_range("compensation_max_attempts", compensation_max_attempts, 1, 50)
        core.validation.in_range("compensation_backoff_rate", compensation_backoff_rate, 1, 10)
        core.validation.in_range("compensation_retry_interval (seconds)", interval.to_seconds(), 1, 3600)
        if max_delay.to_seconds() < interval.to_seconds():
            raise ValueError(
                f"compensation_max_delay ({max_delay.to_seconds():g} s) must be at least the "
                f"compensation_retry_interval ({interval.to_seconds():g} s)"
            )
        unknown = set(handlers or {}) - set(HANDLERS)
        if unknown:
            raise ValueError(f"handlers has unknown function names {sorted(unknown)} (known: {sorted(HANDLERS)})")
        # Jitter only shortens a back-off: the longest wait is each capped delay in full.
        one_compensation = sum(
            min(interval.to_seconds() * compensation_backoff_rate**n, max_delay.to_seconds())
            for n in range(compensation_max_attempts)
        )
        if options.timeout.to_seconds() <= len(SERVICES) * one_compensation:
            raise ValueError(
                f"state_machine_options.timeout ({options.timeout.to_seconds():g} s) must exceed three compensations "
                f"retried to the end ({len(SERVICES) * one_compensation:g} s)"
            )

        given = {
            "Flights": (existing_flights_table, flights_table_props),
            "Hotels": (existing_hotels_table, hotels_table_props),
            "Payments": (existing_payments_table, payments_table_props),
        }
        self.tables: dict[str, ddb.ITable] = {}
        for service in SERVICES:
            existing, props = given[service.name]
            stem = service.name.lower()
            self.tables[service.name] = core.table(
                self,
                service.name,
                partition_key=TRIP_KEY,
                existing_table=existing,
                table_props=dict(props) if props is not None else None,
                existing_table_name=f"existing_{stem}_table",
                table_props_name=f"{stem}_table_props",
            )

        code = handler_code or core.handler_code("saga")
        chosen = {**HANDLERS, **(handlers or {})}
        self.functions: dict[str, lambda_.Function] = {}
        for service in SERVICES:
            table = self.tables[service.name]
            for name in (service.step, service.compensation):
                function = core.python_function(
                    self,
                    f"{name}Function",
                    code=code,
                    handler=chosen[name],
                    service=f"trips-{service.name.lower()}",
                    invocation="sync",
                    description=f"{construct_id}: {name} step of the trip saga",
                    options=function_options,
                    environment={service.variable: table.table_name},
                )
                # Each function reaches only its own service's table, with the item actions it uses.
                table.grant(function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
                self.functions[name] = function

        self.alert_topic: sns.ITopic = core.topic(self, "AlertTopic", existing_topic=existing_alert_topic)
        self.state_machine = core.state_machine(
            self,
            "StateMachine",
            definition=self._definition(options, interval, compensation_max_attempts, compensation_backoff_rate,
                                        max_delay),
            options=options,
            comment="Trip saga: reserve flight, reserve hotel, take payment; compensate in reverse order",
        )
        core.grant_publish(self.alert_topic, self.state_machine)
        core.acknowledge_task_invokes(self.state_machine, *self.functions.values())

        self.alarms = core.PatternAlarms(
            self,
            "Alarms",
            options=alarm_options,
            functions=dict(self.functions),
            state_machines={"StateMachine": self.state_machine},
        ).alarms

    # -- definition --------------------------------------------------------------------------------

    def _definition(
        self,
        options: core.StateMachineOptions,
        interval: Duration,
        max_attempts: int,
        backoff: float,
        max_delay: Duration,
    ) -> sfn.IChainable:
        receive = sfn.Pass(self, "Receive", parameters={"trip.$": "$", "execution.$": "$$.Execution.Id"})
        booking_failed = sfn.Fail(self, "BookingFailed", error="BookingFailed", cause_path="$.error.Cause")
        compensation_failed = sfn.Fail(
            self, "CompensationFailed", error="CompensationFailed", cause_path="$.compensation_error.Cause"
        )
        undone = (
            sfn.Choice(self, "Undone")
            .when(sfn.Condition.is_present("$.compensation_error"), compensation_failed)
            .otherwise(booking_failed)
        )
        payload = sfn.TaskInput.from_object(
            {"trip.$": "$.trip", "execution.$": "$.execution", "attempt.$": "$$.State.RetryCount"}
        )

        # Compensations: each hands on to the one of the step before it (RefundPayment → CancelHotel →
        # CancelFlight), retried with back-off; one that cannot alerts and hands on all the same.
        compensations: list[tasks.LambdaInvoke] = []
        after: sfn.IChainable = undone
        for service in SERVICES:
            step = core.lambda_task(
                self,
                service.compensation,
                function=self.functions[service.compensation],
                options=options,
                payload=payload,
                result_path="$." + re.sub(r"(?<!^)(?=[A-Z])", "_", service.compensation).lower(),
            )
            step.add_retry(
                errors=["States.ALL"],
                interval=interval,
                max_attempts=max_attempts,
                backoff_rate=backoff,
                max_delay=max_delay,
                jitter_strategy=sfn.JitterType.FULL,
            )
            alert = tasks.SnsPublish(
                self,
                f"Alert{service.compensation}",
                topic=self.alert_topic,
                subject=f"Saga compensation {service.compensation} failed",
                message=sfn.TaskInput.from_object(
                    {
                        "trip_id.$": "$.trip.trip_id",
                        "execution.$": "$.execution",
                        "compensation": service.compensation,
                        "error.$": "$.compensation_error",
                    }
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
            step.add_catch(alert, errors=["States.ALL"], result_path="$.compensation_error")
            step.next(after)
            alert.next(after)
            compensations.append(step)
            after = step

        # Forward steps: a refusal compensates the steps before; any other error this one too.
        forward: list[tasks.LambdaInvoke] = []
        for index, service in enumerate(SERVICES):
            step = core.lambda_task(
                self,
                service.step,
                function=self.functions[service.step],
                options=options,
                payload=payload,
                result_path=f"$.{service.name.lower()}",
            )
            before: sfn.IChainable = compensations[index - 1] if index else booking_failed
            step.add_catch(before, errors=[service.refusal, *NOTHING_APPLIED], result_path="$.error")
            step.add_catch(compensations[index], errors=["States.ALL"], result_path="$.error")
            forward.append(step)
        chain = receive.next(forward[0])
        for step in forward[1:]:
            chain = chain.next(step)
        return chain.next(sfn.Succeed(self, "Booked"))

    # -- passthroughs ------------------------------------------------------------------------------

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to start a saga (``states:StartExecution`` with the trip as input)."""
        return self.state_machine.grant_start_execution(grantee)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the bookings of every service (e.g. a trip status API)."""
        grant = self.tables["Flights"].grant_read_data(grantee)
        for name in ("Hotels", "Payments"):
            self.tables[name].grant_read_data(grantee)
        return grant
