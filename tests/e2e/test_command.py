"""Rung 5 for CATALOG 8 Command: CommandDemo deployed into the local cloud, real router and handlers.

Proves: the router sends each ``{command, version, payload}`` to the function of that command
version — checked in the local cloud's invocation journal, where each handler must have received
exactly the envelopes meant for it. Faults: an unknown command, an unknown version and a malformed
envelope each answer a clear error, invoke no handler, and never crash the router.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from demo import command as demo
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "CommandDemo"
HANDLERS = {("create-order", 1), ("create-order", 2), ("cancel-order", 1)}

#: (name, envelope): what the test sends, in order.
SENT: list[tuple[str, Any]] = [
    ("v1-latte", {"command": "create-order", "version": 1, "payload": {"item": "latte", "quantity": 2}}),
    ("v2-ana", {"command": "create-order", "version": 2, "payload": {
        "customer": "ana", "items": [{"sku": "latte", "quantity": 1}, {"sku": "scone", "quantity": 2}],
    }}),
    ("v1-mocha", {"command": "create-order", "version": 1, "payload": {"item": "mocha", "quantity": 1}}),
    ("cancel", {"command": "cancel-order", "version": 1, "payload": {"order_id": "ord-1", "reason": "changed mind"}}),
    ("v2-to-v1", {"command": "create-order", "version": 1, "payload": {"customer": "bo", "items": []}}),
    ("unknown-command", {"command": "refund-order", "version": 1, "payload": {"order_id": "ord-1"}}),
    ("unknown-version", {"command": "cancel-order", "version": 2, "payload": {"order_id": "ord-1"}}),
    ("no-version", {"command": "create-order", "payload": {}}),
    ("not-an-object", ["create-order", 1]),
]
#: Which handler each routable envelope must reach.
ROUTED = {"v1-latte": ("create-order", 1), "v2-ana": ("create-order", 2), "v1-mocha": ("create-order", 1),
          "cancel": ("cancel-order", 1), "v2-to-v1": ("create-order", 1)}


@pytest.fixture(scope="module")
def cloud(local_cloud, demo_app) -> tuple[LocalCloud, Any]:
    """The plugin's local cloud (module scope, see pyproject.toml): a failure prints the errored invocations."""
    return local_cloud.cloud, local_cloud.deploy(demo_app.outdir, STACK)


def handler_name(stack: Any, command: str, version: int) -> str:
    return stack.outputs[demo.output_name(command, version)]


@pytest.fixture(scope="module")
def answers(cloud) -> dict[str, Any]:
    """Send every envelope through the router the way a client does: a synchronous Lambda invoke."""
    local, stack = cloud
    client = local.client("lambda")
    router = stack.outputs["RouterFunctionName"]
    got = {}
    for name, envelope in SENT:
        response = client.invoke(FunctionName=router, Payload=json.dumps(envelope).encode())
        assert "FunctionError" not in response, (name, response)
        got[name] = json.loads(response["Payload"].read())
    local.drain()
    return got


def test_each_command_version_reaches_its_own_handler(cloud, answers) -> None:
    local, stack = cloud
    for (command, version) in HANDLERS:
        received = [i.event for i in local.invocations(handler_name(stack, command, version))]
        expected = [envelope for name, envelope in SENT if ROUTED.get(name) == (command, version)]
        assert received == expected, f"{command} v{version}"


def test_answers_come_from_the_handler_that_ran(answers) -> None:
    assert answers["v1-latte"]["handled_by"] == "create-order v1"
    assert answers["v1-latte"]["result"]["items"] == [{"sku": "latte", "quantity": 2}]
    assert answers["v2-ana"]["handled_by"] == "create-order v2"
    assert answers["v2-ana"]["result"]["customer"] == "ana"
    assert answers["v2-ana"]["received"] == SENT[1][1]["payload"]
    assert answers["cancel"]["result"] == {"order_id": "ord-1", "status": "cancelled", "reason": "changed mind"}
    # each created order is a distinct order
    assert answers["v1-latte"]["result"]["order_id"] != answers["v1-mocha"]["result"]["order_id"]


def test_a_payload_of_another_version_is_refused_by_the_handler(answers) -> None:
    assert answers["v2-to-v1"]["code"] == "InvalidPayload"
    assert answers["v2-to-v1"]["error"].startswith("invalid payload for create-order v1: ")


def test_unknown_command_and_version_are_clear_errors(answers) -> None:
    assert answers["unknown-command"] == {
        "error": "unknown command 'refund-order' (known: cancel-order, create-order)", "code": "UnknownCommand",
    }
    assert answers["unknown-version"] == {
        "error": "unknown version 2 of command 'cancel-order' (known: 1)", "code": "UnknownVersion",
    }


def test_malformed_envelopes_are_validation_errors(answers) -> None:
    assert answers["no-version"]["code"] == "InvalidEnvelope"
    assert "version: Field required" in answers["no-version"]["error"]
    assert answers["not-an-object"]["code"] == "InvalidEnvelope"


def test_counts_every_command_routed_once_nothing_else_invoked(cloud, answers) -> None:
    local, stack = cloud
    router = local.invocations(stack.outputs["RouterFunctionName"])
    assert len(router) == len(SENT)
    assert all(i.ok for i in router), [i.error for i in router if not i.ok]
    handled = {(c, v): len(local.invocations(handler_name(stack, c, v))) for c, v in HANDLERS}
    assert handled == {("create-order", 1): 3, ("create-order", 2): 1, ("cancel-order", 1): 1}
    assert sum(handled.values()) == len(ROUTED)


def test_demo_drive_passes_against_the_local_cloud(cloud, answers) -> None:
    result = demo.drive(drive_context(*cloud))
    assert result.ok, result
