"""One rule for every pattern: a user value for a key the pattern owns is a ValueError naming the key and
the prop (``core.validation.reserved``); a user value for any other key reaches the resource."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

import patterns
from patterns import core
from patterns.command import CommandHandler
from patterns.pipes_and_filters import Step
from patterns.pub_sub import Subscriber
from patterns.scheduled_service import HealthCheck
from tests.conftest import new_app


def _pillow(stack: Stack) -> lambda_.ILayerVersion:
    return lambda_.LayerVersion.from_layer_version_arn(
        stack, "Pillow", "arn:aws:lambda:us-east-1:123456789012:layer:pillow:1"
    )


#: The props a pattern cannot do without (callables are called with the stack).
REQUIRED: dict[str, dict[str, Any]] = {
    "Aggregator": {"downstreams": lambda s: {"profile": lambda_.Function.from_function_name(s, "Profile", "profile")}},
    "CircuitBreaker": {"downstream": lambda s: lambda_.Function.from_function_name(s, "Downstream", "provider")},
    "Command": {"commands": {"ping": {1: CommandHandler(handler="index.handler")}}},
    "FanOutFanIn": {"pillow_layer": _pillow},
    "GatewayRouter": {
        "routes": lambda s: [core.Route(path="/o", backend=lambda_.Function.from_function_name(s, "Backend", "b"))]
    },
    "Microservice": {"name": "orders"},
    "PipesAndFilters": {"steps": [Step(name="Only", handler="filters.only")]},
    "PubSub": {"subscribers": [Subscriber(name="Audit")]},
    "RealtimeAnalytics": {"alert_threshold": 100},
    "ScheduledService": {"checks": [HealthCheck(name="Home", url="https://shop.example.com/")]},
    "Strangler": {
        "routes": [core.Route(path="/o", backend=core.HttpBackend(url="https://legacy.example.com/"))],
        "new_service_code": lambda s: lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        "new_service_handler": "index.handler",
    },
}


@dataclass(frozen=True)
class Clash:
    """A user prop that sets ``key``, a variable the pattern wires into the function ``function``."""

    pattern: str
    prop: str
    key: str
    function: str
    props: Callable[[str, str], dict[str, Any]]

    @property
    def named(self) -> str:
        """How the error names the user's mapping."""
        return f"{self.prop}.environment" if self.prop.endswith("_options") else self.prop

    def __str__(self) -> str:
        return f"{self.pattern}-{self.prop}"


def _options(prop: str) -> Callable[[str, str], dict[str, Any]]:
    return lambda key, value: {prop: core.FunctionOptions(environment={key: value})}


#: One entry per (pattern, FunctionOptions-like prop), each with a key that pattern's function reads.
CLASHES = [
    Clash("Aggregator", "function_options", "DOWNSTREAMS", "Handler", _options("function_options")),
    Clash("Authorization", "authorizer_options", "ROUTE_SCOPES", "Authorizer", _options("authorizer_options")),
    # The protected function reads no wiring of its own: the variables it owns are Powertools'.
    Clash("Authorization", "function_options", "POWERTOOLS_METRICS_NAMESPACE", "Handler", _options("function_options")),
    Clash("CircuitBreaker", "function_options", "DOWNSTREAM_FUNCTION_NAME", "Breaker", _options("function_options")),
    Clash("Command", "function_options", "ROUTES", "Router", _options("function_options")),
    Clash("Deduplication", "function_options", "WINDOW_TABLE_NAME", "Dedup", _options("function_options")),
    Clash("DecoupledMessaging", "function_options", "TABLE_NAME", "Consumer", _options("function_options")),
    Clash("EventDrivenProcessor", "function_options", "OUTPUT_BUCKET", "Processor", _options("function_options")),
    Clash("FanOutFanIn", "worker_options", "OUTPUT_BUCKET", "ThumbnailWorker", _options("worker_options")),
    Clash("FanOutFanIn", "fan_in_options", "JOBS_TABLE", "FanIn", _options("fan_in_options")),
    Clash("GatewayRouter", "function_options", "ROUTES", "Directory", _options("function_options")),
    Clash("GraphQlEndpoint", "function_options", "CURRENCY", "Pricing", _options("function_options")),
    Clash("InternalEndpoint", "function_options", "WORKER_FUNCTION_NAME", "Caller", _options("function_options")),
    Clash("MapReduce", "splitter_options", "CHUNK_QUEUE_URL", "Splitter", _options("splitter_options")),
    Clash("MapReduce", "mapper_options", "RESULTS_TABLE", "Mapper", _options("mapper_options")),
    Clash("MapReduce", "reducer_options", "TOP_N", "Reducer", _options("reducer_options")),
    Clash("Microservice", "function_options", "SUBSCRIPTIONS", "Handler", _options("function_options")),
    Clash("PipesAndFilters", "function_options", "RESULTS_TABLE_NAME", "OnlyFilter", _options("function_options")),
    Clash(
        "PipesAndFilters", "steps[0].environment", "STEP_NAME", "OnlyFilter",
        lambda key, value: {"steps": [Step(name="Only", handler="filters.only", environment={key: value})]},
    ),
    Clash("PubSub", "function_options", "TABLE_NAME", "AuditHandler", _options("function_options")),
    Clash("QueueLoadLeveling", "function_options", "QUEUE_URL", "Intake", _options("function_options")),
    Clash("RealtimeAnalytics", "function_options", "ALERT_TOPIC_ARN", "Aggregator", _options("function_options")),
    Clash(
        "QueueLoadLeveling", "consumer_environment", "STORE_TABLE_NAME", "Consumer",
        lambda key, value: {"consumer_environment": {key: value}},
    ),
    Clash("ReadHeavyReporting", "projector_options", "VIEW_TABLE_NAME", "Projector", _options("projector_options")),
    Clash("ReadHeavyReporting", "reader_options", "CACHE_TABLE_NAME", "Reader", _options("reader_options")),
    Clash("Saga", "function_options", "PAYMENTS_TABLE_NAME", "RefundPaymentFunction", _options("function_options")),
    Clash("ScheduledService", "function_options", "CHECKS", "Checker", _options("function_options")),
    Clash("SimpleWebService", "function_options", "TABLE_NAME", "Handler", _options("function_options")),
    Clash("WebAppWithApi", "function_options", "TABLE_NAME", "Handler", _options("function_options")),
    Clash("StateMachine", "function_options", "ORDERS_TABLE_NAME", "ChargeFunction", _options("function_options")),
    Clash("StorageFirst", "function_options", "TABLE_NAME", "Processor", _options("function_options")),
    Clash("StreamPipeline", "function_options", "DELIVERY_STREAM_NAME", "Transform", _options("function_options")),
    Clash("Strangler", "function_options", "LEGACY_SYNC_QUEUE_URL", "NewService", _options("function_options")),
    Clash("ThumbnailerWithDb", "thumbnailer_options", "THUMBNAILS_BUCKET", "Thumbnailer",
          _options("thumbnailer_options")),
    Clash("ThumbnailerWithDb", "updater_options", "USERS_TABLE_NAME", "UserUpdater", _options("updater_options")),
]


def _build(stack: Stack, clash: Clash, key: str, value: str) -> Any:
    required = {k: v(stack) if callable(v) else v for k, v in REQUIRED.get(clash.pattern, {}).items()}
    return getattr(patterns, clash.pattern)(stack, "P", **{**required, **clash.props(key, value)})


def test_every_pattern_and_every_function_options_prop_is_covered() -> None:
    # GIVEN every public pattern and each of its FunctionOptions props
    expected = {
        (name, prop)
        for name in patterns.__all__
        for prop, param in inspect.signature(getattr(patterns, name).__init__).parameters.items()
        if "FunctionOptions" in str(param.annotation)
    }
    # THEN this module checks each of them
    assert expected <= {(c.pattern, c.prop) for c in CLASHES}
    assert {c.pattern for c in CLASHES} == set(patterns.__all__)


@pytest.mark.parametrize("clash", CLASHES, ids=str)
def test_fails_if_a_user_value_sets_a_key_the_pattern_owns(clash: Clash) -> None:
    # GIVEN a user value for a variable the pattern wires itself
    stack = Stack(new_app(), "Stack")
    # WHEN the pattern is built THEN the error names the prop and the key
    expected = re.escape(f"{clash.named}[{clash.key!r}] is set by the pattern and cannot be overridden")
    with pytest.raises(ValueError, match=expected):
        _build(stack, clash, clash.key, "mine")


@pytest.mark.parametrize("clash", CLASHES, ids=str)
def test_fails_if_a_user_value_sets_a_powertools_variable(clash: Clash) -> None:
    stack = Stack(new_app(), "Stack")
    with pytest.raises(ValueError, match=r"\['POWERTOOLS_SERVICE_NAME'\] is set by the pattern"):
        _build(stack, clash, "POWERTOOLS_SERVICE_NAME", "mine")


@pytest.fixture(scope="module")
def free_keys() -> dict[str, dict[str, Any]]:
    """Every clash prop given a key the pattern does not own, built in one App (one synth)."""
    app = new_app()
    environments: dict[str, dict[str, Any]] = {}
    built = []
    for index, clash in enumerate(CLASHES):
        stack = Stack(app, f"Free{index}")
        pattern = _build(stack, clash, "MY_SETTING", "mine")
        built.append((clash, stack, pattern))
    for clash, stack, pattern in built:
        function = pattern.node.find_child(clash.function)
        props = Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(function.node.default_child)]
        environments[str(clash)] = props["Properties"]["Environment"]["Variables"]
    return environments


@pytest.mark.parametrize("clash", CLASHES, ids=str)
def test_a_user_value_for_a_free_key_reaches_the_function_next_to_the_patterns_own(
    clash: Clash, free_keys: dict[str, dict[str, Any]]
) -> None:
    variables = free_keys[str(clash)]
    assert variables["MY_SETTING"] == "mine"
    assert clash.key in variables
