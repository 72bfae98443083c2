"""Rung 1 for CATALOG 17 Authorization: what the template says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk.assertions import Match

from patterns import core
from patterns.authorization import DEFAULT_GROUPS, DEFAULT_ROUTES, Authorization
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth, with_existing

Built = _helpers.Built[Authorization]


def _pool(scope: Stack) -> cognito.IUserPool:
    return cognito.UserPool.from_user_pool_id(scope, "Users", "us-east-1_Existing1")


def _client(scope: Stack) -> cognito.IUserPoolClient:
    return cognito.UserPoolClient.from_user_pool_client_id(scope, "WebClient", "existingclient123")


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        result[name] = Built(stack, Authorization(stack, "Auth", **with_existing(stack, props)))

    add("Default")
    add(
        "Tuned",
        groups={"order-admins": ["orders/write", "orders/read"], "auditors": ["audit/read"]},
        routes={"GET /orders/{id}": "orders/read", "DELETE /orders/{id}": "orders/write", "GET /audit": "audit/read"},
        profile_path=None,
        cache_ttl=Duration.seconds(0),
        access_token_validity=Duration.minutes(15),
    )
    add("ExistingPool", existing_user_pool=_pool)
    add("ExistingClient", existing_user_pool=_pool, existing_user_pool_client=_client)
    return synth(result)


def _methods(built: Built) -> dict[str, dict[str, Any]]:
    """``"METHOD /path"`` → the method's properties (paths rebuilt from the resource tree)."""
    template = built.template.to_json()["Resources"]

    def path_of(ref: Any) -> str:
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:
            return ""
        logical = ref["Ref"]
        props = template[logical]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {
        f"{p['Properties']['HttpMethod']} {path_of(p['Properties']['ResourceId'])}": p["Properties"]
        for p in template.values()
        if p["Type"] == "AWS::ApiGateway::Method"
    }


def test_creates_two_functions_a_pool_with_groups_a_client_and_both_authorizers(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Lambda::Function", 2)
    t.resource_count_is("AWS::Cognito::UserPool", 1)
    t.resource_count_is("AWS::Cognito::UserPoolClient", 1)
    t.resource_count_is("AWS::Cognito::UserPoolGroup", 2)
    t.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "admins"})
    t.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "readers"})
    t.resource_count_is("AWS::ApiGateway::Authorizer", 2)
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert set(built["Default"].pattern.alarms) == {"HandlerErrors", "HandlerThrottles"}


def test_token_authorizer_is_cached_for_its_ttl_and_refuses_non_bearer_headers_itself(built) -> None:
    default, tuned = built["Default"], built["Tuned"]
    default.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "TOKEN",
            "IdentitySource": "method.request.header.Authorization",
            "IdentityValidationExpression": core.auth.BEARER_JWT,
            "AuthorizerResultTtlInSeconds": 300,
        },
    )
    tuned.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer", {"Type": "TOKEN", "AuthorizerResultTtlInSeconds": 0}
    )
    default.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "COGNITO_USER_POOLS", "ProviderARNs": [default.arn(default.pattern.user_pool)]},
    )


def test_scoped_routes_use_the_token_authorizer_and_the_profile_route_the_user_pool(built) -> None:
    default = built["Default"]
    methods = _methods(default)
    token_ref = {"Ref": default.stack.get_logical_id(default.pattern.token_authorizer.node.default_child)}
    assert default.pattern.user_pool_authorizer is not None
    pool_ref = {"Ref": default.stack.get_logical_id(default.pattern.user_pool_authorizer.node.default_child)}

    assert set(methods) == {*DEFAULT_ROUTES, "GET /me"}
    for route in DEFAULT_ROUTES:
        assert (methods[route]["AuthorizationType"], methods[route]["AuthorizerId"]) == ("CUSTOM", token_ref)
    assert (methods["GET /me"]["AuthorizationType"], methods["GET /me"]["AuthorizerId"]) == (
        "COGNITO_USER_POOLS",
        pool_ref,
    )
    assert set(_methods(built["Tuned"])) == {"GET /orders/{id}", "DELETE /orders/{id}", "GET /audit"}
    assert built["Tuned"].pattern.user_pool_authorizer is None
    built["Tuned"].template.resource_count_is("AWS::ApiGateway::Authorizer", 1)


def test_authorizer_gets_the_pool_client_and_the_scope_tables(built) -> None:
    default, tuned = built["Default"], built["Tuned"]
    env = default.env(default.pattern.authorizer_function)
    assert env["USER_POOL_ID"] == default.ref(default.pattern.user_pool)
    assert env["CLIENT_IDS"] == default.ref(default.pattern.user_pool_client)
    assert json.loads(env["GROUP_SCOPES"]) == {g: list(s) for g, s in DEFAULT_GROUPS.items()}
    assert json.loads(env["ROUTE_SCOPES"]) == dict(DEFAULT_ROUTES)
    assert json.loads(tuned.env(tuned.pattern.authorizer_function)["ROUTE_SCOPES"])["DELETE /orders/{id}"] == (
        "orders/write"
    )
    # The authorizer reads only the public JWKS: it needs no AWS permission beyond its logs and traces.
    assert not any(
        a.startswith(("cognito", "dynamodb"))
        for s in default.statements(default.pattern.authorizer_function.role)
        for a in _helpers.action_list(s)
    )


def test_new_pool_and_client_have_the_secure_defaults(built) -> None:
    default, tuned = built["Default"], built["Tuned"]
    default.template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "MfaConfiguration": "OPTIONAL",
            "Policies": {"PasswordPolicy": Match.object_like({"MinimumLength": 12, "RequireSymbols": True})},
        },
    )
    default.template.has_resource(
        "AWS::Cognito::UserPool", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    default.template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "PreventUserExistenceErrors": "ENABLED",
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "AccessTokenValidity": 60,
            "TokenValidityUnits": Match.object_like({"AccessToken": "minutes"}),
        },
    )
    tuned.template.has_resource_properties("AWS::Cognito::UserPoolClient", {"AccessTokenValidity": 15})
    tuned.template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "order-admins"})


def test_existing_pool_is_used_without_a_new_pool_or_groups(built) -> None:
    existing = built["ExistingPool"]
    existing.template.resource_count_is("AWS::Cognito::UserPool", 0)
    existing.template.resource_count_is("AWS::Cognito::UserPoolGroup", 0)
    existing.template.has_resource_properties(
        "AWS::Cognito::UserPoolClient", {"UserPoolId": "us-east-1_Existing1"}
    )
    env = existing.env(existing.pattern.authorizer_function)
    assert env["USER_POOL_ID"] == "us-east-1_Existing1"
    existing.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "COGNITO_USER_POOLS", "ProviderARNs": [Match.object_like({"Fn::Join": Match.any_value()})]},
    )


def test_existing_client_is_the_one_whose_tokens_are_accepted(built) -> None:
    existing = built["ExistingClient"]
    existing.template.resource_count_is("AWS::Cognito::UserPoolClient", 0)
    assert existing.env(existing.pattern.authorizer_function)["CLIENT_IDS"] == "existingclient123"
    assert existing.pattern.user_pool_client.user_pool_client_id == "existingclient123"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_user_pool": _pool, "user_pool_props": {}}, "cannot both be set"),
        ({"existing_user_pool_client": _client}, "existing_user_pool_client needs existing_user_pool"),
        (
            {"existing_user_pool": _pool, "existing_user_pool_client": _client, "auth_flows": cognito.AuthFlow()},
            "configure a new client",
        ),
        ({"groups": {}}, "at least one group"),
        ({"groups": {"bad group": ["orders/read"]}}, "not a Cognito group name"),
        ({"groups": {"admins": []}}, "non-empty list of scopes"),
        ({"groups": {"admins": "orders/read"}}, "non-empty list of scopes"),
        ({"groups": {"admins": ["has space"]}}, "is not a scope"),
        ({"routes": {}}, "at least one"),
        ({"routes": {"FETCH /orders": "orders/read"}}, "is not 'METHOD /path'"),
        ({"routes": {"GET orders": "orders/read"}}, "is not 'METHOD /path'"),
        ({"routes": {"GET /orders": "orders/delete"}}, "needs scope 'orders/delete', which no group grants"),
        ({"routes": {"GET /me": "orders/read"}}, "is the profile route"),
        ({"profile_path": "Me/Too"}, "profile_path must be one lowercase path part"),
        ({"cache_ttl": Duration.hours(2)}, "cache_ttl must be between 0 and 3600"),
        ({"access_token_validity": Duration.minutes(1)}, "access_token_validity must be between 5 and 1440"),
        ({"api_options": core.ApiOptions(authorization_type=apigw.AuthorizationType.NONE)}, "api_options.authorizer"),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        Authorization(stack, "Auth", **with_existing(stack, props))
