"""Cognito user pools deployed by CloudFormation issue signed ID and access tokens as AWS does (claims,
the app client's lifetimes, the cloud's clock, the pool's JWKS), and the REST Cognito authorizer and
the HTTP API JWT authorizer verify them: signature, expiry on the virtual clock, issuer / audience,
token use and scopes, with 401 vs 403 as API Gateway answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from patterns.local import LocalCloud
from patterns.local.core.cognito_tokens import token_lifetime

from .apigateway_fixtures import PASSWORD, DeployedStack, new_stack, synthesize
from .conftest import inline_function

HANDLER = """
import json


def handler(event, context):
    authorizer = event["requestContext"].get("authorizer")
    if event.get("version") == "2.0":
        return {"authorizer": authorizer}
    return {"statusCode": 200, "body": json.dumps({"authorizer": authorizer})}
"""

ADMIN_SCOPE = "aws.cognito.signin.user.admin"


def _build(app: Any) -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_authorizers as authorizers
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from aws_cdk import aws_cognito as cognito

    stack = new_stack(app, "CognitoTokens")
    pool = cognito.UserPool(stack, "Pool", removal_policy=cdk.RemovalPolicy.DESTROY)
    client = pool.add_client(
        "Web",
        auth_flows=cognito.AuthFlow(user_password=True, admin_user_password=True),
        access_token_validity=cdk.Duration.minutes(5),
        id_token_validity=cdk.Duration.minutes(30),
    )
    other = pool.add_client("Other", auth_flows=cognito.AuthFlow(user_password=True))
    cognito.CfnUserPoolGroup(stack, "Admins", user_pool_id=pool.user_pool_id, group_name="admins")
    fn = inline_function(stack, "Fn", HANDLER)

    rest = apigw.RestApi(stack, "Rest", deploy_options=apigw.StageOptions(stage_name="test"))
    users = apigw.CognitoUserPoolsAuthorizer(stack, "Users", cognito_user_pools=[pool])
    proxy = apigw.LambdaIntegration(fn)
    rest.root.add_resource("id").add_method("GET", proxy, authorizer=users)
    rest.root.add_resource("admin").add_method(
        "GET", proxy, authorizer=users, authorization_scopes=[ADMIN_SCOPE]
    )
    rest.root.add_resource("write").add_method(
        "GET", proxy, authorizer=users, authorization_scopes=["orders/write"]
    )

    http = apigwv2.HttpApi(stack, "Http")
    jwt_auth = authorizers.HttpUserPoolAuthorizer("Jwt", pool, user_pool_clients=[client])
    target = integrations.HttpLambdaIntegration("Target", fn)
    http.add_routes(path="/claims", methods=[apigwv2.HttpMethod.GET], integration=target, authorizer=jwt_auth)
    http.add_routes(
        path="/write",
        methods=[apigwv2.HttpMethod.GET],
        integration=target,
        authorizer=jwt_auth,
        authorization_scopes=["orders/write"],
    )
    for name, value in {
        "PoolId": pool.user_pool_id,
        "ClientId": client.user_pool_client_id,
        "OtherClientId": other.user_pool_client_id,
        "RestId": rest.rest_api_id,
        "HttpId": http.api_id,
    }.items():
        cdk.CfnOutput(stack, name, value=value)
    return ["CognitoTokens"]


class Cloud(DeployedStack):
    STACK = "CognitoTokens"

    def __init__(self, local: LocalCloud, outputs: dict[str, str]) -> None:
        super().__init__(local, outputs, {"id": outputs["PoolId"], "client": outputs["ClientId"]})
        self.rest = local.api_url(outputs["RestId"], "test")
        self.http = local.api_url(outputs["HttpId"], "$default")
        self.idp = local.client("cognito-idp")

    def user(self, name: str, *groups: str) -> None:
        self.idp.admin_create_user(UserPoolId=self.pool["id"], Username=name, TemporaryPassword="Temp-Passw0rd!")
        self.idp.admin_set_user_password(UserPoolId=self.pool["id"], Username=name, Password=PASSWORD, Permanent=True)
        for group in groups:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool["id"], Username=name, GroupName=group)

    def sign_in(self, name: str, client: str | None = None) -> dict[str, Any]:
        return self.idp.initiate_auth(  # type: ignore[no-any-return]
            ClientId=client or self.pool["client"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    template = synthesize(_build)[Cloud.STACK]
    with LocalCloud() as local:
        stack = local.deploy_template(template, Cloud.STACK)
        deployed = Cloud(local, stack.outputs)
        deployed.user("alice", "admins")
        deployed.user("bob")
        yield deployed


def _get(url: str, token: str | None = None) -> requests.Response:
    return requests.get(url, headers={"Authorization": token} if token else {}, timeout=10)


def test_tokens_carry_the_claims_aws_issues_signed_with_the_pools_jwks(cloud: Cloud) -> None:
    tokens = cloud.sign_in("alice")
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{cloud.pool['id']}"
    endpoint = cloud.local.client("cognito-idp").meta.endpoint_url
    jwks = requests.get(f"{endpoint}/{cloud.pool['id']}/.well-known/jwks.json", timeout=5).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    options = {"verify_exp": False, "verify_iat": False}

    id_claims = jwt.decode(tokens["IdToken"], key, algorithms=["RS256"], audience=cloud.pool["client"], options=options)
    access = jwt.decode(tokens["AccessToken"], key, algorithms=["RS256"], options=options)

    assert (id_claims["iss"], id_claims["token_use"], id_claims["cognito:username"]) == (issuer, "id", "alice")
    assert id_claims["cognito:groups"] == ["admins"]
    assert (access["iss"], access["token_use"], access["client_id"], access["username"]) == (
        issuer,
        "access",
        cloud.pool["client"],
        "alice",
    )
    assert (access["scope"], access["cognito:groups"]) == (ADMIN_SCOPE, ["admins"])
    assert "aud" not in access
    # The app client's lifetimes: access 5 minutes, ID 30 minutes; ExpiresIn is the access token's.
    assert (access["exp"] - access["iat"], id_claims["exp"] - id_claims["iat"]) == (300, 1800)
    assert tokens["ExpiresIn"] == 300
    assert "cognito:groups" not in jwt.decode(cloud.sign_in("bob")["IdToken"], options={"verify_signature": False})


def test_tokens_are_issued_on_the_cloud_clock(cloud: Cloud) -> None:
    cloud.local.advance(7200)
    issued_at = jwt.decode(cloud.sign_in("bob")["AccessToken"], options={"verify_signature": False})["iat"]

    assert abs(issued_at - cloud.local.core.engine.clock()) < 5
    assert issued_at > time.time() + 7000


def test_rest_cognito_authorizer_id_token_passes_claims_and_rejects_bad_tokens(cloud: Cloud) -> None:
    tokens = cloud.sign_in("alice")
    header, payload, _ = tokens["IdToken"].split(".")
    forged = f"{header}.{payload}.c2lnbmF0dXJl"

    ok = _get(f"{cloud.rest}/id", tokens["IdToken"])
    claims = ok.json()["authorizer"]["claims"]

    assert (ok.status_code, claims["cognito:username"], claims["cognito:groups"]) == (200, "alice", "[admins]")
    assert claims["token_use"] == "id"
    for bad in (None, forged, "not-a-jwt", tokens["AccessToken"]):  # no scopes on /id: an ID token is required
        response = _get(f"{cloud.rest}/id", bad)
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"}), bad


def test_rest_cognito_authorizer_with_scopes_needs_an_access_token_holding_one(cloud: Cloud) -> None:
    tokens = cloud.sign_in("alice")

    with_scope = _get(f"{cloud.rest}/admin", tokens["AccessToken"])
    id_token = _get(f"{cloud.rest}/admin", tokens["IdToken"])
    lacking = _get(f"{cloud.rest}/write", tokens["AccessToken"])

    assert with_scope.status_code == 200
    assert with_scope.json()["authorizer"]["claims"]["scope"] == ADMIN_SCOPE
    # REST APIs answer 401 (not 403) for an ID token or an access token without the method's scope.
    assert (id_token.status_code, lacking.status_code) == (401, 401)


def test_expiry_is_judged_on_the_cloud_clock(cloud: Cloud) -> None:
    tokens = cloud.sign_in("alice")
    assert _get(f"{cloud.rest}/admin", tokens["AccessToken"]).status_code == 200
    assert _get(f"{cloud.http}/claims", tokens["AccessToken"]).status_code == 200

    cloud.local.advance(301)  # past the 5-minute access token, inside the 30-minute ID token

    assert _get(f"{cloud.rest}/admin", tokens["AccessToken"]).json() == {"message": "Unauthorized"}
    assert _get(f"{cloud.http}/claims", tokens["AccessToken"]).status_code == 401
    assert _get(f"{cloud.rest}/id", tokens["IdToken"]).status_code == 200


def test_http_jwt_authorizer_checks_audience_and_answers_403_for_a_missing_scope(cloud: Cloud) -> None:
    tokens = cloud.sign_in("alice")
    foreign = cloud.sign_in("alice", client=cloud.outputs["OtherClientId"])

    claims = _get(f"{cloud.http}/claims", tokens["IdToken"])
    access = _get(f"{cloud.http}/claims", tokens["AccessToken"])
    wrong_client = _get(f"{cloud.http}/claims", foreign["AccessToken"])
    lacking = _get(f"{cloud.http}/write", tokens["AccessToken"])

    assert claims.status_code == access.status_code == 200
    jwt_context = access.json()["authorizer"]["jwt"]
    assert (jwt_context["claims"]["username"], jwt_context["scopes"]) == ("alice", [ADMIN_SCOPE])
    assert (wrong_client.status_code, wrong_client.json()) == (401, {"message": "Unauthorized"})
    assert (lacking.status_code, lacking.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize(
    ("config", "token_use", "seconds"),
    [
        (None, "access", 3600),
        ({"AccessTokenValidity": 2}, "access", 7200),  # hours unless TokenValidityUnits says otherwise
        ({"IdTokenValidity": 90, "TokenValidityUnits": {"IdToken": "minutes"}}, "id", 5400),
        ({"AccessTokenValidity": 1, "TokenValidityUnits": {"AccessToken": "days"}}, "access", 86400),
        ({"AccessTokenValidity": 1, "TokenValidityUnits": {"AccessToken": "days"}}, "id", 3600),
    ],
)
def test_token_lifetime_follows_the_app_client(config: dict[str, Any] | None, token_use: str, seconds: int) -> None:
    assert token_lifetime(config, token_use) == seconds


def test_token_lifetime_refuses_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match=r"TokenValidityUnits\.AccessToken must be one of"):
        token_lifetime({"AccessTokenValidity": 5, "TokenValidityUnits": {"AccessToken": "weeks"}}, "access")
