"""CATALOG 27 — CircuitBreaker: a function guarding a flaky downstream, its state in DynamoDB.

Callers invoke the breaker function instead of the downstream. The breaker keeps one item per
circuit: closed, it calls the downstream and counts failures in a window; ``failure_threshold``
failures within ``failure_window`` open it; open, it answers at once without calling the
downstream; after ``cooldown`` it is half-open and admits one probe; the probe's success closes
it, its failure opens it again. Every transition is a conditional write on that item, so
concurrent callers (each its own execution environment) agree: one of them opens the circuit, one
of them gets the probe, the rest are refused. When the breaker cannot read its own table it falls
back as ``on_state_unavailable`` says: refuse (fail closed) or call the downstream unguarded (fail open).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from aws_cdk import Duration, Token
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=27,
    name="CircuitBreaker",
    construct="CircuitBreaker",
    module="patterns.circuit_breaker",
    demo_stack="CircuitBreakerDemo",
    handlers=("circuit_breaker",),
    family="Orchestration and resilience",
    summary="breaker function guarding a flaky downstream; closed/open/half-open in DynamoDB by conditional writes",
)

#: Partition key of the circuit table (the handler's contract): one item per circuit.
CIRCUIT_KEY = "circuit"
Fallback = Literal["fail_closed", "fail_open"]
_FALLBACKS = ("fail_closed", "fail_open")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


class CircuitBreaker(Construct):
    """A breaker function in front of ``downstream``, with its circuit state in a DynamoDB table.

    :param downstream: the function the breaker guards (invoked synchronously, once per admitted call).
    :param circuit_name: the circuit's key in the table (several breakers may share one table).
        Default: the construct id.
    :param failure_threshold: failures within ``failure_window`` that open the circuit, 1-1000. Default: 5.
    :param failure_window: how far back failures count, 1 second to 1 day. Default: 1 minute.
    :param cooldown: how long the circuit stays open before it admits a probe, 1 second to 1 day.
        Default: 30 seconds.
    :param call_timeout: how long the breaker waits for the downstream before counting a failure;
        less than the breaker function's timeout. Default: 5 seconds.
    :param on_state_unavailable: what a call does when the circuit table cannot be read:
        ``"fail_closed"`` refuses it, ``"fail_open"`` calls the downstream unguarded. Default: ``"fail_closed"``.
    :param existing_table: a circuit table (partition key ``circuit``, string) to use.
        Default: - a new table; mutually exclusive with ``table_props``.
    :param table_props: overrides of the new table's props (not its key). Default: core table defaults.
    :param handler_code: the breaker's code asset. Default: ``lambdas/circuit_breaker``.
    :param handler: its handler. Default: ``breaker.handler``.
    :param function_options: memory, timeout, ... of the breaker function. Default: core defaults
        (256 MB, 10 seconds).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``table``, ``function``, ``downstream``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        downstream: lambda_.IFunction,
        circuit_name: str | None = None,
        failure_threshold: int = 5,
        failure_window: Duration | None = None,
        cooldown: Duration | None = None,
        call_timeout: Duration | None = None,
        on_state_unavailable: Fallback = "fail_closed",
        existing_table: ddb.ITable | None = None,
        table_props: Mapping[str, object] | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "breaker.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        name = circuit_name if circuit_name is not None else construct_id
        window = failure_window or Duration.minutes(1)
        cool = cooldown or Duration.seconds(30)
        call = call_timeout or Duration.seconds(5)
        opts = function_options or core.FunctionOptions()
        if not Token.is_unresolved(name) and not _NAME.match(name):
            raise ValueError(f"circuit_name must be 1-128 letters, digits, '_', '-' or '.' (given {name!r})")
        core.validation.in_range("failure_threshold", failure_threshold, 1, 1000)
        core.validation.in_range("failure_window (seconds)", window.to_milliseconds() / 1000, 1, 86_400)
        core.validation.in_range("cooldown (seconds)", cool.to_milliseconds() / 1000, 1, 86_400)
        core.validation.in_range("call_timeout (seconds)", call.to_milliseconds() / 1000, 1, 900)
        if on_state_unavailable not in _FALLBACKS:
            raise ValueError(f"on_state_unavailable must be one of {list(_FALLBACKS)} (given {on_state_unavailable!r})")
        if call.to_milliseconds() >= opts.timeout.to_milliseconds():
            raise ValueError(
                f"call_timeout ({call.to_milliseconds() / 1000:g} s) must be less than function_options.timeout "
                f"({opts.timeout.to_milliseconds() / 1000:g} s): the breaker must outlive its downstream call to "
                "record it"
            )

        self.downstream = downstream
        self.table: ddb.ITable = core.table(
            self,
            "Circuits",
            partition_key=CIRCUIT_KEY,
            existing_table=existing_table,
            table_props=dict(table_props) if table_props is not None else None,
        )
        self.function: lambda_.Function = core.python_function(
            self,
            "Breaker",
            code=handler_code or core.handler_code("circuit_breaker"),
            handler=handler,
            service="circuit-breaker",
            invocation="sync",
            description=f"{construct_id}: circuit breaker in front of the downstream function",
            options=opts,
            environment={
                "CIRCUITS_TABLE_NAME": self.table.table_name,
                "CIRCUIT_NAME": name,
                "DOWNSTREAM_FUNCTION_NAME": downstream.function_name,
                "FAILURE_THRESHOLD": str(failure_threshold),
                "FAILURE_WINDOW_MS": str(int(window.to_milliseconds())),
                "COOLDOWN_MS": str(int(cool.to_milliseconds())),
                "CALL_TIMEOUT_MS": str(int(call.to_milliseconds())),
                # a probe holds the half-open circuit at most as long as its breaker can live
                "PROBE_LEASE_MS": str(int(opts.timeout.to_milliseconds())),
                "ON_STATE_UNAVAILABLE": on_state_unavailable,
            },
        )
        self.table.grant(self.function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        # the unqualified ARN only: the breaker calls no version or alias (grant_invoke would add <arn>:*)
        iam.Grant.add_to_principal(
            grantee=self.function, actions=["lambda:InvokeFunction"], resource_arns=[downstream.function_arn]
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Breaker": self.function}
        ).alarms

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call the downstream through the breaker (``lambda:InvokeFunction``)."""
        return self.function.grant_invoke(grantee)
