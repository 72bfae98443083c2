"""Rung 5 for CATALOG 23 RealtimeAnalytics: RealtimeAnalyticsDemo deployed into the local cloud.

Proves: readings of 4 sensors put in two consecutive 1-minute windows (PutRecords, the clock moved to
the start of a window first, so each burst lands in one) give one results item per window and
sensor whose count and total equal the input's; an alert goes out once per window and sensor over
the threshold (and never for one under it). Faults: a bad record in the middle of the first window
fails its batch; the batch is bisected and retried from the window state before it, the bad record
goes to the on-failure queue, and no reading is counted twice.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from demo import realtime_analytics as demo
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import take_bodies
from tests.e2e._local_drive import drive_context

STACK = "RealtimeAnalyticsDemo"
FUNCTION = f"{STACK}/Analytics/Aggregator"
WINDOW = int(demo.WINDOW.to_seconds())
#: (sensor, reading) per window: "hot" crosses the threshold (100) in both, "warm" in the second only,
#: "cold" never, "edge" reaches it exactly in the first.
BURSTS = [
    [("hot", 40)] * 4 + [("warm", 10)] * 5 + [("cold", 1)] * 30 + [("edge", 25)] * 4,
    [("hot", 60)] * 2 + [("warm", 35)] * 3 + [("cold", 2)] * 10,
]
BAD_AFTER = 20  # a bad record is put after this many readings of the first burst


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}Z"


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Each burst right after a window opens (the clock moved there), then drained: the window closes."""
    cloud, stack = deployed
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    alerts_url = sqs.create_queue(QueueName="analytics-alerts")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.outputs["AlertTopicArn"], Protocol="sqs", Endpoint=alerts_arn,
                  Attributes={"RawMessageDelivery": "true"})
    kinesis = cloud.client("kinesis")
    windows = []
    for number, burst in enumerate(BURSTS):
        clock = cloud.core.engine.clock()
        cloud.advance(WINDOW - clock % WINDOW + 0.5)  # half a second into a fresh window
        windows.append(_iso(cloud.core.engine.clock() // WINDOW * WINDOW))
        entries = [{"Data": demo.record(key, value, n=n), "PartitionKey": key} for n, (key, value) in enumerate(burst)]
        if number == 0:
            entries.insert(BAD_AFTER, {"Data": b"{broken reading", "PartitionKey": "hot"})
        reply = kinesis.put_records(StreamName=stack.outputs["StreamName"], Records=entries)
        assert reply["FailedRecordCount"] == 0
        cloud.drain(timeout=120)
    return {
        "windows": windows,
        "results": demo.results(cloud.client("dynamodb"), stack.outputs["ResultsTableName"]),
        "alerts": [json.loads(b) for b in take_bodies(cloud, alerts_url)],
        "failures": [json.loads(b) for b in take_bodies(cloud, stack.outputs["OnFailureQueueUrl"])],
        "invocations": cloud.invocations(FUNCTION),
    }


def _expected(burst: list[tuple[str, int]]) -> dict[str, tuple[int, int]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, value in burst:
        totals[key][0] += 1
        totals[key][1] += value
    return {k: (c, t) for k, (c, t) in totals.items()}


def test_window_totals_equal_the_input_per_key_and_window(run) -> None:
    assert len(run["windows"]) == 2 and run["windows"][0] < run["windows"][1]
    got = {
        (start, key): (int(item["record_count"]["N"]), int(float(item["total"]["N"])))
        for (start, key), item in run["results"].items()
    }
    expected = {(w, k): v for w, burst in zip(run["windows"], BURSTS, strict=True) for k, v in _expected(burst).items()}
    assert got == expected
    for (start, _), item in run["results"].items():
        end = datetime.fromisoformat(item["window_end"]["S"].replace("Z", "+00:00"))
        assert end.timestamp() - datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() == WINDOW


def test_the_alert_fires_once_per_window_and_key_over_the_threshold(run) -> None:
    alerted = sorted((a["window"]["start"], a["key"]) for a in run["alerts"])
    first, second = run["windows"]
    assert alerted == sorted([(first, "hot"), (first, "edge"), (second, "hot"), (second, "warm")])
    for alert in run["alerts"]:
        assert float(alert["total"]) >= demo.THRESHOLD and alert["threshold"] == str(demo.THRESHOLD)
    marked = sorted(k for k, item in run["results"].items() if "alerted_at" in item)
    assert marked == alerted


def test_a_failure_mid_window_retries_without_double_counting(run) -> None:
    # the bad record went to the on-failure queue alone
    (failure,) = run["failures"]
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    # its batch failed, and the retries started from the state the window had before that batch
    failed = [i for i in run["invocations"] if not i.ok]
    assert failed and all(i.event["isFinalInvokeForWindow"] is False for i in failed)
    first_window = [i for i in run["invocations"] if i.event["window"]["start"] == run["windows"][0]]
    states = [i.event["state"] for i in first_window if not i.event["isFinalInvokeForWindow"]]
    assert states[0] == {}
    # every good reading was folded in exactly once: the final state equals the input (checked above
    # against the table), and the successful batches hold each reading once
    counted = [
        json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
        for i in first_window if i.ok and not i.event["isFinalInvokeForWindow"]
        for r in i.event["Records"]
    ]
    assert sorted(counted) == list(range(len(BURSTS[0])))


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
