"""Rung 1 for CATALOG 27 CircuitBreaker: what the template says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_

from patterns import core
from patterns.circuit_breaker import CircuitBreaker
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth, with_existing

Built = _helpers.Built[CircuitBreaker]


def _downstream(scope: Stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_name(scope, "Provider", "payments-provider")


def _owned_downstream(scope: Stack, construct_id: str = "Provider") -> lambda_.Function:
    return lambda_.Function(
        scope, construct_id, runtime=core.RUNTIME, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
    )


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, downstream: Any = _downstream, **props: Any) -> None:
        stack = Stack(app, name)
        pattern = CircuitBreaker(stack, "Breaker", downstream=downstream(stack), **with_existing(stack, props))
        result[name] = Built(stack, pattern)

    add("Default")
    add(
        "Tuned", downstream=_owned_downstream, circuit_name="payments", failure_threshold=3,
        failure_window=Duration.seconds(30), cooldown=Duration.minutes(2), call_timeout=Duration.seconds(2),
        on_state_unavailable="fail_open",
    )
    add("Existing", existing_table=lambda s: ddb.Table.from_table_name(s, "Circuits", "circuits-of-record"))
    return synth(result)


def test_creates_one_table_one_function_and_its_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert set(built["Default"].pattern.alarms) == {"BreakerErrors", "BreakerThrottles"}


def test_the_circuit_table_is_keyed_by_circuit_on_demand_with_recovery(built) -> None:
    b = built["Default"]
    table = b.props(b.pattern.table)
    assert table["KeySchema"] == [{"AttributeName": "circuit", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_defaults_reach_the_function_environment(built) -> None:
    b = built["Default"]
    env = b.env(b.pattern.function)
    assert env["CIRCUITS_TABLE_NAME"] == b.ref(b.pattern.table)
    assert env["CIRCUIT_NAME"] == "Breaker"
    assert "function:payments-provider" in json.dumps(env["DOWNSTREAM_FUNCTION_NAME"])  # the name, from its ARN
    assert {k: env[k] for k in ("FAILURE_THRESHOLD", "FAILURE_WINDOW_MS", "COOLDOWN_MS", "CALL_TIMEOUT_MS")} == {
        "FAILURE_THRESHOLD": "5", "FAILURE_WINDOW_MS": "60000", "COOLDOWN_MS": "30000", "CALL_TIMEOUT_MS": "5000",
    }
    # a probe's lease is the breaker's own timeout: a probe cannot outlive it
    assert env["PROBE_LEASE_MS"] == "10000" and b.props(b.pattern.function)["Timeout"] == 10
    assert env["ON_STATE_UNAVAILABLE"] == "fail_closed"


def test_tuned_props_reach_the_function_environment(built) -> None:
    b = built["Tuned"]
    env = b.env(b.pattern.function)
    assert env["CIRCUIT_NAME"] == "payments" and env["FAILURE_THRESHOLD"] == "3"
    assert (env["FAILURE_WINDOW_MS"], env["COOLDOWN_MS"], env["CALL_TIMEOUT_MS"]) == ("30000", "120000", "2000")
    assert env["ON_STATE_UNAVAILABLE"] == "fail_open"
    assert env["DOWNSTREAM_FUNCTION_NAME"] == b.ref(b.pattern.downstream)


def test_the_breaker_may_read_and_update_its_circuit_and_invoke_only_the_unqualified_downstream(built) -> None:
    b = built["Tuned"]
    statements = b.statements(b.pattern.function.role)
    table = next(s for s in statements if b.arn(b.pattern.table) in _resources(s))
    assert action_set(table) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    invoke = next(s for s in statements if "lambda:InvokeFunction" in action_set(s))
    assert _resources(invoke) == [b.arn(b.pattern.downstream)]


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def test_an_existing_table_is_used_not_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    assert b.env(b.pattern.function)["CIRCUITS_TABLE_NAME"] == "circuits-of-record"
    assert b.pattern.table.table_name == "circuits-of-record"


def test_grant_invoke_allows_calling_the_breaker_not_the_downstream() -> None:
    stack = Stack(new_app(), "Grant")
    pattern = CircuitBreaker(stack, "Breaker", downstream=_downstream(stack))
    caller = _owned_downstream(stack, "Caller")
    pattern.grant_invoke(caller)
    b = synth({"g": Built(stack, pattern)})["g"]
    (statement,) = [s for s in b.statements(caller.role) if "lambda:InvokeFunction" in action_set(s)]
    assert b.arn(pattern.function) in _resources(statement)
    assert "payments-provider" not in str(statement)


def _keyed_wrong(scope: Stack) -> ddb.Table:
    return ddb.Table(scope, "Wrong", partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING))


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_table": lambda s: ddb.Table.from_table_name(s, "T", "t"), "table_props": {}}, "cannot both be set"),
        ({"existing_table": _keyed_wrong}, "existing_table must have partition key 'circuit'"),
        ({"table_props": {"partition_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}}, "partition_key"),
        ({"circuit_name": "has spaces"}, "circuit_name"),
        ({"circuit_name": ""}, "circuit_name"),
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_threshold": 1001}, "failure_threshold"),
        ({"failure_window": Duration.days(2)}, "failure_window"),
        ({"cooldown": Duration.millis(500)}, "cooldown"),
        ({"call_timeout": Duration.minutes(16)}, "call_timeout"),
        ({"on_state_unavailable": "retry"}, "on_state_unavailable"),
        ({"call_timeout": Duration.seconds(10)}, "must be less than function_options.timeout"),
        (
            {
                "call_timeout": Duration.seconds(5),
                "function_options": core.FunctionOptions(timeout=Duration.seconds(3)),
            },
            r"call_timeout \(5 s\) must be less than function_options.timeout \(3 s\)",
        ),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        CircuitBreaker(stack, "Breaker", downstream=_downstream(stack), **with_existing(stack, props))
