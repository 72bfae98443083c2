"""A CDK HTTP API (apigatewayv2) deployed into the local cloud and served by the front door over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from patterns.local import LocalCloud

from .apigateway_fixtures import REGION, DeployedStack, new_stack, sign_in, synthesize, user_pool
from .conftest import inline_function

HANDLER = """
import json


def handler(event, context):
    if event.get("version") == "1.0":
        return {"statusCode": 200, "body": json.dumps({"version": "1.0", "path": event["path"]})}
    route = event["routeKey"]
    if route == "GET /hello/{name}":
        # No statusCode: API Gateway answers 200 with this dict as JSON (the simplified response).
        return {"hello": event["pathParameters"]["name"], "lambda": event["requestContext"]["authorizer"]["lambda"]}
    if route == "POST /echo":
        return {
            "statusCode": 201,
            "headers": {"x-echo": "1"},
            "cookies": ["a=1", "b=2"],
            "body": json.dumps({
                "got": json.loads(event["body"]),
                "cookies": event.get("cookies"),
                "query": event.get("queryStringParameters"),
            }),
        }
    if route == "GET /jwt":
        return event["requestContext"]["authorizer"]["jwt"]
    return {
        "statusCode": 200,
        "body": json.dumps({"route": route, "rawPath": event["rawPath"], "stage": event["requestContext"]["stage"]}),
    }
"""

AUTHORIZER = """
def handler(event, context):
    allowed = event["headers"].get("authorization") == "letmein"
    return {"isAuthorized": allowed, "context": {"tier": "gold"}}
"""


def _build(app: Any) -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_authorizers as authorizers
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sqs as sqs

    stack = new_stack(app, "FrontDoorHttp")

    def function(name: str, code: str) -> lambda_.Function:
        return inline_function(stack, name, code, runtime=lambda_.Runtime.PYTHON_3_12)

    fn, auth_fn = function("Fn", HANDLER), function("AuthFn", AUTHORIZER)
    api = apigwv2.HttpApi(
        stack,
        "Http",
        default_integration=integrations.HttpLambdaIntegration("Fallback", fn),
        cors_preflight=apigwv2.CorsPreflightOptions(
            allow_origins=["https://app.example"],
            allow_methods=[apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
            allow_headers=["content-type"],
            max_age=cdk.Duration.minutes(10),
        ),
    )
    lambda_auth = authorizers.HttpLambdaAuthorizer(
        "Simple", auth_fn, response_types=[authorizers.HttpLambdaResponseType.SIMPLE]
    )
    api.add_routes(
        path="/hello/{name}",
        methods=[apigwv2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration("Hello", fn),
        authorizer=lambda_auth,
    )
    api.add_routes(
        path="/echo", methods=[apigwv2.HttpMethod.POST], integration=integrations.HttpLambdaIntegration("Echo", fn)
    )
    api.add_routes(
        path="/v1",
        methods=[apigwv2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration(
            "V1", fn, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_1_0
        ),
    )
    issuer = cdk.CfnParameter(stack, "Issuer", type="String")
    audience = cdk.CfnParameter(stack, "Audience", type="String")
    api.add_routes(
        path="/jwt",
        methods=[apigwv2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration("Jwt", fn),
        authorizer=authorizers.HttpJwtAuthorizer(
            "Jwt", issuer.value_as_string, jwt_audience=[audience.value_as_string]
        ),
    )
    queue = sqs.Queue(stack, "Inbox")
    api.add_routes(
        path="/queue",
        methods=[apigwv2.HttpMethod.POST],
        integration=integrations.HttpSqsIntegration("Queue", queue=queue),
    )
    apigwv2.HttpStage(stack, "Beta", http_api=api, stage_name="beta", auto_deploy=True)

    bare = apigwv2.HttpApi(stack, "Bare", create_default_stage=True)
    bare.add_routes(
        path="/ping", methods=[apigwv2.HttpMethod.GET], integration=integrations.HttpLambdaIntegration("Ping", fn)
    )

    cdk.CfnOutput(stack, "ApiId", value=api.api_id)
    cdk.CfnOutput(stack, "BareId", value=bare.api_id)
    cdk.CfnOutput(stack, "Endpoint", value=api.api_endpoint)
    cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)
    return ["FrontDoorHttp"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return synthesize(_build)["FrontDoorHttp"]


class Cloud(DeployedStack):
    """The deployed stack in a running local cloud."""

    STACK = "FrontDoorHttp"

    def __init__(self, local: LocalCloud, outputs: dict[str, str], pool: dict[str, str]) -> None:
        super().__init__(local, outputs, pool)
        self.api = local.api_url(outputs["ApiId"], "$default")


@pytest.fixture(scope="module")
def cloud(template: dict[str, Any]) -> Iterator[Cloud]:
    with LocalCloud() as local:
        pool = user_pool(local, "spa", "bob")
        issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool['id']}"
        stack = local.deploy_template(template, Cloud.STACK, parameters={"Issuer": issuer, "Audience": pool["client"]})
        yield Cloud(local, stack.outputs, pool)


def test_simplified_response_path_parameters_and_simple_lambda_authorizer(cloud: Cloud) -> None:
    allowed = requests.get(f"{cloud.api}/hello/ann", headers={"Authorization": "letmein"}, timeout=5)
    denied = requests.get(f"{cloud.api}/hello/ann", headers={"Authorization": "nope"}, timeout=5)
    missing = requests.get(f"{cloud.api}/hello/ann", timeout=5)

    assert allowed.status_code == 200
    assert allowed.headers["Content-Type"] == "application/json"
    assert allowed.json() == {"hello": "ann", "lambda": {"tier": "gold"}}
    assert (denied.status_code, denied.json()) == (403, {"message": "Forbidden"})
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    auth_event = cloud.events("AuthFn")[-1]
    assert auth_event["type"] == "REQUEST"
    assert auth_event["identitySource"] == ["nope"]
    assert auth_event["routeArn"].endswith(f"{cloud.outputs['ApiId']}/$default/GET/hello/ann")


def test_payload_v2_event_and_full_response_with_cookies(cloud: Cloud) -> None:
    response = requests.post(
        f"{cloud.api}/echo?a=1&a=2", json={"x": 1}, headers={"Cookie": "session=abc; theme=dark"}, timeout=5
    )

    assert response.status_code == 201
    assert response.headers["x-echo"] == "1"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.json() == {"got": {"x": 1}, "cookies": ["session=abc", "theme=dark"], "query": {"a": "1,2"}}
    event = cloud.events("Fn")[-1]
    assert event["version"] == "2.0"
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]


def test_default_route_named_stage_and_payload_v1(cloud: Cloud) -> None:
    fallback = requests.get(f"{cloud.api}/any/thing", timeout=5)
    beta = requests.get(cloud.local.api_url(cloud.outputs["ApiId"], "beta") + "/any/thing", timeout=5)
    v1 = requests.get(f"{cloud.api}/v1", timeout=5)

    assert fallback.json() == {"route": "$default", "rawPath": "/any/thing", "stage": "$default"}
    assert beta.json() == {"route": "$default", "rawPath": "/beta/any/thing", "stage": "beta"}
    assert (v1.status_code, v1.json()) == (200, {"version": "1.0", "path": "/v1"})


def test_no_matching_route_is_404(cloud: Cloud) -> None:
    bare = cloud.local.api_url(cloud.outputs["BareId"], "$default")

    assert requests.get(f"{bare}/ping", timeout=5).status_code == 200
    missing = requests.get(f"{bare}/pong", timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})


def test_jwt_authorizer_accepts_moto_cognito_tokens_for_the_audience(cloud: Cloud) -> None:
    tokens = sign_in(cloud.local, cloud.pool["client"], "bob")

    ok = requests.get(f"{cloud.api}/jwt", headers={"Authorization": f"Bearer {tokens['IdToken']}"}, timeout=5)
    # The access token carries client_id, not aud: fine for the audience check, as on AWS.
    access = requests.get(f"{cloud.api}/jwt", headers={"Authorization": tokens["AccessToken"]}, timeout=5)
    garbage = requests.get(f"{cloud.api}/jwt", headers={"Authorization": "Bearer abc.def.ghi"}, timeout=5)

    assert ok.status_code == 200
    assert ok.json()["claims"]["cognito:username"] == "bob"
    assert access.status_code == 200
    assert garbage.status_code == 401


def test_sqs_send_message_integration_subtype(cloud: Cloud) -> None:
    response = requests.post(f"{cloud.api}/queue", json={"MessageBody": {"order": 7}}, timeout=5)

    assert response.status_code == 200
    sqs = cloud.client("sqs")
    messages = sqs.receive_message(QueueUrl=cloud.outputs["QueueUrl"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"order": 7}]
    assert messages[0]["MessageId"] == response.json()["MessageId"]


def test_cors_preflight_and_response_headers(cloud: Cloud) -> None:
    preflight = requests.options(
        f"{cloud.api}/echo",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    actual = requests.get(f"{cloud.api}/other", headers={"Origin": "https://app.example"}, timeout=5)
    foreign = requests.get(f"{cloud.api}/other", headers={"Origin": "https://evil.example"}, timeout=5)

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    assert actual.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_http_api_definition_is_visible_through_boto3(cloud: Cloud) -> None:
    client = cloud.client("apigatewayv2")
    api_id = cloud.outputs["ApiId"]
    routes = {r["RouteKey"]: r for r in client.get_routes(ApiId=api_id)["Items"]}
    stages = {s["StageName"] for s in client.get_stages(ApiId=api_id)["Items"]}
    integration_id = routes["POST /queue"]["Target"].removeprefix("integrations/")
    integration = client.get_integration(ApiId=api_id, IntegrationId=integration_id)

    assert {"$default", "GET /hello/{name}", "POST /echo", "GET /jwt", "POST /queue", "GET /v1"} <= set(routes)
    assert routes["GET /jwt"]["AuthorizationType"] == "JWT"
    assert stages == {"$default", "beta"}
    assert integration["IntegrationSubtype"] == "SQS-SendMessage"
    assert cloud.outputs["Endpoint"] == f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
