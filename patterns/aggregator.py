"""CATALOG 15 — Aggregator (gateway aggregation): one request → parallel calls to several downstream
functions inside one handler → one response.

Each call has a timeout and the request an overall budget, so the answer never waits for the
slowest part longer than the budget; a failing or slow part is named in ``missing`` (why) and the
rest is answered (``partial``), never a 500. Complete answers are cached in a DynamoDB table with
TTL, so a repeated request within ``cache_ttl`` calls no downstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=15,
    name="Aggregator",
    construct="Aggregator",
    module="patterns.aggregator",
    demo_stack="AggregatorDemo",
    handlers=("aggregator",),
    family="APIs and edges",
    summary="one GET → parallel downstream calls with per-call timeouts and a budget → one answer, "
    "partial when a part fails, cached in DynamoDB with TTL",
    diagram="""
                                                   ┌──> downstream A ─┐
client ──> REST API ──> aggregator (cache? ──hit──> answer) ──> downstream B ─┼──> one answer
           GET /aggregate/{key}      └── DynamoDB cache (TTL) └──> downstream C ─┘  (partial + why)
""",
)

_PART = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: API Gateway's integration timeout: an answer later than this never reaches the client.
MAX_BUDGET = Duration.seconds(29)


class Aggregator(Construct):
    """``GET /{resource_name}/{key}`` answers ``{"parts": {...}, "partial", "missing", "cache"}``.

    :param downstreams: part name (lowercase, ``[a-z][a-z0-9_]*``) → the function answering it; 1 to 20.
        Each is invoked synchronously with ``{"key": key}`` and its result becomes that part.
    :param call_timeout: how long one downstream call may take (the Lambda client's read timeout,
        no retry). Default: 2 seconds.
    :param budget: how long the whole request may take, at least ``call_timeout`` and below both
        the function's timeout and API Gateway's 29 s. Default: 3 seconds.
    :param cache_ttl: how long a complete answer is served from the cache (1 second to 1 day);
        partial answers are never cached. Default: 5 minutes.
    :param existing_table: cache in this table (partition key ``key``, string; TTL attribute
        ``expires_at``). Default: a new table; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table (not its key or TTL attribute). Default: none.
    :param resource_name: the path part in front of ``{key}``. Default: ``aggregate``.
    :param handler_code: / ``handler``: your aggregator for the same wiring. Default:
        ``lambdas/aggregator``, ``aggregator.handler``.
    :param api_options: stage, throttling, authorization (IAM by default). Default: ``core.ApiOptions()``.
    :param function_options: memory, timeout (10 s)... Default: core defaults.
    :param alarm_options: thresholds, alarm topic. Default: core defaults.

    Attributes: ``api``, ``function``, ``table``, ``resource`` (``/{resource_name}/{key}``),
    ``downstreams``, ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        downstreams: Mapping[str, lambda_.IFunction],
        call_timeout: Duration = Duration.seconds(2),
        budget: Duration = Duration.seconds(3),
        cache_ttl: Duration = Duration.minutes(5),
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        resource_name: str = "aggregate",
        handler_code: lambda_.Code | None = None,
        handler: str = "aggregator.handler",
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= len(downstreams) <= 20:
            raise ValueError(f"downstreams must name 1 to 20 functions (given {len(downstreams)})")
        for name in downstreams:
            if not _PART.match(name):
                raise ValueError(f"downstreams: {name!r} is not a part name (lowercase letters, digits, _; 1-32)")
        if not _RESOURCE_NAME.match(resource_name):
            raise ValueError(
                f"resource_name must be one lowercase path part like 'aggregate' (given {resource_name!r})"
            )
        opts = function_options or core.FunctionOptions()
        call_ms, budget_ms = call_timeout.to_milliseconds(), budget.to_milliseconds()
        core.validation.in_range("call_timeout (ms)", call_ms, 100, MAX_BUDGET.to_milliseconds())
        core.validation.in_range(
            "budget (ms)", budget_ms, call_ms, MAX_BUDGET.to_milliseconds(), "(call_timeout to 29 s)"
        )
        if budget_ms >= opts.timeout.to_milliseconds():
            raise ValueError(
                f"budget ({budget_ms / 1000:g} s) must be less than function_options.timeout "
                f"({opts.timeout.to_seconds():g} s): the answer must leave before Lambda stops the function"
            )
        core.validation.in_range("cache_ttl (s)", cache_ttl.to_seconds(), 1, 86400)

        self.downstreams: dict[str, lambda_.IFunction] = dict(downstreams)
        self.table: ddb.ITable = core.table(
            self, "Cache", partition_key="key", time_to_live_attribute="expires_at",
            existing_table=existing_table, table_props=table_props,
        )
        self.function: lambda_.Function = core.python_function(
            self, "Handler",
            code=handler_code or core.handler_code("aggregator"),
            handler=handler,
            service="aggregator",
            invocation="sync",
            description=f"Aggregates {', '.join(sorted(downstreams))} in parallel",
            options=function_options,
            environment={
                # to_json_string keeps the function names' tokens valid JSON once resolved
                "DOWNSTREAMS": Stack.of(self).to_json_string(
                    {n: f.function_name for n, f in sorted(downstreams.items())}
                ),
                "CALL_TIMEOUT_MS": str(int(call_ms)),
                "BUDGET_MS": str(int(budget_ms)),
                "CACHE_TABLE_NAME": self.table.table_name,
                "CACHE_TTL_SECONDS": str(int(cache_ttl.to_seconds())),
            },
        )
        self.table.grant(self.function, "dynamodb:GetItem", "dynamodb:PutItem")
        # The unqualified ARNs only: IFunction.grant_invoke would add <arn>:* (every version and alias).
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["lambda:InvokeFunction"],
            resource_arns=[f.function_arn for _, f in sorted(downstreams.items())],
        )

        self.api: apigw.RestApi = core.rest_api(
            self, "Api", description=f"Aggregator of {', '.join(sorted(downstreams))}", options=api_options
        )
        validator = core.validator(self.api)
        self.resource: apigw.Resource = self.api.root.add_resource(resource_name).add_resource("{key}")
        self.resource.add_method(
            "GET", apigw.LambdaIntegration(self.function, allow_test_invoke=False),
            request_validator=validator, request_parameters={"method.request.path.key": True},
        )
        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Handler": self.function}
        ).alarms

    @property
    def url(self) -> str:
        """``https://{api}.execute-api.{region}.amazonaws.com/{stage}/{resource_name}``: append ``/{key}``."""
        return self.api.url_for_path(self.resource.parent_resource.path)  # type: ignore[union-attr]

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call the API (IAM authorization)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.api.deployment_stage.stage_name)],
        )
