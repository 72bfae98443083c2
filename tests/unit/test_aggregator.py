"""Rung 1 for CATALOG 15 Aggregator: what the template says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_

from patterns import core
from patterns.aggregator import Aggregator
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth, with_existing

Built = _helpers.Built[Aggregator]


def _downstreams(scope: Stack) -> dict[str, lambda_.IFunction]:
    return {
        "profile": lambda_.Function.from_function_name(scope, "Profile", "profile-service"),
        "orders": lambda_.Function.from_function_name(scope, "Orders", "orders-service"),
    }


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        pattern = Aggregator(stack, "Agg", downstreams=_downstreams(stack), **with_existing(stack, props))
        result[name] = Built(stack, pattern)

    add("Default")
    add(
        "Tuned", call_timeout=Duration.millis(500), budget=Duration.seconds(1), cache_ttl=Duration.seconds(30),
        resource_name="view",
    )
    add("Existing", existing_table=lambda s: ddb.Table.from_table_name(s, "Cache", "cache-of-record"))
    return synth(result)


def test_creates_one_function_one_cache_table_with_ttl_and_its_alarms(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "key", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert set(built["Default"].pattern.alarms) == {"HandlerErrors", "HandlerThrottles"}


def test_handler_gets_downstreams_timeouts_budget_and_cache(built) -> None:
    default, tuned = built["Default"], built["Tuned"]
    env = default.env(default.pattern.function)
    # A Fn::Join: the names are tokens of the imported ARNs; each follows its part's JSON key.
    parts = env["DOWNSTREAMS"]["Fn::Join"][1]
    rendered = json.dumps(parts)
    assert parts[0] == '{"orders":"'
    assert rendered.index(":function:orders-service") < rendered.index("profile") < rendered.index(
        ":function:profile-service"
    )
    assert (env["CALL_TIMEOUT_MS"], env["BUDGET_MS"], env["CACHE_TTL_SECONDS"]) == ("2000", "3000", "300")
    assert env["CACHE_TABLE_NAME"] == default.ref(default.pattern.table)
    tuned_env = tuned.env(tuned.pattern.function)
    tuned_values = (tuned_env["CALL_TIMEOUT_MS"], tuned_env["BUDGET_MS"], tuned_env["CACHE_TTL_SECONDS"])
    assert tuned_values == ("500", "1000", "30")


def test_function_may_invoke_exactly_the_downstreams_and_read_write_the_cache(built) -> None:
    default = built["Default"]
    statements = default.statements(default.pattern.function.role)
    invoke = [s for s in statements if "lambda:InvokeFunction" in action_set(s)]
    assert len(invoke) == 1 and action_set(invoke[0]) == {"lambda:InvokeFunction"}
    resources = json.dumps(invoke[0]["Resource"])
    assert "function:orders-service" in resources and "function:profile-service" in resources
    assert ":*" not in resources  # no version/alias wildcard
    cache = [s for s in statements if any(a.startswith("dynamodb:") for a in action_set(s))]
    assert {a for s in cache for a in action_set(s)} == {"dynamodb:GetItem", "dynamodb:PutItem"}


def test_one_get_method_with_a_required_key(built) -> None:
    default, tuned = built["Default"], built["Tuned"]
    default.template.resource_count_is("AWS::ApiGateway::Method", 1)
    default.template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {"HttpMethod": "GET", "AuthorizationType": "AWS_IAM", "RequestParameters": {"method.request.path.key": True}},
    )
    paths = {r["Properties"]["PathPart"] for r in tuned.resources("AWS::ApiGateway::Resource").values()}
    assert paths == {"view", "{key}"}


def test_existing_table_is_the_cache(built) -> None:
    existing = built["Existing"]
    existing.template.resource_count_is("AWS::DynamoDB::Table", 0)
    assert existing.env(existing.pattern.function)["CACHE_TABLE_NAME"] == "cache-of-record"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"downstreams": {}}, "1 to 20"),
        ({"downstreams": "many"}, "1 to 20"),
        ({"downstreams": {"Bad-Name": None}}, "not a part name"),
        ({"existing_table": lambda s: ddb.Table.from_table_name(s, "T", "t"), "table_props": {}}, "cannot both be set"),
        ({"table_props": {"time_to_live_attribute": "ttl"}}, "time_to_live_attribute"),
        ({"resource_name": "Agg/Regate"}, "resource_name"),
        ({"call_timeout": Duration.millis(50)}, r"call_timeout \(ms\) must be between 100"),
        ({"budget": Duration.seconds(1)}, r"budget \(ms\) must be between 2000"),
        ({"budget": Duration.seconds(30), "call_timeout": Duration.seconds(1)}, r"budget \(ms\)"),
        (
            {"budget": Duration.seconds(12), "function_options": core.FunctionOptions(timeout=Duration.seconds(12))},
            r"budget \(12 s\) must be less than function_options.timeout \(12 s\)",
        ),
        ({"cache_ttl": Duration.days(2)}, r"cache_ttl \(s\) must be between 1 and 86400"),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    given = {"downstreams": _downstreams(stack), **with_existing(stack, props)}
    if given["downstreams"] == "many":
        given["downstreams"] = {
            f"p{n}": lambda_.Function.from_function_name(stack, f"P{n}", f"p{n}") for n in range(21)
        }
    with pytest.raises(ValueError, match=message):
        Aggregator(stack, "Agg", **given)
