"""A CDK REST API deployed into the local cloud and served by the front door over real HTTP.

One app is synthesized and deployed per module; each test sends requests with ``requests`` and
checks what a client, the functions (the cloud's invocation journal) and the backing services
(SQS, Kinesis) see.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from patterns.local import LocalCloud

from .apigateway_fixtures import (
    ACCOUNT,
    REGION,
    DeployedStack,
    new_stack,
    physical_id,
    sign_in,
    synthesize,
    user_pool,
)
from .conftest import inline_function

API_HANDLER = """
import json
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

app = APIGatewayRestResolver()


@app.get("/items/<item_id>")
def get_item(item_id):
    event = app.current_event
    return {
        "id": item_id,
        "q": event.get_query_string_value("q"),
        "stage": event.request_context.stage,
        "env": (event.stage_variables or {}).get("env"),
        "resource": event.resource,
        "requestId": event.request_context.request_id,
    }


@app.post("/items")
def create_item():
    body = json.dumps({"created": app.current_event.json_body})
    return Response(status_code=201, content_type="application/json", body=body, headers={"X-Created": "yes"})


@app.get("/secure")
def secure():
    return {"authorizer": app.current_event.raw_event["requestContext"]["authorizer"]}


@app.get("/me")
def me():
    return {"claims": app.current_event.raw_event["requestContext"]["authorizer"]["claims"]}


def handler(event, context):
    return app.resolve(event, context)
"""

BAD_HANDLER = """
def handler(event, context):
    if event["pathParameters"]["mode"] == "raise":
        raise ValueError("kaboom")
    return {"statusCode": 200, "body": {"not": "a string"}}
"""

TOKEN_AUTHORIZER = """
def handler(event, context):
    token = event["authorizationToken"]
    if token == "fail":
        raise Exception("Unauthorized")
    effect = "Deny" if token == "deny" else "Allow"
    api_arn = event["methodArn"].split("/")[0]
    return {
        "principalId": "user-" + token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": api_arn + "/*"}],
        },
        "context": {"tier": "gold", "count": 3},
    }
"""

SQS_TEMPLATE = (
    "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
    "&MessageAttribute.1.Name=tenant"
    "&MessageAttribute.1.Value.StringValue=$util.urlEncode($input.params('X-Tenant'))"
    "&MessageAttribute.1.Value.DataType=String"
)
API_KEY = "local-test-key-0123456789"


def _build(app: Any) -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_cognito as cognito
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sqs as sqs

    stack = new_stack(app, "FrontDoorRest")

    def function(name: str, code: str) -> lambda_.Function:
        return inline_function(stack, name, code, runtime=lambda_.Runtime.PYTHON_3_12)

    api_fn, bad_fn, auth_fn = (
        function("ApiFn", API_HANDLER),
        function("BadFn", BAD_HANDLER),
        function("AuthFn", TOKEN_AUTHORIZER),
    )
    api = apigw.RestApi(
        stack,
        "Shop",
        deploy_options=apigw.StageOptions(
            stage_name="test",
            variables={"env": "local"},
            tracing_enabled=True,
            throttling_rate_limit=50,
            access_log_destination=apigw.LogGroupLogDestination(logs.LogGroup(stack, "AccessLogs")),
            access_log_format=apigw.AccessLogFormat.clf(),
        ),
    )
    items = api.root.add_resource("items")
    items.add_method("POST", apigw.LambdaIntegration(api_fn))
    items.add_resource("{item_id}").add_method("GET", apigw.LambdaIntegration(api_fn))

    # Storage-first: API Gateway → SQS with a form-encoded template, validated against a model.
    queue = sqs.Queue(stack, "Orders")
    role = iam.Role(stack, "ApiRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    queue.grant_send_messages(role)
    model = api.add_model(
        "OrderModel",
        content_type="application/json",
        model_name="Order",
        schema=apigw.JsonSchema(
            schema=apigw.JsonSchemaVersion.DRAFT4,
            type=apigw.JsonSchemaType.OBJECT,
            required=["sku", "qty"],
            properties={
                "sku": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
                "qty": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1),
            },
        ),
    )
    validator = api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
    api.root.add_resource("orders").add_method(
        "POST",
        apigw.AwsIntegration(
            service="sqs",
            path=f"{cdk.Aws.ACCOUNT_ID}/{queue.queue_name}",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
                request_templates={"application/json": SQS_TEMPLATE},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="202",
                        response_templates={
                            "application/json": '{"messageId": "$input.path(\'$.SendMessageResponse.SendMessageResult'
                            '.MessageId\')", "requestId": "$context.requestId"}'
                        },
                    ),
                    apigw.IntegrationResponse(
                        status_code="500",
                        selection_pattern="5\\d{2}",
                        response_templates={"application/json": '{"message": "queue unavailable"}'},
                    ),
                ],
            ),
        ),
        method_responses=[apigw.MethodResponse(status_code="202"), apigw.MethodResponse(status_code="500")],
        request_validator=validator,
        request_models={"application/json": model},
        request_parameters={"method.request.header.X-Tenant": True},
    )

    # Storage-first: API Gateway → Kinesis PutRecord with a JSON template.
    stream = kinesis.Stream(stack, "Clicks", shard_count=1, encryption=kinesis.StreamEncryption.UNENCRYPTED)
    stream.grant_write(role)
    kinesis_template = (
        '{"StreamName": "' + stream.stream_name + '", "Data": "$util.base64Encode($input.json(\'$\'))", '
        '"PartitionKey": "$input.path(\'$.user\')"}'
    )
    api.root.add_resource("clicks").add_method(
        "POST",
        apigw.AwsIntegration(
            service="kinesis",
            action="PutRecord",
            options=apigw.IntegrationOptions(
                credentials_role=role,
                request_templates={"application/json": kinesis_template},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200",
                        response_templates={
                            "application/json": '{"shard": "$input.path(\'$.ShardId\')", '
                            '"sequence": "$input.path(\'$.SequenceNumber\')"}'
                        },
                    )
                ],
            ),
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )

    api.root.add_resource("mock").add_method(
        "GET",
        apigw.MockIntegration(
            request_templates={
                "application/json": '{"statusCode": #if($input.params("fail") == "yes")500#{else}200#end}'
            },
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_parameters={"method.response.header.X-Mock": "'yes'"},
                    response_templates={
                        "application/json": '{"name": "$input.params(\'name\')", "stage": "$context.stage"}'
                    },
                ),
                apigw.IntegrationResponse(
                    status_code="503",
                    selection_pattern="5\\d{2}",
                    response_templates={"application/json": '{"message": "mock failure"}'},
                ),
            ],
        ),
        method_responses=[
            apigw.MethodResponse(status_code="200", response_parameters={"method.response.header.X-Mock": True}),
            apigw.MethodResponse(status_code="503"),
        ],
    )

    token_auth = apigw.TokenAuthorizer(stack, "TokenAuth", handler=auth_fn, results_cache_ttl=cdk.Duration.minutes(5))
    api.root.add_resource("secure").add_method("GET", apigw.LambdaIntegration(api_fn), authorizer=token_auth)

    pool_arn = cdk.CfnParameter(stack, "PoolArn", type="String")
    pool = cognito.UserPool.from_user_pool_arn(stack, "Pool", pool_arn.value_as_string)
    cognito_auth = apigw.CognitoUserPoolsAuthorizer(stack, "CognitoAuth", cognito_user_pools=[pool])
    api.root.add_resource("me").add_method("GET", apigw.LambdaIntegration(api_fn), authorizer=cognito_auth)

    api.root.add_resource("broken").add_resource("{mode}").add_method("GET", apigw.LambdaIntegration(bad_fn))

    api.root.add_resource("keyed").add_method(
        "GET",
        apigw.MockIntegration(
            request_templates={"application/json": '{"statusCode": 200}'},
            integration_responses=[
                apigw.IntegrationResponse(status_code="200", response_templates={"application/json": '{"ok": true}'})
            ],
        ),
        api_key_required=True,
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    plan = api.add_usage_plan("Plan", api_stages=[apigw.UsagePlanPerApiStage(api=api, stage=api.deployment_stage)])
    plan.add_api_key(api.add_api_key("Key", api_key_name="local-key", value=API_KEY))
    api.add_gateway_response(
        "Default4xx", type=apigw.ResponseType.DEFAULT_4_XX, response_headers={"Access-Control-Allow-Origin": "'*'"}
    )

    proxy = apigw.LambdaRestApi(
        stack,
        "Proxy",
        handler=api_fn,
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(stage_name="v1"),
        default_cors_preflight_options=apigw.CorsOptions(allow_origins=["https://app.example"]),
    )
    cdk.CfnOutput(stack, "ShopId", value=api.rest_api_id)
    cdk.CfnOutput(stack, "ProxyId", value=proxy.rest_api_id)
    cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)
    cdk.CfnOutput(stack, "StreamName", value=stream.stream_name)
    return ["FrontDoorRest"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return synthesize(_build)["FrontDoorRest"]


class Cloud(DeployedStack):
    """The deployed stack in a running local cloud, with the URLs of its two APIs."""

    STACK = "FrontDoorRest"

    def __init__(self, local: LocalCloud, outputs: dict[str, str], pool: dict[str, str]) -> None:
        super().__init__(local, outputs, pool)
        self.shop = local.api_url(outputs["ShopId"], "test")
        self.proxy = local.api_url(outputs["ProxyId"], "v1")


@pytest.fixture(scope="module")
def cloud(template: dict[str, Any]) -> Iterator[Cloud]:
    with LocalCloud() as local:
        pool = user_pool(local, "web", "alice")
        pool_arn = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool['id']}"
        stack = local.deploy_template(template, Cloud.STACK, parameters={"PoolArn": pool_arn})
        yield Cloud(local, stack.outputs, pool)


def test_lambda_proxy_event_reaches_powertools_with_path_query_stage_and_request_id(cloud: Cloud) -> None:
    response = requests.get(f"{cloud.shop}/items/42?q=x&q=y", headers={"x-Custom-Case": "kept"}, timeout=5)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": "42",
        "q": "y",
        "stage": "test",
        "env": "local",
        "resource": "/items/{item_id}",
        "requestId": response.headers["x-amzn-RequestId"],
    }
    assert response.headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    event = cloud.events("ApiFn")[-1]
    assert event["path"] == "/items/42"
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["multiValueQueryStringParameters"] == {"q": ["x", "y"]}
    assert event["headers"]["x-Custom-Case"] == "kept"
    assert event["requestContext"]["path"] == "/test/items/42"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["isBase64Encoded"] is False


def test_lambda_proxy_response_status_headers_and_body_are_mapped(cloud: Cloud) -> None:
    response = requests.post(f"{cloud.shop}/items", json={"name": "lamp"}, timeout=5)

    assert response.status_code == 201
    assert response.headers["X-Created"] == "yes"
    assert response.json() == {"created": {"name": "lamp"}}


def test_greedy_proxy_resource_and_root_any_method(cloud: Cloud) -> None:
    nested = requests.get(f"{cloud.proxy}/items/7", timeout=5)
    root = requests.delete(f"{cloud.proxy}/", timeout=5)

    assert nested.status_code == 200
    assert nested.json()["resource"] == "/{proxy+}"
    assert cloud.events("ApiFn")[-2]["pathParameters"] == {"proxy": "items/7"}
    assert root.status_code == 404  # Powertools' own "no route" answer: the ANY / method was invoked
    assert cloud.events("ApiFn")[-1]["httpMethod"] == "DELETE"


def test_cors_preflight_mock_method_answers_with_its_integration_response(cloud: Cloud) -> None:
    preflight = requests.options(
        f"{cloud.proxy}/items/7",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        timeout=5,
    )

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Vary"] == "Origin"


def test_unknown_resource_method_stage_and_api(cloud: Cloud) -> None:
    missing = requests.get(f"{cloud.shop}/nothing/here", timeout=5)
    wrong_method = requests.delete(f"{cloud.shop}/items/1", timeout=5)
    wrong_stage = requests.get(cloud.local.api_url(cloud.outputs["ShopId"], "prod") + "/items/1", timeout=5)
    wrong_api = requests.get(cloud.local.api_url("nope123456", "test") + "/items/1", timeout=5)

    assert (missing.status_code, missing.json()) == (403, {"message": "Missing Authentication Token"})
    assert missing.headers["Access-Control-Allow-Origin"] == "*"  # the DEFAULT_4XX gateway response
    assert wrong_method.status_code == 403
    assert (wrong_stage.status_code, wrong_stage.json()) == (403, {"message": "Forbidden"})
    assert wrong_api.status_code == 404


def test_malformed_or_failing_lambda_proxy_gives_502(cloud: Cloud) -> None:
    malformed = requests.get(f"{cloud.shop}/broken/shape", timeout=5)
    failing = requests.get(f"{cloud.shop}/broken/raise", timeout=5)

    assert (malformed.status_code, malformed.json()) == (502, {"message": "Internal server error"})
    assert (failing.status_code, failing.json()) == (502, {"message": "Internal server error"})


def test_storage_first_sqs_template_validation_and_integration_response(cloud: Cloud) -> None:
    order = {"sku": "lamp-1", "qty": 2, "note": 'fragile & "quoted"'}
    missing_header = requests.post(f"{cloud.shop}/orders", json=order, timeout=5)
    invalid_body = requests.post(
        f"{cloud.shop}/orders", json={"sku": "x", "qty": 0}, headers={"X-Tenant": "t"}, timeout=5
    )
    wrong_type = requests.post(
        f"{cloud.shop}/orders", data="sku=x", headers={"X-Tenant": "t", "Content-Type": "text/plain"}, timeout=5
    )
    accepted = requests.post(f"{cloud.shop}/orders", json=order, headers={"X-Tenant": "acme"}, timeout=5)

    assert (missing_header.status_code, missing_header.json()) == (
        400,
        {"message": "Missing required request parameters: [X-Tenant]"},
    )
    assert (invalid_body.status_code, invalid_body.json()) == (400, {"message": "Invalid request body"})
    assert wrong_type.status_code == 415
    assert accepted.status_code == 202
    assert accepted.json()["requestId"] == accepted.headers["x-amzn-RequestId"]
    sqs = cloud.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=cloud.outputs["QueueUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 1
    assert messages[0]["MessageId"] == accepted.json()["messageId"]
    assert json.loads(messages[0]["Body"]) == order
    assert messages[0]["MessageAttributes"]["tenant"]["StringValue"] == "acme"


def test_storage_first_kinesis_put_record_with_json_template(cloud: Cloud) -> None:
    click = {"user": "u-1", "page": "/home"}
    response = requests.post(f"{cloud.shop}/clicks", json=click, timeout=5)

    assert response.status_code == 200
    assert response.json()["shard"] == "shardId-000000000000"
    kinesis = cloud.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=cloud.outputs["StreamName"], ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [json.loads(r["Data"]) for r in records] == [click]
    assert records[0]["PartitionKey"] == "u-1"
    assert records[0]["SequenceNumber"] == response.json()["sequence"]


def test_mock_integration_selects_integration_response_by_status(cloud: Cloud) -> None:
    ok = requests.get(f"{cloud.shop}/mock?name=bob", timeout=5)
    failed = requests.get(f"{cloud.shop}/mock?fail=yes", timeout=5)

    assert (ok.status_code, ok.headers["X-Mock"], ok.json()) == (200, "yes", {"name": "bob", "stage": "test"})
    assert (failed.status_code, failed.json()) == (503, {"message": "mock failure"})


def test_token_authorizer_policy_context_and_cache(cloud: Cloud) -> None:
    before = len(cloud.events("AuthFn"))
    no_token = requests.get(f"{cloud.shop}/secure", timeout=5)
    denied = requests.get(f"{cloud.shop}/secure", headers={"Authorization": "deny"}, timeout=5)
    failed = requests.get(f"{cloud.shop}/secure", headers={"Authorization": "fail"}, timeout=5)
    allowed = requests.get(f"{cloud.shop}/secure", headers={"Authorization": "alice"}, timeout=5)
    again = requests.get(f"{cloud.shop}/secure", headers={"Authorization": "alice"}, timeout=5)

    assert (no_token.status_code, no_token.json()) == (401, {"message": "Unauthorized"})
    assert (denied.status_code, denied.json()) == (
        403,
        {"Message": "User is not authorized to access this resource with an explicit deny"},
    )
    assert failed.status_code == 401
    assert allowed.status_code == again.status_code == 200
    authorizer = allowed.json()["authorizer"]
    assert authorizer["principalId"] == "user-alice"
    assert (authorizer["tier"], authorizer["count"]) == ("gold", 3)
    # deny, fail and alice reached the function; the second alice came from the 300 s cache
    assert len(cloud.events("AuthFn")) - before == 3
    assert cloud.events("AuthFn")[-1]["methodArn"].endswith(f"{cloud.outputs['ShopId']}/test/GET/secure")


def test_cognito_user_pool_authorizer_verifies_moto_issued_tokens(cloud: Cloud) -> None:
    tokens = sign_in(cloud.local, cloud.pool["client"], "alice")
    header, payload, _ = tokens["IdToken"].split(".")
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'not-a-signature').decode().rstrip('=')}"

    ok = requests.get(f"{cloud.shop}/me", headers={"Authorization": tokens["IdToken"]}, timeout=5)
    bad = requests.get(f"{cloud.shop}/me", headers={"Authorization": forged}, timeout=5)
    missing = requests.get(f"{cloud.shop}/me", timeout=5)

    assert ok.status_code == 200
    assert ok.json()["claims"]["cognito:username"] == "alice"
    assert ok.json()["claims"]["aud"] == cloud.pool["client"]
    assert bad.status_code == missing.status_code == 401


def test_api_key_required_checks_key_and_usage_plan(cloud: Cloud) -> None:
    without = requests.get(f"{cloud.shop}/keyed", timeout=5)
    wrong = requests.get(f"{cloud.shop}/keyed", headers={"x-api-key": "nope"}, timeout=5)
    with_key = requests.get(f"{cloud.shop}/keyed", headers={"x-api-key": API_KEY}, timeout=5)

    assert (without.status_code, without.json()) == (403, {"message": "Forbidden"})
    assert wrong.status_code == 403
    assert (with_key.status_code, with_key.json()) == (200, {"ok": True})


def test_deployed_definition_is_visible_through_boto3(cloud: Cloud) -> None:
    client = cloud.client("apigateway")
    api_id = cloud.outputs["ShopId"]
    stage = client.get_stage(restApiId=api_id, stageName="test")
    resources = {r["path"]: r for r in client.get_resources(restApiId=api_id)["items"]}
    method = client.get_method(restApiId=api_id, resourceId=resources["/orders"]["id"], httpMethod="POST")
    validator = client.get_request_validator(restApiId=api_id, requestValidatorId=method["requestValidatorId"])

    assert stage["variables"] == {"env": "local"}
    assert stage["tracingEnabled"] is True
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 50
    assert stage["accessLogSettings"]["destinationArn"].startswith("arn:aws:logs:")
    assert method["requestModels"] == {"application/json": "Order"}
    assert method["methodIntegration"]["requestTemplates"] == {"application/json": SQS_TEMPLATE}
    assert set(method["methodIntegration"]["integrationResponses"]) == {"202", "500"}
    assert (validator["validateRequestBody"], validator["validateRequestParameters"]) == (True, True)
    assert {a["type"] for a in client.get_authorizers(restApiId=api_id)["items"]} == {"TOKEN", "COGNITO_USER_POOLS"}
    assert physical_id(cloud.local, "FrontDoorRest", "Shop", "AWS::ApiGateway::RestApi") == api_id


def test_changes_to_the_deployed_api_are_served_without_restart(cloud: Cloud) -> None:
    client = cloud.client("apigateway")
    api_id = cloud.outputs["ShopId"]
    root = next(r for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    late = client.create_resource(restApiId=api_id, parentId=root["id"], pathPart="late")
    client.put_method(restApiId=api_id, resourceId=late["id"], httpMethod="GET", authorizationType="NONE")
    client.put_integration(
        restApiId=api_id,
        resourceId=late["id"],
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    client.put_integration_response(
        restApiId=api_id,
        resourceId=late["id"],
        httpMethod="GET",
        statusCode="200",
        responseTemplates={"application/json": '{"late": true}'},
    )

    response = requests.get(f"{cloud.shop}/late", timeout=5)

    assert (response.status_code, response.json()) == (200, {"late": True})
