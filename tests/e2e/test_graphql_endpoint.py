"""Rung 5 for CATALOG 19 GraphQlEndpoint: GraphQlEndpointDemo deployed into the local cloud, queried over HTTP.

Proves: 7 addItem mutations by a Cognito editor write 7 items (counted in the table) that queries read
back with real resolvers — ``item`` (GetItem), ``items`` (Scan pages) and ``itemsByOwner`` (Query on
the owner index, pages with ``nextToken``), each item's ``priceLabel`` computed by the pricing
function (one invocation per item read). A field the caller may not read is refused: ``notes`` for
API key readers and Cognito users outside the group (null + ``Unauthorized``), ``addItem`` for API
key readers (nothing written). Invalid queries are GraphQL errors in a 200 body, never a 500; bad
credentials are 401. Faults: an item whose price the function cannot label keeps its other fields
(only ``priceLabel`` is null, with the function's error); a page ``limit`` over the maximum is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from demo import graphql_endpoint as demo
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "GraphQlEndpointDemo"
OWNERS = {"ann": 4, "bob": 3}
PRICES = [1250, 99, 100000, 1, 2599, 0, 730]


class Api:
    """The deployed demo: GraphQL over HTTP with the API key or a user's token."""

    def __init__(self, cloud: LocalCloud, stack: DeployedStack) -> None:
        self.cloud, self.stack = cloud, stack
        self.ctx = drive_context(cloud, stack)
        self.url = stack.outputs["GraphQlUrl"]
        self.key = stack.outputs["ApiKey"]
        self.editor = demo.sign_in(self.ctx, "eddie", groups=(demo.GROUP,))
        self.member = demo.sign_in(self.ctx, "mia")

    def post(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> requests.Response:
        return requests.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=15)

    def as_reader(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables, **{"x-api-key": self.key})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def as_editor(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables, Authorization=self.editor)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def table_items(self) -> list[dict[str, Any]]:
        return self.cloud.client("dynamodb").scan(TableName=self.stack.outputs["TableName"])["Items"]  # type: ignore[no-any-return]

    def pricing_invocations(self) -> int:
        return len(self.cloud.invocations(f"{STACK}/Items/Pricing"))


@pytest.fixture(scope="module")
def api(demo_app) -> Iterator[Api]:
    with LocalCloud() as cloud:
        yield Api(cloud, cloud.deploy(demo_app.outdir, STACK))


@pytest.fixture(scope="module")
def added(api: Api) -> list[dict[str, Any]]:
    """The editor adds 4 items of ann and 3 of bob, each with notes."""
    owners = [owner for owner, count in OWNERS.items() for _ in range(count)]
    results = []
    for n, (owner, price) in enumerate(zip(owners, PRICES, strict=True)):
        body = api.as_editor(
            demo.ADD_ITEM, {"input": {"name": f"item-{n}", "owner": owner, "priceCents": price, "notes": f"n{n}"}}
        )
        assert "errors" not in body, body
        results.append(body["data"]["addItem"])
    return results


def test_mutations_write_one_item_each_and_queries_read_them_back(api: Api, added: list[dict[str, Any]]) -> None:
    stored = api.table_items()

    assert len(added) == len(stored) == sum(OWNERS.values())
    assert {i["id"]["S"] for i in stored} == {a["id"] for a in added}
    assert all(i["createdAt"]["S"].endswith("Z") for i in stored)  # $util.time.nowISO8601() in the put
    before = api.pricing_invocations()
    got = api.as_reader(
        "query($id: ID!) { item(id: $id) { id name owner priceCents priceLabel } }", {"id": added[0]["id"]}
    )
    assert got == {
        "data": {
            "item": {"id": added[0]["id"], "name": "item-0", "owner": "ann", "priceCents": 1250, "priceLabel": "€12.50"}
        }
    }
    assert api.pricing_invocations() == before + 1
    assert api.as_reader('{ item(id: "missing") { id } }') == {"data": {"item": None}}


def test_pages_of_a_scan_and_of_the_owner_query_cover_every_item_once(api: Api, added: list[dict[str, Any]]) -> None:
    def walk(query: str, field: str, **variables: Any) -> tuple[list[str], int]:
        ids, token, pages = [], None, 0
        while True:
            page = api.as_reader(query, {**variables, "next": token})["data"][field]
            ids += [i["id"] for i in page["items"]]
            pages, token = pages + 1, page["nextToken"]
            if token is None:
                return ids, pages

    scan = "query($limit: Int, $next: String) { items(limit: $limit, nextToken: $next) { items { id } nextToken } }"
    every, scan_pages = walk(scan, "items", limit=2)
    anns, ann_pages = walk(demo.ITEMS_BY_OWNER, "itemsByOwner", owner="ann", limit=3)

    assert sorted(every) == sorted(a["id"] for a in added) and scan_pages == 4
    assert sorted(anns) == sorted(a["id"] for a in added if a["owner"] == "ann") and ann_pages == 2
    labels = api.as_reader('{ itemsByOwner(owner: "bob") { items { priceCents priceLabel } nextToken } }')
    page = labels["data"]["itemsByOwner"]
    assert page["nextToken"] is None
    assert sorted((i["priceCents"], i["priceLabel"]) for i in page["items"]) == [
        (0, "€0.00"), (730, "€7.30"), (2599, "€25.99")
    ]


def test_a_field_the_caller_may_not_read_is_refused(api: Api, added: list[dict[str, Any]]) -> None:
    query = "query($id: ID!) { item(id: $id) { name notes } }"
    target = {"id": added[1]["id"]}

    as_editor = api.as_editor(query, target)
    as_member = api.post(query, target, Authorization=api.member).json()
    as_reader = api.as_reader(query, target)

    assert as_editor == {"data": {"item": {"name": "item-1", "notes": "n1"}}}
    for refused in (as_member, as_reader):
        assert refused["data"] == {"item": {"name": "item-1", "notes": None}}
        assert [(e["errorType"], e["path"]) for e in refused["errors"]] == [("Unauthorized", ["item", "notes"])]


def test_api_key_readers_cannot_write(api: Api, added: list[dict[str, Any]]) -> None:
    before = len(api.table_items())

    refused = api.as_reader(demo.ADD_ITEM, {"input": {"name": "sneaky", "owner": "eve", "priceCents": 1}})

    assert refused["data"] is None  # addItem is non-null: its refusal nulls the whole result
    assert refused["errors"][0]["errorType"] == "Unauthorized"
    assert refused["errors"][0]["message"] == "Not Authorized to access addItem on type Mutation"
    assert len(api.table_items()) == before


def test_invalid_queries_are_graphql_errors_not_500(api: Api) -> None:
    unknown = api.as_reader("{ items { items { colour } } }")
    syntax = api.as_reader("{ items(limit: ")
    mistyped = api.as_reader('{ item(id: 1) { id } } query Other { items(limit: "two") { nextToken } }')
    missing = api.as_reader("mutation { addItem(input: {name: \"x\"}) { id } }")
    too_big = api.as_reader("{ items(limit: 5000) { nextToken } }")

    for body in (unknown, syntax, mistyped, missing):
        assert body["data"] is None and body["errors"], body
    assert "colour" in unknown["errors"][0]["message"]
    assert unknown["errors"][0]["errorType"] == "ValidationError"
    assert syntax["errors"][0]["errorType"] == "InvalidSyntax"
    assert too_big["data"] is None
    assert (too_big["errors"][0]["errorType"], too_big["errors"][0]["message"]) == (
        "BadRequest", "limit must be between 1 and 100"
    )


def test_bad_credentials_are_401(api: Api) -> None:
    for headers in ({}, {"x-api-key": "not-the-key"}, {"Authorization": api.editor[:-4] + "abcd"}):
        response = api.post("{ items { nextToken } }", **headers)
        assert response.status_code == 401, headers
        assert response.json()["errors"][0]["errorType"] == "UnauthorizedException"


def test_a_price_the_function_cannot_label_fails_only_that_field(api: Api) -> None:
    added = api.as_editor(demo.ADD_ITEM, {"input": {"name": "refund", "owner": "zed", "priceCents": -5}})
    item = added["data"]["addItem"]

    read = api.as_reader("query($id: ID!) { item(id: $id) { name priceLabel } }", {"id": item["id"]})

    assert read["data"] == {"item": {"name": "refund", "priceLabel": None}}
    (error,) = read["errors"]
    assert error["path"] == ["item", "priceLabel"]
    assert "priceCents must be a whole number of cents >= 0" in error["message"]


def test_the_demo_drive_succeeds(api: Api) -> None:
    result = demo.drive(api.ctx)

    assert result.ok, result.outcome
    assert "priceLabel=€25.99" in result.outcome and "editor notes='supplier: acme'" in result.outcome
