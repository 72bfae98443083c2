"""EventBridge rules and schedules, and Step Functions state machines created by CloudFormation.

A target's DLQ only takes what EventBridge could not deliver: a refused Lambda invoke (no
function, no permission) at once, a throttled target call after the target's RetryPolicy. A
function that runs and fails is retried by Lambda and dead-lettered by its own configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

CHECK = """
def handler(event, context):
    return {"source": event["source"], "type": event["detail-type"], "resources": event["resources"]}
"""

PRICE = """
def handler(event, context):
    if event.get("boom"):
        raise ValueError("cannot price")
    return {"total": event["quantity"] * 3}
"""


FLAKY = """
def handler(event, context):
    raise RuntimeError(f"flaky {event['detail']['n']}")
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("events")
    check_code = write_handler(root / "check", {"app.py": CHECK})
    price_code = write_handler(root / "price", {"app.py": PRICE})
    flaky_code = write_handler(root / "flaky", {"app.py": FLAKY})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_events as events
        from aws_cdk import aws_events_targets as targets
        from aws_cdk import aws_scheduler as scheduler
        from aws_cdk import aws_scheduler_targets as scheduler_targets
        from aws_cdk import aws_sqs as sqs
        from aws_cdk import aws_stepfunctions as sfn
        from aws_cdk import aws_stepfunctions_tasks as tasks

        stack = cdk.Stack(app, "EventsStack")
        check = python_function(stack, "HealthCheck", check_code)
        events.Rule(stack, "Every5Minutes", schedule=events.Schedule.rate(cdk.Duration.minutes(5))).add_target(
            targets.LambdaFunction(check, retry_attempts=2)
        )
        scheduler.Schedule(
            stack,
            "Nightly",
            schedule=scheduler.ScheduleExpression.cron(hour="2", minute="0"),
            target=scheduler_targets.LambdaInvoke(
                check,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"source": "nightly", "detail-type": "Report", "resources": []}
                ),
            ),
        )

        price = python_function(stack, "Price", price_code)
        priced = tasks.LambdaInvoke(stack, "PriceOrder", lambda_function=price, payload_response_only=True)
        priced.add_catch(sfn.Fail(stack, "PricingFailed", error="PricingFailed"))
        choice = (
            sfn.Choice(stack, "Large?")
            .when(
                sfn.Condition.number_greater_than("$.total", 10),
                sfn.Pass(stack, "Large", result=sfn.Result.from_object({"size": "large"})),
            )
            .otherwise(sfn.Pass(stack, "Small", result=sfn.Result.from_object({"size": "small"})))
        )
        machine = sfn.StateMachine(
            stack,
            "Orders",
            definition_body=sfn.DefinitionBody.from_chainable(priced.next(choice)),
            timeout=cdk.Duration.minutes(1),
        )
        cdk.CfnOutput(stack, "StateMachineArn", value=machine.state_machine_arn)

        audit = sqs.Queue(stack, "Audit")
        cdk.CfnOutput(stack, "AuditUrl", value=audit.queue_url)
        rule = events.Rule(
            stack, "OrderPlaced", event_pattern=events.EventPattern(source=["shop"], detail_type=["OrderPlaced"])
        )
        rule.add_target(
            targets.SqsQueue(
                audit,
                message=events.RuleTargetInput.from_object(
                    {"order": events.EventField.from_path("$.detail.id"), "kind": "audit"}
                ),
            )
        )
        rule.add_target(targets.SfnStateMachine(machine, input=events.RuleTargetInput.from_event_path("$.detail")))

        function_dlq, target_dlq = sqs.Queue(stack, "FlakyFunctionDlq"), sqs.Queue(stack, "FlakyTargetDlq")
        flaky = python_function(stack, "Flaky", flaky_code, dead_letter_queue=function_dlq)
        events.Rule(stack, "FlakyRule", event_pattern=events.EventPattern(source=["flaky"])).add_target(
            targets.LambdaFunction(flaky, dead_letter_queue=target_dlq, retry_attempts=2)
        )
        relayed, relay_dlq = sqs.Queue(stack, "Relayed"), sqs.Queue(stack, "RelayDlq")
        relay = events.Rule(stack, "Relay", event_pattern=events.EventPattern(source=["relay"]))
        relay.add_target(targets.SqsQueue(relayed, dead_letter_queue=relay_dlq, retry_attempts=3))
        relay.add_target(
            targets.SqsQueue(
                relayed, dead_letter_queue=relay_dlq, retry_attempts=185, max_event_age=cdk.Duration.minutes(1)
            )
        )
        for name, queue in {
            "FlakyFunctionDlq": function_dlq,
            "FlakyTargetDlq": target_dlq,
            "Relayed": relayed,
            "RelayDlq": relay_dlq,
        }.items():
            cdk.CfnOutput(stack, f"{name}Url", value=queue.queue_url)

    return synth(root / "cdk.out", build)


def _executions(cloud: LocalCloud, arn: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    done = []
    for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
        done.append(sfn.describe_execution(executionArn=execution["executionArn"]))
    return done


def test_schedule_fired_on_demand_sends_the_scheduled_event(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a rate(5 minutes) rule targeting a function
    stack = cloud.deploy(assembly, "EventsStack")

    # WHEN the schedule is fired on demand (by logical id / construct path)
    cloud.fire_schedule("Every5Minutes")
    cloud.drain(timeout=20)

    # THEN the function got AWS's "Scheduled Event" naming the rule
    (call,) = cloud.invocations("HealthCheck")
    rule_arn = stack.resource_by_path("Every5Minutes").attribute("Arn")
    assert call.result == {"source": "aws.events", "type": "Scheduled Event", "resources": [rule_arn]}
    assert call.source.startswith("events:")


def test_scheduler_schedule_fired_on_demand_sends_its_input(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN an EventBridge Scheduler schedule (AWS::Scheduler::Schedule) targeting the function
    cloud.deploy(assembly, "EventsStack")

    # WHEN it is fired on demand
    cloud.fire_schedule("Nightly")
    cloud.drain(timeout=20)

    # THEN the function got the schedule's input
    (call,) = cloud.invocations("HealthCheck")
    assert call.result == {"source": "nightly", "type": "Report", "resources": []}
    assert call.source.startswith("scheduler:")


def test_state_machine_from_cloudformation_executes_lambda_tasks_and_branches(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN the state machine deployed by CloudFormation
    stack = cloud.deploy(assembly, "EventsStack")
    arn = stack.outputs["StateMachineArn"]
    sfn = cloud.client("stepfunctions")

    # WHEN executions start with a large order, a small order and one whose pricing fails
    for name, order in (("large", {"quantity": 5}), ("small", {"quantity": 1}), ("broken", {"boom": True})):
        sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(order))
    cloud.drain(timeout=20)

    # THEN each took its branch, the Lambda task ran in-process, the failure was caught
    results = {e["name"]: e for e in _executions(cloud, arn)}
    assert json.loads(results["large"]["output"]) == {"size": "large"}
    assert json.loads(results["small"]["output"]) == {"size": "small"}
    assert results["broken"]["status"] == "FAILED" and results["broken"]["error"] == "PricingFailed"
    assert sorted(json.dumps(i.event) for i in cloud.invocations("Price")) == sorted(
        json.dumps(e) for e in ({"quantity": 5}, {"quantity": 1}, {"boom": True})
    )


def test_event_pattern_rule_transforms_input_and_starts_the_state_machine(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a rule for shop/OrderPlaced with an SQS target (input transformer) and a state machine target
    stack = cloud.deploy(assembly, "EventsStack")
    events = cloud.client("events")

    # WHEN a matching and a non-matching event are put
    events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"id": "o-1", "quantity": 4})},
            {"Source": "shop", "DetailType": "OrderCancelled", "Detail": json.dumps({"id": "o-2", "quantity": 1})},
        ]
    )
    cloud.drain(timeout=20)

    # THEN the queue got the transformed input of the matching event only
    bodies = [json.loads(m["Body"]) for m in messages(cloud, stack.outputs["AuditUrl"])]
    assert bodies == [{"order": "o-1", "kind": "audit"}]
    # AND the state machine ran with the event's detail
    (execution,) = _executions(cloud, stack.outputs["StateMachineArn"])
    assert json.loads(execution["input"]) == {"id": "o-1", "quantity": 4}
    assert json.loads(execution["output"]) == {"size": "large"}


def _put(cloud: LocalCloud, source: str, n: int) -> None:
    cloud.client("events").put_events(
        Entries=[{"Source": source, "DetailType": "Test", "Detail": json.dumps({"n": n})}]
    )


def test_a_lambda_target_that_runs_and_fails_is_dead_lettered_by_lambda_not_by_the_rule(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a rule whose Lambda target (retry policy, target DLQ) always fails; the function has its own DLQ
    stack = cloud.deploy(assembly, "EventsStack")

    # WHEN a matching event is put
    _put(cloud, "flaky", 1)
    cloud.drain(timeout=20)

    # THEN Lambda ran it three times (its own two retries) and its DLQ holds the event
    assert len(cloud.invocations("Flaky")) == 3
    (dead,) = messages(cloud, stack.outputs["FlakyFunctionDlqUrl"])
    assert json.loads(dead["Body"])["detail"] == {"n": 1}
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "flaky 1"
    # AND the target's DLQ is empty: EventBridge did deliver the event to Lambda
    assert messages(cloud, stack.outputs["FlakyTargetDlqUrl"]) == []


def test_an_event_eventbridge_cannot_hand_to_lambda_goes_to_the_target_dlq_without_retries(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN the Lambda target's permission for EventBridge removed
    stack = cloud.deploy(assembly, "EventsStack")
    lambda_client = cloud.client("lambda")
    name = cloud.function_name("Flaky")
    for statement in json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])["Statement"]:
        lambda_client.remove_permission(FunctionName=name, StatementId=statement["Sid"])

    # WHEN an event is put, then another after the function was deleted
    _put(cloud, "flaky", 1)
    lambda_client.delete_function(FunctionName=name)
    _put(cloud, "flaky", 2)
    cloud.drain(timeout=20)

    # THEN nothing ran and both events are in the target's DLQ, not retried, with EventBridge's error code
    assert [i for i in cloud.invocations() if i.function_name == name] == []
    dead = sorted(
        messages(cloud, stack.outputs["FlakyTargetDlqUrl"]), key=lambda m: json.loads(m["Body"])["detail"]["n"]
    )
    assert [json.loads(m["Body"])["detail"]["n"] for m in dead] == [1, 2]
    attributes = [{k: v["StringValue"] for k, v in m["MessageAttributes"].items()} for m in dead]
    assert [a["ERROR_CODE"] for a in attributes] == ["NO_PERMISSIONS", "NO_RESOURCE"]
    assert {a["RETRY_ATTEMPTS"] for a in attributes} == {"0"}
    assert {a["RULE_ARN"] for a in attributes} == {stack.resource_by_path("FlakyRule").attribute("Arn")}


@pytest.fixture
def throttled_queue(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make SendMessage to the "Relayed" queue fail with ThrottlingException while the list is not empty."""
    from moto.core.exceptions import ServiceException
    from moto.sqs.models import SQSBackend

    class Throttling(ServiceException):
        code = "ThrottlingException"
        message = "Rate exceeded"

    plan: list[str] = []
    send = SQSBackend.send_message

    def send_message(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        if "Relayed" in queue_name and plan:
            if plan[0] == "once":
                plan.pop(0)
            raise Throttling()
        return send(backend, queue_name, *args, **kwargs)

    monkeypatch.setattr(SQSBackend, "send_message", send_message)
    return plan


def test_a_throttled_target_is_retried_within_its_retry_policy_then_dead_lettered(
    cloud: LocalCloud, assembly: Path, throttled_queue: list[str]
) -> None:
    # GIVEN a rule with two targets on one queue: RetryPolicy (3 attempts) and (185 attempts, 60 s)
    stack = cloud.deploy(assembly, "EventsStack")

    # WHEN the queue throttles twice, then works
    throttled_queue[:] = ["once", "once", "once", "once"]
    _put(cloud, "relay", 1)
    cloud.drain(timeout=20)

    # THEN both targets delivered after their retries, and nothing was dead-lettered
    relayed = [json.loads(m["Body"])["detail"]["n"] for m in messages(cloud, stack.outputs["RelayedUrl"])]
    assert relayed == [1, 1]
    assert messages(cloud, stack.outputs["RelayDlqUrl"]) == []
    for message in messages(cloud, stack.outputs["RelayedUrl"]):
        cloud.client("sqs").delete_message(QueueUrl=stack.outputs["RelayedUrl"], ReceiptHandle=message["ReceiptHandle"])

    # WHEN the queue throttles for good
    throttled_queue[:] = ["always"]
    skew = cloud.core.engine.skew
    _put(cloud, "relay", 2)
    cloud.drain(timeout=20)

    # THEN each target gave up at its own limit: 3 retries; or the 60 s event age (after 1+2+4+8+16 s of back-off)
    assert messages(cloud, stack.outputs["RelayedUrl"]) == []
    dead = messages(cloud, stack.outputs["RelayDlqUrl"])
    attributes = sorted(
        ({k: v["StringValue"] for k, v in m["MessageAttributes"].items()} for m in dead),
        key=lambda a: a["EXHAUSTED_RETRY_CONDITION"],
    )
    assert [(a["EXHAUSTED_RETRY_CONDITION"], a["RETRY_ATTEMPTS"], a["ERROR_CODE"]) for a in attributes] == [
        ("MaximumEventAgeInSeconds", "5", "THROTTLING"),
        ("MaximumRetryAttempts", "3", "THROTTLING"),
    ]
    assert {json.loads(m["Body"])["detail"]["n"] for m in dead} == {2}
    # AND the back-off passed on the virtual clock (31 s for the longest), not the wall clock
    assert 30 < cloud.core.engine.skew - skew < 32
