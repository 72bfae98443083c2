"""Rung 4 for CATALOG 21 ReadHeavyReporting: the projector and the reader against moto DynamoDB.

Projector: inserts, updates (within a group and across groups) and deletes move the views by their
deltas; a replayed record changes nothing; a view whose last item goes is deleted; the index holds
the top N and never more; a poison record (no group, a non-number value) raises after the records
before it were applied, and undoing it later changes nothing. Reader: a miss fills the cache, a hit
serves it, an expired entry (TTL not run yet) is a miss; unknown views are 404 and not cached.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import load_handler

EVENTS = Path(__file__).parent / "events" / "read_heavy_reporting"
RECORD = json.loads((EVENTS / "stream_record.json").read_text())
REQUEST = json.loads((EVENTS / "rest_api_request.json").read_text())
TABLES = {"VIEW_TABLE_NAME": "views", "INDEX_TABLE_NAME": "index", "APPLIED_TABLE_NAME": "applied",
          "CACHE_TABLE_NAME": "cache"}
TOP_N = 2


@dataclass
class Context:
    function_name: str = "ReadHeavyReportingDemo-Projector"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000021"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


def _typed(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    out: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, str):
            out[key] = {"S": value}
        elif isinstance(value, bool):
            out[key] = {"BOOL": value}
        else:
            out[key] = {"N": str(value)}
    return out


@dataclass
class Env:
    projector: ModuleType
    reader: ModuleType
    ddb: Any
    seq: int = 0

    def record(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
        self.seq += 1
        record = copy.deepcopy(RECORD)
        record["eventID"] = f"event-{self.seq:04d}"
        record["eventName"] = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        record["dynamodb"]["SequenceNumber"] = str(111100000000000000000000 + self.seq)
        key = (new or old or {}).get("id", "x")
        record["dynamodb"]["Keys"] = {"id": {"S": key}}
        for name, image in (("OldImage", old), ("NewImage", new)):
            record["dynamodb"].pop(name, None)
            if image is not None:
                record["dynamodb"][name] = _typed(image)
        return record

    def project(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.projector.handler({"Records": list(records)}, Context())

    def views(self) -> dict[str, tuple[int, Decimal]]:
        items = self.ddb.scan(TableName="views", ConsistentRead=True)["Items"]
        return {i["view_key"]["S"]: (int(i["item_count"]["N"]), Decimal(i["total"]["N"])) for i in items}

    def index(self) -> list[tuple[int, str, Decimal]]:
        items = self.ddb.scan(TableName="index", ConsistentRead=True)["Items"]
        return sorted((int(i["rank"]["S"]), i["view_key"]["S"], Decimal(i["total"]["N"])) for i in items)

    def get(self, path: str) -> tuple[int, Any, dict[str, str]]:
        event = copy.deepcopy(REQUEST)
        parts = path.strip("/").split("/")
        key = parts[1] if len(parts) > 1 else None
        event.update(
            path=path, resource="/views/{key}" if key else "/top", pathParameters={"key": key} if key else None
        )
        event["requestContext"].update(resourcePath=event["resource"], path=f"/prod{path}")
        result = self.reader.handler(event, Context(function_name="ReadHeavyReportingDemo-Reader"))
        multi = result.get("multiValueHeaders") or {}
        headers = {**(result.get("headers") or {}), **{k: v[-1] for k, v in multi.items()}}
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else None, headers


def _create_tables(ddb: Any) -> None:
    def table(name: str, key: str, **extra: Any) -> None:
        definitions = [{"AttributeName": key, "AttributeType": "S"}, *extra.pop("definitions", [])]
        ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=definitions,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}], **extra,
        )

    table("views", "view_key", definitions=[
        {"AttributeName": "board", "AttributeType": "S"}, {"AttributeName": "total", "AttributeType": "N"},
    ], GlobalSecondaryIndexes=[{
        "IndexName": "ByRank",
        "KeySchema": [{"AttributeName": "board", "KeyType": "HASH"}, {"AttributeName": "total", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }])
    table("index", "rank")
    table("applied", "event_id")
    table("cache", "cache_key")


@pytest.fixture(scope="module")
def loaded() -> Iterator[Env]:
    """One moto account, its tables and both handlers for the module (each test empties the tables)."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _create_tables(ddb)
        settings = {**TABLES, "TOP_N": str(TOP_N), "CACHE_TTL_SECONDS": "30"}
        yield Env(
            load_handler("read_heavy_reporting", "projector", settings),
            load_handler("read_heavy_reporting", "reader", settings),
            ddb,
        )


KEYS = {"views": "view_key", "index": "rank", "applied": "event_id", "cache": "cache_key"}


@pytest.fixture
def env(loaded: Env) -> Env:
    for table, key in KEYS.items():
        for item in loaded.ddb.scan(TableName=table, ConsistentRead=True)["Items"]:
            loaded.ddb.delete_item(TableName=table, Key={key: item[key]})
    return loaded


def order(order_id: str, category: Any = "books", amount: Any = 10) -> dict[str, Any]:
    return {"id": order_id, "category": category, "amount": amount}


def test_inserts_updates_and_deletes_move_the_views_by_their_deltas(env: Env) -> None:
    a, b, c = order("a", amount=Decimal("10.25")), order("b", amount=5), order("c", "games", 7)
    assert env.project(env.record(None, a), env.record(None, b), env.record(None, c)) == {"batchItemFailures": []}
    assert env.views() == {"books": (2, Decimal("15.25")), "games": (1, Decimal(7))}

    # WHEN an update changes an amount within a group, and another moves an order to another group
    moved = order("b", "games", 6)
    env.project(env.record(a, order("a", amount=12)), env.record(b, moved))
    assert env.views() == {"books": (1, Decimal(12)), "games": (2, Decimal(13))}

    # WHEN an update touches neither field THEN nothing moves
    env.project(env.record(moved, {**moved, "note": "gift"}))
    assert env.views() == {"books": (1, Decimal(12)), "games": (2, Decimal(13))}

    # WHEN the last order of a group is deleted THEN its view is gone
    env.project(env.record(order("a", amount=12), None))
    assert env.views() == {"games": (2, Decimal(13))}
    assert env.ddb.scan(TableName="applied")["Count"] == 7


def test_a_replayed_batch_changes_nothing(env: Env) -> None:
    batch = [env.record(None, order("a")), env.record(None, order("b", "games", 3)), env.record(order("a"), None)]
    env.project(*batch)
    once = env.views()
    env.project(*batch)
    env.project(batch[1], batch[0])  # a half of it again, out of order
    assert env.views() == once == {"games": (1, Decimal(3))}
    assert env.ddb.scan(TableName="applied")["Count"] == 3


def test_the_index_holds_the_top_n_and_never_more(env: Env) -> None:
    env.project(*(env.record(None, order(f"o{n}", f"g{n}", n * 10)) for n in range(1, 6)))
    assert env.index() == [(1, "g5", Decimal(50)), (2, "g4", Decimal(40))]

    # WHEN a leader falls below others THEN the next one moves up (read from the views, not kept in the index)
    env.project(env.record(order("o5", "g5", 50), order("o5", "g5", 1)))
    assert env.index() == [(1, "g4", Decimal(40)), (2, "g3", Decimal(30))]

    # WHEN groups disappear until one is left THEN the index shrinks with them
    env.project(*(env.record(order(f"o{n}", f"g{n}", n * 10), None) for n in (2, 3, 4)))
    env.project(env.record(order("o5", "g5", 1), None))
    assert env.index() == [(1, "g1", Decimal(10))]


def test_ranking_by_count_orders_by_count_then_key(env: Env) -> None:
    views = {k: {"view_key": k, "item_count": Decimal(c), "total": Decimal(t)}
             for k, c, t in (("a", 3, 1), ("b", 1, 99), ("c", 3, 5), ("d", 2, 0))}
    ranked = env.projector.rank(views, {"c": None, "e": {"view_key": "e", "item_count": Decimal(9), "total": 0}},
                                "item_count", 3)
    assert [v["view_key"] for v in ranked] == ["e", "a", "d"]  # c no longer exists; a before d by count


@pytest.mark.parametrize(
    "bad",
    [order("p", None, 5), order("p", "", 5), order("p", 42, 5), order("p", "books", "lots"), order("p", "books", None),
     order("p", "books", True)],
    ids=["no-group", "empty-group", "number-group", "text-amount", "no-amount", "bool-amount"],
)
def test_a_poison_record_raises_after_the_records_before_it_are_applied(env: Env, bad: dict[str, Any]) -> None:
    image = {k: v for k, v in bad.items() if v is not None}
    before, poison, after = env.record(None, order("a")), env.record(None, image), env.record(None, order("b"))
    with pytest.raises(ValueError, match=r"category|amount"):
        env.project(before, poison, after)
    assert env.views() == {"books": (1, Decimal(10))}
    # the retry of the batch skips what was applied and fails on the poison record again
    with pytest.raises(ValueError):
        env.project(before, poison, after)
    assert env.views() == {"books": (1, Decimal(10))}
    # the halves after bisecting: the good one applies, the poison one alone keeps failing
    env.project(after)
    with pytest.raises(ValueError):
        env.project(poison)
    assert env.views() == {"books": (2, Decimal(20))}
    # a later fix or delete of the poison item undoes nothing (it was never counted)
    env.project(env.record(image, order("p", "games", 4)))
    env.project(env.record(order("p", "games", 4), None))
    assert env.views() == {"books": (2, Decimal(20))}


def test_a_record_without_stream_data_is_refused(env: Env) -> None:
    record = env.record(None, order("a"))
    record.pop("dynamodb")
    with pytest.raises(ValueError, match="not a DynamoDB stream record"):
        env.project(record)


def test_the_reader_fills_the_cache_on_a_miss_and_serves_it_on_a_hit(env: Env) -> None:
    env.project(env.record(None, order("a", amount=Decimal("2.50"))))
    status, body, headers = env.get("/views/books")
    assert (status, body, headers["X-Cache"]) == (200, {"key": "books", "item_count": 1, "total": 2.5}, "Miss")
    env.project(env.record(None, order("b", amount=1)))
    status, body, headers = env.get("/views/books")
    assert (status, body["item_count"], headers["X-Cache"]) == (200, 1, "Hit")  # cached, at most the TTL old
    # WHEN the entry's expiry has passed but TTL has not deleted it yet THEN it is a miss
    env.ddb.update_item(
        TableName="cache", Key={"cache_key": {"S": "view#books"}}, UpdateExpression="SET expires = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    status, body, headers = env.get("/views/books")
    assert (status, body["item_count"], headers["X-Cache"]) == (200, 2, "Miss")


def test_top_lists_the_index_in_rank_order_through_the_cache(env: Env) -> None:
    env.project(*(env.record(None, order(f"o{n}", f"g{n}", n)) for n in range(1, 4)))
    status, body, headers = env.get("/top")
    assert status == 200 and headers["X-Cache"] == "Miss"
    assert body == {"top": [{"rank": 1, "key": "g3", "item_count": 1, "total": 3},
                            {"rank": 2, "key": "g2", "item_count": 1, "total": 2}]}
    assert env.get("/top")[2]["X-Cache"] == "Hit"


def test_an_unknown_view_is_404_and_not_cached(env: Env) -> None:
    status, body, _ = env.get("/views/nothing")
    assert status == 404 and "nothing" in body["message"]
    assert env.ddb.scan(TableName="cache")["Count"] == 0


def test_a_key_longer_than_a_view_key_can_be_is_400(env: Env) -> None:
    status, body, _ = env.get("/views/" + "k" * 513)
    assert status == 400 and "1 to 512" in body["message"]
    assert env.ddb.scan(TableName="cache")["Count"] == 0
