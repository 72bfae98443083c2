"""Rung 1 for CATALOG 9 PipesAndFilters: the chain of queues and filters (each step's queue, DLQ,
partial batch responses and least-privilege link to the next step), every synth-time error, and the
``redrive`` helper against moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from moto import mock_aws

from patterns import core
from patterns.pipes_and_filters import PipesAndFilters, Step, redrive
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth, with_existing

EXISTING_TABLE = "shared-pipeline-results"
STEPS = [
    Step(name="Validate", handler="filters.validate"),
    Step(name="Enrich", handler="filters.enrich", batch_size=5, environment={"PRODUCTS_TABLE_NAME": "products"}),
    Step(name="Price", handler="filters.price", timeout=Duration.seconds(20)),
]


class Built(_helpers.Built[PipesAndFilters]):
    def function(self, step: str) -> dict[str, Any]:
        return self.props(self.pattern.functions[step])

    def queue(self, step: str) -> dict[str, Any]:
        return self.props(self.pattern.queues[step])

    def step_statements(self, step: str) -> list[dict[str, Any]]:
        return self.statements(self.pattern.functions[step].role)


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = with_existing(stack, props)
        stacks[name] = Built(stack, PipesAndFilters(stack, "Pipeline", **resolved))

    add("Default", steps=STEPS)
    add("Single", steps=[Step(name="Only", handler="filters.validate")], max_receive_count=2)
    add("Existing", steps=STEPS[:2],
        existing_table=lambda s: ddb.Table.from_table_name(s, "SharedResults", EXISTING_TABLE))
    add("Swap", steps=[Step(
        name="Custom", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )])
    return synth(stacks)


def test_each_step_has_a_queue_a_dlq_and_a_function(built: dict[str, Built]) -> None:
    b = built["Default"]
    b.template.resource_count_is("AWS::SQS::Queue", 6)
    b.template.resource_count_is("AWS::Lambda::Function", 3)
    b.template.resource_count_is("AWS::Lambda::EventSourceMapping", 3)
    # the results table and the idempotency table
    b.template.resource_count_is("AWS::DynamoDB::Table", 2)
    assert b.pattern.steps == ("Validate", "Enrich", "Price")
    assert b.pattern.input_queue is b.pattern.queues["Validate"]


def test_every_step_queue_redrives_to_its_own_dlq(built: dict[str, Built]) -> None:
    b = built["Default"]
    for step in b.pattern.steps:
        queue = b.queue(step)
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": b.arn(b.pattern.dead_letter_queues[step]),
            "maxReceiveCount": core.MAX_RECEIVE_COUNT,
        }
        assert queue["SqsManagedSseEnabled"] is True
    assert len({id(q) for q in b.pattern.dead_letter_queues.values()}) == 3
    assert built["Single"].queue("Only")["RedrivePolicy"]["maxReceiveCount"] == 2


def test_visibility_covers_each_steps_timeout(built: dict[str, Built]) -> None:
    b = built["Default"]
    assert b.queue("Validate")["VisibilityTimeout"] == 60
    assert b.queue("Price")["VisibilityTimeout"] == 120
    assert b.function("Price")["Timeout"] == 20


def test_each_step_consumes_its_queue_with_partial_batch_responses(built: dict[str, Built]) -> None:
    b = built["Default"]
    for step, batch in (("Validate", 10), ("Enrich", 5), ("Price", 10)):
        b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
            "EventSourceArn": b.arn(b.pattern.queues[step]),
            "FunctionName": b.ref(b.pattern.functions[step]),
            "BatchSize": batch,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        })


def test_steps_are_chained_in_order_and_the_last_writes_results(built: dict[str, Built]) -> None:
    b = built["Default"]
    env = {step: b.function(step)["Environment"]["Variables"] for step in b.pattern.steps}
    assert env["Validate"]["NEXT_QUEUE_URL"] == b.ref(b.pattern.queues["Enrich"])
    assert env["Enrich"]["NEXT_QUEUE_URL"] == b.ref(b.pattern.queues["Price"])
    assert env["Price"]["RESULTS_TABLE_NAME"] == b.ref(b.pattern.table)
    assert "RESULTS_TABLE_NAME" not in env["Validate"] and "NEXT_QUEUE_URL" not in env["Price"]
    assert [env[s]["STEP_NAME"] for s in b.pattern.steps] == ["Validate", "Enrich", "Price"]
    idempotency = b.ref(b.pattern.idempotency_table)
    assert all(env[s]["IDEMPOTENCY_TABLE_NAME"] == idempotency for s in b.pattern.steps)
    assert env["Enrich"]["PRODUCTS_TABLE_NAME"] == "products"
    handlers = [b.function(s)["Handler"] for s in b.pattern.steps]
    assert handlers == ["filters.validate", "filters.enrich", "filters.price"]


def test_a_step_may_send_only_to_the_next_queue(built: dict[str, Built]) -> None:
    b = built["Default"]

    def send_targets(step: str) -> list[Any]:
        return [s["Resource"] for s in b.step_statements(step) if "sqs:SendMessage" in json.dumps(s["Action"])]

    assert send_targets("Validate") == [b.arn(b.pattern.queues["Enrich"])]
    assert send_targets("Enrich") == [b.arn(b.pattern.queues["Price"])]
    assert send_targets("Price") == []


def test_only_the_last_step_may_put_results_and_nothing_more(built: dict[str, Built]) -> None:
    b = built["Default"]
    results = b.arn(b.pattern.table)
    for step in ("Validate", "Enrich"):
        assert all(results != s["Resource"] for s in b.step_statements(step))
    on_results = [s for s in b.step_statements("Price") if s["Resource"] == results]
    assert on_results == [{"Action": "dynamodb:PutItem", "Effect": "Allow", "Resource": results}]


def test_every_step_uses_only_the_idempotency_calls_powertools_needs(built: dict[str, Built]) -> None:
    b = built["Default"]
    table = b.arn(b.pattern.idempotency_table)
    for step in b.pattern.steps:
        on_table = [s for s in b.step_statements(step) if s["Resource"] == table]
        assert on_table == [{
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Effect": "Allow", "Resource": table,
        }]
    b.template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": core.IDEMPOTENCY_KEY, "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": core.IDEMPOTENCY_TTL, "Enabled": True},
    })


def test_results_table_is_keyed_by_record_id_with_recovery(built: dict[str, Built]) -> None:
    built["Default"].template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    })


def test_alarms_cover_functions_queues_and_dlqs(built: dict[str, Built]) -> None:
    kinds = ("Errors", "Throttles", "OldestMessage", "Depth")
    expected = {f"{s}{k}" for s in ("Validate", "Enrich", "Price") for k in kinds}
    assert set(built["Default"].pattern.alarms) == expected
    built["Default"].template.resource_count_is("AWS::CloudWatch::Alarm", 12)


def test_existing_table_receives_results_and_no_results_table_is_created(built: dict[str, Built]) -> None:
    b = built["Existing"]
    # THEN only the idempotency table is created
    b.template.resource_count_is("AWS::DynamoDB::Table", 1)
    assert b.pattern.table.table_name == EXISTING_TABLE
    assert b.function("Enrich")["Environment"]["Variables"]["RESULTS_TABLE_NAME"] == EXISTING_TABLE
    puts = [s for s in b.step_statements("Enrich") if s["Action"] == "dynamodb:PutItem"]
    assert len(puts) == 1 and EXISTING_TABLE in json.dumps(puts[0]["Resource"])


def test_handler_code_can_be_swapped(built: dict[str, Built]) -> None:
    function = built["Swap"].function("Custom")
    assert function["Handler"] == "index.handler"
    assert "ZipFile" in function["Code"]


def test_grant_send_and_grant_redrive(built: dict[str, Built]) -> None:
    stack = Stack(new_app(), "Grants")
    pattern = PipesAndFilters(stack, "Pipeline", steps=STEPS)
    producer = iam.Role(stack, "Producer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    operator = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    pattern.grant_send(producer)
    pattern.grant_redrive(operator, "Enrich")
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")

    def statements(role: iam.Role) -> str:
        ref = {"Ref": stack.get_logical_id(role.node.default_child)}
        return json.dumps([p for p in policies.values() if ref in p["Properties"]["Roles"]])

    validate_queue = stack.get_logical_id(pattern.queues["Validate"].node.default_child)
    enrich_queue = stack.get_logical_id(pattern.queues["Enrich"].node.default_child)
    enrich_dlq = stack.get_logical_id(pattern.dead_letter_queues["Enrich"].node.default_child)
    assert "sqs:SendMessage" in statements(producer) and validate_queue in statements(producer)
    assert enrich_queue not in statements(producer)
    assert "sqs:ReceiveMessage" in statements(operator) and "sqs:DeleteMessage" in statements(operator)
    assert enrich_dlq in statements(operator) and enrich_queue in statements(operator)
    assert validate_queue not in statements(operator)
    with pytest.raises(KeyError, match=r"no step 'Ship' \(steps: \['Validate', 'Enrich', 'Price'\]\)"):
        pattern.grant_redrive(operator, "Ship")


def _synth(**props: Any) -> None:
    stack = Stack(new_app(), "Bad")
    PipesAndFilters(stack, "Pipeline", **{k: v(stack) if callable(v) else v for k, v in props.items()})


def test_fails_if_no_steps() -> None:
    with pytest.raises(ValueError, match="steps must list at least one Step"):
        _synth(steps=[])


def test_fails_if_step_names_repeat() -> None:
    with pytest.raises(ValueError, match=r"step names must be unique.*\['Validate', 'Validate'\]"):
        _synth(steps=[Step(name="Validate", handler="a.b"), Step(name="Validate", handler="a.c")])


@pytest.mark.parametrize("name", ["", "1st", "en-rich", "x" * 41])
def test_fails_if_a_step_name_is_invalid(name: str) -> None:
    with pytest.raises(ValueError, match="step names must start with a letter and hold 1-40 letters or digits"):
        _synth(steps=[Step(name=name, handler="a.b")])


def test_fails_if_a_step_has_no_handler() -> None:
    with pytest.raises(ValueError, match="step 'Validate' needs a handler"):
        _synth(steps=[Step(name="Validate", handler="")])


def test_fails_if_a_step_overrides_the_wiring_environment() -> None:
    # The last step gets no NEXT_QUEUE_URL, yet setting it is an error: which a step gets depends on its position.
    expected = (r"steps\[0\]\.environment\['NEXT_QUEUE_URL'\], steps\[0\]\.environment\['STEP_NAME'\] are set by "
                r"the pattern and cannot be overridden: the pattern wires step 'Enrich'")
    with pytest.raises(ValueError, match=expected):
        _synth(steps=[Step(name="Enrich", handler="a.b", environment={"STEP_NAME": "x", "NEXT_QUEUE_URL": "y"})])


def test_fails_if_existing_table_and_table_props() -> None:
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        _synth(steps=STEPS, existing_table=lambda s: ddb.Table.from_table_name(s, "T", EXISTING_TABLE),
               table_props={"table_name": "x"})


def test_fails_if_batch_size_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"batch_size above 10 needs max_batching_window"):
        _synth(steps=[Step(name="Validate", handler="a.b", batch_size=50)])


def test_fails_if_max_receive_count_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"max_receive_count must be between 1 and 1000 \(given 0\)"):
        _synth(steps=STEPS, max_receive_count=0)


@pytest.fixture
def queues() -> Any:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="enrich-dlq")["QueueUrl"]
        queue = sqs.create_queue(QueueName="enrich")["QueueUrl"]
        yield sqs, dlq, queue


def _bodies(sqs: Any, url: str) -> list[str]:
    got: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        got += [m["Body"] for m in batch]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return got


def test_redrive_moves_every_parked_record_back_once(queues: Any) -> None:
    sqs, dlq, queue = queues
    bodies = [json.dumps({"id": f"r{i}", "data": {}, "trail": ["Validate"]}) for i in range(23)]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    assert redrive(sqs, dead_letter_queue_url=dlq, queue_url=queue) == 23
    assert sorted(_bodies(sqs, queue)) == sorted(bodies)
    assert _bodies(sqs, dlq) == []


def test_redrive_keeps_message_attributes(queues: Any) -> None:
    sqs, dlq, queue = queues
    origin = {"origin": {"DataType": "String", "StringValue": "web"}}
    sqs.send_message(QueueUrl=dlq, MessageBody="{}", MessageAttributes=origin)
    redrive(sqs, dead_letter_queue_url=dlq, queue_url=queue)
    message = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"][0]
    assert message["MessageAttributes"]["origin"]["StringValue"] == "web"


def test_redrive_stops_at_max_messages_and_on_an_empty_dlq(queues: Any) -> None:
    sqs, dlq, queue = queues
    assert redrive(sqs, dead_letter_queue_url=dlq, queue_url=queue) == 0
    for i in range(5):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(i))
    assert redrive(sqs, dead_letter_queue_url=dlq, queue_url=queue, max_messages=3) == 3
    assert len(_bodies(sqs, queue)) == 3
    assert len(_bodies(sqs, dlq)) == 2


def test_redrive_leaves_records_it_could_not_send_in_the_dlq(queues: Any) -> None:
    sqs, dlq, _ = queues
    sqs.send_message(QueueUrl=dlq, MessageBody="parked")
    missing = dlq.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        redrive(sqs, dead_letter_queue_url=dlq, queue_url=missing)
    # the record stays parked: it becomes visible again in the DLQ when its visibility lapses
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
        "Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


class _LastEntryFails:
    """A boto3 SQS client whose batch send rejects the last entry, as SQS does per entry."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        sent = self._client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries[:-1])
        failed = {"Id": Entries[-1]["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
        return {"Successful": sent.get("Successful", []), "Failed": [failed]}


def test_redrive_deletes_only_what_was_sent_and_reports_the_rest(queues: Any) -> None:
    sqs, dlq, queue = queues
    for i in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"r{i}")
    with pytest.raises(RuntimeError, match=r"redrive stopped after 2 records: 1 not sent \(InternalError: try again\)"):
        redrive(_LastEntryFails(sqs), dead_letter_queue_url=dlq, queue_url=queue)
    assert sorted(_bodies(sqs, queue)) == ["r0", "r1"]
    # nothing lost: the unsent record is still in the DLQ (in flight until its visibility lapses)
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
        "Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
