"""Rung 1 for CATALOG 5 PubSub: the template properties that make the fan-out correct and safe."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from patterns import core
from patterns.pub_sub import PubSub, Subscriber
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth, with_existing

STATUS = sns.SubscriptionFilter.string_filter
EXISTING_TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:orders"
EXISTING_TABLE = "shared-order-views"


Built = _helpers.Built[PubSub]


def _subscribers() -> list[Subscriber]:
    return [
        Subscriber(name="VideoWall", handler="subscribers.video_wall"),
        Subscriber(
            name="Leaderboard", handler="subscribers.leaderboard",
            filter_policy={"status": STATUS(allowlist=["ready"])},
        ),
        Subscriber(
            name="Recommendations", handler="subscribers.recommendations", batch_size=5,
            filter_policy_with_message_body={
                "status": sns.FilterOrPolicy.filter(STATUS(allowlist=["placed"])),
            },
            raw_message_delivery=False,
        ),
    ]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> Stack:
        stack = Stack(app, name)
        resolved = with_existing(stack, props)
        stacks[name] = Built(stack, PubSub(stack, "Orders", **resolved))
        return stack

    add("Default", subscribers=_subscribers())
    add("Redrive", subscribers=[Subscriber(name="Only")], max_receive_count=3)
    add(
        "Existing", subscribers=[Subscriber(name="Audit")],
        existing_topic=lambda s: sns.Topic.from_topic_arn(s, "SharedTopic", EXISTING_TOPIC_ARN),
        existing_table=lambda s: ddb.Table.from_table_name(s, "SharedTable", EXISTING_TABLE),
    )
    add("Swap", subscribers=[Subscriber(
        name="Custom", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )])
    return synth(stacks)


# --- resources and fan-out wiring -------------------------------------------------------------


def test_creates_one_queue_dlq_function_and_subscription_per_subscriber(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.resource_count_is("AWS::KMS::Key", 1)
    t.resource_count_is("AWS::SQS::Queue", 6)
    t.resource_count_is("AWS::SNS::Subscription", 3)
    t.resource_count_is("AWS::Lambda::Function", 3)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 3)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    # errors + throttles per function, oldest-message per queue, depth per DLQ
    t.resource_count_is("AWS::CloudWatch::Alarm", 12)
    alarms = set(built["Default"].pattern.alarms)
    assert alarms >= {"VideoWallDepth", "LeaderboardErrors", "RecommendationsOldestMessage"}


def test_topic_is_kms_encrypted_and_tls_only(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    b.template.has_resource_properties("AWS::SNS::TopicPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })])},
    })


def _subscription_of(b: Built, name: str) -> dict[str, Any]:
    queue_id = b.logical_id(b.pattern.queues[name])
    found = [
        r["Properties"] for r in b.resources("AWS::SNS::Subscription").values()
        if r["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert len(found) == 1, f"expected one subscription for {name}, found {len(found)}"
    return found[0]


def test_filter_policy_on_message_attributes(built) -> None:
    sub = _subscription_of(built["Default"], "Leaderboard")
    assert sub["FilterPolicy"] == {"status": ["ready"]}
    assert sub.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"


def test_filter_policy_on_message_body(built) -> None:
    sub = _subscription_of(built["Default"], "Recommendations")
    assert sub["FilterPolicy"] == {"status": ["placed"]}
    assert sub["FilterPolicyScope"] == "MessageBody"


def test_subscriber_without_filter_receives_everything(built) -> None:
    sub = _subscription_of(built["Default"], "VideoWall")
    assert "FilterPolicy" not in sub


def test_raw_message_delivery_is_per_subscriber(built) -> None:
    b = built["Default"]
    assert _subscription_of(b, "VideoWall")["RawMessageDelivery"] is True
    assert _subscription_of(b, "Leaderboard")["RawMessageDelivery"] is True
    assert not _subscription_of(b, "Recommendations").get("RawMessageDelivery", False)


def test_subscription_dlq_is_the_subscribers_own_dlq(built) -> None:
    b = built["Default"]
    topic_id = b.logical_id(b.pattern.topic)
    for name, dlq in b.pattern.dead_letter_queues.items():
        dlq_id = b.logical_id(dlq)
        sub = _subscription_of(b, name)
        assert sub["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert sub["TopicArn"] == {"Ref": topic_id}
        # SNS may write its undeliverable messages there, and only from this topic.
        b.template.has_resource_properties("AWS::SQS::QueuePolicy", {
            "Queues": [{"Ref": dlq_id}],
            "PolicyDocument": {"Statement": Match.array_with([{
                "Action": "sqs:SendMessage", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}},
                "Resource": {"Fn::GetAtt": [dlq_id, "Arn"]},
            }])},
        })


def test_each_queue_redrives_to_its_own_dlq_after_max_receive_count(built) -> None:
    for stack, count in (("Default", core.MAX_RECEIVE_COUNT), ("Redrive", 3)):
        b = built[stack]
        for name, queue in b.pattern.queues.items():
            props = b.resources("AWS::SQS::Queue")[b.logical_id(queue)]["Properties"]
            dlq_id = b.logical_id(b.pattern.dead_letter_queues[name])
            assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                              "maxReceiveCount": count}
            assert props["SqsManagedSseEnabled"] is True
            # 6x the 10 s consumer timeout: a message is never handed to two consumers at once.
            assert props["VisibilityTimeout"] == 60


def test_dead_letter_queues_keep_messages_14_days(built) -> None:
    b = built["Default"]
    for dlq in b.pattern.dead_letter_queues.values():
        props = b.resources("AWS::SQS::Queue")[b.logical_id(dlq)]["Properties"]
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert "RedrivePolicy" not in props


def test_event_sources_report_batch_item_failures_with_the_subscribers_batch_size(built) -> None:
    b = built["Default"]
    mappings = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
        for m in b.resources("AWS::Lambda::EventSourceMapping").values()
    }
    expected = {"VideoWall": 10, "Leaderboard": 10, "Recommendations": 5}
    for name, batch in expected.items():
        props = mappings[b.logical_id(b.pattern.queues[name])]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BatchSize"] == batch
        assert props["FunctionName"] == b.ref(b.pattern.functions[name])


def test_functions_get_their_handler_table_and_subscriber_name(built) -> None:
    b = built["Default"]
    table_ref = b.ref(b.pattern.table)
    for name, handler in (("VideoWall", "subscribers.video_wall"), ("Leaderboard", "subscribers.leaderboard"),
                          ("Recommendations", "subscribers.recommendations")):
        props = b.resources("AWS::Lambda::Function")[b.logical_id(b.pattern.functions[name])]["Properties"]
        assert props["Handler"] == handler
        assert props["Environment"]["Variables"]["TABLE_NAME"] == table_ref
        assert props["Environment"]["Variables"]["SUBSCRIBER_NAME"] == name
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}


def test_subscribers_may_write_the_table_but_not_read_it_and_only_consume_their_own_queue(built) -> None:
    b = built["Default"]
    table_arn = b.arn(b.pattern.table)
    for name, function in b.pattern.functions.items():
        statements = b.statements(function.role)
        on_table = set().union(*(action_set(s) for s in statements if s["Resource"] == table_arn))
        assert "dynamodb:PutItem" in on_table
        assert not on_table & {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem"}
        sqs_resources = [s["Resource"] for s in statements if any(a.startswith("sqs:") for a in action_set(s))]
        assert sqs_resources == [b.arn(b.pattern.queues[name])]


def test_table_keys_and_defaults(built) -> None:
    built["Default"].template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "subscriber", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    })


def test_grant_publish_covers_the_topic_and_its_key(built) -> None:
    app = new_app()
    stack = Stack(app, "Grant")
    pattern = PubSub(stack, "Orders", subscribers=[Subscriber(name="A")])
    publisher = lambda_.Function(
        stack, "Publisher", runtime=core.RUNTIME, handler="index.handler", code=lambda_.Code.from_inline("x=1")
    )
    pattern.grant_publish(publisher)
    statements = [
        s for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    topic_ref = {"Ref": stack.get_logical_id(pattern.topic.node.default_child)}
    assert any(s["Action"] == "sns:Publish" and s["Resource"] == topic_ref for s in statements)
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(pattern.topic.master_key.node.default_child), "Arn"]}
    assert any(action_set(s) == {"kms:GenerateDataKey", "kms:Decrypt"} and s["Resource"] == key_arn for s in statements)
    assert not any(a.endswith("*") for s in statements for a in action_set(s))


# --- existing resources and handler swap ---------------------------------------------------------


def test_existing_topic_is_used_and_no_topic_or_key_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::SNS::Topic", 0)
    b.template.resource_count_is("AWS::KMS::Key", 0)
    assert b.pattern.topic.topic_arn == EXISTING_TOPIC_ARN
    assert _subscription_of(b, "Audit")["TopicArn"] == EXISTING_TOPIC_ARN
    b.template.has_resource_properties("AWS::SQS::QueuePolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Principal": {"Service": "sns.amazonaws.com"},
            "Condition": {"ArnEquals": {"aws:SourceArn": EXISTING_TOPIC_ARN}},
        })])},
    })


def test_existing_table_is_used_and_no_table_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    function = b.pattern.functions["Audit"]
    props = b.resources("AWS::Lambda::Function")[b.logical_id(function)]["Properties"]
    assert props["Environment"]["Variables"]["TABLE_NAME"] == EXISTING_TABLE
    table_statements = [s for s in b.statements(function.role) if "dynamodb:PutItem" in action_set(s)]
    assert len(table_statements) == 1
    assert EXISTING_TABLE in str(table_statements[0]["Resource"])


def test_handler_code_and_handler_can_be_swapped(built) -> None:
    b = built["Swap"]
    props = b.resources("AWS::Lambda::Function")[b.logical_id(b.pattern.functions["Custom"])]["Properties"]
    assert props["Handler"] == "index.handler"
    assert "batchItemFailures" in props["Code"]["ZipFile"]
    # the wiring stays: its queue, DLQ and partial batch responses
    b.template.resource_count_is("AWS::SQS::Queue", 2)
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })


# --- validation ----------------------------------------------------------------------------------


def _build(**props: Any) -> PubSub:
    return PubSub(Stack(new_app(), "Invalid"), "Orders", **props)


def test_fails_if_there_are_no_subscribers() -> None:
    with pytest.raises(ValueError, match="at least one Subscriber"):
        _build(subscribers=[])


def test_fails_if_subscriber_names_repeat() -> None:
    with pytest.raises(ValueError, match=r"must be unique \(given \['A', 'B', 'A'\]\)"):
        _build(subscribers=[Subscriber(name="A"), Subscriber(name="B"), Subscriber(name="A")])


@pytest.mark.parametrize("name", ["", "9lives", "video-wall", "a b"])
def test_fails_if_a_subscriber_name_is_not_alphanumeric(name: str) -> None:
    with pytest.raises(ValueError, match="must start with a letter and contain only letters and digits"):
        _build(subscribers=[Subscriber(name=name)])


def test_fails_if_a_subscriber_sets_both_filter_kinds() -> None:
    both = Subscriber(
        name="Both", filter_policy={"status": STATUS(allowlist=["ready"])},
        filter_policy_with_message_body={"status": sns.FilterOrPolicy.filter(STATUS(allowlist=["ready"]))},
    )
    with pytest.raises(ValueError, match="'Both': filter_policy and filter_policy_with_message_body cannot both"):
        _build(subscribers=[both])


def test_fails_if_existing_table_and_table_props_are_both_given() -> None:
    stack = Stack(new_app(), "Invalid")
    table = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        PubSub(stack, "Orders", subscribers=[Subscriber(name="A")], existing_table=table, table_props={})


def test_fails_if_max_receive_count_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"max_receive_count must be between 1 and 1000 \(given 0\)"):
        _build(subscribers=[Subscriber(name="A")], max_receive_count=0)


def test_fails_if_a_batch_size_above_10_has_no_batching_window() -> None:
    with pytest.raises(ValueError, match=r"batch_size above 10 needs max_batching_window .*\(given 50\)"):
        _build(subscribers=[Subscriber(name="A", batch_size=50)])


def test_fails_if_the_existing_topic_is_fifo() -> None:
    stack = Stack(new_app(), "Invalid")
    fifo = sns.Topic.from_topic_arn(stack, "Fifo", "arn:aws:sns:us-east-1:111122223333:orders.fifo")
    with pytest.raises(ValueError, match="existing_topic must be a standard topic"):
        PubSub(stack, "Orders", subscribers=[Subscriber(name="A")], existing_topic=fifo)


def _keyed(partition: str, sort: str | None, sort_type: ddb.AttributeType = ddb.AttributeType.STRING) -> Any:
    def make(stack: Stack) -> ddb.Table:
        return ddb.Table(
            stack, "Views", partition_key=ddb.Attribute(name=partition, type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name=sort, type=sort_type) if sort else None,
        )
    return make


@pytest.mark.parametrize(("make", "given"), [
    (_keyed("pk", "sk"), r"partition key 'pk' \(S\) and sort key 'sk' \(S\)"),
    (_keyed("subscriber", None), r"partition key 'subscriber' \(S\) and no sort key"),
    (_keyed("subscriber", "id", ddb.AttributeType.NUMBER), r"sort key 'id' \(N\)"),
])
def test_fails_if_an_existing_table_defined_in_the_app_has_other_keys(make: Any, given: str) -> None:
    # GIVEN a table of the same app whose key schema is not the one the subscriber handlers write
    stack = Stack(new_app(), "Invalid")
    expected = r"existing_table must have partition key 'subscriber' \(S\) and sort key 'id' \(S\).*given .*" + given
    with pytest.raises(ValueError, match=expected):
        PubSub(stack, "Orders", subscribers=[Subscriber(name="A")], existing_table=make(stack))


def test_an_existing_table_defined_in_the_app_with_the_right_keys_is_used() -> None:
    stack = Stack(new_app(), "Valid")
    table = _keyed("subscriber", "id")(stack)
    assert PubSub(stack, "Orders", subscribers=[Subscriber(name="A")], existing_table=table).table is table
