"""Rung 5 for CATALOG 14 GatewayRouter: GatewayRouterDemo deployed into the local cloud, served by its
front door; the catalog team's HTTP service is a real function URL the gateway calls over HTTP.

Proves: each route reaches its backend (and only it: invocations and queue messages are counted);
v1 and v2 coexist; an unknown route is a 404 from the gateway and calls no backend; no key → 403;
a missing required parameter → 400 before the backend. Faults: over a route's throttle → 429 Too
Many Requests, over a client's quota → 429 Limit Exceeded (the other client keeps working); the
catalog service down → only its routes answer 502 with a clean body, orders keep answering.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from demo import gateway_router as demo
from demo._drive import api_url_mapper
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "GatewayRouterDemo"
FUNCTIONS = {"v1": f"{STACK}/OrdersV1", "v2": f"{STACK}/OrdersV2", "catalog": f"{STACK}/Catalog"}
DIRECTORY = f"{STACK}/Gateway/Directory"


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class Gateway:
    cloud: LocalCloud
    outputs: dict[str, str]
    base: str
    web: str
    partner: str

    def __call__(self, method: str, path: str, body: Any = None, *, key: str | None = "web", **headers: str) -> Reply:
        sent = {"content-type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}}
        if key is not None:
            sent["x-api-key"] = {"web": self.web, "partner": self.partner}.get(key, key)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return Reply(status, json.loads(payload) if payload else None)

    def calls(self) -> dict[str, int]:
        """Invocations of every backend function and of the directory, by name."""
        named = {**FUNCTIONS, "directory": DIRECTORY}
        return {name: len(self.cloud.invocations(path)) for name, path in named.items()}

    def messages(self) -> list[str]:
        """Take every feedback message out of the queue (long visibility: each is counted once)."""
        sqs, bodies = self.cloud.client("sqs"), []
        url = self.outputs["FeedbackQueueUrl"]
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages"):
            bodies += [m["Body"] for m in got]
        return bodies


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def gateway(deployed) -> Gateway:
    cloud, stack = deployed
    apigateway = cloud.client("apigateway")

    def key(output: str) -> str:
        return str(apigateway.get_api_key(apiKey=stack.outputs[output], includeValue=True)["value"])

    base = cloud.api_url(stack.outputs["RestApiId"], stage="prod").rstrip("/")
    return Gateway(cloud, dict(stack.outputs), base, key("WebKeyId"), key("PartnerKeyId"))


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def test_each_route_reaches_its_own_backend_and_only_it(gateway: Gateway) -> None:
    gateway.messages()
    steps = [
        ("GET", "/v1/orders/o-1", None, {"v1": 1}),
        ("GET", "/v2/orders/o-1", None, {"v2": 1}),
        ("GET", "/v1/catalog/items/kettle", None, {"catalog": 1}),
        ("POST", "/v1/feedback", {"stars": 4}, {}),
    ]
    replies = []
    for method, path, body, expected in steps:
        before = gateway.calls()
        replies.append(gateway(method, path, body, x_request_id="r-1"))
        assert _delta(before, gateway.calls()) == expected, path

    assert [r.status for r in replies] == [200, 200, 200, 202]
    assert replies[2].body == {"sku": "kettle", "price_cents": 2500}
    assert replies[3].body["messageId"]
    assert [json.loads(m) for m in gateway.messages()] == [{"stars": 4}]


def test_v1_and_v2_coexist_with_their_own_contracts(gateway: Gateway) -> None:
    v1, v2 = gateway("GET", "/v1/orders/o-7"), gateway("GET", "/v2/orders/o-7")

    assert v1.body == {"id": "o-7", "version": "v1", "total": 12.5}
    assert v2.body == {"id": "o-7", "version": "v2", "total_cents": 1250, "links": {"self": "/v2/orders/o-7"}}


def test_the_directory_lists_routes_and_versions(gateway: Gateway) -> None:
    reply = gateway("GET", "/")

    assert reply.status == 200
    assert reply.body["versions"] == ["v1", "v2"]
    assert {r["path"]: r["backend"] for r in reply.body["routes"]} == {
        "/v1/orders/{id}": "lambda",
        "/v2/orders/{id}": "lambda",
        "/v1/catalog/{proxy+}": "http",
        "/v1/feedback": "queue",
    }


def test_unknown_routes_are_404_from_the_gateway_and_call_no_backend(gateway: Gateway) -> None:
    before, queued = gateway.calls(), gateway.messages()

    replies = [
        gateway("GET", "/v3/orders/o-1"),
        gateway("DELETE", "/v1/orders/o-1"),
        gateway("GET", "/v1/feedback"),
        gateway("GET", "/v1"),
    ]

    assert [(r.status, r.body) for r in replies] == [(404, {"message": "Not Found"})] * 4
    assert _delta(before, gateway.calls()) == {}
    assert queued == [] and gateway.messages() == []


def test_a_request_without_a_valid_key_is_403_and_calls_no_backend(gateway: Gateway) -> None:
    before = gateway.calls()

    missing, wrong = gateway("GET", "/v1/orders/o-1", key=None), gateway("GET", "/v1/orders/o-1", key="nope")

    assert (missing.status, missing.body) == (403, {"message": "Forbidden"})
    assert wrong.status == 403
    assert _delta(before, gateway.calls()) == {}


def test_a_missing_required_parameter_is_400_at_the_edge(gateway: Gateway) -> None:
    gateway.messages()
    gateway.cloud.advance(1.0)  # a full feedback bucket

    reply = gateway("POST", "/v1/feedback", {"stars": 1})

    assert reply.status == 400
    assert "x-request-id" in reply.body["message"]
    assert gateway.messages() == []


def test_over_a_routes_throttle_is_429_and_the_bucket_refills(gateway: Gateway) -> None:
    gateway.messages()
    gateway.cloud.advance(1.0)  # a full bucket
    rate, burst = demo.FEEDBACK_THROTTLE
    started = time.monotonic()

    replies = [gateway("POST", "/v1/feedback", {"n": n}, x_request_id=f"t-{n}") for n in range(burst + 6)]
    elapsed = time.monotonic() - started
    other_route = gateway("GET", "/v1/orders/o-1")
    gateway.cloud.advance(1.0)
    refilled = gateway("POST", "/v1/feedback", {"n": -1}, x_request_id="t-refilled")

    accepted = [n for n, r in enumerate(replies) if r.status == 202]
    refused = [r for r in replies if r.status != 202]
    # The burst passes at once; beyond it only what the rate refilled meanwhile (wall time passes too).
    assert accepted[:burst] == list(range(burst))
    assert len(accepted) <= burst + int(rate * elapsed) + 1
    assert refused and all((r.status, r.body) == (429, {"message": "Too Many Requests"}) for r in refused)
    assert other_route.status == 200
    assert refilled.status == 202
    # Exactly the accepted requests became messages.
    assert sorted(json.loads(m)["n"] for m in gateway.messages()) == [-1, *accepted]


def test_a_client_over_its_daily_quota_is_429_and_the_other_client_keeps_working(gateway: Gateway) -> None:
    gateway.cloud.advance(86_400)  # a new quota day
    before = gateway.calls()

    answered = [gateway("GET", f"/v1/orders/p-{n}", key="partner").status for n in range(demo.PARTNER_QUOTA)]
    over = gateway("GET", "/v1/orders/p-over", key="partner")
    web = gateway("GET", "/v1/orders/w-1")

    assert answered == [200] * demo.PARTNER_QUOTA
    assert (over.status, over.body) == (429, {"message": "Limit Exceeded"})
    assert web.status == 200
    assert _delta(before, gateway.calls()) == {"v1": demo.PARTNER_QUOTA + 1}
    gateway.cloud.advance(86_400)
    assert gateway("GET", "/v1/orders/p-next-day", key="partner").status == 200


def test_demo_drive_passes_against_the_local_cloud(deployed) -> None:
    cloud, stack = deployed
    result = demo.drive(drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url)))

    assert result.ok, result.outcome


def test_catalog_service_down_fails_only_its_routes_with_a_clean_502(gateway: Gateway) -> None:
    # Last: the catalog team's function URL is removed, so its DNS name no longer resolves.
    lambda_client = gateway.cloud.client("lambda")
    lambda_client.delete_function_url_config(FunctionName=gateway.cloud.function_name(FUNCTIONS["catalog"]))
    before = gateway.calls()

    catalog = [gateway("GET", "/v1/catalog/items/kettle"), gateway("GET", "/v1/catalog/items")]
    orders = gateway("GET", "/v1/orders/o-1")

    assert [(r.status, r.body) for r in catalog] == [(502, {"message": "Internal server error"})] * 2
    assert orders.status == 200
    assert _delta(before, gateway.calls()) == {"v1": 1}
