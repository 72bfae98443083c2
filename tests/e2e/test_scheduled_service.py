"""Rung 5 for CATALOG 10 ScheduledService: ScheduledServiceDemo in the local cloud, checking a real site.

The test runs a tiny website on 127.0.0.1 (started and stopped here) with a home page and a health
endpoint, points the deployed check at it, and triggers the schedule on demand. Alerts are read from
the demo's queue subscribed to the alert topic. Proves: a healthy site raises no alert; a failing
page raises exactly one alert naming its URL; recovery stops the alerts; a redelivered scheduled
event checks once; a run that keeps crashing is parked in the DLQ with its error. Count: runs =
schedule firings, results = runs x checks, alerts = failed checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from demo import scheduled_service as demo
from demo.scheduled_service import Page, Site
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "ScheduledServiceDemo"
RULE = f"{STACK}/HealthCheck/Schedule"
CHECKER = f"{STACK}/HealthCheck/Checker"
HEALTHY = {"/": Page(200, "<h1>Welcome to the shop</h1>"), "/api/health": Page(200, '{"ok": true}')}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site(HEALTHY) as running:
        yield running


@pytest.fixture(scope="module")
def cloud(demo_app, site) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as running:
        stack = running.deploy(demo_app.outdir, STACK)
        demo.point_checks_at(drive_context(running, stack), [
            {"name": "Home", "url": site.url("/"), "expected_status": [200], "max_latency_ms": 2000,
             "body_contains": "Welcome"},
            {"name": "Api", "url": site.url("/api/health"), "expected_status": [200, 204], "max_latency_ms": 2000,
             "body_contains": None},
        ])
        yield running, stack


@pytest.fixture
def fresh(cloud, site) -> Iterator[tuple[LocalCloud, Any]]:
    """Each test starts from a healthy site, empty inbox and DLQ, and a zeroed hit counter."""
    local, stack = cloud
    site.pages = dict(HEALTHY)
    site.hits.clear()
    alerts(local, stack)
    take(local, stack.outputs["DeadLetterQueueUrl"])
    yield local, stack
    assert local.errors == []


def take(local: LocalCloud, url: str) -> list[dict[str, Any]]:
    """Receive and delete every message in a queue."""
    sqs = local.client("sqs")
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return taken
        for message in messages:
            taken.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def alerts(local: LocalCloud, stack: Any) -> list[dict[str, Any]]:
    """Every alert in the inbox (read and deleted): its body and message attributes."""
    return [
        {"body": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})}
        for m in take(local, stack.outputs["AlertInboxUrl"])
    ]


def runs(local: LocalCloud) -> list[Any]:
    return local.invocations(CHECKER)


def results(local: LocalCloud, stack: Any) -> list[dict[str, Any]]:
    items = local.client("dynamodb").scan(TableName=stack.outputs["ResultsTableName"])["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def dead_letters(local: LocalCloud, stack: Any) -> str:
    return local.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["DeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]


def fire(local: LocalCloud) -> None:
    local.fire_schedule(RULE)
    local.drain(timeout=60)


def test_a_healthy_site_raises_no_alert(fresh, site) -> None:
    local, stack = fresh
    before = len(runs(local))
    fire(local)
    [run] = runs(local)[before:]
    assert run.ok and run.source.startswith("events:")
    assert run.event["detail-type"] == "Scheduled Event"
    assert run.result["checked"] == 2 and run.result["failed"] == []
    assert alerts(local, stack) == []
    assert site.hits == {"/": 1, "/api/health": 1}


def test_a_failing_page_raises_exactly_one_alert_naming_its_url(fresh, site) -> None:
    local, stack = fresh
    site.pages["/api/health"] = Page(503, "Service Unavailable")
    fire(local)
    [alert] = alerts(local, stack)
    assert alert["body"]["url"] == site.url("/api/health")
    assert alert["body"]["name"] == "Api"
    assert alert["body"]["status"] == 503
    assert alert["body"]["reasons"] == ["status 503 not in [200, 204]"]
    assert alert["attributes"]["url"]["StringValue"] == site.url("/api/health")
    assert site.hits == {"/": 1, "/api/health": 1}


def test_a_wrong_page_body_is_a_failure_too(fresh, site) -> None:
    local, stack = fresh
    site.pages["/"] = Page(200, "<h1>Down for maintenance</h1>")
    fire(local)
    [alert] = alerts(local, stack)
    assert alert["body"]["url"] == site.url("/")
    assert alert["body"]["reasons"] == ["body does not contain 'Welcome'"]


def test_recovery_stops_the_alerts(fresh, site) -> None:
    local, stack = fresh
    site.pages["/api/health"] = Page(500, "boom")
    fire(local)
    assert len(alerts(local, stack)) == 1
    site.pages = dict(HEALTHY)
    fire(local)
    assert alerts(local, stack) == []
    assert site.hits == {"/": 2, "/api/health": 2}


def deliver(local: LocalCloud, stack: Any, event: dict[str, Any]) -> None:
    """Invoke the checker the way the rule's target does: asynchronously, with the scheduled event."""
    local.client("lambda").invoke(
        FunctionName=stack.outputs["FunctionName"], InvocationType="Event", Payload=json.dumps(event).encode()
    )


def test_a_redelivered_scheduled_event_checks_and_alerts_once(fresh, site) -> None:
    """EventBridge delivers at least once: the same event again is the same run (idempotency on its id)."""
    local, stack = fresh
    site.pages["/api/health"] = Page(503, "Service Unavailable")
    event = demo.scheduled_event(drive_context(local, stack))
    before = len(runs(local))
    for _ in range(2):
        deliver(local, stack, event)
        local.drain(timeout=60)
    first, again = runs(local)[before:]
    assert first.ok and again.ok
    assert again.result == first.result  # the first run's summary, replayed
    assert site.hits == {"/": 1, "/api/health": 1}
    assert len(alerts(local, stack)) == 1


def test_every_run_is_recorded_and_nothing_is_dead_lettered(fresh, site) -> None:
    local, stack = fresh
    rows_before = len(results(local, stack))
    runs_before = len(runs(local))
    outcomes = ["ok", "down", "ok", "down", "down"]
    for outcome in outcomes:
        site.pages["/api/health"] = Page(200, "{}") if outcome == "ok" else Page(502, "Bad Gateway")
        fire(local)
    assert len(runs(local)) - runs_before == len(outcomes)
    assert len(alerts(local, stack)) == outcomes.count("down")
    new_rows = sorted(results(local, stack), key=lambda r: r["checked_at"])[rows_before:]
    assert len(new_rows) == 2 * len(outcomes)
    api_rows = [r for r in new_rows if r["check"] == "Api"]
    assert [r["ok"] for r in api_rows] == [o == "ok" for o in outcomes]
    assert all(r["ok"] for r in new_rows if r["check"] == "Home")
    assert all(int(r["expires_at"]) > 0 for r in new_rows)
    assert site.hits == {"/": len(outcomes), "/api/health": len(outcomes)}
    assert dead_letters(local, stack) == "0"


def test_a_run_that_keeps_crashing_is_parked_in_the_dlq_with_its_error(fresh, site) -> None:
    """A broken deployment (unparseable CHECKS): Lambda retries the run twice, then its on-failure
    destination records the event and the error in the DLQ instead of dropping the run."""
    local, stack = fresh
    name = stack.outputs["FunctionName"]
    lambda_ = local.client("lambda")
    variables = lambda_.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lambda_.update_function_configuration(FunctionName=name, Environment={"Variables": {**variables, "CHECKS": "["}})
    try:
        before = len(runs(local))
        fire(local)
        attempts = runs(local)[before:]
    finally:
        lambda_.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    # An exception while the module initialises is reported with its own type, as the Python runtime
    # does (only an ImportError is Runtime.ImportModuleError): pydantic rejects the CHECKS list.
    assert [r.error["errorType"] for r in attempts] == ["ValidationError"] * 3  # 1 try + 2 retries
    bodies = [json.loads(m["Body"]) for m in take(local, stack.outputs["DeadLetterQueueUrl"])]
    [record] = [b for b in bodies if "requestContext" in b]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail-type"] == "Scheduled Event"
    assert record["responsePayload"]["errorType"] == "ValidationError"
    # EventBridge handed the event to Lambda, so the rule target's DLQ (the same queue) holds no copy
    # of the raw event: only the function's on-failure record above.
    assert [b for b in bodies if "requestContext" not in b] == []
    assert site.hits == {} and alerts(local, stack) == []
    # and the next run, with the configuration repaired, is healthy again
    fire(local)
    assert runs(local)[-1].ok and alerts(local, stack) == []


def test_demo_drive_passes_against_the_local_cloud(fresh) -> None:
    local, stack = fresh
    checks_before = local.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["FunctionName"])["Environment"]["Variables"]["CHECKS"]
    result = demo.drive(drive_context(local, stack))
    assert result.ok, result
    # the driver put the function's configuration back as it found it
    checks_after = local.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["FunctionName"])["Environment"]["Variables"]["CHECKS"]
    assert checks_after == checks_before
