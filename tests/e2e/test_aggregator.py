"""Rung 5 for CATALOG 15 Aggregator: AggregatorDemo deployed into the local cloud; GET requests over
HTTP to the front door; the aggregator invokes the three real downstream functions (each its own
execution environment) and caches in the emulated DynamoDB table with TTL on the cloud's clock.

Proves: the aggregated answer equals the downstreams' own answers; the calls run in parallel (their
journal intervals overlap; total latency ≈ the slowest call, well under the sum); a cache hit calls
no downstream, and after the TTL the entry is gone and the downstreams are called again. Faults: a
failing or slow downstream yields a 200 partial answer naming the part and why; the aggregator
never waits past its budget. Measured latencies are printed (``-s``) for the issue note.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from demo import aggregator as demo
from demo._drive import api_url_mapper
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "AggregatorDemo"
SERVICES = {part: f"{STACK}/{part.capitalize()}Service" for part in demo.DELAYS_MS}
AGGREGATOR = f"{STACK}/Aggregator/Handler"


@dataclass
class Deployed:
    cloud: LocalCloud
    stack: Any
    base: str

    def get(self, key: str) -> tuple[requests.Response, float]:
        started = time.perf_counter()
        response = requests.get(f"{self.base}/aggregate/{key}", timeout=30)
        return response, time.perf_counter() - started

    def calls(self) -> dict[str, int]:
        return {part: len(self.cloud.invocations(fn)) for part, fn in SERVICES.items()}


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[Deployed]:
    with LocalCloud() as cloud:
        stack = cloud.deploy(demo_app.outdir, STACK)
        base = cloud.api_url(stack.outputs["RestApiId"], stage="prod").rstrip("/")
        warm = Deployed(cloud, stack, base)
        assert warm.get("warm-up")[0].status_code == 200  # start every execution environment once
        yield warm


def _key() -> str:
    return f"customer-{uuid.uuid4().hex[:8]}"


def test_the_demo_drive_passes(deployed: Deployed) -> None:
    ctx = drive_context(deployed.cloud, deployed.stack, api_url=api_url_mapper(deployed.cloud.api_url))
    result = demo.drive(ctx)
    assert result.ok, result.outcome


def test_the_answer_is_the_downstreams_answers_fetched_in_parallel(deployed: Deployed) -> None:
    key = _key()
    before = deployed.calls()
    response, elapsed = deployed.get(key)
    body = response.json()

    assert response.status_code == 200
    assert (body["partial"], body["missing"], body["cache"]) == (False, {}, "miss")
    direct = {part: deployed.cloud.invoke(fn, {"key": key}) for part, fn in SERVICES.items()}
    assert body["parts"] == direct
    calls = deployed.calls()
    assert {part: calls[part] - before[part] for part in SERVICES} == dict.fromkeys(SERVICES, 1 + 1)  # +1 direct

    # Parallel: every downstream started before any finished (the journal's intervals overlap).
    runs = [next(i for i in deployed.cloud.invocations(fn) if i.event == {"key": key}) for fn in SERVICES.values()]
    assert max(r.started_at for r in runs) < min(r.ended_at for r in runs)
    latencies = body["latency_ms"]
    total, slowest, summed = body["total_ms"], max(latencies.values()), sum(latencies.values())
    print(
        f"\nAggregator latency: total {total} ms in the handler ({elapsed * 1000:.0f} ms at the client); "
        f"downstream calls {latencies} ms: max {slowest} ms, sum {summed} ms; "
        f"downstream handler durations {[round(r.duration * 1000) for r in runs]} ms"
    )
    assert total < summed
    assert total <= slowest + 150


def test_a_repeated_request_is_a_cache_hit_until_the_ttl_expires(deployed: Deployed) -> None:
    key = _key()
    first, _ = deployed.get(key)
    before = deployed.calls()
    hits = [deployed.get(key)[0].json() for _ in range(3)]

    assert [h["cache"] for h in hits] == ["hit"] * 3
    assert all(h["parts"] == first.json()["parts"] for h in hits)
    assert deployed.calls() == before  # no downstream call for a hit

    ddb = deployed.cloud.client("dynamodb")
    table = deployed.stack.outputs["CacheTableName"]
    assert "Item" in ddb.get_item(TableName=table, Key={"key": {"S": key}})
    deployed.cloud.advance(demo.CACHE_TTL.to_seconds() + 1)
    deployed.cloud.drain()
    assert "Item" not in ddb.get_item(TableName=table, Key={"key": {"S": key}})  # DynamoDB TTL removed it
    again, _ = deployed.get(key)
    assert again.json()["cache"] == "miss"
    assert deployed.calls() == {part: n + 1 for part, n in before.items()}


def test_a_failing_downstream_gives_a_partial_answer_naming_it(deployed: Deployed) -> None:
    key = f"{_key()}-fail-orders"
    response, _ = deployed.get(key)
    body = response.json()

    assert response.status_code == 200
    assert set(body["parts"]) == {"profile", "recommendations"}
    assert body["partial"] is True
    assert body["missing"] == {"orders": {"reason": "error", "detail": "orders is down"}}
    # Not cached: the next request asks the orders service again.
    before = deployed.calls()["orders"]
    assert deployed.get(key)[0].json()["cache"] == "miss"
    assert deployed.calls()["orders"] == before + 1


def test_a_slow_downstream_is_cut_at_its_timeout_and_the_answer_stays_within_budget(deployed: Deployed) -> None:
    response, elapsed = deployed.get(f"{_key()}-slow-recommendations")
    body = response.json()

    assert response.status_code == 200
    assert set(body["parts"]) == {"profile", "orders"}
    assert body["missing"] == {"recommendations": {"reason": "timeout", "detail": "no answer within 1500 ms"}}
    assert body["total_ms"] <= demo.BUDGET.to_milliseconds()
    print(f"\nSlow part (2500 ms, timeout 1500 ms, budget 2000 ms): answered in {body['total_ms']} ms, "
          f"{elapsed * 1000:.0f} ms at the client")
    assert elapsed < demo.BUDGET.to_seconds() + 0.5


def test_a_bad_key_is_400_and_calls_no_downstream(deployed: Deployed) -> None:
    before = deployed.calls()
    response, _ = deployed.get("semi;colon")
    assert response.status_code == 400
    assert deployed.calls() == before
