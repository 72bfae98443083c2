"""Execution environments are processes: isolation, warm reuse, limits, exits, the virtual clock, layers.

Each test here fails on a design that runs handlers as threads of one interpreter: Powertools keeps
the current event on a class, a thread cannot be killed at its timeout, ``os._exit`` ends the whole
cloud, and ``time.time()`` inside a thread cannot follow drain()'s fast-forward.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from patterns.local import FunctionError, LocalCloud

from .conftest import inline_function, python_function, synth, write_handler

REST_HANDLER = """
import json
import os
import time

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()


@app.post("/items")
def create():
    body = app.current_event.json_body
    # Both invocations are inside the handler before either reads the event again.
    open(os.path.join(body["barrier"], body["me"]), "w").close()
    other = os.path.join(body["barrier"], body["other"])
    deadline = time.monotonic() + 10
    while not os.path.exists(other) and time.monotonic() < deadline:
        time.sleep(0.005)
    return {"me": app.current_event.json_body["me"], "pid": os.getpid()}


def handler(event, context):
    return app.resolve(event, context)
"""

STATE_HANDLER = """
import ctypes
import os
import time

CALLS = 0


def handler(event, context):
    global CALLS
    CALLS += 1
    if event.get("exit") is not None:
        os._exit(event["exit"])
    if event.get("segfault"):
        ctypes.string_at(0)
    barrier = event.get("barrier")
    if barrier:
        open(os.path.join(barrier, event["me"]), "w").close()
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(barrier, event["other"])) and time.monotonic() < deadline:
            time.sleep(0.005)
    time.sleep(event.get("sleep", 0))
    keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "AWS_ENDPOINT_URL", "TZ"]
    before = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    return {"calls": CALLS, "pid": os.getpid(), "cwd": os.getcwd(), "env": {k: os.environ.get(k) for k in keys},
            "remaining": [before, context.get_remaining_time_in_millis()]}
"""

SLOW_FIRST_TIME = """
import time


def handler(event, context):
    for record in event["Records"]:
        if record["attributes"]["ApproximateReceiveCount"] == "1":
            time.sleep(30)
    return {"done": [r["body"] for r in event["Records"]]}
"""

CLOCK_HANDLER = """
import datetime
import json
import time


def handler(event, context):
    seen = {"time": time.time(), "time_ns": time.time_ns(), "now": datetime.datetime.now().timestamp(),
            "utcnow": datetime.datetime.utcnow().replace(tzinfo=datetime.timezone.utc).timestamp()}
    if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
        raise RuntimeError(json.dumps(seen))
    return seen
"""

LAYERED_MODULE = """
import helper


def handler(event, context):
    return {"helper": helper.VALUE, "module": __file__}
"""

JSON_LOGGING = """
import logging

logging.getLogger().setLevel(logging.INFO)


def handler(event, context):
    logging.getLogger("orders").info("placed %s", event["n"])
    return event["n"]
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("environments")
    rest = write_handler(root / "rest", {"app.py": REST_HANDLER})
    state = write_handler(root / "state", {"app.py": STATE_HANDLER})
    slow = write_handler(root / "slow", {"app.py": SLOW_FIRST_TIME})
    clock = write_handler(root / "clock", {"app.py": CLOCK_HANDLER})
    logging_code = write_handler(root / "logging", {"app.py": JSON_LOGGING})
    layer_dir = write_handler(
        root / "layer",
        {
            "python/layered.py": LAYERED_MODULE,
            "python/lib/python3.13/site-packages/helper.py": "VALUE = 'from layer'\n",
        },
    )
    bare = write_handler(root / "bare", {"README.txt": "the handler module is in the layer\n"})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_lambda as lambda_
        from aws_cdk import aws_lambda_event_sources as sources
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "EnvironmentsStack")
        python_function(stack, "Rest", rest)
        python_function(stack, "State", state, timeout=cdk.Duration.seconds(5))
        slow_fn = python_function(stack, "Slow", slow, timeout=cdk.Duration.seconds(1))
        slow_queue = sqs.Queue(stack, "SlowQueue", visibility_timeout=cdk.Duration.seconds(2))
        slow_fn.add_event_source(sources.SqsEventSource(slow_queue, batch_size=1))
        clock_fn = python_function(stack, "Clock", clock)
        clock_queue = sqs.Queue(stack, "ClockQueue", visibility_timeout=cdk.Duration.seconds(60))
        clock_fn.add_event_source(sources.SqsEventSource(clock_queue, batch_size=1))
        layer = lambda_.LayerVersion(
            stack, "Shared", code=lambda_.Code.from_asset(layer_dir), compatible_runtimes=[lambda_.Runtime.PYTHON_3_13]
        )
        python_function(stack, "Layered", bare, handler="layered.handler", layers=[layer])
        python_function(stack, "JsonLogs", logging_code, logging_format=lambda_.LoggingFormat.JSON)
        inline_function(stack, "SyntaxError", "def handler(event, context)\n    return 1\n")
        inline_function(stack, "ImportError", "import not_a_module_anywhere\n")
        inline_function(stack, "NoHandler", "def other(event, context):\n    return 1\n")

    return synth(root / "cdk.out", build)


def _name(cloud: LocalCloud, assembly: Path, path: str) -> str:
    return cloud.deploy(assembly, "EnvironmentsStack").resource_by_path(path).physical_id


def _concurrently(calls: list[Any]) -> list[Any]:
    """Run the zero-argument callables at the same time; their results (or exceptions) in order."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as exc:  # the caller asserts on it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def _rest_event(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "resource": "/items",
        "path": "/items",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": body["me"], "stage": "prod", "httpMethod": "POST", "path": "/prod/items"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def test_two_concurrent_rest_resolver_invocations_never_see_each_others_event(
    cloud: LocalCloud, assembly: Path, tmp_path: Path
) -> None:
    # GIVEN a Powertools REST resolver function (it keeps the current event on a class attribute)
    name = _name(cloud, assembly, "Rest")

    # WHEN two invocations are inside the handler at the same time
    first, second = _concurrently(
        [
            lambda: cloud.invoke(name, _rest_event({"me": "a", "other": "b", "barrier": str(tmp_path)})),
            lambda: cloud.invoke(name, _rest_event({"me": "b", "other": "a", "barrier": str(tmp_path)})),
        ]
    )

    # THEN each answered from its own event, in its own process
    bodies = [json.loads(first["body"]), json.loads(second["body"])]
    assert [b["me"] for b in bodies] == ["a", "b"]
    assert bodies[0]["pid"] != bodies[1]["pid"] != os.getpid()


def test_module_state_survives_warm_invocations_of_one_environment_and_never_crosses_two(
    cloud: LocalCloud, assembly: Path, tmp_path: Path
) -> None:
    # GIVEN a function whose module counts its calls
    name = _name(cloud, assembly, "State")

    # WHEN it is invoked three times in a row, then twice at the same time
    sequential = [cloud.invoke(name, {}) for _ in range(3)]
    overlapping = _concurrently(
        [
            lambda: cloud.invoke(name, {"barrier": str(tmp_path), "me": "x", "other": "y"}),
            lambda: cloud.invoke(name, {"barrier": str(tmp_path), "me": "y", "other": "x"}),
        ]
    )

    # THEN the sequential calls ran warm in one environment, and the overlapping ones in two
    assert [r["calls"] for r in sequential] == [1, 2, 3]
    assert len({r["pid"] for r in sequential}) == 1
    assert sorted(r["calls"] for r in overlapping) == [1, 4]
    assert len({r["pid"] for r in overlapping}) == 2
    assert cloud.core.runtime.cold_starts(name) == 2


def test_the_environment_is_a_lambda_sandbox(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function with a 5 s timeout
    name = _name(cloud, assembly, "State")

    # WHEN it is invoked twice
    result = cloud.invoke(name, {})
    cloud.invoke(name, {})

    # THEN it ran in its task root with Lambda's variables, a live remaining time and the cloud's endpoint
    env = result["env"]
    assert result["cwd"] == env["LAMBDA_TASK_ROOT"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert "StateLogs" in env["AWS_LAMBDA_LOG_GROUP_NAME"]
    assert env["AWS_ENDPOINT_URL"].startswith("http://localhost:")
    before, after = result["remaining"]
    assert 4000 < before <= 5000 and after <= before - 40
    # AND its log stream has START / END / REPORT, with an init duration on the cold start only
    invocations = cloud.invocations(name)
    stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert invocations[0].logs.splitlines()[-1].startswith(f"REPORT RequestId: {invocations[0].request_id}")
    assert "Init Duration:" in invocations[0].logs and "Init Duration:" not in invocations[1].logs
    assert "Max Memory Used: 0 MB" not in invocations[0].logs
    assert stream in cloud.client("logs").describe_log_streams(logGroupName=env["AWS_LAMBDA_LOG_GROUP_NAME"])[
        "logStreams"
    ][0]["logStreamName"]


def test_a_handler_exiting_or_crashing_fails_only_its_invocation(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function that exits or crashes when told to
    name = _name(cloud, assembly, "State")
    warm = cloud.invoke(name, {})

    # WHEN one invocation calls os._exit(3) and another one crashes the interpreter
    with pytest.raises(FunctionError) as exited:
        cloud.invoke(name, {"exit": 3})
    with pytest.raises(FunctionError) as crashed:
        cloud.invoke(name, {"segfault": True})

    # THEN each failed as Lambda reports a dead runtime, and the next invocation runs in a new environment
    assert exited.value.error["errorType"] == "Runtime.ExitError"
    assert exited.value.error["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert crashed.value.error["errorMessage"].endswith("Runtime exited with error: signal: segmentation fault")
    after = cloud.invoke(name, {})
    assert after["calls"] == 1 and after["pid"] != warm["pid"]


def test_a_handler_past_its_timeout_is_killed_on_time_and_its_message_redelivered(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN an SQS-triggered function with a 1 s timeout that sleeps 30 s on a first delivery
    stack = cloud.deploy(assembly, "EnvironmentsStack")
    name = stack.resource_by_path("Slow").physical_id
    queue_url = stack.resource_by_path("SlowQueue").physical_id
    cloud.client("sqs").send_message(QueueUrl=queue_url, MessageBody="m1")

    # WHEN the queue is drained
    started = time.monotonic()
    cloud.drain(timeout=20)
    elapsed = time.monotonic() - started

    # THEN the first invocation was stopped at 1 s, and the redelivered message was processed
    first, second = cloud.invocations(name)
    assert first.error is not None and first.error["errorType"] == "Sandbox.Timedout"
    assert first.error["errorMessage"] == "Task timed out after 1.00 seconds"
    assert 1.0 <= first.duration < 2.5
    assert "Status: timeout" in first.logs
    assert second.ok and second.result == {"done": ["m1"]}
    assert elapsed < 10


def test_handlers_see_the_virtual_clock_that_drain_fast_forwards(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function that fails a first delivery from a queue with a 60 s visibility timeout
    stack = cloud.deploy(assembly, "EnvironmentsStack")
    name = stack.resource_by_path("Clock").physical_id
    cloud.client("sqs").send_message(QueueUrl=stack.resource_by_path("ClockQueue").physical_id, MessageBody="x")

    # WHEN drain() fast-forwards the visibility timeout to the redelivery
    started = time.monotonic()
    cloud.drain(timeout=20)
    elapsed = time.monotonic() - started

    # THEN every wall clock in the handler moved by the visibility timeout, while little real time passed
    first, second = cloud.invocations(name)
    before = json.loads(first.error["errorMessage"])  # type: ignore[index]
    after = second.result
    assert elapsed < 10
    for clock in ("time", "now", "utcnow"):
        assert after[clock] - before[clock] >= 59, clock
    assert (after["time_ns"] - before["time_ns"]) / 1e9 >= 59


def test_a_handler_module_in_the_functions_own_layer_runs(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function whose handler module is in its layer's python/, importing from its site-packages
    name = _name(cloud, assembly, "Layered")

    # WHEN it is invoked
    result = cloud.invoke(name, {})

    # THEN both modules came from the layer, unpacked under the environment's /opt
    assert result["helper"] == "from layer"
    assert result["module"].endswith("/python/layered.py")
    assert "/code/opt-" in result["module"]


@pytest.mark.parametrize(
    ("path", "error_type", "message"),
    [
        ("SyntaxError", "Runtime.UserCodeSyntaxError", "Syntax error in module 'index': "),
        ("ImportError", "Runtime.ImportModuleError", "Unable to import module 'index': No module named "),
        ("NoHandler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'index'"),
    ],
)
def test_init_errors_are_typed_as_lambda_types_them(
    cloud: LocalCloud, assembly: Path, path: str, error_type: str, message: str
) -> None:
    name = _name(cloud, assembly, path)
    with pytest.raises(FunctionError) as raised:
        cloud.invoke(name, {})
    assert raised.value.error["errorType"] == error_type
    assert raised.value.error["errorMessage"].startswith(message)


def test_json_log_format_is_honoured(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function whose LoggingConfig says JSON
    name = _name(cloud, assembly, "JsonLogs")

    # WHEN it logs through the standard library
    cloud.invoke(name, {"n": 7})

    # THEN the platform records and the handler's record are JSON objects, with the request id
    records = [json.loads(line) for line in cloud.logs(name)]
    request_id = cloud.invocations(name)[0].request_id
    assert records[0] == {"time": records[0]["time"], "type": "platform.start",
                          "record": {"requestId": request_id, "version": "$LATEST"}}
    logged = next(r for r in records if r.get("logger") == "orders")
    assert (logged["level"], logged["message"], logged["requestId"]) == ("INFO", "placed 7", request_id)
    assert records[-1]["type"] == "platform.report" and records[-1]["record"]["status"] == "success"
