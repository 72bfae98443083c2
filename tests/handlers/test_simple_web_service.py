"""Rung 4: the SimpleWebService handler against moto DynamoDB, with realistic API Gateway REST events.

Bad input (malformed JSON, missing or extra fields, wrong types, bad pagination parameters) must be
answered with 400 and its reason, and must leave the table untouched.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import load_handler

EVENT = json.loads((Path(__file__).parent / "events" / "simple_web_service" / "rest_api_request.json").read_text())
TABLE = "items-table"


@dataclass
class LambdaContext:
    function_name: str = "SimpleWebServiceHandler"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:SimpleWebServiceHandler"
    aws_request_id: str = "3f6b2a1c-0000-4000-8000-000000000001"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Calls the handler the way API Gateway's Lambda proxy integration does."""

    def __init__(self, module: ModuleType, table: Any) -> None:
        self.module = module
        self.table = table

    def __call__(
        self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
        raw: str | None = None, base64_body: bool = False,
    ) -> Reply:
        event = copy.deepcopy(EVENT)
        parts = path.strip("/").split("/")
        item_id = parts[1] if len(parts) > 1 else None
        event.update(
            httpMethod=method, path=path, resource="/items/{id}" if item_id else "/items",
            pathParameters={"id": item_id} if item_id else None, queryStringParameters=query,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        )
        event["requestContext"].update(httpMethod=method, resourcePath=event["resource"], path=f"/prod{path}")
        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if text is not None and base64_body:
            text, event["isBase64Encoded"] = base64.b64encode(text.encode()).decode(), True
        event["body"] = text
        result = self.module.handler(event, LambdaContext())
        payload = result.get("body") or ""
        multi = result.get("multiValueHeaders") or {}
        headers = {**(result.get("headers") or {}), **{k: v[-1] for k, v in multi.items()}}
        return Reply(result["statusCode"], json.loads(payload) if payload else None, headers)

    def stored(self) -> list[dict[str, Any]]:
        return self.table.scan(ConsistentRead=True)["Items"]


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        module = load_handler(
            "simple_web_service", "app",
            env={"TABLE_NAME": TABLE, "POWERTOOLS_SERVICE_NAME": "simple-web-service", "MAX_PAGE_SIZE": "50"},
        )
        yield Api(module, table)


# --- create / read / update / delete ---------------------------------------------------------


def test_post_creates_an_item_and_answers_201_with_its_id(api: Api) -> None:
    reply = api("POST", "/items", raw=EVENT["body"])
    assert reply.status == 201
    assert reply.headers["Location"] == f"/items/{reply.body['id']}"
    assert reply.body | {"id": "x", "created_at": "t", "updated_at": "t"} == {
        "id": "x", "name": "widget", "description": "a blue widget", "quantity": 3,
        "created_at": "t", "updated_at": "t",
    }
    [stored] = api.stored()
    assert stored["id"] == reply.body["id"] and stored["name"] == "widget" and stored["quantity"] == 3


def test_post_fills_optional_fields_with_their_defaults(api: Api) -> None:
    reply = api("POST", "/items", {"name": "bare"})
    assert reply.status == 201
    assert (reply.body["description"], reply.body["quantity"]) == ("", 0)


def test_post_accepts_a_base64_encoded_body(api: Api) -> None:
    reply = api("POST", "/items", {"name": "encoded"}, base64_body=True)
    assert reply.status == 201 and reply.body["name"] == "encoded"


def test_get_returns_the_stored_item(api: Api) -> None:
    created = api("POST", "/items", {"name": "lamp", "quantity": 2}).body
    reply = api("GET", f"/items/{created['id']}")
    assert reply.status == 200
    assert reply.body == created


def test_get_of_an_unknown_id_is_404(api: Api) -> None:
    reply = api("GET", "/items/does-not-exist")
    assert reply.status == 404
    assert "does-not-exist" in reply.body["message"]


def test_put_replaces_the_client_fields_and_keeps_id_and_creation_time(api: Api) -> None:
    created = api("POST", "/items", {"name": "lamp", "description": "old", "quantity": 2}).body
    reply = api("PUT", f"/items/{created['id']}", {"name": "lamp", "quantity": 5})
    assert reply.status == 200
    assert reply.body["quantity"] == 5 and reply.body["description"] == ""
    assert reply.body["created_at"] == created["created_at"]
    assert reply.body["updated_at"] >= created["updated_at"]
    assert api("GET", f"/items/{created['id']}").body == reply.body
    assert len(api.stored()) == 1


def test_put_of_an_unknown_id_is_404_and_creates_nothing(api: Api) -> None:
    reply = api("PUT", "/items/ghost", {"name": "ghost"})
    assert reply.status == 404
    assert api.stored() == []


def test_put_with_a_bad_body_is_400_and_leaves_the_item_unchanged(api: Api) -> None:
    created = api("POST", "/items", {"name": "lamp", "quantity": 2}).body
    reply = api("PUT", f"/items/{created['id']}", {"name": "", "quantity": 2})
    assert reply.status == 400
    assert "name" in reply.body["message"]
    assert api("GET", f"/items/{created['id']}").body == created


def test_delete_removes_the_item_and_answers_204(api: Api) -> None:
    created = api("POST", "/items", {"name": "lamp"}).body
    reply = api("DELETE", f"/items/{created['id']}")
    assert (reply.status, reply.body) == (204, None)
    assert api("GET", f"/items/{created['id']}").status == 404
    assert api.stored() == []


def test_delete_of_an_unknown_id_is_404(api: Api) -> None:
    api("POST", "/items", {"name": "keep me"})
    assert api("DELETE", "/items/ghost").status == 404
    assert len(api.stored()) == 1


# --- list and pagination -----------------------------------------------------------------------


def test_list_walks_every_item_exactly_once_in_pages_of_limit(api: Api) -> None:
    created = {api("POST", "/items", {"name": f"item {n}"}).body["id"] for n in range(7)}
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", **({"next_token": token} if token else {})}
        reply = api("GET", "/items", query=query)
        assert reply.status == 200
        assert len(reply.body["items"]) <= 3
        seen += [item["id"] for item in reply.body["items"]]
        pages += 1
        token = reply.body["next_token"]
        if not token:
            break
    assert sorted(seen) == sorted(created)
    assert pages >= 3


def test_list_without_limit_uses_the_default_page_size(api: Api) -> None:
    for n in range(3):
        api("POST", "/items", {"name": f"item {n}"})
    reply = api("GET", "/items")
    assert reply.status == 200
    assert len(reply.body["items"]) == 3 and reply.body["next_token"] is None


@pytest.mark.parametrize("limit", ["0", "51", "-1", "ten", "2.5"])
def test_list_with_a_bad_limit_is_400_with_the_allowed_range(api: Api, limit: str) -> None:
    reply = api("GET", "/items", query={"limit": limit})
    assert reply.status == 400
    assert "between 1 and 50" in reply.body["message"]


@pytest.mark.parametrize("token", ["not-base64!!", base64.urlsafe_b64encode(b'{"other": 1}').decode(), "W10"])
def test_list_with_a_forged_next_token_is_400(api: Api, token: str) -> None:
    reply = api("GET", "/items", query={"next_token": token})
    assert reply.status == 400
    assert "next_token" in reply.body["message"]


# --- bad input: 400 with the reason, nothing written -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"name": "broken"', "Invalid JSON"),
        ("not json at all", "Invalid JSON"),
        ("", "JSON object"),
        ('["name"]', "body: Input should be an object"),
        ('{"description": "no name"}', "name: Field required"),
        ('{"name": ""}', "name: String should have at least 1 character"),
        ('{"name": "x", "quantity": -1}', "quantity: Input should be greater than or equal to 0"),
        ('{"name": "x", "quantity": "3"}', "quantity: Input should be a valid integer"),
        ('{"name": "x", "colour": "red"}', "colour: Extra inputs are not permitted"),
        ('{"name": "' + "n" * 201 + '"}', "name: String should have at most 200 characters"),
    ],
    ids=["truncated", "not-json", "empty", "array", "missing-name", "empty-name", "negative", "string-int",
         "extra-field", "too-long"],
)
def test_post_with_bad_input_is_400_with_the_reason_and_writes_nothing(api: Api, raw: str, reason: str) -> None:
    reply = api("POST", "/items", raw=raw)
    assert reply.status == 400
    assert reason in reply.body["message"]
    assert api.stored() == []


def test_an_unknown_route_is_404_and_touches_nothing(api: Api) -> None:
    reply = api("PATCH", "/items/abc", {"name": "x"})
    assert reply.status == 404
    assert api.stored() == []
