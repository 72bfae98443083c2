"""Rung 1 for CATALOG 13 InternalEndpoint: the invoke permissions and the async invocation config."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from patterns import core
from patterns.internal_endpoint import InternalEndpoint
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_list, synth

EXISTING_QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:quote-results"
EXISTING_TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:quote-failures"


Built = _helpers.Built[InternalEndpoint]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, make=lambda stack: {}) -> None:
        stack = Stack(app, name)
        result[name] = Built(stack, InternalEndpoint(stack, "Pricing", **make(stack)))

    add("Default")
    add("Tuned", lambda s: {"retry_attempts": 0, "max_event_age": Duration.minutes(2)})
    add("Existing", lambda s: {
        "on_success": destinations.SqsDestination(sqs.Queue.from_queue_arn(s, "Results", EXISTING_QUEUE_ARN)),
        "on_failure": destinations.SnsDestination(sns.Topic.from_topic_arn(s, "Failures", EXISTING_TOPIC_ARN)),
    })
    add("Swap", lambda s: {
        "worker_code": lambda_.Code.from_inline("def main(event, context):\n    return event\n"),
        "worker_handler": "index.main",
        "caller_code": lambda_.Code.from_inline("def call(event, context):\n    return {}\n"),
        "caller_handler": "index.call",
    })
    return synth(result)


def test_creates_two_functions_a_success_queue_with_dlq_and_a_failure_queue(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Lambda::Function", 2)
    t.resource_count_is("AWS::SQS::Queue", 3)
    t.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    # errors + throttles per function, depth of the failure queue and of the success queue's DLQ
    t.resource_count_is("AWS::CloudWatch::Alarm", 6)
    assert set(built["Default"].pattern.alarms) == {
        "WorkerErrors", "WorkerThrottles", "CallerErrors", "CallerThrottles", "FailureQueueDepth",
        "SuccessDeadLetterQueueDepth",
    }


def test_async_config_bounds_retries_and_age_and_routes_both_outcomes_to_queues(built) -> None:
    b = built["Default"]
    p = b.pattern
    assert p.success_queue is not None and p.failure_queue is not None
    config = b.props(p.event_invoke_config)
    assert config == {
        "FunctionName": b.ref(p.worker),
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {
            "OnSuccess": {"Destination": b.arn(p.success_queue)},
            "OnFailure": {"Destination": b.arn(p.failure_queue)},
        },
    }


def test_retry_attempts_and_event_age_are_props(built) -> None:
    b = built["Tuned"]
    config = b.props(b.pattern.event_invoke_config)
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 120


def test_destination_queues_are_encrypted_and_the_success_queue_has_a_dlq(built) -> None:
    b = built["Default"]
    p = b.pattern
    assert p.success_queue is not None and p.failure_queue is not None and p.success_dead_letter_queue is not None
    success = b.props(p.success_queue)
    assert success["SqsManagedSseEnabled"] is True
    assert success["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [b.logical_id(p.success_dead_letter_queue), "Arn"]
    }
    failure = b.props(p.failure_queue)
    assert failure["SqsManagedSseEnabled"] is True
    assert failure["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_worker_may_send_only_to_its_destinations(built) -> None:
    b = built["Default"]
    p = b.pattern
    sqs_statements = [s for s in b.statements(p.worker.role) if "sqs:SendMessage" in s["Action"]]
    assert len(sqs_statements) == 1
    assert sorted(r["Fn::GetAtt"][0] for r in sqs_statements[0]["Resource"]) == sorted(
        [b.logical_id(p.success_queue), b.logical_id(p.failure_queue)]
    )
    assert not [s for s in b.statements(p.worker.role) if "lambda:InvokeFunction" in str(s["Action"])]


def test_caller_may_invoke_exactly_the_worker(built) -> None:
    b = built["Default"]
    p = b.pattern
    invokes = [s for s in b.statements(p.caller.role) if "lambda:InvokeFunction" in str(s["Action"])]
    assert invokes == [{
        "Action": "lambda:InvokeFunction", "Effect": "Allow",
        "Resource": b.arn(p.worker),
    }]
    caller = b.props(p.caller)
    assert caller["Environment"]["Variables"]["WORKER_FUNCTION_NAME"] == b.ref(p.worker)
    assert caller["Environment"]["Variables"]["WORKER_TIMEOUT_SECONDS"] == "10"
    # the caller outlives the worker, so a synchronous call always gets the worker's answer or error
    assert (caller["Timeout"], b.props(p.worker)["Timeout"]) == (15, 10)
    assert caller["Handler"] == "caller.handler"
    assert b.props(p.worker)["Handler"] == "worker.handler"


def test_grant_invoke_passthroughs_name_one_function_without_wildcards() -> None:
    stack = Stack(new_app(), "Grants")
    pattern = InternalEndpoint(stack, "Pricing")
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    operator = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    pattern.grant_invoke(client)
    pattern.grant_invoke_worker(operator)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")

    def resources_of(role: iam.Role) -> list[Any]:
        role_ref = {"Ref": stack.get_logical_id(role.node.default_child)}
        return [s["Resource"] for p in policies.values() if role_ref in p["Properties"]["Roles"]
                for s in p["Properties"]["PolicyDocument"]["Statement"]]

    assert resources_of(client) == [{"Fn::GetAtt": [stack.get_logical_id(pattern.caller.node.default_child), "Arn"]}]
    assert resources_of(operator) == [{"Fn::GetAtt": [stack.get_logical_id(pattern.worker.node.default_child), "Arn"]}]


def test_existing_destinations_are_used_and_no_queue_is_created(built) -> None:
    b = built["Existing"]
    p = b.pattern
    b.template.resource_count_is("AWS::SQS::Queue", 0)
    assert p.success_queue is None and p.success_dead_letter_queue is None and p.failure_queue is None
    config = b.props(p.event_invoke_config)
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": EXISTING_QUEUE_ARN},
        "OnFailure": {"Destination": EXISTING_TOPIC_ARN},
    }
    actions = {
        a for s in b.statements(p.worker.role) for a in action_list(s)
    }
    assert {"sqs:SendMessage", "sns:Publish"} <= actions
    # no DLQ-depth alarms when the pattern owns no queue
    assert set(p.alarms) == {"WorkerErrors", "WorkerThrottles", "CallerErrors", "CallerThrottles"}


def test_handler_code_of_both_functions_can_be_swapped(built) -> None:
    b = built["Swap"]
    worker, caller = b.props(b.pattern.worker), b.props(b.pattern.caller)
    assert worker["Handler"] == "index.main" and "return event" in worker["Code"]["ZipFile"]
    assert caller["Handler"] == "index.call" and "return {}" in caller["Code"]["ZipFile"]
    # the wiring stays
    b.template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    assert caller["Environment"]["Variables"]["WORKER_FUNCTION_NAME"] == b.ref(b.pattern.worker)


@pytest.mark.parametrize("attempts", [-1, 3])
def test_fails_if_retry_attempts_is_out_of_range(attempts: int) -> None:
    with pytest.raises(ValueError, match=rf"retry_attempts must be between 0 and 2 \(given {attempts}\)"):
        InternalEndpoint(Stack(new_app(), "Invalid"), "Pricing", retry_attempts=attempts)


@pytest.mark.parametrize("age", [Duration.seconds(59), Duration.hours(7)])
def test_fails_if_max_event_age_is_out_of_range(age: Duration) -> None:
    with pytest.raises(ValueError, match=r"max_event_age \(seconds\) must be between 60 and 21600"):
        InternalEndpoint(Stack(new_app(), "Invalid"), "Pricing", max_event_age=age)


def test_caller_timeout_follows_the_worker_up_to_lambdas_limit() -> None:
    timeouts = {}
    for worker_seconds in (60, 898):
        stack = Stack(new_app(), f"Timeout{worker_seconds}")
        pattern = InternalEndpoint(
            stack, "Pricing", function_options=core.FunctionOptions(timeout=Duration.seconds(worker_seconds))
        )
        functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
        caller = functions[stack.get_logical_id(pattern.caller.node.default_child)]["Properties"]
        timeouts[worker_seconds] = (caller["Timeout"], caller["Environment"]["Variables"]["WORKER_TIMEOUT_SECONDS"])
    assert timeouts == {60: (65, "60"), 898: (900, "898")}
