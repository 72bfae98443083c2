"""Rung 4 for CATALOG 27 CircuitBreaker: the breaker against a moto circuit table, the provider against
a moto ledger.

The breaker's downstream Lambda client is replaced by a scripted one (moto cannot run a function
without Docker) that counts every invocation, so each test states exactly which calls reached the
downstream. The clock is the module's ``now_ms``, moved by the test. Concurrency is the e2e test's job
(each call its own execution environment); here the transitions and the fallbacks are checked one by one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from moto import mock_aws

from tests.support import load_handler

CIRCUITS, LEDGER, CIRCUIT = "circuits", "ledger", "payments"
EVENTS = Path(__file__).parent / "events" / "circuit_breaker"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
BREAKER_ENV = {
    **CREDENTIALS,
    "CIRCUITS_TABLE_NAME": CIRCUITS,
    "CIRCUIT_NAME": CIRCUIT,
    "DOWNSTREAM_FUNCTION_NAME": "provider",
    "FAILURE_THRESHOLD": "3",
    "FAILURE_WINDOW_MS": "60000",
    "COOLDOWN_MS": "30000",
    "CALL_TIMEOUT_MS": "5000",
    "PROBE_LEASE_MS": "10000",
    "POWERTOOLS_SERVICE_NAME": "circuit-breaker",
}


@dataclass
class Context:
    function_name: str = "CircuitBreakerDemo-Breaker"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:CircuitBreakerDemo-Breaker"
    aws_request_id: str = "7e57ab1e-0000-4000-8000-000000000000"


def call_event(request_id: str = "pay-20261201-0001") -> dict[str, Any]:
    return {**json.loads((EVENTS / "call.json").read_text()), "request_id": request_id}


@dataclass
class Downstream:
    """A scripted Lambda client: ``mode`` is "ok", "error" (a function error) or "timeout"."""

    mode: str = "ok"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append(json.loads(request["Payload"]))
        assert request["FunctionName"] == "provider" and request["InvocationType"] == "RequestResponse"
        if self.mode == "timeout":
            raise ReadTimeoutError(endpoint_url="http://lambda")
        answer = {"applied": True} if self.mode == "ok" else {"errorType": "ProviderDown", "errorMessage": "down"}
        raw = json.dumps(answer).encode()
        extra = {"FunctionError": "Unhandled"} if self.mode == "error" else {}
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw)), **extra}


@dataclass
class Breaker:
    module: ModuleType
    downstream: Downstream
    clock: list[int]

    def __call__(self, request_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(call_event(request_id), Context())
        return result

    def item(self) -> dict[str, Any]:
        return self.module.circuit.read()


def _tables() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    for name, key in ((CIRCUITS, "circuit"), (LEDGER, "request_id")):
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        )


@pytest.fixture
def make_breaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Breaker]]:
    with mock_aws():
        _tables()

        def make(**env: str) -> Breaker:
            module = load_handler("circuit_breaker", "breaker", env={**BREAKER_ENV, **env})
            downstream, clock = Downstream(), [1_700_000_000_000]
            monkeypatch.setattr(module, "downstream", downstream)
            monkeypatch.setattr(module, "now_ms", lambda: clock[0])
            return Breaker(module, downstream, clock)

        yield make


@pytest.fixture
def breaker(make_breaker: Callable[..., Breaker]) -> Breaker:
    return make_breaker()


def test_closed_the_call_goes_through_with_its_request_id_and_nothing_is_written(breaker: Breaker) -> None:
    answer = breaker("pay-1")
    assert answer == {"outcome": "succeeded", "state": "CLOSED", "probe": False, "result": {"applied": True}}
    assert breaker.downstream.calls == [{"request_id": "pay-1", "payload": call_event()["payload"]}]
    assert breaker.item() == {}


def test_the_threshold_th_failure_in_the_window_opens_the_circuit_and_then_calls_fail_fast(breaker: Breaker) -> None:
    breaker.downstream.mode = "error"
    answers = [breaker(f"pay-{n}") for n in range(3)]
    assert [(a["outcome"], a["state"]) for a in answers] == [("failed", "CLOSED"), ("failed", "CLOSED"),
                                                              ("failed", "OPEN")]
    assert answers[0]["error"] == {"errorType": "ProviderDown", "errorMessage": "down"}
    item = breaker.item()
    assert item["state"] == "OPEN" and item["opened_at"] == breaker.clock[0] and "failures" not in item
    # WHEN the downstream is healthy again but the cooldown has not passed THEN nothing reaches it
    breaker.downstream.mode = "ok"
    breaker.clock[0] += 29_999
    refused = breaker("pay-4")
    assert refused == {"outcome": "rejected", "state": "OPEN", "retry_after_ms": 1}
    assert len(breaker.downstream.calls) == 3


def test_failures_outside_the_window_do_not_add_up(breaker: Breaker) -> None:
    breaker.downstream.mode = "error"
    breaker("pay-1")
    breaker("pay-2")
    breaker.clock[0] += 60_001
    assert breaker("pay-3")["state"] == "CLOSED"
    item = breaker.item()
    assert item["failures"] == 1 and item["window_start"] == breaker.clock[0]


def test_a_timeout_counts_as_a_failure(make_breaker: Callable[..., Breaker]) -> None:
    breaker = make_breaker(FAILURE_THRESHOLD="1")
    breaker.downstream.mode = "timeout"
    answer = breaker("pay-1")
    assert answer["outcome"] == "failed" and answer["state"] == "OPEN"
    assert answer["error"]["type"] == "ReadTimeoutError"


def _open(breaker: Breaker) -> None:
    breaker.downstream.mode = "error"
    for n in range(3):
        breaker(f"open-{n}")
    assert breaker.item()["state"] == "OPEN"
    breaker.downstream.calls.clear()


def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes_the_circuit(breaker: Breaker) -> None:
    _open(breaker)
    breaker.downstream.mode = "ok"
    breaker.clock[0] += 30_000
    answer = breaker("probe-1")
    assert answer == {"outcome": "succeeded", "state": "CLOSED", "probe": True, "result": {"applied": True}}
    assert breaker.item() == {"circuit": CIRCUIT, "state": "CLOSED"}
    assert breaker("after-1")["outcome"] == "succeeded"
    assert [c["request_id"] for c in breaker.downstream.calls] == ["probe-1", "after-1"]


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(breaker: Breaker) -> None:
    _open(breaker)
    breaker.clock[0] += 30_000
    answer = breaker("probe-1")
    assert (answer["outcome"], answer["state"], answer["probe"]) == ("failed", "OPEN", True)
    assert breaker.item()["opened_at"] == breaker.clock[0]
    breaker.clock[0] += 29_000
    assert breaker("pay-2")["outcome"] == "rejected"
    assert len(breaker.downstream.calls) == 1


def test_while_the_probe_holds_its_lease_others_are_refused_and_after_it_one_may_probe_again(
    breaker: Breaker,
) -> None:
    _open(breaker)
    breaker.clock[0] += 30_000
    # GIVEN a probe claimed by a breaker that then died (no answer recorded)
    claimed = breaker.module.circuit.admit(breaker.clock[0], "dead-probe")
    assert claimed.admission == "probe"
    # WHEN another call comes within the lease THEN it is refused
    refused = breaker("pay-1")
    assert (refused["outcome"], refused["state"]) == ("rejected", "HALF_OPEN")
    assert refused["retry_after_ms"] == 10_000
    # WHEN the lease has expired THEN the next call takes over the probe and closes the circuit
    breaker.downstream.mode = "ok"
    breaker.clock[0] += 10_000
    assert breaker("pay-2")["state"] == "CLOSED"
    # AND the dead probe's late answer cannot move the circuit any more
    assert breaker.module.circuit.probe_failed("dead-probe", breaker.clock[0]) is False
    assert breaker.item()["state"] == "CLOSED"
    assert [c["request_id"] for c in breaker.downstream.calls] == ["pay-2"]


def test_two_breakers_deciding_on_the_same_read_agree_on_one_probe(breaker: Breaker) -> None:
    _open(breaker)
    breaker.clock[0] += 30_000
    circuit = breaker.module.circuit
    seen = circuit.read()
    assert seen["state"] == "OPEN"
    # both saw OPEN with the cooldown over; the first claim wins, the second's condition fails
    first = circuit.admit(breaker.clock[0], "a")
    circuit.read = lambda: seen  # the second breaker decides on the same (now stale) read
    second = circuit.admit(breaker.clock[0], "b")
    del circuit.read
    assert (first.admission, second.admission) == ("probe", "reject")
    assert circuit.read()["probe"] == "a"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"request_id": ""},
        {"request_id": "has spaces"},
        {"request_id": "x" * 129},
        {"request_id": "pay-1", "payload": "not an object"},
        {"request_id": "pay-1", "extra": True},
        {"request_id": 42},
    ],
    ids=["empty", "blank-id", "bad-id", "long-id", "payload-not-object", "unknown-field", "id-not-string"],
)
def test_bad_input_is_answered_invalid_without_touching_the_circuit_or_the_downstream(
    breaker: Breaker, event: dict[str, Any]
) -> None:
    answer = breaker.module.handler(event, Context())
    assert answer["outcome"] == "invalid" and answer["error"]
    assert breaker.downstream.calls == [] and breaker.item() == {}


def test_fails_closed_when_the_circuit_table_is_unavailable(make_breaker: Callable[..., Breaker]) -> None:
    breaker = make_breaker(CIRCUITS_TABLE_NAME="missing-table")
    answer = breaker("pay-1")
    assert answer == {"outcome": "rejected", "state": "UNKNOWN", "reason": "circuit state unavailable (fail closed)"}
    assert breaker.downstream.calls == []


def test_fails_open_when_configured_and_the_circuit_table_is_unavailable(make_breaker: Callable[..., Breaker]) -> None:
    breaker = make_breaker(CIRCUITS_TABLE_NAME="missing-table", ON_STATE_UNAVAILABLE="fail_open")
    assert breaker("pay-1") == {"outcome": "succeeded", "state": "UNKNOWN", "result": {"applied": True}}
    breaker.downstream.mode = "error"
    assert breaker("pay-2")["outcome"] == "failed"
    assert [c["request_id"] for c in breaker.downstream.calls] == ["pay-1", "pay-2"]


# -- the demo's provider -------------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[ModuleType]:
    with mock_aws():
        _tables()
        yield load_handler("circuit_breaker", "provider", env={
            **CREDENTIALS, "LEDGER_TABLE_NAME": LEDGER, "POWERTOOLS_SERVICE_NAME": "payment-provider",
        })


def _ledger() -> dict[str, dict[str, Any]]:
    items = boto3.resource("dynamodb", region_name="us-east-1").Table(LEDGER).scan()["Items"]
    return {i["request_id"]: i for i in items}


def test_the_provider_applies_a_request_once_and_counts_every_call(provider: ModuleType) -> None:
    first = provider.handler(call_event("pay-1"), Context())
    again = provider.handler(call_event("pay-1"), Context())
    assert first == {"request_id": "pay-1", "applied": True, "duplicate": False}
    assert again == {"request_id": "pay-1", "applied": False, "duplicate": True}
    ledger = _ledger()
    assert json.loads(ledger["pay-1"]["payload"]) == call_event()["payload"]
    assert ledger["#calls"]["calls"] == 2


def test_the_provider_fails_while_down_and_applies_nothing(provider: ModuleType) -> None:
    boto3.resource("dynamodb", region_name="us-east-1").Table(LEDGER).put_item(
        Item={"request_id": "#status", "down": True}
    )
    with pytest.raises(provider.ProviderDown):
        provider.handler(call_event("pay-1"), Context())
    assert "pay-1" not in _ledger() and _ledger()["#calls"]["calls"] == 1


def test_the_provider_rejects_a_malformed_request(provider: ModuleType) -> None:
    with pytest.raises(ValueError):
        provider.handler({"payload": {}}, Context())
    assert _ledger() == {}  # refused before it counted as a call
