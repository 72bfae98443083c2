"""Rung 4 for CATALOG 15 Aggregator: the aggregator against a moto cache table, with a scripted Lambda
client (moto cannot run functions without Docker) whose parts answer, fail, time out or hang, so each
test states what reached which downstream and what the answer says.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from moto import mock_aws

from tests.support import load_handler

EVENTS = Path(__file__).parent / "events" / "aggregator"
TABLE = "aggregate-cache"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "DOWNSTREAMS": json.dumps({"profile": "profile-fn", "orders": "orders-fn", "recs": "recs-fn"}),
    "CALL_TIMEOUT_MS": "300",
    "BUDGET_MS": "500",
    "CACHE_TABLE_NAME": TABLE,
    "CACHE_TTL_SECONDS": "60",
    "POWERTOOLS_SERVICE_NAME": "aggregator",
}


@dataclass
class Context:
    function_name: str = "AggregatorDemo-Handler"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:AggregatorDemo-Handler"
    aws_request_id: str = "7e57ab1e-0000-4000-8000-000000000015"


@dataclass
class Downstreams:
    """Scripted parts: ``modes[function] in {"ok", "error", "timeout", "hang"}`` ("hang" outlives the budget)."""

    modes: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, **request: Any) -> dict[str, Any]:
        function, key = request["FunctionName"], json.loads(request["Payload"])["key"]
        with self.lock:
            self.calls.append(function)
        mode = self.modes.get(function, "ok")
        if mode == "timeout":
            raise ReadTimeoutError(endpoint_url="http://lambda")
        if mode == "hang":
            time.sleep(1.0)
        answer: Any = {"errorType": "Down", "errorMessage": f"{function} is down"} if mode == "error" else {
            "value": f"{function}:{key}"
        }
        raw = json.dumps(answer).encode()
        extra = {"FunctionError": "Unhandled"} if mode == "error" else {}
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw)), **extra}


def _create_table() -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
    )


@pytest.fixture(scope="module")
def loaded() -> Iterator[ModuleType]:
    """One moto account and one import of the handler for the module (each costs seconds here)."""
    with mock_aws():
        _create_table()
        yield load_handler("aggregator", "aggregator", ENV)


@pytest.fixture
def setup(loaded: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Downstreams]]:
    """A fresh scripted Lambda client and an empty cache table per test."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    if TABLE not in client.list_tables()["TableNames"]:
        _create_table()
    for item in client.scan(TableName=TABLE)["Items"]:
        client.delete_item(TableName=TABLE, Key={"key": item["key"]})
    downstreams = Downstreams()
    monkeypatch.setattr(loaded, "lambda_client", lambda: downstreams)
    yield loaded, downstreams


def request(module: ModuleType, key: str = "customer-42", path: str | None = None) -> tuple[int, Any]:
    event = json.loads((EVENTS / "aggregate_request.json").read_text())
    event["path"] = path or f"/aggregate/{key}"
    event["pathParameters"] = {"key": key}
    response = module.handler(event, Context())
    return response["statusCode"], json.loads(response["body"])


def test_every_part_is_called_once_and_the_answer_is_cached(setup: tuple[ModuleType, Downstreams]) -> None:
    module, downstreams = setup
    status, first = request(module)
    status_again, again = request(module)

    assert (status, status_again) == (200, 200)
    assert first["parts"] == {
        "profile": {"value": "profile-fn:customer-42"},
        "orders": {"value": "orders-fn:customer-42"},
        "recs": {"value": "recs-fn:customer-42"},
    }
    assert (first["partial"], first["missing"], first["cache"]) == (False, {}, "miss")
    assert set(first["latency_ms"]) == {"profile", "orders", "recs"}
    assert (again["cache"], again["parts"]) == ("hit", first["parts"])
    assert sorted(downstreams.calls) == ["orders-fn", "profile-fn", "recs-fn"]  # none for the hit


def test_an_expired_cache_entry_is_not_served(setup: tuple[ModuleType, Downstreams]) -> None:
    module, downstreams = setup
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=TABLE,
        Item={"key": {"S": "customer-42"}, "parts": {"S": "{}"}, "expires_at": {"N": str(int(time.time()) - 1)}},
    )
    _, body = request(module)
    assert body["cache"] == "miss" and len(downstreams.calls) == 3


def test_failing_and_slow_parts_give_a_flagged_partial_answer_that_is_not_cached(
    setup: tuple[ModuleType, Downstreams],
) -> None:
    module, downstreams = setup
    downstreams.modes = {"orders-fn": "error", "recs-fn": "timeout"}
    status, body = request(module)

    assert status == 200
    assert body["parts"] == {"profile": {"value": "profile-fn:customer-42"}}
    assert body["partial"] is True
    assert body["missing"] == {
        "orders": {"reason": "error", "detail": "orders-fn is down"},
        "recs": {"reason": "timeout", "detail": "no answer within 300 ms"},
    }
    _, again = request(module)
    assert again["cache"] == "miss" and len(downstreams.calls) == 6  # partial answers are not cached


def test_a_part_that_outlives_the_budget_is_abandoned_at_the_budget(setup: tuple[ModuleType, Downstreams]) -> None:
    module, downstreams = setup
    downstreams.modes = {"recs-fn": "hang"}
    started = time.perf_counter()
    status, body = request(module)
    elapsed = time.perf_counter() - started

    assert status == 200
    assert body["missing"] == {"recs": {"reason": "budget", "detail": "no answer within the 500 ms budget"}}
    assert set(body["parts"]) == {"profile", "orders"}
    assert elapsed < 0.9  # the hanging part takes 1 s; the answer left at the 0.5 s budget


def test_a_cache_that_cannot_be_read_or_written_only_costs_the_calls(setup: tuple[ModuleType, Downstreams]) -> None:
    module, _ = setup
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=TABLE)
    status, body = request(module)
    assert (status, body["cache"], body["partial"]) == (200, "miss", False)


@pytest.mark.parametrize("key", ["has space", "a" * 129, "semi;colon"])
def test_a_bad_key_is_400_and_calls_nothing(setup: tuple[ModuleType, Downstreams], key: str) -> None:
    module, downstreams = setup
    status, body = request(module, key)
    assert status == 400 and "key must be" in body["message"]
    assert downstreams.calls == []


def test_an_unknown_path_is_404(setup: tuple[ModuleType, Downstreams]) -> None:
    module, downstreams = setup
    status, _ = request(module, path="/aggregate/a/b")
    assert status == 404 and downstreams.calls == []
