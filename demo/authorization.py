"""AuthorizationDemo: orders routes authorized by group scopes (Lambda authorizer) and a profile
route authorized by the user pool (Cognito authorizer), with users signed in through Cognito."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.authorization import Authorization


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 17 Authorization: REST API with a Lambda token authorizer and a Cognito authorizer",
    )
    auth = Authorization(
        stack, "Auth",
        user_pool_props={"removal_policy": RemovalPolicy.DESTROY},
        # The demo signs users in from the server side (AdminInitiateAuth); browsers use SRP.
        auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
    )
    CfnOutput(stack, "ApiUrl", value=auth.url)
    CfnOutput(stack, "RestApiId", value=auth.api.rest_api_id)
    CfnOutput(stack, "UserPoolId", value=auth.user_pool.user_pool_id)
    CfnOutput(stack, "ClientId", value=auth.user_pool_client.user_pool_client_id)
    CfnOutput(stack, "AuthorizerFunction", value=auth.authorizer_function.function_name)
    return stack


def new_password() -> str:
    """A password meeting the pool's policy (12+ characters, every character class)."""
    return f"Aa1!{secrets.token_urlsafe(12)}"


def create_user(ctx: DriveContext, username: str, password: str, *groups: str) -> None:
    idp, pool = ctx.client("cognito-idp"), ctx.outputs["UserPoolId"]
    idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS", TemporaryPassword=password)
    idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)


def sign_in(ctx: DriveContext, username: str, password: str) -> dict[str, Any]:
    """The user's tokens (IdToken, AccessToken, ExpiresIn) from AdminInitiateAuth."""
    return ctx.client("cognito-idp").admin_initiate_auth(  # type: ignore[no-any-return]
        UserPoolId=ctx.outputs["UserPoolId"],
        ClientId=ctx.outputs["ClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def drive(ctx: DriveContext) -> DriveResult:
    """An admin reads orders (200, identity passed), a reader may not write (403), no token 401,
    and the profile route answers the ID token's claims."""
    url = ctx.outputs["ApiUrl"].rstrip("/")
    suffix = uuid.uuid4().hex[:6]
    admin, reader, password = f"admin-{suffix}", f"reader-{suffix}", new_password()
    create_user(ctx, admin, password, "admins")
    create_user(ctx, reader, password, "readers")
    admin_tokens, reader_tokens = sign_in(ctx, admin, password), sign_in(ctx, reader, password)

    read = ctx.http("GET", f"{url}/orders", headers=bearer(admin_tokens["AccessToken"]))
    write = ctx.http("POST", f"{url}/orders", {"item": "tea"}, headers=bearer(reader_tokens["AccessToken"]))
    anonymous = ctx.http("GET", f"{url}/orders")
    profile = ctx.http("GET", f"{url}/me", headers={"Authorization": admin_tokens["IdToken"]})
    caller = read.body.get("caller", {}) if isinstance(read.body, dict) else {}
    claims = profile.body.get("caller", {}) if isinstance(profile.body, dict) else {}
    ok = (
        read.status == 200 and caller.get("username") == admin and caller.get("groups") == ["admins"]
        and write.status == 403 and anonymous.status == 401
        and profile.status == 200 and claims.get("username") == admin
    )
    outcome = (
        f"admin GET /orders {read.status} as {caller.get('username')}, reader POST /orders {write.status}, "
        f"no token {anonymous.status}, GET /me {profile.status}"
    )
    return DriveResult(sent="Cognito tokens of an admin and a reader to /orders and /me", outcome=outcome, ok=ok)
