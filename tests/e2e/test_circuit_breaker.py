"""Rung 5 for CATALOG 27 CircuitBreaker: CircuitBreakerDemo in the local cloud, on its virtual clock.

Proves: THRESHOLD failures open the circuit; while open calls fail fast (the provider's call count
and its invocation journal do not move); after the cooldown (virtual time) exactly one probe
reaches the provider even when 8 callers arrive at once (each in its own execution environment,
deciding on the one DynamoDB item by conditional writes); a successful probe closes the circuit and
calls flow again. Count under concurrent load: 24 calls (12 ids, each sent twice at once) through a
closed circuit reach the provider 24 times, apply every id exactly once, lose none; 8 concurrent
calls against a provider going down reach it exactly as often as they report a failure, and the
circuit opens once. Faults: the breaker's own table gone → the documented fallback (fail closed:
refused, the provider not called).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from demo import circuit_breaker as demo
from demo._drive import DriveContext
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "CircuitBreakerDemo"
BREAKER = f"{STACK}/Breaker/Breaker"
PROVIDER = f"{STACK}/Provider"
COOLDOWN = demo.COOLDOWN.to_seconds()


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture
def ctx(deployed) -> DriveContext:
    """A closed circuit and a healthy provider at the start of every test."""
    cloud, stack = deployed
    context = drive_context(cloud, stack)
    cloud.client("dynamodb").delete_item(
        TableName=stack.outputs["CircuitsTableName"], Key={"circuit": {"S": demo.CIRCUIT}}
    )
    demo.set_provider(context, down=False)
    return context


def provider_invocations(cloud: LocalCloud) -> int:
    return len(cloud.invocations(PROVIDER))


def concurrently(ctx: DriveContext, request_ids: list[str]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(lambda r: demo.call(ctx, r, amount_cents=500), request_ids))


def open_circuit(ctx: DriveContext, prefix: str) -> None:
    demo.set_provider(ctx, down=True)
    answers = [demo.call(ctx, f"{prefix}-{n}")["outcome"] for n in range(demo.THRESHOLD)]
    assert answers == ["failed"] * demo.THRESHOLD
    assert demo.circuit(ctx)["state"] == "OPEN"


def test_threshold_failures_open_the_circuit_and_open_it_fails_fast(deployed, ctx) -> None:
    cloud, _ = deployed
    demo.set_provider(ctx, down=True)
    before = demo.provider_calls(ctx)
    answers = [demo.call(ctx, f"open-{n}") for n in range(demo.THRESHOLD)]
    assert [(a["outcome"], a["state"]) for a in answers] == [("failed", "CLOSED")] * (demo.THRESHOLD - 1) + [
        ("failed", "OPEN")
    ]
    assert answers[0]["error"]["errorType"] == "ProviderDown"
    assert demo.provider_calls(ctx) - before == demo.THRESHOLD

    # WHEN the provider is healthy again but the cooldown has not passed THEN calls are refused unsent
    demo.set_provider(ctx, down=False)
    invoked = provider_invocations(cloud)
    cloud.advance(COOLDOWN - 5)
    refused = [demo.call(ctx, f"refused-{n}") for n in range(5)]
    assert {(a["outcome"], a["state"]) for a in refused} == {("rejected", "OPEN")}
    assert all(0 < a["retry_after_ms"] <= 5000 for a in refused)
    assert demo.provider_calls(ctx) - before == demo.THRESHOLD and provider_invocations(cloud) == invoked


def test_half_open_admits_exactly_one_probe_under_concurrent_calls(deployed, ctx) -> None:
    cloud, _ = deployed
    open_circuit(ctx, "half")
    # GIVEN the cooldown is over and the provider still down
    cloud.advance(COOLDOWN)
    before, invoked = demo.provider_calls(ctx), provider_invocations(cloud)
    # WHEN 8 callers arrive at once (6 at a time)
    answers = concurrently(ctx, [f"probe-{n}" for n in range(8)])
    # THEN exactly one of them reached the provider (the probe), which failed and re-opened the circuit
    assert cloud.max_concurrency(BREAKER) > 1
    assert Counter(a["outcome"] for a in answers) == {"failed": 1, "rejected": 7}
    (probe,) = [a for a in answers if a["outcome"] == "failed"]
    assert probe["probe"] is True and probe["state"] == "OPEN"
    assert demo.provider_calls(ctx) - before == 1 and provider_invocations(cloud) - invoked == 1
    assert demo.circuit(ctx)["state"] == "OPEN"


def test_a_successful_probe_closes_the_circuit_and_calls_flow_again(deployed, ctx) -> None:
    cloud, _ = deployed
    open_circuit(ctx, "recover")
    demo.set_provider(ctx, down=False)
    cloud.advance(COOLDOWN)
    probe = demo.call(ctx, "recover-probe", amount_cents=700)
    assert (probe["outcome"], probe["state"], probe["probe"]) == ("succeeded", "CLOSED", True)
    assert probe["result"] == {"request_id": "recover-probe", "applied": True, "duplicate": False}
    assert demo.circuit(ctx) == {"circuit": demo.CIRCUIT, "state": "CLOSED"}
    after = [demo.call(ctx, f"recover-after-{n}") for n in range(3)]
    assert {(a["outcome"], a["state"], a["probe"]) for a in after} == {("succeeded", "CLOSED", False)}


def _ledger(cloud: LocalCloud, stack: DeployedStack) -> dict[str, dict[str, Any]]:
    ddb, items, start = cloud.client("dynamodb"), [], None
    while True:
        page = ddb.scan(TableName=stack.outputs["LedgerTableName"], ConsistentRead=True,
                        **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        if not (start := page.get("LastEvaluatedKey")):
            return {i["request_id"]["S"]: i for i in items}


def test_concurrent_load_through_a_closed_circuit_loses_nothing_and_applies_nothing_twice(deployed, ctx) -> None:
    cloud, stack = deployed
    ids = [f"load-{n:02d}" for n in range(12)]
    before = demo.provider_calls(ctx)
    answers = concurrently(ctx, [i for i in ids for _ in range(2)])  # each id twice, back to back
    assert cloud.max_concurrency(BREAKER) > 1
    unexpected = [a for a in answers if a.get("outcome") != "succeeded"]
    assert not unexpected, unexpected[:4]
    assert demo.provider_calls(ctx) - before == 24
    applied = Counter(a["result"]["request_id"] for a in answers if a["result"]["applied"])
    duplicates = Counter(a["result"]["request_id"] for a in answers if a["result"]["duplicate"])
    assert applied == dict.fromkeys(ids, 1) and duplicates == dict.fromkeys(ids, 1)
    ledger = _ledger(cloud, stack)
    assert {i for i in ledger if i.startswith("load-")} == set(ids)
    assert all(json.loads(ledger[i]["payload"]["S"]) == {"amount_cents": 500} for i in ids)
    assert demo.circuit(ctx) == {}  # successes write nothing


def test_concurrent_failures_open_the_circuit_once_and_every_provider_call_is_accounted_for(ctx) -> None:
    demo.set_provider(ctx, down=True)
    before = demo.provider_calls(ctx)
    answers = concurrently(ctx, [f"storm-{n:02d}" for n in range(8)])
    outcomes = Counter(a["outcome"] for a in answers)
    assert set(outcomes) <= {"failed", "rejected"} and outcomes["failed"] >= demo.THRESHOLD
    # every call that reached the provider was answered as failed; no rejected call reached it
    assert demo.provider_calls(ctx) - before == outcomes["failed"]
    item = demo.circuit(ctx)
    assert item["state"] == "OPEN" and "failures" not in item
    # one breaker opened it: the later failures of the same window found it open and wrote nothing
    opened = [a for a in answers if a["outcome"] == "failed" and a["state"] == "OPEN"]
    assert len(opened) == 1


def test_demo_drive_passes_against_the_local_cloud(deployed, ctx) -> None:
    result = demo.drive(ctx)
    assert result.ok, result


def test_fault_the_circuit_table_unavailable_fails_closed_without_calling_the_provider(deployed, ctx) -> None:
    # runs last: it deletes the breaker's table
    cloud, stack = deployed
    before, invoked = demo.provider_calls(ctx), provider_invocations(cloud)
    cloud.client("dynamodb").delete_table(TableName=stack.outputs["CircuitsTableName"])
    answers = [demo.call(ctx, f"blind-{n}") for n in range(3)]
    assert answers == [
        {"outcome": "rejected", "state": "UNKNOWN", "reason": "circuit state unavailable (fail closed)"}
    ] * 3
    assert demo.provider_calls(ctx) == before and provider_invocations(cloud) == invoked
    assert all(inv.ok for inv in cloud.invocations(BREAKER))
