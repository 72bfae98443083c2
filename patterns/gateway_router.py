"""CATALOG 14 — GatewayRouter: one REST API in front of several teams' backends, routed by path and method.

Each route of a route table (``core.Route``) goes to its own backend — a Lambda function, an HTTP
service (HTTP_PROXY: a function URL or another API) or an SQS queue (an AWS service integration) —
so ``/v1`` and ``/v2`` live side by side; clients are identified by API keys with usage plans
(quota, throttle), routes can carry their own stage throttle and required parameters, and an unknown
route is a 404 from the gateway that never reaches a backend.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=14,
    name="GatewayRouter",
    construct="GatewayRouter",
    module="patterns.gateway_router",
    demo_stack="GatewayRouterDemo",
    handlers=("gateway_router",),
    family="APIs and edges",
    summary="One REST API routing by path and method to Lambda, HTTP and SQS backends, versioned, with API keys, "
    "usage plans and per-route throttles",
    diagram="""
client (x-api-key) ──> REST API (usage plan: quota + throttle; route throttles; 404 for unknown routes)
   GET  /                      ──> directory function (the route table)
   GET  /v1/orders/{id}        ──> orders v1 function
   GET  /v2/orders/{id}        ──> orders v2 function
   ANY  /v1/catalog/{proxy+}   ──> HTTP service (function URL)   504 on timeout, 502 when down
   POST /v1/feedback           ──> SQS queue (AWS service integration)
""",
)

_CLIENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")


@dataclass(frozen=True, kw_only=True)
class ApiClient:
    """A client of the gateway: its own API key and usage plan.

    :param name: letters and digits, starting with a letter (the key's and plan's construct ids).
    :param quota_per_day: requests a day; over it the gateway answers 429 ``Limit Exceeded``. Default: no quota.
    :param rate_limit: steady requests per second of this client. Default: the stage's throttle.
    :param burst_limit: the client's burst. Default: the stage's throttle.
    """

    name: str
    quota_per_day: int | None = None
    rate_limit: float | None = None
    burst_limit: int | None = None


def _backend_kind(backend: core.routes.Backend) -> str:
    if isinstance(backend, core.HttpBackend):
        return "http"
    if isinstance(backend, core.QueueBackend):
        return "queue"
    return "lambda"


class GatewayRouter(Construct):
    """A REST API whose route table sends each route to its own backend.

    :param routes: the route table (``core.Route``: path, methods, backend, optional throttle and
        required parameters). Required; at least one route.
    :param clients: the API clients; each gets an API key and a usage plan. Default: one client
        ``Default`` without quota.
    :param api_key_required: every route (and the directory) requires a client's ``x-api-key``
        (403 ``Forbidden`` without a valid one). Default: True.
    :param directory: ``GET /`` answers the route table and the versions (``v1``, ``v2``) from the
        gateway's own function. Default: True.
    :param existing_api: add the routes to this REST API (its deployment stage gets the usage plans);
        mutually exclusive with ``api_options``, and route throttles then belong on your stage.
        Default: a new API.
    :param api_options: stage, stage throttle, authorization, access logs. Default:
        ``core.ApiOptions(authorization_type=NONE)`` — clients are identified by API keys; pass an
        authorizer here for user authentication.
    :param handler_code: your own code for the directory function. Default: ``lambdas/gateway_router``.
    :param function_options: the directory function's memory, timeout... Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``api``, ``methods`` (``"GET /v1/orders/{id}"`` → Method), ``keys`` and
    ``usage_plans`` (by client name), ``directory_function`` (None without directory), ``queue_role``,
    ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: Sequence[core.Route],
        clients: Sequence[ApiClient] = (ApiClient(name="Default"),),
        api_key_required: bool = True,
        directory: bool = True,
        existing_api: apigw.RestApi | None = None,
        api_options: core.ApiOptions | None = None,
        handler_code: lambda_.Code | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.check_routes(routes)
        self._check_clients(clients, api_key_required)
        if existing_api is not None and api_options is not None:
            raise ValueError("existing_api and api_options are mutually exclusive: configure the existing API's stage")
        throttled = [r.path for r in routes if r.throttle is not None]
        if existing_api is not None and throttled:
            raise ValueError(
                f"routes {throttled} set a throttle, which is a setting of a stage this construct creates; with "
                "existing_api set the method throttling on your stage"
            )

        if existing_api is not None:
            self.api: apigw.RestApi = existing_api
        else:
            options = api_options or core.ApiOptions(authorization_type=apigw.AuthorizationType.NONE)
            throttles = core.method_throttles(routes)
            if throttles:
                options = dataclasses.replace(options, method_options={**(options.method_options or {}), **throttles})
            self.api = core.rest_api(self, "Api", description=f"GatewayRouter: {len(routes)} routes", options=options)
            if options.authorization_type == apigw.AuthorizationType.NONE and options.authorizer is None:
                core.nag.acknowledge(
                    self.api,
                    "AwsSolutions-APIG4",
                    "clients are identified by API keys with usage plans (quota, throttle); pass "
                    "api_options with an authorizer for user authentication",
                )
                core.nag.acknowledge(
                    self.api,
                    "AwsSolutions-COG4",
                    "clients are identified by API keys with usage plans; a user pool authorizer is set in api_options",
                )
        core.not_found_response(self.api)
        validator = core.validator(self.api, "RouteValidator") if any(r.required_parameters for r in routes) else None
        method_options = {"api_key_required": api_key_required}
        table = core.add_routes(self, self.api, routes, validator=validator, method_options=method_options)
        self.methods: dict[str, apigw.Method] = table.methods
        self.queue_role = table.queue_role

        self.directory_function: lambda_.Function | None = None
        if directory:
            listed = [{"path": r.path, "methods": list(r.methods), "backend": _backend_kind(r.backend)} for r in routes]
            self.directory_function = core.python_function(
                self,
                "Directory",
                code=handler_code or core.handler_code("gateway_router"),
                handler="directory.handler",
                service="gateway-router",
                invocation="sync",
                description="GET / of the gateway: its route table and versions",
                options=function_options,
                environment={"ROUTES": json.dumps(listed, separators=(",", ":"))},
            )
            self.methods["GET /"] = self.api.root.add_method(
                "GET",
                apigw.LambdaIntegration(self.directory_function, allow_test_invoke=False),
                api_key_required=api_key_required,
            )

        self.keys: dict[str, apigw.IApiKey] = {}
        self.usage_plans: dict[str, apigw.UsagePlan] = {}
        for client in clients:
            throttle = None
            if client.rate_limit is not None or client.burst_limit is not None:
                throttle = apigw.ThrottleSettings(rate_limit=client.rate_limit, burst_limit=client.burst_limit)
            quota = None
            if client.quota_per_day is not None:
                quota = apigw.QuotaSettings(limit=client.quota_per_day, period=apigw.Period.DAY)
            plan = self.api.add_usage_plan(
                f"{client.name}Plan",
                description=f"GatewayRouter client {client.name}",
                quota=quota,
                throttle=throttle,
                api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
            )
            key = self.api.add_api_key(f"{client.name}Key", description=f"GatewayRouter client {client.name}")
            plan.add_api_key(key)
            self.keys[client.name], self.usage_plans[client.name] = key, plan

        functions = {"Directory": self.directory_function} if self.directory_function is not None else {}
        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions=functions, apis={"Api": self.api}
        ).alarms

    @staticmethod
    def _check_clients(clients: Sequence[ApiClient], api_key_required: bool) -> None:
        if api_key_required and not clients:
            raise ValueError("api_key_required=True needs at least one client in clients (nobody could call the API)")
        names = [c.name for c in clients]
        for client in clients:
            if not _CLIENT_NAME.match(client.name):
                raise ValueError(
                    f"client name must be letters and digits starting with a letter, at most 40 (given {client.name!r})"
                )
            if names.count(client.name) > 1:
                raise ValueError(f"client {client.name!r} is listed twice")
            core.validation.in_range(f"clients[{client.name}].quota_per_day", client.quota_per_day, 1, 10**9)
            core.validation.in_range(f"clients[{client.name}].rate_limit", client.rate_limit, 0, 10_000)
            core.validation.in_range(f"clients[{client.name}].burst_limit", client.burst_limit, 0, 5_000)

    @property
    def url(self) -> str:
        """The stage URL, e.g. ``https://{api}.execute-api.{region}.amazonaws.com/prod/``."""
        return self.api.url
