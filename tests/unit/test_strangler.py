"""Rung 1 for CATALOG 16 Strangler: what the template says (which route goes where, the write-back queue
and its consumer), the existing-resource paths, and every ValueError."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from patterns import core
from patterns.strangler import SYNC_QUEUE_VARIABLE, Strangler
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import synth

Built = _helpers.Built[Strangler]
LEGACY = core.HttpBackend(url="https://legacy.example.com/", timeout=Duration.seconds(5))
CODE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


def _routes() -> list[core.Route]:
    return [
        core.Route(path="/orders/{id}", backend=LEGACY),
        core.Route(path="/orders", methods=("GET", "POST"), backend=LEGACY),
        core.Route(path="/customers/{id}", backend=LEGACY, throttle=(10, 5)),
    ]


def _sync(stack: Stack) -> lambda_.Function:
    return core.python_function(
        stack,
        "Sync",
        code=CODE,
        handler="index.handler",
        service="sync",
        invocation="sqs",
        timeout=Duration.seconds(20),
    )


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    result: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        if "legacy_sync" in props:
            props["legacy_sync"] = props["legacy_sync"](stack)
        props = _helpers.with_existing(stack, props)
        pattern = Strangler(
            stack,
            "Facade",
            routes=props.pop("routes", _routes()),
            new_service_code=CODE,
            new_service_handler="index.handler",
            **props,
        )
        result[name] = Built(stack, pattern)

    add("Default", migrated={"POST /orders", "GET /customers/{id}"}, legacy_sync=_sync, sync_batch_size=5)
    add("AllLegacy")
    add(
        "Existing",
        routes=[core.Route(path="/orders/{id}", backend=LEGACY)],
        migrated=["GET /orders/{id}"],
        existing_api=lambda s: apigw.RestApi(s, "Mine", cloud_watch_role=False),
        existing_sync_queue=lambda s: sqs.Queue(s, "Mine2", enforce_ssl=True),
    )
    return synth(result)


def _integrations(entry: Built) -> dict[str, dict[str, Any]]:
    by_id = {entry.logical_id(m): key for key, m in entry.pattern.methods.items()}
    return {
        by_id[lid]: r["Properties"]["Integration"]
        for lid, r in entry.resources("AWS::ApiGateway::Method").items()
        if lid in by_id
    }


def test_migrated_routes_go_to_the_new_service_and_the_rest_to_the_legacy_service(built: dict[str, Built]) -> None:
    entry = built["Default"]
    integrations = _integrations(entry)

    assert {k: i["Type"] for k, i in integrations.items()} == {
        "GET /orders/{id}": "HTTP_PROXY",
        "GET /orders": "HTTP_PROXY",
        "POST /orders": "AWS_PROXY",
        "GET /customers/{id}": "AWS_PROXY",
    }
    assert integrations["GET /orders/{id}"]["Uri"] == "https://legacy.example.com/orders/{id}"
    assert integrations["GET /orders/{id}"]["TimeoutInMillis"] == 5000
    new_service = entry.logical_id(entry.pattern.new_service)
    assert new_service in str(integrations["POST /orders"]["Uri"])
    assert sorted(entry.pattern.migrated_routes) == ["GET /customers/{id}", "POST /orders"]
    assert sorted(entry.pattern.legacy_routes) == ["GET /orders", "GET /orders/{id}"]


def test_the_route_throttle_stays_with_the_route_wherever_it_goes(built: dict[str, Built]) -> None:
    stage = next(iter(built["Default"].resources("AWS::ApiGateway::Stage").values()))["Properties"]

    (setting,) = [s for s in stage["MethodSettings"] if s["ResourcePath"] == "/~1customers~1{id}"]
    assert (setting["HttpMethod"], setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == ("GET", 10, 5)


def test_nothing_migrated_sends_every_route_to_the_legacy_service(built: dict[str, Built]) -> None:
    assert {i["Type"] for i in _integrations(built["AllLegacy"]).values()} == {"HTTP_PROXY"}
    assert built["AllLegacy"].pattern.migrated_routes == []


def test_the_new_service_sends_write_backs_to_an_encrypted_queue_with_a_dlq(built: dict[str, Built]) -> None:
    entry = built["Default"]
    queue = entry.props(entry.pattern.sync_queue)

    assert entry.env(entry.pattern.new_service)[SYNC_QUEUE_VARIABLE] == entry.ref(entry.pattern.sync_queue)
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == entry.arn(entry.pattern.sync_dead_letter_queue)
    assert queue["VisibilityTimeout"] == 120  # 6x the sync consumer's 20 s
    sends = [s for s in entry.statements(entry.pattern.new_service.role) if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sends] == [entry.arn(entry.pattern.sync_queue)]
    (mapping,) = entry.resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == entry.arn(entry.pattern.sync_queue)
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["BatchSize"] == 5
    assert {"SyncDeadLettersDepth", "NewServiceErrors", "ApiServerErrors"} <= set(entry.pattern.alarms)


def test_without_a_legacy_sync_the_queue_is_left_to_consume(built: dict[str, Built]) -> None:
    assert built["AllLegacy"].resources("AWS::Lambda::EventSourceMapping") == {}


def test_existing_api_and_queue_are_used_as_given(built: dict[str, Built]) -> None:
    entry = built["Existing"]

    assert list(entry.resources("AWS::ApiGateway::RestApi")) == [entry.logical_id(entry.pattern.api)]
    assert entry.stack.get_logical_id(entry.pattern.api.node.default_child).startswith("Mine")
    assert len(entry.resources("AWS::SQS::Queue")) == 1
    assert entry.pattern.sync_dead_letter_queue is None
    assert entry.env(entry.pattern.new_service)[SYNC_QUEUE_VARIABLE] == entry.ref(entry.pattern.sync_queue)
    assert {i["Type"] for i in _integrations(entry).values()} == {"AWS_PROXY"}


# --- ValueErrors ----------------------------------------------------------------------------------


def _build(**props: Any) -> Strangler:
    stack = Stack(new_app(), "S")
    if "legacy_sync" in props:
        props["legacy_sync"] = props["legacy_sync"](stack)
    props = {"routes": _routes(), **_helpers.with_existing(stack, props)}
    return Strangler(stack, "F", new_service_code=CODE, new_service_handler="index.handler", **props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"routes": []}, "routes must name at least one route"),
        ({"migrated": ["GET /nowhere"]}, "migrated names routes ['GET /nowhere'] that are not in routes"),
        ({"migrated": ["POST /orders/{id}"]}, "migrated names routes ['POST /orders/{id}']"),
        ({"migrated": "GET /orders"}, "migrated must be a collection of route keys"),
        (
            {"routes": [core.Route(path="/o", backend=lambda_.Function.from_function_name(Stack(), "Fn", "f"))]},
            "'/o' must start on the legacy service (a core.HttpBackend)",
        ),
        (
            {"routes": [core.Route(path="/o", backend=core.HttpBackend(url=LEGACY.url, timeout=Duration.seconds(40)))]},
            "between 50 ms and 29 s",
        ),
        (
            {
                "existing_api": lambda s: apigw.RestApi(s, "Mine", cloud_watch_role=False),
                "api_options": core.ApiOptions(),
            },
            "existing_api and api_options are mutually exclusive",
        ),
        (
            {"existing_api": lambda s: apigw.RestApi(s, "Mine", cloud_watch_role=False)},
            "routes ['/customers/{id}'] set a throttle",
        ),
        (
            {
                "existing_sync_queue": lambda s: sqs.Queue(s, "Q", enforce_ssl=True),
                "sync_queue_props": {"retention_period": Duration.days(1)},
            },
            "existing_sync_queue",
        ),
        ({"sync_queue_props": {"encryption": None}}, "sync_queue_props"),
        ({"sync_batch_size": 0, "legacy_sync": _sync}, "sync_batch_size must be between 1 and 10 (given 0)"),
        ({"sync_batch_size": 11, "legacy_sync": _sync}, "sync_batch_size must be between 1 and 10 (given 11)"),
        ({"sync_batch_size": 5}, "sync_batch_size is the batch size of legacy_sync: set legacy_sync too"),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _build(**props)
