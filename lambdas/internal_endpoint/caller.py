"""The InternalEndpoint caller: invokes the worker synchronously or asynchronously.

``{"mode": "sync", "payload": ...}`` waits for the worker (RequestResponse) and returns its result,
or its error as ``status: error`` — the caller sees the failure at once. ``{"mode": "async", ...}``
hands the event to Lambda (Event) and returns the request id at once; the outcome lands in the
worker's on-success or on-failure destination, under that request id.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from models import CallRequest
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()

WORKER = os.environ["WORKER_FUNCTION_NAME"]
WORKER_TIMEOUT = int(os.environ.get("WORKER_TIMEOUT_SECONDS", "10"))
# No client-side retries: retrying a RequestResponse call that timed out could run the worker twice.
# The read timeout waits out the worker's own timeout, so its error (even a timeout) comes back.


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def lambda_client() -> Any:
    return boto3.client(
        "lambda",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=WORKER_TIMEOUT + 5),
    )


def call_sync(payload: dict[str, Any]) -> dict[str, Any]:
    response = lambda_client().invoke(
        FunctionName=WORKER, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
    )
    raw = response["Payload"].read()
    body = json.loads(raw) if raw else None
    if response.get("FunctionError"):
        error = body if isinstance(body, dict) else {}
        logger.warning("worker failed", error_type=error.get("errorType"))
        metrics.add_metric(name="SyncCallsFailed", unit=MetricUnit.Count, value=1)
        surfaced = {"type": error.get("errorType", response["FunctionError"]), "message": error.get("errorMessage", "")}
        return {"mode": "sync", "status": "error", "error": surfaced}
    metrics.add_metric(name="SyncCallsSucceeded", unit=MetricUnit.Count, value=1)
    return {"mode": "sync", "status": "ok", "result": body}


def call_async(payload: dict[str, Any]) -> dict[str, Any]:
    response = lambda_client().invoke(FunctionName=WORKER, InvocationType="Event", Payload=json.dumps(payload).encode())
    metrics.add_metric(name="AsyncCallsAccepted", unit=MetricUnit.Count, value=1)
    return {
        "mode": "async", "status": "accepted", "status_code": response["StatusCode"],
        "request_id": response["ResponseMetadata"]["RequestId"],
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = CallRequest.model_validate(event)
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in error.errors(include_url=False)]
        return {"status": "invalid", "errors": problems}
    if request.mode == "sync":
        return call_sync(request.payload)
    return call_async(request.payload)
