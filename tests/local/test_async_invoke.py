"""Asynchronous invocations: retries, on-success / on-failure destinations, the function's DLQ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

WORKER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError(f"job {event['job']} failed")
    return {"done": event["job"]}
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("async")
    code = write_handler(root / "worker", {"app.py": WORKER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_lambda_destinations as destinations
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "AsyncStack")
        succeeded, failed, dead = (sqs.Queue(stack, n) for n in ("Succeeded", "Failed", "Dead"))
        python_function(
            stack,
            "Worker",
            code,
            retry_attempts=1,
            on_success=destinations.SqsDestination(succeeded),
            on_failure=destinations.SqsDestination(failed),
            dead_letter_queue=dead,
        )
        for name, queue in {"Succeeded": succeeded, "Failed": failed, "Dead": dead}.items():
            cdk.CfnOutput(stack, f"{name}Url", value=queue.queue_url)

    return synth(root / "cdk.out", build)


def test_async_invoke_retries_then_delivers_destination_records(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function with 1 retry, success and failure destinations and a dead-letter queue
    stack = cloud.deploy(assembly, "AsyncStack")
    name = stack.resource_by_path("Worker").physical_id
    lambda_client = cloud.client("lambda")

    # WHEN one good and one failing event are invoked asynchronously
    for event in ({"job": 1}, {"job": 2, "fail": True}):
        response = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
        assert response["StatusCode"] == 202
    assert cloud.invocations(name) == [], "nothing runs before the cloud is drained"
    cloud.drain(timeout=20)

    # THEN the failing event ran twice (1 + 1 retry), the good one once
    assert sorted(i.event["job"] for i in cloud.invocations(name)) == [1, 2, 2]
    # AND the success destination got the AWS record with the response
    (success,) = (json.loads(m["Body"]) for m in messages(cloud, stack.outputs["SucceededUrl"]))
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["functionArn"].endswith(f"function:{name}:$LATEST")
    assert success["requestPayload"] == {"job": 1}
    assert success["responsePayload"] == {"done": 1}
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    # AND the failure destination got the error after the retries were exhausted
    (failure,) = (json.loads(m["Body"]) for m in messages(cloud, stack.outputs["FailedUrl"]))
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorMessage"] == "job 2 failed"
    # AND the function's dead-letter queue got the original event with the error attributes
    (dead,) = messages(cloud, stack.outputs["DeadUrl"])
    assert json.loads(dead["Body"]) == {"job": 2, "fail": True}
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "job 2 failed"
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == failure["requestContext"]["requestId"]
