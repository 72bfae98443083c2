"""Rung 1 for CATALOG 25 StateMachine and the core Step Functions defaults: what the template says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_stepfunctions as sfn

from patterns import core
from patterns.state_machine import StateMachine
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth, with_existing

Built = _helpers.Built[StateMachine]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        result[name] = Built(stack, StateMachine(stack, "Orders", **with_existing(stack, props)))

    add("Default")
    add("NoApi", quote_api=False, settle_wait=Duration.seconds(0), payment_max_attempts=1)
    add("Existing", existing_table=lambda s: ddb.Table.from_table_name(s, "OrdersOfRecord", "orders-of-record"))
    return synth(result)


def _definition(built: Built, machine: sfn.StateMachine) -> dict[str, Any]:
    parts = built.props(machine)["DefinitionString"]["Fn::Join"][1]
    # References (function ARNs, the table name) sit inside JSON strings of the joined definition.
    return json.loads("".join(p if isinstance(p, str) else "<ref>" for p in parts))


def test_creates_two_machines_six_functions_a_table_a_rule_and_the_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::StepFunctions::StateMachine", 2)
    t.resource_count_is("AWS::Lambda::Function", 6)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::Events::Rule", 1)
    # 6 functions x (errors, throttles) + rule DLQ depth + 2 machines x (failed, timed out, throttled)
    t.resource_count_is("AWS::CloudWatch::Alarm", 19)
    assert {"WorkflowFailed", "WorkflowTimedOut", "WorkflowThrottled", "QuoteFlowThrottled"} <= set(
        built["Default"].pattern.alarms
    )


def test_machines_log_all_without_execution_data_trace_and_time_out(built) -> None:
    b = built["Default"]
    workflow, quotes = b.props(b.pattern.workflow), b.props(b.pattern.quote_flow)
    assert workflow["LoggingConfiguration"]["Level"] == "ALL"
    assert workflow["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert workflow["TracingConfiguration"] == {"Enabled": True}
    assert quotes["StateMachineType"] == "EXPRESS"
    assert _definition(b, b.pattern.workflow)["TimeoutSeconds"] == 300


def test_every_lambda_task_retries_transient_lambda_errors_with_jitter_and_payment_errors_with_backoff(built) -> None:
    b = built["Default"]
    states = _definition(b, b.pattern.workflow)["States"]
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task" and n != "Confirm"}
    assert set(tasks) == {"Validate", "Reserve", "Charge", "Compensate"}
    for state in tasks.values():
        transient = state["Retry"][0]
        assert transient["ErrorEquals"] == list(core.TRANSIENT_LAMBDA_ERRORS)
        assert transient["JitterStrategy"] == "FULL" and transient["MaxDelaySeconds"] == 30
    payment = states["Charge"]["Retry"][1]
    assert payment == {"ErrorEquals": ["PaymentUnavailable"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}
    for step in ("Reserve", "Charge", "Confirm"):
        assert states[step]["Catch"][-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "Compensate",
        }
    assert states["Settle"] == {"Type": "Wait", "Seconds": 60, "Next": "Confirm"}
    assert states["Prepare"]["Type"] == "Parallel" and states["Validate"]["InputPath"] == "$.order"


def test_the_rule_starts_the_workflow_with_the_event_detail_and_a_dead_letter_queue(built) -> None:
    b = built["Default"]
    (rule,) = b.resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {"source": ["shop.orders"], "detail-type": ["OrderPlaced"]}
    (target,) = rule["Properties"]["Targets"]
    assert target["InputPath"] == "$.detail" and "DeadLetterConfig" in target


def test_writers_get_item_actions_on_the_table_only(built) -> None:
    b = built["Default"]
    for name in ("Reserve", "Charge", "Compensate"):
        function = b.pattern.functions[name]
        (statement,) = [s for s in b.statements(function.role) if "dynamodb:PutItem" in s["Action"]]
        assert sorted(statement["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        assert b.env(function)["ORDERS_TABLE_NAME"] == b.ref(b.pattern.table)
    assert not any("dynamodb" in str(s["Action"]) for s in b.statements(b.pattern.functions["Price"].role))


def test_without_the_api_there_is_one_machine_and_no_quote_function(built) -> None:
    b = built["NoApi"]
    b.template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    b.template.resource_count_is("AWS::ApiGateway::RestApi", 0)
    assert b.pattern.api is None and "Quote" not in b.pattern.functions
    assert _definition(b, b.pattern.workflow)["States"]["Settle"]["Seconds"] == 0


def test_an_existing_table_is_used_not_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    assert b.env(b.pattern.functions["Reserve"])["ORDERS_TABLE_NAME"] == "orders-of-record"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_table": lambda s: ddb.Table.from_table_name(s, "T", "t"), "table_props": {}}, "cannot both be set"),
        ({"settle_wait": Duration.days(2)}, "settle_wait"),
        ({"payment_max_attempts": 11}, "payment_max_attempts"),
        ({"payment_backoff_rate": 0.5}, "payment_backoff_rate"),
        ({"pricing_concurrency": 0}, "pricing_concurrency"),
        ({"handlers": {"Ship": "ship.handler"}}, "unknown function names"),
        ({"state_machine_options": core.StateMachineOptions(timeout=Duration.seconds(30))}, "must exceed"),
        ({"table_props": {"partition_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}}, "partition_key"),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        StateMachine(stack, "Orders", **with_existing(stack, props))


def test_fails_if_an_express_state_machine_outlives_five_minutes() -> None:
    stack = Stack(new_app(), "Express")
    with pytest.raises(ValueError, match="Express"):
        core.state_machine(
            stack,
            "M",
            definition=sfn.Pass(stack, "P"),
            express=True,
            options=core.StateMachineOptions(timeout=Duration.minutes(10)),
        )
