"""Rung 5 for CATALOG 16 Strangler: StranglerDemo deployed into the local cloud, served by its front door;
the legacy app is a real function URL the facade calls over HTTP.

Proves: migrated routes hit the new service and every other route the legacy app, with the client's
requests unchanged (same paths, same bodies; invocations counted per backend); each write-back event
reaches the legacy side once per write; moving one route and redeploying the re-synthesized stack
moves exactly that route. Faults: the legacy app down → its routes answer a clean 502 while the
migrated routes (and their write-back) keep working; a write-back the legacy side cannot take is
retried and parked in the write-back queue's DLQ (core's defaults) without touching the legacy table.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from demo import strangler as demo
from demo._drive import api_url_mapper
from patterns import core
from patterns.local import LocalCloud
from tests.conftest import new_app
from tests.e2e._helpers import take_bodies
from tests.e2e._local_drive import drive_context

_DESERIALIZE = TypeDeserializer()
STACK = "StranglerDemo"
BACKENDS = {"legacy": f"{STACK}/LegacyApp", "new": f"{STACK}/Facade/NewService", "sync": f"{STACK}/LegacySync"}
#: One request per route, exactly as the legacy app's clients send them, and its expected status.
REQUESTS = {
    "GET /orders/{id}": ("GET", "/orders/seed-1", None),
    "POST /orders": ("POST", "/orders", {"order_id": "r-1", "customer_id": "c-1", "total_cents": 500}),
    "GET /customers/{id}": ("GET", "/customers/c-2", None),
    "GET /inventory/{sku}": ("GET", "/inventory/kettle", None),
}


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class Facade:
    cloud: LocalCloud
    outputs: dict[str, str]
    base: str

    def __call__(self, method: str, path: str, body: Any = None) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"}
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return Reply(status, json.loads(payload) if payload else None)

    def calls(self) -> dict[str, int]:
        return {name: len(self.cloud.invocations(path)) for name, path in BACKENDS.items()}

    def legacy_rows(self) -> dict[str, dict[str, Any]]:
        items = self.cloud.client("dynamodb").scan(TableName=self.outputs["LegacyTableName"])["Items"]
        rows = [{k: _DESERIALIZE.deserialize(v) for k, v in item.items()} for item in items]
        return {row["ORDER_NO"]: row for row in rows}

    def backend_of(self, key: str) -> str:
        """Which backend one request of route ``key`` reaches (exactly one invocation, counted)."""
        method, path, body = REQUESTS[key]
        if body is not None:  # a fresh order id per call: every write is a new order
            body = {**body, "order_id": f"probe-{sum(self.calls().values())}"}
        before = self.calls()
        reply = self(method, path, body)
        delta = {n: c - before[n] for n, c in self.calls().items() if c != before[n]}
        assert reply.status in (200, 201), (key, reply)
        assert len(delta) == 1 and next(iter(delta.values())) == 1, (key, delta)
        assert reply.body["served_by"] == next(iter(delta)), (key, reply.body)
        return next(iter(delta))


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as cloud:
        stack = cloud.deploy(demo_app.outdir, STACK)
        # An order the legacy app has always had (placed before the facade existed).
        seed = {"pk": "ORDER#seed-1", "ORDER_NO": "seed-1", "CUST_NO": "c-2", "AMOUNT": "3.00", "SOURCE": "legacy"}
        cloud.client("dynamodb").put_item(
            TableName=stack.outputs["LegacyTableName"], Item={k: {"S": v} for k, v in seed.items()}
        )
        yield cloud, stack


@pytest.fixture(scope="module")
def facade(deployed) -> Facade:
    cloud, stack = deployed
    return Facade(cloud, dict(stack.outputs), cloud.api_url(stack.outputs["RestApiId"], stage="prod").rstrip("/"))


def test_migrated_routes_hit_the_new_service_and_the_rest_the_legacy_app(facade: Facade) -> None:
    routed = {key: facade.backend_of(key) for key in REQUESTS}

    assert routed == {key: "new" if key in demo.MIGRATED else "legacy" for key in REQUESTS}
    seed = facade("GET", "/orders/seed-1")
    assert seed.body == {
        "ORDER_NO": "seed-1",
        "CUST_NO": "c-2",
        "AMOUNT": "3.00",
        "SOURCE": "legacy",
        "served_by": "legacy",
    }


def test_a_bad_body_is_refused_alike_by_the_new_service_and_the_legacy_app(facade: Facade) -> None:
    bad = {"order_id": "x-1", "customer_id": "c-1", "total_cents": "lots"}
    new = facade("POST", "/orders", bad)
    legacy = urllib.request.Request(
        facade.cloud.function_url(facade.cloud.function_name(BACKENDS["legacy"])).rstrip("/") + "/orders",
        data=json.dumps(bad).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(legacy, timeout=30)

    assert new.status == refused.value.code == 400
    assert "total_cents" in new.body["message"]


def test_each_write_reaches_the_legacy_side_once(facade: Facade) -> None:
    facade.cloud.drain()
    before, rows_before = facade.calls(), facade.legacy_rows()
    orders = [{"order_id": f"w-{n}", "customer_id": "c-1", "total_cents": 100 * n + 5} for n in range(5)]

    placed = [facade("POST", "/orders", order) for order in orders]
    facade.cloud.drain()

    assert [(r.status, r.body["served_by"]) for r in placed] == [(201, "new")] * 5
    rows = facade.legacy_rows()
    assert set(rows) - set(rows_before) == {o["order_id"] for o in orders}
    assert rows["w-3"] == {
        "pk": "ORDER#w-3",
        "ORDER_NO": "w-3",
        "CUST_NO": "c-1",
        "AMOUNT": "3.05",
        "SOURCE": "new-service",
    }
    synced = facade.cloud.invocations(BACKENDS["sync"])[before["sync"] :]
    events = [json.loads(r["body"])["order"]["order_id"] for i in synced for r in i.event["Records"]]
    assert sorted(events) == sorted(o["order_id"] for o in orders)  # one write-back event per write, no more
    assert all(i.error is None and i.result == {"batchItemFailures": []} for i in synced)
    # The legacy app's own screen shows what the new service took, in the legacy model.
    assert facade("GET", "/orders/w-3").body["SOURCE"] == "new-service"
    assert facade.calls()["legacy"] == before["legacy"] + 1


def test_a_write_back_the_legacy_side_cannot_take_is_retried_then_dead_lettered(facade: Facade) -> None:
    sqs, queue_url = facade.cloud.client("sqs"), facade.outputs["SyncQueueUrl"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[-1])["QueueUrl"]
    facade.cloud.drain()
    before, rows = facade.calls(), facade.legacy_rows()

    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"type": "OrderPlaced", "order": {"order_id": "p"}}))
    facade.cloud.drain(timeout=60)

    parked = take_bodies(facade.cloud, dlq_url)
    assert [json.loads(b)["order"] for b in parked] == [{"order_id": "p"}]
    assert facade.calls()["sync"] - before["sync"] == redrive["maxReceiveCount"] == core.MAX_RECEIVE_COUNT
    assert facade.legacy_rows() == rows


def test_demo_drive_passes_against_the_local_cloud(deployed) -> None:
    cloud, stack = deployed
    result = demo.drive(drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url)))

    assert result.ok, result.outcome


def test_moving_one_route_and_redeploying_moves_exactly_that_route(facade: Facade, tmp_path: Path) -> None:
    moved = "GET /customers/{id}"
    before = {key: facade.backend_of(key) for key in REQUESTS}
    app = new_app(tmp_path)
    demo.build(app, STACK, migrated=demo.MIGRATED | {moved})
    app.synth()

    facade.cloud.deploy(tmp_path, STACK)
    after = {key: facade.backend_of(key) for key in REQUESTS}

    assert before[moved] == "legacy" and after[moved] == "new"
    assert {k: v for k, v in after.items() if k != moved} == {k: v for k, v in before.items() if k != moved}


def test_legacy_app_down_fails_its_routes_cleanly_while_migrated_routes_keep_working(facade: Facade) -> None:
    # Last: the legacy app's function URL is removed, so its host no longer resolves.
    lambda_client = facade.cloud.client("lambda")
    lambda_client.delete_function_url_config(FunctionName=facade.cloud.function_name(BACKENDS["legacy"]))
    facade.cloud.drain()
    before = facade.calls()

    legacy = [facade("GET", "/orders/seed-1"), facade("GET", "/inventory/kettle")]
    placed = facade("POST", "/orders", {"order_id": "down-1", "customer_id": "c-2", "total_cents": 700})
    facade.cloud.drain()

    assert [(r.status, r.body) for r in legacy] == [(502, {"message": "Internal server error"})] * 2
    assert (placed.status, placed.body) == (201, {"order_id": "down-1", "served_by": "new"})
    assert facade.calls() == {**before, "new": before["new"] + 1, "sync": before["sync"] + 1}
    assert facade.legacy_rows()["down-1"]["SOURCE"] == "new-service"
