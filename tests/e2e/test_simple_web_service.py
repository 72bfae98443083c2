"""Rung 5 for CATALOG 1 SimpleWebService: SimpleWebServiceDemo deployed into the local cloud, served by
its HTTP front door (IAM-authorized methods accept unsigned requests there), real handler code.

Proves: create / read / update / delete / list of items over HTTP, list pagination visiting every
item once. Faults: malformed JSON and missing fields answer 400 with the reason, unknown ids 404,
and bad input writes nothing (the table is counted before and after).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from demo import simple_web_service as demo
from demo._drive import api_url_mapper
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "SimpleWebServiceDemo"
FUNCTION = f"{STACK}/Items/Handler"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Client:
    """Plain HTTP against the front door: what any client of the deployed API would send."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def __call__(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> Reply:
        data = raw.encode() if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            f"{self.base}{path}", data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload, headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, payload, headers = error.code, error.read(), dict(error.headers)
        return Reply(status, json.loads(payload) if payload else None, headers)


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def http(deployed) -> Client:
    cloud, stack = deployed
    return Client(cloud.api_url(stack.outputs["RestApiId"], stage="prod"))


@pytest.fixture
def table(deployed) -> Any:
    """Reads the table straight from the emulated DynamoDB, never through the API under test."""
    cloud, stack = deployed
    ddb = cloud.client("dynamodb")

    class Table:
        @staticmethod
        def items() -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            kwargs: dict[str, Any] = {"TableName": stack.outputs["TableName"], "ConsistentRead": True}
            while True:
                page = ddb.scan(**kwargs)
                found |= {item["id"]["S"]: item for item in page["Items"]}
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return Table()


def _calls(cloud: LocalCloud) -> int:
    return len(cloud.invocations(FUNCTION))


# --- CRUD and list --------------------------------------------------------------------------------


def test_create_read_update_delete_round_trip(http: Client, table) -> None:
    created = http("POST", "/items", {"name": "kettle", "description": "steel", "quantity": 1})
    assert created.status == 201
    item_id = created.body["id"]
    assert created.headers["Location"] == f"/items/{item_id}"
    assert table.items()[item_id]["name"]["S"] == "kettle"

    got = http("GET", f"/items/{item_id}")
    assert (got.status, got.body) == (200, created.body)

    updated = http("PUT", f"/items/{item_id}", {"name": "kettle", "description": "copper", "quantity": 4})
    assert updated.status == 200
    assert (updated.body["description"], updated.body["quantity"]) == ("copper", 4)
    assert updated.body["created_at"] == created.body["created_at"]
    stored = table.items()[item_id]
    assert (stored["description"]["S"], stored["quantity"]["N"]) == ("copper", "4")

    deleted = http("DELETE", f"/items/{item_id}")
    assert (deleted.status, deleted.body) == (204, None)
    assert item_id not in table.items()
    assert http("GET", f"/items/{item_id}").status == 404


def test_list_pages_through_every_item_exactly_once(http: Client, table) -> None:
    mine = {http("POST", "/items", {"name": f"page item {n}"}).body["id"] for n in range(12)}
    seen: list[str] = []
    token, pages = "", 0
    while True:
        reply = http("GET", "/items?limit=5" + (f"&next_token={token}" if token else ""))
        assert reply.status == 200
        assert len(reply.body["items"]) <= 5
        seen += [item["id"] for item in reply.body["items"]]
        pages += 1
        token = reply.body["next_token"] or ""
        if not token:
            break
    assert len(seen) == len(set(seen)), "an item was listed twice"
    assert set(seen) == set(table.items())
    assert mine <= set(seen)
    assert pages >= 3


# --- faults: 400 with the reason, 404, nothing written ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"name": "broken"', "Invalid"),
        ('{"description": "no name"}', "name"),
        ('{"name": "x", "quantity": -5}', "minimum"),
        ('{"name": "x", "colour": "red"}', "colour"),
        ('{"name": 42}', "string"),
    ],
    ids=["malformed-json", "missing-name", "negative-quantity", "extra-field", "wrong-type"],
)
def test_bad_bodies_are_refused_with_400_and_the_reason_before_any_code_runs(
    deployed, http: Client, table, raw: str, reason: str
) -> None:
    cloud, _ = deployed
    before, calls = table.items(), _calls(cloud)
    reply = http("POST", "/items", raw=raw)
    assert reply.status == 400
    assert reason in json.dumps(reply.body), reply.body
    assert table.items() == before
    # API Gateway's validator answered: the function never saw the request.
    assert _calls(cloud) == calls


def test_bad_update_is_400_and_leaves_the_item_unchanged(http: Client, table) -> None:
    item_id = http("POST", "/items", {"name": "lamp", "quantity": 2}).body["id"]
    before = table.items()[item_id]
    reply = http("PUT", f"/items/{item_id}", raw='{"quantity": 3}')
    assert reply.status == 400
    assert "name" in json.dumps(reply.body)
    assert table.items()[item_id] == before


def test_the_handler_also_refuses_what_the_gateway_cannot_check(deployed, http: Client, table) -> None:
    cloud, _ = deployed
    before, calls = table.items(), _calls(cloud)
    reply = http("GET", "/items?limit=0")
    assert reply.status == 400
    assert "limit must be an integer between 1 and 100" in reply.body["message"]
    reply = http("GET", "/items?next_token=forged")
    assert reply.status == 400 and "next_token" in reply.body["message"]
    assert _calls(cloud) == calls + 2
    assert table.items() == before


def test_unknown_ids_are_404_and_create_nothing(http: Client, table) -> None:
    before = table.items()
    assert http("GET", "/items/no-such-id").status == 404
    put = http("PUT", "/items/no-such-id", {"name": "ghost"})
    assert put.status == 404 and "no-such-id" in put.body["message"]
    assert http("DELETE", "/items/no-such-id").status == 404
    assert table.items() == before


def test_every_handler_invocation_succeeded(deployed) -> None:
    """Bad input is an answer (4xx), never a function error."""
    cloud, _ = deployed
    invocations = cloud.invocations(FUNCTION)
    assert invocations and all(i.ok for i in invocations)


def test_demo_drive_passes_against_the_local_cloud(deployed) -> None:
    cloud, stack = deployed
    result = demo.drive(drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url)))
    assert result.ok, result
