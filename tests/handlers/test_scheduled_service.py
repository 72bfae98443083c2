"""Rung 4 for CATALOG 10 ScheduledService: the health-check function against moto and a real local site.

The site is a real HTTP server on 127.0.0.1 (demo.scheduled_service.Site); SNS, SQS and DynamoDB
are moto. Alerts are read from an SQS queue subscribed to the alert topic, as an operator would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from demo.scheduled_service import Page, Site
from tests.support import load_handler

EVENT = json.loads((Path(__file__).parent / "events" / "scheduled_service" / "scheduled_event.json").read_text())
IDEMPOTENCY = "health-idempotency"
RESULTS = "health-results"


@dataclass
class Context:
    function_name: str = "ScheduledServiceDemo-HealthCheckChecker"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ScheduledServiceDemo-HealthCheckChecker"
    aws_request_id: str = "5ca1ab1e-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class Cloud:
    topic_arn: str
    inbox_url: str
    results: Any
    idempotency: Any

    def alerts(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"]).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append({"body": json.loads(message["Body"]), "attributes": message.get("MessageAttributes", {})})
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def site() -> Iterator[Site]:
    pages = {
        "/": Page(200, "<h1>Welcome to the shop</h1>"),
        "/health": Page(204, ""),
        "/broken": Page(500, "Internal Server Error"),
        "/maintenance": Page(200, "<h1>Back soon</h1>"),
        "/slow": Page(200, "Welcome", delay=0.4),
        "/hang": Page(200, "Welcome", delay=2.0),
        "/gone": Page(404, "Not Found"),
    }
    with Site(pages) as running:
        yield running


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        inbox_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        results = ddb.create_table(
            TableName=RESULTS, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "check", "KeyType": "HASH"},
                       {"AttributeName": "checked_at", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "check", "AttributeType": "S"},
                                  {"AttributeName": "checked_at", "AttributeType": "S"}],
        )
        idempotency = ddb.create_table(
            TableName=IDEMPOTENCY, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        yield Cloud(topic_arn, inbox_url, results, idempotency)


def checker(cloud: Cloud, checks: list[dict[str, Any]], *, record: bool = True, timeout: float = 1.0) -> ModuleType:
    env = {
        "CHECKS": json.dumps(checks), "REQUEST_TIMEOUT_SECONDS": str(timeout), "ALERT_TOPIC_ARN": cloud.topic_arn,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY, "POWERTOOLS_SERVICE_NAME": "HealthCheck",
    }
    if record:
        env |= {"RESULTS_TABLE_NAME": RESULTS, "RESULT_TTL_SECONDS": "3600"}
    return load_handler("scheduled_service", "checker", env=env)


def check(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "expected_status": [200], "max_latency_ms": 2000, "body_contains": None, **extra}


def scheduled(event_id: str = EVENT["id"]) -> dict[str, Any]:
    return {**EVENT, "id": event_id}


def test_healthy_site_raises_no_alert_and_records_every_result(cloud, site) -> None:
    module = checker(cloud, [
        check("Home", site.url("/"), body_contains="Welcome"),
        check("Health", site.url("/health"), expected_status=[200, 204]),
    ])
    summary = module.handler(scheduled(), Context())
    assert summary["checked"] == 2
    assert summary["failed"] == []
    assert summary["scheduled_for"] == "2026-11-23T12:00:00+00:00"
    assert cloud.alerts() == []
    rows = cloud.results.scan()["Items"]
    assert sorted((r["check"], r["ok"], int(r["status"])) for r in rows) == [("Health", True, 204), ("Home", True, 200)]
    assert all(r["scheduled_for"] == "2026-11-23T12:00:00+00:00" and r["reasons"] == [] for r in rows)
    assert len({r["checked_at"] for r in rows}) == 1  # one run, one timestamp
    assert site.hits == {"/": 1, "/health": 1}


@pytest.mark.parametrize(
    ("path", "extra", "reason"),
    [
        ("/broken", {}, "status 500 not in [200]"),
        ("/gone", {}, "status 404 not in [200]"),
        ("/maintenance", {"body_contains": "Welcome"}, "body does not contain 'Welcome'"),
        ("/slow", {"max_latency_ms": 100}, "ms above 100 ms"),
        ("/hang", {}, "request failed: "),
    ],
)
def test_each_kind_of_failure_alerts_once_naming_the_url_and_why(cloud, site, path, extra, reason) -> None:
    failing = site.url(path)
    module = checker(cloud, [check("Home", site.url("/")), check("Probe", failing, **extra)], timeout=0.5)
    summary = module.handler(scheduled(), Context())
    assert summary["failed"] == ["Probe"]
    alerts = cloud.alerts()
    assert len(alerts) == 1
    body = alerts[0]["body"]
    assert body["url"] == failing and body["name"] == "Probe"
    assert body["scheduled_for"] == "2026-11-23T12:00:00+00:00" and body["checked_at"].startswith("20")
    assert any(reason in r for r in body["reasons"]), body["reasons"]
    assert alerts[0]["attributes"]["url"]["StringValue"] == failing
    assert alerts[0]["attributes"]["check"]["StringValue"] == "Probe"
    by_check = {r["check"]: r for r in cloud.results.scan()["Items"]}
    assert by_check["Home"]["ok"] is True and by_check["Probe"]["ok"] is False


def test_unreachable_host_is_a_failure_not_a_crash(cloud) -> None:
    with Site() as closed:
        dead = closed.url("/")
    module = checker(cloud, [check("Dead", dead)])
    summary = module.handler(scheduled(), Context())
    assert summary["failed"] == ["Dead"]
    [alert] = cloud.alerts()
    assert alert["body"]["status"] is None and alert["body"]["reasons"][0].startswith("request failed:")


def test_an_expected_error_status_is_healthy(cloud, site) -> None:
    module = checker(cloud, [check("Legacy", site.url("/gone"), expected_status=[404, 410])])
    assert module.handler(scheduled(), Context())["failed"] == []
    assert cloud.alerts() == []


def test_every_failing_check_gets_its_own_alert(cloud, site) -> None:
    module = checker(cloud, [check("A", site.url("/broken")), check("B", site.url("/gone")), check("C", site.url("/"))])
    assert sorted(module.handler(scheduled(), Context())["failed"]) == ["A", "B"]
    assert sorted(a["body"]["name"] for a in cloud.alerts()) == ["A", "B"]


def test_a_redelivered_scheduled_event_checks_and_alerts_once(cloud, site) -> None:
    module = checker(cloud, [check("Broken", site.url("/broken"))])
    first = module.handler(scheduled(), Context())
    again = module.handler(scheduled(), Context())
    assert again == first
    assert site.hits["/broken"] == 1
    assert len(cloud.alerts()) == 1
    assert len(cloud.results.scan()["Items"]) == 1
    # the next scheduled run is a new event: it checks and alerts again
    module.handler(scheduled("0f1e2d3c-0000-4000-8000-000000000001"), Context())
    assert site.hits["/broken"] == 2
    assert len(cloud.alerts()) == 1


def test_results_are_not_recorded_unless_configured(cloud, site) -> None:
    module = checker(cloud, [check("Broken", site.url("/broken"))], record=False)
    assert module.handler(scheduled(), Context())["failed"] == ["Broken"]
    assert cloud.results.scan()["Items"] == []
    assert len(cloud.alerts()) == 1


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"detail-type": "Scheduled Event", "source": "aws.events"}, "IdempotencyKeyError"),  # no id
        ({**EVENT, "time": "yesterday"}, "ValidationError"),
        ({key: value for key, value in EVENT.items() if key != "detail-type"}, "ValidationError"),
        ("not an event", "IdempotencyKeyError"),
    ],
    ids=["no-id", "bad-time", "no-detail-type", "not-an-object"],
)
def test_an_event_that_is_not_a_scheduled_event_fails_before_any_check(cloud, site, event, error) -> None:
    module = checker(cloud, [check("Broken", site.url("/broken"))])
    with pytest.raises(Exception) as raised:
        module.handler(event, Context())
    assert type(raised.value).__name__ == error
    assert site.hits == {}
    assert cloud.alerts() == []
    assert cloud.results.scan()["Items"] == []


def test_invalid_checks_configuration_fails_at_cold_start(cloud) -> None:
    with pytest.raises(Exception, match="validation error"):
        checker(cloud, [{"name": "x", "url": "ftp://nope"}])
