"""Rung 1 for CATALOG 10 ScheduledService: schedule, target DLQ and retries, alert wiring, checks config."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from patterns import core
from patterns.scheduled_service import HealthCheck, ScheduledService
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

HOME = HealthCheck(name="Home", url="https://shop.example.com/", body_contains="Welcome")
API = HealthCheck(url="https://api.example.com/health", expected_status=(200, 204), max_latency=Duration.millis(800))
EXISTING_TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:ops-alerts"
EXISTING_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXISTING_TABLE = "health-history"


Built = _helpers.Built[ScheduledService]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, make=lambda stack: {}) -> None:
        stack = Stack(app, name)
        props = {"checks": [HOME, API], **make(stack)}
        result[name] = Built(stack, ScheduledService(stack, "HealthCheck", **props))

    add("Default")
    add("Custom", lambda s: {
        "schedule": events.Schedule.cron(minute="0/15"), "enabled": False, "request_timeout": Duration.seconds(3),
        "retry_attempts": 5, "max_event_age": Duration.hours(2), "record_results": True,
        "result_retention": Duration.days(7), "table_props": {"table_name": "health-results"},
    })
    add("Existing", lambda s: {
        "existing_alert_topic": sns.Topic.from_topic_attributes(
            s, "OpsAlerts", topic_arn=EXISTING_TOPIC_ARN, key_arn=EXISTING_KEY_ARN
        ),
        "record_results": True,
        "existing_table": ddb.Table.from_table_name(s, "History", EXISTING_TABLE),
    })
    add("Swap", lambda s: {
        "handler_code": lambda_.Code.from_inline("def check(event, context):\n    return {'checked': 0}\n"),
        "handler": "index.check",
    })
    return synth(result)


# --- schedule and target -------------------------------------------------------------------------


def test_default_schedule_runs_every_five_minutes_with_dlq_and_retry_policy(built) -> None:
    b = built["Default"]
    p = b.pattern
    rule = b.props(p.rule)
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["State"] == "ENABLED"
    assert len(rule["Targets"]) == 1
    target = rule["Targets"][0]
    assert target["Arn"] == b.arn(p.function)
    assert target["DeadLetterConfig"] == {"Arn": b.arn(p.dead_letter_queue)}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}


def test_schedule_state_and_retry_policy_are_props(built) -> None:
    b = built["Custom"]
    rule = b.props(b.pattern.rule)
    assert rule["ScheduleExpression"] == "cron(0/15 * * * ? *)"
    assert rule["State"] == "DISABLED"
    assert rule["Targets"][0]["RetryPolicy"] == {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 7200}


@pytest.mark.parametrize(("stack", "age"), [("Default", 3600), ("Custom", 7200)])
def test_runs_failing_inside_the_function_go_to_the_same_dlq(built, stack: str, age: int) -> None:
    b = built[stack]
    p = b.pattern
    b.template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    b.template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "FunctionName": b.ref(p.function),
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": age,
        "DestinationConfig": {"OnFailure": {"Destination": b.arn(p.dead_letter_queue)}},
    })
    sends = [s for s in b.statements(b.pattern.function.role) if "sqs:SendMessage" in action_set(s)]
    assert [s["Resource"] for s in sends] == [b.arn(p.dead_letter_queue)]


def test_lambda_event_age_is_capped_at_its_six_hour_limit() -> None:
    stack = Stack(new_app(), "LongAge")
    ScheduledService(stack, "HealthCheck", checks=[HOME], max_event_age=Duration.hours(20))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {"MaximumEventAgeInSeconds": 6 * 3600})
    template.has_resource_properties("AWS::Events::Rule", {
        "Targets": [Match.object_like({"RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 72000}})],
    })


def test_only_the_rule_may_invoke_the_function_and_fill_the_dlq(built) -> None:
    b = built["Default"]
    p = b.pattern
    rule_arn = b.arn(p.rule)
    b.template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com", "SourceArn": rule_arn,
        "FunctionName": b.arn(p.function),
    })
    b.template.has_resource_properties("AWS::SQS::QueuePolicy", {
        "Queues": [b.ref(p.dead_letter_queue)],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sqs:SendMessage", "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        })])},
    })
    dlq = b.props(p.dead_letter_queue)
    assert dlq["SqsManagedSseEnabled"] is True and dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_resources_and_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Events::Rule", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.resource_count_is("AWS::SQS::Queue", 1)
    t.resource_count_is("AWS::DynamoDB::Table", 1)  # idempotency only: results are not recorded by default
    assert set(built["Default"].pattern.alarms) == {"CheckerErrors", "CheckerThrottles", "DeadLetterQueueDepth"}
    assert built["Default"].pattern.table is None


# --- function configuration and permissions -------------------------------------------------------


def test_checks_and_settings_reach_the_function(built) -> None:
    b = built["Default"]
    env = b.env(b.pattern.function)
    assert json.loads(env["CHECKS"]) == [
        {"name": "Home", "url": "https://shop.example.com/", "expected_status": [200], "max_latency_ms": 2000,
         "body_contains": "Welcome"},
        {"name": "https://api.example.com/health", "url": "https://api.example.com/health",
         "expected_status": [200, 204], "max_latency_ms": 800, "body_contains": None},
    ]
    assert env["REQUEST_TIMEOUT_SECONDS"] == "5"
    assert env["ALERT_TOPIC_ARN"] == b.ref(b.pattern.alert_topic)
    assert env["IDEMPOTENCY_TABLE_NAME"] == b.ref(b.pattern.idempotency_table)
    assert "RESULTS_TABLE_NAME" not in env
    props = b.props(b.pattern.function)
    assert props["Handler"] == "checker.handler"
    assert props["Timeout"] == 10


def test_function_may_publish_alerts_and_keep_idempotency_records_only(built) -> None:
    b = built["Default"]
    p = b.pattern
    statements = b.statements(b.pattern.function.role)
    topic_ref = b.ref(p.alert_topic)
    key_arn = b.arn(p.alert_topic.master_key)
    assert any(action_set(s) == {"sns:Publish"} and s["Resource"] == topic_ref for s in statements)
    assert any(action_set(s) == {"kms:GenerateDataKey", "kms:Decrypt"} and s["Resource"] == key_arn for s in statements)
    idempotency = [s for s in statements if s["Resource"] == b.arn(p.idempotency_table)]
    assert set().union(*map(action_set, idempotency)) == set(core.tables.IDEMPOTENCY_ACTIONS)
    assert not any("dynamodb:Scan" in action_set(s) or "dynamodb:Query" in action_set(s) for s in statements)


def test_recorded_results_get_a_table_with_ttl_and_put_only_access(built) -> None:
    b = built["Custom"]
    p = b.pattern
    assert p.table is not None
    b.template.resource_count_is("AWS::DynamoDB::Table", 2)
    table = b.props(p.table)
    assert table["KeySchema"] == [{"AttributeName": "check", "KeyType": "HASH"},
                                  {"AttributeName": "checked_at", "KeyType": "RANGE"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["TableName"] == "health-results"
    env = b.env(b.pattern.function)
    assert env["RESULTS_TABLE_NAME"] == b.ref(p.table)
    assert env["RESULT_TTL_SECONDS"] == str(7 * 24 * 3600)
    assert env["REQUEST_TIMEOUT_SECONDS"] == "3"
    on_table = [s for s in b.statements(b.pattern.function.role) if s["Resource"] == b.arn(p.table)]
    assert [action_set(s) for s in on_table] == [{"dynamodb:PutItem"}]


def test_metric_failed_checks_reads_the_handlers_metric(built) -> None:
    metric = built["Default"].pattern.metric_failed_checks(period=Duration.minutes(1))
    assert metric.namespace == "ServerlessPatterns"
    assert metric.metric_name == "FailedChecks"
    assert metric.dimensions == {"service": "HealthCheck"}
    assert metric.statistic == "Sum"
    # the handler's Powertools service name is that dimension
    assert built["Default"].env(built["Default"].pattern.function)["POWERTOOLS_SERVICE_NAME"] == "HealthCheck"


# --- existing resources and handler swap ---------------------------------------------------------


def test_existing_alert_topic_is_used_and_no_topic_or_key_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::SNS::Topic", 0)
    b.template.resource_count_is("AWS::KMS::Key", 0)
    assert b.env(b.pattern.function)["ALERT_TOPIC_ARN"] == EXISTING_TOPIC_ARN
    statements = b.statements(b.pattern.function.role)
    assert any(action_set(s) == {"sns:Publish"} and s["Resource"] == EXISTING_TOPIC_ARN for s in statements)
    assert any(action_set(s) == {"kms:GenerateDataKey", "kms:Decrypt"} and s["Resource"] == EXISTING_KEY_ARN
               for s in statements)


def test_existing_results_table_is_used_and_no_results_table_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 1)  # the idempotency table only
    assert b.env(b.pattern.function)["RESULTS_TABLE_NAME"] == EXISTING_TABLE
    puts = [s for s in b.statements(b.pattern.function.role) if action_set(s) == {"dynamodb:PutItem"}]
    assert len(puts) == 1 and EXISTING_TABLE in json.dumps(puts[0]["Resource"])


def test_handler_code_can_be_swapped(built) -> None:
    b = built["Swap"]
    props = b.props(b.pattern.function)
    assert props["Handler"] == "index.check"
    assert "'checked': 0" in props["Code"]["ZipFile"]
    assert "CHECKS" in props["Environment"]["Variables"]
    b.template.resource_count_is("AWS::Events::Rule", 1)


# --- validation ----------------------------------------------------------------------------------


def _build(**props: Any) -> ScheduledService:
    props.setdefault("checks", [HOME])
    return ScheduledService(Stack(new_app(), "Invalid"), "HealthCheck", **props)


def test_fails_if_there_are_no_checks() -> None:
    with pytest.raises(ValueError, match="checks must name at least one HealthCheck"):
        _build(checks=[])


def test_fails_if_check_names_repeat() -> None:
    twice = [HealthCheck(url="https://a.example.com/"), HealthCheck(url="https://a.example.com/", body_contains="x")]
    with pytest.raises(ValueError, match=r"check names must be unique \(given \['https://a.example.com/'\]"):
        _build(checks=twice)


@pytest.mark.parametrize("url", ["ftp://files.example.com/", "example.com", ""])
def test_fails_if_a_url_is_not_http(url: str) -> None:
    with pytest.raises(ValueError, match="url must start with http:// or https://"):
        _build(checks=[HealthCheck(name="Bad", url=url)])


def test_fails_if_expected_status_is_empty() -> None:
    with pytest.raises(ValueError, match="'Home': expected_status must list at least one status code"):
        _build(checks=[HealthCheck(name="Home", url="https://x.example.com/", expected_status=())])


def test_fails_if_an_expected_status_is_not_an_http_status() -> None:
    with pytest.raises(ValueError, match=r"expected_status must be between 100 and 599 \(given 700\)"):
        _build(checks=[HealthCheck(name="Home", url="https://x.example.com/", expected_status=(200, 700))])


def test_fails_if_max_latency_exceeds_the_request_timeout() -> None:
    slow = HealthCheck(name="Slow", url="https://x.example.com/", max_latency=Duration.seconds(8))
    with pytest.raises(ValueError, match=r"'Slow': max_latency \(8000 ms\) cannot exceed request_timeout \(5000 ms\)"):
        _build(checks=[slow])


def test_fails_if_the_request_timeout_is_not_shorter_than_the_function_timeout() -> None:
    with pytest.raises(ValueError, match=r"request_timeout \(10 s\) must be shorter than the function timeout"):
        _build(request_timeout=Duration.seconds(10))


def test_fails_if_the_request_timeout_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"request_timeout \(seconds\) must be between 0.1 and 60"):
        _build(request_timeout=Duration.seconds(90), function_options=core.FunctionOptions(timeout=Duration.minutes(3)))


def test_fails_if_retry_attempts_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"retry_attempts must be between 0 and 185 \(given 186\)"):
        _build(retry_attempts=186)


@pytest.mark.parametrize("age", [Duration.seconds(30), Duration.hours(25)])
def test_fails_if_max_event_age_is_out_of_range(age: Duration) -> None:
    with pytest.raises(ValueError, match=r"max_event_age \(seconds\) must be between 60 and 86400"):
        _build(max_event_age=age)


def test_fails_if_result_retention_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"result_retention \(seconds\) must be between 3600"):
        _build(record_results=True, result_retention=Duration.minutes(10))


def test_fails_if_a_results_table_is_given_without_record_results() -> None:
    stack = Stack(new_app(), "Invalid")
    table = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match="existing_table is set but record_results is False"):
        ScheduledService(stack, "HealthCheck", checks=[HOME], existing_table=table)
    with pytest.raises(ValueError, match="table_props is set but record_results is False"):
        _build(table_props={"table_name": "x"})


def test_fails_if_existing_table_and_table_props_are_both_given() -> None:
    stack = Stack(new_app(), "Invalid")
    table = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        ScheduledService(stack, "HealthCheck", checks=[HOME], record_results=True, existing_table=table,
                         table_props={})


def test_fails_if_the_checks_do_not_fit_in_the_environment() -> None:
    many = [HealthCheck(name=f"Page{i:03d}", url=f"https://shop.example.com/products/{i:03d}") for i in range(40)]
    with pytest.raises(ValueError, match=r"the checks take \d+ characters of JSON, more than the 3000"):
        _build(checks=many)
