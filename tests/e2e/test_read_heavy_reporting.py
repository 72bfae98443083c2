"""Rung 5 for CATALOG 21 ReadHeavyReporting: ReadHeavyReportingDemo deployed into the local cloud.

Proves: after 22 inserts, 6 updates (3 within a category, 3 moving an order to another) and 4
deletes, the views equal a recomputation from the source table, and the index holds the top 3 of
that recomputation — never more than 3 items, checked after every phase; the API serves both,
cache-aside (a miss fills the cache, a hit serves it, an entry is stale at most the cache TTL and
is expired by TTL on the local cloud's clock). Faults: two poison records among those 32 changes make the
projector fail; the event source bisects the batch until each is alone, retries it 3 times and
describes it (alone) in the on-failure queue, while every other record is applied exactly once
(counted: source ops, stream records, applied, skipped as duplicate, poisoned); replaying a
delivered batch changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from demo import read_heavy_reporting as demo
from demo._drive import api_url_mapper
from patterns.core.streams import RETRY_ATTEMPTS
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import take_bodies
from tests.e2e._local_drive import drive_context

STACK = "ReadHeavyReportingDemo"
PROJECTOR = f"{STACK}/Reporting/Projector"
CATEGORIES = [f"cat-{n}" for n in range(5)]
POISON = {
    "poison-text": demo.order("poison-text", "cat-0", "lots"),
    "poison-nogroup": demo.order("poison-nogroup", None, 5),
}


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _scan(cloud: LocalCloud, table: str) -> list[dict[str, Any]]:
    ddb, items, kwargs = cloud.client("dynamodb"), [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def recomputed(cloud: LocalCloud, stack: DeployedStack) -> dict[str, tuple[int, Decimal]]:
    """The views computed from scratch from the source table (poison items count nowhere)."""
    views: dict[str, tuple[int, Decimal]] = {}
    for item in _scan(cloud, stack.outputs["SourceTableName"]):
        category, amount = item.get("category", {}).get("S"), item.get("amount", {}).get("N")
        if not category or amount is None:
            continue
        count, total = views.get(category, (0, Decimal(0)))
        views[category] = (count + 1, total + Decimal(amount))
    return views


def views(cloud: LocalCloud, stack: DeployedStack) -> dict[str, tuple[int, Decimal]]:
    return {
        i["view_key"]["S"]: (int(i["item_count"]["N"]), Decimal(i["total"]["N"]))
        for i in _scan(cloud, stack.outputs["ViewTableName"])
    }


def index(cloud: LocalCloud, stack: DeployedStack) -> list[tuple[int, str, Decimal]]:
    items = _scan(cloud, stack.outputs["IndexTableName"])
    return sorted((int(i["rank"]["S"]), i["view_key"]["S"], Decimal(i["total"]["N"])) for i in items)


def assert_index_is_the_top_n(cloud: LocalCloud, stack: DeployedStack) -> None:
    expected, held = recomputed(cloud, stack), index(cloud, stack)
    assert len(held) == min(demo.TOP_N, len(expected)) <= demo.TOP_N
    assert [rank for rank, _, _ in held] == list(range(1, len(held) + 1))
    top_totals = sorted((total for _, total in expected.values()), reverse=True)[: demo.TOP_N]
    assert [total for _, _, total in held] == top_totals
    assert all(expected[key][1] == total for _, key, total in held)


def _batch_logs(invocation: Any) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in invocation.logs.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "batch projected"]


def _sequence(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """22 inserts (two poison inserts among them), 6 updates, 4 deletes; then let it settle."""
    cloud, stack = deployed
    ddb, table = cloud.client("dynamodb"), stack.outputs["SourceTableName"]
    ops = 0
    orders = [demo.order(f"order-{n:02d}", CATEGORIES[n % 5], Decimal(n * 3 + 1) / 4) for n in range(20)]
    for n, item in enumerate(orders):
        ddb.put_item(TableName=table, Item=item)
        ops += 1
        if n in (6, 13):  # the poison inserts, between good records
            ddb.put_item(TableName=table, Item=POISON["poison-text" if n == 6 else "poison-nogroup"])
            ops += 1
    for n in range(6):
        order_id = f"order-{n:02d}"
        category = CATEGORIES[n % 5] if n < 3 else CATEGORIES[(n + 1) % 5]  # 3 within, 3 moving
        ddb.put_item(TableName=table, Item=demo.order(order_id, category, Decimal(100 + n)))
        ops += 1
    for n in range(14, 18):
        ddb.delete_item(TableName=table, Key={"id": {"S": f"order-{n:02d}"}})
        ops += 1
    cloud.drain(timeout=120)
    invocations = cloud.invocations(PROJECTOR)
    return {
        "ops": ops,
        "invocations": invocations,
        "failures": [json.loads(b) for b in take_bodies(cloud, stack.outputs["OnFailureQueueUrl"])],
        "markers": _scan(cloud, stack.outputs["AppliedTableName"]),
    }


def _stream_records(run: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Every distinct stream record the projector was given, by sequence number."""
    return {_sequence(r): r for inv in run["invocations"] for r in inv.event["Records"]}


def _poison_sequences(run: dict[str, Any]) -> set[int]:
    return {
        seq for seq, r in _stream_records(run).items()
        if r["dynamodb"]["Keys"]["id"]["S"] in POISON
    }


def test_the_views_equal_a_recomputation_from_the_source(deployed, run) -> None:
    cloud, stack = deployed
    expected = recomputed(cloud, stack)
    assert set(expected) == set(CATEGORIES)
    assert views(cloud, stack) == expected
    assert sum(count for count, _ in expected.values()) == 20 - 4  # the good orders left after 4 deletes


def test_the_index_holds_the_top_n_and_never_more(deployed, run) -> None:
    assert_index_is_the_top_n(*deployed)


def test_every_record_is_counted_once_applied_once_or_poisoned(run) -> None:
    records = _stream_records(run)
    poisoned = _poison_sequences(run)
    logs = [line for inv in run["invocations"] for line in _batch_logs(inv)]
    applied, duplicates = sum(line["applied"] for line in logs), sum(line["duplicates"] for line in logs)
    counts = {"source ops": run["ops"], "stream records": len(records), "applied": applied,
              "skipped as duplicate": duplicates, "poisoned": len(poisoned)}
    print(counts)
    assert run["ops"] == len(records) == 32
    assert len(poisoned) == 2
    assert applied == len(records) - len(poisoned) == len(run["markers"]) == 30
    assert {m["event_id"]["S"] for m in run["markers"]} == {
        r["eventID"] for seq, r in records.items() if seq not in poisoned
    }
    assert duplicates > 0  # the halves of a bisected batch replayed records that were applied already
    # every failed invocation stopped at one poison record, and nothing else failed
    assert sum(line["poisoned"] for line in logs) == sum(not inv.ok for inv in run["invocations"])


def test_a_projector_failure_bisects_and_retries(run) -> None:
    failed = [inv for inv in run["invocations"] if not inv.ok]
    assert failed and max(len(inv.event["Records"]) for inv in failed) == 32  # the whole batch, first
    per_poison = Counter(
        _sequence(inv.event["Records"][0]) for inv in failed if len(inv.event["Records"]) == 1
    )
    # each poison record alone: the first try and RETRY_ATTEMPTS retries
    assert per_poison == dict.fromkeys(_poison_sequences(run), RETRY_ATTEMPTS + 1)
    sizes = sorted({len(inv.event["Records"]) for inv in failed}, reverse=True)
    assert sizes[0] > sizes[1] > sizes[-1] == 1  # halved on the way down


def test_each_poison_record_goes_alone_to_the_on_failure_queue(run) -> None:
    infos = [f["DDBStreamBatchInfo"] for f in run["failures"]]
    assert {f["requestContext"]["condition"] for f in run["failures"]} == {"RetryAttemptsExhausted"}
    assert sorted((int(i["startSequenceNumber"]), int(i["endSequenceNumber"]), i["batchSize"]) for i in infos) == [
        (seq, seq, 1) for seq in sorted(_poison_sequences(run))
    ]


def test_replaying_a_delivered_batch_does_not_double_count(deployed, run) -> None:
    cloud, stack = deployed
    before, markers = views(cloud, stack), len(_scan(cloud, stack.outputs["AppliedTableName"]))
    delivered = max((inv for inv in run["invocations"] if inv.ok), key=lambda inv: len(inv.event["Records"]))
    assert len(delivered.event["Records"]) > 1

    # WHEN the same batch is delivered again
    assert cloud.invoke(PROJECTOR, delivered.event) == {"batchItemFailures": []}

    # THEN every record is skipped as a duplicate and nothing moves
    (log,) = _batch_logs(cloud.invocations(PROJECTOR)[-1])
    assert (log["applied"], log["duplicates"]) == (0, len(delivered.event["Records"]))
    assert views(cloud, stack) == before == recomputed(cloud, stack)
    assert len(_scan(cloud, stack.outputs["AppliedTableName"])) == markers


def test_more_categories_than_n_keep_the_index_at_n(deployed, run) -> None:
    cloud, stack = deployed
    ddb, table = cloud.client("dynamodb"), stack.outputs["SourceTableName"]
    for n in range(5):
        ddb.put_item(TableName=table, Item=demo.order(f"big-{n}", f"big-{n}", 1000 + n))
    cloud.drain(timeout=60)
    assert views(cloud, stack) == recomputed(cloud, stack)
    assert_index_is_the_top_n(cloud, stack)
    assert [key for _, key, _ in index(cloud, stack)] == ["big-4", "big-3", "big-2"]
    for n in range(5):
        ddb.delete_item(TableName=table, Key={"id": {"S": f"big-{n}"}})
    cloud.drain(timeout=60)
    assert views(cloud, stack) == recomputed(cloud, stack)
    assert_index_is_the_top_n(cloud, stack)
    assert not any(key.startswith("big-") for _, key, _ in index(cloud, stack))


def test_reads_are_cache_aside_and_stale_at_most_the_ttl(deployed, run) -> None:
    cloud, stack = deployed
    url = stack.outputs["ApiUrl"].rstrip("/")  # the deployed URL; the context maps it onto the front door
    ctx = drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url))
    category = CATEGORIES[1]
    count, total = views(cloud, stack)[category]

    def get(path: str) -> Any:
        reply = ctx.http("GET", f"{url}{path}")
        reply.headers = {k.lower(): v for k, v in reply.headers.items()}
        return reply

    first, second = get(f"/views/{category}"), get(f"/views/{category}")
    assert (first.status, first.headers["x-cache"], second.headers["x-cache"]) == (200, "Miss", "Hit")
    assert (first.body["item_count"], Decimal(str(first.body["total"]))) == (count, total)
    assert second.body == first.body

    # WHEN the view changes THEN the cached answer is served until the TTL passes
    cloud.client("dynamodb").put_item(
        TableName=stack.outputs["SourceTableName"], Item=demo.order("late-order", category, 5)
    )
    cloud.drain(timeout=60)
    stale = get(f"/views/{category}")
    assert (stale.headers["x-cache"], stale.body["item_count"]) == ("Hit", count)

    # WHEN the local cloud's clock passes the TTL THEN DynamoDB's TTL deletes the entries, the next read refills
    cloud.advance(demo.CACHE_TTL.to_seconds() + 1)
    cloud.drain(timeout=60)
    assert _scan(cloud, stack.outputs["CacheTableName"]) == []
    fresh = get(f"/views/{category}")
    assert (fresh.headers["x-cache"], fresh.body["item_count"]) == ("Miss", count + 1)

    top = get("/top")
    assert top.status == 200 and top.headers["x-cache"] == "Miss"
    assert [(e["rank"], e["key"], Decimal(str(e["total"]))) for e in top.body["top"]] == index(cloud, stack)
    assert get("/views/no-such-category").status == 404


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    cloud, stack = deployed
    result = demo.drive(drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url)))
    assert result.ok, result
