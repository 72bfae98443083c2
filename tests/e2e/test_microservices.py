"""Rung 5 for CATALOG 20 Microservices: the three demo stacks deployed into the local cloud, real
handler code, every request through the shared custom domain (``cloud.domain_url``).

Proves: both services answer under one base URL by base path (an unmapped one is 403); every order
placed is stored once and counted once by the catalog, which learns of it from the orders event,
never from the orders table; updating the orders stack leaves the catalog and entry stacks
untouched (physical ids, stack events, function code, version and configuration, item counts).
IAM is not evaluated by the local cloud (unsigned calls to IAM-authorized APIs are accepted, as in
every e2e test here); that a service's role cannot touch the other's table is asserted on the
templates in tests/unit/test_microservices.py.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from demo import microservices as demo
from demo._drive import api_url_mapper
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

ENTRY, ORDERS, CATALOG = "MicroservicesDemo", demo.ORDERS_STACK, demo.CATALOG_STACK


def _call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, dict[str, Any]]]:
    with LocalCloud() as cloud:
        stacks = {s.name: s for s in cloud.deploy_all(demo_app.outdir, [ORDERS, CATALOG, ENTRY])}
        yield cloud, stacks


@pytest.fixture(scope="module")
def base(deployed) -> str:
    cloud, _ = deployed
    return cloud.domain_url(demo.DOMAIN)


def _items(cloud: LocalCloud, stack: Any) -> dict[str, dict[str, Any]]:
    """A service's table, read straight from the emulated DynamoDB (never through an API under test)."""
    page = cloud.client("dynamodb").scan(TableName=stack.outputs["TableName"], ConsistentRead=True)
    return {item["id"]["S"]: item for item in page["Items"]}


def _product(base: str, name: str = "kettle") -> str:
    status, body = _call("POST", f"{base}/catalog", {"name": name, "price": 25})
    assert status == 201
    return str(body["id"])


def test_both_services_answer_under_one_base_url(deployed, base: str) -> None:
    # GIVEN the entry stack's domain mapping /orders and /catalog
    cloud, stacks = deployed
    # WHEN a product and an order are created and read back through it
    product = _product(base)
    status, order = _call("POST", f"{base}/orders", {"product_id": product, "quantity": 1})
    # THEN each service answers under its base path, with what its own table holds
    assert status == 201
    assert _call("GET", f"{base}/orders/{order['id']}") == (200, order)
    assert _call("GET", f"{base}/catalog/{product}")[1]["name"] == "kettle"
    assert order["id"] in _items(cloud, stacks[ORDERS]) and product in _items(cloud, stacks[CATALOG])
    assert order["id"] not in _items(cloud, stacks[CATALOG])
    # AND the same item is there on the service's own execute-api URL
    own = cloud.api_url(stacks[ORDERS].outputs["RestApiId"], stage="prod")
    assert _call("GET", f"{own}/{order['id']}") == (200, order)
    # AND a base path no service has gets API Gateway's 403
    assert _call("GET", f"{base}/billing/1") == (403, {"message": "Forbidden"})


def test_every_order_placed_is_stored_once_and_counted_once_by_the_catalog(deployed, base: str) -> None:
    # GIVEN a product and the orders table as it is
    cloud, stacks = deployed
    product = _product(base, "lamp")
    before = set(_items(cloud, stacks[ORDERS]))
    # WHEN 5 orders are placed (quantities 1-5), 2 are refused by the API's schema, 1 names no product
    placed = [_call("POST", f"{base}/orders", {"product_id": product, "quantity": q}) for q in range(1, 6)]
    refused = [
        _call("POST", f"{base}/orders", {"product_id": product}),
        _call("POST", f"{base}/orders", {"product_id": product, "quantity": 0}),
    ]
    ghost = _call("POST", f"{base}/orders", {"product_id": "no-such-product", "quantity": 7})
    cloud.drain()
    # THEN the 6 accepted orders are stored, the 2 refused ones are not
    assert [s for s, _ in placed] == [201] * 5 and ghost[0] == 201
    assert [s for s, _ in refused] == [400, 400]
    stored = set(_items(cloud, stacks[ORDERS])) - before
    assert stored == {b["id"] for _, b in placed} | {ghost[1]["id"]}
    # AND the catalog counted 1+2+3+4+5 from the 5 events, ignored the ghost, and created nothing
    status, counted = _call("GET", f"{base}/catalog/{product}")
    assert (status, counted["ordered"]) == (200, 15)
    assert "no-such-product" not in _items(cloud, stacks[CATALOG])
    dlq = cloud.client("sqs").list_queues(QueueNamePrefix=CATALOG).get("QueueUrls", [])
    depth = [cloud.client("sqs").get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages"])
             ["Attributes"]["ApproximateNumberOfMessages"] for q in dlq]
    assert depth and set(depth) == {"0"}


def test_a_redelivered_order_event_is_counted_once(deployed, base: str) -> None:
    # GIVEN an order event as EventBridge delivers it to the catalog function
    cloud, stacks = deployed
    product = _product(base, "cup")
    event = {
        "version": "0", "id": "redelivered-1", "detail-type": "orders.created", "source": "orders",
        "account": cloud.account_id, "time": "2026-12-01T10:00:00Z", "region": cloud.region, "resources": [],
        "detail": {"id": "o-x", "product_id": product, "quantity": 2},
    }
    function = stacks[CATALOG].outputs["FunctionName"]
    # WHEN it is delivered twice
    results = [cloud.invoke(function, copy.deepcopy(event)) for _ in range(2)]
    # THEN it counted once
    assert [r["applied"] for r in results] == [True, False]
    assert _call("GET", f"{base}/catalog/{product}")[1]["ordered"] == 2


def _footprint(cloud: LocalCloud, stack: str) -> dict[str, Any]:
    """What an update of another stack must not change."""
    cfn, lambda_ = cloud.client("cloudformation"), cloud.client("lambda")
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    functions = {}
    for r in resources:
        if r["ResourceType"] == "AWS::Lambda::Function":
            config = lambda_.get_function_configuration(FunctionName=r["PhysicalResourceId"])
            functions[r["LogicalResourceId"]] = {
                k: config.get(k) for k in ("CodeSha256", "Version", "LastModified", "MemorySize", "Environment")
            }
    return {
        "ids": {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources},
        "events": len(cfn.describe_stack_events(StackName=stack)["StackEvents"]),
        "functions": functions,
        "outputs": cloud.stack(stack).outputs,
    }


def test_updating_the_orders_stack_leaves_the_catalog_and_entry_stacks_untouched(deployed, base: str,
                                                                                demo_app) -> None:
    # GIVEN all three stacks deployed, with data in both services
    cloud, stacks = deployed
    product = _product(base, "teapot")
    catalog_before, entry_before = _footprint(cloud, CATALOG), _footprint(cloud, ENTRY)
    catalog_items = len(_items(cloud, stacks[CATALOG]))
    orders_before = _footprint(cloud, ORDERS)
    # WHEN only the orders stack is updated (its function gets more memory)
    template = copy.deepcopy(demo_app.template(ORDERS))
    (logical_id,) = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Function"]
    template["Resources"][logical_id]["Properties"]["MemorySize"] = 512
    updated = cloud.deploy_template(template, ORDERS)
    # THEN the orders stack changed in place: same table, same API, new memory size
    assert updated.status == "UPDATE_COMPLETE"
    orders_after = _footprint(cloud, ORDERS)
    assert orders_after["ids"] == orders_before["ids"]
    assert orders_after["functions"][logical_id]["MemorySize"] == 512
    # AND not one catalog or entry resource, event, function version, code or configuration moved
    assert _footprint(cloud, CATALOG) == catalog_before
    assert _footprint(cloud, ENTRY) == entry_before
    assert len(_items(cloud, stacks[CATALOG])) == catalog_items
    # AND the domain still routes to both, and the updated orders service still reaches the catalog by event
    status, _ = _call("POST", f"{base}/orders", {"product_id": product, "quantity": 3})
    cloud.drain()
    assert status == 201 and _call("GET", f"{base}/catalog/{product}")[1]["ordered"] == 3


def test_demo_drive_passes_against_the_local_cloud(deployed) -> None:
    cloud, stacks = deployed
    context = drive_context(cloud, stacks[ENTRY], api_url=api_url_mapper(cloud.api_url, cloud.domain_url))
    result = demo.drive(context)
    assert result.ok, result.outcome
