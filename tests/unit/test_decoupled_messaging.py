"""Rung 1 for CATALOG 2 DecoupledMessaging: the template properties that make producer → queue → consumer
correct and safe (redrive, partial batch responses, least privilege), every existing_* path and every
ValueError."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from patterns import core
from patterns.decoupled_messaging import DecoupledMessaging
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_list, synth

EXISTING_QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:shared-work"
EXISTING_TABLE = "shared-output"
INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n")


class Built(_helpers.Built[DecoupledMessaging]):
    def policy_statements(self, fn: lambda_.Function) -> list[dict[str, Any]]:
        """The statements of the function's one policy."""
        role = self.stack.get_logical_id(fn.role.node.default_child)  # type: ignore[union-attr]
        policies = self.template.find_resources(
            "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}}
        )
        assert len(policies) == 1
        return next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}
    alarm_stack = Stack(app, "AlarmTopicStack")
    alarm_topic = sns.Topic(alarm_stack, "AlarmTopic", enforce_ssl=True)

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = {k: v(stack) if callable(v) else v for k, v in props.items()}
        stacks[name] = Built(stack, DecoupledMessaging(stack, "Messaging", **resolved))

    add("Default")
    add(
        "Existing",
        existing_queue=lambda s: sqs.Queue.from_queue_arn(s, "SharedQueue", EXISTING_QUEUE_ARN),
        existing_table=lambda s: ddb.Table.from_table_name(s, "SharedTable", EXISTING_TABLE),
    )
    add(
        "Tuned",
        queue_props={"retention_period": Duration.days(2)},
        table_props={"deletion_protection": True},
        batch_size=100,
        max_batching_window=Duration.seconds(5),
        max_concurrency=4,
        max_receive_count=3,
        idempotency_ttl=Duration.hours(6),
        function_options=core.FunctionOptions(memory_size=512, timeout=Duration.seconds(20)),
        alarm_options=core.AlarmOptions(alarm_topic=alarm_topic),
    )
    add(
        "Swap",
        producer_code=INLINE, producer_handler="index.produce",
        consumer_code=INLINE, consumer_handler="index.consume",
    )
    return synth(stacks)


# -- the default wiring -------------------------------------------------------------------------


def test_creates_queue_dlq_two_functions_and_two_tables(built: dict[str, Built]) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::SQS::Queue", 2)
    t.resource_count_is("AWS::Lambda::Function", 2)
    t.resource_count_is("AWS::DynamoDB::Table", 2)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)


def test_queue_redrives_to_its_dlq_after_five_receives_and_outlasts_the_consumer(built: dict[str, Built]) -> None:
    b = built["Default"]
    queue = b.template.to_json()["Resources"][b.logical_id(b.pattern.queue)]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": b.arn(b.pattern.dead_letter_queue),
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] == 60  # 6x the 10 s consumer timeout
    assert queue["SqsManagedSseEnabled"] is True
    dlq = b.template.to_json()["Resources"][b.logical_id(b.pattern.dead_letter_queue)]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_queues_refuse_plain_http(built: dict[str, Built]) -> None:
    policies = built["Default"].template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_consumer_reads_the_queue_in_batches_of_ten_with_partial_batch_responses(built: dict[str, Built]) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": b.arn(b.pattern.queue),
        "FunctionName": b.ref(b.pattern.consumer),
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": Match.absent(),
        "MaximumBatchingWindowInSeconds": Match.absent(),
    })


def test_functions_run_the_bundled_handlers_with_their_configuration(built: dict[str, Built]) -> None:
    b = built["Default"]
    producer, consumer = b.props(b.pattern.producer), b.props(b.pattern.consumer)
    assert producer["Handler"] == "producer.handler"
    assert consumer["Handler"] == "consumer.handler"
    assert producer["Environment"]["Variables"]["QUEUE_URL"] == b.ref(b.pattern.queue)
    env = consumer["Environment"]["Variables"]
    assert env["TABLE_NAME"] == b.ref(b.pattern.table)
    assert env["IDEMPOTENCY_TABLE_NAME"] == b.ref(b.pattern.idempotency_table)
    assert env["IDEMPOTENCY_TTL_SECONDS"] == "3600"
    for props in (producer, consumer):
        assert props["Runtime"] == core.RUNTIME.name
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "ReservedConcurrentExecutions" not in props


def test_tables_are_keyed_for_the_handlers(built: dict[str, Built]) -> None:
    b = built["Default"]
    resources = b.template.to_json()["Resources"]
    output = resources[b.logical_id(b.pattern.table)]["Properties"]
    assert output["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert output["BillingMode"] == "PAY_PER_REQUEST"
    assert output["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    idempotency = resources[b.logical_id(b.pattern.idempotency_table)]["Properties"]
    assert idempotency["KeySchema"] == [{"AttributeName": core.IDEMPOTENCY_KEY, "KeyType": "HASH"}]
    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": core.IDEMPOTENCY_TTL, "Enabled": True}


def test_producer_may_only_send_to_the_queue(built: dict[str, Built]) -> None:
    b = built["Default"]
    statements = b.policy_statements(b.pattern.producer)
    data = [s for s in statements if not any(a.startswith(("logs:", "xray:")) for a in action_list(s))]
    assert data == [{
        "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
        "Effect": "Allow",
        "Resource": b.arn(b.pattern.queue),
    }]


def test_consumer_may_only_update_output_items_and_keep_idempotency_records(built: dict[str, Built]) -> None:
    b = built["Default"]
    statements = b.policy_statements(b.pattern.consumer)
    by_resource = {
        str(s["Resource"]): sorted(action_list(s)) for s in statements
        if not any(a.startswith(("logs:", "xray:")) for a in action_list(s))
    }
    assert by_resource == {
        str(b.arn(b.pattern.table)): ["dynamodb:UpdateItem"],
        str(b.arn(b.pattern.idempotency_table)): sorted(core.tables.IDEMPOTENCY_ACTIONS),
        str(b.arn(b.pattern.queue)): [
            "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        ],
    }


def test_alarms_cover_both_functions_the_backlog_and_the_dlq(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert sorted(b.pattern.alarms) == [
        "ConsumerErrors", "ConsumerThrottles", "DeadLetterQueueDepth", "ProducerErrors", "ProducerThrottles",
        "QueueOldestMessage",
    ]
    b.template.resource_count_is("AWS::CloudWatch::Alarm", 6)
    b.template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [b.logical_id(b.pattern.dead_letter_queue), "QueueName"]}}
        ],
        "Threshold": 0,
    })


def test_grants_reach_the_producer_and_the_queue() -> None:
    stack = Stack(new_app(), "Grants")
    pattern = DecoupledMessaging(stack, "Messaging")
    caller = lambda_.Function(stack, "Caller", runtime=core.RUNTIME, handler="index.handler", code=INLINE)
    pattern.grant_produce(caller)
    pattern.grant_send_messages(caller)
    role = stack.get_logical_id(caller.role.node.default_child)  # type: ignore[union-attr]
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in action_list(s)}
    assert {"lambda:InvokeFunction", "sqs:SendMessage"} <= actions


# -- props ----------------------------------------------------------------------------------------


def test_tuning_props_reach_queue_event_source_functions_and_alarms(built: dict[str, Built]) -> None:
    b = built["Tuned"]
    resources = b.template.to_json()["Resources"]
    queue = resources[b.logical_id(b.pattern.queue)]["Properties"]
    assert queue["MessageRetentionPeriod"] == 2 * 24 * 3600
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["VisibilityTimeout"] == 120  # 6x the 20 s timeout
    assert resources[b.logical_id(b.pattern.table)]["Properties"]["DeletionProtectionEnabled"] is True
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 100, "MaximumBatchingWindowInSeconds": 5, "ScalingConfig": {"MaximumConcurrency": 4},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    consumer = b.props(b.pattern.consumer)
    assert consumer["MemorySize"] == 512
    assert consumer["Timeout"] == 20
    assert consumer["Environment"]["Variables"]["IDEMPOTENCY_TTL_SECONDS"] == str(6 * 3600)
    for alarm in b.template.find_resources("AWS::CloudWatch::Alarm").values():
        assert len(alarm["Properties"]["AlarmActions"]) == 1


def test_handler_code_and_entry_points_can_be_swapped(built: dict[str, Built]) -> None:
    b = built["Swap"]
    producer, consumer = b.props(b.pattern.producer), b.props(b.pattern.consumer)
    assert producer["Handler"] == "index.produce"
    assert consumer["Handler"] == "index.consume"
    assert "ZipFile" in producer["Code"] and "ZipFile" in consumer["Code"]
    # The swapped code keeps the wiring: same queue, same partial batch responses.
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": b.ref(b.pattern.consumer), "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })


# -- existing resources ----------------------------------------------------------------------------


def test_existing_queue_is_used_and_no_queue_is_created(built: dict[str, Built]) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::SQS::Queue", 0)
    assert b.pattern.dead_letter_queue is None
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": EXISTING_QUEUE_ARN})
    url = b.props(b.pattern.producer)["Environment"]["Variables"]["QUEUE_URL"]
    assert "shared-work" in str(url)
    send = [s for s in b.policy_statements(b.pattern.producer) if "sqs:SendMessage" in action_list(s)]
    assert [s["Resource"] for s in send] == [EXISTING_QUEUE_ARN]
    assert "DeadLetterQueueDepth" not in b.pattern.alarms


def test_existing_table_is_used_and_only_the_idempotency_table_is_created(built: dict[str, Built]) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 1)
    assert b.props(b.pattern.consumer)["Environment"]["Variables"]["TABLE_NAME"] == EXISTING_TABLE
    update = [s for s in b.policy_statements(b.pattern.consumer) if action_list(s) == ["dynamodb:UpdateItem"]]
    assert len(update) == 1
    assert f"table/{EXISTING_TABLE}" in str(update[0]["Resource"])


# -- validation ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> App:
    return new_app()


_count = iter(range(10_000))


def _build(app: App, **props: Any) -> DecoupledMessaging:
    stack = Stack(app, f"Invalid{next(_count)}")
    resolved = {k: v(stack) if callable(v) else v for k, v in props.items()}
    return DecoupledMessaging(stack, "Messaging", **resolved)


def _queue(stack: Stack) -> sqs.IQueue:
    return sqs.Queue.from_queue_arn(stack, "Q", EXISTING_QUEUE_ARN)


def test_fails_if_existing_queue_and_queue_props_are_both_set(app: App) -> None:
    with pytest.raises(ValueError, match="existing_queue and queue_props cannot both be set"):
        _build(app, existing_queue=_queue, queue_props={"retention_period": Duration.days(1)})


def test_fails_if_existing_table_and_table_props_are_both_set(app: App) -> None:
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        _build(app, existing_table=lambda s: ddb.Table.from_table_name(s, "T", "t"), table_props={})


def test_fails_if_existing_queue_and_max_receive_count_are_both_set(app: App) -> None:
    with pytest.raises(ValueError, match="existing_queue and max_receive_count cannot both be set"):
        _build(app, existing_queue=_queue, max_receive_count=3)


def test_fails_if_existing_queue_is_fifo(app: App) -> None:
    with pytest.raises(ValueError, match="must be a standard queue"):
        _build(app, existing_queue=lambda s: sqs.Queue.from_queue_arn(s, "F", EXISTING_QUEUE_ARN + ".fifo"))


@pytest.mark.parametrize("count", [0, 1001])
def test_fails_if_max_receive_count_is_out_of_range(app: App, count: int) -> None:
    with pytest.raises(ValueError, match=rf"max_receive_count must be between 1 and 1000 \(given {count}\)"):
        _build(app, max_receive_count=count)


@pytest.mark.parametrize("size", [0, 10_001])
def test_fails_if_batch_size_is_out_of_range(app: App, size: int) -> None:
    with pytest.raises(ValueError, match=rf"batch_size must be between 1 and 10000 \(given {size}\)"):
        _build(app, batch_size=size)


def test_fails_if_batch_size_above_ten_has_no_batching_window(app: App) -> None:
    with pytest.raises(ValueError, match="batch_size above 10 needs max_batching_window"):
        _build(app, batch_size=50)


def test_fails_if_max_concurrency_is_below_two(app: App) -> None:
    with pytest.raises(ValueError, match=r"max_concurrency must be between 2 and 1000 \(given 1\)"):
        _build(app, max_concurrency=1)


def test_fails_if_visibility_timeout_is_shorter_than_six_consumer_timeouts(app: App) -> None:
    with pytest.raises(ValueError, match=r"visibility timeout \(30 s\) must be at least 6x"):
        _build(app, queue_props={"visibility_timeout": Duration.seconds(30)})


def test_fails_if_queue_props_override_what_the_pattern_forces(app: App) -> None:
    with pytest.raises(ValueError, match=r"queue_props\['dead_letter_queue'\] is set by the pattern"):
        _build(app, queue_props={"dead_letter_queue": None})


def test_fails_if_table_props_change_the_key(app: App) -> None:
    with pytest.raises(ValueError, match=r"table_props\['partition_key'\] is set by the pattern"):
        _build(app, table_props={"partition_key": ddb.Attribute(name="pk", type=ddb.AttributeType.STRING)})


def test_fails_if_idempotency_ttl_is_shorter_than_a_minute(app: App) -> None:
    with pytest.raises(ValueError, match=r"idempotency_ttl \(seconds\) must be between 60"):
        _build(app, idempotency_ttl=Duration.seconds(10))


def test_fails_if_an_existing_queue_defined_in_the_app_has_a_short_visibility_timeout(app: App) -> None:
    short = lambda s: sqs.Queue(s, "Short", visibility_timeout=Duration.seconds(5))  # noqa: E731
    with pytest.raises(ValueError, match=r"existing_queue's visibility timeout \(5 s\) must be at least 6x"):
        _build(app, existing_queue=short)
