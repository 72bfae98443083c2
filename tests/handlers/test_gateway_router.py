"""Rung 4: the GatewayRouter directory and the demo's team services, with realistic API Gateway REST and
function URL events — unknown paths, bad ids and a version mismatch included."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import load_handler

EVENTS = Path(__file__).parent / "events" / "gateway_router"
REST = json.loads((EVENTS / "rest_api_request.json").read_text())
URL = json.loads((EVENTS / "function_url_request.json").read_text())
ROUTES = [
    {"path": "/v1/orders/{id}", "methods": ["GET"], "backend": "lambda"},
    {"path": "/v2/orders/{id}", "methods": ["GET"], "backend": "lambda"},
    {"path": "/legacy/{proxy+}", "methods": ["ANY"], "backend": "http"},
]


@dataclass
class LambdaContext:
    function_name: str = "GatewayRouterFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:GatewayRouterFunction"
    aws_request_id: str = "3f6b2a1c-0000-4000-8000-000000000014"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def rest(path: str, resource: str, params: dict[str, str] | None, method: str = "GET") -> dict[str, Any]:
    event = copy.deepcopy(REST)
    event.update({"path": path, "resource": resource, "pathParameters": params, "httpMethod": method})
    event["requestContext"].update({"resourcePath": resource, "path": f"/prod{path}", "httpMethod": method})
    return event


def function_url(path: str, method: str = "GET") -> dict[str, Any]:
    event = copy.deepcopy(URL)
    event["rawPath"] = path
    event["requestContext"]["http"].update({"path": path, "method": method})
    return event


def reply(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else None


@pytest.fixture(scope="module")
def directory() -> Any:
    return load_handler("gateway_router", "directory", {"ROUTES": json.dumps(ROUTES)})


@pytest.fixture(scope="module", params=["v1", "v2"])
def orders(request: pytest.FixtureRequest) -> Any:
    return request.param, load_handler("gateway_router", "orders", {"API_VERSION": request.param})


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_handler("gateway_router", "catalog")


def test_directory_answers_the_route_table_and_versions(directory: Any) -> None:
    status, body = reply(directory.handler(rest("/", "/", None), LambdaContext()))

    assert status == 200
    assert body == {"routes": ROUTES, "versions": ["v1", "v2"]}


def test_directory_answers_404_for_a_path_it_does_not_serve(directory: Any) -> None:
    status, body = reply(directory.handler(rest("/elsewhere", "/elsewhere", None), LambdaContext()))

    assert status == 404
    assert body["message"] == "Not found"


def test_directory_versions_ignore_paths_that_are_not_versions(directory: Any) -> None:
    assert directory.versions([{"path": "/vip/x"}, {"path": "/v10/a"}, {"path": "/legacy/x"}]) == ["v10"]


def test_orders_answers_its_own_contract(orders: Any) -> None:
    version, module = orders
    path = f"/{version}/orders/o-1"

    status, body = reply(module.handler(rest(path, f"/{version}/orders/{{id}}", {"id": "o-1"}), LambdaContext()))

    assert status == 200
    assert body["version"] == version
    assert ("total" in body) == (version == "v1") and ("total_cents" in body) == (version == "v2")


@pytest.mark.parametrize("bad_id", ["o 1", "x" * 65, "o-1;drop"])
def test_orders_refuses_a_malformed_id_with_400(orders: Any, bad_id: str) -> None:
    version, module = orders
    event = rest(f"/{version}/orders/{bad_id}", f"/{version}/orders/{{id}}", {"id": bad_id})

    status, body = reply(module.handler(event, LambdaContext()))

    assert status == 400
    assert "order id must be" in body["message"]


def test_orders_refuses_a_call_for_the_other_version(orders: Any) -> None:
    version, module = orders
    other = "v2" if version == "v1" else "v1"

    status, body = reply(
        module.handler(rest(f"/{other}/orders/o-1", f"/{other}/orders/{{id}}", {"id": "o-1"}), LambdaContext())
    )

    assert status == 400
    assert f"this is the {version} orders service" in body["message"]


def test_catalog_serves_items_over_a_function_url_event(catalog: Any) -> None:
    assert reply(catalog.handler(function_url("/catalog/items/kettle"), LambdaContext())) == (
        200,
        {"sku": "kettle", "price_cents": 2500},
    )
    assert reply(catalog.handler(function_url("/catalog/items"), LambdaContext())) == (
        200,
        {"items": ["kettle", "mug"]},
    )


def test_catalog_answers_404_for_an_unknown_item_or_path(catalog: Any) -> None:
    status, body = reply(catalog.handler(function_url("/catalog/items/anvil"), LambdaContext()))
    assert (status, body["message"]) == (404, "no catalog item 'anvil'")
    assert reply(catalog.handler(function_url("/catalog/nothing-here"), LambdaContext()))[0] == 404
    assert reply(catalog.handler(function_url("/catalog/items", method="DELETE"), LambdaContext()))[0] == 404
