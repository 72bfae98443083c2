"""CATALOG 17 — Authorization: a Lambda TOKEN authorizer and a Cognito user pool authorizer in front
of one API; the function sees the caller API Gateway authorized.

The Lambda authorizer verifies the pool's access token (signature against the pool's JWKS, issuer,
app client, expiry), turns the caller's groups into scopes and answers a policy covering every
route: allowed where a granted scope matches the route's, explicitly denied elsewhere. API Gateway
caches that policy per token for ``cache_ttl`` and judges each request against it, so the
authorizer runs once per token within the TTL. The profile route uses the Cognito user pool
authorizer instead (an ID token, verified by API Gateway itself) and hands its claims through.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=17,
    name="Authorization",
    construct="Authorization",
    module="patterns.authorization",
    demo_stack="AuthorizationDemo",
    handlers=("authorization",),
    family="APIs and edges",
    summary="Lambda TOKEN authorizer (Cognito access token → principal + per-route policy, cached for its TTL) "
    "and a Cognito user pool authorizer in front of one API",
    diagram="""
                 ┌── GET/POST /orders ──> token authorizer (JWKS verify, groups → scopes → policy,
client ──> REST API                         cached per token for its TTL) ──> function (sees principal)
  (Cognito       └── GET /me ───────────> Cognito user pool authorizer (ID token) ──> function (sees claims)
   tokens)
""",
)

#: Who may do what in the default wiring: each group grants scopes ...
DEFAULT_GROUPS: Mapping[str, Sequence[str]] = {
    "admins": ("orders/read", "orders/write"),
    "readers": ("orders/read",),
}
#: ... and each route needs one of them.
DEFAULT_ROUTES: Mapping[str, str] = {"GET /orders": "orders/read", "POST /orders": "orders/write"}

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ROUTE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>(/[A-Za-z0-9._~-]+|/\{[A-Za-z0-9_]+\})+)$")
_PATH_PART = re.compile(r"^[a-z0-9][a-z0-9._~-]{0,62}$")


def _check_routes(routes: Mapping[str, str], groups: Mapping[str, Sequence[str]], profile_path: str | None) -> None:
    if not routes:
        raise ValueError("routes must map at least one 'METHOD /path' to the scope it needs")
    granted = {scope for scopes in groups.values() for scope in scopes}
    for route, scope in routes.items():
        match = _ROUTE.match(route)
        if match is None or match["method"] not in _METHODS:
            raise ValueError(
                f"routes: {route!r} is not 'METHOD /path' with METHOD one of {', '.join(_METHODS)} and path parts "
                "of letters, digits, ._~- or {param} (e.g. 'GET /orders/{id}')"
            )
        if scope not in granted:
            raise ValueError(
                f"routes[{route!r}] needs scope {scope!r}, which no group grants: add it to a group in groups "
                f"(granted: {', '.join(sorted(granted))})"
            )
        if profile_path is not None and route == f"GET /{profile_path}":
            raise ValueError(f"routes: {route!r} is the profile route (profile_path={profile_path!r}); rename one")
    if profile_path is not None and not _PATH_PART.match(profile_path):
        raise ValueError(
            f"profile_path must be one lowercase path part of letters, digits, ._~- (given {profile_path!r})"
        )


class Authorization(Construct):
    """An API whose routes are authorized by scope (Lambda authorizer) and a profile route
    authorized by the user pool itself.

    :param groups: Cognito group → the scopes its members get. Default: ``DEFAULT_GROUPS``
        (``admins``: read + write, ``readers``: read). A new pool gets these groups; an existing
        pool must have them.
    :param routes: ``"METHOD /path"`` → the scope the route needs, each granted by some group.
        Default: ``DEFAULT_ROUTES`` (``GET /orders`` read, ``POST /orders`` write).
    :param profile_path: ``GET /{profile_path}`` sits behind the Cognito user pool authorizer and
        returns the ID token's claims; None: no such route. Default: ``me``.
    :param cache_ttl: how long API Gateway reuses the authorizer's policy for one token (0 to
        1 hour; 0 calls the authorizer on every request). Default: 5 minutes.
    :param existing_user_pool: authorize tokens of this pool. Default: a new pool
        (``core.auth.user_pool`` defaults); mutually exclusive with ``user_pool_props``.
    :param user_pool_props: overrides for the new pool. Default: none.
    :param existing_user_pool_client: the app client whose tokens are accepted. Default: a new
        public client on the pool.
    :param auth_flows: sign-in flows of the new client. Default: SRP only.
    :param access_token_validity: lifetime of the new client's access tokens (5 minutes to 1 day).
        Default: 1 hour.
    :param handler_code: / ``handler``: the protected function. Default: ``lambdas/authorization``,
        ``app.handler``.
    :param authorizer_code: / ``authorizer_handler``: the token authorizer. Default:
        ``lambdas/authorization``, ``authorizer.handler``.
    :param api_options: stage, throttling, access logs. Default: ``core.ApiOptions()``; its
        ``authorizer`` and ``authorization_type`` are this pattern's and must stay unset.
    :param function_options: / ``authorizer_options``: memory, timeout, log retention. Default: core defaults.
    :param alarm_options: thresholds, alarm topic. Default: core defaults. The function's errors and
        throttles alarm; the authorizer's are not alarmed because every refused token is a function
        error by API Gateway's contract (its ``TokensRefused`` metric counts them).

    Attributes: ``api``, ``function``, ``authorizer_function``, ``token_authorizer``,
    ``user_pool_authorizer`` (None without a profile route), ``user_pool``, ``user_pool_client``,
    ``resources`` (route → resource), ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        groups: Mapping[str, Sequence[str]] | None = None,
        routes: Mapping[str, str] | None = None,
        profile_path: str | None = "me",
        cache_ttl: Duration = Duration.minutes(5),
        existing_user_pool: cognito.IUserPool | None = None,
        user_pool_props: Mapping[str, Any] | None = None,
        existing_user_pool_client: cognito.IUserPoolClient | None = None,
        auth_flows: cognito.AuthFlow | None = None,
        access_token_validity: Duration = Duration.hours(1),
        handler_code: lambda_.Code | None = None,
        handler: str = "app.handler",
        authorizer_code: lambda_.Code | None = None,
        authorizer_handler: str = "authorizer.handler",
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        authorizer_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        groups = dict(DEFAULT_GROUPS if groups is None else groups)
        routes = dict(DEFAULT_ROUTES if routes is None else routes)
        core.auth.check_group_scopes("groups", groups)
        _check_routes(routes, groups, profile_path)
        core.auth.check_cache_ttl("cache_ttl", cache_ttl)
        if existing_user_pool_client is not None and existing_user_pool is None:
            raise ValueError("existing_user_pool_client needs existing_user_pool: a client belongs to one pool")
        new_client_props = auth_flows is not None or access_token_validity.to_seconds() != 3600
        if existing_user_pool_client is not None and new_client_props:
            raise ValueError(
                "auth_flows and access_token_validity configure a new client: not with existing_user_pool_client"
            )
        options = api_options or core.ApiOptions()
        if options.authorizer is not None or options.authorization_type != core.ApiOptions().authorization_type:
            raise ValueError(
                "api_options.authorizer and api_options.authorization_type are set by Authorization "
                "(the token and user pool authorizers): leave them at their defaults"
            )

        self.user_pool: cognito.IUserPool = core.auth.user_pool(
            self, "UserPool", existing_user_pool=existing_user_pool, user_pool_props=user_pool_props,
            groups=list(groups) if existing_user_pool is None else (),
        )
        self.user_pool_client: cognito.IUserPoolClient = existing_user_pool_client or core.auth.user_pool_client(
            self, "Client", user_pool=self.user_pool, auth_flows=auth_flows,
            access_token_validity=access_token_validity,
        )

        self.authorizer_function: lambda_.Function = core.python_function(
            self, "Authorizer",
            code=authorizer_code or core.handler_code("authorization"),
            handler=authorizer_handler,
            service="authorization",
            invocation="sync",
            description="Verifies Cognito access tokens and answers a per-route policy",
            options=authorizer_options,
            options_prop="authorizer_options",
            environment={
                "USER_POOL_ID": self.user_pool.user_pool_id,
                "CLIENT_IDS": self.user_pool_client.user_pool_client_id,
                "GROUP_SCOPES": json.dumps({g: list(s) for g, s in groups.items()}, sort_keys=True),
                "ROUTE_SCOPES": json.dumps(routes, sort_keys=True),
            },
        )
        self.function: lambda_.Function = core.python_function(
            self, "Handler",
            code=handler_code or core.handler_code("authorization"),
            handler=handler,
            service="authorization",
            invocation="sync",
            description="The protected function: answers with the authorized caller",
            options=function_options,
        )

        self.token_authorizer: apigw.TokenAuthorizer = core.auth.token_authorizer(
            self, "TokenAuthorizer", handler=self.authorizer_function, cache_ttl=cache_ttl
        )
        #: Only with a profile route: an authorizer attached to no method fails synth.
        self.user_pool_authorizer: apigw.CognitoUserPoolsAuthorizer | None = None
        self.api: apigw.RestApi = core.rest_api(
            self, "Api", description="Authorization: routes authorized by scope and by user pool",
            options=core.ApiOptions(**{
                **{f: getattr(options, f) for f in options.__dataclass_fields__},
                "authorization_type": apigw.AuthorizationType.CUSTOM,
                "authorizer": self.token_authorizer,
            }),
        )
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)
        validator = core.validator(self.api)
        self.resources: dict[str, apigw.IResource] = {}
        for route in routes:
            method, _, path = route.partition(" ")
            resource = self.api.root.resource_for_path(path)
            resource.add_method(method, integration, request_validator=validator)
            self.resources[route] = resource
        if profile_path is not None:
            self.user_pool_authorizer = core.auth.user_pool_authorizer(
                self, "UserPoolAuthorizer", user_pools=[self.user_pool]
            )
            profile = self.api.root.resource_for_path(f"/{profile_path}")
            profile.add_method(
                "GET", integration, request_validator=validator,
                authorizer=self.user_pool_authorizer, authorization_type=apigw.AuthorizationType.COGNITO,
            )
            self.resources[f"GET /{profile_path}"] = profile
        core.nag.acknowledge(
            self.api,
            "AwsSolutions-COG4",
            "the scoped routes use the Lambda token authorizer, which verifies the same user pool's access "
            "tokens (signature, issuer, client, expiry) and adds per-group scopes; the profile route uses the "
            "Cognito user pool authorizer",
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Handler": self.function}
        ).alarms

    @property
    def url(self) -> str:
        """The stage URL, e.g. ``https://{api}.execute-api.{region}.amazonaws.com/prod/``."""
        return self.api.url
