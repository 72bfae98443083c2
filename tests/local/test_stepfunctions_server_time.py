"""A cloud that is not draining (a running server, LocalCloud(background=True)) shortens waits to
Settings.time_cap of real time so demos stay quick — but never a timeout: an execution with
TimeoutSeconds=30 must not end TIMED_OUT after one real second while its waits are still running."""

from __future__ import annotations

import json
import time

from patterns.local import LocalCloud

DEFINITION = {
    "StartAt": "First",
    "TimeoutSeconds": 30,
    "States": {
        "First": {"Type": "Wait", "Seconds": 5, "Next": "Second"},
        "Second": {"Type": "Wait", "Seconds": 5, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
TEMPLATE = {
    "Resources": {
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": json.dumps(DEFINITION),
                "RoleArn": "arn:aws:iam::123456789012:role/states",
            },
        }
    },
    "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
}


def test_a_background_cloud_shortens_waits_but_not_the_execution_timeout() -> None:
    with LocalCloud(background=True) as cloud:
        stack = cloud.deploy_template(TEMPLATE, "ServerTime")
        sfn = cloud.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=stack.outputs["Arn"], input="{}")["executionArn"]
        deadline = time.monotonic() + 20
        status = "RUNNING"
        while status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = sfn.describe_execution(executionArn=arn)["status"]
        # two waits of at most time_cap each: done in seconds, and not cut short by a capped timeout
        assert status == "SUCCEEDED"
