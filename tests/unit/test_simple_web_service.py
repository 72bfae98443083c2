"""Rung 1 for CATALOG 1 SimpleWebService: the template properties that make the item API correct and safe."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from patterns import core
from patterns.simple_web_service import TABLE_ACTIONS, SimpleWebService
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth, with_existing

EXISTING_TABLE = "shared-items"
ORDER_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT, required=["sku"],
    properties={"sku": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING)},
)


class Built(_helpers.Built[SimpleWebService]):
    def methods(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Method properties by (HTTP method, resource logical id)."""
        found = {}
        for props in (r["Properties"] for r in self.resources("AWS::ApiGateway::Method").values()):
            found[(props["HttpMethod"], props["ResourceId"]["Ref"])] = props
        return found


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = with_existing(stack, props)
        stacks[name] = Built(stack, SimpleWebService(stack, "Items", **resolved))

    add("Default")
    add("Existing", existing_table=lambda s: ddb.Table.from_table_name(s, "Shared", EXISTING_TABLE))
    add(
        "Swap", handler="index.handler", resource_name="orders", item_schema=ORDER_SCHEMA,
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {'statusCode': 200}\n"),
        default_page_size=5, max_page_size=10,
    )
    add(
        "Options",
        api_options=core.ApiOptions(stage_name="v1", authorization_type=apigw.AuthorizationType.NONE,
                                    throttling_rate_limit=7, throttling_burst_limit=3),
        function_options=core.FunctionOptions(memory_size=512, timeout=Duration.seconds(5)),
        alarm_options=lambda_alarm_topic(stacks, app),
    )
    return synth(stacks)


def lambda_alarm_topic(stacks: dict[str, Built], app: Any) -> core.AlarmOptions:
    topic_stack = Stack(app, "Alarms")
    return core.AlarmOptions(alarm_topic=sns.Topic(topic_stack, "AlarmTopic", enforce_ssl=True))


# --- resources -------------------------------------------------------------------------------------


def test_creates_one_table_function_api_and_the_item_routes(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::ApiGateway::RestApi", 1)
    t.resource_count_is("AWS::ApiGateway::Resource", 2)
    t.resource_count_is("AWS::ApiGateway::Method", 5)
    t.resource_count_is("AWS::ApiGateway::RequestValidator", 1)
    t.resource_count_is("AWS::ApiGateway::Model", 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert set(built["Default"].pattern.alarms) == {"HandlerErrors", "HandlerThrottles"}
    paths = {r["Properties"]["PathPart"] for r in built["Default"].resources("AWS::ApiGateway::Resource").values()}
    assert paths == {"items", "{id}"}


def test_every_method_is_an_iam_authorized_lambda_proxy_to_the_one_function(built) -> None:
    b = built["Default"]
    function_arn = b.arn(b.pattern.function)
    methods = b.methods()
    assert set(methods) == {
        ("POST", b.logical_id(b.pattern.collection)), ("GET", b.logical_id(b.pattern.collection)),
        ("GET", b.logical_id(b.pattern.item)), ("PUT", b.logical_id(b.pattern.item)),
        ("DELETE", b.logical_id(b.pattern.item)),
    }
    for props in methods.values():
        assert props["AuthorizationType"] == "AWS_IAM"
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert props["Integration"]["IntegrationHttpMethod"] == "POST"
        assert function_arn in props["Integration"]["Uri"]["Fn::Join"][1]


def test_every_method_is_validated_and_post_and_put_bodies_against_the_item_model(built) -> None:
    b = built["Default"]
    validator_ref = b.ref(b.pattern.validator)
    model_ref = b.ref(b.pattern.model)
    for (verb, _), props in b.methods().items():
        assert props["RequestValidatorId"] == validator_ref
        if verb in ("POST", "PUT"):
            assert props["RequestModels"] == {"application/json": model_ref}
        else:
            assert "RequestModels" not in props
    b.template.has_resource_properties("AWS::ApiGateway::RequestValidator", {
        "ValidateRequestBody": True, "ValidateRequestParameters": True,
    })


def test_item_routes_require_the_id_and_the_list_takes_optional_paging_parameters(built) -> None:
    b = built["Default"]
    for (verb, resource), props in b.methods().items():
        if resource == b.logical_id(b.pattern.item):
            assert props["RequestParameters"] == {"method.request.path.id": True}, verb
        elif verb == "GET":
            assert props["RequestParameters"] == {
                "method.request.querystring.limit": False, "method.request.querystring.next_token": False,
            }


def test_item_model_mirrors_the_handler_model(built) -> None:
    built["Default"].template.has_resource_properties("AWS::ApiGateway::Model", {
        "ContentType": "application/json",
        "Schema": {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": "string", "maxLength": 2000},
                "quantity": {"type": "integer", "minimum": 0, "maximum": 1000000},
            },
        },
    })


def test_validation_failures_answer_400_with_the_validators_reason(built) -> None:
    b = built["Default"]
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in b.resources(
        "AWS::ApiGateway::GatewayResponse").values()}
    assert set(responses) == {"BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS"}
    for props in responses.values():
        assert props["StatusCode"] == "400"
        assert "$context.error.validationErrorString" in props["ResponseTemplates"]["application/json"]


def test_stage_has_tracing_throttling_and_access_logs(built) -> None:
    built["Default"].template.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "prod", "TracingEnabled": True,
        "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
        "MethodSettings": [Match.object_like({
            "ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 50, "LoggingLevel": "INFO",
        })],
    })


def test_function_gets_its_table_resource_and_page_sizes(built) -> None:
    for stack, resource, default, maximum in (("Default", "items", "20", "100"), ("Swap", "orders", "5", "10")):
        b = built[stack]
        props = b.resources("AWS::Lambda::Function")[b.logical_id(b.pattern.function)]["Properties"]
        assert props["Environment"]["Variables"] | {"TABLE_NAME": "-"} == {
            "TABLE_NAME": "-", "RESOURCE_NAME": resource, "DEFAULT_PAGE_SIZE": default, "MAX_PAGE_SIZE": maximum,
            "POWERTOOLS_SERVICE_NAME": "simple-web-service", "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    b = built["Default"]
    props = b.resources("AWS::Lambda::Function")[b.logical_id(b.pattern.function)]["Properties"]
    assert props["Environment"]["Variables"]["TABLE_NAME"] == b.ref(b.pattern.table)
    assert props["Handler"] == "app.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_function_may_do_exactly_the_crud_actions_on_its_table_only(built) -> None:
    b = built["Default"]
    table_statements = [
        s for s in b.statements(b.pattern.function.role) if any(a.startswith("dynamodb:") for a in action_set(s))
    ]
    assert len(table_statements) == 1
    assert action_set(table_statements[0]) == set(TABLE_ACTIONS)
    assert table_statements[0]["Resource"] == b.arn(b.pattern.table)


def test_api_gateway_may_invoke_the_function_only_from_its_own_methods(built) -> None:
    b = built["Default"]
    permissions = [r["Properties"] for r in b.resources("AWS::Lambda::Permission").values()]
    assert len(permissions) == 5  # one per method, no test-invoke permissions
    api_id = b.logical_id(b.pattern.api)
    for props in permissions:
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert {"Ref": api_id} in props["SourceArn"]["Fn::Join"][1]
        assert "/test-invoke-stage/" not in str(props["SourceArn"])


def test_table_is_keyed_by_id_on_demand_with_point_in_time_recovery(built) -> None:
    built["Default"].template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    })


def test_url_points_at_the_collection(built) -> None:
    b = built["Default"]
    parts = b.stack.resolve(b.pattern.url)["Fn::Join"][1]
    assert parts[-3:] == ["/", b.ref(b.pattern.api.deployment_stage), "/items"]


def test_grant_invoke_allows_execute_api_on_the_stage_only() -> None:
    stack = Stack(new_app(), "Grant")
    pattern = SimpleWebService(stack, "Items")
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    pattern.grant_invoke(caller)
    statements = [
        s for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "execute-api:Invoke"
    ]
    assert len(statements) == 1
    arn = statements[0]["Resource"]["Fn::Join"][1]
    assert {"Ref": stack.get_logical_id(pattern.api.node.default_child)} in arn
    assert arn[-3:] == ["/", {"Ref": stack.get_logical_id(pattern.api.deployment_stage.node.default_child)}, "/*/*"]


# --- options, existing resources and handler swap -----------------------------------------------


def test_api_and_function_options_are_applied(built) -> None:
    b = built["Options"]
    for props in b.methods().values():
        assert props["AuthorizationType"] == "NONE"
    b.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "v1",
        "MethodSettings": [Match.object_like({"ThrottlingRateLimit": 7, "ThrottlingBurstLimit": 3})],
    })
    b.template.has_resource_properties("AWS::Lambda::Function", {"MemorySize": 512, "Timeout": 5})


def test_alarm_topic_receives_the_alarms(built) -> None:
    alarms = built["Options"].resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2
    for alarm in alarms.values():
        assert len(alarm["Properties"]["AlarmActions"]) == 1


def test_existing_table_is_used_and_no_table_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    props = b.resources("AWS::Lambda::Function")[b.logical_id(b.pattern.function)]["Properties"]
    assert props["Environment"]["Variables"]["TABLE_NAME"] == EXISTING_TABLE
    [statement] = [
        s for s in b.statements(b.pattern.function.role) if any(a.startswith("dynamodb:") for a in action_set(s))
    ]
    assert action_set(statement) == set(TABLE_ACTIONS)
    assert f"table/{EXISTING_TABLE}" in str(statement["Resource"])


def test_handler_code_resource_name_and_schema_can_be_swapped(built) -> None:
    b = built["Swap"]
    props = b.resources("AWS::Lambda::Function")[b.logical_id(b.pattern.function)]["Properties"]
    assert props["Handler"] == "index.handler"
    assert "statusCode" in props["Code"]["ZipFile"]
    paths = {r["Properties"]["PathPart"] for r in b.resources("AWS::ApiGateway::Resource").values()}
    assert paths == {"orders", "{id}"}
    b.template.has_resource_properties("AWS::ApiGateway::Model", {
        "Schema": Match.object_like({"required": ["sku"], "properties": {"sku": {"type": "string"}}}),
    })
    b.template.resource_count_is("AWS::ApiGateway::Method", 5)


# --- validation ---------------------------------------------------------------------------------------


def _build(**props: Any) -> SimpleWebService:
    return SimpleWebService(Stack(new_app(), "Invalid"), "Items", **props)


def test_fails_if_existing_table_and_table_props_are_both_given() -> None:
    stack = Stack(new_app(), "Invalid")
    table = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        SimpleWebService(stack, "Items", existing_table=table, table_props={})


def test_fails_if_table_props_change_the_key() -> None:
    key = ddb.Attribute(name="pk", type=ddb.AttributeType.STRING)
    with pytest.raises(ValueError, match=r"table_props\['partition_key'\] is set by the pattern"):
        _build(table_props={"partition_key": key})


@pytest.mark.parametrize("name", ["", "Items", "9items", "items/{id}", "my items", "x" * 64])
def test_fails_if_resource_name_is_not_a_plain_path_part(name: str) -> None:
    with pytest.raises(ValueError, match=f"resource_name must be a lowercase path part .*given {name!r}"):
        _build(resource_name=name)


def test_fails_if_max_page_size_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"max_page_size must be between 1 and 1000 \(given 5000\)"):
        _build(max_page_size=5000)


def test_fails_if_default_page_size_exceeds_max_page_size() -> None:
    with pytest.raises(ValueError, match=r"default_page_size must be between 1 and 10 \(max_page_size\) \(given 20\)"):
        _build(max_page_size=10)
