"""Rung 1 for CATALOG 3 QueueLoadLeveling: the template properties that make the webhook correct and safe
(concurrency cap, batch limits, redrive, API validation, least privilege), every existing_* path and
every ValueError."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from patterns import core
from patterns.queue_load_leveling import QueueLoadLeveling
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_list, synth

EXISTING_QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:shared-webhook"
EXISTING_STORE = "shared-store"
INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n")
ORDER_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT, required=["orderId"],
    properties={"orderId": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING)},
)


class Built(_helpers.Built[QueueLoadLeveling]):
    def data_grants(self, fn: lambda_.Function) -> dict[str, list[str]]:
        """Actions by resource in the function's policy, beside its own logs and X-Ray."""
        role = self.stack.get_logical_id(fn.role.node.default_child)  # type: ignore[union-attr]
        policies = self.template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
        assert len(policies) == 1
        grants: dict[str, list[str]] = {}
        for statement in next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]:
            actions = action_list(statement)
            if not any(a.startswith(("logs:", "xray:")) for a in actions):
                grants.setdefault(str(statement["Resource"]), []).extend(actions)
        return {k: sorted(v) for k, v in grants.items()}


def _subset(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    return {k: actual.get(k) for k in expected} == expected


@pytest.fixture(scope="module")
def app() -> App:
    return new_app()


@pytest.fixture(scope="module")
def built(app: App) -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    stacks: dict[str, Built] = {}
    alarm_topic = sns.Topic(Stack(app, "AlarmTopicStack"), "AlarmTopic", enforce_ssl=True)

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = {k: v(stack) if callable(v) else v for k, v in props.items()}
        stacks[name] = Built(stack, QueueLoadLeveling(stack, "Webhook", **resolved))

    add("Default")
    add(
        "Existing",
        existing_queue=lambda s: sqs.Queue.from_queue_arn(s, "SharedQueue", EXISTING_QUEUE_ARN),
        existing_store_table=lambda s: ddb.Table.from_table_name(s, "SharedStore", EXISTING_STORE),
    )
    add(
        "Tuned",
        reserved_concurrency=5,
        max_concurrency=3,
        batch_size=20,
        max_batching_window=Duration.seconds(2),
        consumer_timeout=Duration.seconds(30),
        consumer_environment={"STORE_DELAY_MS": "250"},
        queue_props={"retention_period": Duration.days(1)},
        max_receive_count=4,
        store_table_props={"deletion_protection": True},
        status_table_props={"deletion_protection": True},
        status_ttl=Duration.days(1),
        idempotency_ttl=Duration.hours(2),
        request_schema=ORDER_SCHEMA,
        api_options=core.ApiOptions(stage_name="v1", throttling_rate_limit=20, throttling_burst_limit=10),
        function_options=core.FunctionOptions(memory_size=512),
        alarm_options=core.AlarmOptions(alarm_topic=alarm_topic),
    )
    add("Unreserved", reserved_concurrency=None, max_concurrency=3)
    add(
        "Swap",
        intake_code=INLINE, intake_handler="index.intake", consumer_code=INLINE, consumer_handler="index.consume",
    )
    return synth(stacks)


# -- the default wiring -------------------------------------------------------------------------


def test_creates_api_queue_dlq_two_functions_and_three_tables(built: dict[str, Built]) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::SQS::Queue", 2)
    t.resource_count_is("AWS::Lambda::Function", 2)
    t.resource_count_is("AWS::DynamoDB::Table", 3)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.resource_count_is("AWS::ApiGateway::RestApi", 1)
    t.resource_count_is("AWS::ApiGateway::Method", 2)


def test_consumer_is_capped_at_two_concurrent_batches_of_ten(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert b.props(b.pattern.consumer)["ReservedConcurrentExecutions"] == 2
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": b.arn(b.pattern.queue),
        "FunctionName": b.ref(b.pattern.consumer),
        "BatchSize": 10,
        "ScalingConfig": {"MaximumConcurrency": 2},  # = reserved: batches are never throttled
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumBatchingWindowInSeconds": Match.absent(),
    })
    assert "ReservedConcurrentExecutions" not in b.props(b.pattern.intake)


def test_queue_redrives_to_its_dlq_and_outlasts_the_consumer(built: dict[str, Built]) -> None:
    b = built["Default"]
    queue = b.props(b.pattern.queue)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": b.arn(b.pattern.dead_letter_queue),
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] == 60
    assert queue["SqsManagedSseEnabled"] is True


def _method(b: Built, http_method: str, resource: apigw.Resource) -> dict[str, Any]:
    methods = b.template.find_resources("AWS::ApiGateway::Method", {"Properties": {
        "HttpMethod": http_method, "ResourceId": b.ref(resource),
    }})
    assert len(methods) == 1
    return next(iter(methods.values()))["Properties"]


def test_post_requests_validates_a_json_object_body_and_proxies_to_the_intake(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert b.props(b.pattern.requests_resource)["PathPart"] == "requests"
    post = _method(b, "POST", b.pattern.requests_resource)
    assert post["AuthorizationType"] == "AWS_IAM"
    assert post["RequestValidatorId"] == b.ref(b.pattern.validator)
    assert post["RequestModels"] == {"application/json": b.ref(b.pattern.model)}
    assert post["Integration"]["Type"] == "AWS_PROXY"
    assert b.logical_id(b.pattern.intake) in str(post["Integration"]["Uri"])
    schema = b.props(b.pattern.model)["Schema"]
    assert schema["type"] == "object" and schema["minProperties"] == 1
    validator = b.props(b.pattern.validator)
    assert validator["ValidateRequestBody"] is True and validator["ValidateRequestParameters"] is True


def test_get_request_status_requires_the_id_and_proxies_to_the_intake(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert b.props(b.pattern.request_resource)["PathPart"] == "{requestId}"
    get = _method(b, "GET", b.pattern.request_resource)
    assert get["RequestParameters"] == {"method.request.path.requestId": True}
    assert get["AuthorizationType"] == "AWS_IAM"
    assert b.logical_id(b.pattern.intake) in str(get["Integration"]["Uri"])


def test_validation_failures_say_why(built: dict[str, Built]) -> None:
    responses = built["Default"].template.find_resources("AWS::ApiGateway::GatewayResponse")
    assert sorted(r["Properties"]["ResponseType"] for r in responses.values()) == [
        "BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS",
    ]


def test_stage_has_access_logs_tracing_and_throttling(built: dict[str, Built]) -> None:
    built["Default"].template.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "prod", "TracingEnabled": True,
        "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
        "MethodSettings": [Match.object_like({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 50})],
    })


def test_functions_get_their_tables_and_queue_through_the_environment(built: dict[str, Built]) -> None:
    b = built["Default"]
    intake, consumer = b.props(b.pattern.intake), b.props(b.pattern.consumer)
    assert intake["Handler"] == "intake.handler"
    assert consumer["Handler"] == "consumer.handler"
    assert _subset(intake["Environment"]["Variables"], {
        "QUEUE_URL": b.ref(b.pattern.queue),
        "STATUS_TABLE_NAME": b.ref(b.pattern.status_table),
        "STATUS_TTL_SECONDS": str(7 * 24 * 3600),
    })
    assert _subset(consumer["Environment"]["Variables"], {
        "STORE_TABLE_NAME": b.ref(b.pattern.store_table),
        "STATUS_TABLE_NAME": b.ref(b.pattern.status_table),
        "IDEMPOTENCY_TABLE_NAME": b.ref(b.pattern.idempotency_table),
        "IDEMPOTENCY_TTL_SECONDS": "3600",
    })
    assert "STORE_DELAY_MS" not in consumer["Environment"]["Variables"]


def test_tables_are_keyed_for_the_handlers_and_statuses_expire(built: dict[str, Built]) -> None:
    b = built["Default"]
    status = b.props(b.pattern.status_table)
    assert status["KeySchema"] == [{"AttributeName": "requestId", "KeyType": "HASH"}]
    assert status["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert b.props(b.pattern.store_table)["KeySchema"] == [
        {"AttributeName": "requestId", "KeyType": "HASH"}, {"AttributeName": "entryId", "KeyType": "RANGE"},
    ]
    idempotency = b.props(b.pattern.idempotency_table)
    assert idempotency["KeySchema"] == [{"AttributeName": core.IDEMPOTENCY_KEY, "KeyType": "HASH"}]
    for table in (b.pattern.status_table, b.pattern.store_table, b.pattern.idempotency_table):
        assert b.props(table)["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_intake_may_only_enqueue_and_keep_statuses(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert b.data_grants(b.pattern.intake) == {
        str(b.arn(b.pattern.queue)): ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
        str(b.arn(b.pattern.status_table)): ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"],
    }


def test_consumer_may_only_append_to_the_store_and_mark_statuses_done(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert b.data_grants(b.pattern.consumer) == {
        str(b.arn(b.pattern.store_table)): ["dynamodb:PutItem"],
        str(b.arn(b.pattern.status_table)): ["dynamodb:UpdateItem"],
        str(b.arn(b.pattern.idempotency_table)): sorted(core.tables.IDEMPOTENCY_ACTIONS),
        str(b.arn(b.pattern.queue)): [
            "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        ],
    }


def test_alarms_cover_both_functions_the_backlog_and_the_dlq(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert sorted(b.pattern.alarms) == [
        "ConsumerErrors", "ConsumerThrottles", "DeadLetterQueueDepth", "IntakeErrors", "IntakeThrottles",
        "QueueOldestMessage",
    ]
    b.template.resource_count_is("AWS::CloudWatch::Alarm", 6)


def test_url_grant_submit_and_backlog_metric() -> None:
    stack = Stack(new_app(), "Passthroughs")
    pattern = QueueLoadLeveling(stack, "Webhook")
    sender = iam.Role(stack, "Sender", assumed_by=iam.AccountRootPrincipal())
    pattern.grant_submit(sender)
    url = str(stack.resolve(pattern.url))
    assert stack.get_logical_id(pattern.api.node.default_child) in url and url.endswith("'/requests']]}")
    role = stack.get_logical_id(sender.node.default_child)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    statement = next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == "execute-api:Invoke"
    assert len(statement["Resource"]) == 2
    paths = str(statement["Resource"])
    assert "/POST/requests" in paths and "/GET/requests/*" in paths
    metric = pattern.metric_backlog()
    assert metric.metric_name == "ApproximateNumberOfMessagesVisible"


# -- props ----------------------------------------------------------------------------------------


def test_tuning_props_reach_the_consumer_event_source_queue_and_tables(built: dict[str, Built]) -> None:
    b = built["Tuned"]
    consumer = b.props(b.pattern.consumer)
    assert consumer["ReservedConcurrentExecutions"] == 5
    assert consumer["Timeout"] == 30
    assert consumer["MemorySize"] == 512
    assert consumer["Environment"]["Variables"]["STORE_DELAY_MS"] == "250"
    assert consumer["Environment"]["Variables"]["IDEMPOTENCY_TTL_SECONDS"] == str(2 * 3600)
    assert b.props(b.pattern.intake)["Timeout"] == 10  # only the consumer's timeout was raised
    assert b.props(b.pattern.intake)["Environment"]["Variables"]["STATUS_TTL_SECONDS"] == str(24 * 3600)
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 20, "MaximumBatchingWindowInSeconds": 2, "ScalingConfig": {"MaximumConcurrency": 3},
    })
    queue = b.props(b.pattern.queue)
    assert queue["VisibilityTimeout"] == 180  # 6x the 30 s consumer timeout
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 4
    assert queue["MessageRetentionPeriod"] == 24 * 3600
    assert b.props(b.pattern.store_table)["DeletionProtectionEnabled"] is True
    assert b.props(b.pattern.status_table)["DeletionProtectionEnabled"] is True
    assert b.props(b.pattern.model)["Schema"]["required"] == ["orderId"]
    b.template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "v1"})
    for alarm in b.template.find_resources("AWS::CloudWatch::Alarm").values():
        assert len(alarm["Properties"]["AlarmActions"]) == 1


def test_unreserved_consumer_is_capped_by_the_event_source_only(built: dict[str, Built]) -> None:
    b = built["Unreserved"]
    assert "ReservedConcurrentExecutions" not in b.props(b.pattern.consumer)
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 3}})


def test_handler_code_and_entry_points_can_be_swapped(built: dict[str, Built]) -> None:
    b = built["Swap"]
    intake, consumer = b.props(b.pattern.intake), b.props(b.pattern.consumer)
    assert (intake["Handler"], consumer["Handler"]) == ("index.intake", "index.consume")
    assert "ZipFile" in intake["Code"] and "ZipFile" in consumer["Code"]
    assert consumer["ReservedConcurrentExecutions"] == 2  # the swapped code keeps the limits


# -- existing resources ----------------------------------------------------------------------------


def test_existing_queue_is_used_and_no_queue_is_created(built: dict[str, Built]) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::SQS::Queue", 0)
    assert b.pattern.dead_letter_queue is None
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": EXISTING_QUEUE_ARN})
    assert "shared-webhook" in str(b.props(b.pattern.intake)["Environment"]["Variables"]["QUEUE_URL"])
    assert b.data_grants(b.pattern.intake)[EXISTING_QUEUE_ARN] == [
        "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage",
    ]
    assert "DeadLetterQueueDepth" not in b.pattern.alarms


def test_existing_store_table_is_used_and_only_status_and_idempotency_tables_are_created(
    built: dict[str, Built],
) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 2)
    assert b.props(b.pattern.consumer)["Environment"]["Variables"]["STORE_TABLE_NAME"] == EXISTING_STORE
    puts = [r for r, actions in b.data_grants(b.pattern.consumer).items() if actions == ["dynamodb:PutItem"]]
    assert len(puts) == 1 and f"table/{EXISTING_STORE}" in puts[0]


# -- validation ------------------------------------------------------------------------------------

_count = iter(range(10_000))


def _build(app: App, **props: Any) -> QueueLoadLeveling:
    stack = Stack(app, f"Invalid{next(_count)}")
    resolved = {k: v(stack) if callable(v) else v for k, v in props.items()}
    return QueueLoadLeveling(stack, "Webhook", **resolved)


def _queue(stack: Stack) -> sqs.IQueue:
    return sqs.Queue.from_queue_arn(stack, "Q", EXISTING_QUEUE_ARN)


def test_fails_if_neither_reserved_nor_max_concurrency_limits_the_consumer(app: App) -> None:
    with pytest.raises(ValueError, match="reserved_concurrency and max_concurrency cannot both be None"):
        _build(app, reserved_concurrency=None)


def test_fails_if_reserved_concurrency_is_below_two(app: App) -> None:
    with pytest.raises(ValueError, match=r"reserved_concurrency must be at least 2 .*\(given 1\)"):
        _build(app, reserved_concurrency=1, max_concurrency=2)


def test_fails_if_max_concurrency_exceeds_reserved_concurrency(app: App) -> None:
    with pytest.raises(ValueError, match=r"max_concurrency \(4\) cannot exceed reserved_concurrency \(2\)"):
        _build(app, max_concurrency=4)


def test_fails_if_max_concurrency_is_below_two(app: App) -> None:
    with pytest.raises(ValueError, match=r"max_concurrency must be between 2 and 1000 \(given 1\)"):
        _build(app, reserved_concurrency=None, max_concurrency=1)


def test_fails_if_existing_queue_and_queue_props_are_both_set(app: App) -> None:
    with pytest.raises(ValueError, match="existing_queue and queue_props cannot both be set"):
        _build(app, existing_queue=_queue, queue_props={})


def test_fails_if_existing_store_table_and_store_table_props_are_both_set(app: App) -> None:
    with pytest.raises(ValueError, match="existing_store_table and store_table_props cannot both be set"):
        _build(app, existing_store_table=lambda s: ddb.Table.from_table_name(s, "T", "t"), store_table_props={})


def test_fails_if_existing_queue_and_max_receive_count_are_both_set(app: App) -> None:
    with pytest.raises(ValueError, match="existing_queue and max_receive_count cannot both be set"):
        _build(app, existing_queue=_queue, max_receive_count=2)


def test_fails_if_existing_queue_is_fifo(app: App) -> None:
    with pytest.raises(ValueError, match="must be a standard queue"):
        _build(app, existing_queue=lambda s: sqs.Queue.from_queue_arn(s, "F", EXISTING_QUEUE_ARN + ".fifo"))


@pytest.mark.parametrize("size", [0, 10_001])
def test_fails_if_batch_size_is_out_of_range(app: App, size: int) -> None:
    with pytest.raises(ValueError, match=rf"batch_size must be between 1 and 10000 \(given {size}\)"):
        _build(app, batch_size=size)


def test_fails_if_batch_size_above_ten_has_no_batching_window(app: App) -> None:
    with pytest.raises(ValueError, match="batch_size above 10 needs max_batching_window"):
        _build(app, batch_size=11)


def test_fails_if_visibility_timeout_is_shorter_than_six_consumer_timeouts(app: App) -> None:
    with pytest.raises(ValueError, match=r"visibility timeout \(120 s\) must be at least 6x .* \(30 s -> 180 s\)"):
        _build(app, consumer_timeout=Duration.seconds(30), queue_props={"visibility_timeout": Duration.minutes(2)})


def test_fails_if_status_table_props_change_the_key(app: App) -> None:
    with pytest.raises(ValueError, match=r"status_table_props\['partition_key'\] is set by the pattern"):
        _build(app, status_table_props={"partition_key": ddb.Attribute(name="pk", type=ddb.AttributeType.STRING)})


def test_fails_if_status_table_props_change_the_ttl_attribute(app: App) -> None:
    with pytest.raises(ValueError, match=r"status_table_props\['time_to_live_attribute'\] is set by the pattern"):
        _build(app, status_table_props={"time_to_live_attribute": "ttl"})


def test_fails_if_max_receive_count_is_zero(app: App) -> None:
    with pytest.raises(ValueError, match=r"max_receive_count must be between 1 and 1000 \(given 0\)"):
        _build(app, max_receive_count=0)


def test_fails_if_status_ttl_is_shorter_than_a_minute(app: App) -> None:
    with pytest.raises(ValueError, match=r"status_ttl \(seconds\) must be between 60"):
        _build(app, status_ttl=Duration.seconds(5))


def test_fails_if_idempotency_ttl_is_shorter_than_a_minute(app: App) -> None:
    with pytest.raises(ValueError, match=r"idempotency_ttl \(seconds\) must be between 60"):
        _build(app, idempotency_ttl=Duration.seconds(5))


def test_fails_if_reserved_concurrency_is_one_and_names_that_prop_not_max_concurrency(app: App) -> None:
    # GIVEN only reserved_concurrency=1 (max_concurrency defaults to it)
    # THEN the error is about the prop the user set
    with pytest.raises(ValueError, match=r"^reserved_concurrency must be at least 2 .*\(given 1\)"):
        _build(app, reserved_concurrency=1)


def test_fails_if_an_existing_queue_defined_in_the_app_has_a_short_visibility_timeout(app: App) -> None:
    # GIVEN a queue of the same app whose visibility timeout (5 s) is below 6x the consumer timeout (10 s)
    short = lambda s: sqs.Queue(s, "Short", visibility_timeout=Duration.seconds(5))  # noqa: E731
    expected = r"existing_queue's visibility timeout \(5 s\) must be at least 6x .*\(10 s -> 60 s\)"
    with pytest.raises(ValueError, match=expected):
        _build(app, existing_queue=short, max_receive_count=None)


def test_fails_if_an_existing_queue_keeps_the_sqs_default_visibility_timeout(app: App) -> None:
    # SQS gives a queue without a visibility timeout 30 s: below 6x 10 s.
    with pytest.raises(ValueError, match=r"existing_queue's visibility timeout \(30 s\)"):
        _build(app, existing_queue=lambda s: sqs.Queue(s, "Default"), max_receive_count=None)


def test_an_existing_queue_with_a_long_enough_visibility_timeout_is_used(app: App) -> None:
    pattern = _build(
        app, existing_queue=lambda s: sqs.Queue(s, "Long", visibility_timeout=Duration.seconds(60)),
        max_receive_count=None,
    )
    assert pattern.queue.node.id == "Long"
    assert pattern.dead_letter_queue is None
