"""Asynchronous invocations: retries, on-success / on-failure destinations, the function's DLQ."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

WORKER = """
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
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
        python_function(stack, "Retried", code)  # Lambda's defaults: 2 retries, no destinations
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


def test_a_retry_waits_its_back_off_and_runs_after_the_work_queued_before_it(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function with 1 retry, and three asynchronous events: one that fails at once, two slow ones
    stack = cloud.deploy(assembly, "AsyncStack")
    name = stack.resource_by_path("Worker").physical_id
    lambda_client = cloud.client("lambda")
    for event in ({"job": 1, "fail": True}, {"job": 2, "sleep": 0.3}, {"job": 3, "sleep": 0.3}):
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))

    # WHEN drained
    cloud.drain(timeout=20)

    # THEN the retry started after its first attempt ended and after the slow events (queued before it) ended
    calls = cloud.invocations(name)
    first, retry = (i for i in calls if i.event["job"] == 1)
    others = [i for i in calls if i.event["job"] != 1]
    assert len(others) == 2
    assert retry.started_at >= first.ended_at
    assert retry.started_at >= max(i.ended_at for i in others)
    # AND Lambda's one-minute back-off passed on the virtual clock, not the wall clock
    assert 60 <= retry.virtual_started_at - first.virtual_ended_at < 61
    assert retry.started_at - first.ended_at < 2


def test_retries_of_one_event_are_a_minute_then_two_minutes_apart_on_the_virtual_clock(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a function with Lambda's default two retries
    name = cloud.deploy(assembly, "AsyncStack").resource_by_path("Retried").physical_id
    cloud.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"job": 1, "fail": True})
    )

    # WHEN drained
    started = time.monotonic()
    cloud.drain(timeout=20)

    # THEN it ran three times, each attempt after the one before ended, 60 s then 120 s of virtual time apart
    calls = cloud.invocations(name)
    assert len(calls) == 3
    gaps = [b.virtual_started_at - a.virtual_ended_at for a, b in itertools.pairwise(calls)]
    assert 60 <= gaps[0] < 61 and 120 <= gaps[1] < 121
    assert time.monotonic() - started < 5


def test_the_request_id_of_an_event_invoke_is_the_one_of_the_async_invocation(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a function with success and failure destinations
    stack = cloud.deploy(assembly, "AsyncStack")
    name = stack.resource_by_path("Worker").physical_id
    lambda_client = cloud.client("lambda")

    # WHEN a good and a failing event are invoked asynchronously
    ids = {}
    for job, event in ((1, {"job": 1}), (2, {"job": 2, "fail": True})):
        response = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
        ids[job] = response["ResponseMetadata"]["RequestId"]
        assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == ids[job]
    cloud.drain(timeout=20)

    # THEN that id is the request id of every attempt in the journal and of the destination records
    assert {i.request_id: i.event["job"] for i in cloud.invocations(name)} == {ids[1]: 1, ids[2]: 2}
    (success,) = (json.loads(m["Body"]) for m in messages(cloud, stack.outputs["SucceededUrl"]))
    (failure,) = (json.loads(m["Body"]) for m in messages(cloud, stack.outputs["FailedUrl"]))
    assert success["requestContext"]["requestId"] == ids[1]
    assert failure["requestContext"]["requestId"] == ids[2]
