"""Rung 1 for CATALOG 4 StorageFirst: the template properties that make storing-first correct and safe,
for both stores (the demo stack covers SQS only, so the Kinesis variant is also checked by cdk-nag here)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from patterns import core
from patterns.storage_first import (
    KINESIS_RESPONSE_TEMPLATE,
    SQS_REQUEST_TEMPLATE,
    SQS_RESPONSE_TEMPLATE,
    STORE_ERROR_TEMPLATE,
    StorageFirst,
)
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth, with_existing

EXISTING_QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:shared-intake"
EXISTING_STREAM_ARN = "arn:aws:kinesis:us-east-1:111122223333:stream/shared-intake"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/0b6c1f7e-1111-4222-8333-944455556666"
EXISTING_TABLE = "shared-records"
EVENT_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT, required=["event"],
    properties={"event": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING)},
)


class Built(_helpers.Built[StorageFirst]):
    def one(self, kind: str) -> dict[str, Any]:
        found = list(self.resources(kind).values())
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]["Properties"]

    def function_props(self) -> dict[str, Any]:
        return self.resources("AWS::Lambda::Function")[self.logical_id(self.pattern.function)]["Properties"]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = with_existing(stack, props)
        stacks[name] = Built(stack, StorageFirst(stack, "Intake", **resolved))

    add("Sqs")
    add("Kinesis", store="kinesis")
    add("ExistingQueue", existing_queue=lambda s: sqs.Queue.from_queue_attributes(
        s, "Shared", queue_arn=EXISTING_QUEUE_ARN, key_arn=KEY_ARN))
    add("ExistingStream", store="kinesis", existing_stream=lambda s: kinesis.Stream.from_stream_attributes(
        s, "Shared", stream_arn=EXISTING_STREAM_ARN, encryption_key=kms.Key.from_key_arn(s, "Key", KEY_ARN)))
    add("ExistingTable", existing_table=lambda s: ddb.Table.from_table_name(s, "Shared", EXISTING_TABLE))
    add(
        "Swap", handler="index.handler", resource_name="events", request_schema=EVENT_SCHEMA,
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n"),
    )
    add("SqsOptions", max_receive_count=3, batch_size=5, queue_props={"retention_period": Duration.days(4)},
        function_options=core.FunctionOptions(timeout=Duration.seconds(20)), idempotency_ttl=Duration.minutes(10))
    add("OnDemand", store="kinesis", stream_props={"stream_mode": kinesis.StreamMode.ON_DEMAND})
    add("KinesisOptions", store="kinesis", retry_attempts=7, batch_size=50, partition_key="$input.path('$.kind')",
        stream_props={"retention_period": Duration.hours(48)})
    return synth(stacks)


# --- no Lambda in the request path ------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["Sqs", "Kinesis"])
def test_the_api_integrates_the_store_directly_with_no_function_in_the_request_path(built, stack: str) -> None:
    b = built[stack]
    method = b.one("AWS::ApiGateway::Method")
    assert method["HttpMethod"] == "POST"
    assert method["AuthorizationType"] == "AWS_IAM"
    assert method["Integration"]["Type"] == "AWS"
    assert method["Integration"]["Credentials"] == b.arn(b.pattern.api_role)
    assert method["Integration"]["PassthroughBehavior"] == "NEVER"
    # The only function is the processor and nothing lets API Gateway invoke it.
    b.template.resource_count_is("AWS::Lambda::Function", 1)
    b.template.resource_count_is("AWS::Lambda::Permission", 0)


@pytest.mark.parametrize("stack", ["Sqs", "Kinesis"])
def test_bodies_are_validated_against_the_model_before_they_are_stored(built, stack: str) -> None:
    b = built[stack]
    method = b.one("AWS::ApiGateway::Method")
    assert method["RequestValidatorId"] == b.ref(b.pattern.validator)
    assert method["RequestModels"] == {"application/json": b.ref(b.pattern.model)}
    b.template.has_resource_properties("AWS::ApiGateway::RequestValidator", {
        "ValidateRequestBody": True, "ValidateRequestParameters": True,
    })
    b.template.has_resource_properties("AWS::ApiGateway::Model", {"Schema": Match.object_like({
        "required": ["kind"], "additionalProperties": False,
        "properties": {"kind": Match.object_like({"type": "string"}), "payload": {"type": "object"}},
    })})
    types = {r["Properties"]["ResponseType"] for r in b.resources("AWS::ApiGateway::GatewayResponse").values()}
    assert types == {"BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS"}


@pytest.mark.parametrize(
    ("stack", "template"), [("Sqs", SQS_RESPONSE_TEMPLATE), ("Kinesis", KINESIS_RESPONSE_TEMPLATE)]
)
def test_the_api_answers_202_with_the_store_id_and_500_without_details_otherwise(built, stack: str, template) -> None:
    method = built[stack].one("AWS::ApiGateway::Method")
    assert method["Integration"]["IntegrationResponses"] == [
        {"StatusCode": "202", "SelectionPattern": "2\\d{2}", "ResponseTemplates": {"application/json": template}},
        {"StatusCode": "500", "ResponseTemplates": {"application/json": STORE_ERROR_TEMPLATE}},
    ]
    assert [r["StatusCode"] for r in method["MethodResponses"]] == ["202", "500"]


# --- SQS store ----------------------------------------------------------------------------------------


def test_sqs_integration_sends_the_body_to_the_queue(built) -> None:
    b = built["Sqs"]
    integration = b.one("AWS::ApiGateway::Method")["Integration"]
    assert integration["IntegrationHttpMethod"] == "POST"
    assert integration["RequestTemplates"] == {"application/json": SQS_REQUEST_TEMPLATE}
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
    }
    uri = integration["Uri"]["Fn::Join"][1]
    assert uri[-4:] == [":sqs:path/", {"Ref": "AWS::AccountId"}, "/",
                        {"Fn::GetAtt": [b.logical_id(b.pattern.queue), "QueueName"]}]


def test_sqs_api_role_may_only_send_messages_to_the_one_queue(built) -> None:
    b = built["Sqs"]
    b.template.has_resource_properties("AWS::IAM::Role", {
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Principal": {"Service": "apigateway.amazonaws.com"},
        })]},
    })
    assert b.statements(b.pattern.api_role) == [{
        "Action": "sqs:SendMessage", "Effect": "Allow",
        "Resource": b.arn(b.pattern.queue),
    }]


def test_sqs_queue_redrives_to_its_dlq_and_outlasts_the_processor(built) -> None:
    for stack, count, visibility in (("Sqs", core.MAX_RECEIVE_COUNT, 60), ("SqsOptions", 3, 120)):
        b = built[stack]
        b.template.resource_count_is("AWS::SQS::Queue", 2)
        b.template.resource_count_is("AWS::Kinesis::Stream", 0)
        props = b.resources("AWS::SQS::Queue")[b.logical_id(b.pattern.queue)]["Properties"]
        dlq_id = b.logical_id(b.pattern.dead_letter_queue)
        assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                          "maxReceiveCount": count}
        assert props["SqsManagedSseEnabled"] is True
        assert props["VisibilityTimeout"] == visibility
    options = built["SqsOptions"]
    queue_props = options.resources("AWS::SQS::Queue")[options.logical_id(options.pattern.queue)]["Properties"]
    assert queue_props["MessageRetentionPeriod"] == 4 * 86400


def test_sqs_processor_reports_batch_item_failures(built) -> None:
    for stack, batch in (("Sqs", 10), ("SqsOptions", 5)):
        b = built[stack]
        mapping = b.one("AWS::Lambda::EventSourceMapping")
        assert mapping["EventSourceArn"] == b.arn(b.pattern.queue)
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == batch
    assert built["Sqs"].function_props()["Handler"] == "processor.sqs_handler"


def test_sqs_alarms_cover_the_processor_the_queue_age_and_the_dlq(built) -> None:
    assert set(built["Sqs"].pattern.alarms) == {
        "ProcessorErrors", "ProcessorThrottles", "QueueOldestMessage", "DeadLetterQueueDepth",
    }
    built["Sqs"].template.resource_count_is("AWS::CloudWatch::Alarm", 4)


# --- Kinesis store --------------------------------------------------------------------------------------


def test_kinesis_integration_puts_the_body_as_one_record(built) -> None:
    b = built["Kinesis"]
    integration = b.one("AWS::ApiGateway::Method")["Integration"]
    assert integration["Uri"]["Fn::Join"][1][-1] == ":kinesis:action/PutRecord"
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-amz-json-1.1'",
    }
    assert integration["RequestTemplates"]["application/json"] == {"Fn::Join": ["", [
        '{"StreamName": "', b.ref(b.pattern.stream),
        '", "Data": "$util.base64Encode($input.body)", "PartitionKey": "$context.requestId"}',
    ]]}


def test_kinesis_partition_key_expression_can_be_chosen(built) -> None:
    template = built["KinesisOptions"].one("AWS::ApiGateway::Method")["Integration"]["RequestTemplates"]
    assert template["application/json"]["Fn::Join"][1][-1].endswith('"PartitionKey": "$input.path(\'$.kind\')"}')


def test_kinesis_api_role_may_only_put_records_into_the_one_stream(built) -> None:
    b = built["Kinesis"]
    assert b.statements(b.pattern.api_role) == [{
        "Action": "kinesis:PutRecord", "Effect": "Allow",
        "Resource": b.arn(b.pattern.stream),
    }]


def test_kinesis_stream_is_encrypted_with_one_shard(built) -> None:
    b = built["Kinesis"]
    b.template.resource_count_is("AWS::SQS::Queue", 1)  # the on-failure queue only
    props = b.one("AWS::Kinesis::Stream")
    assert props["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert props["ShardCount"] == 1
    assert built["KinesisOptions"].one("AWS::Kinesis::Stream")["RetentionPeriodHours"] == 48


def test_kinesis_stream_can_be_on_demand_and_stays_encrypted(built) -> None:
    props = built["OnDemand"].one("AWS::Kinesis::Stream")
    assert props["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert "ShardCount" not in props
    assert props["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}


def test_kinesis_processor_bisects_retries_and_describes_failures_in_the_on_failure_queue(built) -> None:
    for stack, retries, batch in (("Kinesis", 3, 100), ("KinesisOptions", 7, 50)):
        b = built[stack]
        mapping = b.one("AWS::Lambda::EventSourceMapping")
        assert mapping["EventSourceArn"] == b.arn(b.pattern.stream)
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == retries
        assert mapping["BatchSize"] == batch
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert mapping["DestinationConfig"] == {"OnFailure": {
            "Destination": b.arn(b.pattern.dead_letter_queue),
        }}
    assert built["Kinesis"].function_props()["Handler"] == "processor.kinesis_handler"


def test_kinesis_alarms_cover_the_processor_its_iterator_age_and_the_on_failure_queue(built) -> None:
    assert set(built["Kinesis"].pattern.alarms) == {
        "ProcessorErrors", "ProcessorThrottles", "ProcessorIteratorAge", "DeadLetterQueueDepth",
    }


def test_kinesis_variant_has_no_unacknowledged_nag_findings(built) -> None:
    for pack in (AwsSolutionsChecks, ServerlessChecks):
        report = pack().validate_scope(built["Kinesis"].stack)
        assert [v.rule_name for v in report.violations] == []


# --- processor, tables -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["Sqs", "Kinesis"])
def test_processor_may_only_update_its_table_and_use_its_idempotency_table(built, stack: str) -> None:
    b = built[stack]
    statements = b.statements(b.pattern.function.role)  # type: ignore[arg-type]
    table_arn = b.arn(b.pattern.table)
    idem_arn = b.arn(b.pattern.idempotency_table)
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in action_set(s))]
    assert {(frozenset(action_set(s)), str(s["Resource"])) for s in dynamo} == {
        (frozenset({"dynamodb:UpdateItem"}), str(table_arn)),
        (frozenset(core.tables.IDEMPOTENCY_ACTIONS), str(idem_arn)),
    }
    variables = b.function_props()["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == b.ref(b.pattern.table)
    assert variables["IDEMPOTENCY_TABLE_NAME"] == b.ref(b.pattern.idempotency_table)
    assert variables["IDEMPOTENCY_TTL_SECONDS"] == "3600"


def test_tables_are_keyed_by_id_and_idempotency_records_expire(built) -> None:
    b = built["Sqs"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 2)
    b.template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
    })
    assert built["SqsOptions"].function_props()["Environment"]["Variables"]["IDEMPOTENCY_TTL_SECONDS"] == "600"
    assert built["SqsOptions"].function_props()["Timeout"] == 20


def test_grant_invoke_allows_execute_api_on_the_one_method() -> None:
    stack = Stack(new_app(), "Grant")
    pattern = StorageFirst(stack, "Intake")
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    pattern.grant_invoke(caller)
    statements = [
        s for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "execute-api:Invoke"
    ]
    assert len(statements) == 1
    assert statements[0]["Resource"]["Fn::Join"][1][-1] == "/POST/submissions"


# --- existing resources and handler swap ---------------------------------------------------------------------


def test_existing_queue_is_used_and_no_queue_is_created(built) -> None:
    b = built["ExistingQueue"]
    b.template.resource_count_is("AWS::SQS::Queue", 0)
    assert b.pattern.queue.queue_arn == EXISTING_QUEUE_ARN  # type: ignore[union-attr]
    assert b.pattern.dead_letter_queue is None
    uri = b.one("AWS::ApiGateway::Method")["Integration"]["Uri"]["Fn::Join"][1]
    assert uri[-1] == ":sqs:path/111122223333/shared-intake"
    assert b.one("AWS::Lambda::EventSourceMapping")["EventSourceArn"] == EXISTING_QUEUE_ARN
    statements = b.statements(b.pattern.api_role)
    assert {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": EXISTING_QUEUE_ARN} in statements
    kms_statements = [s for s in statements if any(a.startswith("kms:") for a in action_set(s))]
    assert len(kms_statements) == 1 and kms_statements[0]["Resource"] == KEY_ARN
    assert action_set(kms_statements[0]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert set(b.pattern.alarms) == {"ProcessorErrors", "ProcessorThrottles", "QueueOldestMessage"}


def test_existing_stream_is_used_and_no_stream_is_created(built) -> None:
    b = built["ExistingStream"]
    b.template.resource_count_is("AWS::Kinesis::Stream", 0)
    assert b.one("AWS::Lambda::EventSourceMapping")["EventSourceArn"] == EXISTING_STREAM_ARN
    template = b.one("AWS::ApiGateway::Method")["Integration"]["RequestTemplates"]["application/json"]
    assert '"StreamName": "shared-intake"' in template
    statements = b.statements(b.pattern.api_role)
    assert {"Action": "kinesis:PutRecord", "Effect": "Allow", "Resource": EXISTING_STREAM_ARN} in statements
    assert {"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": KEY_ARN} in statements


def test_existing_table_is_used_and_only_the_idempotency_table_is_created(built) -> None:
    b = built["ExistingTable"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 1)
    assert b.function_props()["Environment"]["Variables"]["TABLE_NAME"] == EXISTING_TABLE
    statements = b.statements(b.pattern.function.role)  # type: ignore[arg-type]
    [update] = [s for s in statements if s["Action"] == "dynamodb:UpdateItem"]
    assert f"table/{EXISTING_TABLE}" in str(update["Resource"])


def test_handler_code_resource_name_and_schema_can_be_swapped(built) -> None:
    b = built["Swap"]
    props = b.function_props()
    assert props["Handler"] == "index.handler"
    assert "batchItemFailures" in props["Code"]["ZipFile"]
    assert b.one("AWS::ApiGateway::Resource")["PathPart"] == "events"
    b.template.has_resource_properties("AWS::ApiGateway::Model", {"Schema": Match.object_like({"required": ["event"]})})
    b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })


# --- validation -----------------------------------------------------------------------------------------------


def _build(**props: Any) -> StorageFirst:
    return StorageFirst(Stack(new_app(), "Invalid"), "Intake", **props)


def test_fails_if_store_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"store must be one of 'sqs', 'kinesis' \(given 'sns'\)"):
        _build(store="sns")


@pytest.mark.parametrize("prop", ["stream_props", "retry_attempts", "partition_key"])
def test_fails_if_kinesis_props_are_given_with_sqs(prop: str) -> None:
    value = {"stream_props": {}, "retry_attempts": 2, "partition_key": "$context.requestId"}[prop]
    with pytest.raises(ValueError, match=f"{prop} only apply to store='kinesis' \\(given store='sqs'\\)"):
        _build(**{prop: value})


def test_fails_if_an_existing_stream_is_given_with_sqs() -> None:
    stack = Stack(new_app(), "Invalid")
    stream = kinesis.Stream.from_stream_arn(stack, "S", EXISTING_STREAM_ARN)
    with pytest.raises(ValueError, match=r"existing_stream only apply to store='kinesis'"):
        StorageFirst(stack, "Intake", existing_stream=stream)


@pytest.mark.parametrize("prop", ["queue_props", "max_receive_count"])
def test_fails_if_sqs_props_are_given_with_kinesis(prop: str) -> None:
    value = {"queue_props": {}, "max_receive_count": 3}[prop]
    with pytest.raises(ValueError, match=f"{prop} only apply to store='sqs' \\(given store='kinesis'\\)"):
        _build(store="kinesis", **{prop: value})


def test_fails_naming_every_misplaced_prop() -> None:
    with pytest.raises(ValueError, match=r"queue_props, max_receive_count only apply to store='sqs'.*remove them"):
        _build(store="kinesis", queue_props={}, max_receive_count=2)


def test_fails_if_existing_queue_and_queue_props_are_both_given() -> None:
    stack = Stack(new_app(), "Invalid")
    queue = sqs.Queue.from_queue_arn(stack, "Q", EXISTING_QUEUE_ARN)
    with pytest.raises(ValueError, match="existing_queue and queue_props cannot both be set"):
        StorageFirst(stack, "Intake", existing_queue=queue, queue_props={})


def test_fails_if_existing_queue_comes_with_max_receive_count() -> None:
    stack = Stack(new_app(), "Invalid")
    queue = sqs.Queue.from_queue_arn(stack, "Q", EXISTING_QUEUE_ARN)
    with pytest.raises(ValueError, match="max_receive_count configures the DLQ of a new queue"):
        StorageFirst(stack, "Intake", existing_queue=queue, max_receive_count=3)


def test_fails_if_existing_stream_and_stream_props_are_both_given() -> None:
    stack = Stack(new_app(), "Invalid")
    stream = kinesis.Stream.from_stream_arn(stack, "S", EXISTING_STREAM_ARN)
    with pytest.raises(ValueError, match="existing_stream and stream_props cannot both be set"):
        StorageFirst(stack, "Intake", store="kinesis", existing_stream=stream, stream_props={})


def test_fails_if_existing_table_and_table_props_are_both_given() -> None:
    stack = Stack(new_app(), "Invalid")
    table = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        StorageFirst(stack, "Intake", existing_table=table, table_props={})


def test_fails_if_the_stream_would_be_unencrypted() -> None:
    with pytest.raises(ValueError, match=r"stream_props\['encryption'\] cannot be UNENCRYPTED"):
        _build(store="kinesis", stream_props={"encryption": kinesis.StreamEncryption.UNENCRYPTED})


def test_fails_if_queue_props_override_what_the_pattern_forces() -> None:
    with pytest.raises(ValueError, match=r"queue_props\['dead_letter_queue'\] is set by the pattern"):
        _build(queue_props={"dead_letter_queue": None})


def test_fails_if_the_queue_visibility_is_shorter_than_six_processor_timeouts() -> None:
    with pytest.raises(ValueError, match=r"visibility timeout \(30 s\) must be at least 6x"):
        _build(queue_props={"visibility_timeout": Duration.seconds(30)})


@pytest.mark.parametrize("name", ["", "Submissions", "a/b", "x y"])
def test_fails_if_resource_name_is_not_a_plain_path_part(name: str) -> None:
    with pytest.raises(ValueError, match=f"resource_name must be a lowercase path part .*given {name!r}"):
        _build(resource_name=name)


def test_fails_if_the_sqs_batch_size_exceeds_10_without_a_batching_window() -> None:
    with pytest.raises(ValueError, match=r"batch_size above 10 needs max_batching_window .*\(given 50\)"):
        _build(batch_size=50)


def test_fails_if_the_kinesis_batch_size_or_retries_are_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"batch_size must be between 1 and 10000 \(given 20000\)"):
        _build(store="kinesis", batch_size=20000)
    with pytest.raises(ValueError, match=r"retry_attempts must be between 0 and 10000 \(given -1\)"):
        _build(store="kinesis", retry_attempts=-1)


def test_fails_if_idempotency_ttl_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"idempotency_ttl \(seconds\) must be between 60 and 2.592e\+06"):
        _build(idempotency_ttl=Duration.seconds(5))
