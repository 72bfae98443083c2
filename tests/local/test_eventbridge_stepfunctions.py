"""EventBridge rules and schedules, and Step Functions state machines created by CloudFormation."""

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


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("events")
    check_code = write_handler(root / "check", {"app.py": CHECK})
    price_code = write_handler(root / "price", {"app.py": PRICE})

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
