"""Rung 5 for CATALOG 9 PipesAndFilters: PipesAndFiltersDemo deployed into the local cloud, real filters.

Proves: every record passes validate → enrich → price in order (its trail equals the step names)
and lands in the results table once, a duplicate delivery included. Faults: a record the enrich
step cannot handle (its product is missing) is tried maxReceiveCount times and parked in the
*enrich* DLQ, not elsewhere; once the product exists, redriving that DLQ finishes the chain from the
enrich step. Count: records in = results + parked, no record stored twice or lost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import pipes_and_filters as demo
from patterns import core
from patterns.local import LocalCloud
from patterns.pipes_and_filters import redrive
from tests.e2e._local_drive import drive_context

STACK = "PipesAndFiltersDemo"
STEPS = list(demo.STEPS)

#: id → data. Only LATTE is in the product table at first: MOCHA fails at enrich until it is added.
GOOD = {f"latte-{n}": {"customer": f"c{n}", "sku": "latte", "quantity": n} for n in (1, 2, 3, 10)}
FAULTY = {"mocha-1": {"customer": "ana", "sku": " Mocha ", "quantity": 2}}
POISON = {"zero": {"customer": "bo", "sku": "latte", "quantity": 0}}
DUPLICATE = "latte-2"


@pytest.fixture(scope="module")
def cloud(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as running:
        yield running, running.deploy(demo_app.outdir, STACK)


def peek(local: LocalCloud, url: str) -> list[dict[str, Any]]:
    """The records in a queue, left there (made visible again) for a later redrive."""
    sqs = local.client("sqs")
    seen: list[dict[str, Any]] = []
    handles: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        seen += [json.loads(m["Body"]) for m in messages]
        handles += [m["ReceiptHandle"] for m in messages]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return seen


def results(local: LocalCloud, stack: Any) -> dict[str, dict[str, Any]]:
    items = local.client("dynamodb").scan(TableName=stack.outputs["ResultsTableName"], ConsistentRead=True)["Items"]
    return {item["id"]["S"]: demo.plain(item) for item in items}


def handed_to(local: LocalCloud, stack: Any, step: str) -> Counter[str]:
    """How often each record id reached a step's function, over all its invocations."""
    seen: Counter[str] = Counter()
    for invocation in local.invocations(stack.outputs[f"{step}FunctionName"]):
        for record in invocation.event["Records"]:
            seen[json.loads(record["body"])["id"]] += 1
    return seen


def snapshot(local: LocalCloud, stack: Any) -> dict[str, Any]:
    return {
        "results": results(local, stack),
        "parked": {step: peek(local, stack.outputs[f"{step}DeadLetterQueueUrl"]) for step in STEPS},
        "handed": {step: handed_to(local, stack, step) for step in STEPS},
    }


@pytest.fixture(scope="module")
def first_pass(cloud) -> dict[str, Any]:
    """Load LATTE only, send every record (one twice), let retries and dead-lettering settle."""
    local, stack = cloud
    ctx = drive_context(local, stack)
    demo.load_products(ctx, ("LATTE",))
    for record_id, data in {**GOOD, **FAULTY, **POISON}.items():
        demo.send(ctx, record_id, data)
    demo.send(ctx, DUPLICATE, GOOD[DUPLICATE])  # at-least-once: the same record arrives again
    local.drain(timeout=120)
    return snapshot(local, stack)


@pytest.fixture(scope="module")
def redriven(cloud, first_pass) -> dict[str, Any]:
    """Fix the fault (add MOCHA), redrive the enrich DLQ, let the chain finish."""
    local, stack = cloud
    demo.load_products(drive_context(local, stack), ("MOCHA",))
    moved = redrive(
        local.client("sqs"),
        dead_letter_queue_url=stack.outputs["EnrichDeadLetterQueueUrl"], queue_url=stack.outputs["EnrichQueueUrl"],
    )
    local.drain(timeout=120)
    return {"moved": moved, **snapshot(local, stack)}


def test_every_good_record_passes_every_filter_in_order(first_pass) -> None:
    assert set(first_pass["results"]) == set(GOOD)
    for record_id, stored in first_pass["results"].items():
        assert stored["trail"] == STEPS, record_id
        assert stored["data"]["sku"] == "LATTE" and stored["data"]["product"] == "Caffe latte"


def test_each_filter_did_its_part(first_pass) -> None:
    stored = first_pass["results"]
    assert stored["latte-3"]["data"] == {
        "customer": "c3", "sku": "LATTE", "quantity": 3, "product": "Caffe latte", "unit_price_cents": 450,
        "discount_percent": 0, "total_cents": 1350,
    }
    assert stored["latte-10"]["data"]["discount_percent"] == 10
    assert stored["latte-10"]["data"]["total_cents"] == 4050


def test_a_failing_step_parks_the_record_in_its_own_dlq(first_pass) -> None:
    parked = first_pass["parked"]
    # the enrich fault: parked after validate passed it on, so its trail says where it stopped
    assert parked["Enrich"] == [{"id": "mocha-1", "trail": ["Validate"],
                                 "data": {"customer": "ana", "sku": "MOCHA", "quantity": 2}}]
    # the poison record never got past validate
    assert [r["id"] for r in parked["Validate"]] == ["zero"]
    assert parked["Price"] == []


def test_failing_records_were_tried_max_receive_count_times_the_rest_once(first_pass) -> None:
    handed = first_pass["handed"]
    assert handed["Validate"] == {**{i: 1 for i in GOOD}, DUPLICATE: 2, "mocha-1": 1,
                                  "zero": core.MAX_RECEIVE_COUNT}
    assert handed["Enrich"] == {**{i: 1 for i in GOOD}, "mocha-1": core.MAX_RECEIVE_COUNT}
    # the duplicate stopped at validate: idempotency kept it from being passed on twice
    assert handed["Price"] == {i: 1 for i in GOOD}


def test_redrive_after_the_fix_finishes_the_chain(redriven) -> None:
    assert redriven["moved"] == 1
    mocha = redriven["results"]["mocha-1"]
    assert mocha["trail"] == STEPS
    assert mocha["data"]["product"] == "Mocha" and mocha["data"]["total_cents"] == 1040
    assert redriven["parked"]["Enrich"] == []
    # the redriven record resumed at enrich: validate did not see it again
    assert redriven["handed"]["Validate"]["mocha-1"] == 1
    assert redriven["handed"]["Enrich"]["mocha-1"] == core.MAX_RECEIVE_COUNT + 1
    assert redriven["handed"]["Price"]["mocha-1"] == 1


def test_nothing_lost_nothing_duplicated(cloud, redriven) -> None:
    local, stack = cloud
    sent = {**GOOD, **FAULTY, **POISON}
    stored = set(redriven["results"])
    parked = [r["id"] for step in STEPS for r in redriven["parked"][step]]
    assert len(parked) == len(set(parked)), "a record parked twice"
    assert not stored & set(parked), "a record both stored and parked"
    assert stored | set(parked) == set(sent)
    assert parked == ["zero"]
    assert all(count == 1 for count in redriven["handed"]["Price"].values())
    # every step function answered; bad records were failed items, not crashed batches
    for step in STEPS:
        assert all(i.ok for i in local.invocations(stack.outputs[f"{step}FunctionName"])), step
    sqs = local.client("sqs")
    for step in STEPS:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.outputs[f"{step}QueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, step


def test_demo_drive_passes_against_the_local_cloud(cloud, redriven) -> None:
    result = demo.drive(drive_context(*cloud))
    assert result.ok, result
