"""The server's HTTP control plane: another process fires schedules, drains and reads the journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patterns.local import DrainTimeout, LocalCloudError, LocalCloudServer, control

from .conftest import python_function, synth, write_handler

REPO = Path(__file__).resolve().parents[2]

TICK = """
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0) if isinstance(event, dict) else 0)
    return {"source": event.get("source"), "request": context.aws_request_id}
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("control")
    code = write_handler(root / "tick", {"app.py": TICK})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_events as events
        from aws_cdk import aws_events_targets as targets

        stack = cdk.Stack(app, "ControlStack")
        tick = python_function(stack, "Tick", code)
        events.Rule(stack, "Every5Minutes", schedule=events.Schedule.rate(cdk.Duration.minutes(5))).add_target(
            targets.LambdaFunction(tick)
        )
        cdk.CfnOutput(stack, "TickName", value=tick.function_name)

    return synth(root / "cdk.out", build)


@pytest.fixture(scope="module")
def server(assembly: Path) -> Iterator[LocalCloudServer]:
    with LocalCloudServer(front_door=False) as running:
        running.deploy(assembly, "ControlStack")
        yield running


def test_another_process_fires_a_schedule_drains_and_reads_the_journal(server: LocalCloudServer) -> None:
    # GIVEN a server with a scheduled rule targeting a function, and a separate process knowing only its endpoint
    script = textwrap.dedent(
        """
        import json, sys
        from patterns.local import control

        cloud = control(sys.argv[1])
        cloud.fire_schedule("ControlStack/Every5Minutes")
        cloud.drain(timeout=20)
        print(json.dumps([[i.source, i.ok, i.result] for i in cloud.invocations("Tick")]))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    # WHEN that process fires the schedule, drains and reads the journal over HTTP
    done = subprocess.run(
        [sys.executable, "-c", script, server.endpoint], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )

    # THEN the function ran once with the scheduled event, and the process saw it in the journal
    assert done.returncode == 0, done.stderr[-3000:]
    ((source, ok, result),) = json.loads(done.stdout)
    assert source.startswith("events:") and ok and result["source"] == "aws.events"
    assert [i.request_id for i in server.invocations("Tick")] == [result["request"]]

    # AND the CLI does the same from a shell
    cli = [sys.executable, "-m", "patterns.local"]
    fired = subprocess.run(
        [*cli, "fire", "Every5Minutes", "--endpoint", server.endpoint], env=env, cwd=REPO, capture_output=True
    )
    assert fired.returncode == 0, fired.stderr
    drained = subprocess.run([*cli, "drain", "--endpoint", server.endpoint], env=env, cwd=REPO, capture_output=True)
    assert drained.returncode == 0, drained.stderr
    listed = subprocess.run(
        [*cli, "invocations", "ControlStack/Tick", "--endpoint", server.endpoint],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["request_id"] for r in runs] == [i.request_id for i in server.invocations("Tick")]
    assert len(runs) == 2 and all(r["source"].startswith("events:") for r in runs)


def test_the_control_client_reports_errors_and_drain_timeouts(server: LocalCloudServer) -> None:
    client = control(server.endpoint)
    assert client.health()["endpoint"] == server.endpoint

    # an unknown schedule is an error naming it
    with pytest.raises(LocalCloudError, match="NoSuchRule"):
        client.fire_schedule("NoSuchRule")

    # a drain that cannot finish in time raises DrainTimeout with what is pending
    name = server.stack("ControlStack").outputs["TickName"]
    server.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 0.8}))
    with pytest.raises(DrainTimeout) as raised:
        client.drain(timeout=0.2)
    assert any(name in line for line in raised.value.pending)
    client.drain(timeout=20)
    assert client.errors() == [] and client.pending() == []


def test_event_invoke_request_id_is_the_async_invocations_in_server_mode(server: LocalCloudServer) -> None:
    # GIVEN a boto3 client of the server (over HTTP)
    name = server.stack("ControlStack").outputs["TickName"]

    # WHEN an asynchronous invoke is accepted
    response = server.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    control(server.endpoint).drain(timeout=20)

    # THEN its RequestId is the request id the function ran with
    request_id = response["ResponseMetadata"]["RequestId"]
    (run,) = (i for i in control(server.endpoint).invocations(name) if i.request_id == request_id)
    assert run.result["request"] == request_id and run.source == "invoke-async"
