"""CommandDemo: order commands in two client versions behind one router function."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.command import Command, CommandHandler

#: Command → version → the demo handler in lambdas/command/orders.py.
ROUTES = {
    "create-order": {1: "orders.create_order_v1", 2: "orders.create_order_v2"},
    "cancel-order": {1: "orders.cancel_order_v1"},
}


def output_name(command: str, version: int) -> str:
    """The CfnOutput holding the function name of one command version, e.g. ``CreateOrderV2FunctionName``."""
    return "".join(part.capitalize() for part in command.split("-")) + f"V{version}FunctionName"


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 8 Command: a router invokes versioned order command handlers")
    pattern = Command(
        stack, "Orders",
        commands={
            command: {version: CommandHandler(handler=handler) for version, handler in versions.items()}
            for command, versions in ROUTES.items()
        },
    )
    CfnOutput(stack, "RouterFunctionName", value=pattern.router.function_name)
    for command, versions in pattern.handlers.items():
        for version, function in versions.items():
            CfnOutput(stack, output_name(command, version), value=function.function_name)
    return stack


def send(ctx: DriveContext, envelope: Any) -> Any:
    """Invoke the router synchronously with one command envelope and return its answer."""
    response = ctx.client("lambda").invoke(
        FunctionName=ctx.outputs["RouterFunctionName"], Payload=json.dumps(envelope).encode()
    )
    return json.loads(response["Payload"].read())


def drive(ctx: DriveContext) -> DriveResult:
    """Send a v2 create-order and an unknown command: the first reaches create-order v2, the second is refused."""
    created = send(ctx, {"command": "create-order", "version": 2,
                         "payload": {"customer": "ana", "items": [{"sku": "latte", "quantity": 2}]}})
    unknown = send(ctx, {"command": "refund-order", "version": 1, "payload": {}})
    ok = (
        isinstance(created, dict) and created.get("handled_by") == "create-order v2"
        and isinstance(unknown, dict) and unknown.get("code") == "UnknownCommand"
    )
    handled = created.get("handled_by") if isinstance(created, dict) else created
    refused = unknown.get("error") if isinstance(unknown, dict) else unknown
    return DriveResult(
        sent="create-order v2 + refund-order v1",
        outcome=f"handled by {handled}; refund-order → {refused}",
        ok=ok,
    )
