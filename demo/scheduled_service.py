"""ScheduledServiceDemo: a website health check every 5 minutes, alerts read from a queue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns import core
from patterns.scheduled_service import HealthCheck, ScheduledService


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 10 ScheduledService: EventBridge schedule -> health check -> SNS alert on failure",
    )
    pattern = ScheduledService(
        stack, "HealthCheck",
        checks=[
            HealthCheck(name="Home", url="https://example.com/", body_contains="Example Domain"),
            HealthCheck(name="Status", url="https://example.org/", expected_status=(200, 204)),
        ],
        record_results=True,
        table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    # Where an operator (and the demo driver) reads the alerts: a queue subscribed to the alert topic.
    inbox = core.queue_with_dlq(stack, "AlertInbox")
    pattern.alert_topic.add_subscription(
        subs.SqsSubscription(inbox.queue, raw_message_delivery=True, dead_letter_queue=inbox.dead_letter_queue)
    )
    CfnOutput(stack, "FunctionName", value=pattern.function.function_name)
    CfnOutput(stack, "ScheduleRuleName", value=pattern.rule.rule_name)
    CfnOutput(stack, "AlertTopicArn", value=pattern.alert_topic.topic_arn)
    CfnOutput(stack, "AlertInboxUrl", value=inbox.queue.queue_url)
    CfnOutput(stack, "DeadLetterQueueUrl", value=pattern.dead_letter_queue.queue_url)
    assert pattern.table is not None
    CfnOutput(stack, "ResultsTableName", value=pattern.table.table_name)
    return stack


@dataclass
class Page:
    """What the site answers on one path: status, body and how long it takes."""

    status: int = 200
    body: str = "Welcome"
    delay: float = 0.0


class Site:
    """A tiny website on 127.0.0.1 for the health check to look at, started and stopped by its owner.

    ``pages`` can be changed while it runs (to take a page down); ``hits`` counts GETs per path.
    """

    def __init__(self, pages: dict[str, Page] | None = None) -> None:
        self.pages: dict[str, Page] = dict(pages or {})
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.hits[self.path] += 1
                    page = site.pages.get(self.path, Page(404, "Not Found"))
                time.sleep(page.delay)
                body = page.body.encode()
                try:
                    self.send_response(page.status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the checker gave up waiting
                    pass

            def log_message(self, format: str, *args: object) -> None:  # quiet: no access log on stderr
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-check-site", daemon=True)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def point_checks_at(ctx: DriveContext, checks: list[dict[str, Any]]) -> dict[str, str]:
    """Replace the deployed function's ``CHECKS``; returns its previous variables to restore them."""
    lambda_ = ctx.client("lambda")
    name = ctx.outputs["FunctionName"]
    variables = lambda_.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lambda_.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "CHECKS": json.dumps(checks)}}
    )
    return dict(variables)


def scheduled_event(ctx: DriveContext) -> dict[str, Any]:
    """The event the schedule rule sends its target."""
    rule = ctx.client("events").describe_rule(Name=ctx.outputs["ScheduleRuleName"])
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": rule["Arn"].split(":")[4], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": rule["Arn"].split(":")[3], "resources": [rule["Arn"]], "detail": {},
    }


def read_alerts(ctx: DriveContext, wait: float = 0) -> list[dict[str, Any]]:
    """Read (and delete) the alerts in the inbox queue; wait up to ``wait`` seconds for the first."""
    sqs = ctx.client("sqs")
    url = ctx.outputs["AlertInboxUrl"]
    alerts: list[dict[str, Any]] = []

    def batch() -> list[Any] | None:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            alerts.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages or None

    if ctx.wait_for(batch, timeout=wait):
        while batch():
            pass
    return alerts


def drive(ctx: DriveContext) -> DriveResult:
    """Point the check at a site this driver runs (home page up, status page down) and run it once.

    The run is started by firing the schedule rule itself through the local cloud's control plane;
    where the cloud has none (AWS), by what the rule would do: an asynchronous invoke of the function
    with the rule's Scheduled Event. Expected: one alert, naming the status page's URL.
    """
    pages = {"/": Page(200, "<h1>Welcome</h1>"), "/status": Page(503, "Service Unavailable")}
    with Site(pages) as site:
        checks = [
            {"name": "Home", "url": site.url("/"), "expected_status": [200], "max_latency_ms": 2000,
             "body_contains": "Welcome"},
            {"name": "Status", "url": site.url("/status"), "expected_status": [200, 204], "max_latency_ms": 2000,
             "body_contains": None},
        ]
        previous = point_checks_at(ctx, checks)
        try:
            read_alerts(ctx)  # start from an empty inbox
            if ctx.fire_schedule is not None:
                ctx.fire_schedule(ctx.outputs["ScheduleRuleName"])
            else:
                ctx.client("lambda").invoke(
                    FunctionName=ctx.outputs["FunctionName"], InvocationType="Event",
                    Payload=json.dumps(scheduled_event(ctx)).encode(),
                )
            alerts = read_alerts(ctx, wait=20)
            alerts += read_alerts(ctx, wait=1)  # anything more would be one alert too many
        finally:
            ctx.client("lambda").update_function_configuration(
                FunctionName=ctx.outputs["FunctionName"], Environment={"Variables": previous}
            )
        hits = dict(site.hits)
    named = [a.get("url") for a in alerts]
    return DriveResult(
        sent=f"{'schedule fired' if ctx.fire_schedule else 'scheduled event'}: home page up, status page down",
        outcome=f"{len(alerts)} alert(s) naming {named or 'nothing'}; site hits {hits}",
        ok=named == [site.url("/status")] and hits == {"/": 1, "/status": 1},
    )
