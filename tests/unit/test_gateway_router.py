"""Rung 1 for CATALOG 14 GatewayRouter (and core.routes): what the template says, and every ValueError."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from patterns import core
from patterns.gateway_router import ApiClient, GatewayRouter
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

Built = _helpers.Built[GatewayRouter]
SERVICE_URL = "https://catalog.example.com/"


def _fn(stack: Stack, name: str = "Orders") -> lambda_.IFunction:
    return lambda_.Function.from_function_arn(stack, name, f"arn:aws:lambda:us-east-1:123456789012:function:{name}")


def _routes(stack: Stack) -> list[core.Route]:
    queue = sqs.Queue(stack, "Feedback", enforce_ssl=True)
    return [
        core.Route(path="/v1/orders/{id}", backend=_fn(stack, "OrdersV1")),
        core.Route(path="/v2/orders/{id}", backend=_fn(stack, "OrdersV2"), throttle=(10, 5)),
        core.Route(
            path="/v1/catalog/{proxy+}",
            methods=("ANY",),
            backend=core.HttpBackend(url=SERVICE_URL, path="/catalog/{proxy+}", timeout=Duration.seconds(3)),
        ),
        core.Route(
            path="/v1/feedback",
            methods=("POST",),
            backend=core.QueueBackend(queue=queue),
            required_parameters=("header.x-request-id",),
        ),
    ]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        routes = props.pop("routes", _routes)(stack)
        if callable(props.get("existing_api")):
            props["existing_api"] = props["existing_api"](stack)
        result[name] = Built(stack, GatewayRouter(stack, "Gateway", routes=routes, **props))

    add("Default")
    add(
        "Clients",
        clients=[ApiClient(name="Web", rate_limit=50, burst_limit=20), ApiClient(name="Partner", quota_per_day=100)],
        directory=False,
    )
    add(
        "Existing",
        existing_api=lambda s: apigw.RestApi(s, "Mine", cloud_watch_role=False),
        routes=lambda s: [r for r in _routes(s) if r.throttle is None],
        api_key_required=False,
        clients=[],
    )
    return synth(result)


def _methods(entry: Built) -> dict[str, dict[str, Any]]:
    """Methods by ``METHOD /path``."""
    by_id = {entry.logical_id(m): key for key, m in entry.pattern.methods.items()}
    return {
        by_id[lid]: r["Properties"] for lid, r in entry.resources("AWS::ApiGateway::Method").items() if lid in by_id
    }


def test_each_route_gets_its_backends_integration(built: dict[str, Built]) -> None:
    methods = _methods(built["Default"])

    assert set(methods) == {
        "GET /",
        "GET /v1/orders/{id}",
        "GET /v2/orders/{id}",
        "ANY /v1/catalog/{proxy+}",
        "POST /v1/feedback",
    }
    assert methods["GET /v1/orders/{id}"]["Integration"]["Type"] == "AWS_PROXY"
    catalog = methods["ANY /v1/catalog/{proxy+}"]
    assert catalog["Integration"]["Type"] == "HTTP_PROXY"
    assert catalog["Integration"]["Uri"] == "https://catalog.example.com/catalog/{proxy}"
    assert catalog["Integration"]["TimeoutInMillis"] == 3000
    assert catalog["Integration"]["RequestParameters"] == {
        "integration.request.path.proxy": "method.request.path.proxy"
    }
    assert catalog["RequestParameters"] == {"method.request.path.proxy": True}
    feedback = methods["POST /v1/feedback"]
    assert feedback["Integration"]["Type"] == "AWS"
    assert feedback["Integration"]["PassthroughBehavior"] == "NEVER"
    assert feedback["RequestParameters"] == {"method.request.header.x-request-id": True}
    assert "RequestValidatorId" in feedback
    assert all(m["ApiKeyRequired"] is True for m in methods.values())
    assert all(m["AuthorizationType"] == "NONE" for m in methods.values())


def test_http_routes_default_to_a_29_second_timeout_and_the_routes_own_path() -> None:
    stack = Stack(new_app(), "S")
    router = GatewayRouter(
        stack, "G", routes=[core.Route(path="/orders/{id}", backend=core.HttpBackend(url="https://legacy.example/"))]
    )
    props = stack.resolve(router.methods["GET /orders/{id}"].node.default_child._cfn_properties)  # type: ignore[attr-defined]
    integration = props["integration"]

    assert integration["uri"] == "https://legacy.example/orders/{id}"
    assert integration["timeoutInMillis"] == 29_000
    assert integration["requestParameters"] == {"integration.request.path.id": "method.request.path.id"}


def test_the_queue_role_may_only_send_to_the_routes_queue(built: dict[str, Built]) -> None:
    entry = built["Default"]
    statements = entry.statements(entry.pattern.queue_role)

    assert [action_set(s) for s in statements] == [{"sqs:SendMessage"}]
    assert statements[0]["Resource"] == {
        "Fn::GetAtt": [entry.stack.get_logical_id(entry.stack.node.find_child("Feedback").node.default_child), "Arn"]
    }


def test_unknown_routes_answer_404_from_the_gateway(built: dict[str, Built]) -> None:
    responses = built["Default"].resources("AWS::ApiGateway::GatewayResponse")

    found = [
        r["Properties"] for r in responses.values() if r["Properties"]["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN"
    ]
    assert [(r["StatusCode"], r["ResponseTemplates"]) for r in found] == [
        ("404", {"application/json": '{"message": "Not Found"}'})
    ]


def test_a_routes_throttle_is_a_stage_method_setting(built: dict[str, Built]) -> None:
    stage = next(iter(built["Default"].resources("AWS::ApiGateway::Stage").values()))["Properties"]

    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in stage["MethodSettings"]}
    assert settings[("/~1v2~1orders~1{id}", "GET")]["ThrottlingRateLimit"] == 10
    assert settings[("/~1v2~1orders~1{id}", "GET")]["ThrottlingBurstLimit"] == 5
    assert settings[("/*", "*")]["ThrottlingRateLimit"] == 100  # the library's stage default


def test_each_client_gets_a_key_and_a_usage_plan_with_its_limits(built: dict[str, Built]) -> None:
    entry = built["Clients"]
    plans = {
        r["Properties"]["Description"]: r["Properties"] for r in entry.resources("AWS::ApiGateway::UsagePlan").values()
    }

    assert plans["GatewayRouter client Web"]["Throttle"] == {"RateLimit": 50, "BurstLimit": 20}
    assert "Quota" not in plans["GatewayRouter client Web"]
    assert plans["GatewayRouter client Partner"]["Quota"] == {"Limit": 100, "Period": "DAY"}
    assert len(entry.resources("AWS::ApiGateway::ApiKey")) == 2
    assert len(entry.resources("AWS::ApiGateway::UsagePlanKey")) == 2
    assert set(entry.pattern.keys) == {"Web", "Partner"}


def test_the_directory_function_lists_the_route_table(built: dict[str, Built]) -> None:
    entry = built["Default"]
    assert entry.pattern.directory_function is not None
    routes = json.loads(entry.env(entry.pattern.directory_function)["ROUTES"])

    assert [(r["path"], r["backend"]) for r in routes] == [
        ("/v1/orders/{id}", "lambda"),
        ("/v2/orders/{id}", "lambda"),
        ("/v1/catalog/{proxy+}", "http"),
        ("/v1/feedback", "queue"),
    ]
    assert built["Clients"].pattern.directory_function is None
    assert "GET /" not in built["Clients"].pattern.methods


def test_alarms_watch_the_api_and_the_directory(built: dict[str, Built]) -> None:
    assert set(built["Default"].pattern.alarms) == {"DirectoryErrors", "DirectoryThrottles", "ApiServerErrors"}
    assert set(built["Clients"].pattern.alarms) == {"ApiServerErrors"}


def test_existing_api_receives_the_routes(built: dict[str, Built]) -> None:
    entry = built["Existing"]
    apis = entry.resources("AWS::ApiGateway::RestApi")

    assert len(apis) == 1 and entry.pattern.api is entry.stack.node.find_child("Mine")
    methods = _methods(entry)
    assert "GET /v1/orders/{id}" in methods
    assert all(m["ApiKeyRequired"] is False for m in methods.values())
    assert entry.resources("AWS::ApiGateway::UsagePlan") == {}


# --- ValueErrors ----------------------------------------------------------------------------------


def _build(routes: Any = None, **props: Any) -> GatewayRouter:
    stack = Stack(new_app(), "S")
    fn = _fn(stack)
    return GatewayRouter(stack, "G", routes=routes(fn) if callable(routes) else routes, **props)


def ONE(fn: lambda_.IFunction) -> list[core.Route]:
    return [core.Route(path="/orders", backend=fn)]


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (lambda fn: [], "routes must name at least one route"),
        (lambda fn: [core.Route(path="orders", backend=fn)], "path 'orders' must start with '/'"),
        (lambda fn: [core.Route(path="/", backend=fn)], "path '/' must start with '/'"),
        (lambda fn: [core.Route(path="/a b", backend=fn)], "path '/a b'"),
        (lambda fn: [core.Route(path="/{proxy+}/x", backend=fn)], "must be the last segment"),
        (lambda fn: [core.Route(path="/o", backend=fn, methods=())], "at least one method"),
        (lambda fn: [core.Route(path="/o", backend=fn, methods=("FETCH",))], "method 'FETCH'"),
        (lambda fn: [core.Route(path="/o", backend=fn), core.Route(path="/o", backend=fn)], "'GET /o' is listed twice"),
        (lambda fn: [core.Route(path="/o", backend=fn, methods=("ANY", "GET"))], "ANY already covers them"),
        (lambda fn: [core.Route(path="/o", backend=fn, throttle=(-1, 5))], "throttle of '/o'"),
        (lambda fn: [core.Route(path="/o", backend=fn, required_parameters=("body.x",))], "'querystring.<name>'"),
        (
            lambda fn: [core.Route(path="/o", backend=core.HttpBackend(url=SERVICE_URL, timeout=Duration.seconds(30)))],
            "between 50 ms and 29 s",
        ),
        (
            lambda fn: [
                core.Route(
                    path="/o",
                    backend=core.QueueBackend(
                        queue=sqs.Queue.from_queue_arn(fn.stack, "Q", "arn:aws:sqs:us-east-1:123456789012:q")
                    ),
                )
            ],
            "use POST or PUT",
        ),
    ],
)
def test_fails_if_the_route_table_is_invalid(routes: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _build(routes)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"clients": []}, "needs at least one client"),
        ({"clients": [ApiClient(name="web-app")]}, "client name must be letters and digits"),
        ({"clients": [ApiClient(name="Web"), ApiClient(name="Web")]}, "client 'Web' is listed twice"),
        ({"clients": [ApiClient(name="Web", quota_per_day=0)]}, "clients[Web].quota_per_day must be between 1"),
        ({"clients": [ApiClient(name="Web", rate_limit=-1)]}, "clients[Web].rate_limit must be between 0"),
        ({"clients": [ApiClient(name="Web", burst_limit=6000)]}, "clients[Web].burst_limit must be between 0"),
    ],
)
def test_fails_if_clients_are_invalid(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _build(ONE, **props)


def test_fails_if_existing_api_and_api_options_are_both_given() -> None:
    stack = Stack(new_app(), "S")
    with pytest.raises(ValueError, match="existing_api and api_options are mutually exclusive"):
        GatewayRouter(
            stack,
            "G",
            routes=[core.Route(path="/o", backend=_fn(stack))],
            existing_api=apigw.RestApi(stack, "Mine", cloud_watch_role=False),
            api_options=core.ApiOptions(),
        )


def test_fails_if_a_route_throttle_is_set_on_an_existing_api() -> None:
    stack = Stack(new_app(), "S")
    with pytest.raises(ValueError, match=r"routes \['/o'\] set a throttle"):
        GatewayRouter(
            stack,
            "G",
            routes=[core.Route(path="/o", backend=_fn(stack), throttle=(1, 1))],
            existing_api=apigw.RestApi(stack, "Mine", cloud_watch_role=False),
        )
