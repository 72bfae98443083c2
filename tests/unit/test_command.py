"""Rung 1 for CATALOG 8 Command: the routing table the router gets, its least-privilege invoke
permission, the versioned handler functions, and every synth-time error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from patterns import core
from patterns.command import Command, CommandHandler
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth

EXISTING_ARN = "arn:aws:lambda:us-east-1:111122223333:function:legacy-refunds"
INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {'handled_by': 'custom'}\n")


class Built(_helpers.Built[Command]):
    def router(self) -> dict[str, Any]:
        return self.props(self.pattern.router)

    def routes(self) -> dict[str, dict[str, Any]]:
        """The ROUTES env var with each function reference reduced to a logical id or an ARN."""
        joined = self.router()["Environment"]["Variables"]["ROUTES"]
        if isinstance(joined, str):
            return json.loads(joined)
        text = "".join(
            part if isinstance(part, str) else f"@{part['Fn::GetAtt'][0]}" for part in joined["Fn::Join"][1]
        )
        return json.loads(text)


def _orders() -> dict[str, dict[int, CommandHandler]]:
    return {
        "create-order": {1: CommandHandler(handler="orders.create_order_v1"),
                         2: CommandHandler(handler="orders.create_order_v2", timeout=Duration.seconds(20))},
        "cancel-order": {1: CommandHandler(handler="orders.cancel_order_v1")},
    }


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, commands: Any, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = commands(stack) if callable(commands) else commands
        stacks[name] = Built(stack, Command(stack, "Orders", commands=resolved, **props))

    add("Default", _orders())
    add("Existing", lambda s: {
        "refund-order": {1: lambda_.Function.from_function_arn(s, "Legacy", EXISTING_ARN)},
        "create-order": {3: CommandHandler(
            existing_function=lambda_.Function.from_function_arn(s, "V3", EXISTING_ARN + "-v3"),
        )},
    })
    add("Swap", {"ping": {1: CommandHandler(handler="index.handler", handler_code=INLINE)}},
        router_code=INLINE, router_handler="index.router", router_timeout=Duration.seconds(30))
    add("SharedCode", {"ping": {1: CommandHandler(handler="index.handler")}}, handler_code=INLINE)
    return synth(stacks)


def test_one_function_per_command_version_plus_the_router(built: dict[str, Built]) -> None:
    # GIVEN create-order v1/v2 and cancel-order v1  THEN 3 handlers + 1 router, each with its own role
    built["Default"].template.resource_count_is("AWS::Lambda::Function", 4)
    built["Default"].template.resource_count_is("AWS::IAM::Role", 4)
    assert {c: sorted(v) for c, v in built["Default"].pattern.handlers.items()} == {
        "create-order": [1, 2], "cancel-order": [1],
    }


def test_router_gets_the_routing_table_as_json(built: dict[str, Built]) -> None:
    b = built["Default"]
    ids = {c: {v: f"@{b.logical_id(fn)}" for v, fn in versions.items()} for c, versions in b.pattern.handlers.items()}
    assert b.routes() == {
        "create-order": {"1": ids["create-order"][1], "2": ids["create-order"][2]},
        "cancel-order": {"1": ids["cancel-order"][1]},
    }
    assert len({ids["create-order"][1], ids["create-order"][2], ids["cancel-order"][1]}) == 3


def test_router_may_invoke_exactly_its_handlers(built: dict[str, Built]) -> None:
    b = built["Default"]
    policies = b.template.find_resources("AWS::IAM::Policy")
    invoke = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in json.dumps(statement["Action"])
    ]
    # Only the router's policy may invoke, and only the three handler ARNs: no "*", no ":*" suffixes.
    assert len(invoke) == 1
    assert invoke[0]["Action"] == "lambda:InvokeFunction"
    targets = sorted(r["Fn::GetAtt"][0] for r in invoke[0]["Resource"])
    handlers = sorted(b.logical_id(fn) for versions in b.pattern.handlers.values() for fn in versions.values())
    assert targets == handlers
    router_policy = next(p for p in policies.values() if "lambda:InvokeFunction" in json.dumps(p))
    assert router_policy["Properties"]["Roles"] == [b.ref(b.pattern.router.role)]


def test_handlers_know_their_command_and_version_and_use_the_core_defaults(built: dict[str, Built]) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "orders.create_order_v2",
        "Runtime": core.RUNTIME.name,
        "Architectures": ["arm64"],
        "Timeout": 20,
        "TracingConfig": {"Mode": "Active"},
        "Environment": {"Variables": Match.object_like({"COMMAND_NAME": "create-order", "COMMAND_VERSION": "2"})},
    })
    b.template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "orders.cancel_order_v1", "Timeout": 10,
        "Environment": {"Variables": Match.object_like({"COMMAND_NAME": "cancel-order", "COMMAND_VERSION": "1"})},
    })


def test_router_outlasts_its_slowest_handler(built: dict[str, Built]) -> None:
    # GIVEN the slowest handler times out after 20 s  THEN the router waits 25 s and tells boto3 so
    router = built["Default"].router()
    assert router["Handler"] == "router.handler"
    assert router["Timeout"] == 25
    assert router["Environment"]["Variables"]["INVOKE_TIMEOUT_SECONDS"] == "25"


def test_alarms_cover_router_and_created_handlers(built: dict[str, Built]) -> None:
    assert sorted(built["Default"].pattern.alarms) == sorted(
        f"{name}{kind}" for name in ("Router", "CreateOrderV1", "CreateOrderV2", "CancelOrderV1")
        for kind in ("Errors", "Throttles")
    )
    built["Default"].template.resource_count_is("AWS::CloudWatch::Alarm", 8)


def test_existing_functions_are_routed_to_and_not_recreated(built: dict[str, Built]) -> None:
    b = built["Existing"]
    # THEN no handler function is created: only the router exists, and it routes to the given ARNs
    b.template.resource_count_is("AWS::Lambda::Function", 1)
    assert b.routes() == {"refund-order": {"1": EXISTING_ARN}, "create-order": {"3": EXISTING_ARN + "-v3"}}
    assert b.pattern.handler("refund-order", 1).function_arn == EXISTING_ARN
    b.template.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([
            {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": [EXISTING_ARN, EXISTING_ARN + "-v3"]},
        ])},
    })
    # no alarms for functions the pattern does not own
    assert sorted(b.pattern.alarms) == ["RouterErrors", "RouterThrottles"]


def test_handler_and_router_code_can_be_swapped(built: dict[str, Built]) -> None:
    b = built["Swap"]
    functions = b.template.find_resources("AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == ["index.handler", "index.router"]
    assert all("ZipFile" in f["Properties"]["Code"] for f in functions.values())
    assert b.router()["Timeout"] == 30


def test_pattern_handler_code_serves_specs_without_their_own(built: dict[str, Built]) -> None:
    b = built["SharedCode"]
    handler = b.template.to_json()["Resources"][b.logical_id(b.pattern.handler("ping", 1))]["Properties"]
    assert handler["Handler"] == "index.handler" and "ZipFile" in handler["Code"]
    # the router keeps the pattern's own code
    assert b.router()["Handler"] == "router.handler" and "S3Key" in b.router()["Code"]


def test_grant_invoke_lets_a_caller_send_commands() -> None:
    stack = Stack(new_app(), "Caller")
    pattern = Command(
        stack, "Orders", commands={"ping": {1: CommandHandler(handler="index.handler", handler_code=INLINE)}}
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    pattern.grant_invoke(caller)
    statements = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    caller_ref = {"Ref": stack.get_logical_id(caller.node.default_child)}
    caller_policy = [p for p in statements.values() if p["Properties"]["Roles"] == [caller_ref]]
    resources = json.dumps(caller_policy[0]["Properties"]["PolicyDocument"])
    assert "lambda:InvokeFunction" in resources
    assert stack.get_logical_id(pattern.router.node.default_child) in resources


def test_handler_lookup_names_what_exists(built: dict[str, Built]) -> None:
    expected = r"no handler for 'create-order' v9 \(commands: \['cancel-order', 'create-order'\]\)"
    with pytest.raises(KeyError, match=expected):
        built["Default"].pattern.handler("create-order", 9)


def _synth(commands: Any, **props: Any) -> None:
    stack = Stack(new_app(), "Bad")
    Command(stack, "Orders", commands=commands(stack) if callable(commands) else commands, **props)


def test_fails_if_no_commands() -> None:
    with pytest.raises(ValueError, match="commands must map at least one command"):
        _synth({})


def test_fails_if_a_command_has_no_versions() -> None:
    with pytest.raises(ValueError, match="command 'create-order' maps no versions"):
        _synth({"create-order": {}})


@pytest.mark.parametrize("version", [0, -1, 1.5, "1", True, 10001])
def test_fails_if_a_version_is_not_a_positive_whole_number(version: Any) -> None:
    expected = r"versions of command 'create-order' must be whole numbers from 1 to 10000 \(given"
    with pytest.raises(ValueError, match=expected):
        _synth({"create-order": {version: CommandHandler(handler="orders.create_order_v1")}})


@pytest.mark.parametrize("name", ["", "-create", "create order", "x" * 65])
def test_fails_if_a_command_name_is_invalid(name: str) -> None:
    with pytest.raises(ValueError, match="command names must be 1-64 letters"):
        _synth({name: {1: CommandHandler(handler="orders.create_order_v1")}})


def test_fails_if_two_command_names_collide_as_construct_ids() -> None:
    expected = "commands 'create-order' and 'create_order' would share the construct id 'CreateOrder'"
    with pytest.raises(ValueError, match=expected):
        _synth({"create-order": {1: CommandHandler(handler="a.b")}, "create_order": {1: CommandHandler(handler="a.b")}})


def test_fails_if_both_handler_spec_and_existing_function() -> None:
    expected = r"commands\['create-order'\]\[1\]: existing_function and handler, timeout cannot both be set"
    with pytest.raises(ValueError, match=expected):
        _synth(lambda s: {"create-order": {1: CommandHandler(
            handler="orders.create_order_v1", timeout=Duration.seconds(5),
            existing_function=lambda_.Function.from_function_arn(s, "Legacy", EXISTING_ARN),
        )}})


def test_fails_if_neither_handler_nor_existing_function() -> None:
    with pytest.raises(ValueError, match=r"commands\['create-order'\]\[1\] needs a handler"):
        _synth({"create-order": {1: CommandHandler()}})


def test_fails_if_a_route_is_neither_spec_nor_function() -> None:
    with pytest.raises(ValueError, match=r"must be a CommandHandler or an IFunction \(given str\)"):
        _synth({"create-order": {1: "orders.create_order_v1"}})


def test_fails_if_router_timeout_does_not_exceed_a_handler_timeout() -> None:
    expected = r"router_timeout \(20 s\) must exceed the timeout of handler create-order v2 \(20 s\)"
    with pytest.raises(ValueError, match=expected):
        _synth(_orders(), router_timeout=Duration.seconds(20))
