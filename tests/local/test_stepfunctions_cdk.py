"""State machines as aws-cdk-lib writes them, deployed by CloudFormation into the local cloud.

Covers what CDK emits that raw ASL tests do not: LambdaInvoke with its default service-exception
retries, nested state machines (StepFunctionsStartExecution request-response and RUN_JOB, the
issue-9 bug of moto's interpreter), an Express machine behind ``StepFunctionsRestApi`` (API Gateway's
StartSyncExecution integration through the front door), and a deploy that fails naming what the
local cloud cannot run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from patterns.local import LocalCloud
from patterns.local.errors import LocalCloudError

from .conftest import python_function, synth, write_handler

PRICE = """
def handler(event, context):
    event = event.get("body", event)  # StepFunctionsRestApi's execution input wraps the request body
    if event.get("quantity", 0) <= 0:
        raise ValueError("quantity must be positive")
    return {"order": event["order"], "total": event["quantity"] * 3}
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sfn-cdk")
    price_code = write_handler(root / "price", {"app.py": PRICE})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_apigateway as apigateway
        from aws_cdk import aws_stepfunctions as sfn
        from aws_cdk import aws_stepfunctions_tasks as tasks

        stack = cdk.Stack(app, "FlowsStack")
        price = python_function(stack, "Price", price_code)
        priced = tasks.LambdaInvoke(
            stack, "PriceOrder", lambda_function=price, payload_response_only=True, result_path="$.priced"
        )
        child = sfn.StateMachine(
            stack,
            "Child",
            definition_body=sfn.DefinitionBody.from_chainable(
                sfn.Wait(stack, "Settle", time=sfn.WaitTime.duration(cdk.Duration.minutes(2))).next(priced)
            ),
            timeout=cdk.Duration.minutes(10),
        )
        run_job = tasks.StepFunctionsStartExecution(
            stack,
            "RunChild",
            state_machine=child,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_object({"order.$": "$.order", "quantity.$": "$.quantity"}),
            associate_with_parent=True,
            result_selector={"total.$": "$.Output.priced.total"},
            result_path="$.child",
        )
        fire = tasks.StepFunctionsStartExecution(
            stack, "StartChild", state_machine=child, result_path=sfn.JsonPath.DISCARD
        )
        parent = sfn.StateMachine(
            stack,
            "Parent",
            definition_body=sfn.DefinitionBody.from_chainable(fire.next(run_job)),
            timeout=cdk.Duration.minutes(30),
        )
        quote = tasks.LambdaInvoke(stack, "Quote", lambda_function=price, payload_response_only=True)
        express = sfn.StateMachine(
            stack,
            "Quotes",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_chainable(quote),
            timeout=cdk.Duration.minutes(1),
        )
        api = apigateway.StepFunctionsRestApi(stack, "QuotesApi", state_machine=express, cloud_watch_role=False)
        cdk.CfnOutput(stack, "ParentArn", value=parent.state_machine_arn)
        cdk.CfnOutput(stack, "ChildArn", value=child.state_machine_arn)
        cdk.CfnOutput(stack, "ApiId", value=api.rest_api_id)

        broken = cdk.Stack(app, "DistributedStack")
        sfn.StateMachine(
            broken,
            "Big",
            definition_body=sfn.DefinitionBody.from_chainable(
                sfn.DistributedMap(broken, "Fan").item_processor(sfn.Pass(broken, "Each"))
            ),
        )

    return synth(root / "cdk.out", build)


@pytest.fixture(scope="module")
def cloud() -> Any:
    with LocalCloud() as local:
        yield local


def test_nested_state_machines_run_job_waits_for_the_child_and_returns_its_output(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a parent that starts the child fire-and-forget, then runs it as a job (.sync:2)
    stack = cloud.deploy(assembly, "FlowsStack")
    sfn = cloud.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=stack.outputs["ParentArn"])["definition"])
    assert definition["States"]["RunChild"]["Resource"].endswith(":states:startExecution.sync:2")

    # WHEN the parent runs
    execution = sfn.start_execution(
        stateMachineArn=stack.outputs["ParentArn"], input=json.dumps({"order": "o-1", "quantity": 4})
    )["executionArn"]
    cloud.drain(timeout=30)

    # THEN it got the child's total, after the child's two-minute wait; both children ran
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["child"] == {"total": 12}
    assert (described["stopDate"] - described["startDate"]).total_seconds() >= 120
    children = sfn.list_executions(stateMachineArn=stack.outputs["ChildArn"])["executions"]
    assert [c["status"] for c in children] == ["SUCCEEDED", "SUCCEEDED"]
    inputs = [json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"]) for c in children]
    started_by = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
    assert all({k: v for k, v in i.items() if k != started_by} == {"order": "o-1", "quantity": 4} for i in inputs)
    assert [i.get(started_by) for i in inputs].count(execution) == 1


def test_cdk_lambda_invoke_retries_lambda_service_errors_by_default(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN the synthesized LambdaInvoke task of the child
    stack = cloud.deploy(assembly, "FlowsStack")
    sfn = cloud.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=stack.outputs["ChildArn"])["definition"])

    # THEN CDK's default Retry on Lambda's transient errors is what the engine runs
    (retry,) = definition["States"]["PriceOrder"]["Retry"]
    assert "Lambda.ServiceException" in retry["ErrorEquals"] and retry["BackoffRate"] == 2

    # AND a function error (not in that list) fails the child at once, with the Lambda error recorded
    execution = sfn.start_execution(stateMachineArn=stack.outputs["ChildArn"], input=json.dumps({"order": "x"}))
    cloud.drain(timeout=30)
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "ValueError")
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert [e["type"] for e in history].count("LambdaFunctionScheduled") == 1


def test_express_machine_behind_rest_api_answers_synchronously_through_the_front_door(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN StepFunctionsRestApi (StartSyncExecution integration) in front of an Express machine
    stack = cloud.deploy(assembly, "FlowsStack")
    url = cloud.api_url(stack.outputs["ApiId"], "prod")

    # WHEN a client posts an order, and one the function refuses
    ok = requests.post(url, json={"order": "o-7", "quantity": 2}, timeout=30)
    refused = requests.post(url, json={"order": "o-8", "quantity": 0}, timeout=30)

    # THEN the response is the execution's output; a failed execution is a 500 naming the error
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"order": "o-7", "total": 6}
    assert refused.status_code == 500
    assert "ValueError" in refused.text


def test_a_distributed_map_fails_the_deploy_naming_the_state_and_feature(cloud: LocalCloud, assembly: Path) -> None:
    with pytest.raises(LocalCloudError) as failed:
        cloud.deploy(assembly, "DistributedStack")

    message = str(failed.value)
    # CloudFormation names an unnamed state machine <LogicalId>-<suffix>: the logical id is in the message
    assert re.search(r"AWS::StepFunctions::StateMachine Big[0-9A-F]{8}-", message), message
    assert "state 'Fan'" in message and "DISTRIBUTED" in message
