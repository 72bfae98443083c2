"""Authorizers and user pools with the library defaults, built once for every pattern that needs them.

A Lambda TOKEN authorizer whose results API Gateway caches for a bounded TTL and which never runs for
a header that is not a bearer JWT; a Cognito user pool authorizer; a user pool with no self sign-up,
a strong password policy and optional MFA; an app client without a secret whose token lifetimes are
explicit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from . import nag, validation

#: API Gateway's limit for authorizer result caching (0 turns caching off).
MAX_AUTHORIZER_CACHE_TTL = Duration.hours(1)
#: A bearer JWT: anything else is refused with 401 by API Gateway without running the authorizer.
BEARER_JWT = r"^Bearer [-0-9A-Za-z_]+\.[-0-9A-Za-z_]+\.[-0-9A-Za-z_]+$"
_GROUP_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
#: OAuth 2.0 scope-token characters (RFC 6749 §3.3): printable ASCII but space, quote and backslash.
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$")


def check_cache_ttl(prop: str, ttl: Duration) -> None:
    """API Gateway caches authorizer results for 0 (off) to 3600 seconds."""
    validation.in_range(prop, ttl.to_seconds(), 0, MAX_AUTHORIZER_CACHE_TTL.to_seconds(), "seconds")


def check_group_scopes(prop: str, groups: Mapping[str, Sequence[str]]) -> None:
    """Group names Cognito accepts, each granting at least one well-formed scope."""
    if not groups:
        raise ValueError(f"{prop} must name at least one group and the scopes it grants")
    for group, scopes in groups.items():
        if not _GROUP_NAME.match(group):
            raise ValueError(f"{prop}: {group!r} is not a Cognito group name (1-128 of letters, digits, +=,.@_-)")
        if isinstance(scopes, str) or not scopes:
            raise ValueError(f"{prop}[{group!r}] must be a non-empty list of scopes (given {scopes!r})")
        for scope in scopes:
            if not isinstance(scope, str) or not _SCOPE.match(scope):
                raise ValueError(f"{prop}[{group!r}]: {scope!r} is not a scope (printable ASCII, no space or quote)")


def token_authorizer(
    scope: Construct,
    construct_id: str,
    *,
    handler: lambda_.IFunction,
    cache_ttl: Duration,
    header: str = "Authorization",
    validation_regex: str | None = BEARER_JWT,
    cache_ttl_prop: str = "cache_ttl",
) -> apigw.TokenAuthorizer:
    """A TOKEN authorizer: API Gateway caches its policy per token for ``cache_ttl``."""
    check_cache_ttl(cache_ttl_prop, cache_ttl)
    return apigw.TokenAuthorizer(
        scope,
        construct_id,
        handler=handler,
        identity_source=apigw.IdentitySource.header(header),
        validation_regex=validation_regex,
        results_cache_ttl=cache_ttl,
    )


def user_pool_authorizer(
    scope: Construct, construct_id: str, *, user_pools: Sequence[cognito.IUserPool], header: str = "Authorization"
) -> apigw.CognitoUserPoolsAuthorizer:
    """A COGNITO_USER_POOLS authorizer: API Gateway verifies the pool's tokens itself (no function)."""
    return apigw.CognitoUserPoolsAuthorizer(
        scope, construct_id, cognito_user_pools=list(user_pools), identity_source=f"method.request.header.{header}"
    )


def user_pool(
    scope: Construct,
    construct_id: str,
    *,
    existing_user_pool: cognito.IUserPool | None = None,
    user_pool_props: Mapping[str, Any] | None = None,
    groups: Sequence[str] = (),
    existing_user_pool_name: str = "existing_user_pool",
    user_pool_props_name: str = "user_pool_props",
) -> cognito.IUserPool:
    """An injected pool (its groups are the user's to manage) or a new pool with ``groups``.

    Defaults of a new pool: administrators create users (no self sign-up), passwords of 12+
    characters with every character class, optional TOTP MFA, recovery by verified email only,
    and ``RemovalPolicy.RETAIN`` (a pool holds the users' accounts).
    """
    validation.exclusive(**{existing_user_pool_name: existing_user_pool, user_pool_props_name: user_pool_props})
    if existing_user_pool is not None:
        return existing_user_pool
    props: dict[str, Any] = dict(user_pool_props or {})
    props.setdefault("self_sign_up_enabled", False)
    props.setdefault(
        "password_policy",
        cognito.PasswordPolicy(
            min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
        ),
    )
    props.setdefault("mfa", cognito.Mfa.OPTIONAL)
    props.setdefault("mfa_second_factor", cognito.MfaSecondFactor(otp=True, sms=False))
    props.setdefault("account_recovery", cognito.AccountRecovery.EMAIL_ONLY)
    props.setdefault("removal_policy", RemovalPolicy.RETAIN)
    pool = cognito.UserPool(scope, construct_id, **props)
    if props["mfa"] != cognito.Mfa.REQUIRED:
        nag.acknowledge(
            pool, "AwsSolutions-COG2", "MFA is optional (TOTP) by default; set user_pool_props mfa=REQUIRED to force it"
        )
    if props.get("feature_plan") != cognito.FeaturePlan.PLUS:
        nag.acknowledge(
            pool,
            "AwsSolutions-COG8",
            "the Plus feature plan (threat protection) is a paid tier: choose it with user_pool_props feature_plan",
        )
    for group in groups:
        cognito.CfnUserPoolGroup(
            scope, f"{construct_id}{_construct_name(group)}Group", user_pool_id=pool.user_pool_id, group_name=group
        )
    return pool


def user_pool_client(
    scope: Construct,
    construct_id: str,
    *,
    user_pool: cognito.IUserPool,
    auth_flows: cognito.AuthFlow | None = None,
    access_token_validity: Duration = Duration.hours(1),
    id_token_validity: Duration = Duration.hours(1),
) -> cognito.UserPoolClient:
    """A public app client (no secret): SRP sign-in unless ``auth_flows`` says otherwise, token
    lifetimes explicit (Cognito accepts 5 minutes to 1 day), no hint whether a user exists."""
    for prop, value in (("access_token_validity", access_token_validity), ("id_token_validity", id_token_validity)):
        validation.in_range(prop, value.to_minutes(), 5, 1440, "minutes")
    return cognito.UserPoolClient(
        scope,
        construct_id,
        user_pool=user_pool,
        generate_secret=False,
        auth_flows=auth_flows or cognito.AuthFlow(user_srp=True),
        access_token_validity=access_token_validity,
        id_token_validity=id_token_validity,
        prevent_user_existence_errors=True,
        enable_token_revocation=True,
    )


def _construct_name(value: str) -> str:
    """A construct-id-safe CamelCase form of a group name (``order-admins`` → ``OrderAdmins``)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", value) if part) or "Group"
