"""The in-process Lambda runtime: environment, context, errors, module isolation, logs, throttling."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from patterns.local import FunctionError, LocalCloud

from .conftest import python_function, synth, write_handler

ENV_HANDLER = """
import os
import time

import models

LOADED_WITH = os.environ.get("GREETING")
CALLS = []


def handler(event, context):
    CALLS.append(context.aws_request_id)
    time.sleep(event.get("sleep", 0))
    release = event.get("hold_until_exists")
    deadline = time.monotonic() + 10
    while release and not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    print("hello from", context.function_name)
    import logging
    logging.getLogger().warning("warned %s", models.VALUE)
    keys = ["GREETING", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "_HANDLER",
            "POWERTOOLS_TRACE_DISABLED"]
    return {
        "env": {k: os.environ.get(k) for k in keys},
        "loaded_with": LOADED_WITH,
        "calls": len(CALLS),
        "model": models.VALUE,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
    }
"""

FAILING_HANDLER = """
def handler(event, context):
    raise ValueError(f"boom {event['n']}")
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    first = write_handler(root / "first", {"app.py": ENV_HANDLER, "models.py": "VALUE = 'first'\n"})
    second = write_handler(root / "second", {"app.py": ENV_HANDLER, "models.py": "VALUE = 'second'\n"})
    failing = write_handler(root / "failing", {"app.py": FAILING_HANDLER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_lambda as lambda_

        stack = cdk.Stack(app, "RuntimeStack")
        python_function(
            stack, "First", first, environment={"GREETING": "hello"}, memory_size=256, timeout=cdk.Duration.seconds(7)
        )
        python_function(stack, "Second", second, environment={"GREETING": "bonjour"})
        python_function(stack, "Failing", failing)
        python_function(stack, "Single", first, environment={"GREETING": "solo"}, reserved_concurrent_executions=1)
        lambda_.Function(
            stack,
            "Node",
            runtime=lambda_.Runtime.NODEJS_22_X,
            handler="index.handler",
            code=lambda_.Code.from_inline("exports.handler = async () => 1;"),
        )

    return synth(root / "cdk.out", build)


def test_env_vars_and_context(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a deployed function with an environment variable, 256 MB and a 7 s timeout
    stack = cloud.deploy(assembly, "RuntimeStack")
    name = stack.resource_by_path("First").physical_id

    # WHEN it is invoked through the Lambda API
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps({}))
    result = json.loads(response["Payload"].read())

    # THEN it saw its own environment, the Lambda-reserved variables and a complete context
    assert result["env"] == {
        "GREETING": "hello",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "_HANDLER": "app.handler",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    assert result["loaded_with"] == "hello", "module-level code runs with the function's environment"
    context = result["context"]
    assert context["function_name"] == name
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == 256
    assert context["log_group_name"] == stack.resource_by_path("FirstLogs").physical_id
    assert 6000 < context["remaining"] <= 7000
    assert context["aws_request_id"] == cloud.invocations(name)[-1].request_id
    assert "GREETING" not in __import__("os").environ, "the test process environment is untouched"


def test_parallel_invocations_see_their_own_environment_and_modules(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN two functions whose folders both have app.py and models.py, with different contents
    stack = cloud.deploy(assembly, "RuntimeStack")
    first, second = (stack.resource_by_path(p).physical_id for p in ("First", "Second"))
    results: dict[str, Any] = {}

    def call(name: str) -> None:
        results[name] = cloud.invoke(name, {"sleep": 0.2})

    # WHEN they run at the same time in different threads
    threads = [threading.Thread(target=call, args=(n,)) for n in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each sees its own environment and its own sibling module, and none leaks into sys.modules
    assert (results[first]["env"]["GREETING"], results[first]["model"]) == ("hello", "first")
    assert (results[second]["env"]["GREETING"], results[second]["model"]) == ("bonjour", "second")
    assert "models" not in sys.modules and "app" not in sys.modules
    overlap = [i for i in cloud.invocations() if i.function_name in (first, second)]
    assert len(overlap) == 2 and overlap[0].ended_at > overlap[1].started_at, "the two calls overlapped"


def test_the_handler_stays_warm_between_invocations(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a deployed function whose module counts its calls
    name = cloud.deploy(assembly, "RuntimeStack").resource_by_path("First").physical_id

    # WHEN it is invoked three times
    counts = [cloud.invoke(name, {})["calls"] for _ in range(3)]

    # THEN the module was imported once and reused, like a warm Lambda sandbox
    assert counts == [1, 2, 3]


def test_concurrent_invocations_get_their_own_sandbox_and_sequential_ones_reuse_a_warm_one(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a deployed function whose module counts its calls in a module-level list
    name = cloud.deploy(assembly, "RuntimeStack").resource_by_path("First").physical_id
    results: list[Any] = []
    start = threading.Barrier(2)

    def call() -> None:
        start.wait()
        results.append(cloud.invoke(name, {"sleep": 0.3}))

    # WHEN two invocations run at the same time
    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each ran in its own sandbox (two cold starts): its own module globals and its own log stream
    assert [r["calls"] for r in results] == [1, 1]
    streams = {r["context"]["log_stream_name"] for r in results}
    assert len(streams) == 2
    assert cloud.core.runtime.cold_starts(name) == 2
    # AND invocations after them reuse the warm sandboxes instead of importing the code again
    later = [cloud.invoke(name, {}) for _ in range(3)]
    assert [r["calls"] for r in later] == [2, 3, 4]
    assert {r["context"]["log_stream_name"] for r in later} <= streams
    assert cloud.core.runtime.cold_starts(name) == 2
    assert cloud.core.runtime.sandboxes(name) == 2


def test_function_error_has_the_lambda_error_shape(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function that raises
    name = cloud.deploy(assembly, "RuntimeStack").resource_by_path("Failing").physical_id

    # WHEN it is invoked through the API and directly
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"n": 7}))
    error = json.loads(response["Payload"].read())

    # THEN the API reports an unhandled function error with message, type and stack trace
    assert response["FunctionError"] == "Unhandled"
    assert error["errorMessage"] == "boom 7"
    assert error["errorType"] == "ValueError"
    assert any("raise ValueError" in line for line in error["stackTrace"])
    with pytest.raises(FunctionError, match="ValueError: boom 8"):
        cloud.invoke(name, {"n": 8})
    assert [i.ok for i in cloud.invocations(name)] == [False, False]


def test_output_goes_to_the_function_log_group(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a function that prints and logs a warning
    name = cloud.deploy(assembly, "RuntimeStack").resource_by_path("First").physical_id

    # WHEN it runs
    cloud.invoke(name, {})

    # THEN its configured log group holds the Lambda report lines and the handler's output
    lines = cloud.logs(name)
    assert lines[0].startswith("START RequestId:")
    assert f"hello from {name}" in lines
    assert any(line.startswith("[WARNING]") and line.endswith("warned first") for line in lines)
    assert lines[-1].startswith("REPORT RequestId:")


def test_sync_invoke_over_reserved_concurrency_is_throttled(
    cloud: LocalCloud, assembly: Path, tmp_path: Path
) -> None:
    # GIVEN a function with reserved concurrency 1 that stays busy until the test releases it
    name = cloud.deploy(assembly, "RuntimeStack").resource_by_path("Single").physical_id
    release = tmp_path / "release"
    busy = threading.Thread(target=cloud.invoke, args=(name, {"hold_until_exists": str(release)}))
    busy.start()
    while not cloud.core.runtime.inflight(name):
        time.sleep(0.001)

    # WHEN a second synchronous invoke arrives
    try:
        with pytest.raises(ClientError) as raised:
            cloud.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    finally:
        release.touch()
        busy.join()

    # THEN it is throttled, and the journal records the throttle
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert [i.throttled for i in cloud.invocations(name)] == [True, False]


def test_non_python_runtimes_fail_clearly(cloud: LocalCloud, assembly: Path) -> None:
    name = cloud.deploy(assembly, "RuntimeStack").resource_by_path("Node").physical_id
    with pytest.raises(FunctionError, match=r"Runtime\.UnsupportedLocally.*nodejs22\.x"):
        cloud.invoke(name, {})
