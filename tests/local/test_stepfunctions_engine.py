"""The local cloud's Step Functions engine: states, Retry/Catch, timeouts and integrations on its clock.

State machines are created through the API from raw ASL (no synth), against functions, a table,
a queue, a topic and an event bus rule created once per module. Every wait is virtual: the tests
assert the *virtual* durations (history timestamps, start/stop dates) and that the real time stays
small.
"""

from __future__ import annotations

import io
import itertools
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages

FUNCTIONS = {
    "Flaky": """
class TransientError(Exception):
    pass


def handler(event, context):
    if event.get("attempt", 0) < event.get("fail_times", 0):
        raise TransientError(f"attempt {event.get('attempt')}")
    return {"ok": True, "attempt": event.get("attempt", 0), "input": event.get("input")}
""",
    "Echo": """
def handler(event, context):
    return event
""",
}
_names = itertools.count()


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


class Env:
    def __init__(self, cloud: LocalCloud, arns: dict[str, str]) -> None:
        self.cloud = cloud
        self.arns = arns
        self.sfn = cloud.client("stepfunctions")
        self.role = "arn:aws:iam::123456789012:role/states"

    def machine(self, definition: dict[str, Any], **kwargs: Any) -> str:
        name = f"m{next(_names)}"
        return str(
            self.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=self.role, **kwargs)[
                "stateMachineArn"
            ]
        )

    def run(self, definition: dict[str, Any], given: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Start an execution, drain, and return DescribeExecution plus its history's events."""
        arn = self.machine(definition, **kwargs)
        execution = self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(given or {}))["executionArn"]
        self.cloud.drain(timeout=30)
        described = self.sfn.describe_execution(executionArn=execution)
        described["events"] = self.sfn.get_execution_history(executionArn=execution)["events"]
        return described


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with LocalCloud(front_door=False) as cloud:
        role = cloud.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lambda_client = cloud.client("lambda")
        arns = {
            name: lambda_client.create_function(
                FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": _zip(src)}
            )["FunctionArn"]
            for name, src in FUNCTIONS.items()
        }
        cloud.client("dynamodb").create_table(
            TableName="Items",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = cloud.client("sqs")
        arns["QueueUrl"] = sqs.create_queue(QueueName="out")["QueueUrl"]
        arns["Queue"] = sqs.get_queue_attributes(QueueUrl=arns["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        arns["EventsUrl"] = sqs.create_queue(QueueName="events-out")["QueueUrl"]
        events_queue = sqs.get_queue_attributes(QueueUrl=arns["EventsUrl"], AttributeNames=["QueueArn"])
        events = cloud.client("events")
        events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["orders"]}))
        events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": events_queue["Attributes"]["QueueArn"]}])
        sns = cloud.client("sns")
        arns["Topic"] = sns.create_topic(Name="notices")["TopicArn"]
        sns.subscribe(TopicArn=arns["Topic"], Protocol="sqs", Endpoint=arns["Queue"])
        yield Env(cloud, arns)


def _types(described: dict[str, Any]) -> list[str]:
    return [event["type"] for event in described["events"]]


def _at(event: dict[str, Any]) -> float:
    return float(event["timestamp"].timestamp())


def _task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, **fields}


# -- time ---------------------------------------------------------------------------------------------


def test_wait_states_wait_virtual_time_seconds_path_and_timestamp(env: Env) -> None:
    # GIVEN Wait states of an hour (Seconds), 30 min (SecondsPath) and until a timestamp 2 h after the start
    until = env.cloud.core.engine.clock() + 3 * 3600
    definition = {
        "StartAt": "Hour",
        "States": {
            "Hour": {"Type": "Wait", "Seconds": 3600, "Next": "FromInput"},
            "FromInput": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Until"},
            "Until": {"Type": "Wait", "TimestampPath": "$.until", "End": True},
        },
    }
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
    started = time.monotonic()

    # WHEN it runs
    described = env.run(definition, {"delay": 1800, "until": iso})

    # THEN each wait took its virtual time, the whole run ended at the timestamp, in well under a real second
    assert described["status"] == "SUCCEEDED"
    entered = {
        e["stateEnteredEventDetails"]["name"]: _at(e) for e in described["events"] if "stateEnteredEventDetails" in e
    }
    assert entered["FromInput"] - entered["Hour"] == pytest.approx(3600, abs=1)
    assert entered["Until"] - entered["FromInput"] == pytest.approx(1800, abs=1)
    assert described["stopDate"].timestamp() == pytest.approx(int(until), abs=1.5)
    assert time.monotonic() - started < 5


def test_retry_backoff_is_interval_times_rate_capped_by_max_delay_and_counted_in_history(env: Env) -> None:
    # GIVEN a Lambda task failing its first three attempts, retried with 10 s x 3^n capped at 60 s
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": _task(
                "arn:aws:states:::lambda:invoke",
                Parameters={
                    "FunctionName": env.arns["Flaky"],
                    "Payload": {"attempt.$": "$$.State.RetryCount", "fail_times": 3, "input.$": "$"},
                },
                OutputPath="$.Payload",
                Retry=[
                    {"ErrorEquals": ["TransientError"], "IntervalSeconds": 10, "BackoffRate": 3, "MaxDelaySeconds": 60}
                ],
                End=True,
            )
        },
    }

    # WHEN it runs
    described = env.run(definition, {"order": 1})

    # THEN the fourth attempt succeeded after waiting 10, 30 and 60 (not 90) virtual seconds
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"ok": True, "attempt": 3, "input": {"order": 1}}
    scheduled = [_at(e) for e in described["events"] if e["type"] == "TaskScheduled"]
    failed = [_at(e) for e in described["events"] if e["type"] == "TaskFailed"]
    assert len(scheduled) == 4 and len(failed) == 3
    gaps = [scheduled[i + 1] - failed[i] for i in range(3)]
    assert gaps == [pytest.approx(10, abs=0.5), pytest.approx(30, abs=0.5), pytest.approx(60, abs=0.5)]
    errors = [e["taskFailedEventDetails"]["error"] for e in described["events"] if e["type"] == "TaskFailed"]
    assert errors == ["TransientError"] * 3


def test_full_jitter_waits_at_most_the_computed_delay(env: Env) -> None:
    # GIVEN retries with a 100 s interval and full jitter
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": _task(
                env.arns["Flaky"],
                Parameters={"attempt.$": "$$.State.RetryCount", "fail_times": 2},
                Retry=[
                    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100, "BackoffRate": 1, "JitterStrategy": "FULL"}
                ],
                End=True,
            )
        },
    }

    # WHEN it runs
    described = env.run(definition)

    # THEN every back-off was between 0 and 100 virtual seconds (and the plain-ARN form records Lambda events)
    assert described["status"] == "SUCCEEDED"
    scheduled = [_at(e) for e in described["events"] if e["type"] == "LambdaFunctionScheduled"]
    failed = [_at(e) for e in described["events"] if e["type"] == "LambdaFunctionFailed"]
    assert len(scheduled) == 3
    assert all(0 <= scheduled[i + 1] - failed[i] <= 100.5 for i in range(2))


def test_retries_exhausted_go_to_the_catch_with_the_error_recorded(env: Env) -> None:
    # GIVEN a task that always fails, two retries, a Catch on States.TaskFailed keeping the input
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": _task(
                env.arns["Flaky"],
                Parameters={"attempt": 0, "fail_times": 1},
                Retry=[{"ErrorEquals": ["TransientError"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Compensate"}],
                Next="Done",
            ),
            "Done": {"Type": "Succeed"},
            "Compensate": {"Type": "Pass", "Result": "compensated", "ResultPath": "$.outcome", "End": True},
        },
    }

    # WHEN it runs
    described = env.run(definition, {"order": 7})

    # THEN three attempts ran, then the catch branch with the error and the original input
    output = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED"
    assert output["order"] == 7 and output["outcome"] == "compensated"
    assert output["failure"]["Error"] == "TransientError"
    assert json.loads(output["failure"]["Cause"])["errorMessage"] == "attempt 0"
    assert _types(described).count("LambdaFunctionFailed") == 3
    assert "Done" not in json.dumps(described["events"], default=str)


def test_task_timeout_is_virtual_and_caught_as_states_timeout_not_task_failed(env: Env) -> None:
    # GIVEN a child state machine waiting 10 minutes and a parent waiting for it (.sync) for at most 60 s
    child = env.machine({"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 600, "End": True}}})
    definition = {
        "StartAt": "Child",
        "States": {
            "Child": _task(
                "arn:aws:states:::states:startExecution.sync:2",
                Parameters={"StateMachineArn": child, "Input": {}},
                TimeoutSeconds=60,
                Catch=[
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                    {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"},
                ],
                End=True,
            ),
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "TimedOut": {"Type": "Pass", "End": True},
        },
    }

    # WHEN it runs
    described = env.run(definition)

    # THEN the task timed out after 60 virtual seconds and was caught by the States.Timeout catcher
    assert described["status"] == "SUCCEEDED"
    events = described["events"]
    (timed_out,) = [e for e in events if e["type"] == "TaskTimedOut"]
    (scheduled,) = [e for e in events if e["type"] == "TaskScheduled"]
    assert _at(timed_out) - _at(scheduled) == pytest.approx(60, abs=0.5)
    assert "TimedOut" in [e.get("stateEnteredEventDetails", {}).get("name") for e in events], _types(described)


def test_execution_timeout_ends_the_execution_timed_out(env: Env) -> None:
    definition = {"TimeoutSeconds": 30, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}}

    described = env.run(definition)

    assert described["status"] == "TIMED_OUT"
    assert (described["stopDate"] - described["startDate"]).total_seconds() == pytest.approx(30, abs=0.5)
    assert _types(described)[-1] == "ExecutionTimedOut"


def test_stop_execution_aborts_a_waiting_execution(env: Env) -> None:
    arn = env.machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
    execution = env.sfn.start_execution(stateMachineArn=arn)["executionArn"]

    env.sfn.stop_execution(executionArn=execution, error="Manual", cause="operator")
    env.cloud.drain(timeout=10)

    described = env.sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED" and described["error"] == "Manual"
    assert (
        env.sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"][0]["executionArn"]
        == execution
    )


# -- states -------------------------------------------------------------------------------------------


def test_choice_parallel_map_and_input_output_processing(env: Env) -> None:
    # GIVEN a Choice on the order size, a Parallel of two Lambda calls and a Map over the items
    definition = {
        "StartAt": "Size",
        "States": {
            "Size": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.items", "IsPresent": True},
                            {"Variable": "$.total", "NumericGreaterThanEquals": 100},
                        ],
                        "Next": "Big",
                    }
                ],
                "Default": "Small",
            },
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Both"},
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Both"},
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {
                            "A": _task(env.arns["Echo"], Parameters={"branch": "a", "size.$": "$.size"}, End=True)
                        },
                    },
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"branch": "b"}, "End": True}}},
                ],
                "ResultSelector": {"first.$": "$[0].branch", "second.$": "$[1].branch"},
                "ResultPath": "$.branches",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"sku.$": "$$.Map.Item.Value.sku", "index.$": "$$.Map.Item.Index", "size.$": "$.size"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Line",
                    "States": {"Line": _task(env.arns["Echo"], End=True)},
                },
                "ResultPath": "$.lines",
                "End": True,
            },
        },
    }
    items = [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]

    # WHEN a big and a small order run
    big = json.loads(env.run(definition, {"total": 150, "items": items})["output"])
    small = env.run(definition, {"total": 5, "items": items[:1]})

    # THEN each took its branch; Parallel and Map results are in order
    assert big["size"] == "big" and big["branches"] == {"first": "a", "second": "b"}
    assert big["lines"] == [{"sku": s, "index": i, "size": "big"} for i, s in enumerate("abc")]
    assert json.loads(small["output"])["size"] == "small"
    assert _types(small).count("MapStateStarted") == 1 and "ParallelStateSucceeded" in _types(small)


def test_no_matching_choice_and_fail_states_fail_the_execution(env: Env) -> None:
    choice = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "S"}]},
            "S": {"Type": "Succeed"},
        },
    }
    fail = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.code", "CausePath": "$.why"}}}

    unmatched = env.run(choice, {"b": 1})
    failed = env.run(fail, {"code": "OutOfStock", "why": "sku a"})

    assert (unmatched["status"], unmatched["error"]) == ("FAILED", "States.NoChoiceMatched")
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "OutOfStock", "sku a")


def test_a_failing_map_iteration_fails_the_map_and_the_catch_sees_its_error(env: Env) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Call",
                    "States": {
                        "Call": _task(env.arns["Flaky"], Parameters={"attempt": 0, "fail_times.$": "$"}, End=True)
                    },
                },
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }

    described = env.run(definition, [0, 1, 0])

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Error"] == "TransientError"
    assert "MapStateFailed" in _types(described)


# -- integrations -------------------------------------------------------------------------------------


def test_dynamodb_sqs_sns_and_eventbridge_integrations(env: Env) -> None:
    # GIVEN put/update/get/delete on a table, then a message, a notification and an event
    key = {"pk": {"S.$": "$.id"}}
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": _task(
                "arn:aws:states:::dynamodb:putItem",
                Parameters={"TableName": "Items", "Item": {"pk": {"S.$": "$.id"}, "n": {"N": "1"}}},
                ResultPath=None,
                Next="Update",
            ),
            "Update": _task(
                "arn:aws:states:::dynamodb:updateItem",
                Parameters={
                    "TableName": "Items",
                    "Key": key,
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                },
                ResultPath=None,
                Next="Get",
            ),
            "Get": _task(
                "arn:aws:states:::dynamodb:getItem",
                Parameters={"TableName": "Items", "Key": key},
                ResultSelector={"n.$": "$.Item.n.N"},
                ResultPath="$.stored",
                Next="Delete",
            ),
            "Delete": _task(
                "arn:aws:states:::dynamodb:deleteItem",
                Parameters={"TableName": "Items", "Key": key},
                ResultPath=None,
                Next="Send",
            ),
            "Send": _task(
                "arn:aws:states:::sqs:sendMessage",
                Parameters={"QueueUrl": env.arns["QueueUrl"], "MessageBody": {"id.$": "$.id", "via": "sqs"}},
                ResultSelector={"id.$": "$.MessageId"},
                ResultPath="$.message",
                Next="Notify",
            ),
            "Notify": _task(
                "arn:aws:states:::sns:publish",
                Parameters={"TopicArn": env.arns["Topic"], "Message": {"id.$": "$.id", "via": "sns"}},
                ResultPath=None,
                Next="Emit",
            ),
            "Emit": _task(
                "arn:aws:states:::events:putEvents",
                Parameters={"Entries": [{"Source": "orders", "DetailType": "Done", "Detail": {"id.$": "$.id"}}]},
                ResultPath="$.emitted",
                End=True,
            ),
        },
    }

    # WHEN it runs
    described = env.run(definition, {"id": "o-9"})

    # THEN every call reached its service with JSON bodies serialized as the optimized integrations do
    output = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED", described
    assert output["stored"] == {"n": "2"}
    assert "Item" not in env.cloud.client("dynamodb").get_item(TableName="Items", Key={"pk": {"S": "o-9"}})
    bodies = [json.loads(m["Body"]) for m in messages(env.cloud, env.arns["QueueUrl"])]
    assert {"id": "o-9", "via": "sqs"} in bodies
    assert {"id": "o-9", "via": "sns"} in [json.loads(b["Message"]) for b in bodies if "Message" in b]
    assert output["emitted"]["FailedEntryCount"] == 0
    (event,) = [json.loads(m["Body"]) for m in messages(env.cloud, env.arns["EventsUrl"])]
    assert event["detail"] == {"id": "o-9"} and event["detail-type"] == "Done"
    resources = [
        e["taskScheduledEventDetails"]["resource"] for e in described["events"] if e["type"] == "TaskScheduled"
    ]
    assert resources == ["putItem", "updateItem", "getItem", "deleteItem", "sendMessage", "publish", "putEvents"]


def test_service_errors_are_named_like_step_functions_and_catchable(env: Env) -> None:
    # GIVEN a conditional put that fails, an SDK-integration call to a missing table
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": _task(
                "arn:aws:states:::dynamodb:putItem",
                Parameters={
                    "TableName": "Items",
                    "Item": {"pk": {"S": "dup"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                },
                Catch=[
                    {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "ResultPath": "$.dup", "Next": "Sdk"}
                ],
                ResultPath=None,
                Next="Sdk",
            ),
            "Sdk": _task(
                "arn:aws:states:::aws-sdk:dynamodb:getItem",
                Parameters={"TableName": "Missing", "Key": {"pk": {"S": "x"}}},
                End=True,
            ),
        },
    }
    env.cloud.client("dynamodb").put_item(TableName="Items", Item={"pk": {"S": "dup"}})

    described = env.run(definition)

    assert described["status"] == "FAILED"
    assert described["error"] == "DynamoDb.ResourceNotFoundException"
    caught = next(e for e in described["events"] if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert caught["error"] == "DynamoDB.ConditionalCheckFailedException"


def test_nested_state_machines_fire_and_forget_sync_and_sync2(env: Env) -> None:
    # GIVEN a child that doubles a number after a 5 min wait, and a parent starting it three ways
    child = env.machine(
        {
            "StartAt": "Later",
            "States": {
                "Later": {"Type": "Wait", "Seconds": 300, "Next": "Double"},
                "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "End": True},
            },
        }
    )
    start = "arn:aws:states:::states:startExecution"
    params = {
        "StateMachineArn": child,
        "Input": {"n.$": "$.n", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
    }
    definition = {
        "StartAt": "Forget",
        "States": {
            "Forget": _task(start, Parameters=params, ResultPath="$.forgot", Next="Sync"),
            "Sync": _task(
                start + ".sync",
                Parameters=params,
                ResultSelector={"out.$": "$.Output"},
                ResultPath="$.sync",
                Next="Sync2",
            ),
            "Sync2": _task(
                start + ".sync:2",
                Parameters=params,
                ResultSelector={"out.$": "$.Output"},
                ResultPath="$.sync2",
                End=True,
            ),
        },
    }

    # WHEN the parent runs
    described = env.run(definition, {"n": 21})

    # THEN .sync returned the child's output as a string, .sync:2 as JSON, after the child's wait
    output = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED", described
    assert output["forgot"]["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:"))
    assert output["sync"] == {"out": '{"n":42}'} and output["sync2"] == {"out": {"n": 42}}
    children = env.sfn.list_executions(stateMachineArn=child)["executions"]
    assert len(children) == 3 and {c["status"] for c in children} == {"SUCCEEDED"}
    assert (described["stopDate"] - described["startDate"]).total_seconds() >= 600


def test_a_failed_child_fails_the_sync_task_with_states_task_failed(env: Env) -> None:
    child = env.machine({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ChildBroke", "Cause": "no"}}})
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": _task("arn:aws:states:::states:startExecution.sync", Parameters={"StateMachineArn": child}, End=True)
        },
    }

    described = env.run(definition)

    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed")
    assert json.loads(described["cause"])["Error"] == "ChildBroke"


def test_wait_for_task_token_resumes_on_send_task_success_and_times_out_without_heartbeat(env: Env) -> None:
    # GIVEN a task sending its token to a queue, with a 60 s heartbeat
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": _task(
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                Parameters={
                    "QueueUrl": env.arns["QueueUrl"],
                    "MessageBody": {"token.$": "$$.Task.Token", "kind": "approval"},
                },
                HeartbeatSeconds=60,
                End=True,
            )
        },
    }
    arn = env.machine(definition)
    answered = env.sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 10
    tokens: list[str] = []
    while not tokens and time.monotonic() < deadline:
        sqs = env.cloud.client("sqs")
        for message in sqs.receive_message(QueueUrl=env.arns["QueueUrl"], MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("kind") == "approval":
                tokens.append(body["token"])
            sqs.delete_message(QueueUrl=env.arns["QueueUrl"], ReceiptHandle=message["ReceiptHandle"])

    # WHEN the token is answered, and a second execution gets no answer
    env.sfn.send_task_heartbeat(taskToken=tokens[0])
    env.sfn.send_task_success(taskToken=tokens[0], output=json.dumps({"approved": True}))
    silent = env.sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    env.cloud.drain(timeout=20)

    # THEN the first resumed with the answer; the second timed out on its heartbeat
    assert json.loads(env.sfn.describe_execution(executionArn=answered)["output"]) == {"approved": True}
    timed_out = env.sfn.describe_execution(executionArn=silent)
    assert (timed_out["status"], timed_out["error"]) == ("FAILED", "States.HeartbeatTimeout")


# -- express ------------------------------------------------------------------------------------------


def test_express_start_sync_execution_returns_the_result_and_logs_to_the_log_group(env: Env) -> None:
    # GIVEN an express machine with a Wait and a Lambda task, logging ALL without execution data
    env.cloud.client("logs").create_log_group(logGroupName="/sfn/express")
    definition = {
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "Seconds": 120, "Next": "Call"},
            "Call": _task(env.arns["Echo"], Parameters={"echo.$": "$.order"}, End=True),
        },
    }
    logging = {
        "level": "ALL",
        "includeExecutionData": False,
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/sfn/express:*"}}
        ],
    }
    arn = env.machine(definition, type="EXPRESS", loggingConfiguration=logging)

    # WHEN it is started synchronously
    result = env.sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"order": "o-1"}))

    # THEN the response carries the output; history went to the log group, without the data
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"echo": "o-1"}
    assert (result["stopDate"] - result["startDate"]).total_seconds() >= 120
    logs = env.cloud.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/sfn/express")["logStreams"]
    lines = [
        json.loads(e["message"])
        for e in logs.get_log_events(logGroupName="/sfn/express", logStreamName=stream["logStreamName"])["events"]
    ]
    assert lines[0]["type"] == "ExecutionStarted" and lines[-1]["type"] == "ExecutionSucceeded"
    assert "o-1" not in json.dumps(lines)
    # AND express executions have no history API, as on AWS; standard machines refuse StartSyncExecution
    with pytest.raises(env.sfn.exceptions.InvalidArn):
        env.sfn.describe_execution(executionArn=result["executionArn"])
    standard = env.machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(env.sfn.exceptions.ClientError):
        env.sfn.start_sync_execution(stateMachineArn=standard)


def test_execution_names_are_idempotent_while_running_and_unique_after(env: Env) -> None:
    arn = env.machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}})
    first = env.sfn.start_execution(stateMachineArn=arn, name="order-1", input="{}")["executionArn"]
    again = env.sfn.start_execution(stateMachineArn=arn, name="order-1", input="{}")["executionArn"]
    env.cloud.drain(timeout=10)

    assert first == again
    with pytest.raises(env.sfn.exceptions.ExecutionAlreadyExists):
        env.sfn.start_execution(stateMachineArn=arn, name="order-1", input="{}")


def test_unsupported_definitions_are_refused_at_create(env: Env) -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": _task("arn:aws:states:us-east-1:123456789012:activity:approve", End=True)},
    }

    with pytest.raises(env.sfn.exceptions.ClientError) as refused:
        env.machine(definition)

    assert "state 'A'" in str(refused.value) and "activities" in str(refused.value)
