"""Breaker function: calls the downstream function only while the circuit lets it.

Closed: the call goes through; a failure (a function error, a throttle, no answer within
``CALL_TIMEOUT_MS``) is counted and the one that reaches the threshold opens the circuit. Open:
the call is refused at once (``rejected``) without touching the downstream. After the cooldown
one caller gets the probe; its outcome closes or re-opens the circuit. The downstream is never
retried here: a retry against a failing service is what the breaker exists to avoid, and the
caller's ``request_id`` travels with the call so a caller's own retry is applied once.

When the circuit table cannot be read the call follows ``ON_STATE_UNAVAILABLE``: ``fail_closed``
refuses it, ``fail_open`` calls the downstream unguarded. A state write that fails after the call
does not change the call's answer (it is logged and counted).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from circuit import Circuit, Settings
from models import Call

logger = Logger()
tracer = Tracer()
metrics = Metrics()
CALL_TIMEOUT_S = int(os.environ.get("CALL_TIMEOUT_MS", "5000")) / 1000
FALLBACK = os.environ.get("ON_STATE_UNAVAILABLE", "fail_closed")
DOWNSTREAM = os.environ["DOWNSTREAM_FUNCTION_NAME"]
ddb = boto3.client("dynamodb", config=Config(retries={"max_attempts": 2, "mode": "standard"}))
# No SDK retries: one admitted call is one downstream invocation.
downstream = boto3.client(
    "lambda", config=Config(read_timeout=CALL_TIMEOUT_S, connect_timeout=2, retries={"total_max_attempts": 1})
)
circuit = Circuit(
    ddb,
    os.environ["CIRCUITS_TABLE_NAME"],
    os.environ["CIRCUIT_NAME"],
    Settings(
        threshold=int(os.environ.get("FAILURE_THRESHOLD", "5")),
        window_ms=int(os.environ.get("FAILURE_WINDOW_MS", "60000")),
        cooldown_ms=int(os.environ.get("COOLDOWN_MS", "30000")),
        lease_ms=int(os.environ.get("PROBE_LEASE_MS", "10000")),
    ),
)


def now_ms() -> int:
    return int(time.time() * 1000)


@tracer.capture_method
def call_downstream(call: Call) -> tuple[bool, Any]:
    """(succeeded, the downstream's answer or the error) of one synchronous invocation."""
    try:
        response = downstream.invoke(
            FunctionName=DOWNSTREAM,
            InvocationType="RequestResponse",
            Payload=json.dumps({"request_id": call.request_id, "payload": call.payload}).encode(),
        )
    except (ClientError, BotoCoreError) as error:  # throttled, timed out, unreachable
        return False, {"type": type(error).__name__, "message": str(error)[:500]}
    body = response["Payload"].read()
    answer = json.loads(body) if body else None
    if response.get("FunctionError"):
        return False, answer
    return True, answer


def _answer(outcome: str, state: str, **extra: Any) -> dict[str, Any]:
    metrics.add_metric(name=f"Calls{outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    return {"outcome": outcome, "state": state, **extra}


def _unguarded(call: Call, error: Exception) -> dict[str, Any]:
    """The circuit table is unavailable: the documented fallback."""
    metrics.add_metric(name="StateUnavailable", unit=MetricUnit.Count, value=1)
    logger.error("circuit state unavailable", fallback=FALLBACK, error=str(error)[:500])
    if FALLBACK != "fail_open":
        return _answer("rejected", "UNKNOWN", reason="circuit state unavailable (fail closed)")
    ok, answer = call_downstream(call)
    if ok:
        return _answer("succeeded", "UNKNOWN", result=answer)
    return _answer("failed", "UNKNOWN", error=answer)


def guarded(call: Call) -> dict[str, Any]:
    token = f"{call.request_id}/{uuid.uuid4().hex}"
    try:
        decision = circuit.admit(now_ms(), token)
    except (ClientError, BotoCoreError) as error:
        return _unguarded(call, error)
    if decision.admission == "reject":
        logger.info("call refused", state=decision.state, request_id=call.request_id)
        return _answer("rejected", decision.state, retry_after_ms=decision.retry_after_ms)
    probe = decision.admission == "probe"
    ok, answer = call_downstream(call)
    state = decision.state
    try:
        if probe:
            moved = circuit.probe_succeeded(token) if ok else circuit.probe_failed(token, now_ms())
            state = ("CLOSED" if ok else "OPEN") if moved else state
            logger.info("probe answered", succeeded=ok, moved=moved, request_id=call.request_id)
        elif not ok and circuit.record_failure(now_ms()):
            state = "OPEN"
            metrics.add_metric(name="CircuitOpened", unit=MetricUnit.Count, value=1)
            logger.warning("circuit opened", request_id=call.request_id)
    except (ClientError, BotoCoreError) as error:
        metrics.add_metric(name="StateUnavailable", unit=MetricUnit.Count, value=1)
        logger.error("circuit state not recorded", error=str(error)[:500])
    if ok:
        return _answer("succeeded", state, probe=probe, result=answer)
    return _answer("failed", state, probe=probe, error=answer)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        call = parse(event=event, model=Call)
    except ValidationError as error:
        logger.warning("invalid call", reason=str(error)[:500])
        return _answer("invalid", "UNKNOWN", error=str(error)[:500])
    return guarded(call)
