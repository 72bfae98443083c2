"""CATALOG 10 — ScheduledService: EventBridge schedule → health-check function → SNS alert when a
check fails; optionally every result recorded in a table.

The rule's target carries a DLQ and a bounded retry policy, so a run EventBridge could not deliver
is parked, not lost; a run that keeps failing inside the function goes to the same queue through
Lambda's on-failure destination. The function is idempotent on the scheduled event's id: an event delivered
twice runs the checks (and alerts) once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo
from patterns.core import events as core_events

CATALOG_ENTRY = PatternInfo(
    number=10,
    name="ScheduledService",
    construct="ScheduledService",
    module="patterns.scheduled_service",
    demo_stack="ScheduledServiceDemo",
    handlers=("scheduled_service",),
    family="Messaging and integration",
    summary="EventBridge schedule runs website health checks; a failing check publishes an SNS alert",
)

#: Default of ``ScheduledService(schedule=...)``.
DEFAULT_RATE = Duration.minutes(5)
#: EventBridge's limits on a target's retry policy.
_MAX_TARGET_RETRIES = 185
_MAX_TARGET_EVENT_AGE = Duration.hours(24)
#: Lambda's own retries of a run that failed inside the function (its maximum), and its event age limit.
_LAMBDA_RETRY_ATTEMPTS = 2
#: Lambda allows 4 KB of environment variables in all; leave room for the others.
_MAX_CHECKS_JSON = 3000
_MAX_LAMBDA_EVENT_AGE = Duration.hours(6)


@dataclass(frozen=True, kw_only=True)
class HealthCheck:
    """One URL to GET and what makes the answer healthy.

    Defaults: name = the URL, expected status 200, latency up to 2 seconds, any body.
    """

    url: str
    name: str | None = None
    expected_status: tuple[int, ...] = (200,)
    max_latency: Duration = field(default_factory=lambda: Duration.seconds(2))
    body_contains: str | None = None

    @property
    def check_name(self) -> str:
        return self.name or self.url

    def to_json(self) -> dict[str, object]:
        """The shape the handler reads from its ``CHECKS`` variable."""
        return {
            "name": self.check_name,
            "url": self.url,
            "expected_status": list(self.expected_status),
            "max_latency_ms": int(self.max_latency.to_milliseconds()),
            "body_contains": self.body_contains,
        }


class ScheduledService(Construct):
    """A health check that runs on a schedule and alerts only when something is wrong.

    :param checks: the URLs to check (at least one, unique names). Each failing check publishes one
        alert naming its URL and why it failed.
    :param schedule: when to run. Default: ``Schedule.rate(5 minutes)``.
    :param enabled: whether the rule is enabled. Default: True.
    :param request_timeout: how long one HTTP request may take before it counts as failed; must be
        shorter than the function timeout and at least every check's ``max_latency``. Default: 5 seconds.
    :param existing_alert_topic: publish alerts to this topic (if it is encrypted, import it with its key,
        e.g. ``Topic.from_topic_attributes(key_arn=...)``, so the function may use the key). Default: a new
        KMS-encrypted, TLS-only topic.
    :param record_results: also write every result (status, latency, reasons) to a table. Default: False.
    :param existing_table: the results table (string partition key ``check``, string sort key
        ``checked_at``, TTL attribute ``expires_at``); needs ``record_results=True``. Default: a new
        on-demand, encrypted table with point-in-time recovery; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new results table (not its keys). Default: none.
    :param result_retention: how long recorded results are kept (TTL). Default: 30 days.
    :param retry_attempts: EventBridge retries of an undeliverable run, 0-185. Default: 2.
    :param max_event_age: how long EventBridge keeps retrying a run, 60 s-24 h (Lambda's own retries of a
        failing run stop at the same age, at most 6 h). Default: 1 hour.
    :param handler_code: the function's code asset. Default: ``lambdas/scheduled_service``.
    :param handler: the function's handler. Default: ``checker.handler``.
    :param function_options: memory, timeout, log retention... Default: core defaults (10 s timeout).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``rule``, ``function``, ``alert_topic``, ``dead_letter_queue`` (the rule target's DLQ and
    the function's on-failure destination),
    ``idempotency_table``, ``table`` (None unless results are recorded), ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        checks: Sequence[HealthCheck],
        schedule: events.Schedule | None = None,
        enabled: bool = True,
        request_timeout: Duration | None = None,
        existing_alert_topic: sns.ITopic | None = None,
        record_results: bool = False,
        existing_table: ddb.ITable | None = None,
        table_props: dict | None = None,
        result_retention: Duration | None = None,
        retry_attempts: int = core_events.RETRY_ATTEMPTS,
        max_event_age: Duration | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "checker.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        opts = function_options or core.FunctionOptions()
        timeout = request_timeout or Duration.seconds(5)
        retention = result_retention or Duration.days(30)
        event_age = max_event_age or core_events.MAX_EVENT_AGE
        _validate_checks(checks, timeout)
        _validate_timeouts(timeout, opts.timeout)
        core.validation.in_range("retry_attempts", retry_attempts, 0, _MAX_TARGET_RETRIES)
        core.validation.in_range(
            "max_event_age (seconds)", event_age.to_seconds(), 60, _MAX_TARGET_EVENT_AGE.to_seconds()
        )
        core.validation.in_range("result_retention (seconds)", retention.to_seconds(), 3600, 3650 * 24 * 3600)
        if not record_results and (existing_table is not None or table_props is not None):
            given = "existing_table" if existing_table is not None else "table_props"
            raise ValueError(f"{given} is set but record_results is False: set record_results=True to record results")

        self.alert_topic: sns.ITopic = core.topic(self, "AlertTopic", existing_topic=existing_alert_topic)
        self.idempotency_table: ddb.Table = core.idempotency_table(self)
        self.table: ddb.ITable | None = None
        if record_results:
            self.table = core.table(
                self, "Results", partition_key="check", sort_key="checked_at", time_to_live_attribute="expires_at",
                existing_table=existing_table, table_props=table_props,
            )
        checks_json = json.dumps([c.to_json() for c in checks], separators=(",", ":"))
        if len(checks_json) > _MAX_CHECKS_JSON:
            raise ValueError(
                f"the checks take {len(checks_json)} characters of JSON, more than the {_MAX_CHECKS_JSON} that fit "
                "in the function's environment (4 KB in all): split them over several ScheduledService constructs"
            )
        environment = {
            "CHECKS": checks_json,
            "REQUEST_TIMEOUT_SECONDS": f"{timeout.to_milliseconds() / 1000:g}",
            "ALERT_TOPIC_ARN": self.alert_topic.topic_arn,
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
        }
        if self.table is not None:
            environment["RESULTS_TABLE_NAME"] = self.table.table_name
            environment["RESULT_TTL_SECONDS"] = str(int(retention.to_seconds()))
        self._service = construct_id
        self.function: lambda_.Function = core.python_function(
            self, "Checker",
            code=handler_code or core.handler_code("scheduled_service"),
            handler=handler,
            service=self._service,
            invocation="schedule",
            description=f"{construct_id}: scheduled health check of {len(checks)} URL(s)",
            options=opts,
            environment=environment,
        )
        core.grant_publish(self.alert_topic, self.function)
        core.grant_idempotency(self.idempotency_table, self.function)
        if self.table is not None:
            self.table.grant(self.function, "dynamodb:PutItem")

        # One queue for every run that never completed: events EventBridge could not deliver (target
        # DLQ) and runs that kept failing inside the function (Lambda's on-failure destination).
        self.dead_letter_queue: sqs.Queue = core.dead_letter_queue(
            self, "DeadLetterQueue",
            purpose="the schedule rule's target and the function's asynchronous invocations (unfinished runs)",
        )
        self.function.configure_async_invoke(
            retry_attempts=_LAMBDA_RETRY_ATTEMPTS,
            max_event_age=Duration.seconds(min(event_age.to_seconds(), _MAX_LAMBDA_EVENT_AGE.to_seconds())),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        self.rule = events.Rule(
            self, "Schedule",
            schedule=schedule or events.Schedule.rate(DEFAULT_RATE),
            enabled=enabled,
            description=f"Runs the {construct_id} health check",
            targets=[
                core.lambda_target(
                    self.function, dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=retry_attempts, max_event_age=event_age,
                )
            ],
        )
        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Checker": self.function},
            dead_letter_queues={"DeadLetterQueue": self.dead_letter_queue},
        ).alarms

    def metric_failed_checks(self, *, period: Duration | None = None) -> cw.Metric:
        """Failed checks per period (the handler's ``FailedChecks`` metric), e.g. for a dashboard."""
        return cw.Metric(
            namespace="ServerlessPatterns", metric_name="FailedChecks", dimensions_map={"service": self._service},
            statistic="Sum", period=period or Duration.minutes(5),
        )

    def grant_subscribe(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to subscribe to the alert topic."""
        return self.alert_topic.grant_subscribe(grantee)


def _validate_checks(checks: Sequence[HealthCheck], request_timeout: Duration) -> None:
    if not checks:
        raise ValueError("checks must name at least one HealthCheck")
    names = [c.check_name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"check names must be unique (given {duplicates} more than once): set HealthCheck(name=...)")
    limit = request_timeout.to_milliseconds()
    for check in checks:
        if not Token.is_unresolved(check.url) and not check.url.startswith(("http://", "https://")):
            raise ValueError(
                f"check {check.check_name!r}: url must start with http:// or https:// (given {check.url!r})"
            )
        if not check.expected_status:
            raise ValueError(f"check {check.check_name!r}: expected_status must list at least one status code")
        for status in check.expected_status:
            core.validation.in_range(f"check {check.check_name!r}: expected_status", status, 100, 599)
        latency = check.max_latency.to_milliseconds()
        if latency > limit:
            raise ValueError(
                f"check {check.check_name!r}: max_latency ({latency:g} ms) cannot exceed request_timeout "
                f"({limit:g} ms): a slower answer is cut off first; raise request_timeout or lower max_latency"
            )


def _validate_timeouts(request_timeout: Duration, function_timeout: Duration) -> None:
    requested, allowed = request_timeout.to_milliseconds() / 1000, function_timeout.to_milliseconds() / 1000
    core.validation.in_range("request_timeout (seconds)", requested, 0.1, 60)
    if requested >= allowed:
        raise ValueError(
            f"request_timeout ({requested:g} s) must be shorter than the function timeout ({allowed:g} s): checks run "
            "in parallel, then alerts are published; raise FunctionOptions(timeout=...) or lower request_timeout"
        )
