"""Rung 1 for CATALOG 26 Saga: what the template says about the steps, their compensations and the alert."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_sns as sns

from patterns import core
from patterns.saga import HANDLERS, Saga
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth, with_existing

Built = _helpers.Built[Saga]
COMPENSATIONS = ("RefundPayment", "CancelHotel", "CancelFlight")


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        result[name] = Built(stack, Saga(stack, "Trips", **with_existing(stack, props)))

    add("Default")
    add(
        "Existing",
        existing_flights_table=lambda s: ddb.Table.from_table_name(s, "Flights", "flights-of-record"),
        existing_hotels_table=lambda s: ddb.Table.from_table_name(s, "Hotels", "hotels-of-record"),
        existing_payments_table=lambda s: ddb.Table.from_table_name(s, "Payments", "payments-of-record"),
        existing_alert_topic=lambda s: sns.Topic.from_topic_arn(
            s, "Alerts", "arn:aws:sns:us-east-1:123456789012:oncall"
        ),
    )
    add(
        "Tuned",
        compensation_retry_interval=Duration.seconds(5),
        compensation_max_attempts=3,
        compensation_backoff_rate=3,
        compensation_max_delay=Duration.seconds(30),
        state_machine_options=core.StateMachineOptions(timeout=Duration.minutes(10)),
    )
    return synth(result)


def _states(built: Built) -> dict[str, Any]:
    parts = built.props(built.pattern.state_machine)["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<ref>" for p in parts))["States"]


def test_creates_one_machine_six_functions_three_tables_a_topic_and_the_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    t.resource_count_is("AWS::Lambda::Function", 6)
    t.resource_count_is("AWS::DynamoDB::Table", 3)
    t.resource_count_is("AWS::SNS::Topic", 1)
    # 6 functions x (errors, throttles) + the machine's failed, timed out, throttled
    t.resource_count_is("AWS::CloudWatch::Alarm", 15)
    assert {"StateMachineFailed", "RefundPaymentErrors"} <= set(built["Default"].pattern.alarms)
    assert set(built["Default"].pattern.functions) == set(HANDLERS)
    props = built["Default"].props(built["Default"].pattern.state_machine)
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_a_refusal_compensates_the_steps_before_and_any_other_error_this_step_too(built) -> None:
    states = _states(built["Default"])
    catches = {
        step: [(c["ErrorEquals"], c["Next"]) for c in states[step]["Catch"]]
        for step in ("ReserveFlight", "ReserveHotel", "TakePayment")
    }
    assert catches == {
        "ReserveFlight": [
            (["FlightUnavailable", "DuplicateTrip", "InvalidTrip"], "BookingFailed"),
            (["States.ALL"], "CancelFlight"),
        ],
        "ReserveHotel": [
            (["HotelUnavailable", "DuplicateTrip", "InvalidTrip"], "CancelFlight"),
            (["States.ALL"], "CancelHotel"),
        ],
        "TakePayment": [
            (["PaymentDeclined", "DuplicateTrip", "InvalidTrip"], "CancelHotel"),
            (["States.ALL"], "RefundPayment"),
        ],
    }
    assert [states[s]["Next"] for s in ("ReserveFlight", "ReserveHotel", "TakePayment")] == [
        "ReserveHotel",
        "TakePayment",
        "Booked",
    ]
    # compensations run in reverse order and end in the Choice between the two failures
    assert [states[s]["Next"] for s in COMPENSATIONS] == ["CancelHotel", "CancelFlight", "Undone"]
    assert states["Undone"]["Choices"][0]["Next"] == "CompensationFailed"
    assert states["Undone"]["Default"] == "BookingFailed"


def test_compensations_retry_everything_with_backoff_then_alert_and_hand_on(built) -> None:
    states = _states(built["Default"])
    for step, after in zip(COMPENSATIONS, ("CancelHotel", "CancelFlight", "Undone"), strict=True):
        transient, everything = states[step]["Retry"]
        assert transient["ErrorEquals"] == list(core.TRANSIENT_LAMBDA_ERRORS)
        assert everything == {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 2,
            "MaxAttempts": 10,
            "BackoffRate": 2,
            "MaxDelaySeconds": 300,
            "JitterStrategy": "FULL",
        }
        assert states[step]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.compensation_error", "Next": f"Alert{step}"}
        ]
        alert = states[f"Alert{step}"]
        assert alert["Resource"].endswith(":sns:publish") and alert["Next"] == after
        assert alert["Parameters"]["Message"]["compensation"] == step
    tuned = _states(built["Tuned"])["CancelFlight"]["Retry"][1]
    assert (tuned["IntervalSeconds"], tuned["MaxAttempts"], tuned["BackoffRate"], tuned["MaxDelaySeconds"]) == (
        5,
        3,
        3,
        30,
    )


def test_each_function_reaches_only_its_own_services_table(built) -> None:
    b = built["Default"]
    for service, variable, steps in (
        ("Flights", "FLIGHTS_TABLE_NAME", ("ReserveFlight", "CancelFlight")),
        ("Hotels", "HOTELS_TABLE_NAME", ("ReserveHotel", "CancelHotel")),
        ("Payments", "PAYMENTS_TABLE_NAME", ("TakePayment", "RefundPayment")),
    ):
        for step in steps:
            function = b.pattern.functions[step]
            assert b.env(function)[variable] == b.ref(b.pattern.tables[service])
            (statement,) = [s for s in b.statements(function.role) if "dynamodb:PutItem" in s["Action"]]
            assert sorted(statement["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
            assert statement["Resource"] == b.arn(b.pattern.tables[service])
    for table in b.resources("AWS::DynamoDB::Table").values():
        assert table["Properties"]["KeySchema"] == [{"AttributeName": "trip_id", "KeyType": "HASH"}]


def test_the_machine_may_publish_to_the_alert_topic_and_its_key(built) -> None:
    b = built["Default"]
    actions = [s["Action"] for s in b.statements(b.pattern.state_machine.role)]
    assert "sns:Publish" in actions
    assert ["kms:Decrypt", "kms:GenerateDataKey"] in actions


def test_existing_tables_and_topic_are_used_not_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    b.template.resource_count_is("AWS::SNS::Topic", 0)
    assert b.env(b.pattern.functions["CancelFlight"])["FLIGHTS_TABLE_NAME"] == "flights-of-record"
    assert b.env(b.pattern.functions["CancelHotel"])["HOTELS_TABLE_NAME"] == "hotels-of-record"
    assert b.env(b.pattern.functions["RefundPayment"])["PAYMENTS_TABLE_NAME"] == "payments-of-record"
    (publish,) = [s for s in b.statements(b.pattern.state_machine.role) if s["Action"] == "sns:Publish"]
    assert publish["Resource"] == "arn:aws:sns:us-east-1:123456789012:oncall"
    assert _states(b)["AlertCancelFlight"]["Parameters"]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:oncall"


def _table(name: str) -> Any:
    return lambda s: ddb.Table.from_table_name(s, name, name.lower())


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_flights_table": _table("F"), "flights_table_props": {}}, "existing_flights_table"),
        ({"existing_hotels_table": _table("H"), "hotels_table_props": {}}, "existing_hotels_table"),
        ({"existing_payments_table": _table("P"), "payments_table_props": {}}, "existing_payments_table"),
        (
            {"payments_table_props": {"partition_key": ddb.Attribute(name="x", type=ddb.AttributeType.STRING)}},
            r"payments_table_props\['partition_key'\]",
        ),
        (
            {
                "existing_hotels_table": lambda s: ddb.Table(
                    s, "Rooms", partition_key=ddb.Attribute(name="room", type=ddb.AttributeType.STRING)
                )
            },
            "existing_hotels_table",
        ),
        ({"compensation_max_attempts": 0}, "compensation_max_attempts"),
        ({"compensation_max_attempts": 51}, "compensation_max_attempts"),
        ({"compensation_backoff_rate": 0.5}, "compensation_backoff_rate"),
        ({"compensation_retry_interval": Duration.hours(2)}, "compensation_retry_interval"),
        ({"compensation_max_delay": Duration.seconds(1)}, "compensation_max_delay"),
        ({"handlers": {"Ship": "ship.handler"}}, "unknown function names"),
        ({"state_machine_options": core.StateMachineOptions()}, "must exceed three compensations"),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        Saga(stack, "Trips", **with_existing(stack, props))
