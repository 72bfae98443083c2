"""Lambda authorizers in the front door as API Gateway runs them: identity sources, result caching by
identity source for the TTL on the cloud's clock, the cached policy judged against each method ARN,
principal and context reaching the integration, and 401 / 403 / 500 exactly as API Gateway answers.

One CDK app (a REST API and an HTTP API) is synthesized and deployed once for the module; each test
uses its own tokens, so cache entries of one test never serve another.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from patterns.local import LocalCloud

from .apigateway_fixtures import DeployedStack, new_stack, synthesize
from .conftest import inline_function

API_HANDLER = """
import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"authorizer": event["requestContext"].get("authorizer")})}
"""

# TOKEN: "crash-*" raises, "nope-*" is refused ("Unauthorized"), "deny-*" gets an explicit Deny,
# "none-*" an empty policy; "all-*" / "deny-*" allow / deny every method; others may GET /a only.
TOKEN_AUTHORIZER = """
def handler(event, context):
    token = event["authorizationToken"]
    if token.startswith("crash"):
        raise ValueError("authorizer bug")
    if token.startswith("nope"):
        raise Exception("Unauthorized")
    if token.startswith("garbage"):
        return {"no": "principal"}
    prefix = event["methodArn"].split("/")[0] + "/" + event["methodArn"].split("/")[1]
    effect = "Deny" if token.startswith("deny") else "Allow"
    resource = prefix + ("/*" if token.startswith(("all", "deny")) else "/GET/a")
    statements = [] if token.startswith("none") else [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    ]
    return {
        "principalId": "user-" + token,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": {"tier": "gold", "count": 3, "vip": True},
    }
"""

REQUEST_AUTHORIZER = """
def handler(event, context):
    tenant = event["headers"]["X-Tenant"]
    arn = event["methodArn"].split("/")[0] + "/*"
    return {
        "principalId": "tenant-" + tenant + "-" + event["queryStringParameters"]["user"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}],
        },
        "context": {"tenant": tenant},
    }
"""

SIMPLE_AUTHORIZER = """
def handler(event, context):
    token = event["identitySource"][0]
    if token.startswith("crash"):
        raise ValueError("authorizer bug")
    return {"isAuthorized": token.startswith("ok"), "context": {"who": token, "version": event["version"]}}
"""

POLICY_AUTHORIZER = """
def handler(event, context):
    token = event["identitySource"]
    effect = "Allow" if token.startswith("ok") else "Deny"
    return {
        "principalId": "p-" + token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"version": event["version"], "type": event["type"]},
    }
"""

HTTP_HANDLER = """
def handler(event, context):
    return {"authorizer": event["requestContext"].get("authorizer")}
"""


def _build(app: Any) -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_authorizers as authorizers
    from aws_cdk import aws_apigatewayv2_integrations as integrations

    stack = new_stack(app, "AuthorizerFidelity")
    api_fn = inline_function(stack, "ApiFn", API_HANDLER)
    token_fn = inline_function(stack, "TokenFn", TOKEN_AUTHORIZER)
    uncached_fn = inline_function(stack, "UncachedFn", TOKEN_AUTHORIZER)
    request_fn = inline_function(stack, "RequestFn", REQUEST_AUTHORIZER)

    api = apigw.RestApi(stack, "Rest", deploy_options=apigw.StageOptions(stage_name="test"))
    cached = apigw.TokenAuthorizer(stack, "Cached", handler=token_fn, results_cache_ttl=cdk.Duration.seconds(300))
    uncached = apigw.TokenAuthorizer(stack, "Uncached", handler=uncached_fn, results_cache_ttl=cdk.Duration.seconds(0))
    per_request = apigw.RequestAuthorizer(
        stack,
        "PerRequest",
        handler=request_fn,
        identity_sources=[apigw.IdentitySource.header("X-Tenant"), apigw.IdentitySource.query_string("user")],
        results_cache_ttl=cdk.Duration.seconds(60),
    )
    proxy = apigw.LambdaIntegration(api_fn)
    api.root.add_resource("a").add_method("GET", proxy, authorizer=cached)
    api.root.add_resource("b").add_method("GET", proxy, authorizer=cached)
    # $context.authorizer.* in a mapping template (a MOCK integration's response).
    api.root.add_resource("vtl").add_method(
        "GET",
        apigw.MockIntegration(
            request_templates={"application/json": '{"statusCode": 200}'},
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={
                        "application/json": '{"principal": "$context.authorizer.principalId",'
                        ' "tier": "$context.authorizer.tier"}'
                    },
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
        authorizer=uncached,
    )
    api.root.add_resource("tenant").add_method("GET", proxy, authorizer=per_request)

    http_fn = inline_function(stack, "HttpFn", HTTP_HANDLER)
    simple_fn = inline_function(stack, "SimpleFn", SIMPLE_AUTHORIZER)
    policy_fn = inline_function(stack, "PolicyFn", POLICY_AUTHORIZER)
    http = apigwv2.HttpApi(stack, "Http")
    simple = authorizers.HttpLambdaAuthorizer(
        "Simple",
        simple_fn,
        response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
        identity_source=["$request.header.X-Token"],
        results_cache_ttl=cdk.Duration.seconds(120),
    )
    policy = authorizers.HttpLambdaAuthorizer(
        "Policy",
        policy_fn,
        response_types=[authorizers.HttpLambdaResponseType.IAM],
        identity_source=["$request.header.X-Token"],
        results_cache_ttl=cdk.Duration.seconds(0),
    )
    target = integrations.HttpLambdaIntegration("Target", http_fn)
    http.add_routes(path="/simple", methods=[apigwv2.HttpMethod.GET], integration=target, authorizer=simple)
    http.add_routes(path="/policy", methods=[apigwv2.HttpMethod.GET], integration=target, authorizer=policy)

    cdk.CfnOutput(stack, "RestId", value=api.rest_api_id)
    cdk.CfnOutput(stack, "HttpId", value=http.api_id)
    return ["AuthorizerFidelity"]


class Cloud(DeployedStack):
    STACK = "AuthorizerFidelity"

    def __init__(self, local: LocalCloud, outputs: dict[str, str]) -> None:
        super().__init__(local, outputs, {})
        self.rest = local.api_url(outputs["RestId"], "test")
        self.http = local.api_url(outputs["HttpId"], "$default")

    def calls(self, function: str) -> int:
        return len(self.events(function))


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    template = synthesize(_build)[Cloud.STACK]
    with LocalCloud() as local:
        stack = local.deploy_template(template, Cloud.STACK)
        yield Cloud(local, stack.outputs)


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def test_token_authorizer_runs_once_per_token_within_its_ttl_on_the_cloud_clock(cloud: Cloud) -> None:
    before = cloud.calls("TokenFn")
    first = [_get(f"{cloud.rest}/a", Authorization="ttl-alice") for _ in range(5)]
    assert [r.status_code for r in first] == [200] * 5
    assert cloud.calls("TokenFn") - before == 1

    cloud.local.advance(299)
    assert _get(f"{cloud.rest}/a", Authorization="ttl-alice").status_code == 200
    assert cloud.calls("TokenFn") - before == 1  # still inside the 300 s TTL

    cloud.local.advance(2)
    assert _get(f"{cloud.rest}/a", Authorization="ttl-alice").status_code == 200
    assert cloud.calls("TokenFn") - before == 2  # expired: the authorizer ran again


def test_cached_policy_is_judged_against_each_method_arn(cloud: Cloud) -> None:
    before = cloud.calls("TokenFn")
    allowed = _get(f"{cloud.rest}/a", Authorization="arn-bob")
    other_method = _get(f"{cloud.rest}/b", Authorization="arn-bob")

    assert allowed.status_code == 200
    # The cached policy allows GET /a only: GET /b is refused without a second authorizer call.
    assert (other_method.status_code, other_method.json()) == (
        403,
        {"Message": "User is not authorized to access this resource"},
    )
    assert cloud.calls("TokenFn") - before == 1


def test_principal_and_context_reach_the_lambda_proxy_and_the_mapping_template(cloud: Cloud) -> None:
    proxy = _get(f"{cloud.rest}/a", Authorization="ctx-carol")
    mapped = _get(f"{cloud.rest}/vtl", Authorization="all-dave")

    authorizer = proxy.json()["authorizer"]
    assert (authorizer["principalId"], authorizer["tier"], authorizer["count"], authorizer["vip"]) == (
        "user-ctx-carol",
        "gold",
        3,
        True,
    )
    assert (mapped.status_code, mapped.json()) == (200, {"principal": "user-all-dave", "tier": "gold"})


def test_deny_and_empty_policies_are_403_and_ttl_0_never_caches(cloud: Cloud) -> None:
    before = cloud.calls("UncachedFn")
    denied = [_get(f"{cloud.rest}/vtl", Authorization="deny-erin") for _ in range(2)]
    empty = _get(f"{cloud.rest}/vtl", Authorization="none-erin")

    assert [(r.status_code, r.json()) for r in denied] == [
        (403, {"Message": "User is not authorized to access this resource with an explicit deny"})
    ] * 2
    assert (empty.status_code, empty.json()) == (403, {"Message": "User is not authorized to access this resource"})
    assert cloud.calls("UncachedFn") - before == 3  # TTL 0: every request runs the authorizer


def test_missing_token_is_401_without_invoking_and_errors_map_like_api_gateway(cloud: Cloud) -> None:
    before = cloud.calls("TokenFn")
    missing = _get(f"{cloud.rest}/a")
    refused = _get(f"{cloud.rest}/a", Authorization="nope-frank")
    crashed = _get(f"{cloud.rest}/a", Authorization="crash-gina")
    crashed_again = _get(f"{cloud.rest}/a", Authorization="crash-gina")
    garbage = _get(f"{cloud.rest}/a", Authorization="garbage-hal")

    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
    assert [(r.status_code, r.json()) for r in (crashed, crashed_again)] == [(500, {"message": None})] * 2
    assert crashed.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert garbage.status_code == 500
    # missing: never invoked; refused 1, crash 2 (a failed invocation is not cached), garbage 1
    assert cloud.calls("TokenFn") - before == 4


def test_request_authorizer_needs_every_identity_source_and_caches_by_all_of_them(cloud: Cloud) -> None:
    before = cloud.calls("RequestFn")
    no_query = _get(f"{cloud.rest}/tenant", **{"X-Tenant": "t1"})
    ann = [_get(f"{cloud.rest}/tenant?user=ann", **{"X-Tenant": "t1"}) for _ in range(3)]
    ben = _get(f"{cloud.rest}/tenant?user=ben", **{"X-Tenant": "t1"})

    assert no_query.status_code == 401
    assert [r.status_code for r in ann] == [200, 200, 200]
    assert ann[0].json()["authorizer"]["principalId"] == "tenant-t1-ann"
    assert ben.json()["authorizer"]["principalId"] == "tenant-t1-ben"
    assert cloud.calls("RequestFn") - before == 2  # ann once (cached), ben once


def test_http_api_simple_responses_are_cached_by_identity_source(cloud: Cloud) -> None:
    before = cloud.calls("SimpleFn")
    missing = _get(f"{cloud.http}/simple")
    allowed = [_get(f"{cloud.http}/simple", **{"X-Token": "ok-ivy"}) for _ in range(4)]
    refused = _get(f"{cloud.http}/simple", **{"X-Token": "no-ivy"})
    crashed = _get(f"{cloud.http}/simple", **{"X-Token": "crash-ivy"})

    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    assert [r.status_code for r in allowed] == [200] * 4
    assert allowed[0].json()["authorizer"] == {"lambda": {"who": "ok-ivy", "version": "2.0"}}
    assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})
    assert (crashed.status_code, crashed.json()) == (500, {"message": "Internal Server Error"})
    assert cloud.calls("SimpleFn") - before == 3  # ok-ivy once for four requests, no-ivy, crash-ivy
    cloud.local.advance(121)
    assert _get(f"{cloud.http}/simple", **{"X-Token": "ok-ivy"}).status_code == 200
    assert cloud.calls("SimpleFn") - before == 4


def test_http_api_iam_policy_responses_with_payload_1_0(cloud: Cloud) -> None:
    allowed = _get(f"{cloud.http}/policy", **{"X-Token": "ok-jo"})
    denied = _get(f"{cloud.http}/policy", **{"X-Token": "bad-jo"})

    lambda_context = allowed.json()["authorizer"]["lambda"]
    assert (allowed.status_code, lambda_context["principalId"]) == (200, "p-ok-jo")
    assert (lambda_context["version"], lambda_context["type"]) == ("1.0", "REQUEST")
    assert (denied.status_code, denied.json()) == (403, {"message": "Forbidden"})
