"""A Cognito user pool with an app client, a hosted-UI domain and groups, guarding a REST API.

Written the way the CDK docs write it: ``UserPool``, ``add_client``, ``add_domain``, ``add_group``
and a ``CognitoUserPoolsAuthorizer`` on a method. A user is created and signed in with the
cognito-idp API (as an admin script or a sign-in page would) and calls the API with the ID token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import function, stack, synthesize

STACK = "CompatCognito"
PASSWORD = "Compat-Passw0rd!"
WHO_AM_I = """
import json


def handler(event, context):
    claims = event["requestContext"]["authorizer"]["claims"]
    who = {"user": claims["cognito:username"], "groups": claims.get("cognito:groups")}
    return {"statusCode": 200, "body": json.dumps(who)}
"""


def _app(app: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigateway
    from aws_cdk import aws_cognito as cognito

    s = stack(app, STACK)
    pool = cognito.UserPool(s, "Users", self_sign_up_enabled=False, removal_policy=cdk.RemovalPolicy.DESTROY)
    client = pool.add_client("Web", auth_flows=cognito.AuthFlow(user_password=True))
    domain = pool.add_domain("Login", cognito_domain=cognito.CognitoDomainOptions(domain_prefix="compat-shop"))
    pool.add_group("Admins", group_name="admins", precedence=1)
    api = apigateway.RestApi(s, "Api")
    authorizer = apigateway.CognitoUserPoolsAuthorizer(s, "Authorizer", cognito_user_pools=[pool])
    api.root.add_resource("me").add_method(
        "GET",
        apigateway.LambdaIntegration(function(s, "WhoAmI", WHO_AM_I)),
        authorizer=authorizer,
        authorization_type=apigateway.AuthorizationType.COGNITO,
    )
    cdk.CfnOutput(s, "PoolId", value=pool.user_pool_id)
    cdk.CfnOutput(s, "ClientId", value=client.user_pool_client_id)
    cdk.CfnOutput(s, "Domain", value=domain.domain_name)
    cdk.CfnOutput(s, "ApiId", value=api.rest_api_id)


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud) -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    templates = synthesize(_app)
    yield cloud, cloud.deploy_template(templates[STACK], STACK).outputs


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_signed_in_group_member_calls_the_cognito_authorized_api(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, out = deployed
    idp = cloud.client("cognito-idp")
    # GIVEN a user an admin created in the pool and put in the admins group
    idp.admin_create_user(UserPoolId=out["PoolId"], Username="ada", TemporaryPassword="Temp-Passw0rd!")
    idp.admin_set_user_password(UserPoolId=out["PoolId"], Username="ada", Password=PASSWORD, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=out["PoolId"], Username="ada", GroupName="admins")
    # WHEN the user signs in with the app client and calls the API with the ID token
    tokens = idp.initiate_auth(
        ClientId=out["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ada", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    url = cloud.api_url(out["ApiId"], "prod") + "/me"
    status, body = _get(url, tokens["IdToken"])
    # THEN the authorizer let the call through with the user's claims, groups included
    assert status == 200
    assert body["user"] == "ada"
    assert "admins" in str(body["groups"])
    # AND without a token, or with a token of another pool, the API answers 401
    assert _get(url)[0] == 401
    other = idp.create_user_pool(PoolName="elsewhere")["UserPool"]["Id"]
    other_client = idp.create_user_pool_client(UserPoolId=other, ClientName="x")["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=other, Username="eve", TemporaryPassword="Temp-Passw0rd!")
    idp.admin_set_user_password(UserPoolId=other, Username="eve", Password=PASSWORD, Permanent=True)
    foreign = idp.initiate_auth(
        ClientId=other_client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "eve", "PASSWORD": PASSWORD}
    )["AuthenticationResult"]["IdToken"]
    assert _get(url, foreign)[0] == 401


def test_the_domain_and_groups_belong_to_the_pool(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, out = deployed
    idp = cloud.client("cognito-idp")
    # WHEN the pool's domain and groups are described
    domain = idp.describe_user_pool_domain(Domain=out["Domain"])["DomainDescription"]
    groups = idp.list_groups(UserPoolId=out["PoolId"])["Groups"]
    # THEN they are the ones the app declared
    assert out["Domain"] == "compat-shop"
    assert domain["UserPoolId"] == out["PoolId"]
    assert [(g["GroupName"], g["Precedence"]) for g in groups] == [("admins", 1)]
