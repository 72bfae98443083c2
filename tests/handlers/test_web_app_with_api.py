"""Rung 4: the WebAppWithApi handler against moto DynamoDB, with the REST events the distribution's
``/api/*`` behaviour produces. It answers only 200, 201 and 400 (a 403/404 would become the SPA page
behind CloudFront); bad input leaves the table untouched."""

from __future__ import annotations

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

EVENT = json.loads((Path(__file__).parent / "events" / "web_app_with_api" / "add_item.json").read_text())
TABLE = "web-items"


@dataclass
class LambdaContext:
    function_name: str = "WebAppWithApiHandler"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:WebAppWithApiHandler"
    aws_request_id: str = "3f6b2a1c-0000-4000-8000-000000000018"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


class Api:
    def __init__(self, module: ModuleType, table: Any) -> None:
        self.module, self.table = module, table

    def __call__(self, method: str, body: Any = None, *, raw: str | None = None, path: str = "/api/items") -> Any:
        event = copy.deepcopy(EVENT)
        event.update(httpMethod=method, path=path)
        event["requestContext"].update(httpMethod=method, path=f"/prod{path}")
        event["body"] = raw if raw is not None else (json.dumps(body) if body is not None else None)
        result = self.module.handler(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else None

    def count(self) -> int:
        return len(self.table.scan()["Items"])


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        module = load_handler(
            "web_app_with_api", "app",
            env={"TABLE_NAME": TABLE, "POWERTOOLS_SERVICE_NAME": "web-app-with-api", "MAX_ITEMS": "3"},
        )
        yield Api(module, table)


def test_the_recorded_event_adds_an_item(api: Api) -> None:
    status, body = api("POST", raw=EVENT["body"])
    assert status == 201
    assert body["name"] == "first item" and body["id"] and body["created_at"].endswith("+00:00")
    assert api.count() == 1


def test_list_is_newest_first_and_capped_at_max_items(api: Api) -> None:
    for n in range(5):
        api("POST", {"name": f"n{n}"})
    status, body = api("GET")
    assert status == 200
    assert [i["name"] for i in body["items"]] == ["n4", "n3", "n2"]


def test_an_empty_table_lists_nothing(api: Api) -> None:
    assert api("GET") == (200, {"items": []})


def test_names_are_stripped(api: Api) -> None:
    assert api("POST", {"name": "  spaced  "})[1]["name"] == "spaced"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "request body must be a JSON object"),
        ("{not json", "Invalid JSON"),
        (json.dumps({}), "name: Field required"),
        (json.dumps({"name": ""}), "name: String should have at least 1 character"),
        (json.dumps({"name": "   "}), "name: String should have at least 1 character"),
        (json.dumps({"name": "x" * 101}), "name: String should have at most 100 characters"),
        (json.dumps({"name": 5}), "name: Input should be a valid string"),
        (json.dumps({"name": "ok", "admin": True}), "admin: Extra inputs are not permitted"),
        (json.dumps(["name"]), "Input should be an object"),
    ],
)
def test_bad_input_is_400_with_the_reason_and_writes_nothing(api: Api, raw: str | None, reason: str) -> None:
    status, body = api("POST", raw=raw)
    assert status == 400
    assert reason in body["message"]
    assert api.count() == 0
