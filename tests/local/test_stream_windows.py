"""Tumbling windows of stream mappings on the local cloud's clock, with failures inside a window.

One deployed cloud for the module: each test has its own stream (or table) and function.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import python_function, synth, write_handler

WINDOW_SECONDS = 300

#: Sums "value" per window; a record marked "flaky" fails its batch (raise) or is reported as a batch
#: item failure ("report") the first time this environment sees it; "stateless" forgets the state once;
#: "big" makes the state outgrow 1 MB. The final invoke returns what it saw (the journal keeps it small).
WINDOW_HANDLER = """
import base64
import json

SEEN = set()


def _payload(record):
    if "kinesis" in record:
        return json.loads(base64.b64decode(record["kinesis"]["data"]))
    image = record["dynamodb"]["NewImage"]
    return {"n": int(image["n"]["N"]), "value": int(image["value"]["N"])}


def handler(event, context):
    if event["isFinalInvokeForWindow"]:
        state = event["state"]
        return {"state": {}, "final": {"total": state.get("total", 0), "count": state.get("count", 0),
                                       "early": event["isWindowTerminatedEarly"], "window": event["window"]}}
    state = {k: v for k, v in (event.get("state") or {}).items()}
    failures = []
    for record in event["Records"]:
        payload = _payload(record)
        mark = payload.get("mark")
        first_time = (mark, payload["n"]) not in SEEN
        SEEN.add((mark, payload["n"]))
        if mark == "raise" and first_time:
            raise RuntimeError("downstream failure mid-window")
        if mark == "report" and first_time:
            failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
            break
        if mark == "stateless" and first_time:
            return {"batchItemFailures": []}
        state["total"] = state.get("total", 0) + payload["value"]
        state["count"] = state.get("count", 0) + 1
        if mark == "big":
            state["padding"] = "x" * (1024 * 1024 + 10)
    return {"state": state, "batchItemFailures": failures}
"""

NAMES = ("Clock", "Raise", "Report", "Stateless", "Big")


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("windows")
    code = write_handler(root / "window", {"app.py": WINDOW_HANDLER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_dynamodb as ddb
        from aws_cdk import aws_kinesis as kinesis
        from aws_cdk import aws_lambda as lambda_
        from aws_cdk import aws_lambda_event_sources as sources

        stack = cdk.Stack(app, "WindowStack")
        window = cdk.Duration.seconds(WINDOW_SECONDS)
        for name in NAMES:
            stream = kinesis.Stream(stack, f"{name}Stream", shard_count=1)
            cdk.CfnOutput(stack, f"{name}StreamName", value=stream.stream_name)
            python_function(stack, name, code).add_event_source(
                sources.KinesisEventSource(
                    stream,
                    starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                    batch_size=3,
                    retry_attempts=2,
                    report_batch_item_failures=True,
                    tumbling_window=window,
                )
            )
        table = ddb.Table(
            stack,
            "Table",
            partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            stream=ddb.StreamViewType.NEW_IMAGE,
        )
        cdk.CfnOutput(stack, "TableName", value=table.table_name)
        python_function(stack, "TableWindow", code).add_event_source(
            sources.DynamoEventSource(
                table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=2, tumbling_window=window
            )
        )

    return synth(root / "cdk.out", build)


@pytest.fixture(scope="module")
def deployed(assembly: Path) -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    with LocalCloud(front_door=False) as cloud:
        yield cloud, cloud.deploy(assembly, "WindowStack").outputs


def _put(cloud: LocalCloud, stream: str, payloads: list[dict[str, Any]]) -> None:
    kinesis = cloud.client("kinesis")
    for payload in payloads:
        kinesis.put_record(StreamName=stream, Data=json.dumps(payload).encode(), PartitionKey="k")


def _finals(cloud: LocalCloud, function: str) -> list[dict[str, Any]]:
    # The journal keeps a big event truncated: read the final invokes by what they returned.
    return [i.result["final"] for i in cloud.invocations(function) if i.ok and "final" in (i.result or {})]


def _stamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_window_closes_when_the_clock_passes_its_end_and_later_records_open_the_next(
    deployed: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, outputs = deployed
    # GIVEN 5 records in one window, read in batches of 3
    _put(cloud, outputs["ClockStreamName"], [{"n": n, "value": n} for n in range(1, 6)])

    # WHEN drained: the batches run, then the clock moves to the window's end and the window closes
    cloud.drain(timeout=20)
    calls = cloud.invocations("Clock")
    assert [len(i.event["Records"]) for i in calls] == [3, 2, 0]
    first = _finals(cloud, "Clock")
    assert [(f["total"], f["count"], f["early"]) for f in first] == [(15, 5, False)]
    assert calls[-1].virtual_started_at >= _stamp(first[0]["window"]["end"])
    assert _stamp(first[0]["window"]["end"]) - _stamp(first[0]["window"]["start"]) == WINDOW_SECONDS

    # AND records put after that fall in a later window with fresh state, closed on its own
    _put(cloud, outputs["ClockStreamName"], [{"n": n, "value": 100} for n in range(6, 8)])
    cloud.drain(timeout=20)
    second = _finals(cloud, "Clock")[1:]
    assert [(f["total"], f["count"]) for f in second] == [(200, 2)]
    assert _stamp(second[0]["window"]["start"]) >= _stamp(first[0]["window"]["end"])
    assert cloud.invocations("Clock")[3].event["state"] == {}


def test_a_failed_batch_retries_from_the_window_state_before_it(deployed: tuple[LocalCloud, dict[str, str]]) -> None:
    cloud, outputs = deployed
    # GIVEN 6 records; the batch holding n=4 raises the first time
    _put(
        cloud, outputs["RaiseStreamName"], [{"n": n, "value": n, "mark": "raise" if n == 4 else None} for n in range(6)]
    )

    cloud.drain(timeout=20)

    # THEN the failed batch was retried with the state of the batches before it: nothing counted twice
    calls = cloud.invocations("Raise")
    assert [(len(i.event["Records"]), i.ok) for i in calls] == [(3, True), (3, False), (3, True), (0, True)]
    assert calls[1].event["state"] == calls[2].event["state"] == {"total": 3, "count": 3}
    assert [(f["total"], f["count"]) for f in _finals(cloud, "Raise")] == [(15, 6)]


def test_a_reported_item_failure_keeps_the_state_of_the_records_before_it(
    deployed: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, outputs = deployed
    # GIVEN 6 records; n=1 is reported as a batch item failure the first time
    _put(
        cloud,
        outputs["ReportStreamName"],
        [{"n": n, "value": 10 + n, "mark": "report" if n == 1 else None} for n in range(6)],
    )

    cloud.drain(timeout=20)

    # THEN the checkpoint moved past n=0 with its share of the state; the retry starts at n=1
    calls = cloud.invocations("Report")
    firsts = [json.loads(base64.b64decode(i.event["Records"][0]["kinesis"]["data"]))["n"] for i in calls[:-1]]
    assert firsts == [0, 1, 3]
    assert [len(i.event["Records"]) for i in calls] == [3, 2, 3, 0]
    assert calls[1].event["state"] == {"total": 10, "count": 1}
    assert [(f["total"], f["count"]) for f in _finals(cloud, "Report")] == [(sum(range(10, 16)), 6)]


def test_a_response_without_state_is_a_failed_invocation(deployed: tuple[LocalCloud, dict[str, str]]) -> None:
    cloud, outputs = deployed
    # GIVEN a batch whose first response has no "state"
    _put(
        cloud,
        outputs["StatelessStreamName"],
        [{"n": n, "value": 1, "mark": "stateless" if n == 0 else None} for n in range(2)],
    )

    cloud.drain(timeout=20)

    # THEN Lambda retried that batch (same records, same state) and counted each record once
    calls = cloud.invocations("Stateless")
    assert [len(i.event["Records"]) for i in calls] == [2, 2, 0]
    assert calls[0].event["state"] == calls[1].event["state"] == {}
    assert [(f["total"], f["count"]) for f in _finals(cloud, "Stateless")] == [(2, 2)]


def test_a_state_over_one_megabyte_ends_the_window_early_and_it_goes_on_fresh(
    deployed: tuple[LocalCloud, dict[str, str]],
) -> None:
    cloud, outputs = deployed
    # GIVEN a first batch whose state outgrows 1 MB, then two more batches in the same window
    _put(cloud, outputs["BigStreamName"], [{"n": n, "value": 1, "mark": "big" if n == 0 else None} for n in range(6)])

    cloud.drain(timeout=20)

    # THEN a final invoke marked terminated early came right after it, the window went on with fresh
    # state, and closed at its end as usual
    calls = cloud.invocations("Big")
    assert ["final" in (i.result or {}) for i in calls] == [False, True, False, True]
    finals = _finals(cloud, "Big")
    assert [(f["count"], f["early"]) for f in finals] == [(3, True), (3, False)]
    assert finals[0]["window"] == finals[1]["window"]
    assert calls[2].event["state"] == {}


def test_dynamodb_stream_windows_carry_state_too(deployed: tuple[LocalCloud, dict[str, str]]) -> None:
    cloud, outputs = deployed
    ddb = cloud.client("dynamodb")
    for n in range(5):
        ddb.put_item(
            TableName=outputs["TableName"],
            Item={"pk": {"S": f"k{n}"}, "n": {"N": str(n)}, "value": {"N": str(n * 2)}},
        )

    cloud.drain(timeout=20)

    calls = cloud.invocations("TableWindow")
    assert [len(i.event["Records"]) for i in calls] == [2, 2, 1, 0]
    assert calls[2].event["state"] == {"total": 12, "count": 4}
    assert [(f["total"], f["count"]) for f in _finals(cloud, "TableWindow")] == [(20, 5)]
    assert calls[0].event["eventSourceARN"].startswith("arn:aws:dynamodb:")

